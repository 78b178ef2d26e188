/*
 * rh_inspect_run(): collect the inventory in a fixed order (system, OS,
 * mounts, network, tools, boot, disks), link volumes to mounts, then run
 * the checks. Also the small allocation helpers shared by the module.
 */
#define RH_LOG_COMPONENT "inspect"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "inspect/internal.h"
#include "rehost/checked.h"
#include "rehost/err.h"
#include "rehost/log.h"

struct arena_block {
	struct arena_block *next;
	size_t used, cap;
	char data[];
};

#define ARENA_BLOCK 16384u

static void *arena_alloc(struct rh_inventory *inv, size_t n)
{
	struct arena_block *b = inv->arena;
	void *p;

	n = (n + 15) & ~(size_t)15;
	if (b == NULL || b->cap - b->used < n) {
		size_t cap = RH_MAX((size_t)ARENA_BLOCK, n);

		if (inv->arena_total + cap > INV_MAX_ARENA) {
			rh_seterr(RH_ERR_TOOBIG, "inventory larger than %u bytes", INV_MAX_ARENA);
			return NULL;
		}
		b = malloc(sizeof *b + cap);
		if (b == NULL) {
			rh_seterr(RH_ERR_NOMEM, "out of memory");
			return NULL;
		}
		b->next = inv->arena;
		b->used = 0;
		b->cap = cap;
		inv->arena = b;
		inv->arena_total += cap;
	}
	p = b->data + b->used;
	b->used += n;
	return p;
}

