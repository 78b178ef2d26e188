/* ctest: timing (measures rates: never beside a QEMU guest) */
/* Unit tests for time-of-day bandwidth windows. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "rehost/err.h"
#include "rehost/ratesched.h"

static time_t at(int h, int m)
{
	struct tm tm = { .tm_year = 126, .tm_mon = 10, .tm_mday = 22, .tm_hour = h, .tm_min = m,
			 .tm_isdst = -1 };

	return mktime(&tm);
}

static void test_windows(void **state)
{
	struct rh_ratesched s = { .default_mbit = 50 };

	assert_int_equal(rh_ratesched_add(&s, "08:00-18:00=100"), 0);
	assert_int_equal(rh_ratesched_add(&s, "22:00-06:00=0"), 0);
	assert_int_equal(rh_ratesched_mbit_at(&s, at(8, 0)), 100);
	assert_int_equal(rh_ratesched_mbit_at(&s, at(17, 59)), 100);
	assert_int_equal(rh_ratesched_mbit_at(&s, at(18, 0)), 50);
	assert_int_equal(rh_ratesched_mbit_at(&s, at(23, 30)), 0);
	assert_int_equal(rh_ratesched_mbit_at(&s, at(5, 59)), 0);
	assert_int_equal(rh_ratesched_mbit_at(&s, at(6, 0)), 50);
	assert_int_equal(rh_ratesched_add(&s, "00:00-24:00=7"), 0);
	assert_int_equal(rh_ratesched_mbit_at(&s, at(19, 0)), 7);
}

static void test_bad(void **state)
{
	static const char *const bad[] = {
		"8:00-18:00=100", "08:00-18:00", "08:00=100", "25:00-26:00=1", "08:60-09:00=1",
		"08:00-08:00=5", "08:00-09:00=-1", "08:00-09:00=x", "", "24:01-01:00=1",
	};
	struct rh_ratesched s = { 0 };

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		if (rh_ratesched_add(&s, bad[i]) == 0)
			fail_msg("accepted '%s'", bad[i]);
		assert_non_null(strstr(rh_lasterr(), "rate window") ? rh_lasterr() : NULL);
	}
	assert_int_equal(s.n, 0);
	for (unsigned i = 0; i < RH_RATESCHED_MAX; i++)
		assert_int_equal(rh_ratesched_add(&s, "01:00-02:00=1"), 0);
	assert_int_equal(rh_ratesched_add(&s, "01:00-02:00=1"), RH_ERR_TOOBIG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_windows),
		cmocka_unit_test(test_bad),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
