/* btrfs: the superblock (validated in btrfs_validate_sb) gives size and
 * used bytes as df counts them, and bootstraps the used-block map.
 *
 * Used-block map: btrfs allocates the device in chunks, so a device
 * byte is used when it lies in a device extent of some chunk. We bootstrap
 * from the superblock's sys_chunk_array, read the chunk tree (every chunk
 * and its stripes), map each chunk's stripes on this device, and add the
 * device tree's DEV_EXTENT items when the device tree can be read from
 * this device. Also used: the first MiB (reserved; boot loaders live
 * there) and the superblock mirrors. */
#define RH_LOG_COMPONENT "usedmap"
#include <stdlib.h>
#include <string.h>

#include "fs/fs-internal.h"
#include "rehost/buf.h"
#include "rehost/checked.h"
#include "rehost/endian.h"
#include "rehost/err.h"
#include "rehost/log.h"

#define BTRFS_SB_OFF 0x10000ull
#define BTRFS_SB_SIZE 4096
#define BTRFS_MAGIC "_BHRfS_M"
#define BTRFS_SYS_ARRAY_MAX 2048
#define BTRFS_MAX_LEVEL 8
#define BTRFS_HDR_SIZE 0x65
#define BTRFS_ITEM_SIZE 25
#define BTRFS_KEYPTR_SIZE 33
#define BTRFS_KEY_SIZE 17
#define BTRFS_CHUNK_ITEM_SIZE 48
#define BTRFS_STRIPE_SIZE 32
#define BTRFS_RESERVED_START (1024 * 1024ull)

#define BTRFS_DEV_TREE_OBJECTID 4ull
#define BTRFS_ROOT_ITEM_KEY 132
#define BTRFS_DEV_EXTENT_KEY 204
#define BTRFS_CHUNK_ITEM_KEY 228

#define BTRFS_BLOCK_GROUP_DATA (1ull << 0)
#define BTRFS_BLOCK_GROUP_SYSTEM (1ull << 1)
#define BTRFS_BLOCK_GROUP_METADATA (1ull << 2)
#define BTRFS_BLOCK_GROUP_RAID0 (1ull << 3)
#define BTRFS_BLOCK_GROUP_RAID1 (1ull << 4)
#define BTRFS_BLOCK_GROUP_DUP (1ull << 5)
#define BTRFS_BLOCK_GROUP_RAID10 (1ull << 6)
#define BTRFS_BLOCK_GROUP_RAID5 (1ull << 7)
#define BTRFS_BLOCK_GROUP_RAID6 (1ull << 8)
#define BTRFS_BLOCK_GROUP_RAID1C3 (1ull << 9)
#define BTRFS_BLOCK_GROUP_RAID1C4 (1ull << 10)
#define BTRFS_PROFILE_MASK (0x7f8ull)

#define BTRFS_INCOMPAT_METADATA_UUID (1ull << 10)
#define BTRFS_INCOMPAT_ZONED (1ull << 12)

/* Bounds on what we accept from metadata. */
#define BTRFS_MAX_CHUNKS (1u << 20)
#define BTRFS_MAX_STRIPES 256

struct btrfs_key {
	uint64_t objectid;
	uint8_t type;
	uint64_t offset;
};

struct btrfs_stripe {
	uint64_t devid;
	uint64_t offset; /* physical byte offset on that device */
};

struct btrfs_chunk {
	uint64_t logical, length, type, stripe_len;
	uint16_t nstripes, sub_stripes;
	struct btrfs_stripe *stripes;
};

struct btrfs_chunks {
	struct btrfs_chunk *v;
	size_t n, cap;
	bool sorted;
};

struct btrfs_fs {
	const struct um_vol *v;
	uint64_t devid;
	uint64_t dev_bytes;    /* this device's size, from the superblock */
	uint64_t total_bytes;  /* the filesystem's size over all devices */
	uint64_t bytes_used;   /* allocated bytes over all devices */
	uint64_t incompat;     /* incompatible feature flags */
	uint32_t sectorsize, nodesize;
	uint8_t fsid[16];      /* fsid stamped in tree block headers */
	uint16_t csum_type;
	uint64_t root, chunk_root;
	uint8_t root_level, chunk_root_level;
	uint32_t sys_array_size;
	uint64_t nodes;        /* tree blocks read */
	uint64_t max_nodes;
	struct btrfs_chunks sys;    /* from sys_chunk_array */
	struct btrfs_chunks chunks; /* from the chunk tree */
	uint8_t *sb;                /* the superblock, BTRFS_SB_SIZE bytes */
	uint8_t *bufs[BTRFS_MAX_LEVEL]; /* one node buffer per level */
};

static bool is_pow2(uint64_t v)
{
	return v != 0 && (v & (v - 1)) == 0;
}

