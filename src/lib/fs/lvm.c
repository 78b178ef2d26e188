/*
 * LVM2 volume groups: the one in-memory model (struct rh_lvm_vg, see
 * rehost/disk.h) of a VG's PVs, LVs and segments, built from the metadata
 * text (parsed by lvm-text.c) that a PV's label and metadata areas hold
 * (read by lvm-label.c). inspect and postconf read it through
 * rh_lvm_read_label + rh_lvm_parse_vg; the used-block map (lvm-map.c) uses
 * the same functions.
 *
 * The model is lenient: it records what the metadata says (a missing
 * number reads as 0, a malformed stripe list sets areas_bad) and leaves
 * layout checks to its users, so that inspect can still report a VG the
 * map would refuse.
 */
#define RH_LOG_COMPONENT "disk"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs/fs-internal.h"
#include "fs/lvm-text.h"
#include "rehost/checked.h"
#include "rehost/disk.h"
#include "rehost/err.h"

/* Pairs in one area list (LVM's own limit on stripes). */
#define LVM_MAX_PAIRS 65536u

/* ---- label and metadata area ---- */

static void format_uuid(const uint8_t raw[32], char out[40])
{
	/* LVM prints PV/VG UUIDs as 6-4-4-4-4-4-6 characters. */
	static const int groups[] = { 6, 4, 4, 4, 4, 4, 6 };
	size_t o = 0, i = 0;

	for (size_t g = 0; g < RH_ARRAY_SIZE(groups); g++) {
		if (g > 0)
			out[o++] = '-';
		for (int k = 0; k < groups[g]; k++) {
			char c = (char)raw[i++];

			out[o++] = isprint((unsigned char)c) ? c : '?';
		}
	}
	out[o] = '\0';
}

void rh_lvm_pvlabel_release(struct rh_lvm_pvlabel *pv)
{
	if (pv == NULL)
		return;
	free(pv->meta);
	pv->meta = NULL;
	pv->meta_len = 0;
}

int rh_lvm_read_label(int fd, uint64_t offset, uint64_t size, struct rh_lvm_pvlabel *out)
{
	struct um_vol v = { .kind = UM_VOL_FD, .fd = fd, .base = offset, .size = size };
	struct lvm_label l;
	int rc;

	memset(out, 0, sizeof *out);
	rc = lvm_label_read(&v, &l);
	if (rc < 0)
		return rc;
	format_uuid((const uint8_t *)l.uuid, out->uuid);
	out->dev_size = l.dev_size;
	return lvm_label_metadata(&v, &l, &out->meta, &out->meta_len);
}

/* ---- the model ---- */

static void copy(char *dst, size_t len, const char *src)
{
	snprintf(dst, len, "%s", src ? src : "");
}

void rh_lvm_vg_free(struct rh_lvm_vg *vg)
{
	if (vg == NULL)
		return;
	for (size_t i = 0; i < vg->nlvs; i++) {
		for (size_t k = 0; k < vg->lvs[i].nsegs; k++)
			free(vg->lvs[i].segs[k].areas);
		free(vg->lvs[i].segs);
	}
	free(vg->lvs);
	free(vg->pvs);
	free(vg);
}

static size_t count_sections(const struct lvm_node *sec)
{
	size_t n = 0;

	if (sec != NULL && sec->type == LVM_SECTION)
		for (const struct lvm_node *c = sec->child; c != NULL; c = c->next)
			if (c->type == LVM_SECTION)
				n++;
	return n;
}

