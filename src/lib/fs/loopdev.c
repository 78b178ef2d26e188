/* Loop devices over byte ranges, set up with the kernel's ioctls. */
#define RH_LOG_COMPONENT "loop"
#include <errno.h>
#include <fcntl.h>
#include <linux/loop.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "rehost/err.h"
#include "rehost/log.h"
#include "rehost/loopdev.h"

/* Another process may grab the free device between GET_FREE and SET_FD
 * (EBUSY); a few retries settle it. */
#define ATTACH_TRIES 16

static int configure(int lfd, int ffd, const char *file, uint64_t offset, uint64_t size, bool ro)
{
	struct loop_config cfg;

	memset(&cfg, 0, sizeof cfg);
	cfg.fd = (unsigned)ffd;
	cfg.info.lo_offset = offset;
	cfg.info.lo_sizelimit = size;
	cfg.info.lo_flags = LO_FLAGS_AUTOCLEAR | (ro ? LO_FLAGS_READ_ONLY : 0);
	snprintf((char *)cfg.info.lo_file_name, sizeof cfg.info.lo_file_name, "%s", file);
	if (ioctl(lfd, LOOP_CONFIGURE, &cfg) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOTTY)
		return -1;
	/* Kernels before 5.8 have no LOOP_CONFIGURE. */
	if (ioctl(lfd, LOOP_SET_FD, ffd) < 0)
		return -1;
	if (ioctl(lfd, LOOP_SET_STATUS64, &cfg.info) < 0) {
		int e = errno;

		ioctl(lfd, LOOP_CLR_FD, 0);
		errno = e;
		return -1;
	}
	return 0;
}

int rh_loop_attach(const char *file, uint64_t offset, uint64_t size, bool ro,
		   struct rh_loopdev *out)
{
	int ctl = -1, ffd = -1, lfd = -1, rc = 0, n;
	struct stat st;

	memset(out, 0, sizeof *out);
	out->fd = -1;
	ffd = open(file, (ro ? O_RDONLY : O_RDWR) | O_CLOEXEC);
	if (ffd < 0)
		return rh_seterr_errno(errno, "cannot open %s", file);
	ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
	if (ctl < 0) {
		rc = rh_seterr_errno(errno, "cannot open /dev/loop-control (is the loop module loaded?)");
		goto out;
	}
	for (int tries = 0;; tries++) {
		n = ioctl(ctl, LOOP_CTL_GET_FREE);
		if (n < 0) {
			rc = rh_seterr_errno(errno, "no free loop device for %s", file);
			goto out;
		}
		snprintf(out->path, sizeof out->path, "/dev/loop%d", n);
		lfd = open(out->path, (ro ? O_RDONLY : O_RDWR) | O_CLOEXEC);
		if (lfd < 0) {
			rc = rh_seterr_errno(errno, "cannot open %s", out->path);
			goto out;
		}
		if (configure(lfd, ffd, file, offset, size, ro) == 0)
			break;
		if (errno != EBUSY || tries + 1 >= ATTACH_TRIES) {
			rc = rh_seterr_errno(errno, "cannot attach %s at offset %llu to %s", file,
					     (unsigned long long)offset, out->path);
			goto out;
		}
		close(lfd);
		lfd = -1;
	}
	if (fstat(lfd, &st) == 0) {
		out->major = major(st.st_rdev);
		out->minor = minor(st.st_rdev);
	}
	out->fd = lfd;
	lfd = -1;
	rh_log_debug("%s: %s from offset %llu, %llu bytes", out->path, file,
		     (unsigned long long)offset, (unsigned long long)size);
out:
	if (lfd >= 0)
		close(lfd);
	if (ctl >= 0)
		close(ctl);
	if (ffd >= 0)
		close(ffd);
	if (rc < 0)
		out->path[0] = '\0';
	return rc;
}

void rh_loop_release(struct rh_loopdev *dev)
{
	if (dev->fd >= 0) {
		/* Fails with EBUSY while mounted; autoclear finishes the job then. */
		ioctl(dev->fd, LOOP_CLR_FD, 0);
		close(dev->fd);
	}
	dev->fd = -1;
}
