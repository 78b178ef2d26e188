/*
 * Size and used space of a filesystem from its own superblock, without
 * mounting it: ext2/3/4 through libext2fs, xfs, btrfs, vfat and swap by
 * reading their (documented, fixed-layout) superblocks. Every field is
 * range-checked before it is used in arithmetic.
 */
#define RH_LOG_COMPONENT "disk"

#include <ext2fs/ext2fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs/fs-internal.h"
#include "rehost/checked.h"
#include "rehost/disk.h"
#include "rehost/endian.h"
#include "rehost/err.h"
#include "rehost/log.h"

/* Largest FAT we count cluster by cluster; bigger ones use FSInfo. */
#define FAT_MAX_SCAN (64u << 20)

static int set_size_used(struct rh_fsinfo *fs, uint64_t blocks, uint64_t free_blocks,
			 uint64_t block_size, const char *what)
{
	uint64_t size, used;

	if (free_blocks > blocks)
		return rh_seterr(RH_ERR_CORRUPT, "%s: %llu free blocks of %llu", what,
				 (unsigned long long)free_blocks, (unsigned long long)blocks);
	if (RH_MUL_OVERFLOW(blocks, block_size, &size) ||
	    RH_MUL_OVERFLOW(blocks - free_blocks, block_size, &used))
		return rh_seterr(RH_ERR_CORRUPT, "%s: size overflows", what);
	fs->size = size;
	fs->used = used;
	fs->size_known = fs->used_known = true;
	return 0;
}

/* ext2/3/4: the superblock at byte 1024, parsed by hand. Used when
 * libext2fs cannot open the device by name. */
static int ext_superblock(int fd, uint64_t off, uint64_t range, struct rh_fsinfo *fs)
{
	uint8_t sb[1024];
	uint64_t blocks, free_blocks;
	uint32_t log_bs;
	int rc;

	rc = fs_pread_in(fd, off, range, sb, sizeof sb, 1024);
	if (rc < 0)
		return rc;
	if (rh_le16dec(sb + 56) != 0xEF53)
		return rh_seterr(RH_ERR_CORRUPT, "ext: bad superblock magic");
	log_bs = rh_le32dec(sb + 24);
	if (log_bs > 6) /* 1 KiB .. 64 KiB */
		return rh_seterr(RH_ERR_CORRUPT, "ext: block size 2^%u KiB", log_bs);
	blocks = rh_le32dec(sb + 4);
	free_blocks = rh_le32dec(sb + 12);
	if (rh_le32dec(sb + 96) & 0x80) { /* INCOMPAT_64BIT */
		blocks |= (uint64_t)rh_le32dec(sb + 0x150) << 32;
		free_blocks |= (uint64_t)rh_le32dec(sb + 0x158) << 32;
	}
	return set_size_used(fs, blocks, free_blocks, 1024u << log_bs, "ext");
}

static int ext_usage(int fd, uint64_t off, uint64_t range, struct rh_fsinfo *fs)
{
	ext2_filsys efs = NULL;
	char name[64], opts[64];
	errcode_t err;
	int rc;

	/* libext2fs opens devices by name; /proc/self/fd names ours. */
	snprintf(name, sizeof name, "/proc/self/fd/%d", fd);
	snprintf(opts, sizeof opts, "offset=%llu", (unsigned long long)off);
	err = ext2fs_open2(name, opts,
			   EXT2_FLAG_SUPER_ONLY | EXT2_FLAG_64BITS | EXT2_FLAG_IGNORE_CSUM_ERRORS,
			   0, 0, unix_io_manager, &efs);
	if (err != 0) {
		rh_log_debug("libext2fs cannot open %s at offset %llu (error %ld); "
			     "reading the superblock directly", name,
			     (unsigned long long)off, (long)err);
		return ext_superblock(fd, off, range, fs);
	}
	rc = set_size_used(fs, ext2fs_blocks_count(efs->super),
			   ext2fs_free_blocks_count(efs->super),
			   EXT2_BLOCK_SIZE(efs->super), "ext");
	ext2fs_close_free(&efs);
	return rc;
}