static enum rh_lvm_segtype seg_type(const char *t, uint64_t stripes)
{
	if (strcmp(t, "striped") == 0)
		return stripes > 1 ? RH_LVM_SEG_STRIPED : RH_LVM_SEG_LINEAR;
	if (strcmp(t, "thin-pool") == 0)
		return RH_LVM_SEG_THIN_POOL;
	if (strcmp(t, "thin") == 0)
		return RH_LVM_SEG_THIN;
	if (strcmp(t, "mirror") == 0 || strncmp(t, "raid", 4) == 0)
		return RH_LVM_SEG_MIRROR;
	if (strcmp(t, "snapshot") == 0)
		return RH_LVM_SEG_SNAPSHOT;
	if (strncmp(t, "cache", 5) == 0 || strcmp(t, "writecache") == 0 ||
	    strncmp(t, "vdo", 3) == 0)
		return RH_LVM_SEG_CACHE;
	return RH_LVM_SEG_OTHER;
}

/* Non-negative integer child key of sec; false (and *v = 0) when absent,
 * not an integer or negative. */
static bool child_u64(const struct lvm_node *sec, const char *key, uint64_t *v)
{
	const struct lvm_node *n = lvm_text_get(sec, key);

	*v = 0;
	if (n == NULL || n->type != LVM_INT || n->num < 0)
		return false;
	*v = (uint64_t)n->num;
	return true;
}

static const struct lvm_node *child_array(const struct lvm_node *sec, const char *key)
{
	const struct lvm_node *n = lvm_text_get(sec, key);

	return n != NULL && n->type == LVM_ARRAY ? n : NULL;
}

/* Count the (string, non-negative integer) pairs of arr; false when it is
 * not made of such pairs. */
static bool count_pairs(const struct lvm_node *arr, size_t *n)
{
	*n = 0;
	for (const struct lvm_node *e = arr->child; e != NULL; e = e->next->next) {
		if (e->type != LVM_STR || e->next == NULL || e->next->type != LVM_INT ||
		    e->next->num < 0)
			return false;
		(*n)++;
	}
	return true;
}

static int pv_index(const struct rh_lvm_vg *vg, const char *name)
{
	for (size_t i = 0; i < vg->npvs; i++)
		if (strcmp(vg->pvs[i].name, name) == 0)
			return (int)i;
	return -1;
}

/* Append the pairs of arr (already counted) to s->areas. */
static int add_pairs(const struct rh_lvm_vg *vg, const struct lvm_node *arr, size_t n,
		     struct rh_lvm_seg *s, const char *lv)
{
	struct rh_lvm_area *a;

	if (n == 0)
		return 0;
	if (n > LVM_MAX_PAIRS || s->nareas > LVM_MAX_PAIRS)
		return rh_seterr(RH_ERR_TOOBIG, "LVM metadata: LV %s lists more than %u areas", lv,
				 LVM_MAX_PAIRS);
	a = realloc(s->areas, (s->nareas + n) * sizeof *a);
	if (a == NULL)
		return RH_ERR_NOMEM;
	s->areas = a;
	for (const struct lvm_node *e = arr->child; e != NULL; e = e->next->next) {
		a[s->nareas].pv = pv_index(vg, e->str);
		a[s->nareas].start = (uint64_t)e->next->num;
		s->nareas++;
	}
	return 0;
}

/* The segment's area lists: "stripes" for a striped segment; for other
 * types (mirror, raid, thin, cache, snapshot...) every list of (name,
 * extent) pairs, which may name PVs directly (old mirrors) or sub-LVs.
 * Lists of plain names ("raids") are not areas. */
static int read_areas(const struct lvm_node *c, const struct rh_lvm_vg *vg, struct rh_lvm_seg *s,
		      const char *lv)
{
	size_t n;
	int rc = 0;

	if (s->type == RH_LVM_SEG_LINEAR || s->type == RH_LVM_SEG_STRIPED) {
		const struct lvm_node *arr = child_array(c, "stripes");

		if (arr == NULL)
			return 0;
		if (!count_pairs(arr, &n)) {
			s->areas_bad = true;
			return 0;
		}
		return add_pairs(vg, arr, n, s, lv);
	}
	for (const struct lvm_node *a = c->child; a != NULL && rc == 0; a = a->next)
		if (a->type == LVM_ARRAY && a->child != NULL && a->child->type == LVM_STR &&
		    count_pairs(a, &n))
			rc = add_pairs(vg, a, n, s, lv);
	return rc;
}

