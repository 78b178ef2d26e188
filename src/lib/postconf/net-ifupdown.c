/*
 * ifupdown (/etc/network/interfaces and interfaces.d/): Debian, and Ubuntu
 * before netplan.
 *
 * - "iface X inet static" becomes "iface X inet dhcp"; its address-only
 *   options (address, netmask, gateway, ...) are commented out in place.
 *   A second static stanza for a name that already has DHCP (extra
 *   addresses) and "inet6 static" stanzas are commented out whole.
 * - "auto X" for a physical NIC becomes "allow-hotplug X": the name may not
 *   exist on the target, and "auto" would make networking.service fail
 *   there, while allow-hotplug brings the NIC up when udev sees it.
 * - When a physical NIC is configured at all, DHCP stanzas with
 *   allow-hotplug are appended to /etc/network/interfaces for each usual
 *   KVM virtio name (pc_kvm_nic_names) that has no stanza yet, since the
 *   name the target will give the NIC cannot be known here. Names that
 *   never appear cost nothing.
 * Bridges, bonds and VLANs keep their configuration (their ports may need
 * renaming by hand; docs/postconf.md says so).
 */
#define RH_LOG_COMPONENT "postconf"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "postconf/internal.h"
#include "rehost/err.h"
#include "rehost/log.h"

#define IFU_MAX_NAMES 256u
#define IFU_NAME 64u
#define IFU_MAIN "/etc/network/interfaces"
#define IFU_DIR "/etc/network/interfaces.d"

struct names {
	char v[IFU_MAX_NAMES][IFU_NAME];
	size_t n;
};

static bool names_has(const struct names *s, const char *name)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->v[i], name) == 0)
			return true;
	return false;
}

static void names_add(struct names *s, const char *name)
{
	if (s->n < IFU_MAX_NAMES && !names_has(s, name) && strlen(name) < IFU_NAME)
		strcpy(s->v[s->n++], name);
}

struct ifu {
	struct names defined;   /* names with an "iface X inet" stanza */
	struct names dhcp;      /* names with an inet dhcp stanza, during editing */
	bool physical;          /* some physical NIC has a stanza */
};

/* Split up to max blank-separated words of a line into w (each up to
 * IFU_NAME-1 bytes, longer ones truncated). Returns the count. */
