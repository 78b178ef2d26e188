/*
 * Target boot fix-up ("config modification", INVENTORY §5.4 and §G): the
 * edits rehost makes to the files of a migrated Linux root so that it boots
 * on KVM/virtio hardware. This module only edits files below a root
 * directory that the caller has already mounted: it runs no programs and
 * mounts nothing (the orchestration in src/cli/cmd-postconf.c does that and
 * then runs update-initramfs/dracut/grub in a chroot).
 *
 * The target root is untrusted data. Every path is resolved inside it with
 * chroot semantics, as the booted target sees it (an absolute symlink is
 * relative to the root, ".." of the root is the root; a path given to the
 * API that climbs above the root is refused with RH_ERR_PERM), and files
 * are opened component by component with O_NOFOLLOW, so no file outside
 * the root is ever read, written or removed.
 *
 * Every change is backed up first (backup_dir, created on the first backup)
 * and recorded in pc->changes; with dry_run the same changes are recorded
 * and nothing is written. Each step is idempotent: run again on its own
 * result it records nothing and writes nothing.
 *
 * Paths in the API are as seen on the target ("/etc/fstab"; a missing
 * leading slash is accepted). Steps return 0 (also when there was nothing
 * to do) or a negative RH_ERR_* with an rh_seterr detail; changes made
 * before a failure stay made and recorded.
 */
#ifndef REHOST_POSTCONF_PC_H
#define REHOST_POSTCONF_PC_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include <jansson.h>

#include "rehost/config.h"

enum rh_pc_family {
	RH_PC_UNKNOWN,
	RH_PC_DEBIAN, /* Debian, Ubuntu and derivatives */
	RH_PC_RHEL,   /* RHEL, CentOS, Rocky, Alma, Oracle, Fedora, Amazon, EulerOS, openEuler, Kylin server... */
	RH_PC_SUSE,   /* SLES, openSUSE */
};

/* One postconf run. Fields above the line are for callers to read; the
 * rest is private to the module. */
struct rh_pc {
	const char *root;           /* host path of the mounted target root; borrowed */
	enum rh_pc_family family;
	char *os_pretty;            /* "CentOS Linux 7 (Core)"; owned, never NULL after open */
	char backup_dir[PATH_MAX];  /* host path of this run's backups ("" until the first backup) */
	char backup_rel[PATH_MAX];  /* the same as seen on the target: /var/backups/rehost-postconf/<UTC stamp> */
	json_t *changes;            /* array of {path, action, backup, detail}; owned */
	const struct rh_config *cfg;/* borrowed; NULL: schema defaults */
	bool dry_run;               /* record what would change, write nothing */
	/* ---- private ---- */
	int rootfd;                 /* O_RDONLY|O_DIRECTORY of root */
	json_t *backups;            /* object: target path -> backup path (target view) */
	json_t *gone;               /* object: target paths removed or moved (a dry run
				     * must not count one twice when two links lead to it) */
	char stamp[32];             /* 20250131T235959Z */
	char root_uuid[72];         /* from rh_pc_fstab's "/" entry, for grub defaults */
	char swap_uuid[72];         /* from rh_pc_fstab's swap entry */
	unsigned tmpseq;            /* temporary file names */
	struct rh_config *own_cfg;  /* defaults when cfg was NULL */
};

/* Open a run on the target mounted at root: checks that root is a directory
 * other than "/", detects the family and OS name. pc is caller storage;
 * release it with rh_pc_release (also after a failed open). cfg and root are
 * borrowed for the life of pc. Returns 0, RH_ERR_INVAL (root is "/" or not
 * a directory), RH_ERR_NOTFOUND or RH_ERR_NOMEM. An unknown family is not
 * an error: the family-specific steps then do only what the files present
 * call for. */
int rh_pc_open(struct rh_pc *pc, const char *root, const struct rh_config *cfg, bool dry_run);
void rh_pc_release(struct rh_pc *pc);

/* "debian", "rhel", "suse" or "unknown". Static. */
const char *rh_pc_family_name(enum rh_pc_family f);

/* Copy path (not following a final symlink: a symlink is kept as a symlink)
 * to backup_dir + path once per run, keeping mode, owner and times;
 * directories on the way are created 0700. The first call creates
 * backup_dir. No-op in dry-run mode and for a path that does not exist.
 * Returns 0, RH_ERR_PERM (escapes the root), RH_ERR_UNSUPPORTED (not a
 * file, symlink or directory), RH_ERR_TOOBIG (> 64 MiB) or RH_ERR_IO. */
int rh_pc_backup(struct rh_pc *pc, const char *path);

/* Append {path, action, backup, detail} to pc->changes and log it. action
 * is one of modified, created, removed, disabled, commented, renamed;
 * backup is filled in from this run's backup of path (null if none).
 * Returns 0 or RH_ERR_NOMEM. */
