/* vfat (FAT12, FAT16, FAT32). The layout comes from the BIOS parameter
 * block, validated in one place (fat_validate), for both figures we take
 * from it: used space as df counts it (clusters whose FAT entry is not 0),
 * and the used-block map (the reserved sectors, the FATs, the FAT12/16 root
 * directory, and every cluster whose FAT entry is neither free nor marked
 * bad). */
#define RH_LOG_COMPONENT "usedmap"
#include <stdlib.h>
#include <string.h>

#include "fs/fs-internal.h"
#include "rehost/checked.h"
#include "rehost/endian.h"
#include "rehost/err.h"
#include "rehost/log.h"

/* FAT entries read per step for FAT16/32 (a multiple of 4 bytes). */
#define FAT_READ_CHUNK (1u << 20)
/* Largest FAT usage counts entry by entry; bigger ones use FSInfo. */
#define FAT_MAX_SCAN (64u << 20)

struct fat_geo {
	unsigned bits;        /* 12, 16 or 32 */
	uint32_t bps;         /* bytes per sector */
	uint32_t spc;         /* sectors per cluster */
	uint32_t reserved;    /* reserved sectors */
	uint32_t nfats;
	uint32_t fatsz;       /* sectors per FAT */
	uint32_t total;       /* sectors */
	uint32_t data_start;  /* first data sector */
	uint32_t clusters;    /* data clusters, numbered 2..clusters+1 */
	uint32_t active_fat;  /* FAT to read */
};

static bool is_pow2(uint32_t v)
{
	return v != 0 && (v & (v - 1)) == 0;
}

/* The BPB's layout (512 bytes at bs), with only the checks every user
 * needs: sector and cluster sizes powers of two, non-zero counts, and
 * metadata that leaves a data area. *root_ents is the FAT12/16 root
 * directory's entry count. Returns 0 or RH_ERR_CORRUPT. */
static int fat_decode(const uint8_t *bs, struct fat_geo *g, uint32_t *root_ents)
{
	uint32_t root_secs;
	uint64_t meta;

	memset(g, 0, sizeof *g);
	g->bps = rh_le16dec(bs + 11);
	g->spc = bs[13];
	g->reserved = rh_le16dec(bs + 14);
	g->nfats = bs[16];
	*root_ents = rh_le16dec(bs + 17);
	g->total = rh_le16dec(bs + 19) ? rh_le16dec(bs + 19) : rh_le32dec(bs + 32);
	g->fatsz = rh_le16dec(bs + 22) ? rh_le16dec(bs + 22) : rh_le32dec(bs + 36);
	if (!is_pow2(g->bps) || g->bps < 512 || g->bps > 4096)
		return rh_seterr(RH_ERR_CORRUPT, "vfat: %u bytes per sector is invalid", g->bps);
	if (!is_pow2(g->spc))
		return rh_seterr(RH_ERR_CORRUPT, "vfat: %u sectors per cluster is invalid", g->spc);
	if (g->reserved == 0 || g->nfats == 0 || g->nfats > 4 || g->fatsz == 0 || g->total == 0)
		return rh_seterr(RH_ERR_CORRUPT, "vfat: BPB has zero reserved sectors, FATs or size");
	root_secs = (*root_ents * 32 + g->bps - 1) / g->bps;
	meta = (uint64_t)g->nfats * g->fatsz + g->reserved + root_secs;
	if (meta >= g->total)
		return rh_seterr(RH_ERR_CORRUPT, "vfat: metadata fills the whole volume");
	g->data_start = (uint32_t)meta;
	g->clusters = (g->total - g->data_start) / g->spc;
	/* The FAT type follows from the cluster count (Microsoft's rule). */
	if (g->clusters < 4085)
		g->bits = 12;
	else if (g->clusters < 65525)
		g->bits = 16;
	else
		g->bits = 32;
	return 0;
}

/* Validate the boot sector's BPB for the map (len >= 512 bytes at bs).
 * vol_size 0 skips the size check. Returns 0 or RH_ERR_CORRUPT. */
