/*
 * qcow2 (docs/interop/qcow2.txt in QEMU): read version 2 and 3, write
 * version 3 with optional zlib or zstd compressed clusters.
 *
 * Reading: qcow2_parse_header() validates the header and its extensions,
 * qcow2_load_l1() and qcow2_load_reftable() the top-level tables, and
 * qcow2_l2_entry_problem() every L2 entry of a table before the table is
 * cached. Images with a backing file, encryption, an external data file or
 * extended L2 entries are refused as unsupported.
 *
 * Writing is one pass, front to back: cluster 0 holds the header; data
 * clusters (or packed compressed clusters) and each completed L2 table are
 * appended as they come; finalize appends the L1 table, the refcount
 * blocks and the refcount table (sized to cover themselves) and writes the
 * header. Every cluster allocated has refcount 1 and the COPIED flag, except
 * host clusters holding compressed data, whose refcount is the number of
 * compressed clusters overlapping them, as QEMU counts it.
 */
#define RH_LOG_COMPONENT "img"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "img-internal.h"
#include "rehost/checked.h"
#include "rehost/endian.h"
#include "rehost/err.h"
#include "rehost/log.h"

#define QCOW2_MAGIC 0x514649fbu
#define QCOW2_HDR_V2 72u
#define QCOW2_HDR_V3 104u
#define QCOW2_HDR_OURS 112u        /* with the compression type byte + padding */
#define QCOW2_MIN_CB 9u
#define QCOW2_MAX_CB 21u
#define QCOW2_MAX_L1_BYTES (32u << 20)
#define QCOW2_MAX_REFT_BYTES (8u << 20)
#define QCOW2_MAX_SNAPSHOTS 65536u
#define QCOW2_MAX_SNAP_EXTRA 1024u

#define L1E_OFFSET_MASK 0x00fffffffffffe00ULL
#define L1E_RESERVED 0x7f000000000001ffULL
#define L2E_OFFSET_MASK 0x00fffffffffffe00ULL
#define L2E_STD_RESERVED 0x3f000000000001feULL
#define REFT_OFFSET_MASK 0xfffffffffffffe00ULL
#define OFLAG_COPIED (1ULL << 63)
#define OFLAG_COMPRESSED (1ULL << 62)
#define OFLAG_ZERO 1ULL

#define INCOMPAT_DIRTY (1ULL << 0)
#define INCOMPAT_CORRUPT (1ULL << 1)
#define INCOMPAT_DATA_FILE (1ULL << 2)
#define INCOMPAT_COMPRESSION (1ULL << 3)
#define INCOMPAT_EXTL2 (1ULL << 4)
#define INCOMPAT_KNOWN (INCOMPAT_DIRTY | INCOMPAT_CORRUPT | INCOMPAT_COMPRESSION)
#define AUTOCLEAR_BITMAPS (1ULL << 0)

#define EXT_END 0u
#define EXT_BACKING_FORMAT 0xe2792acau
#define EXT_FEATURE_TABLE 0x6803f857u
#define EXT_BITMAPS 0x23852875u
#define EXT_CRYPTO 0x0537be77u
#define EXT_DATA_FILE 0x44415441u

enum { CT_ZLIB = 0, CT_ZSTD = 1 };

struct qcow2 {
	uint32_t version;
	uint32_t cluster_bits, cluster_size;
	uint64_t l2_entries;      /* entries per L2 table */
	uint64_t incompat, compat, autoclear;
	uint32_t header_length;
	int compression;          /* CT_ZLIB or CT_ZSTD */
	unsigned refcount_order;
	uint64_t l1_offset, l1_size;
	uint64_t *l1;             /* validated, host order */
	uint64_t reft_offset;
	uint32_t reft_clusters;
	uint64_t reft_entries;
	uint64_t *reft;           /* validated, host order */
	uint32_t nb_snapshots;
	uint64_t snapshots_offset;
	bool has_bitmaps;
	unsigned csize_shift;
	uint64_t csize_mask, coffset_mask;
	struct img_tcache l2cache; /* keyed by host offset; l2_entries validated entries, host order */
	uint8_t *cbuf;            /* decompressed cluster */
	uint64_t cbuf_entry;      /* L2 entry cbuf holds, 0 = none */
	uint8_t *zin;             /* compressed input, 2 clusters */
	struct img_dctx *dctx;
};

/* ---- classification of entries ---- */

static inline bool l2e_compressed(uint64_t e)
{
	return (e & OFLAG_COMPRESSED) != 0;
}

/* Host range of a compressed entry, as QEMU computes it. */
static void compressed_range(const struct qcow2 *q, uint64_t e, uint64_t *off, uint64_t *len)
{
	uint64_t nsec = ((e >> q->csize_shift) & q->csize_mask) + 1;

	*off = e & q->coffset_mask;
	*len = nsec * 512 - (*off & 511);
}

/* What is wrong with L1 entry e, or NULL. */
static const char *l1e_problem(const struct rh_img *img, const struct qcow2 *q, uint64_t e)
{
	uint64_t off = e & L1E_OFFSET_MASK;

	if (e & L1E_RESERVED)
		return "reserved bits are set";
	if (off & (q->cluster_size - 1))
		return "L2 table offset is not cluster aligned";
	if (off != 0 && !rh_range_ok(off, q->cluster_size, img->file_size))
		return "L2 table lies beyond the end of the file";
	if (off != 0 && off < q->cluster_size)
		return "L2 table overlaps the header";
	return NULL;
}

/* What is wrong with L2 entry e, or NULL: the one place L2 entries are
 * validated, for reads and for check alike. */
static const char *l2e_problem(const struct rh_img *img, const struct qcow2 *q, uint64_t e)
{
	if (l2e_compressed(e)) {
		uint64_t off, len;

		compressed_range(q, e, &off, &len);
		if (off >= img->file_size)
			return "compressed cluster lies beyond the end of the file";
		if (off < q->cluster_size)
			return "compressed cluster overlaps the header";
		return NULL;
	}
	uint64_t off = e & L2E_OFFSET_MASK;

	if (e & L2E_STD_RESERVED)
		return "reserved bits are set";
	if ((e & OFLAG_ZERO) && q->version < 3)
		return "zero flag in a version 2 image";
	if (off & (q->cluster_size - 1))
		return "data cluster offset is not cluster aligned";
	if (off != 0 && off >= img->file_size)
		return "data cluster lies beyond the end of the file";
	if (off != 0 && off < q->cluster_size)
		return "data cluster overlaps the header";
	return NULL;
}

/* ---- opening ---- */

static int qcow2_probe(const uint8_t *head, size_t n, const uint8_t *tail, uint64_t file_size)
{
	return n >= 4 && rh_be32dec(head) == QCOW2_MAGIC ? 100 : 0;
}

