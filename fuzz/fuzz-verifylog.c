/* Fuzz the verify result-log parser that recheck reads: parse, then every
 * entry must be a known kind with a path that is relative, inside the tree
 * and under the limit, and every field NUL-terminated. */
#include <assert.h>
#include <stdint.h>
#include <string.h>

#include "rehost/fileverify.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rh_fverify_log *log = NULL;
	size_t n;

	if (rh_fverify_log_parse((const char *)data, size, &log) < 0) {
		assert(log == NULL);
		return 0;
	}
	n = rh_fverify_log_count(log);
	for (size_t i = 0; i < n; i++) {
		const struct rh_fverify_entry *e = rh_fverify_log_at(log, i);
		size_t len = strlen(e->path);

		assert((unsigned)e->kind < RH_FV_NKINDS);
		assert(len > 0 && len < RH_FVERIFY_MAX_PATH);
		assert(e->path[0] != '/' && strstr(e->path, "//") == NULL);
		assert(strcmp(e->path, "..") != 0 && strncmp(e->path, "../", 3) != 0);
		assert(strstr(e->path, "/../") == NULL && strstr(e->path, "/./") == NULL);
		assert(strlen(e->detail) <= size);
		assert(rh_fverify_kind_parse(rh_fverify_kind_name(e->kind)) == (int)e->kind);
	}
	assert(rh_fverify_log_at(log, n) == NULL);
	(void)strlen(rh_fverify_log_source(log));
	(void)strlen(rh_fverify_log_target(log));
	rh_fverify_log_free(log);
	return 0;
}
