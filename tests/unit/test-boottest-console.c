/* Unit tests for the boot-test console line buffer (src/lib/boottest/console.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "rehost/boottest.h"
#include "rehost/err.h"

/* Lines delivered to the callback, joined with '|'. */
struct got {
	char text[8192];
	int calls;
	int stop_after; /* return -1 on this call (1-based); 0: never */
};

static int collect(const char *line, void *arg)
{
	struct got *g = arg;
	size_t l = strlen(g->text);

	snprintf(g->text + l, sizeof g->text - l, "%s%s", l ? "|" : "", line);
	g->calls++;
	return g->stop_after != 0 && g->calls == g->stop_after ? -1 : 0;
}

static void feed_str(struct rh_bt_console *c, const char *s, struct got *g)
{
	assert_int_equal(rh_bt_console_feed(c, s, strlen(s), collect, g), 0);
}

/* Feed s whole and byte by byte: escape sequences split across reads
 * must give the same lines. Returns the lines of the whole feed. */
static void both_ways(const char *s, const char *want)
{
	struct rh_bt_console *a = NULL, *b = NULL;
	struct got ga = { .calls = 0 }, gb = { .calls = 0 };

	assert_int_equal(rh_bt_console_new(10, &a), 0);
	assert_int_equal(rh_bt_console_new(10, &b), 0);
	feed_str(a, s, &ga);
	for (size_t i = 0; s[i]; i++)
		assert_int_equal(rh_bt_console_feed(b, s + i, 1, collect, &gb), 0);
	assert_int_equal(rh_bt_console_flush(a, collect, &ga), 0);
	assert_int_equal(rh_bt_console_flush(b, collect, &gb), 0);
	assert_string_equal(ga.text, want);
	assert_string_equal(gb.text, want);
	rh_bt_console_free(a);
	rh_bt_console_free(b);
}

static void test_plain_lines(void **state)
{
	/* CRLF (Linux), LFCR (GRUB), blank lines (not lines), trailing blanks. */
	both_ways("one\r\ntwo\n\rthree\n\n\r\n   \nfour  \n", "one|two|three|four");
	/* TAB, BEL, BS and DEL dropped or replaced; UTF-8 as '?'. */
	both_ways("a\tb\x07\x08" "c\x7f\n", "a bc");
	both_ways("[\xe2\x97\x8f] caf\xc3\xa9\n", "[???] caf??");
}

static void test_ansi(void **state)
{
	/* systemd's colours, as recorded from a Debian 12 boot. */
	both_ways("[\x1b[0;32m  OK  \x1b[0m] Started \x1b[0;1;39memergency.service\x1b[0m - Emergency Shell.\r\n",
		  "[  OK  ] Started emergency.service - Emergency Shell.");
	/* 256-colour SGR, erase line, private modes. */
	both_ways("\x1b[K[\x1b[0;1;38;5;185mDEPEND\x1b[0m] x\x1b[?25l\x1b[?7h\n", "[DEPEND] x");
	/* Two- and three-byte sequences, OSC titles ended by BEL and ST. */
	both_ways("\x1b" "c\x1b(B\x1b" "7a\x1b]0;title\x07" "b\x1b]2;t\x1b\\c\n", "abc");
	/* A malformed CSI interrupted by a newline: the newline still counts. */
	both_ways("x\x1b[12\nabc\n", "x|abc");
	/* An over-long CSI is abandoned, not waited for forever: 64
	 * parameter bytes are taken, the 65th ends the sequence, the rest
	 * is text. */
	{
		char s[2 + 100 + 6], want[64];

		memcpy(s, "\x1b[", 2);
		memset(s + 2, '1', 100);
		memcpy(s + 102, "m ok\n", 6);
		memset(want, '1', 35);
		memcpy(want + 35, "m ok", 5);
		both_ways(s, want);
	}
}

static void test_cursor_jumps(void **state)
{
	/* OVMF's countdown, redrawn at column 1 of one row: one line each. */
	both_ways("\x1b[07;01HPress ESC in 5 seconds\x1b[07;01HPress ESC in 4 seconds\r\n",
		  "Press ESC in 5 seconds|Press ESC in 4 seconds");
	/* SeaBIOS's serial console moves the cursor along the row in the
	 * middle of a word (recorded from GRUB's rescue mode). */
	both_ways("error: unknown file\x1b[07;19H\x1b[07;20Hsystem.\r\n", "error: unknown filesystem.");
	/* Clear screen ends a line; a jump to another row too. */
	both_ways("a\x1b[2Jb\x1b[5;2Hc\x1b[6;2Hd\n", "a|bc|d");
	/* A jump far to the right leaves a gap. */
	both_ways("key\x1b[3;40Hvalue\n", "key value");
}

