/* Bounded buffer, parsing cursor and endian helpers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "rehost/buf.h"
#include "rehost/endian.h"
#include "rehost/err.h"

static void test_endian(void **state)
{
	const uint8_t in[9] = { 0xff, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08 };
	uint8_t out[9];

	(void)state;
	/* Offset 1: the helpers must not care about alignment. */
	assert_int_equal(rh_le16dec(in + 1), 0x0201);
	assert_int_equal(rh_be16dec(in + 1), 0x0102);
	assert_int_equal(rh_le32dec(in + 1), 0x04030201);
	assert_int_equal(rh_be32dec(in + 1), 0x01020304);
	assert_true(rh_le64dec(in + 1) == 0x0807060504030201ULL);
	assert_true(rh_be64dec(in + 1) == 0x0102030405060708ULL);
	/* High bit set: no sign extension anywhere. */
	assert_int_equal(rh_le16dec(in), 0x01ff);
	assert_true(rh_be64dec(in) == 0xff01020304050607ULL);

	memset(out, 0, sizeof out);
	rh_le64enc(out + 1, 0x0807060504030201ULL);
	assert_memory_equal(out + 1, in + 1, 8);
	rh_be64enc(out + 1, 0x0102030405060708ULL);
	assert_memory_equal(out + 1, in + 1, 8);
	rh_le32enc(out + 1, 0x04030201);
	assert_memory_equal(out + 1, in + 1, 4);
	rh_be32enc(out + 1, 0x01020304);
	assert_memory_equal(out + 1, in + 1, 4);
	rh_le16enc(out + 1, 0x0201);
	assert_memory_equal(out + 1, in + 1, 2);
	rh_be16enc(out + 1, 0x0102);
	assert_memory_equal(out + 1, in + 1, 2);
	assert_int_equal(out[0], 0);
}

static void test_new_bad_max(void **state)
{
	struct rh_buf *b = (struct rh_buf *)&b;

	(void)state;
	assert_int_equal(rh_buf_new(0, &b), RH_ERR_INVAL);
	assert_null(b);
	assert_int_equal(rh_buf_new(SIZE_MAX, &b), RH_ERR_INVAL);
	assert_int_equal(rh_buf_new(SIZE_MAX / 2 + 1, &b), RH_ERR_INVAL);
	rh_buf_free(NULL);
}

static void test_put_and_bound(void **state)
{
	struct rh_buf *b = NULL;
	uint8_t big[1000];

	(void)state;
	assert_int_equal(rh_buf_new(10, &b), 0);
	assert_int_equal(rh_buf_len(b), 0);
	assert_string_equal(rh_buf_str(b), "");
	assert_non_null(rh_buf_data(b));
	assert_int_equal(rh_buf_put(b, NULL, 0), 0);
	assert_int_equal(rh_buf_put(b, "hello", 5), 0);
	assert_int_equal(rh_buf_put(b, "world", 5), 0);
	assert_int_equal(rh_buf_len(b), 10);
	assert_int_equal(rh_buf_avail(b), 0);
	assert_string_equal(rh_buf_str(b), "helloworld");
	/* One byte over the bound: refused, contents unchanged. */
	assert_int_equal(rh_buf_put(b, "!", 1), RH_ERR_TOOBIG);
	assert_int_equal(rh_buf_put_u8(b, 1), RH_ERR_TOOBIG);
	assert_int_equal(rh_buf_put_le16(b, 1), RH_ERR_TOOBIG);
	assert_int_equal(rh_buf_len(b), 10);
	assert_string_equal(rh_buf_str(b), "helloworld");
	assert_int_equal(rh_buf_put(b, NULL, 0), 0);
	/* A length that would wrap size_t is too big, not a small append. */
	assert_int_equal(rh_buf_put(b, big, SIZE_MAX), RH_ERR_TOOBIG);
	assert_int_equal(rh_buf_put(b, big, SIZE_MAX - 5), RH_ERR_TOOBIG);
	assert_int_equal(rh_buf_len(b), 10);

	rh_buf_reset(b);
	assert_int_equal(rh_buf_len(b), 0);
	assert_string_equal(rh_buf_str(b), "");
	assert_int_equal(rh_buf_put(b, big, 11), RH_ERR_TOOBIG);
	assert_int_equal(rh_buf_len(b), 0);
	rh_buf_free(b);

	/* Growth across many reallocations keeps every byte. */
	assert_int_equal(rh_buf_new(100000, &b), 0);
	assert_int_equal(rh_buf_max(b), 100000);
	for (int i = 0; i < 100; i++) {
		memset(big, i, sizeof big);
		assert_int_equal(rh_buf_put(b, big, sizeof big), 0);
	}
	assert_int_equal(rh_buf_len(b), 100000);
	for (size_t i = 0; i < 100000; i++)
		assert_int_equal(rh_buf_data(b)[i], (uint8_t)(i / 1000));
	assert_int_equal(rh_buf_data(b)[100000], 0);
	assert_int_equal(rh_buf_put_u8(b, 0), RH_ERR_TOOBIG);
	rh_buf_free(b);
}

