/* Unit tests for the error catalogue and error codes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <cmocka.h>

#include "rehost/err.h"
#include "rehost/errcat.h"

static const char hdr[] = "code\tmessage_en\tmessage_zh\tcause\taction\n";

static void test_builtin(void **state)
{
	const struct rh_errcat *cat = rh_errcat_builtin();
	const struct rh_errcat_entry *e;

	assert_non_null(cat);
	assert_true(rh_errcat_count(cat) >= 60);
	e = rh_errcat_find(cat, "SMS.1807");
	assert_non_null(e);
	assert_non_null(strstr(e->message_en, "8900"));
	assert_non_null(strstr(e->message_zh, "8900"));
	assert_ptr_equal(rh_errcat_find(cat, "1807"), e);
	assert_ptr_equal(rh_errcat_find(cat, "sms.1807"), e);
	assert_null(rh_errcat_find(cat, "SMS.9999"));
	assert_null(rh_errcat_at(cat, rh_errcat_count(cat)));
}

/* Every default SMS code that a library error maps to is in the catalogue. */
static void test_default_codes_exist(void **state)
{
	const struct rh_errcat *cat = rh_errcat_builtin();

	for (int err = 0; err >= RH_ERR_INTERNAL; err--) {
		const char *sms = rh_err_sms_code(err);

		assert_string_not_equal(rh_strerror(err), "unknown error");
		if (sms != NULL && rh_errcat_find(cat, sms) == NULL)
			fail_msg("error %d maps to %s, which is not in the catalogue", err, sms);
	}
	assert_string_equal(rh_err_sms_code(RH_ERR_CONNECT), "SMS.1807");
	assert_string_equal(rh_err_sms_code(RH_ERR_NOSPACE), "SMS.0805");
	assert_null(rh_err_sms_code(RH_ERR_PARSE));
}

static void test_parse_errors(void **state)
{
	struct rh_errcat *cat = NULL;
	char buf[256];

	assert_int_equal(rh_errcat_parse("", 0, &cat), RH_ERR_PARSE);
	assert_null(cat);
	assert_int_equal(rh_errcat_parse("bad\n", 4, &cat), RH_ERR_PARSE);
	snprintf(buf, sizeof buf, "%sSMS.1\ta\tb\tc\n", hdr);
	assert_int_equal(rh_errcat_parse(buf, strlen(buf), &cat), RH_ERR_PARSE);
	assert_non_null(strstr(rh_lasterr(), "line 2"));
	snprintf(buf, sizeof buf, "%sSMS.1\ta\tb\tc\td\te\n", hdr);
	assert_int_equal(rh_errcat_parse(buf, strlen(buf), &cat), RH_ERR_PARSE);
	snprintf(buf, sizeof buf, "%sSMS.1\ta\tb\tc\td\nSMS.1\ta\tb\tc\td\n", hdr);
	assert_int_equal(rh_errcat_parse(buf, strlen(buf), &cat), RH_ERR_PARSE);
	assert_non_null(strstr(rh_lasterr(), "duplicate"));
	snprintf(buf, sizeof buf, "%sSMS.1\ta\tb\tc\td", hdr); /* no final newline */
	assert_int_equal(rh_errcat_parse(buf, strlen(buf), &cat), 0);
	assert_int_equal(rh_errcat_count(cat), 1);
	assert_string_equal(rh_errcat_at(cat, 0)->action, "d");
	rh_errcat_free(cat);
	rh_errcat_free(NULL);
}

static void test_lasterr(void **state)
{
	rh_clearerr();
	assert_string_equal(rh_lasterr(), "");
	assert_int_equal(rh_seterr(RH_ERR_CONNECT, "connect %s:%d", "10.0.0.1", 8900),
			 RH_ERR_CONNECT);
	assert_string_equal(rh_lasterr(), "connect 10.0.0.1:8900");
	assert_string_equal(rh_lasterr_sms(), "SMS.1807");
	assert_int_equal(rh_seterr_sms(RH_ERR_IO, "SMS.0806", "sync"), RH_ERR_IO);
	assert_string_equal(rh_lasterr_sms(), "SMS.0806");
	assert_int_equal(rh_seterr_errno(ENOSPC, "write /x"), RH_ERR_NOSPACE);
	assert_non_null(strstr(rh_lasterr(), "write /x: No space left"));
	/* Wrapping the previous detail (and code) in a new one is safe. */
	rh_seterr_sms(RH_ERR_IO, "SMS.0806", "inner %d", 1);
	rh_seterr_sms(RH_ERR_CORRUPT, rh_lasterr_sms(), "outer: %s", rh_lasterr());
	assert_string_equal(rh_lasterr(), "outer: inner 1");
	assert_string_equal(rh_lasterr_sms(), "SMS.0806");
	assert_int_equal(rh_err_from_errno(ECONNREFUSED), RH_ERR_CONNECT);
	assert_int_equal(rh_err_from_errno(12345), RH_ERR_IO);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_builtin),
		cmocka_unit_test(test_default_codes_exist),
		cmocka_unit_test(test_parse_errors),
		cmocka_unit_test(test_lasterr),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
