/* Unit tests for rh_pread_full: full reads, the two meanings of the end of
 * the file, read errors and offset overflow. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "rehost/err.h"
#include "rehost/io.h"

static int tmpfile_with(const char *text)
{
	char path[] = "/tmp/rehost-test-io-XXXXXX";
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	unlink(path);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	return fd;
}

static void test_full(void **state)
{
	int fd = tmpfile_with("0123456789");
	char buf[8] = "";
	size_t got = 99;

	(void)state;
	assert_int_equal(rh_pread_full(fd, buf, 4, 3, NULL), 0);
	assert_memory_equal(buf, "3456", 4);
	assert_int_equal(rh_pread_full(fd, buf, 7, 3, &got), 0);
	assert_int_equal(got, 7);
	assert_memory_equal(buf, "3456789", 7);
	assert_int_equal(rh_pread_full(fd, buf, 0, 100, &got), 0);
	assert_int_equal(got, 0);
	close(fd);
}

static void test_end_of_file(void **state)
{
	int fd = tmpfile_with("0123456789");
	char buf[8];
	size_t got = 99;

	(void)state;
	/* With got: a short count, not an error. */
	assert_int_equal(rh_pread_full(fd, buf, 8, 6, &got), 0);
	assert_int_equal(got, 4);
	assert_memory_equal(buf, "6789", 4);
	assert_int_equal(rh_pread_full(fd, buf, 8, 50, &got), 0);
	assert_int_equal(got, 0);
	/* Without: RH_ERR_IO, saying where the file ended. */
	assert_int_equal(rh_pread_full(fd, buf, 8, 6, NULL), RH_ERR_IO);
	assert_string_equal(rh_lasterr(), "offset 10: unexpected end of file");
	close(fd);
}

static void test_errors(void **state)
{
	char buf[4];
	size_t got = 99;

	(void)state;
	assert_int_equal(rh_pread_full(-1, buf, sizeof buf, 0, &got), RH_ERR_IO);
	assert_int_equal(got, 0);
	assert_non_null(strstr(rh_lasterr(), "offset 0: "));
	assert_int_equal(rh_pread_full(-1, buf, sizeof buf, (uint64_t)INT64_MAX - 2, &got),
			 RH_ERR_OVERFLOW);
	assert_int_equal(rh_pread_full(-1, buf, sizeof buf, UINT64_MAX, NULL), RH_ERR_OVERFLOW);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full),
		cmocka_unit_test(test_end_of_file),
		cmocka_unit_test(test_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