static void test_put_ints(void **state)
{
	static const uint8_t want[] = {
		0xab,
		0x34, 0x12, 0x12, 0x34,
		0x78, 0x56, 0x34, 0x12, 0x12, 0x34, 0x56, 0x78,
		8, 7, 6, 5, 4, 3, 2, 1, 1, 2, 3, 4, 5, 6, 7, 8,
	};
	struct rh_buf *b = NULL;

	(void)state;
	assert_int_equal(rh_buf_new(sizeof want, &b), 0);
	assert_int_equal(rh_buf_put_u8(b, 0xab), 0);
	assert_int_equal(rh_buf_put_le16(b, 0x1234), 0);
	assert_int_equal(rh_buf_put_be16(b, 0x1234), 0);
	assert_int_equal(rh_buf_put_le32(b, 0x12345678), 0);
	assert_int_equal(rh_buf_put_be32(b, 0x12345678), 0);
	assert_int_equal(rh_buf_put_le64(b, 0x0102030405060708ULL), 0);
	assert_int_equal(rh_buf_put_be64(b, 0x0102030405060708ULL), 0);
	assert_int_equal(rh_buf_len(b), sizeof want);
	assert_memory_equal(rh_buf_data(b), want, sizeof want);
	rh_buf_free(b);

	/* 7 bytes of room: an 8-byte put fails whole instead of writing 7. */
	assert_int_equal(rh_buf_new(7, &b), 0);
	assert_int_equal(rh_buf_put_be64(b, 1), RH_ERR_TOOBIG);
	assert_int_equal(rh_buf_put_le64(b, 1), RH_ERR_TOOBIG);
	assert_int_equal(rh_buf_len(b), 0);
	rh_buf_free(b);
}

static void test_putf(void **state)
{
	struct rh_buf *b = NULL;

	(void)state;
	assert_int_equal(rh_buf_new(20, &b), 0);
	assert_int_equal(rh_buf_putf(b, "%s=%d", "x", 42), 0);
	assert_int_equal(rh_buf_putf(b, "%s", ""), 0);
	assert_int_equal(rh_buf_putf(b, ";%05u", 7u), 0);
	assert_string_equal(rh_buf_str(b), "x=42;00007");
	assert_int_equal(rh_buf_len(b), 10);
	/* 11 more bytes would make 21 > 20: refused, unchanged. */
	assert_int_equal(rh_buf_putf(b, "%011d", 1), RH_ERR_TOOBIG);
	assert_string_equal(rh_buf_str(b), "x=42;00007");
	/* Exactly to the bound. */
	assert_int_equal(rh_buf_putf(b, "%010d", 1), 0);
	assert_int_equal(rh_buf_len(b), 20);
	assert_string_equal(rh_buf_str(b), "x=42;000070000000001");
	rh_buf_free(b);
}