int rh_pc_record(struct rh_pc *pc, const char *path, const char *action, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Replace the content of path with content: back up, write a temporary file
 * beside it, fsync, rename over. A final symlink is followed inside the root
 * when it leads to a regular file (that file is rewritten); otherwise the
 * symlink itself is replaced. An existing file keeps its owner, mode and
 * SELinux label; a new file gets mode (0: 0644). Parent directories must
 * exist. Returns 1 when the file changed (or would, in dry-run mode), 0 when
 * it already had this content, or a negative RH_ERR_*. Does not record:
 * the caller records with its own detail. */
int rh_pc_write_file(struct rh_pc *pc, const char *path, const char *content, mode_t mode);

/* A filesystem as it exists on the target. */
struct rh_pc_fs {
	const char *mountpoint; /* "/", "/boot", "/boot/efi", "/data"... or "swap" */
	const char *uuid;       /* filesystem (or swap) UUID on the target */
	const char *fstype;     /* "ext4"...; NULL keeps the type the fstab line has */
	const char *device;     /* another name fstab may use for it ("/dev/sda2",
				 * "UUID=<source uuid>", "LABEL=root"), or NULL */
};

/* Rewrite /etc/fstab for the filesystems in fs[] (every filesystem that
 * exists on the target; see docs/postconf.md for the rules):
 * - a line for a mount point in fs[] (a swap line for a "swap" entry, when
 *   one swap line or its device matches) gets spec UUID=<uuid>, with the old
 *   line kept above it as "# rehost: <old line>"; other lines with the same
 *   old spec (btrfs subvolumes) follow;
 * - types in [linux] fstab_tmp_filesystem and mount points in
 *   fstab_keep_mount_path stay as they are; mount points in
 *   fstab_ignore_mount_path are commented out;
 * - any other line naming a local block device that is not in fs[] gets
 *   "nofail", so a disk that was not migrated does not stop the boot.
 * Returns 0, RH_ERR_NOTFOUND (no /etc/fstab), RH_ERR_INVAL (fs[] has an
 * entry without mountpoint or uuid), or an I/O error. */
int rh_pc_fstab(struct rh_pc *pc, const struct rh_pc_fs *fs, size_t n);

/* Switch the NIC configuration to DHCP and remove NIC names pinned to MAC
 * addresses (udev persistent-net rules, systemd .link files). Per family
 * and per file found: ifupdown, netplan, systemd-networkd, ifcfg (RHEL and
 * SUSE), NetworkManager keyfiles. */
int rh_pc_network_dhcp(struct rh_pc *pc);

/* Disable cloud-init, VMware tools, Google guest services and (with
 * [linux] disable_platform_service) other clouds' guest agents.
 * qemu-guest-agent is never touched. */
int rh_pc_disable_agents(struct rh_pc *pc);

/* Create /.autorelabel when /etc/selinux/config enables SELinux. */
int rh_pc_selinux_relabel(struct rh_pc *pc);

/* Empty /etc/motd. */
int rh_pc_motd(struct rh_pc *pc);

/* /etc/X11/xorg.conf: keep a copy as xorg.conf.bak and switch Device
 * sections with a hardware-specific Driver to "modesetting". */
int rh_pc_xorg(struct rh_pc *pc);

/* Make the next initramfs build include the virtio drivers: drivers is a
 * NULL-terminated list, or NULL for rh_pc_virtio_drivers. Writes what the
 * target's tools read: /etc/initramfs-tools (modules, conf.d MODULES=most),
 * /etc/dracut.conf.d/90-rehost-virtio.conf, /etc/sysconfig/kernel
 * INITRD_MODULES. The caller then rebuilds the initramfs in a chroot. */
int rh_pc_initramfs_config(struct rh_pc *pc, const char *const *drivers);
extern const char *const rh_pc_virtio_drivers[];

/* /etc/default/grub (and /etc/default/grub.d/NAME.cfg): add add_args (NULL-
 * terminated, may be NULL) to GRUB_CMDLINE_LINUX, drop root=/resume= naming
 * kernel device names, point root=UUID=/resume=UUID= at the UUIDs given to
 * rh_pc_fstab, enable the serial terminal when a console=ttyS* is added,
 * and clear GRUB_DISABLE_LINUX_UUID=true and GRUB_FORCE_PARTUUID. The
 * caller then regenerates grub.cfg. */
int rh_pc_grub_defaults(struct rh_pc *pc, const char *const *add_args);

/* The report: {root, family, os, dry_run, backup_dir, changes}. New
 * reference; caller decrefs. NULL on out-of-memory. */
json_t *rh_pc_report(const struct rh_pc *pc);

/* Write the report, indented, to the host file path (replaced atomically,
 * mode 0600). Returns 0 or RH_ERR_IO. */
int rh_pc_report_write(struct rh_pc *pc, const char *path);

#endif
