/* Fuzz the snapshot manifest parser (src/lib/snap/manifest.c): a parse
 * either fails with a recorded reason, or yields a manifest whose
 * invariants hold (valid name, 1..64 disks named diskN.raw in order,
 * 32-hex digests, sizes summing without overflow) and that survives
 * format + parse unchanged. */
#include <assert.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "snap/snap-internal.h"
#include "rehost/err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rh_snap_info *a = calloc(1, sizeof *a), *b = calloc(1, sizeof *b);
	uint64_t sum = 0;
	char *text = NULL;
	int rc;

	assert(a != NULL && b != NULL);
	rc = snap_manifest_parse((const char *)data, size, NULL, a);
	if (rc < 0) {
		assert(rh_lasterr()[0] != '\0' || rc == RH_ERR_NOMEM);
		goto out;
	}
	assert(rh_snap_name_check(a->name) == 0);
	assert(a->ndisks >= 1 && a->ndisks <= RH_SNAP_MAX_DISKS);
	for (size_t i = 0; i < a->ndisks; i++) {
		char want[32];

		snprintf(want, sizeof want, "disk%zu.raw", i);
		assert(strcmp(a->disks[i].file, want) == 0);
		assert(strlen(a->disks[i].digest) == 32);
		assert(a->disks[i].size > 0);
		sum += a->disks[i].size;
	}
	assert(sum == a->size);
	assert(snap_manifest_format(a, &text) == 0);
	assert(snap_manifest_parse(text, strlen(text), a->name, b) == 0);
	assert(memcmp(a, b, sizeof *a) == 0);
out:
	free(text);
	free(a);
	free(b);
	return 0;
}
