/* Fuzz the initramfs reader (cpio newc/odc behind gzip, xz, lzma, zstd):
 * any input must be walked or rejected with an error, within the bounds,
 * and every member name handed out must be NUL-terminated, bounded and
 * relative. */
#include <assert.h>
#include <stdint.h>
#include <string.h>

#include "rehost/err.h"
#include "rehost/inspect.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int cb(void *arg, const char *name, unsigned mode, unsigned long long fsize)
{
	unsigned long long *n = arg;

	(void)mode;
	assert(strlen(name) <= RH_INITRAMFS_MAX_NAME);
	assert(name[0] != '/');
	assert(fsize <= 0xffffffffull * 8);
	return ++*n > 100000 ? 1 : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rh_initramfs_scan scan;
	unsigned long long n = 0;
	int rc;

	rc = rh_initramfs_scan(data, size, cb, &n, &scan);
	assert(rc == 0 || rc == RH_ERR_PARSE || rc == RH_ERR_CORRUPT || rc == RH_ERR_TOOBIG ||
	       rc == RH_ERR_UNSUPPORTED || rc == RH_ERR_NOMEM);
	if (rc < 0 && rc != RH_ERR_NOMEM)
		assert(rh_lasterr()[0] != '\0');
	assert(scan.entries == n || rc < 0 || scan.stopped);
	assert(scan.bytes <= RH_INITRAMFS_MAX_OUTPUT + (1u << 20));
	assert(scan.segments <= RH_INITRAMFS_MAX_SEGMENTS);
	return 0;
}
