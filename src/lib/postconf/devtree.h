/*
 * A private /dev for the chrooted target: the usual character devices,
 * and block nodes for the attached volumes under both their loop names and
 * the names the target will have on virtio (vda1, mapper/VG-LV,
 * disk/by-uuid/...). Tools in the chroot (grub-probe, update-initramfs,
 * lvm) then see the target's own device names, not the host's.
 */
#ifndef REHOST_POSTCONF_DEVTREE_H
#define REHOST_POSTCONF_DEVTREE_H

#include "postconf/sysroot.h"
#include "postconf/volumes.h"

/* Mount a tmpfs on the target's /dev and populate it; /proc, /sys and /run
 * are mounted too. Only attached volumes get nodes. */
int rh_pc_devtree(struct rh_pc_sysroot *s, const struct rh_pc_disks *d);

#endif
