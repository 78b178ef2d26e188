/*
 * ifcfg files: RHEL-family network-scripts (/etc/sysconfig/network-scripts,
 * also read by NetworkManager's ifcfg-rh plugin) and SUSE wicked/ifup
 * (/etc/sysconfig/network). For each plain Ethernet NIC (not a bridge,
 * bond, VLAN or a port of one):
 * - BOOTPROTO becomes dhcp;
 * - the static address, gateway and DNS settings are dropped, and so are
 *   HWADDR/MACADDR/LLADDR (the target's MAC differs: a profile bound to the
 *   old one would never apply) and UUID (NetworkManager derives one);
 * - its static route files (route-X, route6-X; SUSE ifroute-X) are removed,
 *   and default routes in the global files are commented out.
 * When no file configures eth0, an ifcfg-eth0 with DHCP is added: the name
 * a virtio NIC gets without predictable names (RHEL/CentOS 6, SUSE, cloud
 * kernels with net.ifnames=0); elsewhere NetworkManager's automatic
 * "Wired connection" covers a NIC with a new name.
 */
#define RH_LOG_COMPONENT "postconf"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "postconf/internal.h"
#include "rehost/err.h"
#include "rehost/log.h"

struct flavour {
	const char *name;
	const char *dir;
	const char *q;                      /* quote for values we write */
	const char *const *drop_indexed;    /* KEY, KEY0, KEY_1 ... */
	const char *const *drop;            /* exact keys */
	const char *const *static_protos;   /* BOOTPROTO values meaning static */
	const char *const *route_files;     /* per-NIC route file prefixes */
	const char *fallback;               /* content of ifcfg-eth0 */
};

static const char *const rhel_indexed[] = { "IPADDR", "NETMASK", "PREFIX", "GATEWAY", "DNS",
					    "IPV6ADDR", NULL };
static const char *const rhel_drop[] = { "HWADDR", "MACADDR", "UUID", "NETWORK", "BROADCAST",
					 "PEERDNS", "IPV6ADDR_SECONDARIES", "IPV6_DEFAULTGW",
					 NULL };
static const char *const rhel_static[] = { "static", "none", "", NULL };
static const char *const rhel_routes[] = { "route-", "route6-", NULL };

static const char *const suse_indexed[] = { "IPADDR", "NETMASK", "PREFIXLEN", "BROADCAST",
					    "NETWORK", "REMOTE_IPADDR", NULL };
static const char *const suse_drop[] = { "LLADDR", NULL };
static const char *const suse_static[] = { "static", "", NULL };
static const char *const suse_routes[] = { "ifroute-", NULL };

static const struct flavour flavours[] = {
	{ "RHEL", "/etc/sysconfig/network-scripts", "", rhel_indexed, rhel_drop, rhel_static,
	  rhel_routes,
	  "# Written by rehost postconf: DHCP on the first virtio NIC of the KVM target.\n"
	  "DEVICE=eth0\nTYPE=Ethernet\nBOOTPROTO=dhcp\nONBOOT=yes\n" },
	{ "SUSE", "/etc/sysconfig/network", "'", suse_indexed, suse_drop, suse_static,
	  suse_routes,
	  "# Written by rehost postconf: DHCP on the first virtio NIC of the KVM target.\n"
	  "BOOTPROTO='dhcp'\nSTARTMODE='auto'\n" },
};

/* KEY, KEY0, KEY_1, KEY_SECONDARIES... or an exact key. */
static bool key_dropped(const struct flavour *f, const char *key)
{
	for (const char *const *k = f->drop_indexed; *k; k++) {
		size_t l = strlen(*k);

		if (strncmp(key, *k, l) == 0 &&
		    (key[l] == '\0' || (key[l] >= '0' && key[l] <= '9') || key[l] == '_'))
			return true;
	}
	return pc_in_list(key, strlen(key), f->drop);
}

/* A plain Ethernet NIC configuration, by its variables. */
struct ifcfg_info {
	bool plain;
	bool has_bootproto;
	bool static_proto;
	bool drops;
	char device[64];
};

