/*
 * vpc: Microsoft Virtual Hard Disk (VHD) images, fixed and dynamic
 * ("Virtual Hard Disk Image Format Specification" 1.0). All fields are
 * big-endian.
 *
 * Fixed: the data, then a 512-byte footer. Dynamic: a copy of the footer,
 * a 1 KiB dynamic header, the block allocation table (BAT), blocks (a sector
 * bitmap, MSB first, then block_size bytes of data) and the footer.
 *
 * The virtual size follows QEMU: images from creators that size disks by
 * CHS geometry (Virtual PC, QEMU and unknown ones) use the geometry; Hyper-V
 * style creators and images with the maximum geometry use current_size.
 * We write creator "rhst" with current_size equal to the geometry's size
 * (rounded up like qemu-img), or the maximum geometry with force_size.
 */
#define RH_LOG_COMPONENT "img"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "img-internal.h"
#include "rehost/checked.h"
#include "rehost/endian.h"
#include "rehost/err.h"
#include "rehost/log.h"

#define VHD_FOOTER 512u
#define VHD_DYNHDR 1024u
#define VHD_FIXED 2u
#define VHD_DYNAMIC 3u
#define VHD_DIFF 4u
#define VHD_BAT_FREE 0xffffffffu
#define VHD_MAX_GEOMETRY (65535ULL * 16 * 255)
#define VHD_MAX_SECTORS 0xff000000ULL   /* 2040 GiB, QEMU's limit */
#define VHD_MAX_BLOCK (256u << 20)
#define VHD_MAX_BAT_BYTES (64u << 20)
#define VHD_TIME_BASE 946684800LL        /* 2000-01-01T00:00:00Z */
#define VHD_BLOCK_DEFAULT (2u << 20)
#define VHD_FIXED_UNIT (64u << 10)

struct vpc {
	uint32_t type;
	uint8_t footer[VHD_FOOTER];   /* the footer in use */
	bool footer_at_end;           /* false: read from the copy at offset 0 */
	uint64_t data_end;            /* end of the area blocks may use */
	uint64_t dyn_offset, bat_offset;
	uint32_t block_size, bitmap_size, entries;
	uint32_t *bat;                /* host order */
	uint8_t *bitmap;              /* bitmap of bitmap_block */
	uint64_t bitmap_block;        /* UINT64_MAX = none */
	char creator[5];
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
	return rh_seterr(RH_ERR_CORRUPT, "%s: vpc: %s", img->name, msg);
}

/* One's complement of the byte sum, skipping the 4 checksum bytes at
 * skip. */
static uint32_t vhd_checksum(const uint8_t *p, size_t n, size_t skip)
{
	uint32_t sum = 0;

	for (size_t i = 0; i < n; i++)
		if (i < skip || i >= skip + 4)
			sum += p[i];
	return ~sum;
}

static bool is_footer(const uint8_t *p)
{
	return memcmp(p, "conectix", 8) == 0;
}

uint64_t img_vpc_chs(uint64_t sectors, uint16_t *cyls, uint8_t *heads, uint8_t *secs)
{
	uint64_t cth;

	sectors = RH_MIN(sectors, VHD_MAX_GEOMETRY);
	if (sectors >= 65535ULL * 16 * 63) {
		*secs = 255;
		*heads = 16;
		cth = sectors / *secs;
	} else {
		*secs = 17;
		cth = sectors / *secs;
		*heads = (uint8_t)RH_MAX((cth + 1023) / 1024, 4u);
		if (cth >= *heads * 1024ULL || *heads > 16) {
			*secs = 31;
			*heads = 16;
			cth = sectors / *secs;
		}
		if (cth >= *heads * 1024ULL) {
			*secs = 63;
			*heads = 16;
			cth = sectors / *secs;
		}
	}
	*cyls = (uint16_t)RH_MIN(cth / *heads, 65535u);
	return (uint64_t)*cyls * *heads * *secs;
}

static int vpc_probe(const uint8_t *head, size_t n, const uint8_t *tail, uint64_t file_size)
{
	if (n >= 8 && is_footer(head))
		return 100;
	if (tail != NULL && is_footer(tail))
		return 90;
	return 0;
}

