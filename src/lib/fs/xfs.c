/* xfs: the superblock (decoded in xfs_decode_sb, validated for the map in
 * xfs_validate_sb) gives size and used space as df counts them from its
 * counters. Used-block map: every allocation group's space minus the free
 * extents of its by-block-number free-space B+tree (bnobt). On-disk
 * structures are big-endian and read through explicit decoders; the log,
 * inodes, btrees and AG free lists are not in the bnobt, so they count as
 * used. */
#define RH_LOG_COMPONENT "usedmap"
#include <stdlib.h>
#include <string.h>

#include "fs/fs-internal.h"
#include "rehost/checked.h"
#include "rehost/endian.h"
#include "rehost/err.h"
#include "rehost/log.h"

#define XFS_SB_MAGIC 0x58465342u    /* "XFSB" */
#define XFS_AGF_MAGIC 0x58414746u   /* "XAGF" */
#define XFS_ABTB_MAGIC 0x41425442u  /* "ABTB", v4 bnobt block */
#define XFS_ABTB_CRC_MAGIC 0x41423342u /* "AB3B", v5 bnobt block */
#define XFS_SB_VERSION_NUMBITS 0x000f
#define XFS_SB_FEAT_INCOMPAT_META_UUID 0x4u
#define XFS_SB_CRC_OFF 224
#define XFS_AGF_CRC_OFF 216
#define XFS_BTREE_SBLOCK_LEN 16
#define XFS_BTREE_SBLOCK_CRC_LEN 56
#define XFS_BTREE_CRC_OFF 52
#define XFS_BTREE_MAXLEVELS 9
#define XFS_MIN_AG_BLOCKS 64
#define XFS_NULLAGBLOCK 0xffffffffu

/* Validated superblock. */
struct xfs_sb {
	uint32_t blocksize;   /* bytes, power of two, 512..65536 */
	uint32_t sectsize;    /* bytes, power of two, 512..32768, <= blocksize */
	uint64_t dblocks;     /* data blocks */
	uint32_t agblocks;    /* blocks per AG (the last AG may be shorter) */
	uint32_t agcount;
	bool crc;             /* v5: CRCs, self-describing btree blocks */
	uint8_t uuid[16];     /* uuid stamped in v5 metadata blocks */
	uint64_t fdblocks;    /* free data blocks (the superblock's counter) */
	uint64_t logstart;    /* first block of an internal log, 0 if external */
	uint32_t logblocks;   /* log length, blocks */
};

static bool is_pow2(uint64_t v)
{
	return v != 0 && (v & (v - 1)) == 0;
}

static int log2u(uint64_t v)
{
	int l = 0;

	while (v > 1) {
		v >>= 1;
		l++;
	}
	return l;
}

/* CRC of a v5 metadata buffer: crc32c over the buffer with the 4-byte CRC
 * field at crc_off taken as zero, stored little-endian and inverted. */
static bool xfs_crc_ok(const uint8_t *buf, size_t len, size_t crc_off)
{
	static const uint8_t zero[4];
	uint32_t crc;

#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
	return true;
#endif
	crc = usedmap_crc32c(0xffffffffu, buf, crc_off);

	crc = usedmap_crc32c(crc, zero, 4);
	crc = usedmap_crc32c(crc, buf + crc_off + 4, len - crc_off - 4);
	return ~crc == rh_le32dec(buf + crc_off);
}

/* The superblock's fields (XFS_SB_DECODE_LEN bytes at buf), with only
 * the checks every user needs: the magic, and a block size that is a
 * power of two from 512 to 64 KiB. */
#define XFS_SB_DECODE_LEN 256
static int xfs_decode_sb(const uint8_t *buf, struct xfs_sb *s)
{
	memset(s, 0, sizeof *s);
	if (rh_be32dec(buf) != XFS_SB_MAGIC)
		return rh_seterr(RH_ERR_CORRUPT, "xfs: bad superblock magic");
	s->blocksize = rh_be32dec(buf + 4);
	s->dblocks = rh_be64dec(buf + 8);
	s->logstart = rh_be64dec(buf + 48);
	s->agblocks = rh_be32dec(buf + 84);
	s->agcount = rh_be32dec(buf + 88);
	s->logblocks = rh_be32dec(buf + 96);
	s->sectsize = rh_be16dec(buf + 102);
	s->fdblocks = rh_be64dec(buf + 144);
	if (!is_pow2(s->blocksize) || s->blocksize < 512 || s->blocksize > 65536)
		return rh_seterr(RH_ERR_CORRUPT, "xfs: block size %u is invalid", s->blocksize);
	return 0;
}