static int read_lv(const struct lvm_node *sec, struct rh_lvm_vg *vg, struct rh_lvm_lv *lv)
{
	size_t nsegs = 0;
	int rc;

	copy(lv->name, sizeof lv->name, sec->key);
	copy(lv->uuid, sizeof lv->uuid, lvm_text_str(sec, "id"));
	lv->visible = lvm_text_has_flag(sec, "status", "VISIBLE");
	for (const struct lvm_node *c = sec->child; c != NULL; c = c->next)
		if (c->type == LVM_SECTION && strncmp(c->key, "segment", 7) == 0)
			nsegs++;
	if (nsegs > RH_LVM_MAX_SEGS)
		return rh_seterr(RH_ERR_TOOBIG, "LVM metadata: LV %s has %zu segments (limit %u)",
				 lv->name, nsegs, RH_LVM_MAX_SEGS);
	lv->segs = calloc(nsegs ? nsegs : 1, sizeof *lv->segs);
	if (lv->segs == NULL)
		return RH_ERR_NOMEM;
	for (const struct lvm_node *c = sec->child; c != NULL; c = c->next) {
		struct rh_lvm_seg *s;
		const struct lvm_node *stripes;
		const char *type;
		uint64_t nstripes;

		if (c->type != LVM_SECTION || strncmp(c->key, "segment", 7) != 0)
			continue;
		s = &lv->segs[lv->nsegs++];
		s->pv = -1;
		if (!child_u64(c, "start_extent", &s->start_extent) ||
		    !child_u64(c, "extent_count", &s->extent_count))
			return rh_seterr(RH_ERR_PARSE, "LVM metadata: LV %s: segment without extents",
					 lv->name);
		type = lvm_text_str(c, "type");
		if (type == NULL)
			return rh_seterr(RH_ERR_PARSE, "LVM metadata: LV %s: segment without a type",
					 lv->name);
		child_u64(c, "stripe_count", &nstripes);
		if (nstripes >= 1 && nstripes <= LVM_MAX_PAIRS)
			s->stripe_count = (uint32_t)nstripes;
		copy(s->type_name, sizeof s->type_name, type);
		s->type = seg_type(type, nstripes);
		copy(s->pool, sizeof s->pool, lvm_text_str(c, "thin_pool"));
		stripes = child_array(c, "stripes");
		if (stripes != NULL && stripes->child != NULL && stripes->child->type == LVM_STR &&
		    stripes->child->next != NULL && stripes->child->next->type == LVM_INT &&
		    stripes->child->next->num >= 0) {
			s->pv = pv_index(vg, stripes->child->str);
			s->pv_start = (uint64_t)stripes->child->next->num;
		}
		rc = read_areas(c, vg, s, lv->name);
		if (rc < 0)
			return rc;
		if (RH_ADD_OVERFLOW(lv->extents, s->extent_count, &lv->extents))
			return rh_seterr(RH_ERR_PARSE, "LVM metadata: LV %s size overflows", lv->name);
	}
	if (lv->nsegs > 0)
		lv->type = lv->segs[0].type;
	return 0;
}

