/*
 * NetworkManager keyfiles (/etc/NetworkManager/system-connections): RHEL 9
 * and later, Fedora, desktops of every family. For each Ethernet profile:
 * - [ipv4]/[ipv6] method=manual becomes method=auto, and the static
 *   addresses, gateway, DNS servers and routes are dropped;
 * - interface-name= and the [ethernet] mac-address= are dropped, so the
 *   profile applies to the target's NIC whatever its name and MAC.
 * NetworkManager ignores a keyfile others can read; pc_write keeps the
 * file's mode (0600) and owner.
 */
#define RH_LOG_COMPONENT "postconf"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "postconf/internal.h"
#include "rehost/err.h"
#include "rehost/log.h"

#define NM_DIR "/etc/NetworkManager/system-connections"

/* Keys of [ipv4]/[ipv6] that belong to a static configuration: address1,
 * addresses, gateway, dns, route1, route1_options... */
static bool ip_key_dropped(const char *key)
{
	static const char *const indexed[] = { "address", "addresses", "route", "routes", NULL };
	static const char *const exact[] = { "gateway", "dns", "ignore-auto-dns", NULL };

	for (const char *const *k = indexed; *k; k++) {
		size_t l = strlen(*k);

		if (strncmp(key, *k, l) == 0 &&
		    (key[l] == '\0' || (key[l] >= '0' && key[l] <= '9') || key[l] == '_'))
			return true;
	}
	return pc_in_list(key, strlen(key), exact);
}

static bool is_ethernet(const char *text, size_t len)
{
	const char *cur = text, *end = text + len, *line;
	char section[64] = "", key[64];
	size_t n, voff, vlen;

	while ((line = pc_next_line(&cur, end, &n)) != NULL) {
		if (pc_ini_section(line, n, section, sizeof section))
			continue;
		if (strcmp(section, "connection") == 0 &&
		    pc_ini_key(line, n, key, sizeof key, &voff, &vlen) && strcmp(key, "type") == 0)
			return (vlen == 8 && memcmp(line + voff, "ethernet", 8) == 0) ||
			       (vlen == 14 && memcmp(line + voff, "802-3-ethernet", 14) == 0);
	}
	return false;
}

static int fix_profile(struct rh_pc *pc, const char *path, const char *text, size_t len)
{
	const char *cur = text, *end = text + len, *line;
	struct pc_detail d = { .n = 0 }, dropped = { .n = 0, .sep = ", " };
	char section[64] = "", key[64];
	struct rh_buf *out = NULL;
	size_t n, voff, vlen;
	int rc = pc_out_new(&out);

	while (rc == 0 && (line = pc_next_line(&cur, end, &n)) != NULL) {
		bool ip;

		if (pc_ini_section(line, n, section, sizeof section) ||
		    !pc_ini_key(line, n, key, sizeof key, &voff, &vlen)) {
			rc = pc_out_line(out, line, n);
			continue;
		}
		ip = strcmp(section, "ipv4") == 0 || strcmp(section, "ipv6") == 0;
		if ((strcmp(section, "connection") == 0 && strcmp(key, "interface-name") == 0) ||
		    ((strcmp(section, "ethernet") == 0 || strcmp(section, "802-3-ethernet") == 0) &&
		     strcmp(key, "mac-address") == 0) ||
		    (ip && ip_key_dropped(key))) {
			pc_detail_add(&dropped, "%s.%s", section, key);
			continue;
		}
		if (ip && strcmp(key, "method") == 0 && vlen == 6 &&
		    memcmp(line + voff, "manual", 6) == 0) {
			rc = rh_buf_putf(out, "method=auto\n");
			pc_detail_add(&d, "%s manual -> auto", section);
			continue;
		}
		rc = pc_out_line(out, line, n);
	}
	if (dropped.n)
		pc_detail_add(&d, "dropped %s", dropped.s);
	if (rc == 0 && d.n)
		rc = pc_update(pc, path, rh_buf_str(out), rh_buf_len(out), 0600, "modified", "%s", d.s);
	rh_buf_free(out);
	return rc < 0 ? rc : 0;
}

int pc_net_nm(struct rh_pc *pc)
{
	char **names = NULL, path[PATH_MAX];
	size_t n;
	int rc;

	rc = pc_list(pc, NM_DIR, &names, &n);
	if (rc == RH_ERR_NOTFOUND)
		return 0;
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < n && rc >= 0; i++) {
		char *text = NULL;
		size_t len;

		if (pc_name_is_backup(names[i]))
			continue;
		snprintf(path, sizeof path, "%s/%s", NM_DIR, names[i]);
		rc = pc_read(pc, path, PC_MAX_FILE, &text, &len, NULL, NULL);
		if (rc == RH_ERR_NOTFOUND || rc == RH_ERR_INVAL) {
			rc = 0;
			continue;
		}
		if (rc == 0 && is_ethernet(text, len))
			rc = fix_profile(pc, path, text, len);
		free(text);
	}
	pc_names_free(names);
	return rc < 0 ? rc : 0;
}