/* Validate the footer at p (from offset where) and set the type and the
 * virtual size. */
static int parse_footer(struct rh_img *img, struct vpc *v, const uint8_t *p, const char *where)
{
	uint32_t sum = rh_be32dec(p + 64), want = vhd_checksum(p, VHD_FOOTER, 64);
	uint64_t cur = rh_be64dec(p + 48), chs, sectors;
	bool use_chs;

	if (!is_footer(p))
		return corrupt(img, "no footer cookie %s", where);
	if (sum != want)
		return corrupt(img, "footer %s has checksum 0x%08x, expected 0x%08x", where, sum, want);
	if ((rh_be32dec(p + 12) >> 16) != 1)
		return rh_seterr(RH_ERR_UNSUPPORTED, "%s: vpc: file format version 0x%08x", img->name,
				 rh_be32dec(p + 12));
	v->type = rh_be32dec(p + 60);
	if (v->type == VHD_DIFF)
		return rh_seterr(RH_ERR_UNSUPPORTED,
				 "%s: differencing VHDs need their parent; merge them first", img->name);
	if (v->type != VHD_FIXED && v->type != VHD_DYNAMIC)
		return corrupt(img, "disk type %u is neither fixed (2) nor dynamic (3)", v->type);
	memcpy(v->creator, p + 28, 4);
	v->creator[4] = '\0';
	chs = (uint64_t)rh_be16dec(p + 56) * p[58] * p[59];
	use_chs = memcmp(p + 28, "win ", 4) != 0 && memcmp(p + 28, "qem2", 4) != 0 &&
		  memcmp(p + 28, "d2v ", 4) != 0 && memcmp(p + 28, "CTXS", 4) != 0 &&
		  memcmp(p + 28, "tap", 4) != 0;
	sectors = (!use_chs || chs == VHD_MAX_GEOMETRY) ? cur / 512 : chs;
	if (sectors > VHD_MAX_SECTORS)
		return rh_seterr(RH_ERR_TOOBIG, "%s: vpc: virtual size of %llu sectors exceeds the VHD limit of 2040 GiB",
				 img->name, (unsigned long long)sectors);
	img->size = sectors * 512;
	memcpy(v->footer, p, VHD_FOOTER);
	return 0;
}

/* Validate the dynamic header and the BAT: the one place both are checked
 * before any block is read. */
