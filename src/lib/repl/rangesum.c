/*
 * Range sums: the figure by which the agent's plan, the DATA it sent and
 * what the target received are compared (rehost/proto.h, docs/protocol.md).
 *
 * A sum is a polynomial in a fixed base R over the byte offsets of a set,
 * modulo the Mersenne prime P = 2^61 - 1: sum(S) = sum of R^b for b in S.
 * A run of bytes [o, o + n) is a geometric series, R^o (R^n - 1) / (R - 1),
 * so a 4 MiB chunk costs two modular powers, not four million terms. The
 * sum does not depend on how a range is cut, which a hash of the extent
 * list would (chunks end on buffer-size boundaries, and the buffer size and
 * the resume point may change between runs), and disjoint parts add, so a
 * target can keep one running figure per disk across sessions.
 */
#include <stdint.h>

#include "rehost/proto.h"

#define P RH_SUM_MOD
/* Any base in 2..P-2 works; a fixed odd one keeps both sides in step. */
#define R 0x1d6c6b3a9f2e5ull

static uint64_t mulmod(uint64_t a, uint64_t b)
{
	unsigned __int128 x = (unsigned __int128)a * b;
	/* 2^61 = 1 (mod P): fold the high bits onto the low ones. */
	uint64_t lo = (uint64_t)(x & P), hi = (uint64_t)(x >> 61);
	uint64_t s = lo + hi;

	s = (s & P) + (s >> 61);
	return s >= P ? s - P : s;
}

static uint64_t powmod(uint64_t base, uint64_t e)
{
	uint64_t r = 1;

	base %= P;
	while (e > 0) {
		if (e & 1)
			r = mulmod(r, base);
		base = mulmod(base, base);
		e >>= 1;
	}
	return r;
}

uint64_t rh_proto_sum_add(uint64_t a, uint64_t b)
{
	uint64_t s = (a % P) + (b % P);

	return s >= P ? s - P : s;
}

uint64_t rh_proto_sum_sub(uint64_t a, uint64_t b)
{
	a %= P;
	b %= P;
	return a >= b ? a - b : a + P - b;
}

uint64_t rh_proto_range_sum(uint64_t off, uint64_t len)
{
	/* 1 / (R - 1) by Fermat; computed once per call, which is cheap next
	 * to the chunk it describes. */
	uint64_t inv = powmod(R - 1, P - 2);

	if (len == 0)
		return 0;
	return mulmod(mulmod(powmod(R, off), rh_proto_sum_sub(powmod(R, len), 1)), inv);
}
