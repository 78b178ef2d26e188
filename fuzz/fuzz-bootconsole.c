/* Fuzz the boot-test console line buffer and the watcher: any bytes a
 * guest prints, in any split into reads, give bounded printable lines,
 * the same lines for every split, and a verdict without crashing. */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rehost/boottest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct seen {
	struct rh_bt_watch w;
	uint64_t hash, lines;
};

static int on_line(const char *line, void *arg)
{
	struct seen *s = arg;
	size_t l = strlen(line);

	assert(l > 0 && l <= RH_BT_MAX_LINE);
	assert(line[l - 1] != ' ');
	for (size_t i = 0; i < l; i++) {
		assert(line[i] >= 0x20 && line[i] < 0x7f);
		s->hash = (s->hash ^ (unsigned char)line[i]) * 1099511628211u;
	}
	s->hash = (s->hash ^ '\n') * 1099511628211u;
	s->lines++;
	rh_bt_watch_line(&s->w, RH_BT_SERIAL, line, false);
	return 0;
}

static void run(const uint8_t *data, size_t size, size_t chunk, struct seen *s)
{
	struct rh_bt_console *c = NULL;

	memset(s, 0, sizeof *s);
	rh_bt_watch_init(&s->w, NULL);
	assert(rh_bt_console_new(8, &c) == 0);
	for (size_t off = 0; off < size; off += chunk) {
		size_t n = size - off < chunk ? size - off : chunk;

		assert(rh_bt_console_feed(c, data + off, n, on_line, s) == 0);
		rh_bt_watch_line(&s->w, RH_BT_SCREEN, rh_bt_console_partial(c), true);
		assert(strlen(rh_bt_console_partial(c)) <= RH_BT_MAX_LINE);
	}
	assert(rh_bt_console_flush(c, on_line, s) == 0);
	assert(rh_bt_console_bytes(c) == size);
	assert(rh_bt_console_lines(c) == s->lines);
	assert(rh_bt_console_tail_count(c) <= 8);
	assert(rh_bt_console_tail_count(c) == (s->lines < 8 ? s->lines : 8));
	for (size_t i = 0; i < rh_bt_console_tail_count(c); i++)
		assert(strlen(rh_bt_console_tail_line(c, i)) <= RH_BT_MAX_LINE);
	assert(s->w.state != RH_BT_FATAL || s->w.fatal != NULL);
	rh_bt_console_free(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct seen whole, split;
	size_t chunk;

	if (size == 0)
		return 0;
	/* The first byte picks the read size for the second pass. */
	chunk = (size_t)data[0] % 17 + 1;
	run(data + 1, size - 1, size, &whole);
	run(data + 1, size - 1, chunk, &split);
	assert(whole.hash == split.hash && whole.lines == split.lines);
	return 0;
}
