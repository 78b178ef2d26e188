/* LVM2 physical volume used-block map. The PV label and metadata areas
 * (lvm-label.c) give the VG metadata, parsed into the VG model (lvm.c,
 * struct rh_lvm_vg), whose segments say which physical extents each LV
 * occupies. Used on the PV:
 *
 *   - everything before pe_start (label, first metadata area, alignment),
 *     every metadata area and boot loader area;
 *   - for an LV that lies on this PV only, in "striped" segments with one
 *     stripe (linear), is visible, and holds a recognised filesystem: that
 *     filesystem's own map, read through the LV's segments;
 *   - for every other LV (striped over several PVs, spread over other PVs,
 *     RAID/mirror images, thin-pool data and metadata, snapshots' COW,
 *     unknown contents): all of its extents on this PV;
 *   - free extents are unused.
 *
 * The model records what the metadata says; the layout checks the map
 * relies on (extents inside the PV, segments tiling each LV, stripe lists
 * matching stripe counts) are made here. */
#define RH_LOG_COMPONENT "usedmap"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs/fs-internal.h"
#include "rehost/checked.h"
#include "rehost/err.h"
#include "rehost/log.h"

/* Bounds on what one LV may occupy on this PV. */
#define LVM_MAX_SEGS 65536
#define LVM_MAX_EXTENT_SECTORS (1ull << 40)

static bool lvm_map_sniff(const uint8_t *first, uint64_t vol_size)
{
	struct lvm_label l;
	int i = lvm_label_sector(first, (size_t)RH_MIN((uint64_t)FS_SNIFF_HEAD, vol_size));

	return i >= 0 && lvm_label_validate(first + (size_t)i * LVM_SECTOR, (uint64_t)i,
					    UINT64_MAX, &l) == 0;
}

/* The VG's view of this PV. */
struct lvm_pv {
	int idx;            /* index in vg->pvs: how the model's areas name it */
	uint64_t pe_start;  /* bytes */
	uint64_t pe_count;
	uint64_t extent;    /* bytes per extent */
};

struct lvm_lvseg {
	uint64_t lv_extent;  /* first LV extent */
	uint64_t count;      /* LV extents */
	bool linear_here;    /* one stripe, on this PV */
	uint64_t pe;         /* first PE on this PV (when linear_here) */
};

/* One PV area of an LV: PEs [pe, pe + count) on this PV. */
struct lvm_parea {
	uint64_t pe, count;
};

/* One LV of the model as this PV sees it. */
struct lvm_lv {
	const char *name;            /* borrowed from the model */
	struct lvm_lvseg *segs;
	size_t nsegs;
	struct lvm_parea *areas;
	size_t nareas;
	uint64_t lv_extents;
	bool simple;    /* visible, all segments linear on this PV */
};

static void lv_clear(struct lvm_lv *lv)
{
	free(lv->segs);
	free(lv->areas);
	memset(lv, 0, sizeof *lv);
}

static int add_area(struct lvm_lv *lv, const struct lvm_pv *pv, uint64_t pe, uint64_t count)
{
	struct lvm_parea *n;
	uint64_t end;

	if (count == 0 || RH_ADD_OVERFLOW(pe, count, &end) || end > pv->pe_count)
		return rh_seterr(RH_ERR_CORRUPT, "lvm: LV %s: extents [%llu, +%llu) are outside the PV",
				 lv->name, (unsigned long long)pe, (unsigned long long)count);
	if (lv->nareas >= LVM_MAX_SEGS)
		return rh_seterr(RH_ERR_TOOBIG, "lvm: LV %s has too many areas", lv->name);
	n = realloc(lv->areas, (lv->nareas + 1) * sizeof *n);
	if (n == NULL)
		return RH_ERR_NOMEM;
	lv->areas = n;
	n[lv->nareas].pe = pe;
	n[lv->nareas].count = count;
	lv->nareas++;
	return 0;
}

/* One striped segment: its stripes on this PV are areas of the LV, each
 * of count / stripe_count extents. */
static int lvm_striped_seg(const struct rh_lvm_seg *ms, const struct lvm_pv *pv,
			   struct lvm_lv *lv, struct lvm_lvseg *seg)
{
	uint64_t per, pe = 0;
	size_t here = 0;
	int rc;