static void test_reserve_truncate_consume(void **state)
{
	struct rh_buf *b = NULL;
	uint8_t *p = (uint8_t *)&p;

	(void)state;
	assert_int_equal(rh_buf_new(16, &b), 0);
	assert_int_equal(rh_buf_reserve(b, 17, &p), RH_ERR_TOOBIG);
	assert_null(p);
	assert_int_equal(rh_buf_reserve(b, 8, &p), 0);
	memcpy(p, "abcdefgh", 8);
	assert_int_equal(rh_buf_len(b), 8);
	/* "read" only 5 bytes: give back the rest. */
	assert_int_equal(rh_buf_truncate(b, 5), 0);
	assert_string_equal(rh_buf_str(b), "abcde");
	assert_int_equal(rh_buf_truncate(b, 6), RH_ERR_INVAL);
	assert_int_equal(rh_buf_len(b), 5);
	assert_int_equal(rh_buf_consume(b, 2), 0);
	assert_string_equal(rh_buf_str(b), "cde");
	assert_int_equal(rh_buf_consume(b, 4), RH_ERR_INVAL);
	assert_int_equal(rh_buf_consume(b, 0), 0);
	assert_int_equal(rh_buf_consume(b, 3), 0);
	assert_int_equal(rh_buf_len(b), 0);
	assert_string_equal(rh_buf_str(b), "");
	/* Consuming frees room under the bound. */
	assert_int_equal(rh_buf_reserve(b, 16, &p), 0);
	assert_int_equal(rh_buf_reserve(b, 0, &p), 0);
	assert_non_null(p);
	assert_int_equal(rh_buf_reserve(b, 1, &p), RH_ERR_TOOBIG);
	assert_int_equal(rh_buf_reserve(b, SIZE_MAX, &p), RH_ERR_TOOBIG);
	rh_buf_free(b);

	/* Consume on a never-allocated buffer. */
	assert_int_equal(rh_buf_new(1, &b), 0);
	assert_int_equal(rh_buf_consume(b, 0), 0);
	assert_int_equal(rh_buf_consume(b, 1), RH_ERR_INVAL);
	assert_int_equal(rh_buf_truncate(b, 0), 0);
	rh_buf_free(b);
}

static void test_cursor_ints(void **state)
{
	static const uint8_t in[] = {
		0xab,
		0x34, 0x12, 0x12, 0x34,
		0x78, 0x56, 0x34, 0x12, 0x12, 0x34, 0x56, 0x78,
		8, 7, 6, 5, 4, 3, 2, 1, 1, 2, 3, 4, 5, 6, 7, 8,
	};
	struct rh_buf_cursor c;
	uint8_t u8;
	uint16_t u16;
	uint32_t u32;
	uint64_t u64;

	(void)state;
	rh_buf_cursor_init(&c, in, sizeof in);
	assert_int_equal(rh_buf_remaining(&c), sizeof in);
	assert_int_equal(rh_buf_get_u8(&c, &u8), 0);
	assert_int_equal(u8, 0xab);
	assert_int_equal(rh_buf_get_le16(&c, &u16), 0);
	assert_int_equal(u16, 0x1234);
	assert_int_equal(rh_buf_get_be16(&c, &u16), 0);
	assert_int_equal(u16, 0x1234);
	assert_int_equal(rh_buf_get_le32(&c, &u32), 0);
	assert_int_equal(u32, 0x12345678);
	assert_int_equal(rh_buf_get_be32(&c, &u32), 0);
	assert_int_equal(u32, 0x12345678);
	assert_int_equal(rh_buf_get_le64(&c, &u64), 0);
	assert_true(u64 == 0x0102030405060708ULL);
	assert_int_equal(rh_buf_get_be64(&c, &u64), 0);
	assert_true(u64 == 0x0102030405060708ULL);
	assert_int_equal(rh_buf_remaining(&c), 0);
	u8 = 1;
	assert_int_equal(rh_buf_get_u8(&c, &u8), RH_ERR_PARSE);
	assert_int_equal(u8, 0);
}

/* Short data: every getter fails, zeroes its output and consumes nothing. */
static void test_cursor_short(void **state)
{
	static const uint8_t in[7] = { 1, 2, 3, 4, 5, 6, 7 };
	struct rh_buf_cursor c;
	uint16_t u16 = 0xffff;
	uint32_t u32 = 0xffffffff;
	uint64_t u64 = UINT64_MAX;
	const uint8_t *p = in;
	uint8_t copy[8];

	(void)state;
	rh_buf_cursor_init(&c, in, sizeof in);
	assert_int_equal(rh_buf_get_le64(&c, &u64), RH_ERR_PARSE);
	assert_true(u64 == 0);
	u64 = UINT64_MAX;
	assert_int_equal(rh_buf_get_be64(&c, &u64), RH_ERR_PARSE);
	assert_true(u64 == 0);
	assert_int_equal(rh_buf_remaining(&c), 7);
	assert_ptr_equal(c.p, in);
	assert_int_equal(rh_buf_skip(&c, 4), 0);
	assert_int_equal(rh_buf_get_le32(&c, &u32), RH_ERR_PARSE);
	assert_int_equal(u32, 0);
	u32 = 0xffffffff;
	assert_int_equal(rh_buf_get_be32(&c, &u32), RH_ERR_PARSE);
	assert_int_equal(u32, 0);
	assert_int_equal(rh_buf_skip(&c, 1), 0);
	assert_int_equal(rh_buf_get_le16(&c, &u16), 0);
	assert_int_equal(u16, 0x0706);
	u16 = 0xffff;
	assert_int_equal(rh_buf_get_be16(&c, &u16), RH_ERR_PARSE);
	assert_int_equal(u16, 0);
	assert_string_not_equal(rh_lasterr(), "");
	assert_int_equal(rh_lasterr_code(), RH_ERR_PARSE);

	rh_buf_cursor_init(&c, in, sizeof in);
	assert_int_equal(rh_buf_get_bytes(&c, 8, &p), RH_ERR_PARSE);
	assert_null(p);
	assert_int_equal(rh_buf_get_bytes(&c, SIZE_MAX, &p), RH_ERR_PARSE);
	assert_int_equal(rh_buf_skip(&c, SIZE_MAX), RH_ERR_PARSE);
	assert_int_equal(rh_buf_skip(&c, 8), RH_ERR_PARSE);
	memset(copy, 0xee, sizeof copy);
	assert_int_equal(rh_buf_get_copy(&c, copy, 8), RH_ERR_PARSE);
	for (size_t i = 0; i < sizeof copy; i++)
		assert_int_equal(copy[i], 0);
	assert_int_equal(rh_buf_remaining(&c), 7);
	assert_ptr_equal(c.p, in);
}

