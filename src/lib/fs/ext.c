/* ext2/3/4: the superblock (validated in ext_validate), size and used
 * space as df counts them, and the used-block map: the block bitmaps, read
 * with libext2fs through a read-only io_manager over our bounded volume
 * reader. */
#define RH_LOG_COMPONENT "usedmap"
#include <stdio.h>
#include <string.h>

#include <ext2fs/ext2fs.h>

#include "fs/fs-internal.h"
#include "rehost/checked.h"
#include "rehost/endian.h"
#include "rehost/err.h"
#include "rehost/log.h"

#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
#define EXT_OPEN_FLAGS (EXT2_FLAG_64BITS | EXT2_FLAG_SKIP_MMP | EXT2_FLAG_IGNORE_CSUM_ERRORS)
#else
#define EXT_OPEN_FLAGS (EXT2_FLAG_64BITS | EXT2_FLAG_SKIP_MMP)
#endif
#define EXT_SB_OFF 1024
#define EXT_SB_SIZE 1024
#define EXT_MAGIC 0xEF53

#define EXT_INCOMPAT_RECOVER 0x0004u
#define EXT_INCOMPAT_JOURNAL_DEV 0x0008u
#define EXT_INCOMPAT_64BIT 0x0080u
#define EXT_RO_COMPAT_BIGALLOC 0x0200u

/* The superblock fields we check before handing the volume to libext2fs. */
struct ext_sb {
	uint64_t blocks;      /* blocks_count (with the high half for 64bit) */
	uint64_t free_blocks; /* free_blocks_count (likewise) */
	uint32_t first_data;  /* s_first_data_block */
	uint32_t log_block;   /* block size = 1024 << log_block */
	uint32_t log_cluster; /* cluster size = 1024 << log_cluster */
	uint32_t per_group;   /* blocks per group */
	uint32_t cl_per_group;
	uint32_t inodes_per_group;
	uint32_t incompat, ro_compat;
};

/* The superblock's fields (1024 bytes at sb), with only the checks every
 * user needs: the magic and a block size of 1 to 64 KiB. */
static int ext_decode(const uint8_t *sb, struct ext_sb *s)
{
	memset(s, 0, sizeof *s);
	if (rh_le16dec(sb + 56) != EXT_MAGIC)
		return rh_seterr(RH_ERR_CORRUPT, "ext: bad superblock magic");
	s->incompat = rh_le32dec(sb + 96);
	s->ro_compat = rh_le32dec(sb + 100);
	s->blocks = rh_le32dec(sb + 4);
	s->free_blocks = rh_le32dec(sb + 12);
	if (s->incompat & EXT_INCOMPAT_64BIT) {
		s->blocks |= (uint64_t)rh_le32dec(sb + 0x150) << 32;
		s->free_blocks |= (uint64_t)rh_le32dec(sb + 0x158) << 32;
	}
	s->first_data = rh_le32dec(sb + 20);
	s->log_block = rh_le32dec(sb + 24);
	s->log_cluster = rh_le32dec(sb + 28);
	s->per_group = rh_le32dec(sb + 32);
	s->cl_per_group = rh_le32dec(sb + 36);
	s->inodes_per_group = rh_le32dec(sb + 40);
	if (s->log_block > 6)
		return rh_seterr(RH_ERR_CORRUPT, "ext: block size 2^%u KiB is invalid", s->log_block);
	return 0;
}

/* Validate the superblock at sb (1024 bytes) for the map. vol_size 0 skips
 * the size check (sniffing). Returns 0 or RH_ERR_CORRUPT /
 * RH_ERR_UNSUPPORTED. */