	if (ms->stripe_count == 0)
		return rh_seterr(RH_ERR_PARSE, "lvm: LV %s: striped segment without a valid "
				 "stripe_count", lv->name);
	if (ms->areas_bad)
		return rh_seterr(RH_ERR_PARSE, "lvm: LV %s: malformed area list", lv->name);
	if (ms->nareas == 0)
		return rh_seterr(RH_ERR_PARSE, "lvm: LV %s: striped segment without stripes",
				 lv->name);
	if (ms->nareas != ms->stripe_count || ms->extent_count % ms->stripe_count != 0)
		return rh_seterr(RH_ERR_CORRUPT, "lvm: LV %s: %zu stripes listed, %u declared "
				 "for %llu extents", lv->name, ms->nareas, ms->stripe_count,
				 (unsigned long long)ms->extent_count);
	per = ms->extent_count / ms->stripe_count;
	for (size_t i = 0; i < ms->nareas; i++) {
		if (ms->areas[i].pv != pv->idx)
			continue;
		if (++here > LVM_MAX_AREAS)
			return rh_seterr(RH_ERR_UNSUPPORTED, "lvm: LV %s: too many stripes on one PV",
					 lv->name);
		pe = ms->areas[i].start;
		rc = add_area(lv, pv, pe, per);
		if (rc < 0)
			return rc;
	}
	if (ms->stripe_count == 1 && here == 1) {
		seg->linear_here = true;
		seg->pe = pe;
	}
	return 0;
}

/* This PV's share of one LV of the model: its segments and its areas here. */
static int lvm_lv_here(const struct rh_lvm_lv *mlv, const struct lvm_pv *pv, struct lvm_lv *lv)
{
	int rc;

	lv->name = mlv->name;
	lv->simple = mlv->visible;
	if (mlv->nsegs > LVM_MAX_SEGS)
		return rh_seterr(RH_ERR_TOOBIG, "lvm: LV %s has too many segments", lv->name);
	lv->segs = calloc(mlv->nsegs ? mlv->nsegs : 1, sizeof *lv->segs);
	if (lv->segs == NULL)
		return RH_ERR_NOMEM;
	for (size_t k = 0; k < mlv->nsegs; k++) {
		const struct rh_lvm_seg *ms = &mlv->segs[k];
		struct lvm_lvseg *seg = &lv->segs[lv->nsegs++];

		if (ms->extent_count == 0)
			return rh_seterr(RH_ERR_CORRUPT, "lvm: LV %s: segment of 0 extents", lv->name);
		seg->lv_extent = ms->start_extent;
		seg->count = ms->extent_count;
		if (ms->type == RH_LVM_SEG_LINEAR || ms->type == RH_LVM_SEG_STRIPED) {
			rc = lvm_striped_seg(ms, pv, lv, seg);
		} else {
			/* Other segment types (mirror, raid, thin, cache,
			 * snapshot, error, zero) name sub-LVs; any PV areas
			 * they name directly are taken whole. */
			rc = 0;
			for (size_t i = 0; i < ms->nareas && rc == 0; i++)
				if (ms->areas[i].pv == pv->idx)
					rc = add_area(lv, pv, ms->areas[i].start, ms->extent_count);
		}
		if (rc < 0)
			return rc;
		if (!seg->linear_here)
			lv->simple = false;
	}
	if (lv->nsegs == 0)
		lv->simple = false;
	return 0;
}

static int seg_cmp(const void *a, const void *b)
{
	const struct lvm_lvseg *x = a, *y = b;

	return x->lv_extent < y->lv_extent ? -1 : x->lv_extent > y->lv_extent;
}

/* Check that the segments tile the LV from extent 0 and compute its size. */
static int lvm_check_segs(struct lvm_lv *lv)
{
	uint64_t next = 0;

	if (lv->nsegs > 1)
		qsort(lv->segs, lv->nsegs, sizeof *lv->segs, seg_cmp);
	for (size_t i = 0; i < lv->nsegs; i++) {
		if (lv->segs[i].lv_extent != next)
			return rh_seterr(RH_ERR_CORRUPT, "lvm: LV %s: segments leave a gap or overlap at "
					 "extent %llu", lv->name, (unsigned long long)next);
		if (RH_ADD_OVERFLOW(next, lv->segs[i].count, &next))
			return rh_seterr(RH_ERR_CORRUPT, "lvm: LV %s: size overflows", lv->name);
	}
	lv->lv_extents = next;
	return 0;
}

struct lv_map_ctx {
	struct rh_extents *x;   /* PV map */
	const struct um_seg *segs;
	size_t nsegs;
};

