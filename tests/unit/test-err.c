/* Unit tests for saving and restoring the per-thread error record
 * (rh_err_save / rh_err_restore). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <cmocka.h>

#include "rehost/err.h"

static void test_save_restore(void **state)
{
	struct rh_err_saved saved;

	(void)state;
	rh_seterr_sms(RH_ERR_IO, "SMS.0806", "disk %d", 2);
	rh_err_save(&saved);
	rh_seterr(RH_ERR_BUSY, "cleanup failed");
	assert_int_equal(rh_err_restore(&saved), RH_ERR_IO);
	assert_int_equal(rh_lasterr_code(), RH_ERR_IO);
	assert_string_equal(rh_lasterr(), "disk 2");
	assert_string_equal(rh_lasterr_sms(), "SMS.0806");

	/* "No SMS code" and "no error" come back as they were. */
	rh_seterr_sms(RH_ERR_PARSE, NULL, "no code");
	rh_err_save(&saved);
	rh_seterr(RH_ERR_CONNECT, "x");
	rh_err_restore(&saved);
	assert_null(rh_lasterr_sms());
	rh_clearerr();
	rh_err_save(&saved);
	rh_seterr(RH_ERR_IO, "later");
	assert_int_equal(rh_err_restore(&saved), 0);
	assert_int_equal(rh_lasterr_code(), 0);
	assert_string_equal(rh_lasterr(), "");
}

static void *worker(void *arg)
{
	rh_seterr(RH_ERR_NOSPACE, "worker failed");
	rh_err_save(arg);
	return NULL;
}

/* A worker's record restored on the thread that joins it. */
static void test_across_threads(void **state)
{
	struct rh_err_saved saved;
	pthread_t t;

	(void)state;
	rh_clearerr();
	assert_int_equal(pthread_create(&t, NULL, worker, &saved), 0);
	pthread_join(t, NULL);
	assert_int_equal(rh_lasterr_code(), 0);
	rh_err_restore(&saved);
	assert_int_equal(rh_lasterr_code(), RH_ERR_NOSPACE);
	assert_string_equal(rh_lasterr(), "worker failed");
	assert_string_equal(rh_lasterr_sms(), "SMS.0805");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_save_restore),
		cmocka_unit_test(test_across_threads),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