static int corrupt(const struct rh_img *img, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int corrupt(const struct rh_img *img, const char *fmt, ...)
{
	char msg[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	return rh_seterr(RH_ERR_CORRUPT, "%s: qcow2: %s", img->name, msg);
}

/* Validate the header and header extensions in hdr (n bytes: the first
 * cluster, or the whole file when it is shorter) and fill q. */
static int qcow2_parse_header(struct rh_img *img, struct qcow2 *q, const uint8_t *hdr, size_t n)
{
	uint64_t size, min_l1, l2_bytes, ext, ext_end, end;
	uint32_t crypt;

	if (n < QCOW2_HDR_V2)
		return corrupt(img, "file of %zu bytes is too short for a header", n);
	if (rh_be32dec(hdr) != QCOW2_MAGIC)
		return corrupt(img, "bad magic 0x%08x", rh_be32dec(hdr));
	q->version = rh_be32dec(hdr + 4);
	if (q->version != 2 && q->version != 3)
		return rh_seterr(RH_ERR_UNSUPPORTED, "%s: qcow2 version %u is not supported (2 or 3)",
				 img->name, q->version);
	if (rh_be64dec(hdr + 8) != 0 || rh_be32dec(hdr + 16) != 0)
		return rh_seterr(RH_ERR_UNSUPPORTED,
				 "%s: image has a backing file; flatten it first (qemu-img convert)",
				 img->name);
	q->cluster_bits = rh_be32dec(hdr + 20);
	if (q->cluster_bits < QCOW2_MIN_CB || q->cluster_bits > QCOW2_MAX_CB)
		return corrupt(img, "cluster_bits %u outside %u..%u", q->cluster_bits, QCOW2_MIN_CB,
			       QCOW2_MAX_CB);
	q->cluster_size = 1u << q->cluster_bits;
	q->l2_entries = q->cluster_size / 8;
	size = rh_be64dec(hdr + 24);
	if (size > RH_IMG_MAX_SIZE)
		return rh_seterr(RH_ERR_TOOBIG, "%s: qcow2: virtual size %llu exceeds the limit of %llu bytes",
				 img->name, (unsigned long long)size,
				 (unsigned long long)RH_IMG_MAX_SIZE);
	img->size = size;
	crypt = rh_be32dec(hdr + 32);
	if (crypt != 0)
		return rh_seterr(RH_ERR_UNSUPPORTED, "%s: encrypted qcow2 images are not supported",
				 img->name);
	q->l1_size = rh_be32dec(hdr + 36);
	q->l1_offset = rh_be64dec(hdr + 40);
	q->reft_offset = rh_be64dec(hdr + 48);
	q->reft_clusters = rh_be32dec(hdr + 56);
	q->nb_snapshots = rh_be32dec(hdr + 60);
	q->snapshots_offset = rh_be64dec(hdr + 64);
	q->refcount_order = 4;
	q->header_length = QCOW2_HDR_V2;
	if (q->version >= 3) {
		if (n < QCOW2_HDR_V3)
			return corrupt(img, "version 3 header needs %u bytes, file has %zu", QCOW2_HDR_V3, n);
		q->incompat = rh_be64dec(hdr + 72);
		q->compat = rh_be64dec(hdr + 80);
		q->autoclear = rh_be64dec(hdr + 88);
		q->refcount_order = rh_be32dec(hdr + 96);
		q->header_length = rh_be32dec(hdr + 100);
		if (q->header_length < QCOW2_HDR_V3 || q->header_length > n ||
		    q->header_length > q->cluster_size)
			return corrupt(img, "header length %u outside %u..%zu", q->header_length,
				       QCOW2_HDR_V3, RH_MIN(n, (size_t)q->cluster_size));
		if (q->refcount_order > 6)
			return corrupt(img, "refcount order %u is above 6", q->refcount_order);
	}
	if (q->incompat & INCOMPAT_DATA_FILE)
		return rh_seterr(RH_ERR_UNSUPPORTED, "%s: qcow2 with an external data file is not supported",
				 img->name);
	if (q->incompat & INCOMPAT_EXTL2)
		return rh_seterr(RH_ERR_UNSUPPORTED, "%s: qcow2 with extended L2 entries (subclusters) is not supported",
				 img->name);
	if (q->incompat & ~INCOMPAT_KNOWN)
		return rh_seterr(RH_ERR_UNSUPPORTED, "%s: unknown incompatible qcow2 features 0x%llx",
				 img->name, (unsigned long long)(q->incompat & ~INCOMPAT_KNOWN));
	q->compression = CT_ZLIB;
	if (q->header_length > QCOW2_HDR_V3)
		q->compression = hdr[104];
	if (q->compression != CT_ZLIB && q->compression != CT_ZSTD)
		return rh_seterr(RH_ERR_UNSUPPORTED, "%s: unknown qcow2 compression type %d", img->name,
				 q->compression);
	if ((q->compression != CT_ZLIB) != ((q->incompat & INCOMPAT_COMPRESSION) != 0))
		return corrupt(img, "compression type %s but the compression feature bit is %s",
			       q->compression == CT_ZSTD ? "zstd" : "zlib",
			       (q->incompat & INCOMPAT_COMPRESSION) ? "set" : "clear");
	/* Compressed cluster descriptors (spec: x = 62 - (cluster_bits - 8)). */
	q->csize_shift = 62 - (q->cluster_bits - 8);
	q->csize_mask = (1ULL << (q->cluster_bits - 8)) - 1;
	q->coffset_mask = (1ULL << q->csize_shift) - 1;

	/* L1 table: big enough for the virtual size, aligned, inside the file. */
	l2_bytes = q->l2_entries * q->cluster_size;
	min_l1 = size / l2_bytes + (size % l2_bytes != 0);
	if (q->l1_size < min_l1)
		return corrupt(img, "L1 table of %llu entries is too small for a virtual size of %llu (needs %llu)",
			       (unsigned long long)q->l1_size, (unsigned long long)size,
			       (unsigned long long)min_l1);
	if (q->l1_size > QCOW2_MAX_L1_BYTES / 8)
		return rh_seterr(RH_ERR_TOOBIG, "%s: qcow2: L1 table of %llu entries exceeds the limit of %u",
				 img->name, (unsigned long long)q->l1_size, QCOW2_MAX_L1_BYTES / 8);
	if (q->l1_size > 0) {
		if (q->l1_offset & (q->cluster_size - 1))
			return corrupt(img, "L1 table offset %llu is not cluster aligned",
				       (unsigned long long)q->l1_offset);
		if (q->l1_offset < q->cluster_size)
			return corrupt(img, "L1 table at %llu overlaps the header",
				       (unsigned long long)q->l1_offset);
		if (!rh_range_ok(q->l1_offset, q->l1_size * 8, img->file_size))
			return corrupt(img, "L1 table at %llu (%llu entries) lies beyond the end of the file (%llu bytes)",
				       (unsigned long long)q->l1_offset, (unsigned long long)q->l1_size,
				       (unsigned long long)img->file_size);
	}
	/* Refcount table. */
	if (q->reft_clusters == 0)
		return corrupt(img, "refcount table has no clusters");
	if ((uint64_t)q->reft_clusters * q->cluster_size > QCOW2_MAX_REFT_BYTES)
		return rh_seterr(RH_ERR_TOOBIG, "%s: qcow2: refcount table of %u clusters exceeds the limit of %u bytes",
				 img->name, q->reft_clusters, QCOW2_MAX_REFT_BYTES);
	q->reft_entries = (uint64_t)q->reft_clusters * q->cluster_size / 8;
	if (q->reft_offset & (q->cluster_size - 1))
		return corrupt(img, "refcount table offset %llu is not cluster aligned",
			       (unsigned long long)q->reft_offset);
	if (q->reft_offset < q->cluster_size)
		return corrupt(img, "refcount table at %llu overlaps the header",
			       (unsigned long long)q->reft_offset);
	if (!rh_range_ok(q->reft_offset, (uint64_t)q->reft_clusters * q->cluster_size, img->file_size))
		return corrupt(img, "refcount table at %llu (%u clusters) lies beyond the end of the file",
			       (unsigned long long)q->reft_offset, q->reft_clusters);
	/* Snapshot table: only its position here; check() parses it. */
	if (q->nb_snapshots > QCOW2_MAX_SNAPSHOTS)
		return corrupt(img, "%u snapshots exceed the limit of %u", q->nb_snapshots,
			       QCOW2_MAX_SNAPSHOTS);
	if (q->nb_snapshots > 0 &&
	    ((q->snapshots_offset & (q->cluster_size - 1)) || q->snapshots_offset < q->cluster_size ||
	     q->snapshots_offset >= img->file_size))
		return corrupt(img, "snapshot table offset %llu is invalid",
			       (unsigned long long)q->snapshots_offset);

	/* Header extensions, from the end of the header to the end of the
	 * first cluster; each is 8-byte aligned and must fit. */
	ext = q->version >= 3 ? q->header_length : QCOW2_HDR_V2;
	ext_end = RH_MIN((uint64_t)n, (uint64_t)q->cluster_size);
	for (;;) {
		uint32_t type, len;
		uint64_t padded;

		if (ext_end - ext < 8) {
			/* No room for an end marker: qemu accepts this too. */
			break;
		}
		type = rh_be32dec(hdr + ext);
		len = rh_be32dec(hdr + ext + 4);
		ext += 8;
		if (type == EXT_END)
			break;
		if (len > ext_end - ext)
			return corrupt(img, "header extension 0x%08x of %u bytes runs past the first cluster",
				       type, len);
		if (type == EXT_BITMAPS)
			q->has_bitmaps = (q->autoclear & AUTOCLEAR_BITMAPS) != 0;
		if (type == EXT_CRYPTO || type == EXT_DATA_FILE)
			return rh_seterr(RH_ERR_UNSUPPORTED, "%s: qcow2 extension 0x%08x is not supported",
					 img->name, type);
		padded = ((uint64_t)len + 7) & ~7ULL;
		if (RH_ADD_OVERFLOW(ext, padded, &end) || end > ext_end)
			return corrupt(img, "header extension 0x%08x padding runs past the first cluster", type);
		ext = end;
	}
	return 0;
}

static int qcow2_load_l1(struct rh_img *img, struct qcow2 *q)
{
	uint8_t *raw;
	int rc;

	q->l1 = img_calloc(q->l1_size ? q->l1_size : 1, sizeof *q->l1);
	if (q->l1 == NULL)
		return RH_ERR_NOMEM;
	if (q->l1_size == 0)
		return 0;
	raw = (uint8_t *)q->l1;
	if ((rc = img_read_at(img, raw, q->l1_size * 8, q->l1_offset, "L1 table")) < 0)
		return rc;
	for (uint64_t i = 0; i < q->l1_size; i++) {
		uint64_t e = rh_be64dec(raw + i * 8);
		const char *why = l1e_problem(img, q, e);

		if (why != NULL)
			return corrupt(img, "L1 entry %llu (0x%016llx): %s", (unsigned long long)i,
				       (unsigned long long)e, why);
		q->l1[i] = e;
	}
	return 0;
}

static int qcow2_load_reftable(struct rh_img *img, struct qcow2 *q)
{
	uint8_t *raw;
	int rc;

	q->reft = img_calloc(q->reft_entries, sizeof *q->reft);
	if (q->reft == NULL)
		return RH_ERR_NOMEM;
	raw = (uint8_t *)q->reft;
	if ((rc = img_read_at(img, raw, q->reft_entries * 8, q->reft_offset, "refcount table")) < 0)
		return rc;
	for (uint64_t i = 0; i < q->reft_entries; i++) {
		uint64_t e = rh_be64dec(raw + i * 8), off = e & REFT_OFFSET_MASK;

		if ((e & ~REFT_OFFSET_MASK) || (off & (q->cluster_size - 1)))
			return corrupt(img, "refcount table entry %llu (0x%016llx) is not a cluster offset",
				       (unsigned long long)i, (unsigned long long)e);
		if (off != 0 && (off < q->cluster_size || !rh_range_ok(off, q->cluster_size, img->file_size)))
			return corrupt(img, "refcount block %llu at %llu lies outside the file",
				       (unsigned long long)i, (unsigned long long)off);
		q->reft[i] = off;
	}
	return 0;
}

static void qcow2_close(struct rh_img *img)
{
	struct qcow2 *q = img->priv;

	if (q == NULL)
		return;
	img_tcache_free(&q->l2cache);
	free(q->l1);
	free(q->reft);
	free(q->cbuf);
	free(q->zin);
	img_dctx_free(q->dctx);
	free(q);
	img->priv = NULL;
}

static int qcow2_open(struct rh_img *img)
{
	struct qcow2 *q;
	uint8_t *hdr = NULL;
	uint8_t small[512];
	size_t n;
	int rc;

	q = img_calloc(1, sizeof *q);
	if (q == NULL)
		return RH_ERR_NOMEM;
	img->priv = q;
	/* The header is in the first cluster; read its fixed part, then the
	 * rest of the cluster for the extensions. */
	n = (size_t)RH_MIN(img->file_size, (uint64_t)sizeof small);
	if ((rc = img_read_at(img, small, n, 0, "header")) < 0)
		goto fail;
	if (n >= 24 && rh_be32dec(small) == QCOW2_MAGIC) {
		uint32_t cb = rh_be32dec(small + 20);

		if (cb >= QCOW2_MIN_CB && cb <= QCOW2_MAX_CB)
			n = (size_t)RH_MIN(img->file_size, (uint64_t)1 << cb);
	}
	hdr = img_calloc(1, n);
	if (hdr == NULL) {
		rc = RH_ERR_NOMEM;
		goto fail;
	}
	if ((rc = img_read_at(img, hdr, n, 0, "header")) < 0 ||
	    (rc = qcow2_parse_header(img, q, hdr, n)) < 0 || (rc = qcow2_load_l1(img, q)) < 0 ||
	    (rc = qcow2_load_reftable(img, q)) < 0 || (rc = img_dctx_new(&q->dctx)) < 0)
		goto fail;
	q->cbuf = img_calloc(1, q->cluster_size);
	q->zin = img_calloc(2, q->cluster_size);
	if (q->cbuf == NULL || q->zin == NULL) {
		rc = RH_ERR_NOMEM;
		goto fail;
	}
	free(hdr);
	return 0;
fail:
	free(hdr);
	qcow2_close(img);
	return rc;
}

/* ---- L2 tables ---- */

/* The validated L2 table at host offset off, from the cache or the file. */
static int l2_get(struct rh_img *img, struct qcow2 *q, uint64_t off, const uint64_t **table)
{
	struct img_tslot *victim;
	uint64_t *t;
	uint8_t *raw;
	int rc;

	*table = img_tcache_get(&q->l2cache, off, q->l2_entries * 8, &victim);
	if (*table != NULL)
		return 0;
	if (victim == NULL)
		return RH_ERR_NOMEM;
	t = victim->t;
	raw = (uint8_t *)t;
	if ((rc = img_read_at(img, raw, q->cluster_size, off, "L2 table")) < 0)
		return rc;
	for (uint64_t i = 0; i < q->l2_entries; i++) {
		uint64_t e = rh_be64dec(raw + i * 8);
		const char *why = l2e_problem(img, q, e);

		if (why != NULL)
			return corrupt(img, "L2 table at %llu, entry %llu (0x%016llx): %s",
				       (unsigned long long)off, (unsigned long long)i,
				       (unsigned long long)e, why);
		t[i] = e;
	}
	img_tcache_put(&q->l2cache, victim, off);
	*table = t;
	return 0;
}

/* L2 entry for virtual cluster vc (0 when unallocated). *span is the
 * number of clusters from vc that share an unallocated L1 entry (1 when
 * the L1 entry is allocated). */
static int l2_entry(struct rh_img *img, struct qcow2 *q, uint64_t vc, uint64_t *e, uint64_t *span)
{
	uint64_t l1i = vc / q->l2_entries, l2off;
	const uint64_t *t;
	int rc;

	*e = 0;
	*span = 1;
	if (l1i >= q->l1_size)
		return corrupt(img, "cluster %llu has no L1 entry", (unsigned long long)vc);
	l2off = q->l1[l1i] & L1E_OFFSET_MASK;
	if (l2off == 0) {
		*span = q->l2_entries - vc % q->l2_entries;
		return 0;
	}
	if ((rc = l2_get(img, q, l2off, &t)) < 0)
		return rc;
	*e = t[vc % q->l2_entries];
	return 0;
}

static bool entry_is_data(uint64_t e)
{
	if (l2e_compressed(e))
		return true;
	return (e & OFLAG_ZERO) == 0 && (e & L2E_OFFSET_MASK) != 0;
}

/* Read host bytes, zero-filling past the end of the file (QEMU does the
 * same for a last cluster the file does not fully contain). */
static int read_host(struct rh_img *img, uint8_t *buf, size_t len, uint64_t off)
{
	size_t avail = 0;

	if (off < img->file_size)
		avail = (size_t)RH_MIN((uint64_t)len, img->file_size - off);
	if (avail < len)
		memset(buf + avail, 0, len - avail);
	return avail ? img_read_at(img, buf, avail, off, "data cluster") : 0;
}

static int decompress_cluster(struct rh_img *img, struct qcow2 *q, uint64_t e)
{
	uint64_t off, len;
	int rc;

	if (q->cbuf_entry == e && e != 0)
		return 0;
	q->cbuf_entry = 0;
	compressed_range(q, e, &off, &len);
	if ((rc = read_host(img, q->zin, (size_t)len, off)) < 0)
		return rc;
	if (q->compression == CT_ZSTD)
		rc = img_unzstd(q->dctx, q->zin, (size_t)len, q->cbuf, q->cluster_size);
	else
		rc = img_inflate_raw(q->dctx, q->zin, (size_t)len, q->cbuf, q->cluster_size);
	if (rc < 0)
		return corrupt(img, "compressed cluster at %llu: %s", (unsigned long long)off,
			       rh_lasterr());
	q->cbuf_entry = e;
	return 0;
}

static int qcow2_read(struct rh_img *img, void *buf, size_t len, uint64_t off)
{
	struct qcow2 *q = img->priv;
	uint8_t *p = buf;
	int rc;

	while (len > 0) {
		uint64_t vc = off >> q->cluster_bits, e, span;
		size_t in = (size_t)(off & (q->cluster_size - 1));
		size_t n = RH_MIN(len, (size_t)q->cluster_size - in);

		if ((rc = l2_entry(img, q, vc, &e, &span)) < 0)
			return rc;
		if (!entry_is_data(e)) {
			/* Zero or unallocated, possibly for a whole L2 span. */
			uint64_t z = span * q->cluster_size - in;

			n = (size_t)RH_MIN((uint64_t)len, z);
			memset(p, 0, n);
		} else if (l2e_compressed(e)) {
			if ((rc = decompress_cluster(img, q, e)) < 0)
				return rc;
			memcpy(p, q->cbuf + in, n);
		} else {
			uint64_t host = (e & L2E_OFFSET_MASK) + in;

			/* Extend over clusters that follow on the host. */
			while (n < len) {
				uint64_t e2, span2;
				size_t more = RH_MIN(len - n, (size_t)q->cluster_size);

				if ((rc = l2_entry(img, q, vc + 1, &e2, &span2)) < 0)
					return rc;
				if (!entry_is_data(e2) || l2e_compressed(e2) ||
				    (e2 & L2E_OFFSET_MASK) != host + n)
					break;
				vc++;
				n += more;
			}
			if ((rc = read_host(img, p, n, host)) < 0)
				return rc;
		}
		p += n;
		off += n;
		len -= n;
	}
	return 0;
}

static int qcow2_status(struct rh_img *img, uint64_t off, uint64_t max, uint64_t *len, bool *data)
{
	struct qcow2 *q = img->priv;
	uint64_t vc = off >> q->cluster_bits, done = 0, e, span;
	bool first = true, d;
	int rc;

	while (done < max) {
		uint64_t in = (off + done) & (q->cluster_size - 1), n;

		if ((rc = l2_entry(img, q, vc, &e, &span)) < 0)
			return rc;
		d = entry_is_data(e);
		if (first) {
			*data = d;
			first = false;
		} else if (d != *data) {
			break;
		}
		n = span * q->cluster_size - in;
		done += n;
		vc += span;
	}
	*len = RH_MIN(done, max);
	return 0;
}

static int qcow2_info(struct rh_img *img, struct rh_img_info *info)
{
	struct qcow2 *q = img->priv;
	uint64_t nclusters = (img->size + q->cluster_size - 1) >> q->cluster_bits;
	int rc;

	snprintf(info->subformat, sizeof info->subformat, "v%u", q->version);
	info->cluster_size = q->cluster_size;
	info->compression = q->compression == CT_ZSTD ? RH_IMG_COMPRESS_ZSTD : RH_IMG_COMPRESS_ZLIB;
	info->refcount_bits = 1u << q->refcount_order;
	info->dirty = (q->incompat & INCOMPAT_DIRTY) != 0;
	info->corrupt_flag = (q->incompat & INCOMPAT_CORRUPT) != 0;
	for (uint64_t vc = 0; vc < nclusters;) {
		uint64_t e, span, csize;

		if ((rc = l2_entry(img, q, vc, &e, &span)) < 0)
			return rc;
		if (entry_is_data(e)) {
			csize = RH_MIN((uint64_t)q->cluster_size, img->size - (vc << q->cluster_bits));
			info->data_bytes += csize;
			if (l2e_compressed(e))
				info->compressed_clusters++;
		}
		vc += span;
	}
	return 0;
}

/* ---- check ---- */

enum ckind { K_FREE = 0, K_HEADER, K_L1, K_REFT, K_REFBLOCK, K_L2, K_DATA, K_COMPRESSED, K_SNAP };

static const char *kind_name(enum ckind k)
{
	static const char *const names[] = {
		"free", "header", "L1 table", "refcount table", "refcount block",
		"L2 table", "data cluster", "compressed cluster", "snapshot metadata",
	};

	return names[k];
}

struct qck {
	struct rh_img *img;
	struct qcow2 *q;
	struct img_checker *ck;
	uint64_t nclusters;   /* clusters of the file */
	uint32_t *refs;       /* computed references per host cluster */
	uint8_t *kind;        /* first use of each host cluster */
	uint64_t *stored;     /* refcounts read from the image */
	uint8_t *buf;         /* one cluster */
	uint64_t beyond_eof;  /* references past the end of the file */
};

static bool is_meta(enum ckind k)
{
	return k != K_DATA && k != K_COMPRESSED && k != K_FREE;
}

/* Count a reference to the host range [off, off + len) used as kind. */
static void mark(struct qck *c, uint64_t off, uint64_t len, enum ckind kind, const char *what,
		 uint64_t ident)
{
	uint64_t first, last, end;
	struct qcow2 *q = c->q;

	if (len == 0)
		return;
	if (RH_ADD_OVERFLOW(off, len - 1, &end)) {
		img_check_error(c->ck, "%s %llu: range at %llu overflows", what,
				(unsigned long long)ident, (unsigned long long)off);
		return;
	}
	first = off >> q->cluster_bits;
	last = end >> q->cluster_bits;
	for (uint64_t i = first; i <= last; i++) {
		enum ckind old;

		if (i >= c->nclusters) {
			c->beyond_eof++;
			img_check_error(c->ck, "%s %llu: host cluster %llu (offset %llu) lies beyond the end of the file",
					what, (unsigned long long)ident, (unsigned long long)i,
					(unsigned long long)(i << q->cluster_bits));
			continue;
		}
		old = c->kind[i];
		if (old != K_FREE && (is_meta(kind) || is_meta(old) || old != kind) &&
		    !(old == K_L2 && kind == K_L2 && q->nb_snapshots > 0)) {
			img_check_error(c->ck, "overlapping clusters: host cluster %llu (offset %llu) is used as %s and as %s (%s %llu)",
					(unsigned long long)i, (unsigned long long)(i << q->cluster_bits),
					kind_name(old), kind_name(kind), what, (unsigned long long)ident);
		} else if (old == K_DATA && kind == K_DATA && q->nb_snapshots == 0) {
			img_check_error(c->ck, "overlapping clusters: host cluster %llu (offset %llu) is mapped by more than one virtual cluster (%s %llu)",
					(unsigned long long)i, (unsigned long long)(i << q->cluster_bits),
					what, (unsigned long long)ident);
		}
		if (c->refs[i] < UINT32_MAX)
			c->refs[i]++;
		if (old == K_FREE)
			c->kind[i] = (uint8_t)kind;
	}
}

static uint64_t stored_ref(const struct qck *c, uint64_t off)
{
	uint64_t i = off >> c->q->cluster_bits;

	return i < c->nclusters ? c->stored[i] : 0;
}

static uint64_t refblock_get(const uint8_t *b, uint64_t j, unsigned order)
{
	unsigned bits = 1u << order;

	switch (bits) {
	case 64: return rh_be64dec(b + j * 8);
	case 32: return rh_be32dec(b + j * 4);
	case 16: return rh_be16dec(b + j * 2);
	case 8: return b[j];
	default: /* 1, 2 and 4 bits, packed from the least significant bit */
		return (b[j * bits / 8] >> ((j * bits) % 8)) & ((1u << bits) - 1);
	}
}

static int read_refcounts(struct qck *c)
{
	struct qcow2 *q = c->q;
	uint64_t per_block = (uint64_t)q->cluster_size * 8 >> q->refcount_order;
	int rc;

	for (uint64_t i = 0; i < q->reft_entries; i++) {
		uint64_t off = q->reft[i];

		if (off == 0)
			continue;
		mark(c, off, q->cluster_size, K_REFBLOCK, "refcount block", i);
		if ((rc = img_read_at(c->img, c->buf, q->cluster_size, off, "refcount block")) < 0)
			return rc;
		for (uint64_t j = 0; j < per_block; j++) {
			uint64_t cl, v = refblock_get(c->buf, j, q->refcount_order);

			if (RH_MUL_OVERFLOW(i, per_block, &cl) || RH_ADD_OVERFLOW(cl, j, &cl))
				break;
			if (cl < c->nclusters)
				c->stored[cl] = v;
			else if (v != 0)
				img_check_leak(c->ck, "cluster %llu beyond the end of the file has refcount %llu",
					       (unsigned long long)cl, (unsigned long long)v);
		}
	}
	return 0;
}

/* Walk one L1 table (active when active is true) and its L2 tables. */
static int walk_l1(struct qck *c, const uint64_t *l1, uint64_t l1_size, bool active,
		   const char *label)
{
	struct qcow2 *q = c->q;
	int rc;

	for (uint64_t i = 0; i < l1_size; i++) {
		uint64_t e = l1[i], l2off = e & L1E_OFFSET_MASK;
		const char *why = l1e_problem(c->img, q, e);

		if (why != NULL) {
			img_check_error(c->ck, "%s entry %llu (0x%016llx): %s", label,
					(unsigned long long)i, (unsigned long long)e, why);
			continue;
		}
		if (l2off == 0)
			continue;
		mark(c, l2off, q->cluster_size, K_L2, "L2 table of L1 entry", i);
		if (active && ((e & OFLAG_COPIED) != 0) != (stored_ref(c, l2off) == 1))
			img_check_error(c->ck, "COPIED flag of L1 entry %llu is %s but the L2 table's refcount is %llu",
					(unsigned long long)i, (e & OFLAG_COPIED) ? "set" : "clear",
					(unsigned long long)stored_ref(c, l2off));
		if ((rc = img_read_at(c->img, c->buf, q->cluster_size, l2off, "L2 table")) < 0)
			return rc;
		for (uint64_t j = 0; j < q->l2_entries; j++) {
			uint64_t l2e = rh_be64dec(c->buf + j * 8), vc = i * q->l2_entries + j;

			if ((why = l2e_problem(c->img, q, l2e)) != NULL) {
				img_check_error(c->ck, "virtual cluster %llu (L2 at %llu, entry %llu, 0x%016llx): %s",
						(unsigned long long)vc, (unsigned long long)l2off,
						(unsigned long long)j, (unsigned long long)l2e, why);
				continue;
			}
			if (l2e_compressed(l2e)) {
				uint64_t off, len;

				compressed_range(q, l2e, &off, &len);
				if (l2e & OFLAG_COPIED)
					img_check_error(c->ck, "virtual cluster %llu is compressed but has the COPIED flag",
							(unsigned long long)vc);
				/* The last sector may end past the file: count
				 * only what the file holds. */
				len = RH_MIN(len, c->img->file_size - off);
				mark(c, off, len, K_COMPRESSED, "virtual cluster", vc);
				/* The data must decompress to a full cluster. */
				if (decompress_cluster(c->img, q, l2e) < 0)
					img_check_error(c->ck, "virtual cluster %llu: %s", (unsigned long long)vc,
							rh_lasterr());
				continue;
			}
			uint64_t off = l2e & L2E_OFFSET_MASK;

			if (off == 0)
				continue;
			if (active && ((l2e & OFLAG_COPIED) != 0) != (stored_ref(c, off) == 1))
				img_check_error(c->ck, "COPIED flag of virtual cluster %llu is %s but its refcount is %llu",
						(unsigned long long)vc, (l2e & OFLAG_COPIED) ? "set" : "clear",
						(unsigned long long)stored_ref(c, off));
			if (!rh_range_ok(off, q->cluster_size, c->img->file_size))
				img_check_error(c->ck, "data cluster of virtual cluster %llu at %llu ends past the end of the file (truncated image?)",
						(unsigned long long)vc, (unsigned long long)off);
			mark(c, off, RH_MIN((uint64_t)q->cluster_size, c->img->file_size - off), K_DATA,
			     "virtual cluster", vc);
		}
	}
	return 0;
}

/* Parse the snapshot table; mark it and walk every snapshot's L1 table. */
static int walk_snapshots(struct qck *c)
{
	struct qcow2 *q = c->q;
	uint64_t off = q->snapshots_offset;
	uint8_t h[40];
	uint64_t *l1 = NULL;
	int rc = 0;

	for (uint32_t s = 0; s < q->nb_snapshots; s++) {
		uint64_t l1off, l1size, len, end;
		uint32_t extra;
		uint16_t idlen, namelen;
		char label[48];

		if ((rc = img_read_at(c->img, h, sizeof h, off, "snapshot table")) < 0) {
			img_check_error(c->ck, "snapshot %u: %s", s, rh_lasterr());
			return 0;
		}
		l1off = rh_be64dec(h);
		l1size = rh_be32dec(h + 8);
		idlen = rh_be16dec(h + 12);
		namelen = rh_be16dec(h + 14);
		extra = rh_be32dec(h + 36);
		if (extra > QCOW2_MAX_SNAP_EXTRA) {
			img_check_error(c->ck, "snapshot %u: extra data of %u bytes exceeds %u", s, extra,
					QCOW2_MAX_SNAP_EXTRA);
			return 0;
		}
		len = (40 + (uint64_t)extra + idlen + namelen + 7) & ~7ULL;
		mark(c, off, len, K_SNAP, "snapshot table entry", s);
		if (RH_ADD_OVERFLOW(off, len, &end)) {
			img_check_error(c->ck, "snapshot table overflows");
			return 0;
		}
		off = end;
		if (l1size == 0)
			continue;
		if (l1size > QCOW2_MAX_L1_BYTES / 8 || (l1off & (q->cluster_size - 1)) ||
		    !rh_range_ok(l1off, l1size * 8, c->img->file_size)) {
			img_check_error(c->ck, "snapshot %u: L1 table at %llu (%llu entries) is invalid", s,
					(unsigned long long)l1off, (unsigned long long)l1size);
			continue;
		}
		mark(c, l1off, l1size * 8, K_SNAP, "snapshot L1 table of snapshot", s);
		l1 = img_calloc(l1size, 8);
		if (l1 == NULL)
			return RH_ERR_NOMEM;
		if ((rc = img_read_at(c->img, l1, l1size * 8, l1off, "snapshot L1 table")) < 0)
			break;
		for (uint64_t i = 0; i < l1size; i++)
			l1[i] = rh_be64dec((uint8_t *)l1 + i * 8);
		snprintf(label, sizeof label, "snapshot %u L1", s);
		rc = walk_l1(c, l1, l1size, false, label);
		free(l1);
		l1 = NULL;
		if (rc < 0)
			break;
	}
	free(l1);
	return rc;
}

static int qcow2_check(struct rh_img *img, struct img_checker *ck)
{
	struct qcow2 *q = img->priv;
	struct qck c = { .img = img, .q = q, .ck = ck };
	uint64_t leaked = 0, bad = 0;
	int rc;

	c.nclusters = (img->file_size + q->cluster_size - 1) >> q->cluster_bits;
	c.refs = img_calloc(c.nclusters, sizeof *c.refs);
	c.kind = img_calloc(c.nclusters, 1);
	c.stored = img_calloc(c.nclusters, sizeof *c.stored);
	c.buf = img_calloc(1, q->cluster_size);
	if (c.refs == NULL || c.kind == NULL || c.stored == NULL || c.buf == NULL) {
		rc = RH_ERR_NOMEM;
		goto out;
	}
	if (q->incompat & INCOMPAT_DIRTY)
		img_check_warn(ck, "the image was not closed cleanly (dirty bit): refcounts may be stale");
	if (q->incompat & INCOMPAT_CORRUPT)
		img_check_error(ck, "the image is marked corrupt by the program that wrote it");
	if (q->has_bitmaps)
		img_check_warn(ck, "persistent dirty bitmaps are not examined: their clusters show as leaks");
	mark(&c, 0, q->cluster_size, K_HEADER, "header", 0);
	mark(&c, q->l1_offset, q->l1_size * 8, K_L1, "L1 table", 0);
	mark(&c, q->reft_offset, (uint64_t)q->reft_clusters * q->cluster_size, K_REFT,
	     "refcount table", 0);
	if ((rc = read_refcounts(&c)) < 0 || (rc = walk_l1(&c, q->l1, q->l1_size, true, "L1")) < 0 ||
	    (rc = walk_snapshots(&c)) < 0)
		goto out;
	for (uint64_t i = 0; i < c.nclusters; i++) {
		uint64_t s = c.stored[i], r = c.refs[i];

		if (s == r)
			continue;
		if (s < r) {
			bad++;
			img_check_error(ck, "host cluster %llu (offset %llu, %s): refcount %llu but referenced %llu time%s",
					(unsigned long long)i, (unsigned long long)(i << q->cluster_bits),
					kind_name((enum ckind)c.kind[i]), (unsigned long long)s,
					(unsigned long long)r, r == 1 ? "" : "s");
		} else {
			leaked++;
			img_check_leak(ck, "host cluster %llu (offset %llu): refcount %llu but referenced %llu time%s (leaked)",
				       (unsigned long long)i, (unsigned long long)(i << q->cluster_bits),
				       (unsigned long long)s, (unsigned long long)r, r == 1 ? "" : "s");
		}
	}
	rc = 0;
out:
	free(c.refs);
	free(c.kind);
	free(c.stored);
	free(c.buf);
	return rc;
}

/* ---- writer ---- */

#define QW_JOB_UNITS 16u

struct qcow2_w {
	uint32_t cb, cs;
	uint64_t l2_entries;
	uint64_t l1_size;
	uint64_t *l1;          /* host order, with flags */
	uint8_t *l2;           /* current L2 table, big-endian entries */
	uint64_t l2_index;     /* L1 index of l2, UINT64_MAX = none */
	bool l2_dirty;
	uint8_t *l2_out;       /* L2 table being written (kept until flushed) */
	uint64_t end;          /* next free byte of the file */
	uint16_t *rc;          /* refcount per host cluster */
	uint64_t rc_cap;
	struct img_pool *pool; /* compression, NULL when not compressing */
	unsigned csize_shift;
	int ctype;
};

static int rc_add(struct qcow2_w *s, uint64_t cluster)
{
	if (cluster >= s->rc_cap) {
		uint64_t cap = s->rc_cap ? s->rc_cap : 1024;
		uint16_t *n;

		while (cap <= cluster)
			cap *= 2;
		n = realloc(s->rc, cap * sizeof *n);
		if (n == NULL)
			return rh_seterr(RH_ERR_NOMEM, "out of memory for refcounts");
		memset(n + s->rc_cap, 0, (cap - s->rc_cap) * sizeof *n);
		s->rc = n;
		s->rc_cap = cap;
	}
	if (s->rc[cluster] == UINT16_MAX)
		return rh_seterr(RH_ERR_INTERNAL, "refcount overflow");
	s->rc[cluster]++;
	return 0;
}

/* Allocate n whole clusters at the (cluster-aligned) end of the file. */
static int alloc_clusters(struct qcow2_w *s, uint64_t n, uint64_t *off)
{
	uint64_t start = (s->end + s->cs - 1) & ~((uint64_t)s->cs - 1);
	int rc;

	for (uint64_t i = 0; i < n; i++)
		if ((rc = rc_add(s, (start >> s->cb) + i)) < 0)
			return rc;
	*off = start;
	s->end = start + n * s->cs;
	return 0;
}

static int qcow2_create(struct rh_img_writer *w)
{
	struct qcow2_w *s;
	uint64_t l2_bytes;
	uint32_t cs = w->o.cluster_size ? w->o.cluster_size : 65536;
	int rc;

	if (cs < 512 || cs > (2u << 20) || (cs & (cs - 1)) != 0)
		return rh_seterr(RH_ERR_INVAL, "cluster size %u: a power of two from 512 to 2 MiB", cs);
	s = img_calloc(1, sizeof *s);
	if (s == NULL)
		return RH_ERR_NOMEM;
	w->priv = s;
	s->cs = cs;
	s->cb = (uint32_t)__builtin_ctz(cs);
	s->l2_entries = cs / 8;
	s->csize_shift = 62 - (s->cb - 8);
	l2_bytes = s->l2_entries * cs;
	s->l1_size = w->size / l2_bytes + (w->size % l2_bytes != 0);
	if (s->l1_size * 8 > QCOW2_MAX_L1_BYTES)
		return rh_seterr(RH_ERR_TOOBIG, "%s: virtual size needs an L1 table over %u bytes; use a larger cluster_size",
				 w->name, QCOW2_MAX_L1_BYTES);
	s->l1 = img_calloc(s->l1_size, 8);
	s->l2 = img_calloc(1, cs);
	s->l2_out = img_calloc(1, cs);
	if (s->l1 == NULL || s->l2 == NULL || s->l2_out == NULL)
		return RH_ERR_NOMEM;
	s->l2_index = UINT64_MAX;
	s->ctype = w->o.compression_type == RH_IMG_COMPRESS_ZSTD ? CT_ZSTD : CT_ZLIB;
	if (w->o.compression_type == RH_IMG_COMPRESS_ZSTD && !w->o.compress)
		rh_log_debug("%s: compression_type=zstd without -c: only the header records it", w->name);
	/* Cluster 0 is the header. */
	s->end = 0;
	uint64_t hdr;

	if ((rc = alloc_clusters(s, 1, &hdr)) < 0)
		return rc;
	if (w->o.compress) {
		unsigned threads = w->o.threads ? w->o.threads : img_default_threads();

		/* A compressed cluster must fit in cluster_size - 1 bytes, as in
		 * QEMU; otherwise it is stored uncompressed. */
		rc = img_pool_new(s->ctype == CT_ZSTD ? IMG_CODEC_ZSTD : IMG_CODEC_DEFLATE_RAW,
				  w->o.compression_level, cs, cs - 1, 0, threads, QW_JOB_UNITS, &s->pool);
		if (rc < 0)
			return rc;
	}
	w->unit = cs;
	img_out_init(&w->out, w->fd, s->end);
	return 0;
}

static int l2_flush(struct rh_img_writer *w)
{
	struct qcow2_w *s = w->priv;
	uint64_t off;
	int rc;

	if (s->l2_index == UINT64_MAX || !s->l2_dirty)
		return 0;
	if ((rc = alloc_clusters(s, 1, &off)) < 0)
		return rc;
	/* Flush first: the previous table in l2_out may still be queued. */
	if ((rc = img_out_flush(&w->out)) < 0)
		return rc;
	memcpy(s->l2_out, s->l2, s->cs);
	if ((rc = img_out_append(&w->out, off, s->l2_out, s->cs)) < 0)
		return rc;
	s->l1[s->l2_index] = off | OFLAG_COPIED;
	s->l2_dirty = false;
	return 0;
}

static int set_l2(struct rh_img_writer *w, uint64_t vc, uint64_t entry)
{
	struct qcow2_w *s = w->priv;
	uint64_t l1i = vc / s->l2_entries;
	int rc;

	if (l1i != s->l2_index) {
		if ((rc = l2_flush(w)) < 0)
			return rc;
		memset(s->l2, 0, s->cs);
		s->l2_index = l1i;
	}
	rh_be64enc(s->l2 + (vc % s->l2_entries) * 8, entry);
	s->l2_dirty = true;
	return 0;
}

/* Place a compressed cluster of len bytes at the end of the file, packed
 * right after the previous one. */
static int put_compressed(struct rh_img_writer *w, uint64_t vc, const uint8_t *data, uint32_t len)
{
	struct qcow2_w *s = w->priv;
	uint64_t off = s->end, nsec, end_sector_byte;
	int rc;

	nsec = ((off + len - 1) >> 9) - (off >> 9);
	end_sector_byte = ((off + len - 1) | 511) + 1;
	for (uint64_t c = off >> s->cb; c <= (end_sector_byte - 1) >> s->cb; c++)
		if ((rc = rc_add(s, c)) < 0)
			return rc;
	if ((rc = img_out_append(&w->out, off, data, len)) < 0)
		return rc;
	s->end = off + len;
	return set_l2(w, vc, OFLAG_COMPRESSED | (nsec << s->csize_shift) | off);
}

static int put_raw(struct rh_img_writer *w, uint64_t vc, const uint8_t *data)
{
	struct qcow2_w *s = w->priv;
	uint64_t off;
	int rc;

	if ((rc = alloc_clusters(s, 1, &off)) < 0 ||
	    (rc = img_out_append(&w->out, off, data, s->cs)) < 0)
		return rc;
	return set_l2(w, vc, off | OFLAG_COPIED);
}

/* Write out the oldest compression job once it is done. Returns 1 when a
 * job was written, 0 when none is queued, or an error. */
static int drain_one(struct rh_img_writer *w)
{
	struct qcow2_w *s = w->priv;
	struct img_cjob *j;
	size_t stride = img_pool_stride(s->pool);
	int rc;

	if ((rc = img_pool_pop(s->pool, &j)) < 0 || j == NULL)
		return rc;
	rc = 0;
	for (unsigned i = 0; i < j->count && rc == 0; i++) {
		uint64_t vc = j->index + i;

		if (j->len[i] == IMG_CLEN_ZERO)
			continue;
		if (j->len[i] == IMG_CLEN_RAW)
			rc = put_raw(w, vc, j->in + (size_t)i * s->cs);
		else
			rc = put_compressed(w, vc, j->out + i * stride, j->len[i]);
	}
	/* The job's buffers are queued for writing: flush before reuse. */
	if (rc == 0)
		rc = img_out_flush(&w->out);
	img_pool_release(s->pool, j);
	return rc < 0 ? rc : 1;
}

static int qcow2_write(struct rh_img_writer *w, uint64_t index, size_t count, const uint8_t *data)
{
	struct qcow2_w *s = w->priv;
	int rc;

	if (s->pool != NULL) {
		unsigned per = img_pool_job_units(s->pool);

		for (size_t i = 0; i < count;) {
			unsigned n = (unsigned)RH_MIN((size_t)per, count - i);

			while (!img_pool_can_push(s->pool))
				if ((rc = drain_one(w)) < 0)
					return rc;
			if ((rc = img_pool_push(s->pool, index + i, n, data + i * s->cs)) < 0)
				return rc;
			i += n;
		}
		return 0;
	}
	for (size_t i = 0; i < count; i++) {
		const uint8_t *p = data + i * s->cs;

		if (img_is_zero(p, s->cs))
			continue;
		if ((rc = put_raw(w, index + i, p)) < 0)
			return rc;
	}
	/* data is the caller's: write it before returning. */
	return img_out_flush(&w->out);
}

static void refblock_set16(uint8_t *b, uint64_t j, uint16_t v)
{
	rh_be16enc(b + j * 2, v);
}

static int qcow2_finalize(struct rh_img_writer *w)
{
	struct qcow2_w *s = w->priv;
	uint64_t l1_off = 0, l1_clusters, n, rb = 0, rt = 0, per_block, per_table, rb_off, rt_off;
	uint8_t *buf = NULL, hdr[QCOW2_HDR_OURS + 8];
	int rc;

	/* Write out every queued compression job, in order. */
	while (s->pool != NULL && (rc = drain_one(w)) != 0)
		if (rc < 0)
			return rc;
	if ((rc = l2_flush(w)) < 0 || (rc = img_out_flush(&w->out)) < 0)
		return rc;
	/* L1 table. */
	l1_clusters = (s->l1_size * 8 + s->cs - 1) >> s->cb;
	if (l1_clusters > 0 && (rc = alloc_clusters(s, l1_clusters, &l1_off)) < 0)
		return rc;
	/* Refcount blocks and table, covering every cluster including
	 * themselves: iterate until the counts settle. */
	n = (s->end + s->cs - 1) >> s->cb;
	per_block = (uint64_t)s->cs / 2; /* 16-bit refcounts */
	per_table = s->cs / 8;
	for (;;) {
		uint64_t total = n + rb + rt;
		uint64_t nrb = (total + per_block - 1) / per_block;
		uint64_t nrt = (nrb + per_table - 1) / per_table;

		if (nrb == rb && nrt == rt)
			break;
		rb = nrb;
		rt = nrt;
	}
	if (rt * s->cs > QCOW2_MAX_REFT_BYTES)
		return rh_seterr(RH_ERR_TOOBIG, "%s: refcount table would exceed %u bytes", w->name,
				 QCOW2_MAX_REFT_BYTES);
	if ((rc = alloc_clusters(s, rb, &rb_off)) < 0 || (rc = alloc_clusters(s, rt, &rt_off)) < 0)
		return rc;
	/* One buffer for L1, then blocks, then table, written in order. */
	buf = img_calloc(1, s->cs);
	if (buf == NULL)
		return RH_ERR_NOMEM;
	for (uint64_t c = 0; c < l1_clusters; c++) {
		memset(buf, 0, s->cs);
		for (uint64_t i = 0; i < s->l2_entries && c * s->l2_entries + i < s->l1_size; i++)
			rh_be64enc(buf + i * 8, s->l1[c * s->l2_entries + i]);
		if ((rc = img_write_at(w->fd, buf, s->cs, l1_off + c * s->cs)) < 0)
			goto out;
	}
	for (uint64_t b = 0; b < rb; b++) {
		memset(buf, 0, s->cs);
		for (uint64_t j = 0; j < per_block; j++) {
			uint64_t cl = b * per_block + j;

			if (cl < s->rc_cap && s->rc[cl])
				refblock_set16(buf, j, s->rc[cl]);
		}
		if ((rc = img_write_at(w->fd, buf, s->cs, rb_off + b * s->cs)) < 0)
			goto out;
	}
	for (uint64_t t = 0; t < rt; t++) {
		memset(buf, 0, s->cs);
		for (uint64_t i = 0; i < per_table && t * per_table + i < rb; i++)
			rh_be64enc(buf + i * 8, rb_off + (t * per_table + i) * s->cs);
		if ((rc = img_write_at(w->fd, buf, s->cs, rt_off + t * s->cs)) < 0)
			goto out;
	}
	/* Header last, so a crash leaves no valid-looking image. */
	memset(hdr, 0, sizeof hdr);
	rh_be32enc(hdr, QCOW2_MAGIC);
	rh_be32enc(hdr + 4, 3);
	rh_be32enc(hdr + 20, s->cb);
	rh_be64enc(hdr + 24, w->size);
	rh_be32enc(hdr + 36, (uint32_t)s->l1_size);
	rh_be64enc(hdr + 40, l1_off);
	rh_be64enc(hdr + 48, rt_off);
	rh_be32enc(hdr + 56, (uint32_t)rt);
	rh_be64enc(hdr + 72, s->ctype == CT_ZSTD ? INCOMPAT_COMPRESSION : 0);
	rh_be32enc(hdr + 96, 4);
	rh_be32enc(hdr + 100, QCOW2_HDR_OURS);
	hdr[104] = (uint8_t)s->ctype;
	/* hdr[112..119]: end of header extensions (type 0, length 0). */
	if ((rc = img_write_at(w->fd, hdr, sizeof hdr, 0)) < 0)
		goto out;
	if (ftruncate(w->fd, (off_t)s->end) != 0) {
		rc = rh_seterr_errno(errno, "%s: setting the file size", w->name);
		goto out;
	}
	w->out.high = s->end;
	rc = 0;
out:
	free(buf);
	return rc;
}

static void qcow2_wfree(struct rh_img_writer *w)
{
	struct qcow2_w *s = w->priv;

	img_pool_free(s->pool);
	free(s->l1);
	free(s->l2);
	free(s->l2_out);
	free(s->rc);
	free(s);
	w->priv = NULL;
}

const struct img_ops img_qcow2_ops = {
	.struct_size = sizeof(struct img_ops),
	.format = RH_IMG_QCOW2,
	.name = "qcow2",
	.probe = qcow2_probe,
	.open = qcow2_open,
	.close = qcow2_close,
	.read = qcow2_read,
	.status = qcow2_status,
	.info = qcow2_info,
	.check = qcow2_check,
	.create = qcow2_create,
	.write = qcow2_write,
	.finalize = qcow2_finalize,
	.wfree = qcow2_wfree,
};
