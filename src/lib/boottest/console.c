/*
 * Console line buffer: raw bytes from a guest's serial port (untrusted:
 * anything the guest or its firmware prints) become bounded lines of
 * printable ASCII, and the last N lines are kept for the report.
 *
 * Escape sequences are removed by a small state machine rather than a
 * regular expression because a sequence may be split across reads. Every
 * state is bounded: an over-long CSI or OSC sequence is abandoned.
 */
#include <stdlib.h>
#include <string.h>

#include "rehost/boottest.h"
#include "rehost/err.h"

/* Longest escape sequence we wait for before giving up on it. */
#define ESC_MAX 64u

enum esc_state {
	ST_TEXT,
	ST_ESC,      /* after ESC */
	ST_ESC_ARG,  /* ESC ( B and friends: one more byte to drop */
	ST_CSI,      /* ESC [ ... final byte 0x40-0x7e */
	ST_OSC,      /* ESC ] ... BEL or ESC \ */
	ST_OSC_ESC,  /* ESC seen inside an OSC */
};

struct rh_bt_console {
	enum esc_state st;
	unsigned esc_len;
	char params[ESC_MAX + 1]; /* CSI parameter bytes so far */
	unsigned h_row;           /* row of the last cursor jump on this line, 0: none */
	char line[RH_BT_MAX_LINE + 1];
	size_t len;
	uint64_t bytes, lines;
	char **tail;          /* ring of tail_cap lines, each RH_BT_MAX_LINE + 1 */
	size_t tail_cap, tail_n, tail_head; /* head: index of the oldest */
};

int rh_bt_console_new(size_t tail, struct rh_bt_console **out)
{
	struct rh_bt_console *c;

	*out = NULL;
	if (tail > RH_BT_MAX_TAIL)
		return rh_seterr(RH_ERR_RANGE, "console tail of %zu lines (at most %u)", tail,
				 RH_BT_MAX_TAIL);
	c = calloc(1, sizeof *c);
	if (c == NULL)
		return RH_ERR_NOMEM;
	c->tail_cap = tail;
	if (tail > 0) {
		c->tail = calloc(tail, sizeof *c->tail);
		if (c->tail == NULL) {
			free(c);
			return RH_ERR_NOMEM;
		}
	}
	*out = c;
	return 0;
}

void rh_bt_console_free(struct rh_bt_console *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < c->tail_cap; i++)
		free(c->tail[i]);
	free(c->tail);
	free(c);
}

static int tail_push(struct rh_bt_console *c, const char *line)
{
	size_t slot;

	if (c->tail_cap == 0)
		return 0;
	if (c->tail_n < c->tail_cap) {
		slot = (c->tail_head + c->tail_n) % c->tail_cap;
		c->tail_n++;
	} else {
		slot = c->tail_head;
		c->tail_head = (c->tail_head + 1) % c->tail_cap;
	}
	if (c->tail[slot] == NULL && (c->tail[slot] = malloc(RH_BT_MAX_LINE + 1)) == NULL)
		return RH_ERR_NOMEM;
	memcpy(c->tail[slot], line, strlen(line) + 1);
	return 0;
}

/* Finish the current line. Empty lines are not lines: a guest's blank
 * lines and cursor jumps carry nothing to classify or show. */
static int end_line(struct rh_bt_console *c, rh_bt_line_fn fn, void *arg)
{
	int rc;

	/* Trailing blanks carry nothing (a prompt's space, padding). */
	while (c->len > 0 && c->line[c->len - 1] == ' ')
		c->len--;
	c->line[c->len] = '\0';
	if (c->len == 0)
		return 0;
	c->len = 0;
	c->lines++;
	if ((rc = tail_push(c, c->line)) < 0)
		return rc;
	return fn != NULL ? fn(c->line, arg) : 0;
}

static int put_char(struct rh_bt_console *c, char ch, rh_bt_line_fn fn, void *arg)
{
	int rc = 0;

	if (c->len == RH_BT_MAX_LINE)
		rc = end_line(c, fn, arg);
	c->line[c->len++] = ch;
	c->line[c->len] = '\0';
	return rc;
}

/* Parse "row;col" of a cursor position sequence (missing = 1). */
static void parse_pos(const char *p, unsigned *row, unsigned *col)
{
	unsigned v[2] = { 0, 0 };
	int k = 0;

	for (; *p && k < 2; p++) {
		if (*p >= '0' && *p <= '9') {
			if (v[k] < 10000)
				v[k] = v[k] * 10 + (unsigned)(*p - '0');
		} else if (*p == ';') {
			k++;
		} else {
			break; /* private or odd parameters: treat as defaults */
		}
	}
	*row = v[0] ? v[0] : 1;
	*col = v[1] ? v[1] : 1;
}

