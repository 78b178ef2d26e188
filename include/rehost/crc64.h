/*
 * CRC-64/XZ: the ECMA-182 polynomial as xz/liblzma uses it (reflected
 * polynomial 0xC96C5795D7870F42, initial value ~0, final xor ~0). The result
 * equals the check value `xz --check=crc64` stores, so image and stream
 * checksums can be verified with stock tools.
 */
#ifndef REHOST_CRC64_H
#define REHOST_CRC64_H

#include <stddef.h>
#include <stdint.h>

/* Continue a CRC over len bytes at buf (no alignment needed; buf may be NULL
 * when len is 0). Start with crc = 0; feeding the previous result back in
 * gives the CRC of the concatenation:
 *   rh_crc64_update(rh_crc64_update(0, a, n), b, m) == CRC of a||b.
 * Returns the new CRC. Thread-safe; reads buf, keeps no reference. */
uint64_t rh_crc64_update(uint64_t crc, const void *buf, size_t len);

#endif
