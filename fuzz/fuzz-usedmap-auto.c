/* Fuzz whichever parser the input names (byte 4), or probing: sniffing, swap, and dispatch.
 * Input format: see fuzz-usedmap.h. */
#include "fuzz-usedmap.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fuzz_usedmap_one(data, size, -1);
}