static void key_dec(const uint8_t *p, struct btrfs_key *k)
{
	k->objectid = rh_le64dec(p);
	k->type = p[8];
	k->offset = rh_le64dec(p + 9);
}

static int key_cmp(const struct btrfs_key *a, const struct btrfs_key *b)
{
	if (a->objectid != b->objectid)
		return a->objectid < b->objectid ? -1 : 1;
	if (a->type != b->type)
		return a->type < b->type ? -1 : 1;
	if (a->offset != b->offset)
		return a->offset < b->offset ? -1 : 1;
	return 0;
}

/* btrfs crc32c: standard CRC-32C (inverted in and out), little-endian. */
static bool btrfs_csum_ok(const struct btrfs_fs *fs, const uint8_t *buf, size_t len)
{
#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
	return true;
#endif
	if (fs->csum_type != 0)
		return true; /* xxhash64/sha256/blake2b: structure checks only */
	return ~usedmap_crc32c(0xffffffffu, buf + 32, len - 32) == rh_le32dec(buf);
}

/* The superblock's fields (BTRFS_SB_SIZE bytes at sb), with only the
 * check every user needs: the magic. */
static int btrfs_decode_sb(const uint8_t *sb, struct btrfs_fs *fs)
{
	if (memcmp(sb + 0x40, BTRFS_MAGIC, 8) != 0)
		return rh_seterr(RH_ERR_CORRUPT, "btrfs: bad superblock magic");
	fs->csum_type = rh_le16dec(sb + 0xc4);
	fs->total_bytes = rh_le64dec(sb + 0x70);
	fs->bytes_used = rh_le64dec(sb + 0x78);
	fs->root = rh_le64dec(sb + 0x50);
	fs->chunk_root = rh_le64dec(sb + 0x58);
	fs->sectorsize = rh_le32dec(sb + 0x90);
	fs->nodesize = rh_le32dec(sb + 0x94);
	fs->sys_array_size = rh_le32dec(sb + 0xa0);
	fs->incompat = rh_le64dec(sb + 0xbc);
	fs->root_level = sb[0xc6];
	fs->chunk_root_level = sb[0xc7];
	fs->devid = rh_le64dec(sb + 0xc9);
	fs->dev_bytes = rh_le64dec(sb + 0xd1);
	memcpy(fs->fsid, (fs->incompat & BTRFS_INCOMPAT_METADATA_UUID) ? sb + 0x23b : sb + 0x20,
	       16);
	return 0;
}

/* Validate the superblock for the map (BTRFS_SB_SIZE bytes). vol_size 0:
 * sniffing. */
static int btrfs_validate_sb(const uint8_t *sb, uint64_t vol_size, struct btrfs_fs *fs)
{
	int rc = btrfs_decode_sb(sb, fs);

	if (rc < 0)
		return rc;
	if (rh_le64dec(sb + 0x30) != BTRFS_SB_OFF)
		return rh_seterr(RH_ERR_CORRUPT, "btrfs: superblock records the wrong offset");
	if (fs->csum_type > 3)
		return rh_seterr(RH_ERR_UNSUPPORTED, "btrfs: checksum type %u", fs->csum_type);
	if (!btrfs_csum_ok(fs, sb, BTRFS_SB_SIZE))
		return rh_seterr(RH_ERR_CORRUPT, "btrfs: superblock checksum mismatch");
	if (fs->incompat & BTRFS_INCOMPAT_ZONED)
		return rh_seterr(RH_ERR_UNSUPPORTED, "btrfs: zoned filesystems");
	if (!is_pow2(fs->sectorsize) || fs->sectorsize < 4096 || fs->sectorsize > 65536)
		return rh_seterr(RH_ERR_CORRUPT, "btrfs: sector size %u is invalid", fs->sectorsize);
	if (!is_pow2(fs->nodesize) || fs->nodesize < fs->sectorsize || fs->nodesize > 65536)
		return rh_seterr(RH_ERR_CORRUPT, "btrfs: node size %u is invalid", fs->nodesize);
	if (fs->sys_array_size > BTRFS_SYS_ARRAY_MAX)
		return rh_seterr(RH_ERR_CORRUPT, "btrfs: sys_chunk_array of %u bytes",
				 fs->sys_array_size);
	if (fs->root_level >= BTRFS_MAX_LEVEL || fs->chunk_root_level >= BTRFS_MAX_LEVEL)
		return rh_seterr(RH_ERR_CORRUPT, "btrfs: tree level above %d", BTRFS_MAX_LEVEL - 1);
	if (fs->root % fs->sectorsize || fs->chunk_root % fs->sectorsize)
		return rh_seterr(RH_ERR_CORRUPT, "btrfs: unaligned tree root");
	if (rh_le64dec(sb + 0x88) == 0)
		return rh_seterr(RH_ERR_CORRUPT, "btrfs: zero devices");
	if (fs->dev_bytes < BTRFS_SB_OFF + BTRFS_SB_SIZE)
		return rh_seterr(RH_ERR_CORRUPT, "btrfs: device of %llu bytes is too small",
				 (unsigned long long)fs->dev_bytes);
	if (vol_size != 0 && fs->dev_bytes > vol_size)
		return rh_seterr(RH_ERR_CORRUPT,
				 "btrfs: device of %llu bytes is larger than its %llu-byte volume",
				 (unsigned long long)fs->dev_bytes, (unsigned long long)vol_size);
	return 0;
}

