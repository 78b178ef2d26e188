/* Unit tests for the logger: format, levels, file output, truncation. */
#define RH_LOG_COMPONENT "unittest"
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "rehost/err.h"
#include "rehost/log.h"

static char logpath[] = "/tmp/rehost-test-log.XXXXXX";

static int setup(void **state)
{
	int fd = mkstemp(logpath);

	if (fd < 0)
		return -1;
	close(fd);
	rh_log_to_stderr(false);
	return rh_log_open_file(logpath);
}

static int teardown(void **state)
{
	rh_log_close();
	unlink(logpath);
	return 0;
}

static char *slurp(void)
{
	FILE *f = fopen(logpath, "r");
	char *buf = calloc(1, 65536);
	size_t n;

	assert_non_null(f);
	assert_non_null(buf);
	n = fread(buf, 1, 65535, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static void truncate_log(void)
{
	assert_int_equal(truncate(logpath, 0), 0);
}

static void assert_matches(const char *text, const char *re)
{
	regex_t rx;

	assert_int_equal(regcomp(&rx, re, REG_EXTENDED | REG_NEWLINE), 0);
	if (regexec(&rx, text, 0, NULL, 0) != 0)
		fail_msg("'%s' does not match /%s/", text, re);
	regfree(&rx);
}

static void test_format(void **state)
{
	char *out;

	truncate_log();
	rh_log_set_level(RH_LOG_INFO);
	rh_log_info("copied %d of %d chunks", 3, 7);
	out = slurp();
	/* 2026-11-22T21:30:01.123+00:00 INFO  [unittest] copied 3 of 7 chunks */
	assert_matches(out, "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}"
			    "[+-][0-9]{2}:[0-9]{2} INFO  \\[unittest\\] copied 3 of 7 chunks\n$");
	free(out);
}

static void test_levels(void **state)
{
	char *out;

	truncate_log();
	rh_log_set_level(RH_LOG_WARN);
	rh_log_info("hidden");
	rh_log_debug("hidden too");
	rh_log_warn("shown");
	rh_log_error_r(RH_ERR_RANGE, "value %d", 9);
	out = slurp();
	assert_null(strstr(out, "hidden"));
	assert_matches(out, " WARN  \\[unittest\\] shown$");
	assert_matches(out, " ERROR \\[unittest\\] value 9: out of range$");
	free(out);

	truncate_log();
	rh_log_set_level(RH_LOG_DEBUG2);
	rh_log_debug2("detail");
	rh_log_debug3("too deep");
	out = slurp();
	assert_matches(out, " DEBUG \\[unittest\\] detail \\(test-log\\.c:[0-9]+ test_levels\\)$");
	assert_null(strstr(out, "too deep"));
	free(out);
	rh_log_set_level(RH_LOG_INFO);
}

static void test_parse_level(void **state)
{
	enum rh_log_level l;

	assert_int_equal(rh_log_level_parse("debug", &l), 0);
	assert_int_equal(l, RH_LOG_DEBUG1);
	assert_int_equal(rh_log_level_parse("warn", &l), 0);
	assert_int_equal(l, RH_LOG_WARN);
	assert_int_equal(rh_log_level_parse("debug3", &l), 0);
	assert_int_equal(l, RH_LOG_DEBUG3);
	assert_int_equal(rh_log_level_parse("loud", &l), RH_ERR_INVAL);
	assert_non_null(strstr(rh_lasterr(), "'loud'"));
	assert_string_equal(rh_log_level_name(RH_LOG_ERROR), "error");
}

static void test_truncation(void **state)
{
	char *big = malloc(10000), *out;

	assert_non_null(big);
	memset(big, 'a', 9999);
	big[9999] = '\0';
	truncate_log();
	rh_log_info("%s", big);
	out = slurp();
	assert_true(strlen(out) < 4096);
	assert_int_equal(out[strlen(out) - 1], '\n');
	assert_int_equal(strchr(out, '\n') - out, (long)strlen(out) - 1);
	free(out);
	free(big);
}

static void test_bad_file(void **state)
{
	assert_int_equal(rh_log_open_file("/nonexistent-dir/x.log"), RH_ERR_NOTFOUND);
	assert_non_null(strstr(rh_lasterr(), "/nonexistent-dir/x.log"));
	assert_int_equal(rh_log_open_file(logpath), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_format),
		cmocka_unit_test(test_levels),
		cmocka_unit_test(test_parse_level),
		cmocka_unit_test(test_truncation),
		cmocka_unit_test(test_bad_file),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
