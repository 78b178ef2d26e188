/*
 * vmdk: VMware hosted sparse extents ("Virtual Disk Format 5.0"),
 * monolithicSparse and streamOptimized. All fields are little-endian; the
 * magic reads "KDMV".
 *
 * A sparse extent has a 512-byte header, an embedded text descriptor, a
 * grain directory (GD) of grain-table (GT) sector offsets, GTs of grain
 * sector offsets and the grains. monolithicSparse keeps a redundant GD and
 * GTs; streamOptimized compresses each grain (zlib) behind a marker holding
 * its LBA and size, writes each GT and the GD behind a marker after the
 * grains, and ends with a footer (a copy of the header with the real GD
 * offset) and an end-of-stream marker.
 *
 * vmdk_parse_header() validates a header (or the footer's copy), and
 * gte_problem() every GT entry before a GT is cached.
 */
#define RH_LOG_COMPONENT "img"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "img-internal.h"
#include "rehost/checked.h"
#include "rehost/endian.h"
#include "rehost/err.h"
#include "rehost/log.h"

#define VMDK_MAGIC 0x564d444bu        /* "KDMV" little-endian */
#define VMDK_SECTOR 512u
#define FLAG_NL_DETECT (1u << 0)
#define FLAG_RGD (1u << 1)
#define FLAG_ZERO_GRAIN (1u << 2)
#define FLAG_COMPRESS (1u << 16)
#define FLAG_MARKER (1u << 17)
#define GD_AT_END UINT64_MAX
#define GTE_ZEROED 1u
#define COMPRESS_DEFLATE 1u
#define MARKER_EOS 0u
#define MARKER_GT 1u
#define MARKER_GD 2u
#define MARKER_FOOTER 3u
#define VMDK_MAX_GRAIN_SECTORS 4096u   /* 2 MiB */
#define VMDK_MAX_GTES 512u             /* as QEMU */
#define VMDK_MAX_GD_ENTRIES (8u << 20)
#define VMDK_MAX_DESC_SECTORS 2048u    /* 1 MiB */
#define VMDK_DESC_SECTORS 20u
#define VMDK_GRAIN_SECTORS 128u        /* 64 KiB, what we write */
#define VMDK_JOB_UNITS 16u

struct vmdk {
	uint32_t version, flags;
	bool compressed, markers, zero_grain;
	uint64_t capacity;        /* sectors */
	uint64_t grain_sectors, grain_bytes;
	uint32_t gtes;            /* entries per GT */
	uint64_t desc_offset, desc_size, rgd_offset, gd_offset, overhead; /* sectors */
	bool unclean;
	uint32_t gd_entries;
	uint32_t *gd;             /* validated, host order */
	char create_type[40];
	struct img_tcache gtcache; /* keyed by GT sector; validated entries */
	uint8_t *gbuf;            /* decompressed grain */
	uint64_t gbuf_sector;     /* grain in gbuf, 0 = none */
	uint8_t *zin;             /* compressed input */
	size_t zin_size;
	struct img_dctx *dctx;
};