static int load_dynamic(struct rh_img *img, struct vpc *v)
{
	uint8_t h[VHD_DYNHDR];
	uint64_t need, bat_bytes;
	uint8_t *raw = NULL;
	int rc;

	v->dyn_offset = rh_be64dec(v->footer + 16);
	if (v->dyn_offset < VHD_FOOTER || !rh_range_ok(v->dyn_offset, VHD_DYNHDR, v->data_end))
		return corrupt(img, "dynamic header offset %llu lies outside the file",
			       (unsigned long long)v->dyn_offset);
	if ((rc = img_read_at(img, h, sizeof h, v->dyn_offset, "dynamic header")) < 0)
		return rc;
	if (memcmp(h, "cxsparse", 8) != 0)
		return corrupt(img, "no dynamic header cookie at offset %llu",
			       (unsigned long long)v->dyn_offset);
	if (rh_be32dec(h + 36) != vhd_checksum(h, sizeof h, 36))
		return corrupt(img, "dynamic header checksum 0x%08x, expected 0x%08x", rh_be32dec(h + 36),
			       vhd_checksum(h, sizeof h, 36));
	v->bat_offset = rh_be64dec(h + 16);
	v->entries = rh_be32dec(h + 28);
	v->block_size = rh_be32dec(h + 32);
	if (v->block_size < 512 || v->block_size > VHD_MAX_BLOCK || (v->block_size & (v->block_size - 1)))
		return corrupt(img, "block size %u is not a power of two from 512 to %u", v->block_size,
			       VHD_MAX_BLOCK);
	v->bitmap_size = ((v->block_size / 512 + 7) / 8 + 511) & ~511u;
	need = img->size / v->block_size + (img->size % v->block_size != 0);
	if (v->entries < need)
		return corrupt(img, "BAT of %u entries cannot map a virtual size of %llu bytes", v->entries,
			       (unsigned long long)img->size);
	bat_bytes = (uint64_t)v->entries * 4;
	if (bat_bytes > VHD_MAX_BAT_BYTES)
		return rh_seterr(RH_ERR_TOOBIG, "%s: vpc: BAT of %u entries exceeds the limit", img->name,
				 v->entries);
	if (v->bat_offset < VHD_FOOTER || !rh_range_ok(v->bat_offset, bat_bytes, v->data_end))
		return corrupt(img, "BAT at offset %llu (%u entries) lies outside the file",
			       (unsigned long long)v->bat_offset, v->entries);
	v->bat = img_calloc(v->entries ? v->entries : 1, sizeof *v->bat);
	raw = img_calloc(1, (size_t)bat_bytes);
	if (v->bat == NULL || raw == NULL) {
		free(raw);
		return RH_ERR_NOMEM;
	}
	if ((rc = img_read_at(img, raw, (size_t)bat_bytes, v->bat_offset, "BAT")) < 0) {
		free(raw);
		return rc;
	}
	for (uint32_t i = 0; i < v->entries; i++) {
		uint32_t e = rh_be32dec(raw + (size_t)i * 4);
		uint64_t off = (uint64_t)e * 512;

		v->bat[i] = e;
		if (e == VHD_BAT_FREE)
			continue;
		if (!rh_range_ok(off, (uint64_t)v->bitmap_size + v->block_size, v->data_end)) {
			free(raw);
			return corrupt(img, "BAT entry %u: block at offset %llu lies beyond the end of the data",
				       i, (unsigned long long)off);
		}
	}
	free(raw);
	v->bitmap = img_calloc(1, v->bitmap_size);
	return v->bitmap ? 0 : RH_ERR_NOMEM;
}

static void vpc_close(struct rh_img *img)
{
	struct vpc *v = img->priv;

	if (v == NULL)
		return;
	free(v->bat);
	free(v->bitmap);
	free(v);
	img->priv = NULL;
}

static int vpc_open(struct rh_img *img)
{
	uint8_t end[VHD_FOOTER], start[VHD_FOOTER];
	struct vpc *v;
	int rc;

	if (img->file_size < VHD_FOOTER)
		return corrupt(img, "file of %llu bytes is shorter than a footer",
			       (unsigned long long)img->file_size);
	v = img_calloc(1, sizeof *v);
	if (v == NULL)
		return RH_ERR_NOMEM;
	img->priv = v;
	v->bitmap_block = UINT64_MAX;
	if ((rc = img_read_at(img, end, sizeof end, img->file_size - VHD_FOOTER, "footer")) < 0 ||
	    (rc = img_read_at(img, start, sizeof start, 0, "footer copy")) < 0)
		goto fail;
	if (is_footer(end)) {
		v->footer_at_end = true;
		v->data_end = img->file_size - VHD_FOOTER;
		rc = parse_footer(img, v, end, "at the end of the file");
	} else if (is_footer(start) && rh_be32dec(start + 60) == VHD_DYNAMIC) {
		/* The footer copy of a dynamic disk whose end was lost. */
		v->data_end = img->file_size;
		rc = parse_footer(img, v, start, "at offset 0");
	} else {
		rc = corrupt(img, "no VHD footer at the end of the file");
	}
	if (rc < 0)
		goto fail;
	if (v->type == VHD_FIXED) {
		if (img->size > v->data_end) {
			rc = corrupt(img, "fixed disk of %llu bytes but only %llu bytes of data (truncated?)",
				     (unsigned long long)img->size, (unsigned long long)v->data_end);
			goto fail;
		}
		return 0;
	}
	if ((rc = load_dynamic(img, v)) < 0)
		goto fail;
	return 0;
fail:
	vpc_close(img);
	return rc;
}

