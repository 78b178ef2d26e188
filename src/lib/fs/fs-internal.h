/*
 * Private helpers of src/lib/fs: bounded reads of a descriptor window.
 * Byte-order loads come from rehost/endian.h.
 */
#ifndef REHOST_FS_INTERNAL_H
#define REHOST_FS_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

/* io.c */

/* Read exactly len bytes at off into buf, retrying short reads and EINTR.
 * Returns 0, RH_ERR_IO (with errno text) or RH_ERR_CORRUPT (end of file
 * before len bytes: the structure claims data that is not there). */
int fs_pread_full(int fd, void *buf, size_t len, uint64_t off);

/* As fs_pread_full for the window [base, base+range): off is relative to
 * base and [off, off+len) must lie inside the window, else RH_ERR_CORRUPT. */
int fs_pread_in(int fd, uint64_t base, uint64_t range, void *buf, size_t len,
		uint64_t off);

#endif