static void inspect(const struct flavour *f, const char *text, size_t len,
		    struct ifcfg_info *in)
{
	const char *cur = text, *end = text + len, *line;
	char name[64], val[256];
	size_t n, off;

	in->plain = true;
	while ((line = pc_next_line(&cur, end, &n)) != NULL) {
		bool lit;

		if (!pc_shvar_name(line, n, name, sizeof name, &off))
			continue;
		lit = pc_shvar_value(line + off, n - off, val, sizeof val);
		if (key_dropped(f, name))
			in->drops = true;
		if (strcmp(name, "BOOTPROTO") == 0) {
			in->has_bootproto = true;
			in->static_proto = lit && pc_in_list(val, strlen(val), f->static_protos);
		} else if (strcmp(name, "DEVICE") == 0 && lit) {
			snprintf(in->device, sizeof in->device, "%.63s", val);
		} else if (f->q[0] == '\0') {
			/* RHEL */
			if ((strcmp(name, "TYPE") == 0 && lit && strcmp(val, "Ethernet") != 0) ||
			    (strcmp(name, "MASTER") == 0 && lit && val[0]) ||
			    (strcmp(name, "SLAVE") == 0 && lit && strcmp(val, "yes") == 0) ||
			    (strcmp(name, "BRIDGE") == 0 && lit && val[0]))
				in->plain = false;
		} else {
			/* SUSE */
			if (((strcmp(name, "BRIDGE") == 0 || strcmp(name, "BONDING_MASTER") == 0) &&
			     lit && strcmp(val, "yes") == 0) ||
			    ((strcmp(name, "ETHERDEVICE") == 0 || strcmp(name, "TUNNEL") == 0) &&
			     lit && val[0]))
				in->plain = false;
		}
	}
}

static int convert(struct rh_pc *pc, const struct flavour *f, const char *path,
		   const char *text, size_t len)
{
	const char *cur = text, *end = text + len, *line;
	struct pc_detail d = { .n = 0 }, dropped = { .n = 0, .sep = ", " };
	struct rh_buf *out = NULL;
	char name[64], val[256];
	bool seen_proto = false;
	size_t n, off;
	int rc = pc_out_new(&out);

	while (rc == 0 && (line = pc_next_line(&cur, end, &n)) != NULL) {
		if (!pc_shvar_name(line, n, name, sizeof name, &off)) {
			rc = pc_out_line(out, line, n);
			continue;
		}
		if (key_dropped(f, name)) {
			pc_detail_add(&dropped, "%s", name);
			continue;
		}
		if (strcmp(name, "BOOTPROTO") == 0) {
			bool lit = pc_shvar_value(line + off, n - off, val, sizeof val);

			seen_proto = true;
			if (lit && pc_in_list(val, strlen(val), f->static_protos)) {
				rc = rh_buf_putf(out, "BOOTPROTO=%sdhcp%s\n", f->q, f->q);
				pc_detail_add(&d, "BOOTPROTO %s -> dhcp", val[0] ? val : "(empty)");
				continue;
			}
		}
		rc = pc_out_line(out, line, n);
	}
	if (rc == 0 && !seen_proto) {
		rc = rh_buf_putf(out, "BOOTPROTO=%sdhcp%s\n", f->q, f->q);
		pc_detail_add(&d, "BOOTPROTO=dhcp added");
	}
	if (dropped.n)
		pc_detail_add(&d, "dropped %s", dropped.s);
	if (rc == 0)
		rc = pc_update(pc, path, rh_buf_str(out), rh_buf_len(out), 0644, "modified", "%s", d.s);
	rh_buf_free(out);
	return rc < 0 ? rc : 0;
}

/* Comment out "default" routes (SUSE routes file) or GATEWAY/GATEWAYDEV
 * (RHEL /etc/sysconfig/network): with DHCP the router comes from the
 * server, and a stale static one would win. */
