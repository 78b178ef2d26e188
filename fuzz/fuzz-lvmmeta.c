/* Fuzz the LVM2 text-metadata parser and the VG model built on it (the
 * one inspect, postconf and the used-block maps share): accepted metadata
 * must describe a consistent VG (segment and area PV indices in range,
 * extents summed without overflow). */
#include <assert.h>
#include <stdint.h>

#include "rehost/disk.h"
#include "rehost/err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rh_lvm_vg *vg = NULL;
	int rc;

	rc = rh_lvm_parse_vg((const char *)data, size, &vg);
	if (rc < 0) {
		assert(vg == NULL);
		assert(rc == RH_ERR_PARSE || rc == RH_ERR_TOOBIG || rc == RH_ERR_NOMEM);
		return 0;
	}
	assert(vg->extent_size > 0);
	assert(vg->npvs <= RH_LVM_MAX_PVS && vg->nlvs <= RH_LVM_MAX_LVS);
	for (size_t l = 0; l < vg->nlvs; l++) {
		uint64_t sum = 0;

		assert(vg->lvs[l].nsegs <= RH_LVM_MAX_SEGS);
		for (size_t s = 0; s < vg->lvs[l].nsegs; s++) {
			const struct rh_lvm_seg *seg = &vg->lvs[l].segs[s];

			assert(seg->pv == -1 || (seg->pv >= 0 && (size_t)seg->pv < vg->npvs));
			assert(seg->nareas == 0 || seg->areas != NULL);
			assert(!seg->areas_bad || seg->nareas == 0);
			for (size_t a = 0; a < seg->nareas; a++)
				assert(seg->areas[a].pv == -1 ||
				       (seg->areas[a].pv >= 0 && (size_t)seg->areas[a].pv < vg->npvs));
			sum += seg->extent_count;
			if (seg->pv >= 0) {
				uint64_t off;

				(void)rh_lvm_extent_offset(vg, &vg->pvs[seg->pv], seg->pv_start, &off);
			}
		}
		assert(sum == vg->lvs[l].extents);
	}
	rh_lvm_vg_free(vg);
	return 0;
}
