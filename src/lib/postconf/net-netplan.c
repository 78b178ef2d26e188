/*
 * netplan (the .yaml files in /etc/netplan): Ubuntu 18.04 and later, some Debian.
 *
 * The source's files are usually written for one NIC by name or by MAC
 * (cloud-init's 50-cloud-init.yaml matches the MAC and sets the name), and
 * neither survives the move. Rather than edit YAML, rehost backs them up,
 * removes them and writes one file that runs DHCP on every Ethernet NIC by
 * name pattern, keeping the source's renderer when it was NetworkManager.
 * With its file alone in the directory, a second run changes nothing.
 */
#define RH_LOG_COMPONENT "postconf"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "postconf/internal.h"
#include "rehost/err.h"
#include "rehost/log.h"

#define NETPLAN_DIR "/etc/netplan"
#define NETPLAN_OURS "50-rehost-dhcp.yaml"

static const char netplan_head[] =
	"# Written by rehost postconf: DHCP on every Ethernet NIC of the KVM\n"
	"# target, whatever name it gets. The source's files are in the\n"
	"# postconf backup directory (/var/backups/rehost-postconf).\n"
	"network:\n"
	"  version: 2\n";
static const char netplan_body[] =
	"  ethernets:\n"
	"    rehost-dhcp:\n"
	"      match:\n"
	"        name: \"e*\"\n"
	"      dhcp4: true\n";

/* "renderer: NetworkManager" anywhere in the file (top level or per
 * device: either way the system runs NetworkManager). */
static bool uses_nm(const char *text, size_t len)
{
	const char *cur = text, *end = text + len, *line;
	size_t n;

	while ((line = pc_next_line(&cur, end, &n)) != NULL) {
		size_t i = strspn(line, " \t");

		if (i < n && n - i >= 9 && memcmp(line + i, "renderer:", 9) == 0) {
			const char *v = line + i + 9;
			size_t vl = n - i - 9;

			while (vl > 0 && (*v == ' ' || *v == '\t' || *v == '"' || *v == '\'')) {
				v++;
				vl--;
			}
			if (vl >= 14 && memcmp(v, "NetworkManager", 14) == 0)
				return true;
		}
	}
	return false;
}

int pc_net_netplan(struct rh_pc *pc)
{
	char **names = NULL, path[PATH_MAX], content[1024];
	size_t n, others = 0;
	bool nm = false, have_ours = false;
	int rc;

	rc = pc_list(pc, NETPLAN_DIR, &names, &n);
	if (rc == RH_ERR_NOTFOUND)
		return 0;
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < n && rc == 0; i++) {
		size_t l = strlen(names[i]);
		char *text = NULL;
		size_t len;

		if (l < 5 || strcmp(names[i] + l - 5, ".yaml") != 0)
			continue;
		if (strcmp(names[i], NETPLAN_OURS) == 0) {
			have_ours = true;
			continue;
		}
		others++;
		snprintf(path, sizeof path, "%s/%s", NETPLAN_DIR, names[i]);
		rc = pc_read(pc, path, PC_MAX_FILE, &text, &len, NULL, NULL);
		if (rc == RH_ERR_NOTFOUND || rc == RH_ERR_INVAL) {
			rc = 0;
			continue;
		}
		if (rc == 0 && uses_nm(text, len))
			nm = true;
		free(text);
	}
	if (rc < 0 || (others == 0 && !have_ours))
		goto out;
	if (others == 0) {
		/* Keep the renderer our file already names. */
		char *text = NULL;
		size_t len;

		if (pc_read(pc, NETPLAN_DIR "/" NETPLAN_OURS, PC_MAX_FILE, &text, &len, NULL,
			    NULL) == 0)
			nm = uses_nm(text, len);
		free(text);
	}
	snprintf(content, sizeof content, "%s%s%s", netplan_head,
		 nm ? "  renderer: NetworkManager\n" : "", netplan_body);
	/* netplan warns about (and newer versions refuse) files others can read. */
	rc = pc_update(pc, NETPLAN_DIR "/" NETPLAN_OURS, content, strlen(content), 0600,
		       have_ours ? "modified" : "created",
		       "DHCP on every Ethernet NIC (match name e*)%s",
		       nm ? ", renderer NetworkManager" : "");
	for (size_t i = 0; i < n && rc >= 0; i++) {
		size_t l = strlen(names[i]);

		if (l < 5 || strcmp(names[i] + l - 5, ".yaml") != 0 ||
		    strcmp(names[i], NETPLAN_OURS) == 0)
			continue;
		snprintf(path, sizeof path, "%s/%s", NETPLAN_DIR, names[i]);
		rc = pc_remove(pc, path, "replaced by %s/%s", NETPLAN_DIR, NETPLAN_OURS);
		if (rc == RH_ERR_INVAL) /* a directory named *.yaml: netplan skips it too */
			rc = 0;
	}
out:
	pc_names_free(names);
	return rc < 0 ? rc : 0;
}
