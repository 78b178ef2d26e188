/*
 * rehost postconf: make a migrated Linux system boot on KVM/virtio
 * (the seed's "configuration modification", INVENTORY §5.4).
 *
 * Works on the target disks themselves (image files or block devices, in
 * the source's disk order): finds the root filesystem, mounts it with the
 * filesystems its fstab names (/boot, /boot/efi, LVs...) in a private mount
 * namespace, and in a chroot of it rewrites fstab by UUID, switches the
 * network to DHCP, disables other platforms' agents, rebuilds the
 * initramfs with the virtio drivers and regenerates and installs GRUB.
 * Every changed file is backed up inside the target first, and the report
 * lists each change and each step. See docs/postconf.md.
 */
#ifndef REHOST_POSTCONF_H
#define REHOST_POSTCONF_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

struct rh_config;

struct rh_postconf_opts {
	const char *const *disks;   /* target disks, boot disk first */
	size_t ndisks;
	const char *root;           /* root volume ("/dev/vda2", "/dev/mapper/vg-root") or NULL: find it */
	const char *firmware;       /* "bios", "uefi", or NULL: what the boot disk is set up for */
	const struct rh_config *cfg;/* [linux] fstab_* keys; NULL: defaults */
	bool dry_run;               /* report what would change; change nothing */
	const char *tmpdir;         /* scratch (mount points); NULL: $TMPDIR or /tmp */
};

/* Run the whole fix-up. Must be called from a single-threaded process that
 * may enter a private mount namespace (root). *report (new reference, also
 * on failure when possible) holds {result, root, os, family, firmware,
 * mounts[], changes[], steps[], error}. Returns 0 or a negative RH_ERR_*
 * with a detail; on failure the target may be partly changed, and every
 * change made so far is backed up and listed in the report. */
int rh_postconf_run(const struct rh_postconf_opts *o, json_t **report);

#endif