static int ext_validate(const uint8_t *sb, uint64_t vol_size, struct ext_sb *s)
{
	uint64_t bytes, bs;
	int rc = ext_decode(sb, s);

	if (rc < 0)
		return rc;
	if (s->incompat & EXT_INCOMPAT_JOURNAL_DEV)
		return rh_seterr(RH_ERR_UNSUPPORTED, "ext: external journal device, not a filesystem");
	bs = 1024ull << s->log_block;
	if (s->ro_compat & EXT_RO_COMPAT_BIGALLOC) {
		if (s->log_cluster < s->log_block || s->log_cluster > s->log_block + 16)
			return rh_seterr(RH_ERR_CORRUPT, "ext: cluster size 2^%u KiB is invalid",
					 s->log_cluster);
		if (s->cl_per_group == 0 || s->cl_per_group > 8 * bs)
			return rh_seterr(RH_ERR_CORRUPT, "ext: %u clusters per group is invalid",
					 s->cl_per_group);
	} else if (s->per_group == 0 || s->per_group > 8 * bs) {
		return rh_seterr(RH_ERR_CORRUPT, "ext: %u blocks per group is invalid", s->per_group);
	}
	if (s->per_group == 0)
		return rh_seterr(RH_ERR_CORRUPT, "ext: 0 blocks per group");
	if (s->inodes_per_group == 0)
		return rh_seterr(RH_ERR_CORRUPT, "ext: 0 inodes per group");
	if (s->blocks == 0 || s->first_data >= s->blocks || s->first_data > 1)
		return rh_seterr(RH_ERR_CORRUPT, "ext: %llu blocks with first data block %u is invalid",
				 (unsigned long long)s->blocks, s->first_data);
	if (RH_MUL_OVERFLOW(s->blocks, bs, &bytes))
		return rh_seterr(RH_ERR_CORRUPT, "ext: filesystem size overflows");
	if (vol_size != 0 && bytes > vol_size)
		return rh_seterr(RH_ERR_CORRUPT,
				 "ext: filesystem of %llu bytes is larger than its %llu-byte volume",
				 (unsigned long long)bytes, (unsigned long long)vol_size);
	return 0;
}

static bool ext_sniff(const uint8_t *buf, uint64_t vol_size)
{
	const uint8_t *sb = buf + EXT_SB_OFF;
	struct ext_sb s;

	if (vol_size < EXT_SB_OFF + EXT_SB_SIZE || rh_le16dec(sb + 56) != EXT_MAGIC)
		return false;
	return ext_validate(sb, 0, &s) == 0;
}

/* Size and used blocks: libext2fs's view of the superblock when it can
 * open the volume by name, else our own (ext_decode: a figure for df is
 * wanted even where the map would refuse the filesystem). */
static int ext_usage(const struct um_vol *v, struct rh_fsinfo *info)
{
	uint8_t sb[EXT_SB_SIZE];
	struct ext_sb s;
	ext2_filsys efs = NULL;
	char name[64], opts[64];
	errcode_t err = EXT2_ET_BAD_DEVICE_NAME;
	uint64_t off;
	int fd, rc;

	/* libext2fs opens devices by name; /proc/self/fd names ours. */
	if (um_vol_fd_range(v, &fd, &off)) {
		snprintf(name, sizeof name, "/proc/self/fd/%d", fd);
		snprintf(opts, sizeof opts, "offset=%llu", (unsigned long long)off);
		err = ext2fs_open2(name, opts,
				   EXT2_FLAG_SUPER_ONLY | EXT2_FLAG_64BITS |
					   EXT2_FLAG_IGNORE_CSUM_ERRORS,
				   0, 0, unix_io_manager, &efs);
	}
	if (err == 0) {
		rc = fs_set_size_used(info, ext2fs_blocks_count(efs->super),
				      ext2fs_free_blocks_count(efs->super),
				      EXT2_BLOCK_SIZE(efs->super), "ext");
		ext2fs_close_free(&efs);
		return rc;
	}
	rh_log_debug("libext2fs cannot open the volume (error %ld); reading the superblock "
		     "directly", (long)err);
	rc = um_read(v, sb, sizeof sb, EXT_SB_OFF, "ext superblock");
	if (rc == 0)
		rc = ext_decode(sb, &s);
	if (rc < 0)
		return rc;
	return fs_set_size_used(info, s.blocks, s.free_blocks, 1024ull << s.log_block, "ext");
}

/* ---- a read-only io_manager over struct um_vol --------------------------- */

/* libext2fs opens a channel by name; the volume is handed over in this
 * thread-local slot for the duration of one ext2fs_open2 call. */
static __thread const struct um_vol *extio_pending;
/* The rehost error of the last failed read, so the caller can report it
 * instead of libext2fs's generic code. */
static __thread int extio_rc;

static struct struct_io_manager extio_manager;

static errcode_t extio_open(const char *name, int flags, io_channel *channel)
{
	io_channel io = NULL;
	errcode_t rc;

	if (extio_pending == NULL)
		return EXT2_ET_BAD_DEVICE_NAME;
	if (flags & IO_FLAG_RW)
		return EXT2_ET_RO_FILSYS;
	rc = ext2fs_get_memzero(sizeof *io, &io);
	if (rc)
		return rc;
	rc = ext2fs_get_mem(strlen(name) + 1, &io->name);
	if (rc) {
		ext2fs_free_mem(&io);
		return rc;
	}
	strcpy(io->name, name);
	io->magic = EXT2_ET_MAGIC_IO_CHANNEL;
	io->manager = &extio_manager;
	io->block_size = 1024;
	io->refcount = 1;
	io->private_data = (void *)extio_pending;
	*channel = io;
	return 0;
}

