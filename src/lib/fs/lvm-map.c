/* LVM2 physical volume used-block map: the PV label (LABELONE, "LVM2 001") and
 * pv_header give the metadata areas; the first usable metadata area holds
 * the volume group's text description (lvm-text.c), whose segments say
 * which physical extents each LV occupies. Used on the PV:
 *
 *   - everything before pe_start (label, first metadata area, alignment),
 *     every metadata area and boot loader area;
 *   - for an LV that lies on this PV only, in "striped" segments with one
 *     stripe (linear), is visible, and holds a recognised filesystem: that
 *     filesystem's own map, read through the LV's segments;
 *   - for every other LV (striped over several PVs, spread over other PVs,
 *     RAID/mirror images, thin-pool data and metadata, snapshots' COW,
 *     unknown contents): all of its extents on this PV;
 *   - free extents are unused. */
#define RH_LOG_COMPONENT "usedmap"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs/lvm-text.h"
#include "fs/fs-internal.h"
#include "rehost/checked.h"
#include "rehost/endian.h"
#include "rehost/err.h"
#include "rehost/log.h"

#define LVM_SECTOR 512u
#define LVM_LABEL_SCAN 4
#define LVM_LABEL_ID "LABELONE"
#define LVM_LABEL_TYPE "LVM2 001"
#define LVM_MDA_MAGIC " LVM2 x[5A%r0N*>"
#define LVM_MDA_HEADER_SIZE 512u
#define LVM_INITIAL_CRC 0xf597a6cfu
#define LVM_RAW_LOCN_IGNORED 1u
#define LVM_ID_LEN 32
/* Metadata text bound (LVM's default area is 1 MiB). */
#define LVM_TEXT_MAX (16u << 20)
#define LVM_MAX_AREAS 8
#define LVM_MAX_SEGS 65536

struct lvm_area {
	uint64_t off, size; /* bytes from the PV start */
};

/* What the label sector says. */
struct lvm_label {
	char uuid[LVM_ID_LEN + 1];
	uint64_t dev_size;
	struct lvm_area data[LVM_MAX_AREAS];
	size_t ndata;
	struct lvm_area mda[LVM_MAX_AREAS];
	size_t nmda;
	struct lvm_area ba[LVM_MAX_AREAS]; /* boot loader areas */
	size_t nba;
};

/* LVM's CRC: reflected CRC-32 (0xEDB88320), custom seed, no final xor. */
static uint32_t lvm_crc(uint32_t crc, const uint8_t *p, size_t n)
{
	while (n--) {
		crc ^= *p++;
		for (int k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1)));
	}
	return crc;
}

/* Whether a stored LVM checksum matches (always, in fuzzing builds). */
static bool lvm_crc_ok(const uint8_t *p, size_t n, uint32_t stored)
{
#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
	return true;
#endif
	return lvm_crc(LVM_INITIAL_CRC, p, n) == stored;
}

/* Index of the sector holding the label in the first sectors, or -1. */
static int label_sector(const uint8_t *first, size_t len)
{
	for (int i = 0; i < LVM_LABEL_SCAN; i++) {
		const uint8_t *s = first + (size_t)i * LVM_SECTOR;

		if ((size_t)(i + 1) * LVM_SECTOR > len)
			break;
		if (memcmp(s, LVM_LABEL_ID, 8) == 0 && memcmp(s + 24, LVM_LABEL_TYPE, 8) == 0)
			return i;
	}
	return -1;
}

/* Read a disk_locn list (offset, size pairs ending with a zero offset)
 * from sector s at *pos. */
static int read_locns(const uint8_t *s, size_t *pos, struct lvm_area *a, size_t *n,
		      const char *what)
{
	*n = 0;
	for (;;) {
		uint64_t off, size;

		if (*pos + 16 > LVM_SECTOR)
			return rh_seterr(RH_ERR_CORRUPT, "lvm: %s list runs off the label sector", what);
		off = rh_le64dec(s + *pos);
		size = rh_le64dec(s + *pos + 8);
		*pos += 16;
		if (off == 0)
			return 0;
		if (*n == LVM_MAX_AREAS)
			return rh_seterr(RH_ERR_CORRUPT, "lvm: more than %d %s", LVM_MAX_AREAS, what);
		a[*n].off = off;
		a[*n].size = size;
		(*n)++;
	}
}

