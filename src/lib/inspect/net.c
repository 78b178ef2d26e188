/*
 * The default-gateway NIC (SMS.0410): its name from /proc/net/route, its
 * IPv4 address from /proc/net/fib_trie (the local /32 entries, matched to
 * the NIC through the connected routes), its MAC from
 * /sys/class/net/IFACE/address. The [linux] network_dev, network_macaddr
 * and network_ipaddr settings override what is found.
 */
#define RH_LOG_COMPONENT "inspect"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "inspect/internal.h"
#include "rehost/checked.h"
#include "rehost/config.h"
#include "rehost/err.h"
#include "rehost/log.h"

#define RTF_UP_ 0x0001
#define RTF_GATEWAY_ 0x0002
#define MAX_ROUTES 4096

struct route {
	char iface[32];
	uint32_t dest, gw, mask; /* network byte order, as in the file */
	unsigned flags, metric;
};

static int read_routes(const struct inv_root *r, struct route **out, size_t *n)
{
	char *text = NULL, *cur, *line;
	struct route *rt = NULL;
	size_t cnt = 0;
	int rc;

	*out = NULL;
	*n = 0;
	rc = root_read(r, "/proc/net/route", INV_MAX_FILE, &text, NULL);
	if (rc < 0)
		return rc == RH_ERR_NOTFOUND ? 0 : rc;
	rt = calloc(MAX_ROUTES, sizeof *rt);
	if (rt == NULL) {
		free(text);
		return RH_ERR_NOMEM;
	}
	cur = text;
	text_next_line(&cur); /* header */
	while ((line = text_next_line(&cur)) != NULL && cnt < MAX_ROUTES) {
		struct route *e = &rt[cnt];
		unsigned refcnt, use;

		if (sscanf(line, "%31s %x %x %x %u %u %u %x", e->iface, &e->dest, &e->gw,
			   &e->flags, &refcnt, &use, &e->metric, &e->mask) != 8)
			continue;
		cnt++;
	}
	free(text);
	*out = rt;
	*n = cnt;
	return 0;
}

/* Local IPv4 addresses: "|-- 192.0.2.2" followed by "/32 host LOCAL". */
static size_t read_local_addrs(const struct inv_root *r, uint32_t *addrs, size_t max)
{
	char *text = NULL, *cur, *line;
	uint32_t last = 0;
	bool have_last = false;
	size_t n = 0;

	if (root_read(r, "/proc/net/fib_trie", INV_MAX_FILE, &text, NULL) < 0)
		return 0;
	cur = text;
	while ((line = text_next_line(&cur)) != NULL) {
		char *t = text_trim(line);
		struct in_addr a;

		if (strncmp(t, "|-- ", 4) == 0) {
			have_last = inet_pton(AF_INET, t + 4, &a) == 1;
			last = a.s_addr;
		} else if (have_last && strstr(t, "/32 host LOCAL") != NULL) {
			bool dup = false;

			for (size_t i = 0; i < n; i++)
				dup = dup || addrs[i] == last;
			if (!dup && n < max && (ntohl(last) >> 24) != 127)
				addrs[n++] = last;
			have_last = false;
		}
	}
	free(text);
	return n;
}

static const char *addr_for_iface(struct rh_inventory *inv, const struct route *rt, size_t nrt,
				  const uint32_t *addrs, size_t naddrs, const char *iface)
{
	char buf[INET_ADDRSTRLEN];

	for (size_t i = 0; i < naddrs; i++) {
		for (size_t j = 0; j < nrt; j++) {
			const struct route *e = &rt[j];

			if (strcmp(e->iface, iface) != 0 || e->mask == 0 || (e->flags & RTF_GATEWAY_))
				continue;
			if ((addrs[i] & e->mask) == (e->dest & e->mask)) {
				struct in_addr a = { .s_addr = addrs[i] };

				inet_ntop(AF_INET, &a, buf, sizeof buf);
				return inv_strdup(inv, buf);
			}
		}
	}
	return NULL;
}

int net_collect(struct rh_inventory *inv, const struct inv_root *r)
{
	const char *dev = rh_config_str(inv_config(inv), "linux", "network_dev");
	const char *mac = rh_config_str(inv_config(inv), "linux", "network_macaddr");
	const char *ip = rh_config_str(inv_config(inv), "linux", "network_ipaddr");
	struct inv_net *net = &inv->net;
	struct route *rt = NULL;
	uint32_t addrs[64];
	size_t nrt = 0, naddrs;
	const struct route *best = NULL;
	int rc;

	rc = read_routes(r, &rt, &nrt);
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < nrt; i++) {
		const struct route *e = &rt[i];

		if (e->dest != 0 || e->mask != 0 || !(e->flags & RTF_UP_) || !(e->flags & RTF_GATEWAY_))
			continue;
		rc = strv_add(inv, &net->default_ifaces, e->iface);
		if (rc < 0)
			goto out;
		if (best == NULL || e->metric < best->metric)
			best = e;
	}
	net->ndefault = (unsigned)net->default_ifaces.n;
	if (best != NULL) {
		char buf[INET_ADDRSTRLEN];
		struct in_addr a = { .s_addr = best->gw };

		net->iface = inv_strdup(inv, best->iface);
		inet_ntop(AF_INET, &a, buf, sizeof buf);
		net->gateway = inv_strdup(inv, buf);
		net->source = "route";
	}
	if (dev != NULL && *dev) {
		net->iface = inv_strdup(inv, dev);
		net->source = "config";
	}
	if (net->iface != NULL) {
		naddrs = read_local_addrs(r, addrs, RH_ARRAY_SIZE(addrs));
		net->ip = addr_for_iface(inv, rt, nrt, addrs, naddrs, net->iface);
		if (strchr(net->iface, '/') == NULL && strstr(net->iface, "..") == NULL) {
			char path[128];

			snprintf(path, sizeof path, "/sys/class/net/%s/address", net->iface);
			net->mac = root_read_line(inv, r, path);
		}
	}
	if (mac != NULL && *mac) {
		/* The seed writes MACs dash-separated; show them the usual way. */
		char *m = strdup(mac);

		if (m == NULL) {
			rc = RH_ERR_NOMEM;
			goto out;
		}
		for (char *p = m; *p; p++)
			*p = *p == '-' ? ':' : (char)tolower((unsigned char)*p);
		net->mac = inv_strdup(inv, m);
		free(m);
		net->source = "config";
	}
	if (ip != NULL && *ip) {
		net->ip = inv_strdup(inv, ip);
		net->source = "config";
	}
	rc = 0;
out:
	free(rt);
	return rc;
}
