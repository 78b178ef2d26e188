/* jansson helpers: bounded loading, error positions, typed getters, and
 * dumping through a pipe. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "rehost/err.h"
#include "rehost/json.h"

#define LOAD(s, max, out) rh_json_load((s), strlen(s), (max), (out))

static void test_load(void **state)
{
	json_t *j = (json_t *)&j;

	(void)state;
	assert_int_equal(LOAD("{\"a\": [1, 2, {}]}", 1024, &j), 0);
	assert_true(json_is_object(j));
	json_decref(j);
	assert_int_equal(LOAD("[]", 2, &j), 0);
	json_decref(j);

	/* Input need not be NUL-terminated: only len bytes are read. */
	assert_int_equal(rh_json_load("[1]garbage", 3, 100, &j), 0);
	assert_int_equal(json_array_size(j), 1);
	json_decref(j);
}

static void test_load_bound(void **state)
{
	json_t *j = (json_t *)&j;

	(void)state;
	assert_int_equal(LOAD("[1,2,3]", 6, &j), RH_ERR_TOOBIG);
	assert_null(j);
	assert_int_equal(rh_lasterr_code(), RH_ERR_TOOBIG);
	assert_int_equal(LOAD("[1,2,3]", 7, &j), 0);
	json_decref(j);
	assert_int_equal(LOAD("[]", 0, &j), RH_ERR_TOOBIG);
}

static void test_load_errors(void **state)
{
	json_t *j = (json_t *)&j;

	(void)state;
	assert_int_equal(LOAD("{\"a\": 1,\n \"b\": }", 1024, &j), RH_ERR_PARSE);
	assert_null(j);
	/* The detail starts with the position of the problem. */
	assert_true(strncmp(rh_lasterr(), "line 2 column ", 14) == 0);
	assert_non_null(strchr(rh_lasterr(), ':'));

	assert_int_equal(rh_json_load(NULL, 0, 10, &j), RH_ERR_PARSE);
	assert_int_equal(LOAD("", 10, &j), RH_ERR_PARSE);
	assert_int_equal(LOAD("   ", 10, &j), RH_ERR_PARSE);
	assert_int_equal(LOAD("[1] [2]", 10, &j), RH_ERR_PARSE);
	assert_int_equal(LOAD("[1,]", 10, &j), RH_ERR_PARSE);
	assert_int_equal(LOAD("{'a': 1}", 10, &j), RH_ERR_PARSE);
	/* A bare scalar is not a document. */
	assert_int_equal(LOAD("42", 10, &j), RH_ERR_PARSE);
	/* Duplicate keys and embedded NULs are ambiguous: refused. */
	assert_int_equal(LOAD("{\"a\": 1, \"a\": 2}", 100, &j), RH_ERR_PARSE);
	assert_int_equal(LOAD("[\"a\\u0000b\"]", 100, &j), RH_ERR_PARSE);
	assert_int_equal(rh_json_load("[\"a\0b\"]", 7, 100, &j), RH_ERR_PARSE);
	/* Invalid UTF-8. */
	assert_int_equal(LOAD("[\"\xff\"]", 100, &j), RH_ERR_PARSE);
	/* Integers beyond int64. */
	assert_int_equal(LOAD("[9223372036854775808]", 100, &j), RH_ERR_PARSE);
	assert_null(j);
}

static void test_get_str(void **state)
{
	json_t *j = NULL, *arr = NULL;
	const char *s = "x";

	(void)state;
	assert_int_equal(LOAD("{\"name\": \"db1\", \"n\": 3, \"z\": null, \"e\": \"\"}",
			      1024, &j), 0);
	assert_int_equal(rh_json_get_str(j, "name", &s), 0);
	assert_string_equal(s, "db1");
	assert_int_equal(rh_json_get_str(j, "e", &s), 0);
	assert_string_equal(s, "");
	assert_int_equal(rh_json_get_str(j, "n", &s), RH_ERR_PARSE);
	assert_null(s);
	assert_non_null(strstr(rh_lasterr(), "'n'"));
	assert_non_null(strstr(rh_lasterr(), "integer"));
	s = "x";
	assert_int_equal(rh_json_get_str(j, "z", &s), RH_ERR_PARSE);
	assert_null(s);
	s = "x";
	assert_int_equal(rh_json_get_str(j, "missing", &s), RH_ERR_NOTFOUND);
	assert_null(s);
	assert_int_equal(rh_json_get_str(j, NULL, &s), RH_ERR_INVAL);
	/* Not an object, or nothing at all. */
	assert_int_equal(LOAD("[\"name\"]", 1024, &arr), 0);
	assert_int_equal(rh_json_get_str(arr, "name", &s), RH_ERR_INVAL);
	assert_int_equal(rh_json_get_str(NULL, "name", &s), RH_ERR_INVAL);
	assert_null(s);
	json_decref(arr);
	json_decref(j);
}