static size_t words(const char *s, size_t n, char w[][IFU_NAME], size_t max)
{
	size_t i = 0, k = 0;

	while (k < max) {
		size_t start, l;

		while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r'))
			i++;
		if (i == n)
			break;
		start = i;
		while (i < n && s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
			i++;
		l = i - start < IFU_NAME ? i - start : IFU_NAME - 1;
		memcpy(w[k], s + start, l);
		w[k][l] = '\0';
		k++;
	}
	return k;
}

static bool is_stanza_start(const char *w)
{
	return strcmp(w, "iface") == 0 || strcmp(w, "mapping") == 0 || strcmp(w, "auto") == 0 ||
	       strncmp(w, "allow-", 6) == 0 || strcmp(w, "source") == 0 ||
	       strcmp(w, "source-directory") == 0 || strcmp(w, "rename") == 0 ||
	       strcmp(w, "no-auto-down") == 0 || strcmp(w, "no-scripts") == 0;
}

/* Options that only make sense with a static address. */
static const char *const static_opts[] = { "address", "netmask", "gateway", "broadcast",
					   "network", "pointopoint", "hwaddress",
					   "dns-nameservers", "scope", NULL };

static void scan(struct ifu *st, const char *text, size_t len)
{
	const char *cur = text, *end = text + len, *line;
	char w[4][IFU_NAME];
	size_t n;

	while ((line = pc_next_line(&cur, end, &n)) != NULL) {
		if (pc_line_is_comment(line, n) || words(line, n, w, 4) < 4 ||
		    strcmp(w[0], "iface") != 0 || strcmp(w[2], "inet") != 0 ||
		    strcmp(w[1], "lo") == 0)
			continue;
		names_add(&st->defined, w[1]);
		if (pc_nic_name_physical(w[1]))
			st->physical = true;
	}
}

static int put_commented(struct rh_buf *out, const char *line, size_t n)
{
	size_t ind = strspn(line, " \t");
	int rc;

	if (ind > n)
		ind = n;
	rc = rh_buf_put(out, line, ind);
	if (rc == 0)
		rc = rh_buf_putf(out, "# rehost: ");
	return rc < 0 ? rc : pc_out_line(out, line + ind, n - ind);
}

enum stanza { ST_NONE, ST_DHCP_CONVERTED, ST_COMMENTED, ST_OTHER };

static int edit(struct ifu *st, const char *text, size_t len, struct rh_buf *out,
		struct pc_detail *d)
{
	const char *cur = text, *end = text + len, *line;
	enum stanza state = ST_NONE;
	char w[64][IFU_NAME];
	size_t n;
	int rc = 0;

	while (rc == 0 && (line = pc_next_line(&cur, end, &n)) != NULL) {
		size_t nw;

		if (pc_line_is_comment(line, n)) {
			rc = pc_out_line(out, line, n);
			continue;
		}
		nw = words(line, n, w, 64);
		if (!is_stanza_start(w[0])) {
			if ((state == ST_DHCP_CONVERTED && pc_in_list(w[0], strlen(w[0]), static_opts)) ||
			    state == ST_COMMENTED)
				rc = put_commented(out, line, n);
			else
				rc = pc_out_line(out, line, n);
			continue;
		}
		state = ST_OTHER;
		if (strcmp(w[0], "iface") == 0 && nw >= 4 && strcmp(w[1], "lo") != 0) {
			if (strcmp(w[2], "inet") == 0 && strcmp(w[3], "static") == 0) {
				if (names_has(&st->dhcp, w[1])) {
					state = ST_COMMENTED;
					rc = put_commented(out, line, n);
					pc_detail_add(d, "%s: extra static stanza commented out", w[1]);
				} else {
					state = ST_DHCP_CONVERTED;
					names_add(&st->dhcp, w[1]);
					rc = rh_buf_put(out, line, strspn(line, " \t") < n
									   ? strspn(line, " \t")
									   : n);
					if (rc == 0)
						rc = rh_buf_putf(out, "iface %s inet dhcp\n", w[1]);
					pc_detail_add(d, "%s: static -> dhcp", w[1]);
				}
				continue;
			}
			if (strcmp(w[2], "inet6") == 0 && strcmp(w[3], "static") == 0) {
				state = ST_COMMENTED;
				rc = put_commented(out, line, n);
				pc_detail_add(d, "%s: static IPv6 stanza commented out", w[1]);
				continue;
			}
			if (strcmp(w[2], "inet") == 0 && strcmp(w[3], "dhcp") == 0)
				names_add(&st->dhcp, w[1]);
		}
		if ((strcmp(w[0], "auto") == 0 || strcmp(w[0], "allow-auto") == 0) && nw > 1) {
			char phys[512] = "", other[512] = "";

			for (size_t i = 1; i < nw; i++) {
				char *dst = pc_nic_name_physical(w[i]) ? phys : other;
				size_t l = strlen(dst);

				snprintf(dst + l, 512 - l, "%s%s", l ? " " : "", w[i]);
			}
			if (phys[0]) {
				rc = put_commented(out, line, n);
				if (rc == 0 && other[0])
					rc = rh_buf_putf(out, "%s %s\n", w[0], other);
				if (rc == 0)
					rc = rh_buf_putf(out, "allow-hotplug %s\n", phys);
				pc_detail_add(d, "%s %s -> allow-hotplug", w[0], phys);
				continue;
			}
		}
		rc = pc_out_line(out, line, n);
	}
	return rc;
}

/* Edit one file (and, for the main file, append the fallback stanzas). */
static int fix_file(struct rh_pc *pc, struct ifu *st, const char *path, bool main_file)
{
	struct pc_detail d = { .n = 0 };
	struct rh_buf *out = NULL;
	char *text = NULL;
	size_t len;
	int rc;

	rc = pc_read(pc, path, PC_MAX_FILE, &text, &len, NULL, NULL);
	if (rc == RH_ERR_NOTFOUND)
		return 0;
	if (rc < 0)
		return rc;
	rc = pc_out_new(&out);
	if (rc == 0)
		rc = edit(st, text, len, out, &d);
	if (rc == 0 && main_file && st->physical) {
		bool header = false;

		for (const char *const *nm = pc_kvm_nic_names; *nm && rc == 0; nm++) {
			if (names_has(&st->defined, *nm))
				continue;
			if (!header) {
				rc = rh_buf_putf(out, "%s\n# rehost: DHCP on the names a virtio NIC "
						 "may get on the KVM target\n",
						 rh_buf_len(out) && rh_buf_str(out)[rh_buf_len(out) - 1] == '\n'
							 ? ""
							 : "\n");
				header = true;
			}
			if (rc == 0)
				rc = rh_buf_putf(out, "allow-hotplug %s\niface %s inet dhcp\n", *nm, *nm);
			pc_detail_add(&d, "added DHCP for %s", *nm);
		}
	}
	if (rc == 0 && d.n > 0)
		rc = pc_update(pc, path, rh_buf_str(out), rh_buf_len(out), 0644, "modified", "%s", d.s);
	rh_buf_free(out);
	free(text);
	return rc < 0 ? rc : 0;
}

int pc_net_ifupdown(struct rh_pc *pc)
{
	struct ifu *st;
	char **names = NULL, path[PATH_MAX];
	char *text = NULL;
	size_t n = 0, len;
	int rc;

	if (!pc_exists(pc, IFU_MAIN))
		return 0;
	st = calloc(1, sizeof *st);
	if (st == NULL)
		return RH_ERR_NOMEM;
	rc = pc_list(pc, IFU_DIR, &names, &n);
	if (rc == RH_ERR_NOTFOUND)
		rc = 0;
	if (rc < 0)
		goto out;
	/* Scan everything first: the fallback stanzas must not repeat a name
	 * configured in any file. */
	for (size_t i = 0; i <= n && rc == 0; i++) {
		if (i < n && pc_name_is_backup(names[i]))
			continue;
		if (i < n)
			snprintf(path, sizeof path, "%s/%s", IFU_DIR, names[i]);
		else
			snprintf(path, sizeof path, "%s", IFU_MAIN);
		rc = pc_read(pc, path, PC_MAX_FILE, &text, &len, NULL, NULL);
		if (rc == RH_ERR_NOTFOUND || rc == RH_ERR_INVAL) { /* a subdirectory, a dangling link */
			rc = 0;
			continue;
		}
		if (rc == 0)
			scan(st, text, len);
		free(text);
		text = NULL;
	}
	for (size_t i = 0; i < n && rc == 0; i++) {
		if (pc_name_is_backup(names[i]))
			continue;
		snprintf(path, sizeof path, "%s/%s", IFU_DIR, names[i]);
		rc = fix_file(pc, st, path, false);
		if (rc == RH_ERR_INVAL)
			rc = 0;
	}
	if (rc == 0)
		rc = fix_file(pc, st, IFU_MAIN, true);
out:
	pc_names_free(names);
	free(st);
	return rc;
}