static void test_nul(void **state)
{
	struct rh_bt_console *c = NULL;
	struct got g = { .calls = 0 };

	assert_int_equal(rh_bt_console_new(2, &c), 0);
	assert_int_equal(rh_bt_console_feed(c, "a\0b\n", 4, collect, &g), 0);
	assert_string_equal(g.text, "ab");
	assert_int_equal(rh_bt_console_bytes(c), 4);
	rh_bt_console_free(c);
}

static void test_long_lines(void **state)
{
	struct rh_bt_console *c = NULL;
	struct got g = { .calls = 0 };
	char *s = malloc(1501);

	assert_non_null(s);
	memset(s, 'x', 1500);
	s[1500] = '\n';
	assert_int_equal(rh_bt_console_new(5, &c), 0);
	assert_int_equal(rh_bt_console_feed(c, s, 1501, collect, &g), 0);
	assert_int_equal(g.calls, 3);
	assert_int_equal(rh_bt_console_lines(c), 3);
	assert_int_equal(strlen(rh_bt_console_tail_line(c, 0)), RH_BT_MAX_LINE);
	assert_int_equal(strlen(rh_bt_console_tail_line(c, 2)), 1500 - 2 * RH_BT_MAX_LINE);
	rh_bt_console_free(c);
	free(s);
}

static void test_tail_and_partial(void **state)
{
	struct rh_bt_console *c = NULL;
	struct got g = { .calls = 0 };

	assert_int_equal(rh_bt_console_new(RH_BT_MAX_TAIL + 1, &c), RH_ERR_RANGE);
	assert_null(c);
	assert_int_equal(rh_bt_console_new(3, &c), 0);
	assert_int_equal(rh_bt_console_tail_count(c), 0);
	assert_null(rh_bt_console_tail_line(c, 0));
	assert_string_equal(rh_bt_console_partial(c), "");
	feed_str(c, "l1\nl2\nl3\nl4\nl5\nrehost-src lo", &g);
	assert_int_equal(rh_bt_console_tail_count(c), 3);
	assert_string_equal(rh_bt_console_tail_line(c, 0), "l3");
	assert_string_equal(rh_bt_console_tail_line(c, 2), "l5");
	assert_null(rh_bt_console_tail_line(c, 3));
	assert_string_equal(rh_bt_console_partial(c), "rehost-src lo");
	feed_str(c, "gin: ", &g);
	assert_string_equal(rh_bt_console_partial(c), "rehost-src login: ");
	assert_int_equal(rh_bt_console_lines(c), 5);
	assert_int_equal(rh_bt_console_bytes(c), 33);
	/* The prompt reaches the tail when the run ends. */
	assert_int_equal(rh_bt_console_flush(c, collect, &g), 0);
	assert_string_equal(rh_bt_console_tail_line(c, 2), "rehost-src login:");
	assert_string_equal(rh_bt_console_partial(c), "");
	assert_int_equal(rh_bt_console_lines(c), 6);
	assert_string_equal(g.text, "l1|l2|l3|l4|l5|rehost-src login:");
	rh_bt_console_free(c);

	/* No tail kept at all. */
	assert_int_equal(rh_bt_console_new(0, &c), 0);
	feed_str(c, "a\nb\n", &g);
	assert_int_equal(rh_bt_console_tail_count(c), 0);
	assert_int_equal(rh_bt_console_lines(c), 2);
	rh_bt_console_free(c);
	rh_bt_console_free(NULL);
}

static void test_callback_stops(void **state)
{
	struct rh_bt_console *c = NULL;
	struct got g = { .stop_after = 2 };

	assert_int_equal(rh_bt_console_new(4, &c), 0);
	assert_int_equal(rh_bt_console_feed(c, "a\nb\nc\n", 6, collect, &g), -1);
	assert_string_equal(g.text, "a|b");
	rh_bt_console_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain_lines),
		cmocka_unit_test(test_ansi),
		cmocka_unit_test(test_cursor_jumps),
		cmocka_unit_test(test_nul),
		cmocka_unit_test(test_long_lines),
		cmocka_unit_test(test_tail_and_partial),
		cmocka_unit_test(test_callback_stops),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