/* Validate the label sector and its pv_header. */
static int lvm_validate_label(const uint8_t *s, uint64_t sector, uint64_t vol_size,
			      struct lvm_label *l)
{
	uint32_t hdr;
	size_t pos;
	int rc;

	memset(l, 0, sizeof *l);
	if (rh_le64dec(s + 8) != sector)
		return rh_seterr(RH_ERR_CORRUPT, "lvm: label records sector %llu, found in %llu",
				 (unsigned long long)rh_le64dec(s + 8), (unsigned long long)sector);
	if (!lvm_crc_ok(s + 20, LVM_SECTOR - 20, rh_le32dec(s + 16)))
		return rh_seterr(RH_ERR_CORRUPT, "lvm: label checksum mismatch");
	hdr = rh_le32dec(s + 20);
	if (hdr < 32 || hdr > LVM_SECTOR - LVM_ID_LEN - 8 - 32)
		return rh_seterr(RH_ERR_CORRUPT, "lvm: pv_header at offset %u", hdr);
	memcpy(l->uuid, s + hdr, LVM_ID_LEN);
	for (int i = 0; i < LVM_ID_LEN; i++)
		if (!((l->uuid[i] >= '0' && l->uuid[i] <= '9') || (l->uuid[i] >= 'a' && l->uuid[i] <= 'z') ||
		      (l->uuid[i] >= 'A' && l->uuid[i] <= 'Z') || l->uuid[i] == '!' || l->uuid[i] == '#'))
			return rh_seterr(RH_ERR_CORRUPT, "lvm: PV uuid holds invalid characters");
	l->dev_size = rh_le64dec(s + hdr + LVM_ID_LEN);
	pos = hdr + LVM_ID_LEN + 8;
	rc = read_locns(s, &pos, l->data, &l->ndata, "data areas");
	if (rc == 0)
		rc = read_locns(s, &pos, l->mda, &l->nmda, "metadata areas");
	if (rc < 0)
		return rc;
	/* pv_header_extension (version >= 1): flags, then boot loader areas. */
	if (pos + 8 <= LVM_SECTOR && rh_le32dec(s + pos) >= 1) {
		pos += 8;
		rc = read_locns(s, &pos, l->ba, &l->nba, "boot loader areas");
		if (rc < 0)
			return rc;
	}
	if (l->ndata != 1)
		return rh_seterr(RH_ERR_UNSUPPORTED, "lvm: %zu data areas", l->ndata);
	for (size_t i = 0; i < l->nmda; i++)
		if (l->mda[i].size < 2 * LVM_MDA_HEADER_SIZE ||
		    !rh_range_ok(l->mda[i].off, l->mda[i].size, vol_size))
			return rh_seterr(RH_ERR_CORRUPT, "lvm: metadata area [%llu, +%llu) is invalid",
					 (unsigned long long)l->mda[i].off,
					 (unsigned long long)l->mda[i].size);
	for (size_t i = 0; i < l->nba; i++)
		if (!rh_range_ok(l->ba[i].off, l->ba[i].size, vol_size))
			return rh_seterr(RH_ERR_CORRUPT, "lvm: boot loader area outside the volume");
	if (l->data[0].off >= vol_size)
		return rh_seterr(RH_ERR_CORRUPT, "lvm: data area starts beyond the volume");
	return 0;
}

static bool lvm_map_sniff(const uint8_t *first, uint64_t vol_size)
{
	struct lvm_label l;
	int i = label_sector(first, (size_t)RH_MIN((uint64_t)FS_SNIFF_HEAD, vol_size));

	return i >= 0 && lvm_validate_label(first + (size_t)i * LVM_SECTOR, (uint64_t)i, UINT64_MAX,
					    &l) == 0;
}

/* Read the current metadata text of area a into *text (NUL-terminated,
 * caller frees). *text stays NULL for an area that is ignored or holds no
 * metadata (an orphan PV). */