/* Translate an LV-relative used range to PV offsets through the segments. */
static int lv_to_pv(void *ctx, uint64_t off, uint64_t len)
{
	struct lv_map_ctx *m = ctx;

	for (size_t i = 0; i < m->nsegs && len > 0; i++) {
		const struct um_seg *s = &m->segs[i];
		uint64_t in, k;
		int rc;

		if (off >= s->lv_off + s->len || off < s->lv_off)
			continue;
		in = off - s->lv_off;
		k = RH_MIN(len, s->len - in);
		rc = rh_extents_add(m->x, s->pv_off + in, k);
		if (rc < 0)
			return rc;
		off += k;
		len -= k;
	}
	return len == 0 ? 0 : rh_seterr(RH_ERR_INTERNAL, "lvm: LV range not covered by segments");
}

/* Map one LV into x: through its own filesystem when simple, else its
 * areas on this PV whole. */
static int lvm_map_lv(struct um_ctx *c, const struct um_vol *v, const struct lvm_pv *pv,
		      const char *vgname, struct lvm_lv *lv, struct rh_extents *x)
{
	struct rh_usedmap_lv info = { 0 };
	struct um_seg *segs = NULL;
	struct rh_extents *lx = NULL;
	char name[512];
	uint64_t pv_bytes = 0;
	int rc = 0;

	snprintf(name, sizeof name, "%s/%s", vgname, lv->name);
	/* Areas lie inside the PV (add_area), but may overlap in corrupt
	 * metadata: keep the sums checked. */
	for (size_t i = 0; i < lv->nareas; i++)
		if (RH_ADD_OVERFLOW(pv_bytes, lv->areas[i].count * pv->extent, &pv_bytes))
			return rh_seterr(RH_ERR_CORRUPT, "lvm: LV %s: areas overflow", name);
	info.fstype = RH_FS_UNKNOWN;
	info.pv_bytes = pv_bytes;
	if (RH_MUL_OVERFLOW(lv->lv_extents, pv->extent, &info.lv_bytes))
		return rh_seterr(RH_ERR_CORRUPT, "lvm: LV %s: size overflows", name);
	if (lv->simple) {
		struct um_vol lvv = { .kind = UM_VOL_SEGS, .parent = v, .no_blkid = v->no_blkid };
		struct um_volinfo vi;
		struct lv_map_ctx mc;

		segs = calloc(lv->nsegs, sizeof *segs);
		if (segs == NULL)
			return RH_ERR_NOMEM;
		for (size_t i = 0; i < lv->nsegs; i++) {
			segs[i].lv_off = lv->segs[i].lv_extent * pv->extent;
			segs[i].pv_off = pv->pe_start + lv->segs[i].pe * pv->extent;
			segs[i].len = lv->segs[i].count * pv->extent;
		}
		lvv.segs = segs;
		lvv.nsegs = lv->nsegs;
		lvv.size = info.lv_bytes;
		rc = rh_extents_new(lvv.size, 1, &lx);
		if (rc < 0)
			goto out;
		c->depth++;
		c->where = name;
		rc = usedmap_build_vol(c, &lvv, RH_FS_AUTO, lx, &vi);
		c->where = NULL;
		c->depth--;
		if (rc < 0) {
			rh_seterr(rc, "LV %s: %s", name, rh_lasterr());
			goto out;
		}
		mc.x = x;
		mc.segs = segs;
		mc.nsegs = lv->nsegs;
		rc = rh_extents_foreach(lx, 0, lvv.size, lv_to_pv, &mc);
		if (rc < 0)
			goto out;
		info.fstype = vi.fstype;
		info.mapped = vi.mapped;
		info.fallback = vi.fallback;
		info.used = rh_extents_used(lx);
	} else {
		for (size_t i = 0; i < lv->nareas; i++) {
			rc = rh_extents_add(x, pv->pe_start + lv->areas[i].pe * pv->extent,
					    lv->areas[i].count * pv->extent);
			if (rc < 0)
				goto out;
		}
		info.used = pv_bytes;
		if (lv->nareas > 0)
			usedmap_note(c->map, "LV %s: not a plain linear LV on this PV: all used", name);
	}
	if (lv->nareas > 0)
		rc = usedmap_add_lv(c->map, name, &info);
out:
	rh_extents_free(lx);
	free(segs);
	return rc;
}

/* Find this PV (by the label's UUID) in the VG. */
static int lvm_find_pv(const struct rh_lvm_vg *vg, const struct lvm_label *l, uint64_t vol_size,
		       struct lvm_pv *pv)
{
	uint64_t end;

