/* Fuzz the FAT12/16/32 parser (BPB, FAT scan).
 * Input format: see fuzz-usedmap.h. */
#include "fuzz-usedmap.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fuzz_usedmap_one(data, size, RH_FS_VFAT);
}