/* Firmware screens are drawn with cursor jumps. A jump to column 1 or to
 * another row starts a new line (a menu line, a countdown redrawn in
 * place); a jump along the same row continues the line (SeaBIOS's serial
 * console repositions the cursor in the middle of words). */
static int cursor_jump(struct rh_bt_console *c, rh_bt_line_fn fn, void *arg)
{
	unsigned row, col;
	int rc = 0;

	parse_pos(c->params, &row, &col);
	if (col <= 1 || (c->h_row != 0 && row != c->h_row))
		rc = end_line(c, fn, arg);
	else if (col - 1 > c->len + 1 && c->len > 0)
		rc = put_char(c, ' ', fn, arg);
	c->h_row = row;
	return rc;
}

int rh_bt_console_feed(struct rh_bt_console *c, const void *buf, size_t len,
		       rh_bt_line_fn fn, void *arg)
{
	const unsigned char *p = buf;
	int rc = 0;

	c->bytes += len;
	for (size_t i = 0; i < len && rc >= 0; i++) {
		unsigned char b = p[i];

		switch (c->st) {
		case ST_TEXT:
			if (b == 0x1b) {
				c->st = ST_ESC;
				c->esc_len = 0;
				c->params[0] = '\0';
			} else if (b == '\n') {
				c->h_row = 0;
				rc = end_line(c, fn, arg);
			} else if (b == '\t') {
				rc = put_char(c, ' ', fn, arg);
			} else if (b >= 0x80) {
				rc = put_char(c, '?', fn, arg);
			} else if (b >= 0x20 && b < 0x7f) {
				rc = put_char(c, (char)b, fn, arg);
			}
			/* CR, BS, BEL and other controls: dropped. */
			break;
		case ST_ESC:
			if (b == '[') {
				c->st = ST_CSI;
			} else if (b == ']') {
				c->st = ST_OSC;
			} else if (b >= 0x20 && b <= 0x2f) {
				/* ESC ( B, ESC # 8, ...: an intermediate then one final byte. */
				c->st = ST_ESC_ARG;
			} else {
				/* ESC c, ESC 7, ESC M ...: two bytes, done. */
				c->st = ST_TEXT;
			}
			break;
		case ST_ESC_ARG:
			c->st = ST_TEXT;
			break;
		case ST_CSI:
			if (b >= 0x40 && b <= 0x7e) {
				c->st = ST_TEXT;
				c->params[c->esc_len] = '\0';
				if (b == 'H' || b == 'f')
					rc = cursor_jump(c, fn, arg);
				else if (b == 'J')
					rc = end_line(c, fn, arg);
			} else if (b >= 0x20 && b <= 0x3f && c->esc_len < ESC_MAX) {
				/* parameter or intermediate byte: keep going */
				c->params[c->esc_len++] = (char)b;
			} else {
				/* Malformed or too long: abandon the sequence. A
				 * control byte (a newline, a new ESC) is still
				 * meant as text: look at it again. */
				c->st = ST_TEXT;
				if (b < 0x20)
					i--;
			}
			break;
		case ST_OSC:
			if (b == 0x07 || ++c->esc_len > ESC_MAX * 4)
				c->st = ST_TEXT;
			else if (b == 0x1b)
				c->st = ST_OSC_ESC;
			break;
		case ST_OSC_ESC:
			/* ESC \ ends the OSC; anything else continues it. */
			c->st = b == '\\' ? ST_TEXT : ST_OSC;
			break;
		}
	}
	return rc;
}

int rh_bt_console_flush(struct rh_bt_console *c, rh_bt_line_fn fn, void *arg)
{
	c->st = ST_TEXT;
	return end_line(c, fn, arg);
}

const char *rh_bt_console_partial(const struct rh_bt_console *c)
{
	return c->len > 0 ? c->line : "";
}

uint64_t rh_bt_console_bytes(const struct rh_bt_console *c)
{
	return c->bytes;
}

uint64_t rh_bt_console_lines(const struct rh_bt_console *c)
{
	return c->lines;
}

size_t rh_bt_console_tail_count(const struct rh_bt_console *c)
{
	return c->tail_n;
}

const char *rh_bt_console_tail_line(const struct rh_bt_console *c, size_t i)
{
	if (i >= c->tail_n)
		return NULL;
	return c->tail[(c->tail_head + i) % c->tail_cap];
}