static errcode_t extio_close(io_channel io)
{
	if (--io->refcount > 0)
		return 0;
	ext2fs_free_mem(&io->name);
	ext2fs_free_mem(&io);
	return 0;
}

static errcode_t extio_set_blksize(io_channel io, int blksize)
{
	if (blksize <= 0 || blksize > 65536)
		return EXT2_ET_INVALID_ARGUMENT;
	io->block_size = blksize;
	return 0;
}

static errcode_t extio_read_blk64(io_channel io, unsigned long long block, int count, void *data)
{
	const struct um_vol *v = io->private_data;
	uint64_t size, off;
	int rc;

	if (count < 0)
		size = (uint64_t)-(int64_t)count;
	else if (RH_MUL_OVERFLOW((uint64_t)count, (uint64_t)io->block_size, &size))
		return EXT2_ET_INVALID_ARGUMENT;
	if (RH_MUL_OVERFLOW((uint64_t)block, (uint64_t)io->block_size, &off) || size > SIZE_MAX) {
		extio_rc = rh_seterr(RH_ERR_CORRUPT, "ext: block %llu is out of range", block);
		return EXT2_ET_SHORT_READ;
	}
	rc = um_read(v, data, (size_t)size, off, "ext metadata block");
	if (rc < 0) {
		extio_rc = rc;
		return EXT2_ET_SHORT_READ;
	}
	return 0;
}

static errcode_t extio_read_blk(io_channel io, unsigned long block, int count, void *data)
{
	return extio_read_blk64(io, block, count, data);
}

static errcode_t extio_write_blk64(io_channel io, unsigned long long block, int count,
				   const void *data)
{
	return EXT2_ET_RO_FILSYS;
}

static errcode_t extio_write_blk(io_channel io, unsigned long block, int count, const void *data)
{
	return EXT2_ET_RO_FILSYS;
}

static errcode_t extio_write_byte(io_channel io, unsigned long offset, int count,
				  const void *data)
{
	return EXT2_ET_RO_FILSYS;
}

static errcode_t extio_flush(io_channel io)
{
	return 0;
}

static errcode_t extio_set_option(io_channel io, const char *option, const char *arg)
{
	return EXT2_ET_INVALID_ARGUMENT;
}

static struct struct_io_manager extio_manager = {
	.magic = EXT2_ET_MAGIC_IO_MANAGER,
	.name = "rehost read-only volume",
	.open = extio_open,
	.close = extio_close,
	.set_blksize = extio_set_blksize,
	.read_blk = extio_read_blk,
	.write_blk = extio_write_blk,
	.flush = extio_flush,
	.write_byte = extio_write_byte,
	.set_option = extio_set_option,
	.read_blk64 = extio_read_blk64,
	.write_blk64 = extio_write_blk64,
};

/* libext2fs's message for an error code (no libcom_err dependency). */
static const char *ext_errstr(errcode_t e)
{
	const struct error_table *t = &et_ext2_error_table;

	if (e >= t->base && e < t->base + t->n_msgs)
		return t->msgs[e - t->base];
	if (e > 0 && e < 4096)
		return strerror((int)e);
	return "unknown libext2fs error";
}

/* Turn a libext2fs failure into a rehost error. */
static int ext_fail(errcode_t e, const char *what)
{
	if (extio_rc < 0) {
		/* Our reader refused or failed: its detail is more precise. */
		if (extio_rc == RH_ERR_IO || extio_rc == RH_ERR_NOMEM)
			return extio_rc;
		return rh_seterr(RH_ERR_CORRUPT, "ext: %s: %s", what, rh_lasterr());
	}
	if (e == EXT2_ET_NO_MEMORY || e == ENOMEM)
		return RH_ERR_NOMEM;
	if (e == EXT2_ET_UNSUPP_FEATURE || e == EXT2_ET_RO_UNSUPP_FEATURE)
		return rh_seterr(RH_ERR_UNSUPPORTED, "ext: %s: %s", what, ext_errstr(e));
	return rh_seterr(RH_ERR_CORRUPT, "ext: %s: %s", what, ext_errstr(e));
}

