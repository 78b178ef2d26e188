/* Unit tests for the shared line and field splitter and the
 * header-checked tables (src/lib/tsv.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "rehost/err.h"
#include "rehost/tsv.h"

static void test_lines(void **state)
{
	char text[] = "one\r\n\n# c\nlast";
	struct rh_tsv_lines it;
	size_t len = 99;
	char *l;

	(void)state;
	rh_tsv_lines_init(&it, text);
	l = rh_tsv_line_next(&it, &len);
	assert_string_equal(l, "one");
	assert_int_equal(len, 3);
	assert_int_equal(it.rawlen, 4); /* the '\r' counts as stored */
	assert_int_equal(it.lineno, 1);
	l = rh_tsv_line_next(&it, &len);
	assert_string_equal(l, "");
	assert_int_equal(len, 0);
	assert_string_equal(rh_tsv_line_next(&it, NULL), "# c");
	l = rh_tsv_line_next(&it, &len);
	assert_string_equal(l, "last"); /* no final newline */
	assert_int_equal(it.lineno, 4);
	assert_null(rh_tsv_line_next(&it, &len));
	assert_null(rh_tsv_line_next(&it, &len));
	assert_int_equal(it.lineno, 4);
}

static void test_lines_edges(void **state)
{
	char empty[] = "", nl[] = "a\n", lone[] = "\n";
	struct rh_tsv_lines it;

	(void)state;
	rh_tsv_lines_init(&it, empty);
	assert_null(rh_tsv_line_next(&it, NULL));
	assert_int_equal(it.lineno, 0);
	/* A final "\n" ends the last line; no empty line follows it. */
	rh_tsv_lines_init(&it, nl);
	assert_string_equal(rh_tsv_line_next(&it, NULL), "a");
	assert_null(rh_tsv_line_next(&it, NULL));
	rh_tsv_lines_init(&it, lone);
	assert_string_equal(rh_tsv_line_next(&it, NULL), "");
	assert_null(rh_tsv_line_next(&it, NULL));
	assert_int_equal(it.lineno, 1);
}

static void test_split(void **state)
{
	char a[] = "k\tv\t", b[] = "only", c[] = "1\t2\t3\t4", d[] = "";
	char *f[3];

	(void)state;
	assert_int_equal(rh_tsv_split(a, f, 3), 3);
	assert_string_equal(f[0], "k");
	assert_string_equal(f[1], "v");
	assert_string_equal(f[2], ""); /* a trailing tab makes an empty field */
	assert_int_equal(rh_tsv_split(b, f, 3), 1);
	assert_string_equal(f[0], "only");
	assert_int_equal(rh_tsv_split(c, f, 3), 4); /* max + 1: too many */
	assert_string_equal(f[2], "3");
	assert_int_equal(rh_tsv_split(d, f, 3), 1);
	assert_string_equal(f[0], "");
}

static void test_tsv_parse(void **state)
{
	static const char *const hdr[] = { "a", "b" };
	struct rh_tsv *t = NULL;
	const char *ok = "# comment\n\na\tb\n1\t2\r\nx\ty\n";

	(void)state;
	assert_int_equal(rh_tsv_parse(ok, strlen(ok), "t", hdr, 2, &t), 0);
	assert_int_equal(t->nrows, 2);
	assert_string_equal(rh_tsv_cell(t, 0, 1), "2");
	assert_string_equal(rh_tsv_cell(t, 1, 0), "x");
	rh_tsv_free(t);

	assert_int_equal(rh_tsv_parse("a\tc\n", 4, "t", hdr, 2, &t), RH_ERR_PARSE);
	assert_null(t);
	assert_int_equal(rh_tsv_parse("a\tb\n1\n", 6, "t", hdr, 2, &t), RH_ERR_PARSE);
	assert_int_equal(rh_tsv_parse("a\tb\n1\t2\t3\n", 10, "t", hdr, 2, &t), RH_ERR_PARSE);
	assert_int_equal(rh_tsv_parse("a\tb\n\t2\n", 7, "t", hdr, 2, &t), RH_ERR_PARSE);
	assert_int_equal(rh_tsv_parse("# only\n", 7, "t", hdr, 2, &t), RH_ERR_PARSE);
	assert_int_equal(rh_tsv_parse("a\tb\n1\t\0002\n", 9, "t", hdr, 2, &t), RH_ERR_PARSE);
	assert_non_null(strstr(rh_lasterr(), "NUL"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lines),
		cmocka_unit_test(test_lines_edges),
		cmocka_unit_test(test_split),
		cmocka_unit_test(test_tsv_parse),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