static int load_bitmap(struct rh_img *img, struct vpc *v, uint64_t block)
{
	int rc;

	if (v->bitmap_block == block)
		return 0;
	v->bitmap_block = UINT64_MAX;
	if ((rc = img_read_at(img, v->bitmap, v->bitmap_size, (uint64_t)v->bat[block] * 512,
			      "sector bitmap")) < 0)
		return rc;
	v->bitmap_block = block;
	return 0;
}

static bool sector_present(const struct vpc *v, uint64_t s)
{
	return (v->bitmap[s / 8] >> (7 - s % 8)) & 1;
}

static int vpc_read(struct rh_img *img, void *buf, size_t len, uint64_t off)
{
	struct vpc *v = img->priv;
	uint8_t *p = buf;
	int rc;

	if (v->type == VHD_FIXED)
		return img_read_at(img, buf, len, off, "data");
	while (len > 0) {
		uint64_t block = off / v->block_size, in = off % v->block_size;
		size_t n = (size_t)RH_MIN((uint64_t)len, v->block_size - in);

		if (v->bat[block] == VHD_BAT_FREE) {
			memset(p, 0, n);
		} else {
			uint64_t base = (uint64_t)v->bat[block] * 512 + v->bitmap_size;

			if ((rc = load_bitmap(img, v, block)) < 0)
				return rc;
			/* Runs of sectors with the same bitmap bit. */
			for (size_t done = 0; done < n;) {
				uint64_t s = (in + done) / 512;
				bool present = sector_present(v, s);
				size_t run = (size_t)RH_MIN((uint64_t)(n - done), (s + 1) * 512 - (in + done));

				while (done + run < n && sector_present(v, (in + done + run) / 512) == present)
					run += RH_MIN((size_t)512, n - done - run);
				if (present) {
					if ((rc = img_read_at(img, p + done, run, base + in + done, "block data")) < 0)
						return rc;
				} else {
					memset(p + done, 0, run);
				}
				done += run;
			}
		}
		p += n;
		off += n;
		len -= n;
	}
	return 0;
}

static int vpc_status(struct rh_img *img, uint64_t off, uint64_t max, uint64_t *len, bool *data)
{
	struct vpc *v = img->priv;
	uint64_t done = 0;

	if (v->type == VHD_FIXED)
		return img_raw_ops.status(img, off, max, len, data);
	*data = v->bat[off / v->block_size] != VHD_BAT_FREE;
	while (done < max) {
		uint64_t b = (off + done) / v->block_size;

		if ((v->bat[b] != VHD_BAT_FREE) != *data)
			break;
		done += v->block_size - (off + done) % v->block_size;
	}
	*len = RH_MIN(done, max);
	return 0;
}

static int vpc_info(struct rh_img *img, struct rh_img_info *info)
{
	struct vpc *v = img->priv;

	snprintf(info->subformat, sizeof info->subformat, "%s",
		 v->type == VHD_FIXED ? "fixed" : "dynamic");
	if (v->type == VHD_FIXED) {
		uint64_t off = 0, len;
		bool data;
		int rc;

		while (off < img->size) {
			if ((rc = vpc_status(img, off, img->size - off, &len, &data)) < 0)
				return rc;
			if (data)
				info->data_bytes += len;
			off += len;
		}
		return 0;
	}
	info->cluster_size = v->block_size;
	for (uint64_t b = 0; b < v->entries; b++) {
		uint64_t start = b * v->block_size;

		if (v->bat[b] != VHD_BAT_FREE && start < img->size)
			info->data_bytes += RH_MIN((uint64_t)v->block_size, img->size - start);
	}
	return 0;
}

/* ---- check ---- */

struct vrange {
	uint64_t off, len;
	uint64_t id;   /* block number, or UINT64_MAX for metadata */
	const char *what;
};

static int cmp_range(const void *a, const void *b)
{
	const struct vrange *x = a, *y = b;

	return x->off < y->off ? -1 : x->off > y->off;
}