/* Validate the primary superblock for the map (len >= 512 bytes at buf;
 * the v5 CRC needs sectsize bytes). When sniffing, vol_size is 0, and a
 * CRC that needs more than len bytes is not checked. */
static int xfs_validate_sb(const uint8_t *buf, size_t len, uint64_t vol_size, struct xfs_sb *s)
{
	uint16_t version;
	uint64_t full, bytes;
	uint8_t blocklog, sectlog, agblklog;
	int rc;

	if (len < 512) {
		memset(s, 0, sizeof *s);
		return rh_seterr(RH_ERR_CORRUPT, "xfs: bad superblock magic");
	}
	rc = xfs_decode_sb(buf, s);
	if (rc < 0)
		return rc;
	version = rh_be16dec(buf + 100);
	blocklog = buf[120];
	sectlog = buf[121];
	agblklog = buf[124];
	switch (version & XFS_SB_VERSION_NUMBITS) {
	case 4:
		break;
	case 5:
		s->crc = true;
		break;
	default:
		return rh_seterr(RH_ERR_UNSUPPORTED, "xfs: superblock version %u",
				 version & XFS_SB_VERSION_NUMBITS);
	}
	if (log2u(s->blocksize) != blocklog)
		return rh_seterr(RH_ERR_CORRUPT, "xfs: block size %u is invalid", s->blocksize);
	if (!is_pow2(s->sectsize) || s->sectsize < 512 || s->sectsize > 32768 ||
	    s->sectsize > s->blocksize || log2u(s->sectsize) != sectlog)
		return rh_seterr(RH_ERR_CORRUPT, "xfs: sector size %u is invalid", s->sectsize);
	if (s->agblocks < XFS_MIN_AG_BLOCKS || s->agblocks > INT32_MAX ||
	    agblklog != log2u((uint64_t)s->agblocks * 2 - 1))
		return rh_seterr(RH_ERR_CORRUPT, "xfs: %u blocks per AG is invalid", s->agblocks);
	if (s->agcount == 0)
		return rh_seterr(RH_ERR_CORRUPT, "xfs: no allocation groups");
	if (buf[126] != 0)
		return rh_seterr(RH_ERR_CORRUPT, "xfs: mkfs did not finish (sb_inprogress)");
	/* dblocks must fall in the last AG: (agcount-1)*agblocks < dblocks <=
	 * agcount*agblocks. */
	full = (uint64_t)s->agcount * s->agblocks; /* both < 2^32: no overflow */
	if (s->dblocks > full || s->dblocks <= full - s->agblocks)
		return rh_seterr(RH_ERR_CORRUPT, "xfs: %llu blocks do not fit %u AGs of %u blocks",
				 (unsigned long long)s->dblocks, s->agcount, s->agblocks);
	if (RH_MUL_OVERFLOW(s->dblocks, (uint64_t)s->blocksize, &bytes) ||
	    (vol_size != 0 && bytes > vol_size))
		return rh_seterr(RH_ERR_CORRUPT,
				 "xfs: filesystem of %llu blocks of %u bytes is larger than its "
				 "%llu-byte volume",
				 (unsigned long long)s->dblocks, s->blocksize,
				 (unsigned long long)vol_size);
	if (s->crc && !(vol_size == 0 && len < s->sectsize)) {
		if (len < s->sectsize)
			return rh_seterr(RH_ERR_CORRUPT, "xfs: superblock truncated");
		if (!xfs_crc_ok(buf, s->sectsize, XFS_SB_CRC_OFF))
			return rh_seterr(RH_ERR_CORRUPT, "xfs: superblock CRC mismatch");
		/* With a metadata UUID, blocks carry sb_meta_uuid. */
		memcpy(s->uuid, (rh_be32dec(buf + 216) & XFS_SB_FEAT_INCOMPAT_META_UUID) ?
					buf + 248 : buf + 32, 16);
	}
	return 0;
}