static int fat_validate(const uint8_t *bs, size_t len, uint64_t vol_size, struct fat_geo *g)
{
	uint32_t root_ents;
	uint64_t fat_entries, bytes;
	int rc;

	memset(g, 0, sizeof *g);
	if (len < 512)
		return rh_seterr(RH_ERR_CORRUPT, "vfat: boot sector truncated");
	if (bs[0] != 0xEB && bs[0] != 0xE9)
		return rh_seterr(RH_ERR_CORRUPT, "vfat: no jump instruction in the boot sector");
	rc = fat_decode(bs, g, &root_ents);
	if (rc < 0)
		return rc;
	if (g->spc > 128)
		return rh_seterr(RH_ERR_CORRUPT, "vfat: %u sectors per cluster is invalid", g->spc);
	if (bs[21] != 0xF0 && bs[21] < 0xF8)
		return rh_seterr(RH_ERR_CORRUPT, "vfat: media byte %#x is invalid", bs[21]);
	if (g->bits == 32) {
		uint16_t ext = rh_le16dec(bs + 40);

		if (root_ents != 0 || rh_le16dec(bs + 22) != 0)
			return rh_seterr(RH_ERR_CORRUPT, "vfat: FAT32 with a FAT16 root directory");
		if (g->clusters > 0x0FFFFFF5u)
			return rh_seterr(RH_ERR_CORRUPT, "vfat: too many clusters for FAT32");
		/* Mirroring off: only the active FAT is current. */
		if (ext & 0x80) {
			g->active_fat = ext & 0x0f;
			if (g->active_fat >= g->nfats)
				return rh_seterr(RH_ERR_CORRUPT, "vfat: active FAT %u of %u",
						 g->active_fat, g->nfats);
		}
	} else if (root_ents == 0) {
		return rh_seterr(RH_ERR_CORRUPT, "vfat: FAT%u without a root directory", g->bits);
	}
	if (g->clusters == 0)
		return rh_seterr(RH_ERR_CORRUPT, "vfat: no data clusters");
	fat_entries = (uint64_t)g->fatsz * g->bps * 8 / g->bits;
	if (fat_entries < (uint64_t)g->clusters + 2)
		return rh_seterr(RH_ERR_CORRUPT, "vfat: FAT of %u sectors cannot hold %u clusters",
				 g->fatsz, g->clusters);
	bytes = (uint64_t)g->total * g->bps;
	if (vol_size != 0 && bytes > vol_size)
		return rh_seterr(RH_ERR_CORRUPT,
				 "vfat: filesystem of %llu bytes is larger than its %llu-byte volume",
				 (unsigned long long)bytes, (unsigned long long)vol_size);
	return 0;
}

static bool fat_sniff(const uint8_t *bs, uint64_t vol_size)
{
	size_t len = (size_t)RH_MIN((uint64_t)FS_SNIFF_HEAD, vol_size);
	struct fat_geo g;

	/* A FAT boot sector carries the 0x55AA signature; require it when
	 * sniffing so random data with a jump byte is not taken for FAT. */
	return len >= 512 && bs[510] == 0x55 && bs[511] == 0xAA && fat_validate(bs, len, 0, &g) == 0;
}

/* Run-length state over the cluster entries. */
struct fat_scan {
	const struct fat_geo *g;
	struct rh_extents *x;
	uint64_t data_off;   /* byte offset of cluster 2 */
	uint64_t cbytes;     /* bytes per cluster */
	uint32_t run_start;  /* first cluster of the current used run, 0 = none */
	uint64_t nused;
};

static int fat_flush(struct fat_scan *s, uint32_t end)
{
	int rc = 0;

	if (s->run_start != 0) {
		rc = rh_extents_add(s->x, s->data_off + (uint64_t)(s->run_start - 2) * s->cbytes,
				    (uint64_t)(end - s->run_start) * s->cbytes);
		s->run_start = 0;
	}
	return rc;
}

static int fat_entry(struct fat_scan *s, uint32_t cl, uint32_t val)
{
	uint32_t bad = s->g->bits == 12 ? 0xFF7 : s->g->bits == 16 ? 0xFFF7 : 0x0FFFFFF7;
	bool used;

	if (s->g->bits == 32)
		val &= 0x0FFFFFFF;
	used = val != 0 && val != bad;
	if (used) {
		s->nused++;
		if (s->run_start == 0)
			s->run_start = cl;
		return 0;
	}
	return fat_flush(s, cl);
}

/* Free clusters from the FAT32 FSInfo sector; false when it is missing or
 * implausible. */
static bool fat_fsinfo_free(const struct um_vol *v, const uint8_t *boot, const struct fat_geo *g,
			    uint64_t *nfree)
{
	uint8_t info[512];
	uint32_t sec = rh_le16dec(boot + 48), n;

	if (g->bits != 32 || sec == 0 || sec >= g->reserved ||
	    um_read(v, info, sizeof info, (uint64_t)sec * g->bps, "vfat FSInfo") < 0 ||
	    rh_le32dec(info) != 0x41615252 || rh_le32dec(info + 484) != 0x61417272)
		return false;
	n = rh_le32dec(info + 488);
	if (n == 0xFFFFFFFF || n > g->clusters)
		return false;
	*nfree = n;
	return true;
}

/* Size, and used space as df counts it: clusters whose entry in the first
 * FAT is not 0 (bad clusters included), or FSInfo's count for a FAT too
 * large to scan (without it, the used figure stays unknown). Only
 * fat_decode's checks and a FAT large enough for the clusters apply: df
 * figures are wanted even where the map would refuse the filesystem. */
