/*
 * The volumes of a set of target disks (image files or block devices), as
 * the migrated system will see them on virtio: disks vda, vdb...,
 * partitions vda1..., LVs /dev/mapper/VG-LV. Each one that holds a
 * filesystem or swap can be attached to a loop device of its own.
 */
#ifndef REHOST_POSTCONF_VOLUMES_H
#define REHOST_POSTCONF_VOLUMES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rehost/disk.h"
#include "rehost/loopdev.h"

#define RH_PC_MAX_DISKS 26u
#define RH_PC_MAX_VOLS 512u

enum rh_pc_volkind { RH_PC_VOL_DISK, RH_PC_VOL_PART, RH_PC_VOL_LV };

struct rh_pc_vol {
	enum rh_pc_volkind kind;
	char name[300];        /* target-side path: "/dev/vda", "/dev/vda1", "/dev/mapper/vg-root" */
	char alias[300];       /* "/dev/VG/LV" for LVs, else "" */
	unsigned disk;         /* index of the disk holding it (first PV's disk for LVs) */
	unsigned partno;       /* partition number, 0 otherwise */
	uint64_t offset, size; /* byte range within disk `disk` */
	char partuuid[40];     /* "" unless a partition with one */
	char ptype[40];        /* partition type, "" unless a partition */
	char vg[128], lv[128]; /* for LVs */
	struct rh_fsinfo fs;   /* what blkid finds in the range */
	struct rh_loopdev loop;/* loop.fd < 0 until attached */
};

struct rh_pc_disks {
	size_t ndisks;
	char *paths[RH_PC_MAX_DISKS];
	uint64_t sizes[RH_PC_MAX_DISKS];
	enum rh_ptable_type ptable[RH_PC_MAX_DISKS];
	size_t nvols;
	struct rh_pc_vol vols[RH_PC_MAX_VOLS];
};

/* Read the partition tables, filesystems and LVM metadata of the disks
 * (in target order). Nothing is attached yet. *out is freed with
 * rh_pc_disks_free. */
int rh_pc_disks_scan(const char *const *paths, size_t n, struct rh_pc_disks **out);
void rh_pc_disks_free(struct rh_pc_disks *d);

/* Attach a loop device to the volume (no-op when already attached). */
int rh_pc_vol_attach(struct rh_pc_disks *d, struct rh_pc_vol *v);

/* The volume an fstab/kernel device spec names: UUID=, LABEL=, PARTUUID=,
 * /dev/disk/by-{uuid,label,partuuid}/X, /dev/mapper/VG-LV, /dev/VG/LV, or a
 * kernel name of another platform (/dev/sda2, /dev/xvda1, /dev/hda1,
 * /dev/vda2, /dev/nvme0n1p2: disk by letter or number, then partition).
 * NULL when none matches. */
struct rh_pc_vol *rh_pc_vol_find(struct rh_pc_disks *d, const char *spec);

/* The volume with this target-side name ("/dev/vda1"), or NULL. */
struct rh_pc_vol *rh_pc_vol_by_name(struct rh_pc_disks *d, const char *name);

#endif
