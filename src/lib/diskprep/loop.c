/* Loop devices over a byte range of an image or device, for the tools that
 * only take a device (resize2fs, xfs_growfs through a mount, pvresize).
 * Set up with LOOP_CONFIGURE and LO_FLAGS_AUTOCLEAR: the kernel removes
 * the device when the last user closes it, even if we crash. */
#define RH_LOG_COMPONENT "diskprep"
#include <errno.h>
#include <fcntl.h>
#include <linux/loop.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "diskprep-internal.h"
#include "rehost/err.h"
#include "rehost/log.h"

int diskprep_loop_attach(const char *path, uint64_t offset, uint64_t size, char dev[32], int *fd_out)
{
	struct loop_config cfg;
	int ctl, back, fd = -1, rc = 0;

	*fd_out = -1;
	back = open(path, O_RDWR | O_CLOEXEC);
	if (back < 0)
		return rh_seterr_errno(errno, "cannot open %s", path);
	ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
	if (ctl < 0) {
		close(back);
		return rh_seterr_errno(errno, "cannot open /dev/loop-control (needs root and the loop driver)");
	}
	memset(&cfg, 0, sizeof cfg);
	cfg.fd = (uint32_t)back;
	cfg.info.lo_offset = offset;
	cfg.info.lo_sizelimit = size;
	cfg.info.lo_flags = LO_FLAGS_AUTOCLEAR;
	/* Another process may take the free device first: try again. */
	for (int tries = 0; tries < 20; tries++) {
		int n = ioctl(ctl, LOOP_CTL_GET_FREE);

		if (n < 0) {
			rc = rh_seterr_errno(errno, "no free loop device");
			break;
		}
		snprintf(dev, 32, "/dev/loop%d", n);
		fd = open(dev, O_RDWR | O_CLOEXEC);
		if (fd < 0) {
			rc = rh_seterr_errno(errno, "cannot open %s", dev);
			if (errno == ENOENT)
				continue; /* udev has not made the node yet */
			break;
		}
		if (ioctl(fd, LOOP_CONFIGURE, &cfg) == 0) {
			rc = 0;
			break;
		}
		rc = rh_seterr_errno(errno, "cannot set up %s over %s", dev, path);
		close(fd);
		fd = -1;
		if (errno != EBUSY)
			break;
	}
	close(ctl);
	close(back); /* the loop device holds its own reference */
	if (fd < 0)
		return rc < 0 ? rc : rh_seterr(RH_ERR_BUSY, "no loop device could be set up for %s", path);
	rh_log_debug("%s: %s at offset %llu, %llu bytes", dev, path, (unsigned long long)offset,
		     (unsigned long long)size);
	*fd_out = fd;
	return 0;
}

void diskprep_loop_detach(int fd)
{
	if (fd < 0)
		return;
	/* Detaches now when nothing else holds it, else when the last
	 * user closes it (AUTOCLEAR). */
	(void)ioctl(fd, LOOP_CLR_FD, 0);
	close(fd);
}