static int fat_usage(const struct um_vol *v, struct rh_fsinfo *fs)
{
	uint8_t boot[512];
	struct fat_geo g;
	uint32_t root_ents;
	uint64_t fat_bytes, nfree = 0;
	uint8_t *fat = NULL;
	int rc;

	rc = um_read(v, boot, sizeof boot, 0, "vfat boot sector");
	if (rc == 0)
		rc = fat_decode(boot, &g, &root_ents);
	if (rc < 0)
		return rc;
	fat_bytes = ((uint64_t)g.clusters + 2) * g.bits / 8 + 2;
	if (fat_bytes > (uint64_t)g.fatsz * g.bps)
		return rh_seterr(RH_ERR_CORRUPT, "vfat: FAT too small for %u clusters", g.clusters);
	fs->size = (uint64_t)g.total * g.bps;
	fs->size_known = true;
	fs->used_known = false;
	if (fat_bytes > FAT_MAX_SCAN) {
		if (!fat_fsinfo_free(v, boot, &g, &nfree))
			return 0;
	} else {
		fat = malloc(fat_bytes);
		if (fat == NULL)
			return RH_ERR_NOMEM;
		rc = um_read(v, fat, fat_bytes, (uint64_t)g.reserved * g.bps, "vfat FAT");
		if (rc < 0)
			goto out;
		for (uint64_t c = 2; c < (uint64_t)g.clusters + 2; c++) {
			uint32_t e;

			if (g.bits == 12) {
				e = rh_le16dec(fat + c + c / 2);
				e = (c & 1) ? e >> 4 : e & 0xFFF;
			} else if (g.bits == 16) {
				e = rh_le16dec(fat + c * 2);
			} else {
				e = rh_le32dec(fat + c * 4) & 0x0FFFFFFF;
			}
			if (e == 0)
				nfree++;
		}
	}
	fs->used = (g.clusters - nfree) * (uint64_t)g.spc * g.bps;
	fs->used_known = true;
out:
	free(fat);
	return rc;
}

static int fat_build(struct um_ctx *c, const struct um_vol *v, struct rh_extents *x,
		     uint32_t *bsize)
{
	uint8_t boot[512];
	struct fat_geo g;
	struct fat_scan s = { 0 };
	uint8_t *buf = NULL;
	uint64_t fat_off;
	uint32_t last = 0;
	int rc;

	*bsize = 0;
	rc = um_read(v, boot, 512, 0, "vfat boot sector");
	if (rc < 0)
		return rc;
	rc = fat_validate(boot, 512, v->size, &g);
	if (rc < 0)
		return rc;
	/* Reserved sectors, FATs and the FAT12/16 root directory. */
	rc = rh_extents_add(x, 0, (uint64_t)g.data_start * g.bps);
	if (rc < 0)
		return rc;
	s.g = &g;
	s.x = x;
	s.data_off = (uint64_t)g.data_start * g.bps;
	s.cbytes = (uint64_t)g.spc * g.bps;
	fat_off = ((uint64_t)g.reserved + (uint64_t)g.active_fat * g.fatsz) * g.bps;
	last = g.clusters + 1; /* highest valid cluster number */

	if (g.bits == 12) {
		/* At most 4086 entries: 6 KiB. */
		size_t n = ((size_t)last + 1) * 3 / 2 + 1;

		buf = calloc(1, n + 1);
		if (buf == NULL)
			return RH_ERR_NOMEM;
		rc = um_read(v, buf, n, fat_off, "vfat FAT");
		if (rc < 0)
			goto out;
		for (uint32_t cl = 2; cl <= last; cl++) {
			uint32_t o = cl * 3 / 2;
			uint32_t pair = rh_le16dec(buf + o);

			rc = fat_entry(&s, cl, cl & 1 ? pair >> 4 : pair & 0xFFF);
			if (rc < 0)
				goto out;
		}
	} else {
		uint32_t esz = g.bits / 8;
		uint32_t per = FAT_READ_CHUNK / esz;

		buf = malloc(FAT_READ_CHUNK);
		if (buf == NULL)
			return RH_ERR_NOMEM;
		for (uint64_t first = 0; first <= last; first += per) {
			uint64_t cnt = RH_MIN((uint64_t)per, (uint64_t)last + 1 - first);

			rc = um_read(v, buf, (size_t)(cnt * esz), fat_off + first * esz, "vfat FAT");
			if (rc < 0)
				goto out;
			for (uint64_t i = 0; i < cnt; i++) {
				uint32_t cl = (uint32_t)(first + i);

				if (cl < 2)
					continue;
				rc = fat_entry(&s, cl, esz == 2 ? rh_le16dec(buf + i * 2)
								: rh_le32dec(buf + i * 4));
				if (rc < 0)
					goto out;
			}
		}
	}
	rc = fat_flush(&s, last + 1);
	if (rc < 0)
		goto out;
	rh_log_debug("vfat: FAT%u, %u of %u clusters used", g.bits, (unsigned)s.nused, g.clusters);
	*bsize = (uint32_t)s.cbytes;
out:
	free(buf);
	return rc;
}

static const char *const fat_blkid[] = { "vfat", NULL };

const struct fs_ops fs_vfat_ops = {
	.type = RH_FS_VFAT,
	.name = "vfat",
	.blkid_types = fat_blkid,
	.sniff = fat_sniff,
	.usage = fat_usage,
	.build = fat_build,
};
