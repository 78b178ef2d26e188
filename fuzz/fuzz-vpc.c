/* Fuzz the vpc (VHD) reader and writer.
 *
 * 1. The input as a VHD image (in a memfd): open (every header and table
 *    validation), info, a read of every allocated run (bounded), the
 *    structural check and the content check must never crash, and reads
 *    must stay inside what block status reports.
 * 2. The input as disk contents: written as VHD (dynamic or fixed, with
 *    or without force_size, chosen by the first byte), reopened and read
 *    back, it must give the same bytes, and check must find no errors or
 *    leaks. */
#include <stdint.h>

#include "fuzz-img.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_img(data, size, RH_IMG_VPC);
	return 0;
}