/* xfs: big-endian superblock at byte 0. */
static int xfs_usage(int fd, uint64_t off, uint64_t range, struct rh_fsinfo *fs)
{
	uint8_t sb[256];
	uint64_t dblocks, fdblocks, logstart;
	uint32_t bs, logblocks;
	int rc;

	rc = fs_pread_in(fd, off, range, sb, sizeof sb, 0);
	if (rc < 0)
		return rc;
	if (memcmp(sb, "XFSB", 4) != 0)
		return rh_seterr(RH_ERR_CORRUPT, "xfs: bad superblock magic");
	bs = rh_be32dec(sb + 4);
	if (bs < 512 || bs > 65536 || (bs & (bs - 1)) != 0)
		return rh_seterr(RH_ERR_CORRUPT, "xfs: block size %u", bs);
	dblocks = rh_be64dec(sb + 8);
	logstart = rh_be64dec(sb + 48);
	logblocks = rh_be32dec(sb + 96);
	fdblocks = rh_be64dec(sb + 144);
	/* df does not count an internal log as used space. */
	if (logstart != 0 && logblocks <= dblocks - RH_MIN(fdblocks, dblocks))
		dblocks -= logblocks;
	rc = set_size_used(fs, dblocks, fdblocks, bs, "xfs");
	if (rc == 0 && logstart != 0)
		fs->size += (uint64_t)logblocks * bs;
	return rc;
}

/* btrfs: the primary superblock at 64 KiB records total and used bytes. */
static int btrfs_usage(int fd, uint64_t off, uint64_t range, struct rh_fsinfo *fs)
{
	uint8_t sb[0x100];
	uint64_t total, used;
	int rc;

	rc = fs_pread_in(fd, off, range, sb, sizeof sb, 65536);
	if (rc < 0)
		return rc;
	if (memcmp(sb + 0x40, "_BHRfS_M", 8) != 0)
		return rh_seterr(RH_ERR_CORRUPT, "btrfs: bad superblock magic");
	total = rh_le64dec(sb + 0x70);
	used = rh_le64dec(sb + 0x78);
	if (used > total)
		return rh_seterr(RH_ERR_CORRUPT, "btrfs: %llu bytes used of %llu",
				 (unsigned long long)used, (unsigned long long)total);
	fs->size = total;
	fs->used = used;
	fs->size_known = fs->used_known = true;
	return 0;
}

/* Linux swap: "SWAPSPACE2" ends the first page; last_page follows the
 * 1024-byte boot block. Swap contents are never migrated: used = 0. */
static int swap_usage(int fd, uint64_t off, uint64_t range, struct rh_fsinfo *fs)
{
	static const uint32_t pages[] = { 4096, 8192, 16384, 65536 };
	uint8_t hdr[12];
	char sig[10];
	int rc;

	for (size_t i = 0; i < RH_ARRAY_SIZE(pages); i++) {
		uint64_t last, size;

		rc = fs_pread_in(fd, off, range, sig, sizeof sig, pages[i] - 10);
		if (rc < 0)
			break;
		if (memcmp(sig, "SWAPSPACE2", 10) != 0 && memcmp(sig, "SWAP-SPACE", 10) != 0)
			continue;
		rc = fs_pread_in(fd, off, range, hdr, sizeof hdr, 1024);
		if (rc < 0)
			return rc;
		last = rh_le32dec(hdr + 4);
		if (RH_MUL_OVERFLOW(last + 1, (uint64_t)pages[i], &size) || last == 0)
			return rh_seterr(RH_ERR_CORRUPT, "swap: last page %llu",
					 (unsigned long long)last);
		fs->size = size;
		fs->used = 0;
		fs->size_known = fs->used_known = true;
		return 0;
	}
	return rh_seterr(RH_ERR_CORRUPT, "swap: no signature at a known page size");
}

/* vfat: count free clusters in the first FAT (FAT12/16/32), or use the
 * FAT32 FSInfo count when the FAT is very large. */