static bool btrfs_sniff(const uint8_t *buf, uint64_t vol_size)
{
	const uint8_t *sb = buf + BTRFS_SB_OFF;
	struct btrfs_fs fs = { 0 };

	return vol_size >= FS_SNIFF_BYTES && memcmp(sb + 0x40, BTRFS_MAGIC, 8) == 0 &&
	       btrfs_validate_sb(sb, 0, &fs) == 0;
}

/* Size and used bytes as the superblock records them (over all devices).
 * Only btrfs_decode_sb's check applies: a figure for df is wanted even
 * where the map would refuse the filesystem. */
static int btrfs_usage(const struct um_vol *v, struct rh_fsinfo *info)
{
	struct btrfs_fs fs = { 0 };
	uint8_t *sb = malloc(BTRFS_SB_SIZE);
	int rc;

	if (sb == NULL)
		return RH_ERR_NOMEM;
	rc = um_read(v, sb, BTRFS_SB_SIZE, BTRFS_SB_OFF, "btrfs superblock");
	if (rc == 0)
		rc = btrfs_decode_sb(sb, &fs);
	if (rc == 0 && fs.bytes_used > fs.total_bytes)
		rc = rh_seterr(RH_ERR_CORRUPT, "btrfs: %llu bytes used of %llu",
			       (unsigned long long)fs.bytes_used, (unsigned long long)fs.total_bytes);
	if (rc == 0) {
		info->size = fs.total_bytes;
		info->used = fs.bytes_used;
		info->size_known = info->used_known = true;
	}
	free(sb);
	return rc;
}

/* ---- chunks ---------------------------------------------------------------- */

static void chunks_clear(struct btrfs_chunks *cs)
{
	for (size_t i = 0; i < cs->n; i++)
		free(cs->v[i].stripes);
	free(cs->v);
	memset(cs, 0, sizeof *cs);
}

/* Bytes each stripe of a chunk occupies on its device. */
static int chunk_dev_len(const struct btrfs_chunk *ch, uint64_t *len)
{
	uint64_t div = 1;

	switch (ch->type & BTRFS_PROFILE_MASK) {
	case BTRFS_BLOCK_GROUP_RAID0:
		div = ch->nstripes;
		break;
	case BTRFS_BLOCK_GROUP_RAID10:
		div = ch->nstripes / ch->sub_stripes;
		break;
	case BTRFS_BLOCK_GROUP_RAID5:
		div = ch->nstripes - 1u;
		break;
	case BTRFS_BLOCK_GROUP_RAID6:
		div = ch->nstripes - 2u;
		break;
	default:
		break;
	}
	if (div == 0 || ch->length % div != 0)
		return rh_seterr(RH_ERR_CORRUPT,
				 "btrfs: chunk at %llu: length %llu does not split over %u stripes",
				 (unsigned long long)ch->logical, (unsigned long long)ch->length,
				 ch->nstripes);
	*len = ch->length / div;
	return 0;
}

/* Validate one chunk item (size bytes at p, key offset logical) and
 * append it to cs. Returns 0, RH_ERR_CORRUPT or RH_ERR_NOMEM. */
