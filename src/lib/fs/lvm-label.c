/* The LVM2 physical volume label and metadata areas, read without the LVM
 * tools (the one reader for inspect, postconf and the used-block maps):
 *
 *  - the label ("LABELONE", type "LVM2 001") in one of the first four
 *    512-byte sectors, CRC-checked, followed by the pv_header: PV UUID,
 *    device size, then lists of data areas, metadata areas and (header
 *    extension version >= 1) boot loader areas, each list of (offset,
 *    size) pairs ending with a zero offset;
 *  - each metadata area's header (magic " LVM2 x[5A%r0N*>", version 1,
 *    CRC) whose first raw location points at the current VG metadata
 *    text, a ring buffer after the header that the text may wrap around;
 *    the text is CRC-checked too.
 *
 * The pv_header's lists are variable-length and walked with the bounded
 * cursor of rehost/buf.h: a list that runs off the label sector is a
 * read error of the cursor, not an offset computation of ours. */
#include <stdlib.h>
#include <string.h>

#include "fs/fs-internal.h"
#include "rehost/buf.h"
#include "rehost/checked.h"
#include "rehost/endian.h"
#include "rehost/err.h"

#define LVM_LABEL_ID "LABELONE"
#define LVM_LABEL_TYPE "LVM2 001"
#define LVM_MDA_MAGIC " LVM2 x[5A%r0N*>"
#define LVM_MDA_HEADER_SIZE 512u
#define LVM_INITIAL_CRC 0xf597a6cfu
#define LVM_RAW_LOCN_IGNORED 1u

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

int lvm_label_sector(const uint8_t *first, size_t len)
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

/* Read one disk_locn list at the cursor into a (at most LVM_MAX_AREAS). */
static int read_locns(struct rh_buf_cursor *b, struct lvm_area *a, size_t *n, const char *what)
{
	*n = 0;
	for (;;) {
		uint64_t off, size;

		if (rh_buf_get_le64(b, &off) < 0 || rh_buf_get_le64(b, &size) < 0)
			return rh_seterr(RH_ERR_CORRUPT, "lvm: %s list runs off the label sector", what);
		if (off == 0)
			return 0;
		if (*n == LVM_MAX_AREAS)
			return rh_seterr(RH_ERR_CORRUPT, "lvm: more than %d %s", LVM_MAX_AREAS, what);
		a[*n].off = off;
		a[*n].size = size;
		(*n)++;
	}
}

static bool uuid_char(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       c == '!' || c == '#';
}

int lvm_label_validate(const uint8_t *s, uint64_t sector, uint64_t vol_size, struct lvm_label *l)
{
	struct rh_buf_cursor b;
	uint32_t hdr, ext_version;
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
		if (!uuid_char(l->uuid[i]))
			return rh_seterr(RH_ERR_CORRUPT, "lvm: PV uuid holds invalid characters");
	l->dev_size = rh_le64dec(s + hdr + LVM_ID_LEN);
	/* The cursor spans the rest of the sector: the lists cannot leave it. */
	rh_buf_cursor_init(&b, s + hdr + LVM_ID_LEN + 8, LVM_SECTOR - hdr - LVM_ID_LEN - 8);
	rc = read_locns(&b, l->data, &l->ndata, "data areas");
	if (rc == 0)
		rc = read_locns(&b, l->mda, &l->nmda, "metadata areas");
	if (rc < 0)
		return rc;
	/* pv_header_extension (version >= 1): version, flags, then boot
	 * loader areas. Absent when the sector ends here. */
	if (rh_buf_remaining(&b) >= 8 && rh_buf_get_le32(&b, &ext_version) == 0 &&
	    ext_version >= 1 && rh_buf_skip(&b, 4) == 0) {
		rc = read_locns(&b, l->ba, &l->nba, "boot loader areas");
		if (rc < 0)
			return rc;
	}
	for (size_t i = 0; i < l->nmda; i++)
		if (l->mda[i].size < 2 * LVM_MDA_HEADER_SIZE ||
		    !rh_range_ok(l->mda[i].off, l->mda[i].size, vol_size))
			return rh_seterr(RH_ERR_CORRUPT, "lvm: metadata area [%llu, +%llu) is invalid",
					 (unsigned long long)l->mda[i].off,
					 (unsigned long long)l->mda[i].size);
	for (size_t i = 0; i < l->nba; i++)
		if (!rh_range_ok(l->ba[i].off, l->ba[i].size, vol_size))
			return rh_seterr(RH_ERR_CORRUPT, "lvm: boot loader area outside the volume");
	if (l->ndata > 0 && l->data[0].off >= vol_size)
		return rh_seterr(RH_ERR_CORRUPT, "lvm: data area starts beyond the volume");
	return 0;
}

int lvm_label_read(const struct um_vol *v, struct lvm_label *l)
{
	uint8_t first[LVM_LABEL_SCAN * LVM_SECTOR];
	size_t n = (size_t)RH_MIN((uint64_t)sizeof first, v->size);
	int sector, rc;

	memset(l, 0, sizeof *l);
	rc = um_read(v, first, n, 0, "lvm label");
	if (rc < 0)
		return rc;
	sector = lvm_label_sector(first, n);
	if (sector < 0)
		return rh_seterr(RH_ERR_NOTFOUND, "lvm: no PV label");
	return lvm_label_validate(first + (size_t)sector * LVM_SECTOR, (uint64_t)sector, v->size, l);
}

/* Read the current metadata text of area a into *text (NUL-terminated,
 * caller frees). *text stays NULL for an area that is ignored or holds no
 * metadata (an orphan PV). */
static int read_mda(const struct um_vol *v, const struct lvm_area *a, char **text, size_t *len)
{
	uint8_t h[LVM_MDA_HEADER_SIZE];
	uint64_t off, size, first;
	uint32_t sum, flags;
	char *t = NULL;
	int rc;

	*text = NULL;
	*len = 0;
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
	if (size > RH_LVM_MAX_META)
		return rh_seterr(RH_ERR_TOOBIG, "lvm: metadata text of %llu bytes (limit %u)",
				 (unsigned long long)size, RH_LVM_MAX_META);
	if (off < LVM_MDA_HEADER_SIZE || off >= a->size || size == 0 ||
	    size > a->size - LVM_MDA_HEADER_SIZE)
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
	*len = strnlen(t, (size_t)size);
	return 0;
fail:
	free(t);
	return rc;
}

int lvm_label_metadata(const struct um_vol *v, const struct lvm_label *l, char **text,
		       size_t *len)
{
	int rc = 0;

	*text = NULL;
	*len = 0;
	for (size_t i = 0; i < l->nmda && *text == NULL; i++) {
		rc = read_mda(v, &l->mda[i], text, len);
		if (rc < 0) {
			if (rc == RH_ERR_IO || rc == RH_ERR_NOMEM || i + 1 == l->nmda)
				return rc;
			rh_clearerr(); /* try the next copy */
			rc = 0;
		}
	}
	return rc;
}
