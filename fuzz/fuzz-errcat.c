/* Fuzz the error-catalogue TSV parser: parse, then every entry must have
 * five NUL-terminated fields within the bound and be findable by code. */
#include <assert.h>
#include <stdint.h>
#include <string.h>

#include "rehost/errcat.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rh_errcat *cat = NULL;

	if (rh_errcat_parse((const char *)data, size, &cat) < 0)
		return 0;
	for (size_t i = 0; i < rh_errcat_count(cat); i++) {
		const struct rh_errcat_entry *e = rh_errcat_at(cat, i);

		assert(strlen(e->code) > 0 && strlen(e->code) <= RH_ERRCAT_MAX_FIELD);
		assert(strlen(e->action) <= RH_ERRCAT_MAX_FIELD);
		assert(rh_errcat_find(cat, e->code) != NULL);
	}
	rh_errcat_free(cat);
	return 0;
}