static int chunk_add(struct btrfs_fs *fs, struct btrfs_chunks *cs, uint64_t logical,
		     const uint8_t *p, size_t size)
{
	struct btrfs_chunk ch = { 0 };
	uint64_t end, profile, devlen;
	uint16_t n;
	int rc;

	if (size < BTRFS_CHUNK_ITEM_SIZE)
		return rh_seterr(RH_ERR_CORRUPT, "btrfs: chunk item of %zu bytes", size);
	n = rh_le16dec(p + 44);
	if (n == 0 || n > BTRFS_MAX_STRIPES ||
	    size != BTRFS_CHUNK_ITEM_SIZE + (size_t)n * BTRFS_STRIPE_SIZE)
		return rh_seterr(RH_ERR_CORRUPT, "btrfs: chunk at %llu has %u stripes in %zu bytes",
				 (unsigned long long)logical, n, size);
	ch.logical = logical;
	ch.length = rh_le64dec(p);
	ch.stripe_len = rh_le64dec(p + 16);
	ch.type = rh_le64dec(p + 24);
	ch.nstripes = n;
	ch.sub_stripes = rh_le16dec(p + 46);
	profile = ch.type & BTRFS_PROFILE_MASK;
	if (ch.length == 0 || ch.length % fs->sectorsize || logical % fs->sectorsize ||
	    RH_ADD_OVERFLOW(logical, ch.length, &end))
		return rh_seterr(RH_ERR_CORRUPT, "btrfs: chunk at %llu of %llu bytes is invalid",
				 (unsigned long long)logical, (unsigned long long)ch.length);
	if (!(ch.type & (BTRFS_BLOCK_GROUP_DATA | BTRFS_BLOCK_GROUP_SYSTEM |
			 BTRFS_BLOCK_GROUP_METADATA)) ||
	    (profile & (profile - 1)) != 0)
		return rh_seterr(RH_ERR_CORRUPT, "btrfs: chunk at %llu has type %#llx",
				 (unsigned long long)logical, (unsigned long long)ch.type);
	if (!is_pow2(ch.stripe_len) || ch.stripe_len < fs->sectorsize)
		return rh_seterr(RH_ERR_CORRUPT, "btrfs: chunk at %llu has stripe length %llu",
				 (unsigned long long)logical, (unsigned long long)ch.stripe_len);
	if ((profile == BTRFS_BLOCK_GROUP_RAID10 && (ch.sub_stripes < 2 || n % ch.sub_stripes)) ||
	    (profile == BTRFS_BLOCK_GROUP_RAID5 && n < 2) ||
	    (profile == BTRFS_BLOCK_GROUP_RAID6 && n < 3) ||
	    (profile == BTRFS_BLOCK_GROUP_DUP && n != 2))
		return rh_seterr(RH_ERR_CORRUPT, "btrfs: chunk at %llu: %u stripes for its profile",
				 (unsigned long long)logical, n);
	rc = chunk_dev_len(&ch, &devlen);
	if (rc < 0)
		return rc;
	if (cs->n >= BTRFS_MAX_CHUNKS)
		return rh_seterr(RH_ERR_TOOBIG, "btrfs: more than %u chunks", BTRFS_MAX_CHUNKS);
	ch.stripes = calloc(n, sizeof *ch.stripes);
	if (ch.stripes == NULL)
		return RH_ERR_NOMEM;
	for (uint16_t i = 0; i < n; i++) {
		const uint8_t *s = p + BTRFS_CHUNK_ITEM_SIZE + (size_t)i * BTRFS_STRIPE_SIZE;

		ch.stripes[i].devid = rh_le64dec(s);
		ch.stripes[i].offset = rh_le64dec(s + 8);
		if (ch.stripes[i].devid == fs->devid &&
		    !rh_range_ok(ch.stripes[i].offset, devlen, fs->dev_bytes)) {
			rc = rh_seterr(RH_ERR_CORRUPT,
				       "btrfs: chunk at %llu: stripe [%llu, +%llu) is outside the device",
				       (unsigned long long)logical,
				       (unsigned long long)ch.stripes[i].offset,
				       (unsigned long long)devlen);
			free(ch.stripes);
			return rc;
		}
	}
	if (cs->n == cs->cap) {
		size_t ncap = cs->cap ? cs->cap * 2 : 16;
		struct btrfs_chunk *nv = realloc(cs->v, ncap * sizeof *nv);

		if (nv == NULL) {
			free(ch.stripes);
			return RH_ERR_NOMEM;
		}
		cs->v = nv;
		cs->cap = ncap;
	}
	cs->v[cs->n++] = ch;
	cs->sorted = false;
	return 0;
}

static int chunk_cmp(const void *a, const void *b)
{
	const struct btrfs_chunk *x = a, *y = b;

	return x->logical < y->logical ? -1 : x->logical > y->logical;
}

/* Sort by logical address and refuse overlapping chunks. */
static int chunks_sort(struct btrfs_chunks *cs)
{
	if (cs->sorted)
		return 0;
	if (cs->n > 1)
		qsort(cs->v, cs->n, sizeof *cs->v, chunk_cmp);
	for (size_t i = 1; i < cs->n; i++)
		if (cs->v[i].logical < cs->v[i - 1].logical + cs->v[i - 1].length)
			return rh_seterr(RH_ERR_CORRUPT, "btrfs: chunks at %llu and %llu overlap",
					 (unsigned long long)cs->v[i - 1].logical,
					 (unsigned long long)cs->v[i].logical);
	cs->sorted = true;
	return 0;
}