static int build_vg(const struct lvm_node *root, struct rh_lvm_vg **out)
{
	const struct lvm_node *vgn = NULL, *pvs, *lvs;
	struct rh_lvm_vg *vg;
	size_t npv, nlv;
	int rc;

	for (const struct lvm_node *n = root->child; n != NULL; n = n->next)
		if (n->type == LVM_SECTION) {
			vgn = n;
			break;
		}
	if (vgn == NULL)
		return rh_seterr(RH_ERR_PARSE, "LVM metadata: no volume group section");
	pvs = lvm_text_get(vgn, "physical_volumes");
	lvs = lvm_text_get(vgn, "logical_volumes");
	npv = count_sections(pvs);
	nlv = count_sections(lvs);
	if (npv > RH_LVM_MAX_PVS || nlv > RH_LVM_MAX_LVS)
		return rh_seterr(RH_ERR_TOOBIG, "LVM metadata: %zu PVs, %zu LVs (limits %u, %u)",
				 npv, nlv, RH_LVM_MAX_PVS, RH_LVM_MAX_LVS);
	vg = calloc(1, sizeof *vg);
	if (vg == NULL)
		return RH_ERR_NOMEM;
	vg->pvs = calloc(npv ? npv : 1, sizeof *vg->pvs);
	vg->lvs = calloc(nlv ? nlv : 1, sizeof *vg->lvs);
	if (vg->pvs == NULL || vg->lvs == NULL) {
		rc = RH_ERR_NOMEM;
		goto fail;
	}
	copy(vg->name, sizeof vg->name, vgn->key);
	copy(vg->uuid, sizeof vg->uuid, lvm_text_str(vgn, "id"));
	child_u64(vgn, "seqno", &vg->seqno);
	if (!child_u64(vgn, "extent_size", &vg->extent_size) || vg->extent_size == 0) {
		rc = rh_seterr(RH_ERR_PARSE, "LVM metadata: VG %s without extent_size", vg->name);
		goto fail;
	}
	for (const struct lvm_node *c = npv ? pvs->child : NULL; c != NULL; c = c->next) {
		struct rh_lvm_pv *pv;

		if (c->type != LVM_SECTION)
			continue;
		pv = &vg->pvs[vg->npvs++];
		copy(pv->name, sizeof pv->name, c->key);
		copy(pv->uuid, sizeof pv->uuid, lvm_text_str(c, "id"));
		copy(pv->device, sizeof pv->device, lvm_text_str(c, "device"));
		child_u64(c, "dev_size", &pv->dev_size);
		child_u64(c, "pe_start", &pv->pe_start);
		child_u64(c, "pe_count", &pv->pe_count);
		pv->missing = lvm_text_has_flag(c, "flags", "MISSING") ||
			      lvm_text_has_flag(c, "status", "MISSING");
	}
	for (const struct lvm_node *c = nlv ? lvs->child : NULL; c != NULL; c = c->next) {
		if (c->type != LVM_SECTION)
			continue;
		rc = read_lv(c, vg, &vg->lvs[vg->nlvs++]);
		if (rc < 0)
			goto fail;
	}
	*out = vg;
	return 0;
fail:
	rh_lvm_vg_free(vg);
	return rc;
}

int rh_lvm_parse_vg(const char *text, size_t len, struct rh_lvm_vg **out)
{
	struct lvm_node *root = NULL;
	int rc;

	*out = NULL;
	if (len > RH_LVM_MAX_META)
		return rh_seterr(RH_ERR_TOOBIG, "LVM metadata of %zu bytes (limit %u)", len,
				 RH_LVM_MAX_META);
	rc = lvm_text_parse(text, len, &root);
	if (rc == 0)
		rc = build_vg(root, out);
	lvm_text_free(root);
	return rc;
}

bool rh_lvm_extent_offset(const struct rh_lvm_vg *vg, const struct rh_lvm_pv *pv,
			  uint64_t extent, uint64_t *bytes)
{
	uint64_t sectors;

	*bytes = 0;
	if (RH_MUL_OVERFLOW(extent, vg->extent_size, &sectors) ||
	    RH_ADD_OVERFLOW(sectors, pv->pe_start, &sectors) ||
	    RH_MUL_OVERFLOW(sectors, (uint64_t)512, bytes))
		return false;
	return true;
}

bool rh_lvm_uuid_eq(const char *a, const char *b)
{
	for (;;) {
		while (*a == '-')
			a++;
		while (*b == '-')
			b++;
		if (*a != *b)
			return false;
		if (*a == '\0')
			return true;
		a++;
		b++;
	}
}
