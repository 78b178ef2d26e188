/*
 * systemd-networkd (/etc/systemd/network): .network files with a static
 * address or gateway, or that match a NIC by MAC, are backed up and
 * removed; .link files that name a NIC after its MAC likewise. When any
 * .network file was there (networkd is in use), one file with DHCP for
 * every Ethernet name is written. Other DHCP files stay: networkd uses the
 * first file (in name order) that matches a link, so theirs still apply to
 * the names they match and ours to the rest.
 */
#define RH_LOG_COMPONENT "postconf"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "postconf/internal.h"
#include "rehost/err.h"
#include "rehost/log.h"

#define NWD_DIR "/etc/systemd/network"
#define NWD_OURS "80-rehost-dhcp.network"

static const char nwd_content[] =
	"# Written by rehost postconf: DHCP on every Ethernet NIC of the KVM\n"
	"# target, whatever name it gets.\n"
	"[Match]\n"
	"Name=e*\n"
	"\n"
	"[Network]\n"
	"DHCP=ipv4\n";

/* Why the file must go, or NULL. */
static const char *why_remove(const char *text, size_t len, bool link_file)
{
	const char *cur = text, *end = text + len, *line;
	char section[32] = "", key[64];
	bool mac_match = false, sets_name = false;
	size_t n, voff, vlen;

	while ((line = pc_next_line(&cur, end, &n)) != NULL) {
		if (pc_ini_section(line, n, section, sizeof section))
			continue;
		if (!pc_ini_key(line, n, key, sizeof key, &voff, &vlen) || vlen == 0)
			continue;
		if (strcmp(section, "Match") == 0 &&
		    (strcmp(key, "MACAddress") == 0 || strcmp(key, "PermanentMACAddress") == 0))
			mac_match = true;
		if (link_file) {
			if (strcmp(section, "Link") == 0 && strcmp(key, "Name") == 0)
				sets_name = true;
			continue;
		}
		if (strcmp(section, "Network") == 0 &&
		    (strcmp(key, "Address") == 0 || strcmp(key, "Gateway") == 0))
			return "static address";
		if (strcmp(section, "Address") == 0 && strcmp(key, "Address") == 0)
			return "static address";
	}
	if (link_file)
		return mac_match && sets_name ? "names a NIC after the source's MAC address" : NULL;
	return mac_match ? "matches the source's MAC address" : NULL;
}

static bool has_suffix(const char *s, const char *suf)
{
	size_t n = strlen(s), l = strlen(suf);

	return n > l && strcmp(s + n - l, suf) == 0;
}

int pc_net_networkd(struct rh_pc *pc)
{
	char **names = NULL, path[PATH_MAX];
	size_t n;
	bool networkd = false;
	int rc;

	rc = pc_list(pc, NWD_DIR, &names, &n);
	if (rc == RH_ERR_NOTFOUND)
		return 0;
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < n && rc >= 0; i++) {
		bool link_file = has_suffix(names[i], ".link");
		const char *why;
		char *text = NULL;
		size_t len;

		if ((!link_file && !has_suffix(names[i], ".network")) ||
		    strcmp(names[i], NWD_OURS) == 0 || pc_name_is_backup(names[i]))
			continue;
		if (!link_file)
			networkd = true;
		snprintf(path, sizeof path, "%s/%s", NWD_DIR, names[i]);
		rc = pc_read(pc, path, PC_MAX_FILE, &text, &len, NULL, NULL);
		if (rc == RH_ERR_NOTFOUND || rc == RH_ERR_INVAL) { /* masked (-> /dev/null) */
			rc = 0;
			continue;
		}
		if (rc == 0 && (why = why_remove(text, len, link_file)) != NULL)
			rc = pc_remove(pc, path, "%s", why);
		free(text);
	}
	if (rc >= 0 && networkd)
		rc = pc_update(pc, NWD_DIR "/" NWD_OURS, nwd_content, strlen(nwd_content), 0644,
			       pc_exists(pc, NWD_DIR "/" NWD_OURS) ? "modified" : "created",
			       "DHCP on every Ethernet NIC (Name=e*)");
	pc_names_free(names);
	return rc < 0 ? rc : 0;
}