static void test_get_int(void **state)
{
	json_t *j = NULL;
	int64_t v = 5;

	(void)state;
	assert_int_equal(LOAD("{\"a\": 42, \"neg\": -7, \"r\": 1.0, \"s\": \"3\","
			      " \"max\": 9223372036854775807, \"min\": -9223372036854775808,"
			      " \"t\": true}", 1024, &j), 0);
	assert_int_equal(rh_json_get_int(j, "a", 0, 100, &v), 0);
	assert_int_equal(v, 42);
	assert_int_equal(rh_json_get_int(j, "a", 42, 42, &v), 0);
	assert_int_equal(rh_json_get_int(j, "neg", -10, 0, &v), 0);
	assert_int_equal(v, -7);
	assert_int_equal(rh_json_get_int(j, "a", 0, 41, &v), RH_ERR_RANGE);
	assert_int_equal(v, 0);
	assert_int_equal(rh_json_get_int(j, "a", 43, 100, &v), RH_ERR_RANGE);
	assert_int_equal(rh_json_get_int(j, "neg", 0, 100, &v), RH_ERR_RANGE);
	assert_int_equal(rh_json_get_int(j, "max", INT64_MIN, INT64_MAX, &v), 0);
	assert_true(v == INT64_MAX);
	assert_int_equal(rh_json_get_int(j, "min", INT64_MIN, INT64_MAX, &v), 0);
	assert_true(v == INT64_MIN);
	assert_int_equal(rh_json_get_int(j, "max", INT64_MIN, INT64_MAX - 1, &v), RH_ERR_RANGE);
	v = 5;
	assert_int_equal(rh_json_get_int(j, "r", 0, 100, &v), RH_ERR_PARSE);
	assert_int_equal(v, 0);
	assert_int_equal(rh_json_get_int(j, "s", 0, 100, &v), RH_ERR_PARSE);
	assert_int_equal(rh_json_get_int(j, "t", 0, 100, &v), RH_ERR_PARSE);
	assert_int_equal(rh_json_get_int(j, "nope", 0, 100, &v), RH_ERR_NOTFOUND);
	assert_int_equal(rh_json_get_int(j, "a", 1, 0, &v), RH_ERR_INVAL);
	json_decref(j);
}

static void test_get_bool(void **state)
{
	json_t *j = NULL;
	bool b = true;

	(void)state;
	assert_int_equal(LOAD("{\"t\": true, \"f\": false, \"one\": 1, \"s\": \"true\"}",
			      1024, &j), 0);
	assert_int_equal(rh_json_get_bool(j, "t", &b), 0);
	assert_true(b);
	assert_int_equal(rh_json_get_bool(j, "f", &b), 0);
	assert_false(b);
	b = true;
	assert_int_equal(rh_json_get_bool(j, "one", &b), RH_ERR_PARSE);
	assert_false(b);
	assert_int_equal(rh_json_get_bool(j, "s", &b), RH_ERR_PARSE);
	assert_int_equal(rh_json_get_bool(j, "x", &b), RH_ERR_NOTFOUND);
	json_decref(j);
}

/* Dump through a pipe and read back everything that was written. */
static char *dump_to_string(const json_t *j, int pretty, int *rc)
{
	int fds[2];
	char *out = calloc(1, 65536);
	size_t len = 0;
	ssize_t r;

	assert_non_null(out);
	assert_int_equal(pipe(fds), 0);
	*rc = rh_json_dump_fd(fds[1], j, pretty);
	close(fds[1]);
	while ((r = read(fds[0], out + len, 65535 - len)) > 0)
		len += (size_t)r;
	close(fds[0]);
	return out;
}

static void test_dump(void **state)
{
	json_t *j = NULL, *back = NULL;
	char *s;
	int rc;

	(void)state;
	assert_int_equal(LOAD("{\"b\": [1, true, null], \"a\": \"x\\u00e9\"}", 1024, &j), 0);
	s = dump_to_string(j, 0, &rc);
	assert_int_equal(rc, 0);
	assert_string_equal(s, "{\"b\":[1,true,null],\"a\":\"x\xc3\xa9\"}\n");
	free(s);
	s = dump_to_string(j, 1, &rc);
	assert_int_equal(rc, 0);
	assert_non_null(strstr(s, "\n  \"b\": [\n"));
	assert_int_equal(s[strlen(s) - 1], '\n');
	assert_int_equal(LOAD(s, 65536, &back), 0);
	assert_true(json_equal(j, back));
	json_decref(back);
	free(s);
	json_decref(j);
}

/* A document bigger than a pipe buffer arrives whole (short writes). */
static void test_dump_large(void **state)
{
	json_t *arr = json_array(), *back = NULL;
	int fds[2];
	char *out;
	size_t len = 0, cap = 4 << 20;
	ssize_t r;
	pid_t pid;

	(void)state;
	assert_non_null(arr);
	for (int i = 0; i < 100000; i++)
		assert_int_equal(json_array_append_new(arr, json_integer(i * 1000003LL)), 0);
	out = malloc(cap);
	assert_non_null(out);
	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(fds[0]);
		_exit(rh_json_dump_fd(fds[1], arr, 0) == 0 ? 0 : 1);
	}
	close(fds[1]);
	while ((r = read(fds[0], out + len, cap - len)) > 0)
		len += (size_t)r;
	close(fds[0]);
	assert_true(len > 65536 * 4);
	assert_int_equal(rh_json_load(out, len, cap, &back), 0);
	assert_true(json_equal(arr, back));
	json_decref(back);
	json_decref(arr);
	free(out);
}

static void test_dump_errors(void **state)
{
	json_t *j = json_object();
	int fd;

	(void)state;
	assert_int_equal(rh_json_dump_fd(-1, j, 0), RH_ERR_IO);
	assert_non_null(strstr(rh_lasterr(), "Bad file descriptor"));
	fd = open("/dev/full", O_WRONLY);
	if (fd >= 0) {
		assert_int_equal(rh_json_dump_fd(fd, j, 0), RH_ERR_NOSPACE);
		close(fd);
	}
	json_decref(j);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_load),
		cmocka_unit_test(test_load_bound),
		cmocka_unit_test(test_load_errors),
		cmocka_unit_test(test_get_str),
		cmocka_unit_test(test_get_int),
		cmocka_unit_test(test_get_bool),
		cmocka_unit_test(test_dump),
		cmocka_unit_test(test_dump_large),
		cmocka_unit_test(test_dump_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
