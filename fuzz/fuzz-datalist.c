/* Fuzz the data-list parser (data/os-compat.tsv format) and the lookups
 * over what it accepts. */
#include <assert.h>
#include <stdint.h>
#include <string.h>

#include "inspect/internal.h"
#include "rehost/err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const header[] = { "family", "version", "variant", "uefi", "note", "name" };
	struct rh_tsv *t = NULL;
	struct os_compat c;
	int rc;

	rc = rh_tsv_parse((const char *)data, size, "fuzz.tsv", header, 6, &t);
	if (rc < 0) {
		assert(t == NULL);
		assert(rh_lasterr()[0] != '\0' || rc == RH_ERR_NOMEM);
		return 0;
	}
	for (size_t r = 0; r < t->nrows; r++) {
		for (size_t col = 0; col < 6; col++) {
			const char *cell = rh_tsv_cell(t, r, col);

			assert(cell[0] != '\0' && strlen(cell) <= RH_TSV_MAX_FIELD);
			assert(strchr(cell, '\t') == NULL && strchr(cell, '\n') == NULL);
		}
		os_compat_lookup(t, rh_tsv_cell(t, r, 0), rh_tsv_cell(t, r, 1),
				 rh_tsv_cell(t, r, 2), &c);
		assert(c.family_known && c.listed);
		assert(c.uefi == 0 || c.uefi == 1);
		assert(version_cmp(rh_tsv_cell(t, r, 1), rh_tsv_cell(t, r, 1)) == 0);
		(void)block_os_listed(t, rh_tsv_cell(t, r, 0), rh_tsv_cell(t, r, 1));
		(void)block_kernel_listed(t, rh_tsv_cell(t, r, 1));
	}
	rh_tsv_free(t);
	return 0;
}
