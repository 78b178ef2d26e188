/*
 * Watcher: cleaned console lines in, a verdict out. Kept apart from the
 * QEMU runner so that the decisions can be tested on recorded consoles.
 */
#include <stdio.h>
#include <string.h>

#include "rehost/boottest.h"

void rh_bt_watch_init(struct rh_bt_watch *w, const struct rh_bt_rules *rules)
{
	memset(w, 0, sizeof *w);
	w->rules = rules != NULL ? rules : rh_bt_rules_builtin();
}

static void copy_line(char *dst, const char *src)
{
	snprintf(dst, RH_BT_MAX_LINE + 1, "%s", src);
}

enum rh_bt_state rh_bt_watch_line(struct rh_bt_watch *w, enum rh_bt_source src,
				  const char *line, bool partial)
{
	const struct rh_bt_rule *r;
	size_t idx = 0;

	if (src == RH_BT_SERIAL && !partial)
		w->serial_lines++;
	if (w->state == RH_BT_LOGIN)
		return w->state;
	if (src == RH_BT_SCREEN && strstr(line, "Booting from Hard Disk") != NULL)
		w->firmware_booted_disk = true;
	/* Only the guest's ttyS0 counts for a login prompt. */
	if (src == RH_BT_SERIAL && w->state == RH_BT_PENDING && rh_bt_is_login_prompt(line)) {
		copy_line(w->login_line, line);
		w->state = RH_BT_LOGIN;
		return w->state;
	}
	r = rh_bt_rules_match(w->rules, line, &idx);
	if (r == NULL)
		return w->state;
	if (!r->fatal) {
		if (w->state == RH_BT_PENDING) {
			w->hint = r;
			w->hint_source = src;
			copy_line(w->hint_line, line);
		}
		return w->state;
	}
	if (w->state == RH_BT_PENDING || idx < w->fatal_index) {
		w->state = RH_BT_FATAL;
		w->fatal = r;
		w->fatal_index = idx;
		w->fatal_source = src;
		copy_line(w->fatal_line, line);
	}
	return w->state;
}
