/*
 * Boot loader and initramfs of the mounted target: rebuild the initramfs
 * with the virtio drivers, regenerate the GRUB configuration and install
 * GRUB on the boot disk - all with the target's own tools, chrooted.
 */
#ifndef REHOST_POSTCONF_BOOT_H
#define REHOST_POSTCONF_BOOT_H

#include <jansson.h>
#include <stdbool.h>

#include "postconf/sysroot.h"
#include "postconf/volumes.h"

/* Where a target filesystem is mounted, for the grub-probe stand-in. */
struct rh_pc_mnt {
	char mountpoint[256]; /* "/", "/boot", "/boot/efi" */
	struct rh_pc_vol *vol;
	bool mounted;         /* false: an ESP this kernel cannot mount (no vfat);
			       * it is written with mtools instead */
};

struct rh_pc_boot {
	struct rh_pc_sysroot *sys;
	struct rh_pc_disks *disks;
	const struct rh_pc_mnt *mnts;
	size_t nmnts;
	bool uefi;            /* target firmware */
	bool rhel_layout;     /* grub2-* tools and /boot/grub2 */
	json_t *steps;        /* array: what was run and verified */
};

/* Rebuild every installed kernel's initramfs (update-initramfs, dracut or
 * mkinitrd, whichever the target has) and check virtio_blk is in each one
 * (or built into the kernel). */
int rh_pc_initramfs_rebuild(struct rh_pc_boot *b);

/* grub-mkconfig / grub2-mkconfig with a grub-probe stand-in that answers
 * for the target's real layout (loop devices cannot be probed here). */
int rh_pc_grub_config(struct rh_pc_boot *b);

/* Install GRUB on the disk holding /boot: BIOS - core image embedded after
 * the MBR or in the BIOS boot partition (grub-mkimage + grub-bios-setup);
 * UEFI - the removable-media path EFI/BOOT/BOOTX64.EFI on the ESP. */
int rh_pc_grub_install(struct rh_pc_boot *b);

#endif
