/* Fuzz the mount-table parsers (/proc/self/mountinfo lines, octal escapes)
 * and the bind/repeated-mount analysis over what they accept. */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "inspect/internal.h"
#include "rehost/err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rh_inventory *inv = calloc(1, sizeof *inv);
	char *text = malloc(size + 1), *cur, *line;

	if (inv == NULL || text == NULL)
		goto out;
	memcpy(text, data, size);
	text[size] = '\0';
	inv->have_mountinfo = size > 0 && (data[0] & 1);
	cur = text;
	while ((line = text_next_line(&cur)) != NULL) {
		struct inv_mount m, *slot;
		int rc = mountinfo_parse_line(inv, line, &m);

		assert(rc == 0 || rc == RH_ERR_PARSE || rc == RH_ERR_NOMEM || rc == RH_ERR_TOOBIG);
		if (rc != 0)
			continue;
		assert(m.target && m.source && m.fstype && m.options && m.root);
		slot = VEC_PUSH(inv->mounts, 256);
		if (slot == NULL)
			break;
		*slot = m;
	}
	mounts_flag_repeated(inv);
	for (size_t i = 0; i < inv->mounts.n; i++)
		(void)mount_for_path(inv, inv->mounts.v[i].target);
out:
	free(text);
	rh_inventory_free(inv);
	return 0;
}