/* Physical offset on this device of the tree block at logical. */
static int chunk_map(const struct btrfs_fs *fs, const struct btrfs_chunks *cs, uint64_t logical,
		     uint64_t *phys)
{
	size_t lo = 0, hi = cs->n;
	const struct btrfs_chunk *ch = NULL;
	uint64_t in, profile;

	*phys = 0;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (cs->v[mid].logical + cs->v[mid].length <= logical)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < cs->n && cs->v[lo].logical <= logical)
		ch = &cs->v[lo];
	if (ch == NULL || logical - ch->logical + fs->nodesize > ch->length)
		return rh_seterr(RH_ERR_CORRUPT, "btrfs: tree block at %llu is in no chunk",
				 (unsigned long long)logical);
	in = logical - ch->logical;
	profile = ch->type & BTRFS_PROFILE_MASK;
	if (profile == BTRFS_BLOCK_GROUP_RAID0 || profile == BTRFS_BLOCK_GROUP_RAID10) {
		uint64_t nr = in / ch->stripe_len, soff = in % ch->stripe_len;
		unsigned sub = profile == BTRFS_BLOCK_GROUP_RAID10 ? ch->sub_stripes : 1;
		unsigned factor = ch->nstripes / sub;
		unsigned first = (unsigned)(nr % factor) * sub;

		if (soff + fs->nodesize > ch->stripe_len)
			return rh_seterr(RH_ERR_CORRUPT, "btrfs: tree block at %llu crosses a stripe",
					 (unsigned long long)logical);
		for (unsigned i = first; i < first + sub; i++) {
			if (ch->stripes[i].devid == fs->devid) {
				*phys = ch->stripes[i].offset + (nr / factor) * ch->stripe_len + soff;
				return 0;
			}
		}
	} else if (profile == BTRFS_BLOCK_GROUP_RAID5 || profile == BTRFS_BLOCK_GROUP_RAID6) {
		return rh_seterr(RH_ERR_UNSUPPORTED,
				 "btrfs: metadata at %llu is in a RAID5/6 chunk",
				 (unsigned long long)logical);
	} else {
		for (unsigned i = 0; i < ch->nstripes; i++) {
			if (ch->stripes[i].devid == fs->devid) {
				*phys = ch->stripes[i].offset + in;
				return 0;
			}
		}
	}
	return rh_seterr(RH_ERR_UNSUPPORTED,
			 "btrfs: tree block at %llu has no copy on this device (devid %llu)",
			 (unsigned long long)logical, (unsigned long long)fs->devid);
}

/* ---- trees --------------------------------------------------------------- */

/* Called for each leaf item whose key is in the walk's range. */
typedef int (*btrfs_item_fn)(struct btrfs_fs *fs, const struct btrfs_key *k, const uint8_t *data,
			     size_t size, void *ctx);

/* Validate a tree block header (nodesize bytes at b). */
static int btrfs_validate_block(const struct btrfs_fs *fs, const uint8_t *b, uint64_t logical,
				unsigned level, uint32_t *nritems)
{
	size_t per;

	*nritems = 0;
	if (rh_le64dec(b + 0x30) != logical)
		return rh_seterr(RH_ERR_CORRUPT, "btrfs: tree block at %llu records address %llu",
				 (unsigned long long)logical,
				 (unsigned long long)rh_le64dec(b + 0x30));
	if (memcmp(b + 0x20, fs->fsid, 16) != 0)
		return rh_seterr(RH_ERR_CORRUPT, "btrfs: tree block at %llu has a foreign fsid",
				 (unsigned long long)logical);
	if (b[0x64] != level)
		return rh_seterr(RH_ERR_CORRUPT, "btrfs: tree block at %llu has level %u, expected %u",
				 (unsigned long long)logical, b[0x64], level);
	if (!btrfs_csum_ok(fs, b, fs->nodesize))
		return rh_seterr(RH_ERR_CORRUPT, "btrfs: tree block at %llu: checksum mismatch",
				 (unsigned long long)logical);
	per = level == 0 ? BTRFS_ITEM_SIZE : BTRFS_KEYPTR_SIZE;
	*nritems = rh_le32dec(b + 0x60);
	if (*nritems > (fs->nodesize - BTRFS_HDR_SIZE) / per || (level > 0 && *nritems == 0))
		return rh_seterr(RH_ERR_CORRUPT, "btrfs: tree block at %llu has %u items",
				 (unsigned long long)logical, *nritems);
	return 0;
}

/* Walk the subtree at logical (of level level), calling fn for leaf items
 * with keys in [lo, hi]. cs maps logical addresses. */