static int lvm_read_mda(const struct um_vol *v, const struct lvm_area *a, char **text)
{
	uint8_t h[LVM_MDA_HEADER_SIZE];
	uint64_t off, size, first;
	uint32_t sum, flags;
	char *t = NULL;
	int rc;

	*text = NULL;
	rc = um_read(v, h, sizeof h, a->off, "lvm metadata area header");
	if (rc < 0)
		return rc;
	if (memcmp(h + 4, LVM_MDA_MAGIC, 16) != 0 || rh_le32dec(h + 20) != 1)
		return rh_seterr(RH_ERR_CORRUPT, "lvm: bad metadata area magic or version");
	if (!lvm_crc_ok(h + 4, sizeof h - 4, rh_le32dec(h)))
		return rh_seterr(RH_ERR_CORRUPT, "lvm: metadata area header checksum mismatch");
	if (rh_le64dec(h + 24) != a->off || rh_le64dec(h + 32) != a->size)
		return rh_seterr(RH_ERR_CORRUPT, "lvm: metadata area header disagrees with the label");
	off = rh_le64dec(h + 40);
	size = rh_le64dec(h + 48);
	sum = rh_le32dec(h + 56);
	flags = rh_le32dec(h + 60);
	if (off == 0 || (flags & LVM_RAW_LOCN_IGNORED))
		return 0;
	if (off < LVM_MDA_HEADER_SIZE || off >= a->size || size == 0 ||
	    size > a->size - LVM_MDA_HEADER_SIZE || size > LVM_TEXT_MAX)
		return rh_seterr(RH_ERR_CORRUPT, "lvm: metadata text [%llu, +%llu) is invalid",
				 (unsigned long long)off, (unsigned long long)size);
	t = malloc((size_t)size + 1);
	if (t == NULL)
		return RH_ERR_NOMEM;
	/* The area is a ring after its header: the text may wrap. */
	first = RH_MIN(size, a->size - off);
	rc = um_read(v, t, (size_t)first, a->off + off, "lvm metadata text");
	if (rc == 0 && first < size)
		rc = um_read(v, t + first, (size_t)(size - first), a->off + LVM_MDA_HEADER_SIZE,
			     "lvm metadata text");
	if (rc < 0)
		goto fail;
	if (!lvm_crc_ok((const uint8_t *)t, (size_t)size, sum)) {
		rc = rh_seterr(RH_ERR_CORRUPT, "lvm: metadata text checksum mismatch");
		goto fail;
	}
	t[size] = '\0';
	*text = t;
	return 0;
fail:
	free(t);
	return rc;
}

/* Compare an LVM id with dashes ("xxxxxx-xxxx-...") to a bare 32-char id. */
static bool id_equal(const char *dashed, const char *bare)
{
	size_t k = 0;

	for (const char *p = dashed; *p; p++) {
		if (*p == '-')
			continue;
		if (k >= LVM_ID_LEN || *p != bare[k])
			return false;
		k++;
	}
	return k == LVM_ID_LEN;
}

