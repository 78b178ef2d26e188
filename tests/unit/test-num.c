/* Unit tests for bounded number parsing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "rehost/checked.h"
#include "rehost/err.h"
#include "rehost/num.h"

static void test_i64(void **state)
{
	int64_t v = 7;

	assert_int_equal(rh_parse_i64("42", 0, 100, &v), 0);
	assert_int_equal(v, 42);
	assert_int_equal(rh_parse_i64("-3", -5, 5, &v), 0);
	assert_int_equal(v, -3);
	assert_int_equal(rh_parse_i64("101", 0, 100, &v), RH_ERR_RANGE);
	assert_int_equal(v, 0); /* out-param cleared on failure */
	assert_int_equal(rh_parse_i64("", 0, 100, &v), RH_ERR_PARSE);
	assert_int_equal(rh_parse_i64(" 1", 0, 100, &v), RH_ERR_PARSE);
	assert_int_equal(rh_parse_i64("1 ", 0, 100, &v), RH_ERR_PARSE);
	assert_int_equal(rh_parse_i64("+1", 0, 100, &v), RH_ERR_PARSE);
	assert_int_equal(rh_parse_i64("-", 0, 100, &v), RH_ERR_PARSE);
	assert_int_equal(rh_parse_i64("9223372036854775808", INT64_MIN, INT64_MAX, &v), RH_ERR_RANGE);
	assert_int_equal(rh_parse_i64("9223372036854775807", INT64_MIN, INT64_MAX, &v), 0);
	assert_int_equal(v, INT64_MAX);
	assert_int_equal(rh_parse_i64(NULL, 0, 1, &v), RH_ERR_PARSE);
}

static void test_u64(void **state)
{
	uint64_t v;

	assert_int_equal(rh_parse_u64("18446744073709551615", 0, UINT64_MAX, &v), 0);
	assert_true(v == UINT64_MAX);
	assert_int_equal(rh_parse_u64("18446744073709551616", 0, UINT64_MAX, &v), RH_ERR_RANGE);
	assert_int_equal(rh_parse_u64("-1", 0, UINT64_MAX, &v), RH_ERR_PARSE);
}

static void test_size(void **state)
{
	uint64_t v;

	assert_int_equal(rh_parse_size("4M", 0, UINT64_MAX, &v), 0);
	assert_true(v == 4u << 20);
	assert_int_equal(rh_parse_size("4MiB", 0, UINT64_MAX, &v), 0);
	assert_true(v == 4u << 20);
	assert_int_equal(rh_parse_size("1 GiB", 0, UINT64_MAX, &v), 0);
	assert_true(v == 1u << 30);
	assert_int_equal(rh_parse_size("512", 0, UINT64_MAX, &v), 0);
	assert_true(v == 512);
	assert_int_equal(rh_parse_size("16384P", 0, UINT64_MAX, &v), RH_ERR_OVERFLOW);
	assert_int_equal(rh_parse_size("9M", 1 << 20, 8 << 20, &v), RH_ERR_RANGE);
	assert_int_equal(rh_parse_size("4X", 0, UINT64_MAX, &v), RH_ERR_PARSE);
	assert_int_equal(rh_parse_size("M", 0, UINT64_MAX, &v), RH_ERR_PARSE);
	assert_int_equal(rh_parse_size("4Mx", 0, UINT64_MAX, &v), RH_ERR_PARSE);
}

static void test_format(void **state)
{
	char buf[32];

	assert_string_equal(rh_format_size(0, buf, sizeof buf), "0 B");
	assert_string_equal(rh_format_size(1023, buf, sizeof buf), "1023 B");
	assert_string_equal(rh_format_size(1536, buf, sizeof buf), "1.5 KiB");
	assert_string_equal(rh_format_size(3ULL << 30, buf, sizeof buf), "3.0 GiB");
}

static void test_checked(void **state)
{
	uint64_t r;

	assert_true(RH_ADD_OVERFLOW(UINT64_MAX, (uint64_t)1, &r));
	assert_false(RH_ADD_OVERFLOW((uint64_t)1, (uint64_t)2, &r));
	assert_true(r == 3);
	assert_true(RH_MUL_OVERFLOW(UINT64_MAX / 2, (uint64_t)3, &r));
	assert_true(rh_range_ok(10, 5, 15));
	assert_false(rh_range_ok(10, 6, 15));
	assert_false(rh_range_ok(UINT64_MAX, 2, UINT64_MAX));
	assert_true(rh_align_up(4097, 4096, &r) && r == 8192);
	assert_false(rh_align_up(UINT64_MAX, 4096, &r));
	assert_false(rh_align_up(5, 3, &r));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_i64),
		cmocka_unit_test(test_u64),
		cmocka_unit_test(test_size),
		cmocka_unit_test(test_format),
		cmocka_unit_test(test_checked),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