static int corrupt(const struct rh_img *img, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int corrupt(const struct rh_img *img, const char *fmt, ...)
{
	char msg[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	return rh_seterr(RH_ERR_CORRUPT, "%s: vmdk: %s", img->name, msg);
}

static int vmdk_probe(const uint8_t *head, size_t n, const uint8_t *tail, uint64_t file_size)
{
	return n >= 4 && rh_le32dec(head) == VMDK_MAGIC ? 100 : 0;
}

/* Sector count to bytes, or false when it does not fit the file. */
static bool sectors_in_file(uint64_t sector, uint64_t bytes, uint64_t file_size)
{
	uint64_t off;

	if (RH_MUL_OVERFLOW(sector, (uint64_t)VMDK_SECTOR, &off))
		return false;
	return rh_range_ok(off, bytes, file_size);
}

/* Validate one header (h: 512 bytes read from where) into v. */
static int vmdk_parse_header(struct rh_img *img, struct vmdk *v, const uint8_t *h, const char *where)
{
	uint64_t per_gd, gd_entries;

	if (rh_le32dec(h) != VMDK_MAGIC)
		return corrupt(img, "bad magic 0x%08x in the %s", rh_le32dec(h), where);
	v->version = rh_le32dec(h + 4);
	if (v->version < 1 || v->version > 3)
		return rh_seterr(RH_ERR_UNSUPPORTED, "%s: vmdk version %u is not supported", img->name,
				 v->version);
	v->flags = rh_le32dec(h + 8);
	v->capacity = rh_le64dec(h + 12);
	v->grain_sectors = rh_le64dec(h + 20);
	v->desc_offset = rh_le64dec(h + 28);
	v->desc_size = rh_le64dec(h + 36);
	v->gtes = rh_le32dec(h + 44);
	v->rgd_offset = rh_le64dec(h + 48);
	v->gd_offset = rh_le64dec(h + 56);
	v->overhead = rh_le64dec(h + 64);
	v->unclean = h[72] != 0;
	v->compressed = rh_le16dec(h + 77) == COMPRESS_DEFLATE;
	v->markers = (v->flags & FLAG_MARKER) != 0;
	v->zero_grain = (v->flags & FLAG_ZERO_GRAIN) != 0;
	if (rh_le16dec(h + 77) > COMPRESS_DEFLATE)
		return rh_seterr(RH_ERR_UNSUPPORTED, "%s: vmdk compression algorithm %u is not supported",
				 img->name, rh_le16dec(h + 77));
	if ((v->flags & FLAG_NL_DETECT) && memcmp(h + 73, "\n \r\n", 4) != 0)
		return corrupt(img, "newline check bytes in the %s are damaged (copied in text mode?)", where);
	if (v->capacity == 0)
		return rh_seterr(RH_ERR_UNSUPPORTED,
				 "%s: vmdk without capacity (a descriptor for separate extent files) is not supported; use a monolithic image",
				 img->name);
	if (v->capacity > RH_IMG_MAX_SIZE / VMDK_SECTOR)
		return rh_seterr(RH_ERR_TOOBIG, "%s: vmdk capacity of %llu sectors exceeds the limit of %llu bytes",
				 img->name, (unsigned long long)v->capacity,
				 (unsigned long long)RH_IMG_MAX_SIZE);
	if (v->grain_sectors == 0 || v->grain_sectors > VMDK_MAX_GRAIN_SECTORS ||
	    (v->grain_sectors & (v->grain_sectors - 1)))
		return corrupt(img, "grain size of %llu sectors is not a power of two up to %u",
			       (unsigned long long)v->grain_sectors, VMDK_MAX_GRAIN_SECTORS);
	v->grain_bytes = v->grain_sectors * VMDK_SECTOR;
	if (v->gtes == 0 || v->gtes > VMDK_MAX_GTES)
		return corrupt(img, "%u entries per grain table outside 1..%u", v->gtes, VMDK_MAX_GTES);
	if (v->desc_size > VMDK_MAX_DESC_SECTORS)
		return rh_seterr(RH_ERR_TOOBIG, "%s: vmdk descriptor of %llu sectors exceeds %u", img->name,
				 (unsigned long long)v->desc_size, VMDK_MAX_DESC_SECTORS);
	if (v->desc_size > 0 && !sectors_in_file(v->desc_offset, v->desc_size * VMDK_SECTOR, img->file_size))
		return corrupt(img, "descriptor at sector %llu lies beyond the end of the file",
			       (unsigned long long)v->desc_offset);
	if (v->overhead > img->file_size / VMDK_SECTOR)
		return corrupt(img, "file truncated: %llu bytes, the grains start at %llu",
			       (unsigned long long)img->file_size,
			       (unsigned long long)(v->overhead * VMDK_SECTOR));
	per_gd = v->grain_sectors * v->gtes;
	gd_entries = v->capacity / per_gd + (v->capacity % per_gd != 0);
	if (gd_entries > VMDK_MAX_GD_ENTRIES)
		return rh_seterr(RH_ERR_TOOBIG, "%s: vmdk grain directory of %llu entries exceeds the limit",
				 img->name, (unsigned long long)gd_entries);
	v->gd_entries = (uint32_t)gd_entries;
	if (v->gd_offset != GD_AT_END &&
	    !sectors_in_file(v->gd_offset, (uint64_t)v->gd_entries * 4, img->file_size))
		return corrupt(img, "grain directory at sector %llu (%u entries) lies beyond the end of the file",
			       (unsigned long long)v->gd_offset, v->gd_entries);
	if ((v->flags & FLAG_RGD) && v->gd_offset != GD_AT_END &&
	    !sectors_in_file(v->rgd_offset, (uint64_t)v->gd_entries * 4, img->file_size))
		return corrupt(img, "redundant grain directory at sector %llu lies beyond the end of the file",
			       (unsigned long long)v->rgd_offset);
	return 0;
}

/* streamOptimized: the footer marker, footer header and end-of-stream
 * marker in the last three sectors. */
static int read_footer(struct rh_img *img, struct vmdk *v)
{
	uint8_t f[3 * VMDK_SECTOR];
	int rc;

	if (img->file_size < sizeof f + VMDK_SECTOR)
		return corrupt(img, "grain directory is at the end but the file has no footer");
	if ((rc = img_read_at(img, f, sizeof f, img->file_size - sizeof f, "footer")) < 0)
		return rc;
	if (rh_le32dec(f + 8) != 0 || rh_le32dec(f + 12) != MARKER_FOOTER ||
	    !img_is_zero(f + 2 * VMDK_SECTOR, 16))
		return corrupt(img, "streamOptimized footer or end-of-stream marker is missing (truncated image?)");
	if ((rc = vmdk_parse_header(img, v, f + VMDK_SECTOR, "footer")) < 0)
		return rc;
	if (v->gd_offset == GD_AT_END)
		return corrupt(img, "the footer does not locate the grain directory");
	return 0;
}

/* Read the embedded descriptor (bounded) for its createType. */
static int read_descriptor(struct rh_img *img, struct vmdk *v)
{
	char *d, *p, *q;
	size_t n = (size_t)(v->desc_size * VMDK_SECTOR);
	int rc;

	if (n == 0)
		return 0;
	d = img_calloc(1, n + 1);
	if (d == NULL)
		return RH_ERR_NOMEM;
	if ((rc = img_read_at(img, d, n, v->desc_offset * VMDK_SECTOR, "descriptor")) < 0) {
		free(d);
		return rc;
	}
	p = strstr(d, "createType=\"");
	if (p != NULL) {
		p += strlen("createType=\"");
		q = strchr(p, '"');
		if (q != NULL && (size_t)(q - p) < sizeof v->create_type) {
			bool ok = true;

			for (char *c = p; c < q; c++)
				ok = ok && ((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
					    (*c >= '0' && *c <= '9') || *c == '_' || *c == '-');
			if (ok)
				snprintf(v->create_type, sizeof v->create_type, "%.*s", (int)(q - p), p);
		}
	}
	free(d);
	return 0;
}

static void vmdk_close(struct rh_img *img)
{
	struct vmdk *v = img->priv;

	if (v == NULL)
		return;
	img_tcache_free(&v->gtcache);
	free(v->gd);
	free(v->gbuf);
	free(v->zin);
	img_dctx_free(v->dctx);
	free(v);
	img->priv = NULL;
}

/* What is wrong with a GD entry, or NULL. */
static const char *gde_problem(const struct rh_img *img, const struct vmdk *v, uint32_t e)
{
	if (e != 0 && !sectors_in_file(e, (uint64_t)v->gtes * 4, img->file_size))
		return "grain table lies beyond the end of the file";
	return NULL;
}

/* What is wrong with a GT entry, or NULL. */
static const char *gte_problem(const struct rh_img *img, const struct vmdk *v, uint32_t e)
{
	if (e == 0 || (e == GTE_ZEROED && v->zero_grain))
		return NULL;
	if (v->compressed) {
		if (!sectors_in_file(e, v->markers ? 12 : 1, img->file_size))
			return "compressed grain lies beyond the end of the file";
		return NULL;
	}
	if (!sectors_in_file(e, v->grain_bytes, img->file_size))
		return "grain lies beyond the end of the file";
	return NULL;
}

static int vmdk_open(struct rh_img *img)
{
	uint8_t h[VMDK_SECTOR], *raw = NULL;
	struct vmdk *v;
	int rc;

	if (img->file_size < VMDK_SECTOR)
		return corrupt(img, "file of %llu bytes is shorter than a header",
			       (unsigned long long)img->file_size);
	v = img_calloc(1, sizeof *v);
	if (v == NULL)
		return RH_ERR_NOMEM;
	img->priv = v;
	if ((rc = img_read_at(img, h, sizeof h, 0, "header")) < 0 ||
	    (rc = vmdk_parse_header(img, v, h, "header")) < 0)
		goto fail;
	if (v->gd_offset == GD_AT_END && (rc = read_footer(img, v)) < 0)
		goto fail;
	if ((rc = read_descriptor(img, v)) < 0)
		goto fail;
	if (v->create_type[0] == '\0')
		snprintf(v->create_type, sizeof v->create_type, "%s",
			 v->compressed ? "streamOptimized" : "monolithicSparse");
	img->size = v->capacity * VMDK_SECTOR;
	v->gd = img_calloc(v->gd_entries, sizeof *v->gd);
	raw = img_calloc(v->gd_entries, 4);
	if (v->gd == NULL || raw == NULL) {
		rc = RH_ERR_NOMEM;
		goto fail;
	}
	if ((rc = img_read_at(img, raw, (size_t)v->gd_entries * 4, v->gd_offset * VMDK_SECTOR,
			      "grain directory")) < 0)
		goto fail;
	for (uint32_t i = 0; i < v->gd_entries; i++) {
		const char *why;

		v->gd[i] = rh_le32dec(raw + (size_t)i * 4);
		if ((why = gde_problem(img, v, v->gd[i])) != NULL) {
			rc = corrupt(img, "grain directory entry %u (sector %u): %s", i, v->gd[i], why);
			goto fail;
		}
	}
	v->zin_size = (size_t)v->grain_bytes * 2 + VMDK_SECTOR;
	v->gbuf = img_calloc(1, (size_t)v->grain_bytes);
	v->zin = img_calloc(1, v->zin_size);
	if (v->gbuf == NULL || v->zin == NULL) {
		rc = RH_ERR_NOMEM;
		goto fail;
	}
	if ((rc = img_dctx_new(&v->dctx)) < 0)
		goto fail;
	free(raw);
	return 0;
fail:
	free(raw);
	vmdk_close(img);
	return rc;
}

static int gt_get(struct rh_img *img, struct vmdk *v, uint32_t sector, const uint32_t **table)
{
	struct img_tslot *victim;
	uint32_t *t;
	uint8_t *raw;
	int rc;

	*table = img_tcache_get(&v->gtcache, sector, (size_t)v->gtes * 4, &victim);
	if (*table != NULL)
		return 0;
	if (victim == NULL)
		return RH_ERR_NOMEM;
	t = victim->t;
	raw = (uint8_t *)t;
	if ((rc = img_read_at(img, raw, (size_t)v->gtes * 4, (uint64_t)sector * VMDK_SECTOR,
			      "grain table")) < 0)
		return rc;
	for (uint32_t i = 0; i < v->gtes; i++) {
		uint32_t e = rh_le32dec(raw + (size_t)i * 4);
		const char *why = gte_problem(img, v, e);

		if (why != NULL)
			return corrupt(img, "grain table at sector %u, entry %u (sector %u): %s", sector, i,
				       e, why);
		t[i] = e;
	}
	img_tcache_put(&v->gtcache, victim, sector);
	*table = t;
	return 0;
}

/* GT entry of grain g; *span grains share an absent GT (1 otherwise). */
static int grain_entry(struct rh_img *img, struct vmdk *v, uint64_t g, uint32_t *e, uint64_t *span)
{
	uint64_t gdi = g / v->gtes;
	const uint32_t *t;
	int rc;

	*e = 0;
	*span = 1;
	if (gdi >= v->gd_entries)
		return corrupt(img, "grain %llu has no directory entry", (unsigned long long)g);
	if (v->gd[gdi] == 0) {
		*span = v->gtes - g % v->gtes;
		return 0;
	}
	if ((rc = gt_get(img, v, v->gd[gdi], &t)) < 0)
		return rc;
	*e = t[g % v->gtes];
	return 0;
}

static bool gte_is_data(const struct vmdk *v, uint32_t e)
{
	return e != 0 && !(e == GTE_ZEROED && v->zero_grain);
}

/* Read and inflate the compressed grain g stored at sector e. */
static int load_compressed(struct rh_img *img, struct vmdk *v, uint64_t g, uint32_t e)
{
	uint64_t off = (uint64_t)e * VMDK_SECTOR, start = g * v->grain_bytes;
	size_t in_len, have, need, produced;
	const uint8_t *data;
	int rc;

	if (v->gbuf_sector == e)
		return 0;
	v->gbuf_sector = 0;
	have = (size_t)RH_MIN((uint64_t)v->zin_size, img->file_size - off);
	if ((rc = img_read_at(img, v->zin, have, off, "compressed grain")) < 0)
		return rc;
	data = v->zin;
	in_len = have;
	if (v->markers) {
		uint32_t size = rh_le32dec(v->zin + 8);

		if (have < 12 || size == 0 || size > have - 12)
			return corrupt(img, "grain marker at sector %u claims %u bytes of data", e, size);
		data = v->zin + 12;
		in_len = size;
	}
	rc = img_inflate_zlib(v->dctx, data, in_len, v->gbuf, (size_t)v->grain_bytes, &produced);
	need = (size_t)RH_MIN(v->grain_bytes, img->size - start);
	if (rc < 0 || produced < need)
		return corrupt(img, "compressed grain at sector %u: %s", e,
			       rc < 0 ? rh_lasterr() : "decodes to less than a grain");
	memset(v->gbuf + produced, 0, (size_t)v->grain_bytes - produced);
	v->gbuf_sector = e;
	return 0;
}

static int vmdk_read(struct rh_img *img, void *buf, size_t len, uint64_t off)
{
	struct vmdk *v = img->priv;
	uint8_t *p = buf;
	int rc;

	while (len > 0) {
		uint64_t g = off / v->grain_bytes, in = off % v->grain_bytes, span;
		size_t n = (size_t)RH_MIN((uint64_t)len, v->grain_bytes - in);
		uint32_t e;

		if ((rc = grain_entry(img, v, g, &e, &span)) < 0)
			return rc;
		if (!gte_is_data(v, e)) {
			n = (size_t)RH_MIN((uint64_t)len, span * v->grain_bytes - in);
			memset(p, 0, n);
		} else if (v->compressed) {
			if ((rc = load_compressed(img, v, g, e)) < 0)
				return rc;
			memcpy(p, v->gbuf + in, n);
		} else {
			uint64_t host = (uint64_t)e * VMDK_SECTOR + in;

			while (n < len) {
				uint32_t e2;
				uint64_t span2;
				size_t more = (size_t)RH_MIN((uint64_t)(len - n), v->grain_bytes);

				if ((rc = grain_entry(img, v, g + 1, &e2, &span2)) < 0)
					return rc;
				if (!gte_is_data(v, e2) || (uint64_t)e2 * VMDK_SECTOR != host + n)
					break;
				g++;
				n += more;
			}
			if ((rc = img_read_at(img, p, n, host, "grain")) < 0)
				return rc;
		}
		p += n;
		off += n;
		len -= n;
	}
	return 0;
}

static int vmdk_status(struct rh_img *img, uint64_t off, uint64_t max, uint64_t *len, bool *data)
{
	struct vmdk *v = img->priv;
	uint64_t g = off / v->grain_bytes, done = 0, span;
	bool first = true;
	uint32_t e;
	int rc;

	while (done < max) {
		uint64_t in = (off + done) % v->grain_bytes;
		bool d;

		if ((rc = grain_entry(img, v, g, &e, &span)) < 0)
			return rc;
		d = gte_is_data(v, e);
		if (first) {
			*data = d;
			first = false;
		} else if (d != *data) {
			break;
		}
		done += span * v->grain_bytes - in;
		g += span;
	}
	*len = RH_MIN(done, max);
	return 0;
}

static int vmdk_info(struct rh_img *img, struct rh_img_info *info)
{
	struct vmdk *v = img->priv;
	uint64_t grains = v->capacity / v->grain_sectors + (v->capacity % v->grain_sectors != 0);
	int rc;

	snprintf(info->subformat, sizeof info->subformat, "%.31s", v->create_type);
	info->cluster_size = (uint32_t)v->grain_bytes;
	info->compression = v->compressed ? RH_IMG_COMPRESS_ZLIB : RH_IMG_COMPRESS_NONE;
	info->dirty = v->unclean;
	for (uint64_t g = 0; g < grains;) {
		uint64_t span;
		uint32_t e;

		if ((rc = grain_entry(img, v, g, &e, &span)) < 0)
			return rc;
		if (gte_is_data(v, e)) {
			info->data_bytes += RH_MIN(v->grain_bytes, img->size - g * v->grain_bytes);
			if (v->compressed)
				info->compressed_clusters++;
		}
		g += span;
	}
	return 0;
}

/* ---- check ---- */

struct vrange {
	uint64_t off, len;   /* bytes */
	uint64_t id;
	const char *what;
};

static int cmp_vrange(const void *a, const void *b)
{
	const struct vrange *x = a, *y = b;

	return x->off < y->off ? -1 : x->off > y->off;
}

struct vck {
	struct vrange *r;
	size_t n, cap;
};

static int add_range(struct vck *c, uint64_t off, uint64_t len, uint64_t id, const char *what)
{
	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 256;
		struct vrange *nr = realloc(c->r, cap * sizeof *nr);

		if (nr == NULL)
			return rh_seterr(RH_ERR_NOMEM, "out of memory");
		c->r = nr;
		c->cap = cap;
	}
	c->r[c->n++] = (struct vrange){ off, len, id, what };
	return 0;
}

/* Walk the GTs of a grain directory, reporting bad entries and recording
 * the ranges of the directory, its tables and (when record) the grains. */
static int check_gd(struct rh_img *img, struct vmdk *v, struct img_checker *ck, uint64_t gd_sector,
		    const char *label, struct vck *c, bool record)
{
	uint8_t *gd = NULL, *gt = NULL, mh[12];
	int rc;

	gd = img_calloc(v->gd_entries, 4);
	gt = img_calloc(v->gtes, 4);
	if (gd == NULL || gt == NULL) {
		rc = RH_ERR_NOMEM;
		goto out;
	}
	if ((rc = img_read_at(img, gd, (size_t)v->gd_entries * 4, gd_sector * VMDK_SECTOR, label)) < 0) {
		img_check_error(ck, "%s: %s", label, rh_lasterr());
		rc = 0;
		goto out;
	}
	if ((rc = add_range(c, gd_sector * VMDK_SECTOR, (uint64_t)v->gd_entries * 4, 0, label)) < 0)
		goto out;
	for (uint32_t i = 0; i < v->gd_entries; i++) {
		uint32_t ge = rh_le32dec(gd + (size_t)i * 4);
		const char *why = gde_problem(img, v, ge);

		if (why != NULL) {
			img_check_error(ck, "%s entry %u (sector %u): %s", label, i, ge, why);
			continue;
		}
		if (ge == 0)
			continue;
		if ((rc = add_range(c, (uint64_t)ge * VMDK_SECTOR, (uint64_t)v->gtes * 4, i,
				    record ? "grain table" : "redundant grain table")) < 0)
			goto out;
		if ((rc = img_read_at(img, gt, (size_t)v->gtes * 4, (uint64_t)ge * VMDK_SECTOR, "grain table")) < 0)
			goto out;
		for (uint32_t j = 0; j < v->gtes; j++) {
			uint32_t e = rh_le32dec(gt + (size_t)j * 4);
			uint64_t g = (uint64_t)i * v->gtes + j, len = v->grain_bytes;

			if ((why = gte_problem(img, v, e)) != NULL) {
				img_check_error(ck, "grain %llu (%s, table %u, entry %u, sector %u): %s",
						(unsigned long long)g, label, i, j, e, why);
				continue;
			}
			if (!gte_is_data(v, e) || !record)
				continue;
			if (g * v->grain_sectors >= v->capacity)
				img_check_leak(ck, "grain %llu lies past the capacity", (unsigned long long)g);
			if (v->compressed && v->markers) {
				uint64_t lba;
				uint32_t size;

				if ((rc = img_read_at(img, mh, sizeof mh, (uint64_t)e * VMDK_SECTOR, "grain marker")) < 0)
					goto out;
				lba = rh_le64dec(mh);
				size = rh_le32dec(mh + 8);
				if (lba != g * v->grain_sectors)
					img_check_error(ck, "grain %llu: marker at sector %u names LBA %llu, expected %llu",
							(unsigned long long)g, e, (unsigned long long)lba,
							(unsigned long long)(g * v->grain_sectors));
				if (size == 0 || size > v->zin_size - 12 ||
				    !sectors_in_file(e, 12 + (uint64_t)size, img->file_size)) {
					img_check_error(ck, "grain %llu: marker at sector %u claims %u bytes",
							(unsigned long long)g, e, size);
					continue;
				}
				len = (12 + (uint64_t)size + VMDK_SECTOR - 1) & ~(uint64_t)(VMDK_SECTOR - 1);
				len = RH_MIN(len, img->file_size - (uint64_t)e * VMDK_SECTOR);
				/* The data must decompress to a full grain. */
				if (g * v->grain_sectors < v->capacity && load_compressed(img, v, g, e) < 0)
					img_check_error(ck, "grain %llu: %s", (unsigned long long)g, rh_lasterr());
			} else if (v->compressed) {
				len = VMDK_SECTOR;
			}
			if ((rc = add_range(c, (uint64_t)e * VMDK_SECTOR, len, g, "grain")) < 0)
				goto out;
		}
	}
	rc = 0;
out:
	free(gd);
	free(gt);
	return rc;
}

static int compare_gds(struct rh_img *img, struct vmdk *v, struct img_checker *ck)
{
	uint8_t *a = NULL, *b = NULL, *ta = NULL, *tb = NULL;
	size_t gdb = (size_t)v->gd_entries * 4, gtb = (size_t)v->gtes * 4;
	int rc;

	a = img_calloc(1, gdb);
	b = img_calloc(1, gdb);
	ta = img_calloc(1, gtb);
	tb = img_calloc(1, gtb);
	if (a == NULL || b == NULL || ta == NULL || tb == NULL) {
		rc = RH_ERR_NOMEM;
		goto out;
	}
	if ((rc = img_read_at(img, a, gdb, v->gd_offset * VMDK_SECTOR, "grain directory")) < 0 ||
	    (rc = img_read_at(img, b, gdb, v->rgd_offset * VMDK_SECTOR, "redundant grain directory")) < 0)
		goto out;
	for (uint32_t i = 0; i < v->gd_entries; i++) {
		uint32_t ea = rh_le32dec(a + (size_t)i * 4), eb = rh_le32dec(b + (size_t)i * 4);

		if ((ea == 0) != (eb == 0)) {
			img_check_error(ck, "grain directory entry %u: primary %u, redundant %u", i, ea, eb);
			continue;
		}
		if (ea == 0 || gde_problem(img, v, ea) || gde_problem(img, v, eb))
			continue;
		if ((rc = img_read_at(img, ta, gtb, (uint64_t)ea * VMDK_SECTOR, "grain table")) < 0 ||
		    (rc = img_read_at(img, tb, gtb, (uint64_t)eb * VMDK_SECTOR, "redundant grain table")) < 0)
			goto out;
		if (memcmp(ta, tb, gtb) != 0)
			img_check_error(ck, "grain table %u differs from its redundant copy", i);
	}
	rc = 0;
out:
	free(a);
	free(b);
	free(ta);
	free(tb);
	return rc;
}

static int vmdk_check(struct rh_img *img, struct img_checker *ck)
{
	struct vmdk *v = img->priv;
	struct vck c = { 0 };
	int rc;

	if (v->unclean)
		img_check_warn(ck, "the image was not closed cleanly (unclean shutdown flag)");
	if ((rc = add_range(&c, 0, VMDK_SECTOR, 0, "header")) < 0)
		goto out;
	if (v->desc_size > 0 &&
	    (rc = add_range(&c, v->desc_offset * VMDK_SECTOR, v->desc_size * VMDK_SECTOR, 0, "descriptor")) < 0)
		goto out;
	if ((rc = check_gd(img, v, ck, v->gd_offset, "grain directory", &c, true)) < 0)
		goto out;
	if ((v->flags & FLAG_RGD) && !v->compressed) {
		if ((rc = check_gd(img, v, ck, v->rgd_offset, "redundant grain directory", &c, false)) < 0 ||
		    (rc = compare_gds(img, v, ck)) < 0)
			goto out;
	}
	qsort(c.r, c.n, sizeof *c.r, cmp_vrange);
	for (size_t i = 1; i < c.n; i++) {
		struct vrange *a = &c.r[i - 1], *b = &c.r[i];

		if (b->off < a->off + a->len) {
			if (strcmp(a->what, "grain") == 0 && strcmp(b->what, "grain") == 0)
				img_check_error(ck, "overlapping grains: grain %llu at sector %llu overlaps grain %llu",
						(unsigned long long)b->id, (unsigned long long)(b->off / VMDK_SECTOR),
						(unsigned long long)a->id);
			else
				img_check_error(ck, "%s %llu at sector %llu overlaps %s %llu at sector %llu",
						b->what, (unsigned long long)b->id,
						(unsigned long long)(b->off / VMDK_SECTOR), a->what,
						(unsigned long long)a->id, (unsigned long long)(a->off / VMDK_SECTOR));
		}
	}
	rc = 0;
out:
	free(c.r);
	return rc;
}

/* ---- writer ---- */

struct vmdk_w {
	bool stream;
	uint64_t capacity;       /* sectors */
	uint32_t gd_entries;
	uint64_t gd_sectors, gt_sectors;
	uint64_t rgd_offset, gd_offset, grain_offset; /* sectors (sparse) */
	uint8_t *gt;             /* current GT, little-endian entries */
	uint64_t gt_index;       /* UINT64_MAX = none */
	bool gt_dirty;
	uint8_t *gd;             /* stream: GD built as GTs are written */
	uint64_t end;            /* next free byte */
	struct img_pool *pool;   /* stream only */
	uint8_t meta[VMDK_SECTOR]; /* a marker sector */
};

static void put_marker(uint8_t *m, uint64_t val, uint32_t size, uint32_t type)
{
	memset(m, 0, VMDK_SECTOR);
	rh_le64enc(m, val);
	rh_le32enc(m + 8, size);
	rh_le32enc(m + 12, type);
}

static void build_header(const struct rh_img_writer *w, const struct vmdk_w *s, uint8_t *h,
			 uint64_t gd_offset)
{
	memset(h, 0, VMDK_SECTOR);
	rh_le32enc(h, VMDK_MAGIC);
	rh_le32enc(h + 4, s->stream ? 3 : 1);
	rh_le32enc(h + 8, s->stream ? (FLAG_NL_DETECT | FLAG_COMPRESS | FLAG_MARKER)
				    : (FLAG_NL_DETECT | FLAG_RGD));
	rh_le64enc(h + 12, s->capacity);
	rh_le64enc(h + 20, VMDK_GRAIN_SECTORS);
	rh_le64enc(h + 28, 1);
	rh_le64enc(h + 36, VMDK_DESC_SECTORS);
	rh_le32enc(h + 44, VMDK_MAX_GTES);
	rh_le64enc(h + 48, s->stream ? 0 : s->rgd_offset);
	rh_le64enc(h + 56, gd_offset);
	rh_le64enc(h + 64, s->grain_offset);
	memcpy(h + 73, "\n \r\n", 4);
	rh_le16enc(h + 77, s->stream ? COMPRESS_DEFLATE : 0);
}

static int write_descriptor(struct rh_img_writer *w, const struct vmdk_w *s)
{
	char d[VMDK_DESC_SECTORS * VMDK_SECTOR];
	const char *base = strrchr(w->name, '/');
	uint32_t cid = 0;
	int n;

	if (getrandom(&cid, sizeof cid, 0) != (ssize_t)sizeof cid)
		cid = (uint32_t)time(NULL);
	base = base ? base + 1 : w->name;
	memset(d, 0, sizeof d);
	n = snprintf(d, sizeof d,
		     "# Disk DescriptorFile\n"
		     "version=1\n"
		     "CID=%08x\n"
		     "parentCID=ffffffff\n"
		     "createType=\"%s\"\n"
		     "\n"
		     "# Extent description\n"
		     "RW %llu SPARSE \"%.200s\"\n"
		     "\n"
		     "# The Disk Data Base\n"
		     "#DDB\n"
		     "\n"
		     "ddb.virtualHWVersion = \"4\"\n"
		     "ddb.geometry.cylinders = \"%llu\"\n"
		     "ddb.geometry.heads = \"16\"\n"
		     "ddb.geometry.sectors = \"63\"\n"
		     "ddb.adapterType = \"ide\"\n",
		     cid, s->stream ? "streamOptimized" : "monolithicSparse",
		     (unsigned long long)s->capacity, base,
		     (unsigned long long)RH_MIN(s->capacity / (16 * 63), 16383ULL));
	if (n < 0 || (size_t)n >= sizeof d)
		return rh_seterr(RH_ERR_INTERNAL, "vmdk descriptor too long");
	return img_write_at(w->fd, d, sizeof d, VMDK_SECTOR);
}

static int vmdk_create(struct rh_img_writer *w)
{
	struct vmdk_w *s;
	uint64_t grains, gt_count;
	int rc;

	if (w->o.subformat != RH_IMG_SUB_DEFAULT && w->o.subformat != RH_IMG_SUB_VMDK_SPARSE &&
	    w->o.subformat != RH_IMG_SUB_VMDK_STREAM)
		return rh_seterr(RH_ERR_INVAL, "vmdk subformats are monolithicSparse and streamOptimized");
	s = img_calloc(1, sizeof *s);
	if (s == NULL)
		return RH_ERR_NOMEM;
	w->priv = s;
	s->stream = w->o.subformat == RH_IMG_SUB_VMDK_STREAM || w->o.compress;
	s->capacity = (w->size + VMDK_SECTOR - 1) / VMDK_SECTOR;
	w->size = s->capacity * VMDK_SECTOR;
	grains = s->capacity / VMDK_GRAIN_SECTORS + (s->capacity % VMDK_GRAIN_SECTORS != 0);
	gt_count = grains / VMDK_MAX_GTES + (grains % VMDK_MAX_GTES != 0);
	s->gd_entries = (uint32_t)gt_count;
	s->gt_sectors = VMDK_MAX_GTES * 4 / VMDK_SECTOR;
	s->gd_sectors = (gt_count * 4 + VMDK_SECTOR - 1) / VMDK_SECTOR;
	s->gt = img_calloc(VMDK_MAX_GTES, 4);
	if (s->gt == NULL)
		return RH_ERR_NOMEM;
	s->gt_index = UINT64_MAX;
	if (s->stream) {
		s->grain_offset = VMDK_GRAIN_SECTORS;
		s->gd = img_calloc(s->gd_sectors, VMDK_SECTOR);
		if (s->gd == NULL)
			return RH_ERR_NOMEM;
		rc = img_pool_new(IMG_CODEC_ZLIB, w->o.compression_level, VMDK_GRAIN_SECTORS * VMDK_SECTOR,
				  img_codec_bound(IMG_CODEC_ZLIB, w->o.compression_level,
						  VMDK_GRAIN_SECTORS * VMDK_SECTOR), 12,
				  w->o.threads ? w->o.threads : img_default_threads(), VMDK_JOB_UNITS,
				  &s->pool);
		if (rc < 0)
			return rc;
	} else {
		/* The layout qemu-img uses: descriptor, redundant GD and GTs,
		 * GD and GTs, then the grains from a grain boundary. */
		s->rgd_offset = 1 + VMDK_DESC_SECTORS;
		s->gd_offset = s->rgd_offset + s->gd_sectors + s->gt_sectors * gt_count;
		s->grain_offset = s->gd_offset + s->gd_sectors + s->gt_sectors * gt_count;
		s->grain_offset = (s->grain_offset + VMDK_GRAIN_SECTORS - 1) / VMDK_GRAIN_SECTORS *
				  VMDK_GRAIN_SECTORS;
	}
	if (s->grain_offset * VMDK_SECTOR + w->size > (1ULL << 32) * VMDK_SECTOR)
		rh_log_debug("%s: large vmdk: grains past 2 TiB of file cannot be addressed", w->name);
	s->end = s->grain_offset * VMDK_SECTOR;
	w->unit = VMDK_GRAIN_SECTORS * VMDK_SECTOR;
	img_out_init(&w->out, w->fd, s->end);
	return 0;
}

/* Write out the current GT. */
static int gt_flush(struct rh_img_writer *w)
{
	struct vmdk_w *s = w->priv;
	uint64_t gtb = VMDK_MAX_GTES * 4;
	int rc;

	if (s->gt_index == UINT64_MAX || !s->gt_dirty)
		return 0;
	s->gt_dirty = false;
	if (!s->stream) {
		uint64_t rgt = (s->rgd_offset + s->gd_sectors + s->gt_sectors * s->gt_index) * VMDK_SECTOR;
		uint64_t gt = (s->gd_offset + s->gd_sectors + s->gt_sectors * s->gt_index) * VMDK_SECTOR;

		if ((rc = img_write_at(w->fd, s->gt, gtb, rgt)) < 0 ||
		    (rc = img_write_at(w->fd, s->gt, gtb, gt)) < 0)
			return rc;
		return 0;
	}
	/* Stream: a GT marker, then the table, appended. */
	if ((rc = img_out_flush(&w->out)) < 0)
		return rc;
	put_marker(s->meta, s->gt_sectors, 0, MARKER_GT);
	if ((rc = img_out_append(&w->out, s->end, s->meta, VMDK_SECTOR)) < 0 ||
	    (rc = img_out_append(&w->out, s->end + VMDK_SECTOR, s->gt, gtb)) < 0 ||
	    (rc = img_out_flush(&w->out)) < 0)
		return rc;
	rh_le32enc(s->gd + s->gt_index * 4, (uint32_t)(s->end / VMDK_SECTOR + 1));
	s->end += VMDK_SECTOR + gtb;
	return 0;
}

/* Point grain g at the end of the file, where the caller writes it next.
 * Switching to another GT first writes out the current one (a stream
 * appends it, which moves the end). */
static int set_gte(struct rh_img_writer *w, uint64_t g)
{
	struct vmdk_w *s = w->priv;
	uint64_t sector;
	int rc;

	if (g / VMDK_MAX_GTES != s->gt_index) {
		if ((rc = gt_flush(w)) < 0)
			return rc;
		memset(s->gt, 0, VMDK_MAX_GTES * 4);
		s->gt_index = g / VMDK_MAX_GTES;
	}
	sector = s->end / VMDK_SECTOR;
	if (sector > UINT32_MAX)
		return rh_seterr(RH_ERR_TOOBIG, "%s: vmdk grain offsets are limited to 2 TiB of file", w->name);
	rh_le32enc(s->gt + (g % VMDK_MAX_GTES) * 4, (uint32_t)sector);
	s->gt_dirty = true;
	return 0;
}

/* Write the oldest finished job; 1 when one was written, 0 when none. */
static int stream_drain(struct rh_img_writer *w)
{
	struct vmdk_w *s = w->priv;
	size_t stride = img_pool_stride(s->pool);
	struct img_cjob *j;
	int rc;

	if ((rc = img_pool_pop(s->pool, &j)) < 0 || j == NULL)
		return rc;
	rc = 0;
	for (unsigned i = 0; i < j->count && rc == 0; i++) {
		uint8_t *m = j->out + i * stride;
		uint64_t g = j->index + i, total;

		if (j->len[i] == IMG_CLEN_ZERO)
			continue;
		if (j->len[i] == IMG_CLEN_RAW) {
			rc = rh_seterr(RH_ERR_INTERNAL, "grain %llu did not compress", (unsigned long long)g);
			break;
		}
		/* Marker: LBA and size, then the data, padded to a sector. */
		rh_le64enc(m, g * VMDK_GRAIN_SECTORS);
		rh_le32enc(m + 8, j->len[i]);
		total = (12 + (uint64_t)j->len[i] + VMDK_SECTOR - 1) & ~(uint64_t)(VMDK_SECTOR - 1);
		memset(m + 12 + j->len[i], 0, (size_t)(total - 12 - j->len[i]));
		if ((rc = set_gte(w, g)) < 0)
			break;
		if ((rc = img_out_append(&w->out, s->end, m, (size_t)total)) < 0)
			break;
		s->end += total;
	}
	if (rc == 0)
		rc = img_out_flush(&w->out);
	img_pool_release(s->pool, j);
	return rc < 0 ? rc : 1;
}

static int vmdk_write(struct rh_img_writer *w, uint64_t index, size_t count, const uint8_t *data)
{
	struct vmdk_w *s = w->priv;
	int rc;

	if (s->stream) {
		unsigned per = img_pool_job_units(s->pool);

		for (size_t i = 0; i < count;) {
			unsigned n = (unsigned)RH_MIN((size_t)per, count - i);

			while (!img_pool_can_push(s->pool))
				if ((rc = stream_drain(w)) < 0)
					return rc;
			if ((rc = img_pool_push(s->pool, index + i, n, data + i * w->unit)) < 0)
				return rc;
			i += n;
		}
		return 0;
	}
	for (size_t i = 0; i < count; i++) {
		const uint8_t *p = data + i * w->unit;

		if (img_is_zero(p, w->unit))
			continue;
		if ((rc = set_gte(w, index + i)) < 0 ||
		    (rc = img_out_append(&w->out, s->end, p, w->unit)) < 0)
			return rc;
		s->end += w->unit;
	}
	return img_out_flush(&w->out);
}

static int vmdk_finalize(struct rh_img_writer *w)
{
	struct vmdk_w *s = w->priv;
	uint8_t h[VMDK_SECTOR];
	uint8_t *gd = NULL;
	int rc;

	while (s->stream && (rc = stream_drain(w)) != 0)
		if (rc < 0)
			return rc;
	if ((rc = gt_flush(w)) < 0 || (rc = img_out_flush(&w->out)) < 0 ||
	    (rc = write_descriptor(w, s)) < 0)
		return rc;
	if (s->stream) {
		uint64_t gd_sector;

		put_marker(s->meta, s->gd_sectors, 0, MARKER_GD);
		if ((rc = img_write_at(w->fd, s->meta, VMDK_SECTOR, s->end)) < 0)
			return rc;
		gd_sector = s->end / VMDK_SECTOR + 1;
		if ((rc = img_write_at(w->fd, s->gd, s->gd_sectors * VMDK_SECTOR, gd_sector * VMDK_SECTOR)) < 0)
			return rc;
		s->end = (gd_sector + s->gd_sectors) * VMDK_SECTOR;
		put_marker(s->meta, 1, 0, MARKER_FOOTER);
		build_header(w, s, h, gd_sector);
		if ((rc = img_write_at(w->fd, s->meta, VMDK_SECTOR, s->end)) < 0 ||
		    (rc = img_write_at(w->fd, h, VMDK_SECTOR, s->end + VMDK_SECTOR)) < 0)
			return rc;
		put_marker(s->meta, 0, 0, MARKER_EOS);
		if ((rc = img_write_at(w->fd, s->meta, VMDK_SECTOR, s->end + 2 * VMDK_SECTOR)) < 0)
			return rc;
		s->end += 3 * VMDK_SECTOR;
		build_header(w, s, h, GD_AT_END);
		if ((rc = img_write_at(w->fd, h, VMDK_SECTOR, 0)) < 0)
			return rc;
	} else {
		gd = img_calloc(s->gd_sectors, VMDK_SECTOR);
		if (gd == NULL)
			return RH_ERR_NOMEM;
		for (uint32_t i = 0; i < s->gd_entries; i++)
			rh_le32enc(gd + (size_t)i * 4, (uint32_t)(s->rgd_offset + s->gd_sectors + s->gt_sectors * i));
		rc = img_write_at(w->fd, gd, s->gd_sectors * VMDK_SECTOR, s->rgd_offset * VMDK_SECTOR);
		for (uint32_t i = 0; rc == 0 && i < s->gd_entries; i++)
			rh_le32enc(gd + (size_t)i * 4, (uint32_t)(s->gd_offset + s->gd_sectors + s->gt_sectors * i));
		if (rc == 0)
			rc = img_write_at(w->fd, gd, s->gd_sectors * VMDK_SECTOR, s->gd_offset * VMDK_SECTOR);
		free(gd);
		if (rc < 0)
			return rc;
		build_header(w, s, h, s->gd_offset);
		if ((rc = img_write_at(w->fd, h, VMDK_SECTOR, 0)) < 0)
			return rc;
	}
	if (ftruncate(w->fd, (off_t)s->end) != 0)
		return rh_seterr_errno(errno, "%s: setting the file size", w->name);
	w->out.high = s->end;
	return 0;
}

static void vmdk_wfree(struct rh_img_writer *w)
{
	struct vmdk_w *s = w->priv;

	img_pool_free(s->pool);
	free(s->gt);
	free(s->gd);
	free(s);
	w->priv = NULL;
}

const struct img_ops img_vmdk_ops = {
	.struct_size = sizeof(struct img_ops),
	.format = RH_IMG_VMDK,
	.name = "vmdk",
	.probe = vmdk_probe,
	.open = vmdk_open,
	.close = vmdk_close,
	.read = vmdk_read,
	.status = vmdk_status,
	.info = vmdk_info,
	.check = vmdk_check,
	.create = vmdk_create,
	.write = vmdk_write,
	.finalize = vmdk_finalize,
	.wfree = vmdk_wfree,
};
