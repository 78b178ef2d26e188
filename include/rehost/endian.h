/*
 * Explicit byte-order loads and stores for on-disk and on-wire fields
 * (BSD le32dec/be64enc naming). They work on unaligned pointers and
 * compile to single loads/stores: use them instead of casting a byte
 * pointer to a wider integer, which is undefined when misaligned and
 * silently wrong on the other endianness.
 */
#ifndef REHOST_ENDIAN_H
#define REHOST_ENDIAN_H

#include <stdint.h>

static inline uint16_t rh_le16dec(const void *pp)
{
	const uint8_t *p = pp;

	return (uint16_t)(p[0] | (uint16_t)p[1] << 8);
}

static inline uint32_t rh_le32dec(const void *pp)
{
	const uint8_t *p = pp;

	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static inline uint64_t rh_le64dec(const void *pp)
{
	const uint8_t *p = pp;

	return (uint64_t)rh_le32dec(p) | (uint64_t)rh_le32dec(p + 4) << 32;
}

static inline uint16_t rh_be16dec(const void *pp)
{
	const uint8_t *p = pp;

	return (uint16_t)((uint16_t)p[0] << 8 | p[1]);
}

static inline uint32_t rh_be32dec(const void *pp)
{
	const uint8_t *p = pp;

	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
	       (uint32_t)p[3];
}

static inline uint64_t rh_be64dec(const void *pp)
{
	const uint8_t *p = pp;

	return (uint64_t)rh_be32dec(p) << 32 | (uint64_t)rh_be32dec(p + 4);
}

static inline void rh_le16enc(void *pp, uint16_t v)
{
	uint8_t *p = pp;

	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static inline void rh_le32enc(void *pp, uint32_t v)
{
	uint8_t *p = pp;

	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static inline void rh_le64enc(void *pp, uint64_t v)
{
	uint8_t *p = pp;

	rh_le32enc(p, (uint32_t)v);
	rh_le32enc(p + 4, (uint32_t)(v >> 32));
}

static inline void rh_be16enc(void *pp, uint16_t v)
{
	uint8_t *p = pp;

	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void rh_be32enc(void *pp, uint32_t v)
{
	uint8_t *p = pp;

	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static inline void rh_be64enc(void *pp, uint64_t v)
{
	uint8_t *p = pp;

	rh_be32enc(p, (uint32_t)(v >> 32));
	rh_be32enc(p + 4, (uint32_t)v);
}

#endif