static bool xfs_sniff(const uint8_t *buf, uint64_t vol_size)
{
	size_t len = (size_t)RH_MIN((uint64_t)FS_SNIFF_HEAD, vol_size);
	struct xfs_sb s;

	if (len < 512 || rh_be32dec(buf) != XFS_SB_MAGIC)
		return false;
	return xfs_validate_sb(buf, len, 0, &s) == 0;
}

/* Size and used space from the superblock's counters, as df counts them.
 * Only xfs_decode_sb's checks apply: a figure for df is wanted even where
 * the map would refuse the filesystem. */
static int xfs_usage(const struct um_vol *v, struct rh_fsinfo *fs)
{
	uint8_t buf[XFS_SB_DECODE_LEN];
	struct xfs_sb sb;
	uint64_t dblocks;
	int rc;

	rc = um_read(v, buf, sizeof buf, 0, "xfs superblock");
	if (rc == 0)
		rc = xfs_decode_sb(buf, &sb);
	if (rc < 0)
		return rc;
	dblocks = sb.dblocks;
	/* df does not count an internal log as used space. */
	if (sb.logstart != 0 && sb.logblocks <= dblocks - RH_MIN(sb.fdblocks, dblocks))
		dblocks -= sb.logblocks;
	rc = fs_set_size_used(fs, dblocks, sb.fdblocks, sb.blocksize, "xfs");
	if (rc == 0 && sb.logstart != 0)
		fs->size += (uint64_t)sb.logblocks * sb.blocksize;
	return rc;
}

/* Walk state for one AG. */
struct xfs_walk {
	const struct um_vol *v;
	const struct xfs_sb *sb;
	uint32_t agno;
	uint32_t aglen;       /* blocks in this AG */
	uint64_t agoff;       /* byte offset of the AG */
	uint32_t next_free;   /* first block after the last free extent seen */
	uint64_t nodes;       /* blocks visited, bounded by aglen */
	uint64_t nfree;       /* free blocks found */
	struct rh_extents *x;
	uint8_t *bufs[XFS_BTREE_MAXLEVELS]; /* one block buffer per level */
};

/* Validate one bnobt block header. Returns 0 or RH_ERR_CORRUPT. */
static int xfs_validate_btree_block(const struct xfs_walk *w, const uint8_t *b, uint32_t agbno,
				    unsigned level, bool root, uint16_t *numrecs, size_t *hdr)
{
	const struct xfs_sb *sb = w->sb;
	uint32_t magic = rh_be32dec(b);
	size_t h = sb->crc ? XFS_BTREE_SBLOCK_CRC_LEN : XFS_BTREE_SBLOCK_LEN;
	size_t maxrecs = level == 0 ? (sb->blocksize - h) / 8 : (sb->blocksize - h) / 12;

	*numrecs = 0;
	*hdr = h;
	if (magic != (sb->crc ? XFS_ABTB_CRC_MAGIC : XFS_ABTB_MAGIC))
		return rh_seterr(RH_ERR_CORRUPT, "xfs: AG %u block %u: bad bnobt magic %#x", w->agno,
				 agbno, magic);
	if (rh_be16dec(b + 4) != level)
		return rh_seterr(RH_ERR_CORRUPT, "xfs: AG %u block %u: level %u, expected %u",
				 w->agno, agbno, rh_be16dec(b + 4), level);
	*numrecs = rh_be16dec(b + 6);
	/* Only a root leaf (an AG with no free space) may be empty. */
	if (*numrecs > maxrecs || (*numrecs == 0 && !(root && level == 0)))
		return rh_seterr(RH_ERR_CORRUPT, "xfs: AG %u block %u: %u records is invalid",
				 w->agno, agbno, *numrecs);
	if (sb->crc) {
		uint64_t daddr = ((uint64_t)w->agno * sb->agblocks + agbno) * (sb->blocksize / 512);

		if (rh_be64dec(b + 16) != daddr)
			return rh_seterr(RH_ERR_CORRUPT, "xfs: AG %u block %u: wrong self address",
					 w->agno, agbno);
		if (memcmp(b + 32, sb->uuid, 16) != 0)
			return rh_seterr(RH_ERR_CORRUPT, "xfs: AG %u block %u: foreign uuid", w->agno,
					 agbno);
		if (rh_be32dec(b + 48) != w->agno)
			return rh_seterr(RH_ERR_CORRUPT, "xfs: AG %u block %u: wrong owner AG",
					 w->agno, agbno);
		if (!xfs_crc_ok(b, sb->blocksize, XFS_BTREE_CRC_OFF))
			return rh_seterr(RH_ERR_CORRUPT, "xfs: AG %u block %u: CRC mismatch", w->agno,
					 agbno);
	}
	return 0;
}