	memset(pv, 0, sizeof *pv);
	if (vg->extent_size > LVM_MAX_EXTENT_SECTORS)
		return rh_seterr(RH_ERR_CORRUPT, "lvm: extent size of %llu sectors",
				 (unsigned long long)vg->extent_size);
	for (size_t i = 0; i < vg->npvs; i++) {
		const struct rh_lvm_pv *p = &vg->pvs[i];

		if (!rh_lvm_uuid_eq(p->uuid, l->uuid))
			continue;
		if (p->pe_start > INT64_MAX / LVM_SECTOR)
			return rh_seterr(RH_ERR_CORRUPT, "lvm: pe_start %llu is out of range",
					 (unsigned long long)p->pe_start);
		pv->idx = (int)i;
		pv->extent = vg->extent_size * LVM_SECTOR;
		pv->pe_start = p->pe_start * LVM_SECTOR;
		pv->pe_count = p->pe_count;
		if (RH_MUL_OVERFLOW(pv->pe_count, pv->extent, &end) ||
		    RH_ADD_OVERFLOW(end, pv->pe_start, &end) || end > vol_size)
			return rh_seterr(RH_ERR_CORRUPT, "lvm: PV extents end beyond the %llu-byte volume",
					 (unsigned long long)vol_size);
		return 0;
	}
	return rh_seterr(RH_ERR_CORRUPT, "lvm: this PV is not listed in its VG's metadata");
}

static int lvm_map_build(struct um_ctx *c, const struct um_vol *v, struct rh_extents *x,
			 uint32_t *bsize)
{
	struct lvm_label l;
	struct rh_lvm_vg *vg = NULL;
	struct lvm_lv lv = { 0 };
	struct lvm_pv pv;
	char *text = NULL;
	size_t len;
	int rc;

	*bsize = 0;
	rc = lvm_label_read(v, &l);
	if (rc == RH_ERR_NOTFOUND)
		rc = rh_seterr(RH_ERR_CORRUPT, "lvm: no PV label");
	if (rc < 0)
		return rc;
	if (l.ndata != 1)
		return rh_seterr(RH_ERR_UNSUPPORTED, "lvm: %zu data areas", l.ndata);

	/* Label, metadata and boot loader areas, and everything before the
	 * data area. */
	rc = rh_extents_add(x, 0, l.data[0].off);
	for (size_t i = 0; rc == 0 && i < l.nmda; i++)
		rc = rh_extents_add(x, l.mda[i].off, l.mda[i].size);
	for (size_t i = 0; rc == 0 && i < l.nba; i++)
		rc = rh_extents_add(x, l.ba[i].off, l.ba[i].size);
	if (rc < 0)
		return rc;

	rc = lvm_label_metadata(v, &l, &text, &len);
	if (rc < 0)
		goto out;
	if (text == NULL) {
		if (l.nmda == 0) {
			rc = rh_seterr(RH_ERR_UNSUPPORTED, "lvm: PV has no metadata area (its VG "
					 "metadata is on other PVs)");
			goto out;
		}
		usedmap_note(c->map, "lvm: PV belongs to no VG");
		*bsize = LVM_SECTOR;
		rc = 0;
		goto out;
	}
	rc = rh_lvm_parse_vg(text, len, &vg);
	if (rc < 0)
		goto out;
	rc = lvm_find_pv(vg, &l, v->size, &pv);
	if (rc < 0)
		goto out;
	if (pv.pe_start < l.data[0].off)
		usedmap_note(c->map, "lvm: pe_start below the label's data area");
	rc = rh_extents_add(x, 0, RH_MIN(pv.pe_start, v->size));
	if (rc < 0)
		goto out;
	for (size_t i = 0; i < vg->nlvs; i++) {
		rc = lvm_lv_here(&vg->lvs[i], &pv, &lv);
		if (rc == 0)
			rc = lvm_check_segs(&lv);
		if (rc == 0 && lv.nareas > 0)
			rc = lvm_map_lv(c, v, &pv, vg->name, &lv, x);
		lv_clear(&lv);
		if (rc < 0)
			goto out;
	}
	*bsize = (uint32_t)RH_MIN(pv.extent, (uint64_t)UINT32_MAX);
	rc = 0;
out:
	lv_clear(&lv);
	rh_lvm_vg_free(vg);
	free(text);
	return rc;
}

static const char *const lvm_blkid[] = { "LVM2_member", NULL };

const struct fs_ops fs_lvm2_ops = {
	.type = RH_FS_LVM2,
	.name = "lvm2",
	.blkid_types = lvm_blkid,
	.container = true,
	.sniff = lvm_map_sniff,
	.build = lvm_map_build,
};