static void test_cursor_bytes(void **state)
{
	static const uint8_t in[] = "abcdefgh";
	struct rh_buf_cursor c;
	const uint8_t *p = NULL;
	uint8_t copy[3];

	(void)state;
	rh_buf_cursor_init(&c, in, 8);
	assert_int_equal(rh_buf_get_bytes(&c, 0, &p), 0);
	assert_ptr_equal(p, in);
	assert_int_equal(rh_buf_get_bytes(&c, 2, &p), 0);
	assert_ptr_equal(p, in);
	assert_int_equal(rh_buf_get_copy(&c, copy, 3), 0);
	assert_memory_equal(copy, "cde", 3);
	assert_int_equal(rh_buf_get_copy(&c, NULL, 0), 0);
	assert_int_equal(rh_buf_skip(&c, 2), 0);
	assert_int_equal(rh_buf_get_bytes(&c, 1, &p), 0);
	assert_ptr_equal(p, in + 7);
	assert_int_equal(rh_buf_remaining(&c), 0);
	assert_int_equal(rh_buf_skip(&c, 0), 0);
	assert_int_equal(rh_buf_skip(&c, 1), RH_ERR_PARSE);

	/* An empty cursor over no memory at all. */
	rh_buf_cursor_init(&c, NULL, 0);
	assert_int_equal(rh_buf_remaining(&c), 0);
	assert_int_equal(rh_buf_get_bytes(&c, 1, &p), RH_ERR_PARSE);
	assert_null(p);
}

/* What the write side produces, the read side gives back. */
static void test_roundtrip(void **state)
{
	struct rh_buf *b = NULL;
	struct rh_buf_cursor c;
	uint16_t u16;
	uint32_t u32;
	uint64_t u64;
	const uint8_t *p;

	(void)state;
	assert_int_equal(rh_buf_new(64, &b), 0);
	assert_int_equal(rh_buf_put_be32(b, 0xdeadbeef), 0);
	assert_int_equal(rh_buf_put_le64(b, UINT64_MAX - 1), 0);
	assert_int_equal(rh_buf_put_le16(b, 0x8001), 0);
	assert_int_equal(rh_buf_putf(b, "tail"), 0);
	rh_buf_cursor_init(&c, rh_buf_data(b), rh_buf_len(b));
	assert_int_equal(rh_buf_get_be32(&c, &u32), 0);
	assert_int_equal(u32, 0xdeadbeef);
	assert_int_equal(rh_buf_get_le64(&c, &u64), 0);
	assert_true(u64 == UINT64_MAX - 1);
	assert_int_equal(rh_buf_get_le16(&c, &u16), 0);
	assert_int_equal(u16, 0x8001);
	assert_int_equal(rh_buf_get_bytes(&c, rh_buf_remaining(&c), &p), 0);
	assert_memory_equal(p, "tail", 4);
	rh_buf_free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_endian),
		cmocka_unit_test(test_new_bad_max),
		cmocka_unit_test(test_put_and_bound),
		cmocka_unit_test(test_put_ints),
		cmocka_unit_test(test_putf),
		cmocka_unit_test(test_reserve_truncate_consume),
		cmocka_unit_test(test_cursor_ints),
		cmocka_unit_test(test_cursor_short),
		cmocka_unit_test(test_cursor_bytes),
		cmocka_unit_test(test_roundtrip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