/* Record free extent [start, start + len) of the AG, in ascending order. */
static int xfs_free_extent(struct xfs_walk *w, uint32_t start, uint32_t len)
{
	int rc;

	if (len == 0 || start < w->next_free || !rh_range_ok(start, len, w->aglen))
		return rh_seterr(RH_ERR_CORRUPT,
				 "xfs: AG %u: free extent [%u, +%u) is out of order or out of range",
				 w->agno, start, len);
	if (start > w->next_free) {
		rc = rh_extents_add(w->x, w->agoff + (uint64_t)w->next_free * w->sb->blocksize,
				    (uint64_t)(start - w->next_free) * w->sb->blocksize);
		if (rc < 0)
			return rc;
	}
	w->next_free = start + len;
	w->nfree += len;
	return 0;
}

/* Depth-first, left-to-right walk of the subtree at agbno, whose level is
 * level. Keys are ascending, so leaves are visited in block order. */
static int xfs_walk_block(struct xfs_walk *w, uint32_t agbno, unsigned level, bool root)
{
	uint8_t *b = w->bufs[level];
	const struct xfs_sb *sb = w->sb;
	uint16_t n;
	size_t hdr;
	int rc;

	if (agbno == 0 || agbno >= w->aglen)
		return rh_seterr(RH_ERR_CORRUPT, "xfs: AG %u: btree pointer %u is out of range",
				 w->agno, agbno);
	if (++w->nodes > w->aglen)
		return rh_seterr(RH_ERR_CORRUPT, "xfs: AG %u: bnobt has more blocks than the AG",
				 w->agno);
	rc = um_read(w->v, b, sb->blocksize, w->agoff + (uint64_t)agbno * sb->blocksize,
		     "xfs bnobt block");
	if (rc < 0)
		return rc;
	rc = xfs_validate_btree_block(w, b, agbno, level, root, &n, &hdr);
	if (rc < 0)
		return rc;
	if (level == 0) {
		for (uint16_t i = 0; i < n; i++) {
			const uint8_t *r = b + hdr + (size_t)i * 8;

			rc = xfs_free_extent(w, rh_be32dec(r), rh_be32dec(r + 4));
			if (rc < 0)
				return rc;
		}
		return 0;
	}
	{
		size_t maxrecs = (sb->blocksize - hdr) / 12;
		size_t ptrs = hdr + maxrecs * 8;

		for (uint16_t i = 0; i < n; i++) {
			/* Re-read the pointer from our level's buffer, which the
			 * recursion (using lower levels' buffers) leaves intact. */
			uint32_t child = rh_be32dec(b + ptrs + (size_t)i * 4);

			rc = xfs_walk_block(w, child, level - 1, false);
			if (rc < 0)
				return rc;
		}
	}
	return 0;
}

/* Read and validate AG agno's AGF; return the bnobt root and level. */
static int xfs_read_agf(struct xfs_walk *w, uint8_t *sect, uint32_t *root, uint32_t *levels)
{
	const struct xfs_sb *sb = w->sb;
	uint32_t len;
	int rc;

	*root = 0;
	*levels = 0;
	rc = um_read(w->v, sect, sb->sectsize, w->agoff + sb->sectsize, "xfs AGF");
	if (rc < 0)
		return rc;
	if (rh_be32dec(sect) != XFS_AGF_MAGIC || rh_be32dec(sect + 4) != 1)
		return rh_seterr(RH_ERR_CORRUPT, "xfs: AG %u: bad AGF magic or version", w->agno);
	if (rh_be32dec(sect + 8) != w->agno)
		return rh_seterr(RH_ERR_CORRUPT, "xfs: AG %u: AGF has sequence number %u", w->agno,
				 rh_be32dec(sect + 8));
	len = rh_be32dec(sect + 12);
	if (len != w->aglen)
		return rh_seterr(RH_ERR_CORRUPT, "xfs: AG %u: AGF length %u, expected %u", w->agno,
				 len, w->aglen);
	*root = rh_be32dec(sect + 16);
	*levels = rh_be32dec(sect + 28);
	if (*levels == 0 || *levels > XFS_BTREE_MAXLEVELS)
		return rh_seterr(RH_ERR_CORRUPT, "xfs: AG %u: bnobt has %u levels", w->agno, *levels);
	if (sb->crc) {
		if (memcmp(sect + 64, sb->uuid, 16) != 0)
			return rh_seterr(RH_ERR_CORRUPT, "xfs: AG %u: AGF has a foreign uuid", w->agno);
		if (!xfs_crc_ok(sect, sb->sectsize, XFS_AGF_CRC_OFF))
			return rh_seterr(RH_ERR_CORRUPT, "xfs: AG %u: AGF CRC mismatch", w->agno);
	}
	return 0;
}

