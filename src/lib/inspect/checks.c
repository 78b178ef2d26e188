/*
 * The Linux pre-checks of the seed service (INVENTORY §4.2) over a
 * collected inventory, and the recommendation (mode, CPU, memory, target
 * disk sizes). Each check adds one result per problem found, or one OK (or
 * SKIPPED) result, in a fixed order that the report and the JSON keep.
 *
 * Severity: ERROR blocks the migration; WARNING needs the operator's
 * acknowledgement. docs/inventory.md lists every check with its code.
 */
#define RH_LOG_COMPONENT "inspect"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "inspect/internal.h"
#include "rehost/checked.h"
#include "rehost/err.h"
#include "rehost/errcat.h"
#include "rehost/num.h"

#define ROOT_MIN_FREE (200ull * 1000 * 1000)   /* "200 MB" */
#define MOUNT_MIN_FREE (1ull * 1000 * 1000)    /* "1 MB" */
#define TMP_MIN_FREE (100ull * 1000 * 1000)    /* "100 MB" */
#define SYSTEM_DISK_MAX_GIB 1024ull            /* "1 TB" target system disk */

struct chk {
	struct rh_inventory *inv;
	const char *id, *title;
	size_t first;       /* index of this check's first result */
};

static void begin(struct chk *c, const char *id, const char *title)
{
	c->id = id;
	c->title = title;
	c->first = c->inv->checks.n;
}

static const char *catalogue_hint(const char *code)
{
	const struct rh_errcat_entry *e = code ? rh_errcat_find(rh_errcat_builtin(), code) : NULL;

	return e ? e->action : NULL;
}

/* Add a result. hint NULL = the catalogue's action for code (problems only). */
static int result(struct chk *c, enum rh_check_status st, const char *code, const char *subject,
		  const char *hint, const char *fmt, ...) __attribute__((format(printf, 6, 7)));
static int result(struct chk *c, enum rh_check_status st, const char *code, const char *subject,
		  const char *hint, const char *fmt, ...)
{
	struct rh_inventory *inv = c->inv;
	struct rh_check_result *r;
	char *msg = NULL;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&msg, fmt, ap);
	va_end(ap);
	if (n < 0)
		return RH_ERR_NOMEM;
	r = VEC_PUSH(inv->checks, INV_MAX_CHECKS);
	if (r == NULL) {
		free(msg);
		return rh_lasterr_code();
	}
	r->id = c->id;
	r->title = c->title;
	r->status = st;
	r->code = code;
	r->subject = subject ? inv_strdup(inv, subject) : NULL;
	r->message = inv_strdup(inv, msg);
	free(msg);
	if (st == RH_CHECK_ERROR || st == RH_CHECK_WARNING)
		r->hint = hint ? hint : catalogue_hint(code);
	else
		r->hint = NULL;
	return r->message ? 0 : RH_ERR_NOMEM;
}

