/* CRC-64/XZ: published and xz-verified vectors, incremental use, unaligned
 * input, and the sliced implementation against a bitwise reference. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "rehost/crc64.h"

/* Straight from the definition, one bit at a time: slow but obviously
 * right, so the sliced tables are checked against it. */
static uint64_t crc64_bitwise(uint64_t crc, const unsigned char *p, size_t len)
{
	crc = ~crc;
	for (size_t i = 0; i < len; i++) {
		crc ^= p[i];
		for (int k = 0; k < 8; k++)
			crc = (crc & 1) ? (crc >> 1) ^ 0xC96C5795D7870F42ULL : crc >> 1;
	}
	return ~crc;
}

/* Deterministic pseudo-random bytes (xorshift64) so failures reproduce. */
static uint64_t rng_state = 0x9E3779B97F4A7C15ULL;

static uint64_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static void fill(unsigned char *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (unsigned char)rng();
}

static void test_vectors(void **state)
{
	unsigned char b[65537];

	(void)state;
	assert_true(rh_crc64_update(0, NULL, 0) == 0);
	assert_true(rh_crc64_update(0, "", 0) == 0);
	assert_true(rh_crc64_update(0, "123456789", 9) == 0x995DC9BBDF1939FAULL);
	/* The following were checked with `xz --check=crc64` + `xz -lvv`. */
	assert_true(rh_crc64_update(0, "a", 1) == 0x330284772E652B05ULL);
	assert_true(rh_crc64_update(0, "The quick brown fox jumps over the lazy dog",
				    43) == 0x5B5EB8C2E54AA1C4ULL);
	for (size_t i = 0; i < 256; i++)
		b[i] = (unsigned char)i;
	assert_true(rh_crc64_update(0, b, 256) == 0x72414B2F65DB3AB0ULL);
	memset(b, 0xff, 1000);
	assert_true(rh_crc64_update(0, b, 1000) == 0x322F0AAB7621A846ULL);
	for (size_t i = 0; i < sizeof b; i++)
		b[i] = (unsigned char)(i * 31 + 7);
	assert_true(rh_crc64_update(0, b, sizeof b) == 0xCDEA064B1525FC38ULL);
}

/* Every length 0..64 crosses the 8-byte main loop boundary differently. */
static void test_short_lengths(void **state)
{
	unsigned char b[64];

	(void)state;
	fill(b, sizeof b);
	for (size_t n = 0; n <= sizeof b; n++)
		assert_true(rh_crc64_update(0, b, n) == crc64_bitwise(0, b, n));
}

static void test_incremental(void **state)
{
	enum { LEN = 10000 };
	unsigned char *b = malloc(LEN);
	uint64_t whole;

	(void)state;
	assert_non_null(b);
	fill(b, LEN);
	whole = rh_crc64_update(0, b, LEN);
	assert_true(whole == crc64_bitwise(0, b, LEN));
	for (int round = 0; round < 200; round++) {
		uint64_t crc = 0;
		size_t off = 0;

		while (off < LEN) {
			/* Mostly small pieces (odd sizes), sometimes big ones. */
			size_t n = (rng() & 3) ? rng() % 17 : rng() % 3000;

			if (n > LEN - off)
				n = LEN - off;
			crc = rh_crc64_update(crc, b + off, n);
			off += n;
		}
		assert_true(crc == whole);
	}
	free(b);
}

static void test_unaligned(void **state)
{
	unsigned char *b = malloc(4096 + 16);

	(void)state;
	assert_non_null(b);
	fill(b, 4096 + 16);
	for (size_t shift = 0; shift < 16; shift++) {
		for (size_t len = 4000; len < 4008; len++) {
			unsigned char *p = b + shift;

			assert_true(rh_crc64_update(0, p, len) == crc64_bitwise(0, p, len));
		}
	}
	free(b);
}

static void test_large(void **state)
{
	enum { LEN = 8 << 20 };
	unsigned char *b = malloc(LEN);

	(void)state;
	assert_non_null(b);
	fill(b, LEN);
	assert_true(rh_crc64_update(0, b, LEN) == crc64_bitwise(0, b, LEN));
	/* Continuing from a non-zero CRC also matches the reference. */
	assert_true(rh_crc64_update(0x0123456789ABCDEFULL, b + 3, LEN - 3) ==
		    crc64_bitwise(0x0123456789ABCDEFULL, b + 3, LEN - 3));
	free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vectors),
		cmocka_unit_test(test_short_lengths),
		cmocka_unit_test(test_incremental),
		cmocka_unit_test(test_unaligned),
		cmocka_unit_test(test_large),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
