/* Bounded positioned reads for the on-disk structure parsers. */
#include <errno.h>
#include <unistd.h>

#include "fs/fs-internal.h"
#include "rehost/checked.h"
#include "rehost/err.h"

int fs_pread_full(int fd, void *buf, size_t len, uint64_t off)
{
	uint8_t *p = buf;

	if (off > (uint64_t)INT64_MAX - len)
		return rh_seterr(RH_ERR_OVERFLOW, "read offset %llu overflows",
				 (unsigned long long)off);
	while (len > 0) {
		ssize_t n = pread(fd, p, len, (off_t)off);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return rh_seterr_errno(errno, "read at offset %llu",
					       (unsigned long long)off);
		}
		if (n == 0)
			return rh_seterr(RH_ERR_CORRUPT, "unexpected end of device at offset %llu",
					 (unsigned long long)off);
		p += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

int fs_pread_in(int fd, uint64_t base, uint64_t range, void *buf, size_t len,
		uint64_t off)
{
	uint64_t abs;

	if (!rh_range_ok(off, len, range) || RH_ADD_OVERFLOW(base, off, &abs))
		return rh_seterr(RH_ERR_CORRUPT,
				 "structure at offset %llu (+%zu) lies outside the %llu-byte volume",
				 (unsigned long long)off, len, (unsigned long long)range);
	return fs_pread_full(fd, buf, len, abs);
}