/* The VG's view of this PV. */
struct lvm_pv {
	const char *key;    /* "pv0": how segments name it; borrowed from the tree */
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

struct lvm_lv {
	const char *name;
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

/* Walk the (string, integer) pairs of an array naming PV areas. Sets
 * *pairs to the number of pairs and *here_pe to the PE of the last pair
 * on this PV (*here to how many are). */
static int scan_pairs(const struct lvm_node *arr, const struct lvm_pv *pv, size_t *pairs,
		      size_t *here, uint64_t *here_pe, uint64_t *pes, size_t maxpes)
{
	*pairs = 0;
	*here = 0;
	*here_pe = 0;
	for (const struct lvm_node *e = arr->child; e != NULL; e = e->next) {
		const struct lvm_node *num = e->next;

		if (e->type != LVM_STR || num == NULL || num->type != LVM_INT || num->num < 0)
			return rh_seterr(RH_ERR_PARSE, "lvm: malformed area list");
		(*pairs)++;
		if (strcmp(e->str, pv->key) == 0) {
			if (*here < maxpes)
				pes[*here] = (uint64_t)num->num;
			(*here)++;
			*here_pe = (uint64_t)num->num;
		}
		e = num;
	}
	return 0;
}

/* Parse one LV section: its segments, and its areas on this PV. */
static int lvm_parse_lv(const struct lvm_node *sec, const struct lvm_pv *pv, struct lvm_lv *lv)
{
	bool visible = lvm_text_has_flag(sec, "status", "VISIBLE");
	int rc;

	lv->name = sec->key;
	lv->simple = visible;
	for (const struct lvm_node *s = sec->child; s != NULL; s = s->next) {
		const char *type;
		int64_t start, count, stripes = 1;
		struct lvm_lvseg *seg;
		bool any_here = false;

		if (s->type != LVM_SECTION)
			continue;
		if (lv->nsegs >= LVM_MAX_SEGS)
			return rh_seterr(RH_ERR_TOOBIG, "lvm: LV %s has too many segments", lv->name);
		rc = lvm_text_int(s, "start_extent", 0, INT64_MAX, &start);
		if (rc == 0)
			rc = lvm_text_int(s, "extent_count", 1, INT64_MAX, &count);
		if (rc < 0)
			return rc;
		type = lvm_text_str(s, "type");
		if (type == NULL)
			return rh_seterr(RH_ERR_PARSE, "lvm: LV %s: segment without a type", lv->name);
		seg = realloc(lv->segs, (lv->nsegs + 1) * sizeof *seg);
		if (seg == NULL)
			return RH_ERR_NOMEM;
		lv->segs = seg;
		seg = &lv->segs[lv->nsegs++];
		memset(seg, 0, sizeof *seg);
		seg->lv_extent = (uint64_t)start;
		seg->count = (uint64_t)count;
		if (strcmp(type, "striped") == 0) {
			const struct lvm_node *arr = lvm_text_get(s, "stripes");
			uint64_t pes[LVM_MAX_AREAS];
			size_t pairs, here;
			uint64_t pe, per;

			rc = lvm_text_int(s, "stripe_count", 1, 65536, &stripes);
			if (rc < 0)
				return rc;
			if (arr == NULL || arr->type != LVM_ARRAY)
				return rh_seterr(RH_ERR_PARSE, "lvm: LV %s: striped segment without stripes",
						 lv->name);
			rc = scan_pairs(arr, pv, &pairs, &here, &pe, pes, LVM_MAX_AREAS);
			if (rc < 0)
				return rc;
			if (pairs != (size_t)stripes || count % stripes != 0)
				return rh_seterr(RH_ERR_CORRUPT, "lvm: LV %s: %zu stripes listed, %lld declared "
						 "for %lld extents", lv->name, pairs, (long long)stripes,
						 (long long)count);
			per = (uint64_t)(count / stripes);
			if (here > LVM_MAX_AREAS)
				return rh_seterr(RH_ERR_UNSUPPORTED, "lvm: LV %s: too many stripes on one PV",
						 lv->name);
			for (size_t i = 0; i < here; i++) {
				rc = add_area(lv, pv, pes[i], per);
				if (rc < 0)
					return rc;
			}
			any_here = here > 0;
			if (stripes == 1 && here == 1) {
				seg->linear_here = true;
				seg->pe = pe;
			}
		} else {
			/* Other segment types (mirror, raid, thin, cache, snapshot,
			 * error, zero) name sub-LVs; any PV areas they name directly
			 * are taken whole. */
			for (const struct lvm_node *a = s->child; a != NULL; a = a->next) {
				uint64_t pes[LVM_MAX_AREAS], pe;
				size_t pairs, here;

				if (a->type != LVM_ARRAY || a->child == NULL || a->child->type != LVM_STR)
					continue;
				if (scan_pairs(a, pv, &pairs, &here, &pe, pes, LVM_MAX_AREAS) < 0) {
					rh_clearerr();
					continue; /* a list of names, not areas */
				}
				for (size_t i = 0; i < here && i < LVM_MAX_AREAS; i++) {
					rc = add_area(lv, pv, pes[i], (uint64_t)count);
					if (rc < 0)
						return rc;
				}
				any_here = any_here || here > 0;
			}
		}
		(void)any_here;
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
			char detail[512];

			snprintf(detail, sizeof detail, "%s", rh_lasterr());
			rh_seterr(rc, "LV %s: %s", name, detail);
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

/* Find this PV in the VG's physical_volumes section. */
static int lvm_find_pv(const struct lvm_node *vg, const struct lvm_label *l, uint64_t vol_size,
		       struct lvm_pv *pv)
{
	const struct lvm_node *pvs = lvm_text_get(vg, "physical_volumes");
	int64_t ext, start, count;
	uint64_t end;
	int rc;

	memset(pv, 0, sizeof *pv);
	rc = lvm_text_int(vg, "extent_size", 1, (int64_t)1 << 40, &ext);
	if (rc < 0)
		return rc;
	if (pvs == NULL || pvs->type != LVM_SECTION)
		return rh_seterr(RH_ERR_PARSE, "lvm: VG without physical_volumes");
	for (const struct lvm_node *p = pvs->child; p != NULL; p = p->next) {
		const char *id = lvm_text_str(p, "id");

		if (p->type != LVM_SECTION || id == NULL || !id_equal(id, l->uuid))
			continue;
		rc = lvm_text_int(p, "pe_start", 0, INT64_MAX / LVM_SECTOR, &start);
		if (rc == 0)
			rc = lvm_text_int(p, "pe_count", 0, INT64_MAX, &count);
		if (rc < 0)
			return rc;
		pv->key = p->key;
		pv->extent = (uint64_t)ext * LVM_SECTOR;
		pv->pe_start = (uint64_t)start * LVM_SECTOR;
		pv->pe_count = (uint64_t)count;
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
	uint8_t first[LVM_LABEL_SCAN * LVM_SECTOR];
	struct lvm_label l;
	struct lvm_node *root = NULL;
	const struct lvm_node *vg = NULL, *lvs;
	struct lvm_lv lv = { 0 };
	struct lvm_pv pv;
	char *text = NULL;
	int sector, rc;

	*bsize = 0;
	rc = um_read(v, first, (size_t)RH_MIN((uint64_t)sizeof first, v->size), 0, "lvm label");
	if (rc < 0)
		return rc;
	sector = label_sector(first, (size_t)RH_MIN((uint64_t)sizeof first, v->size));
	if (sector < 0)
		return rh_seterr(RH_ERR_CORRUPT, "lvm: no PV label");
	rc = lvm_validate_label(first + (size_t)sector * LVM_SECTOR, (uint64_t)sector, v->size, &l);
	if (rc < 0)
		return rc;

	/* Label, metadata and boot loader areas, and everything before the
	 * data area. */
	rc = rh_extents_add(x, 0, l.data[0].off);
	for (size_t i = 0; rc == 0 && i < l.nmda; i++)
		rc = rh_extents_add(x, l.mda[i].off, l.mda[i].size);
	for (size_t i = 0; rc == 0 && i < l.nba; i++)
		rc = rh_extents_add(x, l.ba[i].off, l.ba[i].size);
	if (rc < 0)
		return rc;

	for (size_t i = 0; i < l.nmda && text == NULL; i++) {
		rc = lvm_read_mda(v, &l.mda[i], &text);
		if (rc < 0) {
			if (rc == RH_ERR_IO || rc == RH_ERR_NOMEM || i + 1 == l.nmda)
				goto out;
			rh_clearerr(); /* try the next copy */
			rc = 0;
		}
	}
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
	rc = lvm_text_parse(text, strlen(text), &root);
	if (rc < 0)
		goto out;
	for (const struct lvm_node *n = root->child; n != NULL; n = n->next)
		if (n->type == LVM_SECTION) {
			vg = n;
			break;
		}
	if (vg == NULL) {
		rc = rh_seterr(RH_ERR_PARSE, "lvm: metadata holds no VG");
		goto out;
	}
	rc = lvm_find_pv(vg, &l, v->size, &pv);
	if (rc < 0)
		goto out;
	if (pv.pe_start < l.data[0].off)
		usedmap_note(c->map, "lvm: pe_start below the label's data area");
	rc = rh_extents_add(x, 0, RH_MIN(pv.pe_start, v->size));
	if (rc < 0)
		goto out;
	lvs = lvm_text_get(vg, "logical_volumes");
	for (const struct lvm_node *n = lvs ? lvs->child : NULL; n != NULL; n = n->next) {
		if (n->type != LVM_SECTION)
			continue;
		rc = lvm_parse_lv(n, &pv, &lv);
		if (rc == 0)
			rc = lvm_check_segs(&lv);
		if (rc == 0 && lv.nareas > 0)
			rc = lvm_map_lv(c, v, &pv, vg->key, &lv, x);
		lv_clear(&lv);
		if (rc < 0)
			goto out;
	}
	*bsize = (uint32_t)RH_MIN(pv.extent, (uint64_t)UINT32_MAX);
	rc = 0;
out:
	lv_clear(&lv);
	lvm_text_free(root);
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
