/*
 * Overflow-checked arithmetic for sizes and offsets read from disks and
 * peers. Each macro stores the result through r and evaluates to true when
 * the operation overflowed the type of *r (nbdkit checked-overflow style).
 */
#ifndef REHOST_CHECKED_H
#define REHOST_CHECKED_H

#include <stdbool.h>
#include <stdint.h>

#define RH_ADD_OVERFLOW(a, b, r) __builtin_add_overflow((a), (b), (r))
#define RH_SUB_OVERFLOW(a, b, r) __builtin_sub_overflow((a), (b), (r))
#define RH_MUL_OVERFLOW(a, b, r) __builtin_mul_overflow((a), (b), (r))

#define RH_MIN(a, b) ((a) < (b) ? (a) : (b))
#define RH_MAX(a, b) ((a) > (b) ? (a) : (b))
#define RH_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* True when [off, off+len) lies inside [0, size) without overflow. */
static inline bool rh_range_ok(uint64_t off, uint64_t len, uint64_t size)
{
	uint64_t end;

	if (RH_ADD_OVERFLOW(off, len, &end))
		return false;
	return end <= size;
}

/* Round x up to a multiple of align (a power of two); false on overflow. */
static inline bool rh_align_up(uint64_t x, uint64_t align, uint64_t *r)
{
	uint64_t t;

	if (align == 0 || (align & (align - 1)) != 0)
		return false;
	if (RH_ADD_OVERFLOW(x, align - 1, &t))
		return false;
	*r = t & ~(align - 1);
	return true;
}

#endif