static int vpc_check(struct rh_img *img, struct img_checker *ck)
{
	struct vpc *v = img->priv;
	uint8_t start[VHD_FOOTER];
	struct vrange *r = NULL;
	size_t n = 0;
	uint64_t need, pos;
	int rc;

	if (!v->footer_at_end)
		img_check_error(ck, "the footer at the end of the file is missing or damaged (truncated image?); using the copy at offset 0");
	if (v->type == VHD_FIXED)
		return 0;
	if ((rc = img_read_at(img, start, sizeof start, 0, "footer copy")) < 0)
		return rc;
	if (memcmp(start, v->footer, VHD_FOOTER) != 0)
		img_check_error(ck, "the footer copy at offset 0 differs from the footer at the end");
	if (rh_be64dec(start + 16) != v->dyn_offset)
		img_check_error(ck, "footer copy points to a different dynamic header");
	r = img_calloc((size_t)v->entries + 3, sizeof *r);
	if (r == NULL)
		return RH_ERR_NOMEM;
	r[n++] = (struct vrange){ 0, VHD_FOOTER, UINT64_MAX, "footer copy" };
	r[n++] = (struct vrange){ v->dyn_offset, VHD_DYNHDR, UINT64_MAX, "dynamic header" };
	r[n++] = (struct vrange){ v->bat_offset, ((uint64_t)v->entries * 4 + 511) & ~511ULL,
				  UINT64_MAX, "BAT" };
	need = img->size / v->block_size + (img->size % v->block_size != 0);
	for (uint64_t b = 0; b < v->entries; b++) {
		if (v->bat[b] == VHD_BAT_FREE)
			continue;
		if (b >= need)
			img_check_leak(ck, "BAT entry %llu maps a block past the virtual size",
				       (unsigned long long)b);
		if ((rc = load_bitmap(img, v, b)) < 0)
			goto out;
		if (img_is_zero(v->bitmap, v->bitmap_size))
			img_check_leak(ck, "block %llu is allocated but its sector bitmap is empty",
				       (unsigned long long)b);
		r[n++] = (struct vrange){ (uint64_t)v->bat[b] * 512, (uint64_t)v->bitmap_size + v->block_size,
					  b, "block" };
	}
	qsort(r, n, sizeof *r, cmp_range);
	pos = 0;
	for (size_t i = 0; i < n; i++) {
		if (i > 0 && r[i].off < r[i - 1].off + r[i - 1].len) {
			if (r[i].id != UINT64_MAX && r[i - 1].id != UINT64_MAX)
				img_check_error(ck, "overlapping blocks: block %llu at %llu overlaps block %llu",
						(unsigned long long)r[i].id, (unsigned long long)r[i].off,
						(unsigned long long)r[i - 1].id);
			else
				img_check_error(ck, "%s at %llu overlaps the %s at %llu", r[i].what,
						(unsigned long long)r[i].off, r[i - 1].what,
						(unsigned long long)r[i - 1].off);
		} else if (r[i].off > pos && pos > 0) {
			img_check_leak(ck, "%llu bytes at offset %llu are not used by any structure",
				       (unsigned long long)(r[i].off - pos), (unsigned long long)pos);
		}
		pos = RH_MAX(pos, r[i].off + r[i].len);
	}
	if (v->footer_at_end && pos < v->data_end)
		img_check_leak(ck, "%llu bytes before the footer are not used by any structure",
			       (unsigned long long)(v->data_end - pos));
	rc = 0;
out:
	free(r);
	return rc;
}

/* ---- writer ---- */

struct vpc_w {
	bool fixed;
	uint8_t footer[VHD_FOOTER];
	uint32_t block_size, bitmap_size, entries;
	uint32_t *bat;         /* host order */
	uint8_t *bitmap;       /* all ones */
	uint64_t bat_offset, end;
};

