/*
 * Preparing received disks on the target (docs/target.md).
 *
 * Growing: a target disk may be larger than the source disk it holds
 * (the operator chose a bigger disk, or extends an image with --size).
 * After the copy the partition table still describes the source's size:
 * a GPT's backup header and entries sit where the source disk ended. Grow
 * fits the table to the disk (libfdisk moves the GPT backup to the end and
 * updates the last usable LBA; an MBR needs no move), optionally grows
 * the last partition to fill the disk, and grows the filesystem in it
 * (ext2/3/4, xfs, LVM PV metadata) with the filesystem's own tools.
 * Nothing here ever shrinks anything.
 */
#ifndef REHOST_DISKPREP_H
#define REHOST_DISKPREP_H

#include <stdbool.h>
#include <stdint.h>

#include "rehost/disk.h"

struct rh_grow_opts {
	uint64_t size;        /* extend an image file to this many bytes first
			       * (a multiple of 512); 0 keeps its size. Not for
			       * block devices, whose size is their own. */
	uint64_t min_size;    /* refuse to end below this (the source disk's
			       * size); 0: the disk's current size */
	bool no_partition;    /* only fit the table; leave the last partition */
	bool no_fs;           /* grow the partition but not its filesystem */
};

struct rh_grow_result {
	uint64_t old_size, new_size; /* disk, bytes */
	enum rh_ptable_type ptable;
	bool table_rewritten;        /* the partition table was written */
	unsigned partno;             /* last partition (1-based), 0 when none */
	uint64_t part_start;         /* its offset, bytes */
	uint64_t part_old, part_new; /* its size before and after, bytes */
	char fstype[32];             /* blkid type found in it, "" when none */
	bool fs_grown;               /* its filesystem was grown */
	uint64_t fs_old, fs_new;     /* filesystem size before/after (0 unknown) */
	char note[512];              /* why something was left as is; "" if nothing */
};

/* Grow the disk image or device at path as described above. r is always
 * filled as far as the work got. Returns 0 (also when a filesystem type
 * cannot be grown: then r->note says so), RH_ERR_RANGE (size below the
 * current or minimum size, or not a multiple of 512), RH_ERR_INVAL (--size
 * on a block device), RH_ERR_CORRUPT (unreadable table), or an error from
 * libfdisk or a tool. The caller holds the target lock. */
int rh_disk_grow(const char *path, const struct rh_grow_opts *o, struct rh_grow_result *r);

#endif
