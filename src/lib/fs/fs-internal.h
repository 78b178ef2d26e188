/*
 * Private helpers of src/lib/fs: bounded reads and explicit-endian loads.
 */
#ifndef REHOST_FS_INTERNAL_H
#define REHOST_FS_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* io.c */

/* Read exactly len bytes at off into buf, retrying short reads and EINTR.
 * Returns 0, RH_ERR_IO (with errno text) or RH_ERR_CORRUPT (end of file
 * before len bytes: the structure claims data that is not there). */
int fs_pread_full(int fd, void *buf, size_t len, uint64_t off);

/* As fs_pread_full for the window [base, base+range): off is relative to
 * base and [off, off+len) must lie inside the window, else RH_ERR_CORRUPT. */
int fs_pread_in(int fd, uint64_t base, uint64_t range, void *buf, size_t len,
		uint64_t off);

static inline uint16_t fs_le16(const void *p)
{
	const uint8_t *b = p;
	return (uint16_t)(b[0] | b[1] << 8);
}

static inline uint32_t fs_le32(const void *p)
{
	const uint8_t *b = p;
	return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 |
	       (uint32_t)b[3] << 24;
}

static inline uint64_t fs_le64(const void *p)
{
	const uint8_t *b = p;
	return (uint64_t)fs_le32(b) | (uint64_t)fs_le32(b + 4) << 32;
}

static inline uint32_t fs_be32(const void *p)
{
	const uint8_t *b = p;
	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 |
	       (uint32_t)b[3];
}

static inline uint64_t fs_be64(const void *p)
{
	const uint8_t *b = p;
	return (uint64_t)fs_be32(b) << 32 | (uint64_t)fs_be32(b + 4);
}

#endif
