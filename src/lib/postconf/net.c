/*
 * NIC configuration to DHCP (INVENTORY §5.4 "NIC config", §G item 77).
 *
 * The target's NIC has another MAC address and, often, another name than
 * the source's (eth0 on Xen or VMware may become ens3 or enp1s0 on KVM), so
 * a static address or a configuration tied to a name or MAC would leave the
 * target unreachable. Every configuration system whose files are present is
 * handled, whatever the family says: a Debian system may use
 * NetworkManager, an Ubuntu one ifupdown, and a family that could not be
 * told still gets its files fixed. Each handler is in its own file.
 */
#define RH_LOG_COMPONENT "postconf"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "postconf/internal.h"
#include "rehost/err.h"
#include "rehost/log.h"

const char *const pc_kvm_nic_names[] = { "eth0", "ens3", "enp0s3", "enp1s0", "ens2", "enp0s2",
					 NULL };

bool pc_nic_name_physical(const char *name)
{
	const char *p;

	if (strncmp(name, "eth", 3) == 0 || strncmp(name, "en", 2) == 0)
		return strchr(name, '.') == NULL && strchr(name, ':') == NULL; /* not VLAN/alias */
	if (strncmp(name, "em", 2) == 0 && name[2] >= '0' && name[2] <= '9')
		return strchr(name, '.') == NULL && strchr(name, ':') == NULL;
	/* biosdevname: p<slot>p<port> */
	if (name[0] == 'p' && name[1] >= '0' && name[1] <= '9') {
		p = name + 1 + strspn(name + 1, "0123456789");
		return *p == 'p' && p[1] >= '0' && p[1] <= '9' &&
		       p[1 + strspn(p + 1, "0123456789")] == '\0';
	}
	return false;
}

/* A udev rule that renames a NIC by its MAC: ATTR{address}== (or ATTRS)
 * and an assignment NAME= on one line. */
static bool rule_pins_name(const char *text, size_t len)
{
	const char *cur = text, *end = text + len, *line;
	size_t n;

	while ((line = pc_next_line(&cur, end, &n)) != NULL) {
		const char *p;
		bool addr = false, name = false;

		if (pc_line_is_comment(line, n))
			continue;
		for (p = line; p + 11 <= line + n; p++)
			if (memcmp(p, "{address}==", 11) == 0)
				addr = true;
		for (p = line; p + 5 <= line + n; p++)
			if (memcmp(p, "NAME=", 5) == 0 && (p + 5 == line + n || p[5] != '=') &&
			    (p == line || p[-1] == ' ' || p[-1] == ',' || p[-1] == '\t'))
				name = true;
		if (addr && name)
			return true;
	}
	return false;
}

int pc_net_udev(struct rh_pc *pc)
{
	static const char *const always[] = { "70-persistent-net.rules",
					      "75-persistent-net-generator.rules", NULL };
	char **names = NULL, path[PATH_MAX];
	size_t n;
	int rc;

	rc = pc_list(pc, "/etc/udev/rules.d", &names, &n);
	if (rc == RH_ERR_NOTFOUND)
		return 0;
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < n && rc >= 0; i++) {
		char *text = NULL;
		size_t len;
		size_t nl = strlen(names[i]);

		snprintf(path, sizeof path, "/etc/udev/rules.d/%s", names[i]);
		if (pc_in_list(names[i], nl, always)) {
			rc = pc_remove(pc, path, "persistent NIC names follow the source's MAC addresses");
			continue;
		}
		if (nl < 6 || strcmp(names[i] + nl - 6, ".rules") != 0)
			continue;
		rc = pc_read(pc, path, PC_MAX_FILE, &text, &len, NULL, NULL);
		if (rc == RH_ERR_NOTFOUND || rc == RH_ERR_INVAL) {
			rc = 0; /* dangling symlink, /dev/null mask */
			continue;
		}
		if (rc == 0 && rule_pins_name(text, len))
			rc = pc_remove(pc, path, "names a NIC after the source's MAC address");
		free(text);
	}
	pc_names_free(names);
	return rc < 0 ? rc : 0;
}

int rh_pc_network_dhcp(struct rh_pc *pc)
{
	static int (*const handlers[])(struct rh_pc *) = {
		pc_net_ifupdown, pc_net_netplan, pc_net_networkd, pc_net_ifcfg, pc_net_nm,
		pc_net_udev,
	};

	for (size_t i = 0; i < sizeof handlers / sizeof handlers[0]; i++) {
		int rc = handlers[i](pc);

		if (rc < 0)
			return rc;
	}
	return 0;
}