/* OK result unless the check already reported something. */
static int ok_if_none(struct chk *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int ok_if_none(struct chk *c, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (c->inv->checks.n > c->first)
		return 0;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	return result(c, RH_CHECK_OK, NULL, NULL, NULL, "%s", msg);
}

#define TRY(x) do { int rc_ = (x); if (rc_ < 0) return rc_; } while (0)

static const char *human(struct rh_inventory *inv, uint64_t bytes)
{
	char buf[32];

	return inv_strdup(inv, rh_format_size(bytes, buf, sizeof buf));
}

static const char *vol_label(struct rh_inventory *inv, const struct inv_vol *v)
{
	if (v->mountpoints.n > 0)
		return inv_printf(inv, "%s (%s)", v->name, v->mountpoints.v[0]);
	if (v->fstab.n > 0)
		return inv_printf(inv, "%s (%s)", v->name, v->fstab.v[0]);
	return v->name;
}

/* ---- the checks ---- */

static int check_arch(struct chk *c)
{
	const char *a = c->inv->arch;

	begin(c, "arch", "x86 architecture");
	if (a == NULL)
		return result(c, RH_CHECK_WARNING, "SMS.0206", NULL,
			      "Make /proc/sys/kernel/arch or /proc/cpuinfo readable under the root.",
			      "the CPU architecture could not be determined");
	if (strcmp(a, "x86_64") == 0 || strcmp(a, "amd64") == 0)
		return result(c, RH_CHECK_OK, NULL, NULL, NULL, "%s", a);
	return result(c, RH_CHECK_ERROR, "SMS.0206", a, NULL,
		      "the source is %s; only x86 (x86_64) servers can be migrated", a);
}

static int check_os(struct chk *c)
{
	struct rh_inventory *inv = c->inv;
	const struct inv_os *os = &inv->os;
	const char *name = os->pretty ? os->pretty : os->id;

	begin(c, "os-compat", "OS in the compatibility list");
	if (os->id == NULL)
		TRY(result(c, RH_CHECK_ERROR, NULL, NULL,
			   "Check that /etc/os-release (or the distribution's release file) exists.",
			   "the operating system could not be identified"));
	else if (!os->family_known)
		TRY(result(c, RH_CHECK_ERROR, NULL, os->id,
			   "Migrate a supported distribution, or move the applications to a new "
			   "server built from a supported image (see `rehost inspect --json`, os).",
			   "%s (%s%s%s) is not a supported distribution", name, os->id,
			   os->version ? " " : "", os->version ? os->version : ""));
	else if (!os->listed)
		TRY(result(c, RH_CHECK_WARNING, NULL, inv_printf(inv, "%s %s", os->id, os->version ? os->version : "?"),
			   "The distribution is supported but this version is not verified: test-boot "
			   "the target before cutover.",
			   "%s version %s is not in the compatibility list", name,
			   os->version ? os->version : "(unknown)"));
	else
		TRY(result(c, RH_CHECK_OK, NULL, NULL, NULL, "%s (%s %s)%s%s", name, os->id,
			   os->version, os->note ? ", " : "", os->note ? os->note : ""));

	begin(c, "os-uefi", "UEFI boot supported by this OS version");
	if (!inv->uefi)
		return result(c, RH_CHECK_SKIPPED, NULL, NULL, NULL, "BIOS boot");
	if (os->uefi == 0)
		return result(c, RH_CHECK_ERROR, NULL, name,
			      "The target must boot the way the source does; this OS version is listed "
			      "without UEFI support. Migrate a BIOS-booted source, or upgrade the OS.",
			      "%s boots with UEFI, which the compatibility list does not support for %s %s",
			      name, os->id, os->version);
	if (os->uefi < 0)
		return result(c, RH_CHECK_WARNING, NULL, name,
			      "Test-boot the target with UEFI firmware before cutover.",
			      "UEFI support of %s is unknown", name);
	return result(c, RH_CHECK_OK, NULL, NULL, NULL, "UEFI boot, supported by %s %s", os->id,
		      os->version);
}

static int check_platform(struct chk *c)
{
	struct rh_inventory *inv = c->inv;

	begin(c, "paravirt", "not a para-virtualised guest");
	if (inv->paravirt)
		TRY(result(c, RH_CHECK_ERROR, NULL, "xen-pv",
			   "Para-virtualised (Xen PV) guests cannot boot on KVM; convert the guest to "
			   "HVM first, or migrate the applications.",
			   "the source is a Xen para-virtualised (PV) guest"));
	else
		TRY(result(c, RH_CHECK_OK, NULL, NULL, NULL, "%s",
			   inv->hypervisor == NULL ? "no hypervisor detected"
			   : strcmp(inv->hypervisor, "unknown") == 0
				   ? "virtual machine with full virtualisation (hypervisor not identified)"
				   : inv_printf(inv, "%s guest with full virtualisation", inv->hypervisor)));

	begin(c, "raw-devices", "no raw devices");
	for (size_t i = 0; i < inv->tools.raw_devices.n; i++)
		TRY(result(c, RH_CHECK_ERROR, NULL, inv->tools.raw_devices.v[i],
			   "Unbind the raw device (raw /dev/rawN 0 0) and let the application use "
			   "the block device directly.",
			   "raw device %s is bound", inv->tools.raw_devices.v[i]));
	return ok_if_none(c, "none bound");
}

static int check_disks(struct chk *c)
{
	struct rh_inventory *inv = c->inv;

	begin(c, "disk-readable", "disks readable");
	for (size_t i = 0; i < inv->disks.n; i++) {
		const struct inv_disk *d = &inv->disks.v[i];

		if (d->pt == NULL)
			TRY(result(c, RH_CHECK_ERROR, NULL, d->name,
				   "Run rehost as root, and check the disk for I/O errors.",
				   "%s cannot be read: %s", d->path,
				   d->error ? d->error : "unknown error"));
	}
	if (inv->disks.n == 0)
		TRY(result(c, RH_CHECK_WARNING, NULL, NULL,
			   "Give the disks with --disk, or check /sys/block under the root.",
			   "no disks found"));
	TRY(ok_if_none(c, "%zu disk%s", inv->disks.n, inv->disks.n == 1 ? "" : "s"));

	begin(c, "partition-table", "MBR or GPT partition tables");
	for (size_t i = 0; i < inv->disks.n; i++) {
		const struct inv_disk *d = &inv->disks.v[i];

		if (d->pt != NULL && d->pt->type == RH_PTABLE_OTHER)
			TRY(result(c, RH_CHECK_ERROR, NULL, d->name,
				   "Only MBR (dos) and GPT partition tables can be recreated on the "
				   "target; copy the data to a disk with one of them.",
				   "%s has a '%s' partition table", d->name, d->pt->label));
	}
	return ok_if_none(c, "all disks use MBR, GPT or no partition table");
}

static bool fs_supported(const struct rh_inventory *inv, const char *type)
{
	size_t n = 0;
	const char *const *list = rh_config_list(inv_config(inv), "linux", "support_filesystem", &n);

	/* SLES 12 SP0 has no btrfs support on the target side. */
	if (strcmp(type, "btrfs") == 0 && inv->os.note && strstr(inv->os.note, "no-btrfs"))
		return false;
	for (size_t i = 0; i < n; i++)
		if (strcmp(list[i], type) == 0 ||
		    (strcmp(list[i], "ext4") == 0 && strcmp(type, "ext4dev") == 0))
			return true;
	return false;
}

static int check_filesystems(struct chk *c)
{
	struct rh_inventory *inv = c->inv;
	size_t nfs = 0;

	begin(c, "filesystem", "supported filesystems");
	for (size_t i = 0; i < inv->vols.n; i++) {
		const struct inv_vol *v = &inv->vols.v[i];

		if (v->fs.ambivalent) {
			TRY(result(c, RH_CHECK_WARNING, NULL, v->name,
				   "Remove the stale signature with wipefs after checking which one "
				   "is current.",
				   "%s carries several filesystem signatures", v->name));
			continue;
		}
		if (v->fs.usage != RH_FS_USAGE_FILESYSTEM)
			continue;
		nfs++;
		if (!fs_supported(inv, v->fs.type))
			TRY(result(c, RH_CHECK_ERROR, "SMS.6509", vol_label(inv, v), NULL,
				   "%s holds %s, which is not a supported filesystem%s",
				   vol_label(inv, v), v->fs.type,
				   strcmp(v->fs.type, "btrfs") == 0 ? " on this OS version" : ""));
	}
	/* Local mounts we could not tie to a volume (prepared trees). */
	for (size_t i = 0; i < inv->mounts.n; i++) {
		const struct inv_mount *m = &inv->mounts.v[i];

		if (m->cls != MNT_LOCAL || m->vol >= 0 || m->bind || m->repeated ||
		    strcmp(m->fstype, "swap") == 0)
			continue;
		nfs++;
		if (!fs_supported(inv, m->fstype))
			TRY(result(c, RH_CHECK_ERROR, "SMS.6509", m->target, NULL,
				   "%s (%s) is %s, which is not a supported filesystem", m->target,
				   m->source, m->fstype));
	}
	TRY(ok_if_none(c, "%zu filesystem%s, all supported", nfs, nfs == 1 ? "" : "s"));

	begin(c, "encrypted", "no encrypted volumes");
	for (size_t i = 0; i < inv->vols.n; i++) {
		const struct inv_vol *v = &inv->vols.v[i];

		if (v->fs.usage == RH_FS_USAGE_CRYPTO)
			TRY(result(c, RH_CHECK_ERROR, NULL, v->name,
				   "Encrypted volumes are not migrated: copy their contents to an "
				   "unencrypted volume, or migrate at the application level.",
				   "%s is an encrypted volume (%s)", v->name, v->fs.type));
	}
	TRY(ok_if_none(c, "none"));

	begin(c, "network-fs", "network filesystems");
	for (size_t i = 0; i < inv->mounts.n; i++) {
		const struct inv_mount *m = &inv->mounts.v[i];

		if (m->cls == MNT_NETWORK && strcmp(m->fstype, "rpc_pipefs") != 0 &&
		    strcmp(m->fstype, "nfsd") != 0)
			TRY(result(c, RH_CHECK_WARNING, NULL, m->target,
				   "Network and shared filesystems (NFS, CIFS, NAS) are not migrated: "
				   "mount them again on the target.",
				   "%s is a %s mount of %s and will not be migrated", m->target,
				   m->fstype, m->source));
	}
	return ok_if_none(c, "none mounted");
}

static int check_space(struct chk *c)
{
	struct rh_inventory *inv = c->inv;
	const struct inv_mount *tmp = mount_for_path(inv, "/tmp");

	begin(c, "root-free-space", "at least 200 MB free on /");
	if (!inv->rootfs_ok)
		TRY(result(c, RH_CHECK_WARNING, NULL, "/", "Check that / can be read.",
			   "free space on / could not be measured"));
	else if (inv->rootfs_avail < ROOT_MIN_FREE)
		TRY(result(c, RH_CHECK_ERROR, "SMS.1204", "/", NULL,
			   "/ has %s available (at least 200 MB are needed)",
			   human(inv, inv->rootfs_avail)));
	else
		TRY(result(c, RH_CHECK_OK, NULL, NULL, NULL, "%s available",
			   human(inv, inv->rootfs_avail)));

	begin(c, "mount-free-space", "at least 1 MB free on every mount point");
	for (size_t i = 0; i < inv->mounts.n; i++) {
		const struct inv_mount *m = &inv->mounts.v[i];

		if (m->cls != MNT_LOCAL || !m->stat_ok || m->size == 0 || m->bind || m->repeated)
			continue;
		if (m->avail < MOUNT_MIN_FREE)
			TRY(result(c, RH_CHECK_ERROR, "SMS.1351", m->target, NULL,
				   "mount point %s has %s available (at least 1 MB is needed)",
				   m->target, human(inv, m->avail)));
	}
	TRY(ok_if_none(c, "every local mount point has room"));

	begin(c, "df", "mounted filesystems respond");
	for (size_t i = 0; i < inv->mounts.n; i++) {
		const struct inv_mount *m = &inv->mounts.v[i];

		if (m->stat_errno != 0)
			TRY(result(c, RH_CHECK_ERROR, "SMS.5108", m->target, NULL,
				   "statfs of %s (%s) failed: %s", m->target, m->source,
				   strerror(m->stat_errno)));
	}
	TRY(ok_if_none(c, "every local mount answers statfs"));

	begin(c, "tmp-exec", "/tmp allows execution");
	if (tmp == NULL)
		TRY(result(c, RH_CHECK_SKIPPED, NULL, NULL, NULL, "no mount table"));
	else if (tmp->noexec)
		TRY(result(c, RH_CHECK_WARNING, "SMS.5102", tmp->target,
			   "rehost does not run anything from /tmp, but migration tools on the "
			   "target may; remount with exec: mount -o remount,exec /tmp",
			   "%s%s is mounted noexec", tmp->target,
			   strcmp(tmp->target, "/tmp") == 0 ? "" : " (holding /tmp)"));
	else
		TRY(result(c, RH_CHECK_OK, NULL, NULL, NULL, "/tmp is on %s, mounted exec", tmp->target));

	begin(c, "tmp-free-space", "at least 100 MB free in /tmp");
	if (!inv->tmp_ok)
		TRY(result(c, RH_CHECK_SKIPPED, NULL, NULL, NULL, "/tmp not found"));
	else if (inv->tmp_avail < TMP_MIN_FREE)
		TRY(result(c, RH_CHECK_WARNING, "MSG.tmp-full", "/tmp", NULL,
			   "/tmp has %s available (100 MB recommended)", human(inv, inv->tmp_avail)));
	else
		TRY(result(c, RH_CHECK_OK, NULL, NULL, NULL, "%s available",
			   human(inv, inv->tmp_avail)));

	begin(c, "home-writable", "root's home directory writable");
	if (inv->tools.home_immutable)
		return result(c, RH_CHECK_WARNING, "SMS.5105", inv->tools.home, NULL,
			      "%s has the immutable attribute (lsattr -d shows 'i')", inv->tools.home);
	return result(c, RH_CHECK_OK, NULL, NULL, NULL, "%s is not immutable", inv->tools.home);
}

static int check_mounts(struct chk *c)
{
	struct rh_inventory *inv = c->inv;

	begin(c, "bind-mount", "no bind or repeated mounts");
	for (size_t i = 0; i < inv->mounts.n; i++) {
		const struct inv_mount *m = &inv->mounts.v[i];

		if (m->bind || m->repeated)
			TRY(result(c, RH_CHECK_WARNING, "SMS.1353", m->target, NULL,
				   "%s is a %s of %s%s%s: its data would be counted and copied twice",
				   m->target, m->bind ? "bind mount" : "repeated mount", m->source,
				   m->bind && m->root ? ":" : "", m->bind && m->root ? m->root : ""));
	}
	return ok_if_none(c, "none");
}

static int check_lvm(struct chk *c)
{
	struct rh_inventory *inv = c->inv;

	begin(c, "lvm-unknown-pv", "no unknown LVM physical volumes");
	for (size_t i = 0; i < inv->vgs.n; i++) {
		const struct inv_vg *g = &inv->vgs.v[i];

		if (g->unknown_pvs > 0)
			TRY(result(c, RH_CHECK_ERROR, "SMS.1352", g->vg->name, NULL,
				   "volume group %s has %u physical volume%s that %s not found",
				   g->vg->name, g->unknown_pvs, g->unknown_pvs == 1 ? "" : "s",
				   g->unknown_pvs == 1 ? "was" : "were"));
	}
	if (inv->vgs.n == 0)
		TRY(ok_if_none(c, "no LVM volume groups"));
	TRY(ok_if_none(c, "%zu volume group%s complete", inv->vgs.n, inv->vgs.n == 1 ? "" : "s"));

	begin(c, "lvm-duplicate-vg", "volume group names unique");
	for (size_t i = 0; i < inv->vgs.n; i++) {
		const struct inv_vg *g = &inv->vgs.v[i];

		if (g->duplicate_name)
			TRY(result(c, RH_CHECK_ERROR, "MSG.disks-start-failed", g->vg->name,
				   "Rename one of the volume groups (vgrename by UUID) so names are unique.",
				   "several volume groups are named %s (this one has UUID %s)",
				   g->vg->name, g->vg->uuid));
	}
	TRY(ok_if_none(c, "no duplicates"));

	begin(c, "lvm-thin-pool", "no LVM thin pools");
	for (size_t i = 0; i < inv->vgs.n; i++) {
		const struct rh_lvm_vg *vg = inv->vgs.v[i].vg;

		for (size_t l = 0; l < vg->nlvs; l++)
			if (vg->lvs[l].type == RH_LVM_SEG_THIN_POOL)
				TRY(result(c, RH_CHECK_ERROR, NULL,
					   inv_printf(inv, "%s/%s", vg->name, vg->lvs[l].name),
					   "Thin-provisioned LVs cannot be migrated: move their data to "
					   "regular (linear) LVs first.",
					   "%s/%s is a thin pool", vg->name, vg->lvs[l].name));
	}
	return ok_if_none(c, "none");
}

static int check_raid(struct chk *c)
{
	struct rh_inventory *inv = c->inv;

	begin(c, "raid", "no software RAID");
	for (size_t i = 0; i < inv->mds.n; i++) {
		const struct inv_md *m = &inv->mds.v[i];

		TRY(result(c, RH_CHECK_ERROR, NULL, m->name,
			   "RAID arrays are not migrated: the target's storage provides redundancy. "
			   "Copy the data to plain volumes first, or migrate at the application level.",
			   "md array %s (%s, %u devices, %s) found", m->name,
			   m->level ? m->level : "?", m->raid_disks, m->state ? m->state : "?"));
	}
	return ok_if_none(c, "none");
}

static uint64_t disk_used(const struct rh_inventory *inv, int disk)
{
	uint64_t used = 0;

	for (size_t i = 0; i < inv->vols.n; i++) {
		const struct inv_vol *v = &inv->vols.v[i];

		if (v->disk != disk)
			continue;
		if (v->fs.used_known)
			used += v->fs.used;
		else
			used += v->size; /* PVs, unknown contents: all of it */
	}
	return used;
}

static int check_system_disk(struct chk *c)
{
	struct rh_inventory *inv = c->inv;
	const struct inv_disk *d;

	begin(c, "system-disk-first", "system volume on the first disk");
	if (inv->disks.n == 0)
		TRY(result(c, RH_CHECK_SKIPPED, NULL, NULL, NULL, "no disks inspected"));
	else if (inv->system_disk < 0)
		TRY(result(c, RH_CHECK_WARNING, NULL, NULL,
			   "Inspect the disks of the system being migrated: with --disk, give --root "
			   "the tree whose /etc/fstab names its filesystems.",
			   "the root filesystem was not found on the inspected disks"));
	else if (inv->system_disk != 0)
		TRY(result(c, RH_CHECK_ERROR, NULL, inv->disks.v[inv->system_disk].name,
			   "The system volume must be on the first disk: reorder the disks so that "
			   "the one holding / comes first.",
			   "the root filesystem is on %s, not on the first disk %s",
			   inv->disks.v[inv->system_disk].name, inv->disks.v[0].name));
	else
		TRY(result(c, RH_CHECK_OK, NULL, NULL, NULL, "/ is on %s", inv->disks.v[0].name));

	begin(c, "system-disk-size", "system disk at most 1 TB");
	if (inv->system_disk < 0)
		return result(c, RH_CHECK_SKIPPED, NULL, NULL, NULL, "system disk unknown");
	d = &inv->disks.v[inv->system_disk];
	if (d->recommended_gib <= SYSTEM_DISK_MAX_GIB)
		return result(c, RH_CHECK_OK, NULL, NULL, NULL, "%s needs %llu GiB", d->name,
			      (unsigned long long)d->recommended_gib);
	if (disk_used(inv, inv->system_disk) <= SYSTEM_DISK_MAX_GIB * GIB)
		return result(c, RH_CHECK_WARNING, "SMS.6537", d->name, NULL,
			      "system disk %s needs a %llu GiB target; use file-level migration and "
			      "shrink its partitions to fit 1 TB",
			      d->name, (unsigned long long)d->recommended_gib);
	return result(c, RH_CHECK_ERROR, "SMS.6537", d->name, NULL,
		      "system disk %s holds %s of data, more than a 1 TB target system disk",
		      d->name, human(inv, disk_used(inv, inv->system_disk)));
}

static bool system_disk_too_big(const struct rh_inventory *inv)
{
	return inv->system_disk >= 0 &&
	       inv->disks.v[inv->system_disk].recommended_gib > SYSTEM_DISK_MAX_GIB;
}

/* Mode from the configuration and the block-level lists. */
static void choose_mode(struct rh_inventory *inv)
{
	const char *want = rh_config_str(inv_config(inv), "replication", "mode");

	inv->block_eligible = inv->os.block_listed && inv->kernel_block_listed &&
			      !system_disk_too_big(inv);
	if (strcmp(want, "file") == 0) {
		inv->mode = "file";
		inv->mode_reason = "replication.mode = file";
	} else if (strcmp(want, "block") == 0) {
		inv->mode = "block";
		inv->mode_reason = "replication.mode = block";
	} else if (inv->block_eligible) {
		inv->mode = "block";
		inv->mode_reason = "the OS and kernel are on the block-level lists";
	} else {
		inv->mode = "file";
		inv->mode_reason = !inv->os.block_listed ? "the OS is not on the block-level list (SMS.6616)"
			       : !inv->kernel_block_listed
				       ? "the kernel is not on the block-level list (SMS.6617)"
				       : "the system disk needs more than 1 TB (SMS.6537)";
	}
}

static int check_block(struct chk *c)
{
	struct rh_inventory *inv = c->inv;
	bool forced = strcmp(rh_config_str(inv_config(inv), "replication", "mode"), "block") == 0;
	bool file_only = strcmp(rh_config_str(inv_config(inv), "replication", "mode"), "file") == 0;
	enum rh_check_status bad = forced ? RH_CHECK_ERROR : RH_CHECK_WARNING;
	const struct inv_os *os = &inv->os;

	begin(c, "block-os", "OS supported by block-level migration");
	if (file_only)
		TRY(result(c, RH_CHECK_SKIPPED, NULL, NULL, NULL, "file-level migration configured"));
	else if (!os->block_listed)
		TRY(result(c, bad, "SMS.6616", os->id ? inv_printf(inv, "%s %s", os->id, os->version ? os->version : "?") : NULL,
			   forced ? NULL
				  : "Nothing to do: file-level migration is used instead "
				    "(set replication.mode = file to silence this).",
			   "%s %s is not on the block-level OS list%s", os->id ? os->id : "the OS",
			   os->version ? os->version : "", forced ? "" : "; file-level migration will be used"));
	else
		TRY(result(c, RH_CHECK_OK, NULL, NULL, NULL, "%s %s", os->id, os->version));

	begin(c, "block-kernel", "kernel supported by block-level migration");
	if (file_only)
		return result(c, RH_CHECK_SKIPPED, NULL, NULL, NULL, "file-level migration configured");
	if (!inv->kernel_block_listed)
		return result(c, bad, "SMS.6617", inv->kernel,
			      forced ? NULL
				     : "Nothing to do: file-level migration is used instead "
				       "(set replication.mode = file to silence this).",
			      "kernel %s is not on the block-level kernel list%s",
			      inv->kernel ? inv->kernel : "(unknown)",
			      forced ? "" : "; file-level migration will be used");
	return result(c, RH_CHECK_OK, NULL, NULL, NULL, "%s", inv->kernel);
}

static int check_tools(struct chk *c)
{
	struct rh_inventory *inv = c->inv;
	bool file = strcmp(inv->mode, "file") == 0;
	enum rh_check_status bad = file ? RH_CHECK_ERROR : RH_CHECK_WARNING;

	begin(c, "rsync", "rsync installed");
	if (inv->tools.rsync)
		TRY(result(c, RH_CHECK_OK, NULL, NULL, NULL, "%s", inv->tools.rsync));
	else
		TRY(result(c, bad, "SMS.6517", "rsync", NULL,
			   "rsync is not installed; %s", file ? "file-level sync needs it"
							     : "only file-level migration needs it"));

	begin(c, "ssh", "SSH client installed");
	if (inv->tools.ssh)
		return result(c, RH_CHECK_OK, NULL, NULL, NULL, "%s", inv->tools.ssh);
	return result(c, bad, "SMS.1402", "ssh", NULL, "no ssh client is installed; %s",
		      file ? "file-level migration needs it" : "only file-level migration needs it");
}

static int check_boot(struct chk *c)
{
	struct rh_inventory *inv = c->inv;
	const struct inv_boot *b = &inv->boot;
	char missing[128] = "";
	bool any_missing = false;

	begin(c, "grub-i386-pc", "GRUB i386-pc components for BIOS boot");
	if (inv->uefi)
		TRY(result(c, RH_CHECK_SKIPPED, NULL, NULL, NULL, "UEFI boot%s%s",
			   b->x86_64_efi ? ", x86_64-efi modules in " : "",
			   b->x86_64_efi ? b->x86_64_efi : ""));
	else if (b->i386_pc)
		TRY(result(c, RH_CHECK_OK, NULL, NULL, NULL, "%s", b->i386_pc));
	else if (b->grub && strcmp(b->grub, "grub-legacy") == 0)
		TRY(result(c, RH_CHECK_WARNING, "SMS.6562", "/boot/grub",
			   "GRUB legacy is installed: the target's boot loader is reinstalled with the "
			   "source's own grub-install; test-boot the target.",
			   "GRUB legacy found, no GRUB 2 i386-pc modules"));
	else
		TRY(result(c, RH_CHECK_ERROR, "SMS.6562", "/usr/lib/grub/i386-pc", NULL,
			   "BIOS boot, but /usr/lib/grub/i386-pc is missing or empty"));

	begin(c, "initramfs", "initramfs of the running kernel");
	if (inv->kernel == NULL)
		TRY(result(c, RH_CHECK_WARNING, NULL, NULL,
			   "Make /proc/sys/kernel/osrelease readable under the root.",
			   "the running kernel is unknown"));
	else if (b->initramfs == NULL)
		TRY(result(c, RH_CHECK_ERROR, "SMS.6563", inv->kernel, NULL,
			   "no initrd or initramfs for kernel %s under /boot", inv->kernel));
	else if (b->initramfs_error)
		TRY(result(c, RH_CHECK_WARNING, NULL, b->initramfs,
			   "Regenerate it (dracut -f, update-initramfs -u or mkinitrd) and inspect again.",
			   "%s could not be read: %s", b->initramfs, b->initramfs_error));
	else
		TRY(result(c, RH_CHECK_OK, NULL, NULL, NULL, "%s (%s%s%s)", b->initramfs,
			   human(inv, b->initramfs_size), b->initramfs_format ? ", " : "",
			   b->initramfs_format ? b->initramfs_format : ""));

	begin(c, "initramfs-virtio", "virtio drivers available at boot");
	if (b->initramfs == NULL || !b->initramfs_scanned)
		return result(c, RH_CHECK_SKIPPED, NULL, NULL, NULL,
			      b->initramfs ? "initramfs not read" : "no initramfs");
	for (int i = 0; i < 6; i++) {
		if (b->virtio[i] != 0)
			continue;
		any_missing = true;
		snprintf(missing + strlen(missing), sizeof missing - strlen(missing), "%s%s",
			 missing[0] ? " " : "", inv_virtio_modules[i]);
	}
	if (!any_missing)
		return result(c, RH_CHECK_OK, NULL, NULL, NULL,
			      "all six virtio modules are in the initramfs or built in");
	return result(c, RH_CHECK_WARNING, NULL, b->initramfs,
		      "rehost adds virtio drivers when it rebuilds the target's initramfs; to be "
		      "safe add them on the source too (dracut: add_drivers+=\" virtio_blk "
		      "virtio_scsi virtio_net virtio_pci \", Debian: /etc/initramfs-tools/modules, "
		      "SUSE: INITRD_MODULES) and regenerate it.",
		      "%s lacks %s%s", b->initramfs, missing,
		      b->initramfs_complete ? "" : " (image not fully read)");
}

static int check_misc(struct chk *c)
{
	struct rh_inventory *inv = c->inv;
	const struct inv_net *n = &inv->net;

	begin(c, "device-names", "disks referred to by stable names");
	for (size_t i = 0; i < inv->tools.device_names.n; i++)
		TRY(result(c, RH_CHECK_WARNING, NULL, inv->tools.device_names.v[i],
			   "Disk names change on virtio hardware (sda -> vda). rehost rewrites fstab "
			   "and the GRUB configuration by UUID on the target; use UUID= on the source "
			   "too so both stay alike.",
			   "%s refers to a disk by its kernel name", inv->tools.device_names.v[i]));
	TRY(ok_if_none(c, "fstab and GRUB use UUIDs, labels or LVM names"));

	begin(c, "nic", "default-gateway NIC identified");
	if (n->source && strcmp(n->source, "config") == 0)
		TRY(result(c, RH_CHECK_OK, NULL, NULL, NULL, "%s (from [linux] network_* settings)",
			   n->iface ? n->iface : "?"));
	else if (n->iface == NULL)
		TRY(result(c, RH_CHECK_WARNING, "SMS.0410", NULL, NULL,
			   "no interface has a default gateway; set [linux] network_dev, "
			   "network_macaddr and network_ipaddr"));
	else if (n->ndefault > 1)
		TRY(result(c, RH_CHECK_WARNING, "SMS.0410", n->iface, NULL,
			   "%u interfaces have a default gateway; %s (lowest metric) is reported, "
			   "set [linux] network_dev to choose", n->ndefault, n->iface));
	else
		TRY(result(c, RH_CHECK_OK, NULL, NULL, NULL, "%s %s %s", n->iface,
			   n->ip ? n->ip : "(no IPv4 address)", n->mac ? n->mac : "(no MAC)"));

	begin(c, "google-services", "no cloud guest agents");
	for (size_t i = 0; i < inv->tools.google_units.n; i++)
		TRY(result(c, RH_CHECK_WARNING, "MSG.google-services", inv->tools.google_units.v[i],
			   NULL, "Google guest service %s found; it is disabled on the target%s",
			   inv->tools.google_units.v[i],
			   rh_config_bool(inv_config(inv), "linux", "disable_platform_service")
				   ? "" : " unless [linux] disable_platform_service = false"));
	return ok_if_none(c, "none found");
}

static void recommend(struct rh_inventory *inv)
{
	inv->reco_cpus = inv->cpus > 0 ? inv->cpus : 1;
	inv->reco_mem_gib = (inv->mem_total + GIB - 1) / GIB;
	if (inv->reco_mem_gib < 1)
		inv->reco_mem_gib = 1;
}

int checks_run(struct rh_inventory *inv)
{
	struct chk c = { .inv = inv };

	choose_mode(inv);
	recommend(inv);
	TRY(check_arch(&c));
	TRY(check_os(&c));
	TRY(check_platform(&c));
	TRY(check_disks(&c));
	TRY(check_filesystems(&c));
	TRY(check_space(&c));
	TRY(check_mounts(&c));
	TRY(check_lvm(&c));
	TRY(check_raid(&c));
	TRY(check_system_disk(&c));
	TRY(check_block(&c));
	TRY(check_tools(&c));
	TRY(check_boot(&c));
	TRY(check_misc(&c));
	return 0;
}