const char *inv_strndup(struct rh_inventory *inv, const char *s, size_t n)
{
	char *p;

	if (s == NULL)
		return NULL;
	n = strnlen(s, n);
	p = arena_alloc(inv, n + 1);
	if (p == NULL)
		return NULL;
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

const char *inv_strdup(struct rh_inventory *inv, const char *s)
{
	return s ? inv_strndup(inv, s, strlen(s)) : NULL;
}

const char *inv_printf(struct rh_inventory *inv, const char *fmt, ...)
{
	char small[512], *big = NULL;
	const char *res;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(small, sizeof small, fmt, ap);
	va_end(ap);
	if (n < 0)
		return NULL;
	if ((size_t)n < sizeof small)
		return inv_strdup(inv, small);
	va_start(ap, fmt);
	n = vasprintf(&big, fmt, ap);
	va_end(ap);
	if (n < 0)
		return NULL;
	res = inv_strdup(inv, big);
	free(big);
	return res;
}

int inv_vec_grow(void **v, size_t *cap, size_t n, size_t elem, size_t max, const char *what)
{
	size_t ncap;
	void *nv;

	if (n < *cap)
		return 0;
	if (n >= max)
		return rh_seterr(RH_ERR_TOOBIG, "more than %zu entries in %s", max, what);
	ncap = *cap ? *cap * 2 : 8;
	if (ncap > max)
		ncap = max;
	nv = realloc(*v, ncap * elem);
	if (nv == NULL)
		return rh_seterr(RH_ERR_NOMEM, "out of memory");
	memset((char *)nv + *cap * elem, 0, (ncap - *cap) * elem);
	*v = nv;
	*cap = ncap;
	return 0;
}

int strv_add(struct rh_inventory *inv, strv_t *v, const char *s)
{
	const char **slot;

	if (strv_has(v, s))
		return 0;
	slot = VEC_PUSH(*v, INV_MAX_LIST);
	if (slot == NULL)
		return rh_lasterr_code();
	*slot = inv_strdup(inv, s);
	if (*slot == NULL) {
		v->n--;
		return RH_ERR_NOMEM;
	}
	return 0;
}

bool strv_has(const strv_t *v, const char *s)
{
	for (size_t i = 0; i < v->n; i++)
		if (strcmp(v->v[i], s) == 0)
			return true;
	return false;
}

const struct rh_config *inv_config(const struct rh_inventory *inv)
{
	return inv->cfg;
}

void rh_inventory_free(struct rh_inventory *inv)
{
	struct arena_block *b, *next;

	if (inv == NULL)
		return;
	for (size_t i = 0; i < inv->disks.n; i++)
		rh_ptable_free(inv->disks.v[i].pt);
	for (size_t i = 0; i < inv->vgs.n; i++) {
		rh_lvm_vg_free(inv->vgs.v[i].vg);
		free(inv->vgs.v[i].pv_vol);
	}
	for (size_t i = 0; i < inv->vols.n; i++) {
		VEC_FREE(inv->vols.v[i].mountpoints);
		VEC_FREE(inv->vols.v[i].fstab);
	}
	for (size_t i = 0; i < inv->mds.n; i++)
		VEC_FREE(inv->mds.v[i].members);
	VEC_FREE(inv->disks);
	VEC_FREE(inv->vols);
	VEC_FREE(inv->vgs);
	VEC_FREE(inv->mds);
	VEC_FREE(inv->mounts);
	VEC_FREE(inv->fstab);
	VEC_FREE(inv->swaps);
	VEC_FREE(inv->net.default_ifaces);
	VEC_FREE(inv->tools.google_units);
	VEC_FREE(inv->tools.raw_devices);
	VEC_FREE(inv->tools.device_names);
	VEC_FREE(inv->checks);
	for (b = inv->arena; b != NULL; b = next) {
		next = b->next;
		free(b);
	}
	free(inv);
}

int rh_inspect_run(const struct rh_inspect_opts *opts, struct rh_inventory **out)
{
	struct rh_inventory *inv = NULL;
	struct rh_config *defaults = NULL;
	struct inv_root root = { .dirfd = -1 };
	size_t ndisks = 0;
	struct tm tm;
	time_t now;
	int rc;

	*out = NULL;
	if (opts == NULL)
		return rh_seterr(RH_ERR_INVAL, "no options");
	rc = root_init(&root, opts->root);
	if (rc < 0)
		return rc;
	inv = calloc(1, sizeof *inv);
	if (inv == NULL) {
		rc = RH_ERR_NOMEM;
		goto out;
	}
	inv->system_disk = -1;
	inv->host_root = root.host;
	inv->root = inv_strdup(inv, root.host ? "/" : opts->root);
	inv->cfg = opts->config;
	if (inv->cfg == NULL) {
		rc = rh_config_new(&defaults);
		if (rc < 0)
			goto out;
		inv->cfg = defaults;
	}
	now = time(NULL);
	gmtime_r(&now, &tm);
	strftime(inv->collected_at, sizeof inv->collected_at, "%Y-%m-%dT%H:%M:%SZ", &tm);

	if (opts->disks != NULL) {
		inv->explicit_disks = true;
		ndisks = opts->ndisks;
		if (ndisks == 0)
			while (opts->disks[ndisks] != NULL)
				ndisks++;
	}

	rc = system_collect(inv, &root);
	if (rc < 0)
		goto out;
	rc = os_detect(inv, &root);
	if (rc < 0)
		goto out;
	rc = mounts_collect(inv, &root);
	if (rc < 0)
		goto out;
	rc = net_collect(inv, &root);
	if (rc < 0)
		goto out;
	rc = tools_collect(inv, &root);
	if (rc < 0)
		goto out;
	rc = boot_collect(inv, &root, !(opts->flags & RH_INSPECT_NO_INITRAMFS));
	if (rc < 0)
		goto out;
	rc = disks_collect(inv, &root, inv->explicit_disks ? opts->disks : NULL, ndisks);
	if (rc < 0)
		goto out;
	mounts_statvfs(inv, &root);
	disks_link(inv, &root);
	rc = checks_run(inv);
	if (rc < 0)
		goto out;
	inv->cfg = NULL;
	*out = inv;
	inv = NULL;
out:
	rh_config_free(defaults);
	rh_inventory_free(inv);
	root_release(&root);
	return rc;
}

size_t rh_inventory_check_count(const struct rh_inventory *inv)
{
	return inv ? inv->checks.n : 0;
}

const struct rh_check_result *rh_inventory_check_at(const struct rh_inventory *inv, size_t i)
{
	if (inv == NULL || i >= inv->checks.n)
		return NULL;
	return &inv->checks.v[i];
}

size_t rh_inventory_count(const struct rh_inventory *inv, enum rh_check_status status)
{
	size_t n = 0;

	for (size_t i = 0; inv != NULL && i < inv->checks.n; i++)
		if (inv->checks.v[i].status == status)
			n++;
	return n;
}

bool rh_inventory_migratable(const struct rh_inventory *inv)
{
	return inv != NULL && rh_inventory_count(inv, RH_CHECK_ERROR) == 0;
}

const char *rh_inventory_mode(const struct rh_inventory *inv)
{
	return inv && inv->mode ? inv->mode : "file";
}