static int vfat_usage(int fd, uint64_t off, uint64_t range, struct rh_fsinfo *fs)
{
	uint8_t bs[512];
	uint32_t bps, spc, reserved, nfats, root_entries, total, fatsz, root_secs;
	uint64_t meta, data_secs, clusters, free_clusters = 0, fat_bytes, cluster_size;
	unsigned fat_bits;
	uint8_t *fat = NULL;
	int rc;

	rc = fs_pread_in(fd, off, range, bs, sizeof bs, 0);
	if (rc < 0)
		return rc;
	bps = rh_le16dec(bs + 11);
	spc = bs[13];
	reserved = rh_le16dec(bs + 14);
	nfats = bs[16];
	root_entries = rh_le16dec(bs + 17);
	total = rh_le16dec(bs + 19);
	if (total == 0)
		total = rh_le32dec(bs + 32);
	fatsz = rh_le16dec(bs + 22);
	if (fatsz == 0)
		fatsz = rh_le32dec(bs + 36);
	if (bps < 512 || bps > 4096 || (bps & (bps - 1)) != 0 || spc == 0 ||
	    (spc & (spc - 1)) != 0 || nfats == 0 || nfats > 4 || reserved == 0 ||
	    fatsz == 0 || total == 0)
		return rh_seterr(RH_ERR_CORRUPT, "vfat: implausible boot sector");
	root_secs = (root_entries * 32u + bps - 1) / bps;
	meta = (uint64_t)reserved + (uint64_t)nfats * fatsz + root_secs;
	if (meta >= total)
		return rh_seterr(RH_ERR_CORRUPT, "vfat: no data area");
	data_secs = total - meta;
	clusters = data_secs / spc;
	cluster_size = (uint64_t)bps * spc;
	fat_bits = clusters < 4085 ? 12 : clusters < 65525 ? 16 : 32;
	fat_bytes = (clusters + 2) * fat_bits / 8 + 2;
	if (fat_bytes > (uint64_t)fatsz * bps)
		return rh_seterr(RH_ERR_CORRUPT, "vfat: FAT too small for %llu clusters",
				 (unsigned long long)clusters);

	if (fat_bytes > FAT_MAX_SCAN) {
		uint8_t info[512];
		uint32_t fsinfo = rh_le16dec(bs + 48), n;

		if (fat_bits != 32 || fsinfo == 0 || fsinfo >= reserved)
			goto size_only;
		rc = fs_pread_in(fd, off, range, info, sizeof info, (uint64_t)fsinfo * bps);
		if (rc < 0 || rh_le32dec(info) != 0x41615252 || rh_le32dec(info + 484) != 0x61417272)
			goto size_only;
		n = rh_le32dec(info + 488);
		if (n == 0xFFFFFFFF || n > clusters)
			goto size_only;
		free_clusters = n;
	} else {
		fat = malloc(fat_bytes);
		if (fat == NULL)
			return RH_ERR_NOMEM;
		rc = fs_pread_in(fd, off, range, fat, fat_bytes, (uint64_t)reserved * bps);
		if (rc < 0)
			goto out;
		for (uint64_t c = 2; c < clusters + 2; c++) {
			uint32_t v;

			if (fat_bits == 12) {
				uint64_t o = c + c / 2;

				v = rh_le16dec(fat + o);
				v = (c & 1) ? v >> 4 : v & 0xFFF;
			} else if (fat_bits == 16) {
				v = rh_le16dec(fat + c * 2);
			} else {
				v = rh_le32dec(fat + c * 4) & 0x0FFFFFFF;
			}
			if (v == 0)
				free_clusters++;
		}
	}
	fs->size = (uint64_t)total * bps;
	fs->used = (clusters - free_clusters) * cluster_size;
	fs->size_known = fs->used_known = true;
	rc = 0;
	goto out;
size_only:
	fs->size = (uint64_t)total * bps;
	fs->size_known = true;
	fs->used_known = false;
	rc = 0;
out:
	free(fat);
	return rc;
}

int rh_fs_usage(int fd, uint64_t offset, uint64_t size, const char *type,
		struct rh_fsinfo *fs)
{
	if (strcmp(type, "ext2") == 0 || strcmp(type, "ext3") == 0 ||
	    strcmp(type, "ext4") == 0 || strcmp(type, "ext4dev") == 0)
		return ext_usage(fd, offset, size, fs);
	if (strcmp(type, "xfs") == 0)
		return xfs_usage(fd, offset, size, fs);
	if (strcmp(type, "btrfs") == 0)
		return btrfs_usage(fd, offset, size, fs);
	if (strcmp(type, "vfat") == 0)
		return vfat_usage(fd, offset, size, fs);
	if (strcmp(type, "swap") == 0)
		return swap_usage(fd, offset, size, fs);
	return RH_ERR_UNSUPPORTED;
}