static void make_footer(struct rh_img_writer *w, struct vpc_w *s, uint16_t c, uint8_t h, uint8_t sc)
{
	uint8_t *f = s->footer;
	time_t now = time(NULL);
	uint8_t uuid[16];

	memset(f, 0, VHD_FOOTER);
	memcpy(f, "conectix", 8);
	rh_be32enc(f + 8, 2);
	rh_be32enc(f + 12, 0x00010000);
	rh_be64enc(f + 16, s->fixed ? UINT64_MAX : VHD_FOOTER);
	rh_be32enc(f + 24, (uint32_t)(now > VHD_TIME_BASE ? now - VHD_TIME_BASE : 0));
	memcpy(f + 28, "rhst", 4);
	rh_be32enc(f + 32, 0x00010000);
	memcpy(f + 36, "Lnx ", 4);
	rh_be64enc(f + 40, w->size);
	rh_be64enc(f + 48, w->size);
	rh_be16enc(f + 56, c);
	f[58] = h;
	f[59] = sc;
	rh_be32enc(f + 60, s->fixed ? VHD_FIXED : VHD_DYNAMIC);
	if (getrandom(uuid, sizeof uuid, 0) != (ssize_t)sizeof uuid) {
		uint64_t t = (uint64_t)now ^ ((uint64_t)getpid() << 32);

		memcpy(uuid, &t, 8);
		memcpy(uuid + 8, &w->size, 8);
	}
	uuid[6] = (uint8_t)((uuid[6] & 0x0f) | 0x40);
	uuid[8] = (uint8_t)((uuid[8] & 0x3f) | 0x80);
	memcpy(f + 68, uuid, 16);
	rh_be32enc(f + 64, vhd_checksum(f, VHD_FOOTER, 64));
}

static int vpc_create(struct rh_img_writer *w)
{
	struct vpc_w *s;
	uint64_t sectors = (w->size + 511) / 512, total;
	uint16_t c = 0;
	uint8_t h = 0, sc = 0;

	s = img_calloc(1, sizeof *s);
	if (s == NULL)
		return RH_ERR_NOMEM;
	w->priv = s;
	s->fixed = w->o.subformat == RH_IMG_SUB_VPC_FIXED;
	if (w->o.subformat != RH_IMG_SUB_DEFAULT && w->o.subformat != RH_IMG_SUB_VPC_FIXED &&
	    w->o.subformat != RH_IMG_SUB_VPC_DYNAMIC)
		return rh_seterr(RH_ERR_INVAL, "vpc subformats are dynamic and fixed");
	if (w->o.force_size) {
		c = 65535;
		h = 16;
		sc = 255;
	} else {
		/* As qemu-img: grow the sector count until the geometry covers
		 * it, so no data is cut off. */
		total = RH_MIN(VHD_MAX_GEOMETRY, sectors);
		for (uint64_t i = 0; total > (uint64_t)c * h * sc; i++)
			img_vpc_chs(total + i, &c, &h, &sc);
	}
	if ((uint64_t)c * h * sc != VHD_MAX_GEOMETRY)
		sectors = (uint64_t)c * h * sc;
	if (sectors > VHD_MAX_SECTORS)
		return rh_seterr(RH_ERR_TOOBIG, "%s: VHD images hold at most 2040 GiB", w->name);
	w->size = sectors * 512;
	make_footer(w, s, c, h, sc);
	if (s->fixed) {
		w->unit = VHD_FIXED_UNIT;
		img_out_init(&w->out, w->fd, 0);
		return 0;
	}
	s->block_size = VHD_BLOCK_DEFAULT;
	s->bitmap_size = ((s->block_size / 512 + 7) / 8 + 511) & ~511u;
	s->entries = (uint32_t)(w->size / s->block_size + (w->size % s->block_size != 0));
	s->bat = img_calloc(s->entries, sizeof *s->bat);
	s->bitmap = img_calloc(1, s->bitmap_size);
	if (s->bat == NULL || s->bitmap == NULL)
		return RH_ERR_NOMEM;
	memset(s->bitmap, 0xff, s->bitmap_size);
	for (uint32_t i = 0; i < s->entries; i++)
		s->bat[i] = VHD_BAT_FREE;
	s->bat_offset = VHD_FOOTER + VHD_DYNHDR;
	s->end = s->bat_offset + (((uint64_t)s->entries * 4 + 511) & ~511ULL);
	w->unit = s->block_size;
	img_out_init(&w->out, w->fd, s->end);
	return 0;
}