static int global_gateway(struct rh_pc *pc, const char *path, bool suse)
{
	struct rh_buf *out = NULL;
	struct pc_detail d = { .n = 0 };
	const char *cur, *end, *line;
	char *text = NULL, name[64];
	size_t len, n, off;
	int rc;

	rc = pc_read(pc, path, PC_MAX_FILE, &text, &len, NULL, NULL);
	if (rc == RH_ERR_NOTFOUND || rc == RH_ERR_INVAL)
		return 0;
	if (rc < 0)
		return rc;
	rc = pc_out_new(&out);
	cur = text;
	end = text + len;
	while (rc == 0 && (line = pc_next_line(&cur, end, &n)) != NULL) {
		bool drop;

		if (suse) {
			size_t i = strspn(line, " \t");

			drop = i + 7 < n && memcmp(line + i, "default", 7) == 0 &&
			       (line[i + 7] == ' ' || line[i + 7] == '\t');
		} else {
			drop = pc_shvar_name(line, n, name, sizeof name, &off) &&
			       (strcmp(name, "GATEWAY") == 0 || strcmp(name, "GATEWAYDEV") == 0);
		}
		if (drop) {
			pc_detail_add(&d, "%.*s", (int)(n > 80 ? 80 : n), line);
			rc = rh_buf_putf(out, "# rehost: ");
		}
		if (rc == 0)
			rc = pc_out_line(out, line, n);
	}
	if (rc == 0 && d.n)
		rc = pc_update(pc, path, rh_buf_str(out), rh_buf_len(out), 0644, "commented",
			       "static default route commented out: %s", d.s);
	rh_buf_free(out);
	free(text);
	return rc < 0 ? rc : 0;
}

static int fix_flavour(struct rh_pc *pc, const struct flavour *f)
{
	char **names = NULL, path[PATH_MAX];
	size_t n;
	bool any = false, eth0 = false;
	int rc;

	rc = pc_list(pc, f->dir, &names, &n);
	if (rc == RH_ERR_NOTFOUND)
		return 0;
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < n && rc >= 0; i++) {
		struct ifcfg_info in = { .plain = true };
		const char *ifname = names[i] + 6;
		char *text = NULL;
		size_t len;

		if (strncmp(names[i], "ifcfg-", 6) != 0 || strcmp(ifname, "lo") == 0 ||
		    pc_name_is_backup(names[i]) || strstr(names[i], "-range") != NULL)
			continue;
		snprintf(path, sizeof path, "%s/%s", f->dir, names[i]);
		rc = pc_read(pc, path, PC_MAX_FILE, &text, &len, NULL, NULL);
		if (rc == RH_ERR_NOTFOUND || rc == RH_ERR_INVAL) {
			rc = 0;
			continue;
		}
		if (rc < 0)
			break;
		inspect(f, text, len, &in);
		if (strcmp(ifname, "eth0") == 0 || strcmp(in.device, "eth0") == 0)
			eth0 = true;
		if (in.plain && (strcmp(in.device, "lo") != 0)) {
			any = true;
			if (in.static_proto || !in.has_bootproto || in.drops) {
				rc = convert(pc, f, path, text, len);
				for (const char *const *r = f->route_files; *r && rc >= 0; r++) {
					snprintf(path, sizeof path, "%s/%s%s", f->dir, *r, ifname);
					rc = pc_remove(pc, path, "static routes of %s, now on DHCP",
						       ifname);
				}
			}
		}
		free(text);
	}
	pc_names_free(names);
	if (rc < 0)
		return rc;
	if (any && !eth0) {
		snprintf(path, sizeof path, "%s/ifcfg-eth0", f->dir);
		rc = pc_update(pc, path, f->fallback, strlen(f->fallback), 0644, "created",
			       "DHCP for eth0, the name a virtio NIC gets without predictable names");
		if (rc < 0)
			return rc;
	}
	if (any)
		rc = global_gateway(pc, f->q[0] ? "/etc/sysconfig/network/routes"
						: "/etc/sysconfig/network",
				    f->q[0] != '\0');
	return rc < 0 ? rc : 0;
}

int pc_net_ifcfg(struct rh_pc *pc)
{
	/* Both: /etc/sysconfig/network is a file on RHEL (pc_list finds no
	 * directory there) and a directory on SUSE. */
	for (size_t i = 0; i < sizeof flavours / sizeof flavours[0]; i++) {
		int rc = fix_flavour(pc, &flavours[i]);

		if (rc < 0)
			return rc;
	}
	return 0;
}
