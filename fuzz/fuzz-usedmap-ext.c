/* Fuzz the ext2/3/4 parser (superblock checks, then libext2fs through our bounded io manager).
 * Input format: see fuzz-usedmap.h. */
#include "fuzz-usedmap.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fuzz_usedmap_one(data, size, RH_FS_EXT);
}