static int ext_build(struct um_ctx *c, const struct um_vol *v, struct rh_extents *x,
		     uint32_t *bsize)
{
	uint8_t sb[EXT_SB_SIZE];
	struct ext_sb s;
	ext2_filsys fs = NULL;
	blk64_t start, end, used_start, used_end;
	uint64_t bs;
	errcode_t e;
	int rc;

	*bsize = 0;
	rc = um_read(v, sb, sizeof sb, EXT_SB_OFF, "ext superblock");
	if (rc < 0)
		return rc;
	rc = ext_validate(sb, v->size, &s);
	if (rc < 0)
		return rc;
	bs = 1024ull << s.log_block;

	extio_pending = v;
	extio_rc = 0;
	e = ext2fs_open2("rehost-volume", NULL, EXT_OPEN_FLAGS, 0, 0, &extio_manager, &fs);
	extio_pending = NULL;
	if (e) {
		fs = NULL;
		rc = ext_fail(e, "cannot open filesystem");
		goto out;
	}
	/* libext2fs read the same superblock; make sure it agrees. */
	if ((uint64_t)fs->blocksize != bs || ext2fs_blocks_count(fs->super) != s.blocks) {
		rc = rh_seterr(RH_ERR_CORRUPT, "ext: superblock changed while reading");
		goto out;
	}
	/* libext2fs does not check the group descriptors on open: do it
	 * before trusting their bitmap locations. */
	for (dgrp_t g = 0; g < fs->group_desc_count; g++) {
		blk64_t loc = ext2fs_block_bitmap_loc(fs, g);

		if (!(fs->flags & EXT2_FLAG_IGNORE_CSUM_ERRORS) && ext2fs_has_group_desc_csum(fs) &&
		    !ext2fs_group_desc_csum_verify(fs, g)) {
			rc = rh_seterr(RH_ERR_CORRUPT, "ext: group %u descriptor checksum mismatch", g);
			goto out;
		}
		if (!ext2fs_bg_flags_test(fs, g, EXT2_BG_BLOCK_UNINIT) &&
		    (loc < s.first_data || loc >= s.blocks)) {
			rc = rh_seterr(RH_ERR_CORRUPT, "ext: group %u block bitmap at block %llu is "
				       "outside the filesystem", g, (unsigned long long)loc);
			goto out;
		}
	}
	/* Red-black tree bitmaps: memory follows the number of used runs, not
	 * the filesystem size (a bit array for 16 TiB is 512 MiB). */
	fs->default_bitmap_type = EXT2FS_BMAP64_RBTREE;
	/* Bitmaps and inode tables inside their groups, not overlapping the
	 * superblocks, descriptors or each other. */
	e = ext2fs_check_desc(fs);
	if (e) {
		rc = ext_fail(e, "bad group descriptors");
		goto out;
	}
	if (s.incompat & EXT_INCOMPAT_RECOVER)
		usedmap_note(c->map, "ext: journal needs recovery (mounted or not cleanly "
				     "unmounted): bitmaps may lag the journal");
	e = ext2fs_read_block_bitmap(fs);
	if (e) {
		rc = ext_fail(e, "cannot read block bitmaps");
		goto out;
	}

	/* The boot block and the superblock are used even when block 0 is
	 * outside the bitmap (1 KiB blocks). */
	rc = rh_extents_add(x, 0, EXT_SB_OFF + EXT_SB_SIZE);
	if (rc < 0)
		goto out;
	/* Block numbers (the bitmap's own start/end are in clusters under
	 * bigalloc; the find functions take blocks). */
	start = s.first_data;
	end = s.blocks - 1;
	while (start <= end) {
		e = ext2fs_find_first_set_block_bitmap2(fs->block_map, start, end, &used_start);
		if (e == ENOENT)
			break;
		if (e) {
			rc = ext_fail(e, "bitmap scan");
			goto out;
		}
		e = ext2fs_find_first_zero_block_bitmap2(fs->block_map, used_start, end, &used_end);
		if (e == ENOENT)
			used_end = end + 1;
		else if (e) {
			rc = ext_fail(e, "bitmap scan");
			goto out;
		}
		if (used_end <= used_start) {
			rc = rh_seterr(RH_ERR_INTERNAL, "ext: bitmap scan did not advance");
			goto out;
		}
		rc = rh_extents_add(x, used_start * bs, (used_end - used_start) * bs);
		if (rc < 0)
			goto out;
		start = used_end;
	}
	*bsize = (uint32_t)(fs->blocksize * (1u << (fs->cluster_ratio_bits)));
	rc = 0;
out:
	if (fs != NULL)
		ext2fs_free(fs);
	return rc;
}

static const char *const ext_blkid[] = { "ext2", "ext3", "ext4", "ext4dev", NULL };

const struct fs_ops fs_ext_ops = {
	.type = RH_FS_EXT,
	.name = "ext",
	.blkid_types = ext_blkid,
	.sniff = ext_sniff,
	.usage = ext_usage,
	.build = ext_build,
};
