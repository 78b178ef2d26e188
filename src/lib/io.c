/* The read-fully loop (include/rehost/io.h). */
#include <errno.h>
#include <unistd.h>

#include "rehost/err.h"
#include "rehost/io.h"

int rh_pread_full(int fd, void *buf, size_t len, uint64_t off, size_t *got)
{
	uint8_t *p = buf;
	size_t done = 0;

	if (got != NULL)
		*got = 0;
	if (len > (uint64_t)INT64_MAX || off > (uint64_t)INT64_MAX - len)
		return rh_seterr(RH_ERR_OVERFLOW, "offset %llu + %zu bytes overflows",
				 (unsigned long long)off, len);
	while (done < len) {
		ssize_t n = pread(fd, p + done, len - done, (off_t)(off + done));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return rh_seterr_errno(errno, "offset %llu",
					       (unsigned long long)(off + done));
		if (n == 0)
			break;
		done += (size_t)n;
		if (got != NULL)
			*got = done;
	}
	if (done < len && got == NULL)
		return rh_seterr(RH_ERR_IO, "offset %llu: unexpected end of file",
				 (unsigned long long)(off + done));
	return 0;
}
