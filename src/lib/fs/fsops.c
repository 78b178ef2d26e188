/* The filesystem table: one struct fs_ops per filesystem, and the lookups
 * the probers (usedmap.c, probe.c) walk instead of switching on types. */
#include <string.h>

#include "fs/fs-internal.h"
#include "rehost/checked.h"
#include "rehost/err.h"

const struct fs_ops *const fs_ops_all[] = {
	&fs_ext_ops, &fs_xfs_ops, &fs_vfat_ops, &fs_btrfs_ops, &fs_swap_ops, &fs_lvm2_ops, NULL,
};

const struct fs_ops *fs_ops_find(enum rh_fstype t)
{
	for (size_t i = 0; fs_ops_all[i] != NULL; i++)
		if (fs_ops_all[i]->type == t)
			return fs_ops_all[i];
	return NULL;
}

const struct fs_ops *fs_ops_find_blkid(const char *name)
{
	for (size_t i = 0; fs_ops_all[i] != NULL; i++)
		for (const char *const *b = fs_ops_all[i]->blkid_types; b && *b; b++)
			if (strcmp(*b, name) == 0)
				return fs_ops_all[i];
	return NULL;
}

const char *rh_fstype_name(enum rh_fstype t)
{
	const struct fs_ops *o = fs_ops_find(t);

	if (o != NULL)
		return o->name;
	return t == RH_FS_AUTO ? "auto" : "unknown";
}

int fs_set_size_used(struct rh_fsinfo *fs, uint64_t blocks, uint64_t free_blocks,
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

int rh_fs_usage(int fd, uint64_t offset, uint64_t size, const char *type,
		struct rh_fsinfo *fs)
{
	const struct fs_ops *o = fs_ops_find_blkid(type);
	struct um_vol v = { .kind = UM_VOL_FD, .fd = fd, .base = offset, .size = size };

	if (o == NULL || o->usage == NULL)
		return RH_ERR_UNSUPPORTED;
	return o->usage(&v, fs);
}
