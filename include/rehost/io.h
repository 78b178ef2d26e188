/*
 * Positioned reads that retry until done. One helper for the read-fully
 * loops of the library (fs_pread_full in src/lib/fs wraps it for the
 * structure parsers, where a file that ends early is RH_ERR_CORRUPT).
 */
#ifndef REHOST_IO_H
#define REHOST_IO_H

#include <stddef.h>
#include <stdint.h>

/* Read len bytes of fd at off into buf, retrying after EINTR and short
 * reads. What the end of the file means is the caller's choice:
 *  - got == NULL: ending before len bytes is an error, RH_ERR_IO with the
 *    detail "offset N: unexpected end of file";
 *  - got != NULL: *got is set to the bytes read, which is less than len
 *    only when the file ended first, and that returns 0.
 * A read error returns the errno's RH_ERR_* with the detail
 * "offset N: <strerror>" (N where the failing read started), meant to be
 * wrapped as "<what> at %s"; *got then holds the bytes read before it.
 * An off + len past INT64_MAX is RH_ERR_OVERFLOW. */
int rh_pread_full(int fd, void *buf, size_t len, uint64_t off, size_t *got);

#endif
