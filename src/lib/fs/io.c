/* Bounded positioned reads for the on-disk structure parsers. */
#include "fs/fs-internal.h"
#include "rehost/checked.h"
#include "rehost/err.h"
#include "rehost/io.h"

int fs_pread_full(int fd, void *buf, size_t len, uint64_t off)
{
	size_t got;
	int rc;

	if (off > (uint64_t)INT64_MAX - len)
		return rh_seterr(RH_ERR_OVERFLOW, "read offset %llu overflows",
				 (unsigned long long)off);
	rc = rh_pread_full(fd, buf, len, off, &got);
	if (rc < 0)
		return rh_seterr(rc, "read at %s", rh_lasterr());
	/* The structure claims data that is not there. */
	if (got < len)
		return rh_seterr(RH_ERR_CORRUPT, "unexpected end of device at offset %llu",
				 (unsigned long long)(off + got));
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