static int vpc_write(struct rh_img_writer *w, uint64_t index, size_t count, const uint8_t *data)
{
	struct vpc_w *s = w->priv;
	int rc;

	for (size_t i = 0; i < count; i++) {
		const uint8_t *p = data + i * w->unit;
		uint64_t off = (index + i) * w->unit;

		if (img_is_zero(p, w->unit))
			continue;
		if (s->fixed) {
			size_t len = (size_t)RH_MIN((uint64_t)w->unit, w->size - off);

			if ((rc = img_out_append(&w->out, off, p, len)) < 0)
				return rc;
			continue;
		}
		if (s->end / 512 >= VHD_BAT_FREE)
			return rh_seterr(RH_ERR_TOOBIG, "%s: VHD file offsets exceed the BAT's range", w->name);
		s->bat[index + i] = (uint32_t)(s->end / 512);
		if ((rc = img_out_append(&w->out, s->end, s->bitmap, s->bitmap_size)) < 0 ||
		    (rc = img_out_append(&w->out, s->end + s->bitmap_size, p, w->unit)) < 0)
			return rc;
		s->end += (uint64_t)s->bitmap_size + w->unit;
	}
	return img_out_flush(&w->out);
}

static int vpc_finalize(struct rh_img_writer *w)
{
	struct vpc_w *s = w->priv;
	uint8_t h[VHD_DYNHDR];
	uint8_t *bat = NULL;
	size_t bat_bytes;
	int rc;

	if (s->fixed) {
		if ((rc = img_write_at(w->fd, s->footer, VHD_FOOTER, w->size)) < 0)
			return rc;
		if (ftruncate(w->fd, (off_t)(w->size + VHD_FOOTER)) != 0)
			return rh_seterr_errno(errno, "%s: setting the file size", w->name);
		w->out.high = w->size + VHD_FOOTER;
		return 0;
	}
	bat_bytes = (size_t)(((uint64_t)s->entries * 4 + 511) & ~511ULL);
	bat = img_calloc(1, bat_bytes);
	if (bat == NULL)
		return RH_ERR_NOMEM;
	memset(bat, 0xff, bat_bytes);
	for (uint32_t i = 0; i < s->entries; i++)
		rh_be32enc(bat + (size_t)i * 4, s->bat[i]);
	memset(h, 0, sizeof h);
	memcpy(h, "cxsparse", 8);
	rh_be64enc(h + 8, UINT64_MAX);
	rh_be64enc(h + 16, s->bat_offset);
	rh_be32enc(h + 24, 0x00010000);
	rh_be32enc(h + 28, s->entries);
	rh_be32enc(h + 32, s->block_size);
	rh_be32enc(h + 36, vhd_checksum(h, sizeof h, 36));
	if ((rc = img_write_at(w->fd, bat, bat_bytes, s->bat_offset)) < 0 ||
	    (rc = img_write_at(w->fd, h, sizeof h, VHD_FOOTER)) < 0 ||
	    (rc = img_write_at(w->fd, s->footer, VHD_FOOTER, 0)) < 0 ||
	    (rc = img_write_at(w->fd, s->footer, VHD_FOOTER, s->end)) < 0)
		goto out;
	if (ftruncate(w->fd, (off_t)(s->end + VHD_FOOTER)) != 0) {
		rc = rh_seterr_errno(errno, "%s: setting the file size", w->name);
		goto out;
	}
	w->out.high = s->end + VHD_FOOTER;
out:
	free(bat);
	return rc;
}

static void vpc_wfree(struct rh_img_writer *w)
{
	struct vpc_w *s = w->priv;

	free(s->bat);
	free(s->bitmap);
	free(s);
	w->priv = NULL;
}

const struct img_ops img_vpc_ops = {
	.struct_size = sizeof(struct img_ops),
	.format = RH_IMG_VPC,
	.name = "vpc",
	.probe = vpc_probe,
	.open = vpc_open,
	.close = vpc_close,
	.read = vpc_read,
	.status = vpc_status,
	.prefetch = NULL,
	.info = vpc_info,
	.check = vpc_check,
	.create = vpc_create,
	.write = vpc_write,
	.finalize = vpc_finalize,
	.wfree = vpc_wfree,
};