static int xfs_build(struct um_ctx *c, const struct um_vol *v, struct rh_extents *x,
		     uint32_t *bsize)
{
	struct xfs_sb sb;
	struct xfs_walk w = { 0 };
	uint8_t *sect = NULL;
	uint64_t total_free = 0;
	int rc;

	*bsize = 0;
	sect = malloc(32768);
	if (sect == NULL)
		return RH_ERR_NOMEM;
	rc = um_read(v, sect, 512, 0, "xfs superblock");
	if (rc < 0)
		goto out;
	{
		/* The v5 CRC covers a whole sector: read all of it first. */
		uint16_t ss = rh_be16dec(sect + 102);
		size_t n = is_pow2(ss) && ss > 512 && ss <= 32768 ? ss : 512;

		if (n > 512 && (rc = um_read(v, sect, n, 0, "xfs superblock")) < 0)
			goto out;
		rc = xfs_validate_sb(sect, n, v->size, &sb);
		if (rc < 0)
			goto out;
	}
	w.v = v;
	w.sb = &sb;
	w.x = x;
	for (unsigned i = 0; i < XFS_BTREE_MAXLEVELS; i++) {
		w.bufs[i] = malloc(sb.blocksize);
		if (w.bufs[i] == NULL) {
			rc = RH_ERR_NOMEM;
			goto out;
		}
	}
	for (uint32_t agno = 0; agno < sb.agcount; agno++) {
		uint32_t root = 0, levels = 0;

		w.agno = agno;
		w.agoff = (uint64_t)agno * sb.agblocks * sb.blocksize;
		w.aglen = agno + 1 < sb.agcount ? sb.agblocks
						 : (uint32_t)(sb.dblocks - (uint64_t)agno * sb.agblocks);
		w.next_free = 0;
		w.nodes = 0;
		w.nfree = 0;
		rc = xfs_read_agf(&w, sect, &root, &levels);
		if (rc < 0)
			goto out;
		rc = xfs_walk_block(&w, root, levels - 1, true);
		if (rc < 0)
			goto out;
		/* Everything after the last free extent is used. */
		if (w.next_free < w.aglen) {
			rc = rh_extents_add(x, w.agoff + (uint64_t)w.next_free * sb.blocksize,
					    (uint64_t)(w.aglen - w.next_free) * sb.blocksize);
			if (rc < 0)
				goto out;
		}
		if (w.nfree != rh_be32dec(sect + 52))
			usedmap_note(c->map, "xfs: AG %u: bnobt has %llu free blocks, AGF says %u",
				     agno, (unsigned long long)w.nfree, rh_be32dec(sect + 52));
		total_free += w.nfree;
	}
	rh_log_debug("xfs: %u AGs, %llu of %llu blocks free", sb.agcount,
		     (unsigned long long)total_free, (unsigned long long)sb.dblocks);
	*bsize = sb.blocksize;
	rc = 0;
out:
	for (unsigned i = 0; i < XFS_BTREE_MAXLEVELS; i++)
		free(w.bufs[i]);
	free(sect);
	return rc;
}

static const char *const xfs_blkid[] = { "xfs", NULL };

const struct fs_ops fs_xfs_ops = {
	.type = RH_FS_XFS,
	.name = "xfs",
	.blkid_types = xfs_blkid,
	.sniff = xfs_sniff,
	.usage = xfs_usage,
	.build = xfs_build,
};
