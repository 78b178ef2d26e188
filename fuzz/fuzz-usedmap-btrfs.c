/* Fuzz the btrfs parser (superblock, sys_chunk_array, chunk, root and device trees).
 * Input format: see fuzz-usedmap.h. */
#include "fuzz-usedmap.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fuzz_usedmap_one(data, size, RH_FS_BTRFS);
}