static int btrfs_walk(struct btrfs_fs *fs, const struct btrfs_chunks *cs, uint64_t logical,
		      unsigned level, const struct btrfs_key *lo, const struct btrfs_key *hi,
		      btrfs_item_fn fn, void *ctx)
{
	uint8_t *b = fs->bufs[level];
	struct btrfs_key k, prev = { 0 };
	uint64_t phys = 0;
	uint32_t n = 0;
	int rc;

	if (level >= BTRFS_MAX_LEVEL)
		return rh_seterr(RH_ERR_CORRUPT, "btrfs: tree too deep");
	if (++fs->nodes > fs->max_nodes)
		return rh_seterr(RH_ERR_CORRUPT, "btrfs: trees have more blocks than the device");
	rc = chunk_map(fs, cs, logical, &phys);
	if (rc < 0)
		return rc;
	if (!rh_range_ok(phys, fs->nodesize, fs->dev_bytes))
		return rh_seterr(RH_ERR_CORRUPT, "btrfs: tree block at %llu maps outside the device",
				 (unsigned long long)logical);
	rc = um_read(fs->v, b, fs->nodesize, phys, "btrfs tree block");
	if (rc < 0)
		return rc;
	rc = btrfs_validate_block(fs, b, logical, level, &n);
	if (rc < 0)
		return rc;
	if (level == 0) {
		size_t data_min = BTRFS_HDR_SIZE + (size_t)n * BTRFS_ITEM_SIZE;

		for (uint32_t i = 0; i < n; i++) {
			const uint8_t *it = b + BTRFS_HDR_SIZE + (size_t)i * BTRFS_ITEM_SIZE;
			uint32_t doff = rh_le32dec(it + 17), dsize = rh_le32dec(it + 21);
			uint64_t start = (uint64_t)BTRFS_HDR_SIZE + doff;

			key_dec(it, &k);
			if (i > 0 && key_cmp(&prev, &k) >= 0)
				return rh_seterr(RH_ERR_CORRUPT, "btrfs: leaf at %llu: keys out of order",
						 (unsigned long long)logical);
			prev = k;
			if (start < data_min || !rh_range_ok(start, dsize, fs->nodesize))
				return rh_seterr(RH_ERR_CORRUPT, "btrfs: leaf at %llu: item %u data out of "
						 "bounds", (unsigned long long)logical, i);
			if (key_cmp(&k, lo) < 0 || key_cmp(&k, hi) > 0)
				continue;
			rc = fn(fs, &k, b + start, dsize, ctx);
			if (rc < 0)
				return rc;
		}
		return 0;
	}
	for (uint32_t i = 0; i < n; i++) {
		const uint8_t *kp = b + BTRFS_HDR_SIZE + (size_t)i * BTRFS_KEYPTR_SIZE;
		struct btrfs_key next;

		key_dec(kp, &k);
		if (i > 0 && key_cmp(&prev, &k) >= 0)
			return rh_seterr(RH_ERR_CORRUPT, "btrfs: node at %llu: keys out of order",
					 (unsigned long long)logical);
		prev = k;
		/* Child i holds keys in [k_i, k_{i+1}): skip it when that range
		 * misses [lo, hi]. */
		if (key_cmp(&k, hi) > 0)
			break;
		if (i + 1 < n) {
			key_dec(kp + BTRFS_KEYPTR_SIZE, &next);
			if (key_cmp(&next, lo) <= 0)
				continue;
		}
		/* Recursion reuses lower levels' buffers only: b stays valid. */
		rc = btrfs_walk(fs, cs, rh_le64dec(kp + BTRFS_KEY_SIZE), level - 1, lo, hi, fn, ctx);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static int chunk_item_fn(struct btrfs_fs *fs, const struct btrfs_key *k, const uint8_t *data,
			 size_t size, void *ctx)
{
	if (k->type != BTRFS_CHUNK_ITEM_KEY)
		return 0;
	return chunk_add(fs, &fs->chunks, k->offset, data, size);
}

/* Parse the superblock's sys_chunk_array: (key, chunk item) pairs, each
 * item followed by its variable number of stripes. A bounded cursor over
 * the array does the length checks: nothing is read past sys_array_size. */
static int btrfs_read_sys_array(struct btrfs_fs *fs)
{
	struct rh_buf_cursor cur;
	int rc;

	rh_buf_cursor_init(&cur, fs->sb + 0x32b, fs->sys_array_size);
	while (rh_buf_remaining(&cur) > 0) {
		const uint8_t *kp, *item, *stripes;
		struct btrfs_key k;
		uint16_t n;

		if (rh_buf_get_bytes(&cur, BTRFS_KEY_SIZE, &kp) < 0 ||
		    rh_buf_get_bytes(&cur, BTRFS_CHUNK_ITEM_SIZE, &item) < 0)
			return rh_seterr(RH_ERR_CORRUPT, "btrfs: sys_chunk_array truncated");
		key_dec(kp, &k);
		if (k.type != BTRFS_CHUNK_ITEM_KEY)
			return rh_seterr(RH_ERR_CORRUPT, "btrfs: sys_chunk_array holds key type %u",
					 k.type);
		n = rh_le16dec(item + 44);
		/* The stripes follow the item in the same array: item and
		 * stripes are one contiguous chunk item for chunk_add. */
		if (rh_buf_get_bytes(&cur, (size_t)n * BTRFS_STRIPE_SIZE, &stripes) < 0)
			return rh_seterr(RH_ERR_CORRUPT, "btrfs: sys_chunk_array truncated");
		rc = chunk_add(fs, &fs->sys, k.offset, item,
			       BTRFS_CHUNK_ITEM_SIZE + (size_t)n * BTRFS_STRIPE_SIZE);
		if (rc < 0)
			return rc;
	}
	if (fs->sys.n == 0)
		return rh_seterr(RH_ERR_CORRUPT, "btrfs: empty sys_chunk_array");
	return chunks_sort(&fs->sys);
}

/* ---- device extents -------------------------------------------------------- */

struct root_find {
	bool found;
	uint64_t bytenr;
	uint8_t level;
};

static int root_item_fn(struct btrfs_fs *fs, const struct btrfs_key *k, const uint8_t *data,
			size_t size, void *ctx)
{
	struct root_find *r = ctx;

	if (r->found)
		return 0;
	if (size < 239)
		return rh_seterr(RH_ERR_CORRUPT, "btrfs: root item of %zu bytes", size);
	r->bytenr = rh_le64dec(data + 176);
	r->level = data[238];
	if (r->level >= BTRFS_MAX_LEVEL || r->bytenr % fs->sectorsize)
		return rh_seterr(RH_ERR_CORRUPT, "btrfs: device tree root is invalid");
	r->found = true;
	return 0;
}

struct devext_ctx {
	struct rh_extents *x;
	uint64_t n, bytes;
};

static int dev_extent_fn(struct btrfs_fs *fs, const struct btrfs_key *k, const uint8_t *data,
			 size_t size, void *ctx)
{
	struct devext_ctx *d = ctx;
	uint64_t len;

	if (size < 32)
		return rh_seterr(RH_ERR_CORRUPT, "btrfs: device extent item of %zu bytes", size);
	len = rh_le64dec(data + 24);
	if (len == 0 || !rh_range_ok(k->offset, len, fs->dev_bytes))
		return rh_seterr(RH_ERR_CORRUPT, "btrfs: device extent [%llu, +%llu) is outside the "
				 "device", (unsigned long long)k->offset, (unsigned long long)len);
	d->n++;
	d->bytes += len;
	return rh_extents_add(d->x, k->offset, len);
}

/* Device extents of this device from the device tree, into x. */
static int btrfs_dev_extents(struct btrfs_fs *fs, struct rh_extents *x, uint64_t *count)
{
	struct btrfs_key lo = { BTRFS_DEV_TREE_OBJECTID, BTRFS_ROOT_ITEM_KEY, 0 };
	struct btrfs_key hi = { BTRFS_DEV_TREE_OBJECTID, BTRFS_ROOT_ITEM_KEY, UINT64_MAX };
	struct root_find r = { 0 };
	struct devext_ctx d = { x, 0, 0 };
	int rc;

	rc = btrfs_walk(fs, &fs->chunks, fs->root, fs->root_level, &lo, &hi, root_item_fn, &r);
	if (rc < 0)
		return rc;
	if (!r.found)
		return rh_seterr(RH_ERR_CORRUPT, "btrfs: no device tree in the root tree");
	lo = (struct btrfs_key){ fs->devid, BTRFS_DEV_EXTENT_KEY, 0 };
	hi = (struct btrfs_key){ fs->devid, BTRFS_DEV_EXTENT_KEY, UINT64_MAX };
	rc = btrfs_walk(fs, &fs->chunks, r.bytenr, r.level, &lo, &hi, dev_extent_fn, &d);
	*count = d.n;
	return rc;
}

static int btrfs_build(struct um_ctx *c, const struct um_vol *v, struct rh_extents *x,
		       uint32_t *bsize)
{
	static const uint64_t mirrors[] = { BTRFS_SB_OFF, 64ull << 20, 256ull << 30, 1ull << 50 };
	struct btrfs_key all_lo = { 0, 0, 0 }, all_hi = { UINT64_MAX, 255, UINT64_MAX };
	struct btrfs_fs fs = { 0 };
	struct rh_extents *dx = NULL, *cx = NULL;
	uint64_t ndev = 0, chunk_bytes = 0;
	int rc;

	*bsize = 0;
	fs.v = v;
	fs.sb = malloc(BTRFS_SB_SIZE);
	if (fs.sb == NULL)
		return RH_ERR_NOMEM;
	rc = um_read(v, fs.sb, BTRFS_SB_SIZE, BTRFS_SB_OFF, "btrfs superblock");
	if (rc < 0)
		goto out;
	rc = btrfs_validate_sb(fs.sb, v->size, &fs);
	if (rc < 0)
		goto out;
	fs.max_nodes = fs.dev_bytes / fs.nodesize + 1;
	for (unsigned i = 0; i < BTRFS_MAX_LEVEL; i++) {
		fs.bufs[i] = malloc(fs.nodesize);
		if (fs.bufs[i] == NULL) {
			rc = RH_ERR_NOMEM;
			goto out;
		}
	}
	rc = btrfs_read_sys_array(&fs);
	if (rc < 0)
		goto out;
	rc = btrfs_walk(&fs, &fs.sys, fs.chunk_root, fs.chunk_root_level, &all_lo, &all_hi,
			chunk_item_fn, NULL);
	if (rc == 0)
		rc = chunks_sort(&fs.chunks);
	if (rc < 0)
		goto out;
	if (fs.chunks.n == 0) {
		rc = rh_seterr(RH_ERR_CORRUPT, "btrfs: chunk tree holds no chunks");
		goto out;
	}

	/* Fixed areas: the reserved first MiB and the superblock copies. */
	rc = rh_extents_add(x, 0, RH_MIN(BTRFS_RESERVED_START, fs.dev_bytes));
	for (size_t i = 0; rc == 0 && i < RH_ARRAY_SIZE(mirrors); i++)
		if (mirrors[i] + BTRFS_SB_SIZE <= fs.dev_bytes)
			rc = rh_extents_add(x, mirrors[i], BTRFS_SB_SIZE);
	if (rc < 0)
		goto out;

	/* Stripes of every chunk (sys_chunk_array and chunk tree) on this
	 * device. */
	rc = rh_extents_new(v->size, 1, &cx);
	if (rc < 0)
		goto out;
	for (int pass = 0; pass < 2; pass++) {
		const struct btrfs_chunks *cs = pass ? &fs.chunks : &fs.sys;

		for (size_t i = 0; i < cs->n; i++) {
			const struct btrfs_chunk *ch = &cs->v[i];
			uint64_t devlen;

			rc = chunk_dev_len(ch, &devlen);
			for (unsigned s = 0; rc == 0 && s < ch->nstripes; s++)
				if (ch->stripes[s].devid == fs.devid)
					rc = rh_extents_add(cx, ch->stripes[s].offset, devlen);
			if (rc < 0)
				goto out;
		}
	}
	chunk_bytes = rh_extents_used(cx);
	rc = rh_extents_add_list(x, cx, 0);
	if (rc < 0)
		goto out;

	/* Device extents, when the device tree is reachable from here. */
	rc = rh_extents_new(v->size, 1, &dx);
	if (rc < 0)
		goto out;
	rc = btrfs_dev_extents(&fs, dx, &ndev);
	if (rc == RH_ERR_UNSUPPORTED) {
		usedmap_note(c->map, "btrfs: device tree not readable here (%s); used chunk stripes",
			     rh_lasterr());
		rh_clearerr();
		rc = 0;
	} else if (rc < 0) {
		goto out;
	} else {
		if (rh_extents_used(dx) != chunk_bytes || rh_extents_count(dx) != rh_extents_count(cx))
			usedmap_note(c->map, "btrfs: device extents (%llu bytes) and chunk stripes "
					     "(%llu bytes) differ; using both",
				     (unsigned long long)rh_extents_used(dx),
				     (unsigned long long)chunk_bytes);
		rc = rh_extents_add_list(x, dx, 0);
		if (rc < 0)
			goto out;
	}
	rh_log_debug("btrfs: devid %llu, %zu chunks, %llu device extents, %llu chunk bytes here",
		     (unsigned long long)fs.devid, fs.chunks.n, (unsigned long long)ndev,
		     (unsigned long long)chunk_bytes);
	*bsize = fs.sectorsize;
	rc = 0;
out:
	rh_extents_free(cx);
	rh_extents_free(dx);
	chunks_clear(&fs.sys);
	chunks_clear(&fs.chunks);
	for (unsigned i = 0; i < BTRFS_MAX_LEVEL; i++)
		free(fs.bufs[i]);
	free(fs.sb);
	return rc;
}

static const char *const btrfs_blkid[] = { "btrfs", NULL };

const struct fs_ops fs_btrfs_ops = {
	.type = RH_FS_BTRFS,
	.name = "btrfs",
	.blkid_types = btrfs_blkid,
	.sniff = btrfs_sniff,
	.usage = btrfs_usage,
	.build = btrfs_build,
};
