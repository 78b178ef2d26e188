/*
 * Small fix-ups of INVENTORY §5.4 (§G item 79): SELinux relabel, motd and
 * xorg.conf.
 */
#define RH_LOG_COMPONENT "postconf"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "postconf/internal.h"
#include "rehost/err.h"
#include "rehost/log.h"

/* Files copied file by file (file-level migration) carry no SELinux
 * labels, and a block copy may have been touched by this very fix-up: on a
 * system that enforces (or logs) SELinux, relabel at first boot. The seed
 * does it on RHEL/CentOS/Oracle; any family with SELinux on needs it. */
int rh_pc_selinux_relabel(struct rh_pc *pc)
{
	const char *cur, *end, *line;
	char *text = NULL, name[32], val[64], mode[64] = "";
	size_t len, n, off;
	int rc;

	rc = pc_read(pc, "/etc/selinux/config", 65536, &text, &len, NULL, NULL);
	if (rc == RH_ERR_NOTFOUND)
		return 0;
	if (rc < 0)
		return rc;
	cur = text;
	end = text + len;
	while ((line = pc_next_line(&cur, end, &n)) != NULL)
		if (pc_shvar_name(line, n, name, sizeof name, &off) && strcmp(name, "SELINUX") == 0 &&
		    pc_shvar_value(line + off, n - off, val, sizeof val))
			snprintf(mode, sizeof mode, "%s", val);
	free(text);
	if (strcasecmp(mode, "enforcing") != 0 && strcasecmp(mode, "permissive") != 0)
		return 0;
	rc = pc_touch(pc, "/.autorelabel", 0644, "SELinux is %s: relabel the filesystems at "
		      "first boot", mode);
	return rc < 0 ? rc : 0;
}

/* The source's message of the day (often the source cloud's banner) does
 * not describe the target. A symlink is followed inside the root; one that
 * leads nowhere there (Ubuntu's /run/motd.dynamic) is left alone. */
int rh_pc_motd(struct rh_pc *pc)
{
	struct stat st;
	int rc = pc_stat(pc, "/etc/motd", true, &st, NULL);

	if (rc == RH_ERR_NOTFOUND)
		return 0;
	if (rc < 0)
		return rc;
	if (!S_ISREG(st.st_mode) || st.st_size == 0)
		return 0;
	rc = pc_update(pc, "/etc/motd", "", 0, 0644, "modified", "emptied");
	return rc < 0 ? rc : 0;
}

/* Drivers that work on the display a KVM guest has (std VGA, QXL, virtio
 * GPU, Cirrus, or none). Any other names hardware of the source. */
static const char *const generic_drivers[] = { "modesetting", "fbdev", "vesa", "qxl", "cirrus",
					       "virtio", NULL };

/* Word n of a line, unquoted, into out. */
static bool xorg_word(const char *s, size_t len, unsigned n, char *out, size_t outlen)
{
	size_t i = 0;

	for (unsigned k = 0;; k++) {
		size_t start, l;
		bool q;

		while (i < len && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r'))
			i++;
		if (i == len || s[i] == '#')
			return false;
		q = s[i] == '"';
		if (q)
			i++;
		start = i;
		while (i < len && (q ? s[i] != '"' : (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')))
			i++;
		l = i - start;
		if (q && i < len)
			i++;
		if (k == n) {
			if (l >= outlen)
				l = outlen - 1;
			memcpy(out, s + start, l);
			out[l] = '\0';
			return true;
		}
	}
}

int rh_pc_xorg(struct rh_pc *pc)
{
	static const char path[] = "/etc/X11/xorg.conf";
	const char *cur, *end, *line;
	struct pc_detail d = { .n = 0 };
	struct rh_buf *out = NULL;
	char *text = NULL, w0[64], w1[64];
	bool in_device = false;
	size_t len, n;
	int rc;

	rc = pc_read(pc, path, PC_MAX_FILE, &text, &len, NULL, NULL);
	if (rc == RH_ERR_NOTFOUND)
		return 0;
	if (rc < 0)
		return rc;
	rc = pc_out_new(&out);
	cur = text;
	end = text + len;
	while (rc == 0 && (line = pc_next_line(&cur, end, &n)) != NULL) {
		if (!xorg_word(line, n, 0, w0, sizeof w0)) {
			rc = pc_out_line(out, line, n);
			continue;
		}
		if (strcasecmp(w0, "Section") == 0 && xorg_word(line, n, 1, w1, sizeof w1))
			in_device = strcasecmp(w1, "Device") == 0;
		else if (strcasecmp(w0, "EndSection") == 0)
			in_device = false;
		if (in_device && strcasecmp(w0, "Driver") == 0 && xorg_word(line, n, 1, w1, sizeof w1) &&
		    !pc_in_list(w1, strlen(w1), generic_drivers)) {
			size_t ind = strspn(line, " \t");

			rc = rh_buf_put(out, line, ind < n ? ind : n);
			if (rc == 0)
				rc = rh_buf_putf(out, "Driver \"modesetting\" # rehost: was %s\n", w1);
			pc_detail_add(&d, "Driver %s -> modesetting", w1);
			continue;
		}
		/* The old card's PCI address means nothing on the target. */
		if (in_device && strcasecmp(w0, "BusID") == 0) {
			size_t ind = strspn(line, " \t");

			rc = rh_buf_put(out, line, ind < n ? ind : n);
			if (rc == 0)
				rc = rh_buf_putf(out, "# rehost: ");
			if (rc == 0)
				rc = pc_out_line(out, line + (ind < n ? ind : n), n - (ind < n ? ind : n));
			pc_detail_add(&d, "BusID commented out");
			continue;
		}
		rc = pc_out_line(out, line, n);
	}
	if (rc == 0 && d.n > 0) {
		/* The seed keeps the original beside it as xorg.conf.bak. */
		if (!pc_exists(pc, "/etc/X11/xorg.conf.bak")) {
			rc = pc_update(pc, "/etc/X11/xorg.conf.bak", text, len, 0644, "created",
				       "copy of the source's xorg.conf");
		}
		if (rc >= 0)
			rc = pc_update(pc, path, rh_buf_str(out), rh_buf_len(out), 0644, "modified", "%s",
				       d.s);
	}
	rh_buf_free(out);
	free(text);
	return rc < 0 ? rc : 0;
}
