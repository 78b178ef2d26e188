/*
 * Loop devices over a byte range of a file or block device.
 *
 * The kernel here (and many rescue systems) makes no partition nodes for a
 * loop device, so every partition or LV of a target disk image is reached
 * through a loop device of its own at an offset. Devices are created with
 * LO_FLAGS_AUTOCLEAR: the kernel detaches one by itself when its last user
 * (an open descriptor or a mount) goes away, so a crash never leaks them.
 */
#ifndef REHOST_LOOPDEV_H
#define REHOST_LOOPDEV_H

#include <stdbool.h>
#include <stdint.h>

struct rh_loopdev {
	char path[32];   /* "/dev/loopN" */
	int fd;          /* open while attached; closing it lets autoclear act */
	unsigned major, minor;
};

/* Attach [offset, offset+size) of file (size 0: to the end) read-write, or
 * read-only when ro. Returns 0, or RH_ERR_* with a detail naming file. */
int rh_loop_attach(const char *file, uint64_t offset, uint64_t size, bool ro,
		   struct rh_loopdev *out);

/* Close the descriptor; the device goes away once nothing mounts it. Also
 * clears the association at once when nothing else holds it. Safe to call
 * twice and on a zeroed struct with fd -1. */
void rh_loop_release(struct rh_loopdev *dev);

#endif
