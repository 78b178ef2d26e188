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

/* Whether a serial line comes from the booted system rather than the
 * firmware or boot loader: a printk timestamp "[    1.234567]", the
 * kernel banner, initramfs-tools, or systemd's status lines. */
static bool os_line(const char *l)
{
	const char *p = l;

	if (*p == '[') {
		p++;
		while (*p == ' ')
			p++;
		if (*p >= '0' && *p <= '9') {
			while (*p >= '0' && *p <= '9')
				p++;
			if (*p == '.' && p[1] >= '0' && p[1] <= '9')
				return true;
		}
	}
	return strstr(l, "Linux version ") != NULL || strncmp(l, "Loading, please wait", 20) == 0 ||
	       strncmp(l, "Begin: ", 7) == 0 || strncmp(l, "[  OK  ]", 8) == 0 ||
	       strstr(l, "systemd[1]") != NULL;
}

enum rh_bt_state rh_bt_watch_line(struct rh_bt_watch *w, enum rh_bt_source src,
				  const char *line, bool partial)
{
	const struct rh_bt_rule *r;
	size_t idx = 0;

	if (src == RH_BT_SERIAL && !partial) {
		w->serial_lines++;
		if (!w->os_seen && os_line(line))
			w->os_seen = true;
	}
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
