/* Fuzz the LVM2 PV parser (label, metadata area, VG text, LV segments) and the LV recursion.
 * Input format: see fuzz-usedmap.h. */
#include "fuzz-usedmap.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fuzz_usedmap_one(data, size, RH_FS_LVM2);
}
