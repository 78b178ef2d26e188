/* rehost postconf: find, mount and fix up the target root (orchestration). */
#define RH_LOG_COMPONENT "postconf"
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

#include "postconf/boot.h"
#include "postconf/devtree.h"
#include "postconf/pc.h"
#include "postconf/sysroot.h"
#include "postconf/volumes.h"
#include "rehost/checked.h"
#include "rehost/err.h"
#include "rehost/firmware.h"
#include "rehost/log.h"
#include "rehost/postconf.h"

#define MAX_FSTAB (1u << 20)
#define MAX_MNTS 32u

/* Kernel console on the serial port too: cloud consoles and boot-test read it. */
static const char *const grub_args[] = { "console=tty0", "console=ttyS0,115200n8", NULL };

struct run {
	const struct rh_postconf_opts *o;
	struct rh_pc_sysroot sys;
	struct rh_pc_disks *disks;
	struct rh_pc_vol *rootvol;
	struct rh_pc_mnt mnts[MAX_MNTS];
	size_t nmnts;
	char specs[MAX_MNTS][256]; /* fstab spec of each mount, for rh_pc_fstab */
	bool uefi;
	json_t *steps;
	json_t *mounts;
};

static bool mountable(const struct rh_pc_vol *v)
{
	static const char *const types[] = { "ext2", "ext3", "ext4", "xfs", "btrfs", "vfat" };

	if (v->fs.usage != RH_FS_USAGE_FILESYSTEM)
		return false;
	for (size_t i = 0; i < RH_ARRAY_SIZE(types); i++)
		if (strcmp(v->fs.type, types[i]) == 0)
			return true;
	return false;
}

static int mount_vol(struct run *r, struct rh_pc_vol *v, const char *mp, unsigned long flags,
		     const char *data)
{
	int rc = rh_pc_vol_attach(r->disks, v);

	if (rc == 0)
		rc = rh_pc_mount(&r->sys, v->loop.path, mp, v->fs.type, flags, data, false);
	return rc;
}

static bool looks_like_root(struct run *r)
{
	return rh_pc_exists(&r->sys, "/etc/fstab") &&
	       (rh_pc_exists(&r->sys, "/etc/os-release") || rh_pc_exists(&r->sys, "/usr/lib/os-release") ||
		rh_pc_exists(&r->sys, "/etc/redhat-release") || rh_pc_exists(&r->sys, "/etc/SuSE-release"));
}

/* The root filesystem: the one volume with /etc/fstab and an os-release. */
static int find_root(struct run *r)
{
	struct rh_pc_vol *found[8];
	size_t n = 0;

	if (r->o->root != NULL) {
		r->rootvol = rh_pc_vol_find(r->disks, r->o->root);
		if (r->rootvol == NULL)
			r->rootvol = rh_pc_vol_by_name(r->disks, r->o->root);
		if (r->rootvol == NULL || !mountable(r->rootvol))
			return rh_seterr(RH_ERR_NOTFOUND, "--root %s: no such filesystem on the target disks",
					 r->o->root);
		return 0;
	}
	for (size_t i = 0; i < r->disks->nvols && n < RH_ARRAY_SIZE(found); i++) {
		struct rh_pc_vol *v = &r->disks->vols[i];

		if (!mountable(v) || strcmp(v->fs.type, "vfat") == 0)
			continue;
		if (mount_vol(r, v, "", MS_RDONLY, NULL) < 0) {
			rh_log_warn("%s (%s) does not mount: %s", v->name, v->fs.type, rh_lasterr());
			continue;
		}
		if (looks_like_root(r))
			found[n++] = v;
		rh_pc_umount_last(&r->sys);
	}
	if (n == 0)
		return rh_seterr(RH_ERR_NOTFOUND, "no root filesystem (one with /etc/fstab and "
				 "/etc/os-release) on the target disks");
	if (n > 1)
		return rh_seterr(RH_ERR_INVAL, "%s and %s both look like a root filesystem: name one with "
				 "--root", found[0]->name, found[1]->name);
	r->rootvol = found[0];
	return 0;
}

static bool skip_type(const char *type)
{
	static const char *const skip[] = {
		"swap", "proc", "sysfs", "tmpfs", "devpts", "devtmpfs", "ramfs", "nfs", "nfs4", "cifs",
		"smbfs", "none", "auto", "fuse", "securityfs", "debugfs", "cgroup", "cgroup2",
		"efivarfs", "hugetlbfs", "mqueue", "binfmt_misc", "iso9660", "udf",
	};

	for (size_t i = 0; i < RH_ARRAY_SIZE(skip); i++)
		if (strcmp(type, skip[i]) == 0)
			return true;
	return strncmp(type, "fuse.", 5) == 0;
}

static bool safe_mountpoint(const char *mp)
{
	return mp[0] == '/' && strlen(mp) < 255 && strstr(mp, "/..") == NULL && strstr(mp, "//") == NULL;
}

static int add_mnt(struct run *r, const char *mp, struct rh_pc_vol *v, const char *spec)
{
	if (r->nmnts >= MAX_MNTS)
		return rh_seterr(RH_ERR_TOOBIG, "more than %u filesystems to mount", MAX_MNTS);
	snprintf(r->mnts[r->nmnts].mountpoint, sizeof r->mnts[0].mountpoint, "%s", mp);
	r->mnts[r->nmnts].vol = v;
	r->mnts[r->nmnts].mounted = true;
	snprintf(r->specs[r->nmnts], sizeof r->specs[0], "%s", spec);
	r->nmnts++;
	json_array_append_new(r->mounts, json_pack("{s:s, s:s, s:s, s:s}", "mountpoint", mp, "volume",
						   v->name, "type", v->fs.type, "fstab", spec));
	return 0;
}

/* Whether the kernel lacks the filesystem (rather than the ESP being
 * damaged): /proc/filesystems does not list vfat. */
static bool errno_is_nodev(const struct rh_pc_vol *v)
{
	FILE *f = fopen("/proc/filesystems", "r");
	char line[128];
	bool have = false;

	(void)v;
	if (f == NULL)
		return false;
	while (fgets(line, sizeof line, f) != NULL)
		have |= strstr(line, "\tvfat\n") != NULL;
	fclose(f);
	return !have;
}

static int depth(const char *mp)
{
	int d = 0;

	for (; *mp; mp++)
		d += *mp == '/';
	return d;
}

/* Mount what the target's fstab names on the target disks, shallowest
 * first. A filesystem we cannot find is left out (and its fstab line gets
 * nofail later), except /boot, /usr and /var, which the fix-up needs. */
static int mount_fstab(struct run *r)
{
	int fd = rh_pc_sys_open(&r->sys, "/etc/fstab", O_RDONLY);
	char *text = NULL, *save = NULL, *line;
	struct {
		char mp[256], spec[256], opts[256];
		struct rh_pc_vol *v;
	} ents[MAX_MNTS];
	size_t n = 0;
	ssize_t got;
	int rc = 0;

	if (fd < 0)
		return rh_seterr_errno(errno, "cannot open the target's /etc/fstab");
	text = malloc(MAX_FSTAB + 1);
	got = text ? read(fd, text, MAX_FSTAB) : -1;
	close(fd);
	if (got < 0) {
		free(text);
		return rh_seterr_errno(errno, "cannot read the target's /etc/fstab");
	}
	text[got] = '\0';
	for (line = strtok_r(text, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
		char spec[256], mp[256], type[64], opts[256] = "";
		struct rh_pc_vol *v;

		while (isspace((unsigned char)*line))
			line++;
		if (*line == '#' || *line == '\0')
			continue;
		if (sscanf(line, "%255s %255s %63s %255s", spec, mp, type, opts) < 3)
			continue;
		if (skip_type(type) || strstr(opts, "noauto") != NULL || strstr(opts, "bind") != NULL ||
		    !safe_mountpoint(mp))
			continue;
		v = rh_pc_vol_find(r->disks, spec);
		if (strcmp(mp, "/") == 0) {
			if (v != NULL && v != r->rootvol)
				rh_log_warn("fstab names %s for / but the root found is %s", v->name,
					    r->rootvol->name);
			snprintf(r->specs[0], sizeof r->specs[0], "%s", spec);
			json_object_set_new(json_array_get(r->mounts, 0), "fstab", json_string(spec));
			continue;
		}
		if (v == NULL || !mountable(v)) {
			if (strcmp(mp, "/boot") == 0 || strcmp(mp, "/usr") == 0 || strcmp(mp, "/var") == 0) {
				rc = rh_seterr(RH_ERR_NOTFOUND, "the target's fstab mounts %s from %s, which is "
					       "not on the target disks: migrate that disk too", mp, spec);
				break;
			}
			rh_log_warn("fstab: %s (%s) is not on the target disks; left unmounted", mp, spec);
			continue;
		}
		if (n >= MAX_MNTS) {
			rc = rh_seterr(RH_ERR_TOOBIG, "more than %u filesystems in fstab", MAX_MNTS);
			break;
		}
		snprintf(ents[n].mp, sizeof ents[n].mp, "%s", mp);
		snprintf(ents[n].spec, sizeof ents[n].spec, "%s", spec);
		snprintf(ents[n].opts, sizeof ents[n].opts, "%s", opts);
		ents[n].v = v;
		n++;
	}
	free(text);
	for (int d = 1; d < 64 && rc == 0; d++) {
		for (size_t i = 0; i < n && rc == 0; i++) {
			char data[300] = "", *sv;

			if (depth(ents[i].mp) != d)
				continue;
			/* btrfs subvolumes are the one mount option that changes what we see. */
			if (strcmp(ents[i].v->fs.type, "btrfs") == 0 &&
			    (sv = strstr(ents[i].opts, "subvol=")) != NULL)
				snprintf(data, sizeof data, "%.*s", (int)strcspn(sv, ","), sv);
			rc = mount_vol(r, ents[i].v, ents[i].mp, MS_RDONLY, data[0] ? data : NULL);
			if (rc < 0 && strcmp(ents[i].v->fs.type, "vfat") == 0 && errno_is_nodev(ents[i].v)) {
				/* An ESP this kernel cannot mount: written with mtools. */
				rh_log_info("%s (%s) cannot be mounted here (no vfat in this kernel): "
					    "the EFI files go there with mtools", ents[i].mp, ents[i].v->name);
				rc = add_mnt(r, ents[i].mp, ents[i].v, ents[i].spec);
				if (rc == 0) {
					r->mnts[r->nmnts - 1].mounted = false;
					json_object_set_new(json_array_get(r->mounts, r->nmnts - 1),
							    "mounted", json_false());
				}
				continue;
			}
			if (rc == 0)
				rc = add_mnt(r, ents[i].mp, ents[i].v, ents[i].spec);
		}
	}
	return rc;
}

/* BIOS or UEFI. The boot disk says what it is set up for (boot code, BIOS
 * boot partition, ESP), the fstab whether an ESP is in use; an operator's
 * --firmware must agree with the disk (the seed's firmware check). */
static int decide_firmware(struct run *r)
{
	struct rh_firmware_info fw;
	enum rh_firmware want;
	bool has_esp = false;
	int rc;

	for (size_t i = 0; i < r->nmnts; i++)
		has_esp |= strcmp(r->mnts[i].mountpoint, "/boot/efi") == 0 ||
			   strcmp(r->mnts[i].mountpoint, "/efi") == 0;
	if (rh_disk_firmware(r->disks->paths[0], &fw) < 0)
		fw.type = RH_FW_UNKNOWN;
	if (has_esp)
		fw.type |= RH_FW_UEFI;
	if (r->o->firmware == NULL) {
		r->uefi = has_esp;
		return 0;
	}
	if ((rc = rh_firmware_parse(r->o->firmware, &want)) < 0)
		return rc;
	if ((rc = rh_firmware_check(fw.type, want)) < 0)
		return rc;
	r->uefi = want == RH_FW_UEFI;
	return 0;
}

static int edits(struct run *r, struct rh_pc *pc)
{
	struct rh_pc_fs fs[MAX_MNTS + 8];
	size_t n = 0;
	int rc;

	for (size_t i = 0; i < r->nmnts; i++) {
		fs[n].mountpoint = r->mnts[i].mountpoint;
		fs[n].uuid = r->mnts[i].vol->fs.uuid;
		fs[n].fstype = NULL;
		fs[n].device = r->specs[i][0] ? r->specs[i] : NULL;
		if (fs[n].uuid[0] != '\0')
			n++;
	}
	for (size_t i = 0; i < r->disks->nvols && n < RH_ARRAY_SIZE(fs); i++) {
		const struct rh_pc_vol *v = &r->disks->vols[i];

		if (v->fs.usage == RH_FS_USAGE_SWAP && v->fs.uuid[0] != '\0') {
			fs[n].mountpoint = "swap";
			fs[n].uuid = v->fs.uuid;
			fs[n].fstype = NULL;
			fs[n].device = v->kind == RH_PC_VOL_LV ? v->name : NULL;
			n++;
		}
	}
	if ((rc = rh_pc_fstab(pc, fs, n)) < 0 || (rc = rh_pc_network_dhcp(pc)) < 0 ||
	    (rc = rh_pc_disable_agents(pc)) < 0 || (rc = rh_pc_selinux_relabel(pc)) < 0 ||
	    (rc = rh_pc_motd(pc)) < 0 || (rc = rh_pc_xorg(pc)) < 0 ||
	    (rc = rh_pc_initramfs_config(pc, NULL)) < 0 || (rc = rh_pc_grub_defaults(pc, grub_args)) < 0)
		return rc;
	return 0;
}

static json_t *report_of(struct run *r, struct rh_pc *pc, bool pc_open, int rc)
{
	json_t *rep = pc_open ? rh_pc_report(pc) : json_object();

	if (rep == NULL)
		return NULL;
	json_object_set_new(rep, "result", json_string(rc == 0 ? "ok" : "failed"));
	if (rc < 0) {
		json_object_set_new(rep, "error", json_string(rh_lasterr()));
		if (rh_lasterr_sms() != NULL)
			json_object_set_new(rep, "sms", json_string(rh_lasterr_sms()));
	}
	json_object_set_new(rep, "root_volume", r->rootvol ? json_string(r->rootvol->name) : json_null());
	json_object_set_new(rep, "firmware", json_string(r->uefi ? "uefi" : "bios"));
	json_object_set(rep, "mounts", r->mounts);
	json_object_set(rep, "steps", r->steps);
	return rep;
}

int rh_postconf_run(const struct rh_postconf_opts *o, json_t **report)
{
	struct run r = { .o = o };
	struct rh_pc pc;
	struct rh_pc_boot boot;
	bool pc_open = false, sys_init = false;
	int rc, rc2;

	*report = NULL;
	memset(&pc, 0, sizeof pc);
	r.steps = json_array();
	r.mounts = json_array();
	if (r.steps == NULL || r.mounts == NULL) {
		rc = rh_seterr(RH_ERR_NOMEM, "out of memory");
		goto out;
	}
	rc = rh_pc_disks_scan(o->disks, o->ndisks, &r.disks);
	if (rc < 0)
		goto out;
	rc = rh_pc_sysroot_init(&r.sys, o->tmpdir);
	if (rc < 0)
		goto out;
	sys_init = true;
	if ((rc = find_root(&r)) < 0)
		goto out;
	rh_log_info("target root: %s (%s, UUID %s)", r.rootvol->name, r.rootvol->fs.type,
		    r.rootvol->fs.uuid);
	/* Read-only until every check has passed: a refused run changes nothing. */
	rc = mount_vol(&r, r.rootvol, "", MS_RDONLY, NULL);
	if (rc == 0)
		rc = add_mnt(&r, "/", r.rootvol, "");
	if (rc == 0)
		rc = mount_fstab(&r);
	if (rc == 0)
		rc = decide_firmware(&r);
	if (rc == 0 && !o->dry_run)
		rc = rh_pc_remount_rw(&r.sys);
	if (rc < 0)
		goto out;
	rc = rh_pc_open(&pc, r.sys.root, o->cfg, o->dry_run);
	pc_open = true;
	if (rc < 0)
		goto out;
	rh_log_info("target system: %s (%s family), %s firmware", pc.os_pretty,
		    rh_pc_family_name(pc.family), r.uefi ? "UEFI" : "BIOS");
	if ((rc = edits(&r, &pc)) < 0 || o->dry_run)
		goto out;
	/* The whole disks too: grub-bios-setup writes the boot sector. */
	for (size_t i = 0; i < r.disks->nvols && rc == 0; i++)
		if (r.disks->vols[i].kind == RH_PC_VOL_DISK ||
		    r.disks->vols[i].fs.usage == RH_FS_USAGE_SWAP)
			rc = rh_pc_vol_attach(r.disks, &r.disks->vols[i]);
	if (rc == 0)
		rc = rh_pc_devtree(&r.sys, r.disks);
	if (rc < 0)
		goto out;
	boot = (struct rh_pc_boot){ .sys = &r.sys, .disks = r.disks, .mnts = r.mnts, .nmnts = r.nmnts,
				    .uefi = r.uefi, .steps = r.steps };
	if ((rc = rh_pc_initramfs_rebuild(&boot)) < 0 || (rc = rh_pc_grub_config(&boot)) < 0 ||
	    (rc = rh_pc_grub_install(&boot)) < 0)
		goto out;
out:
	if (rc < 0)
		rh_log_error("postconf failed: %s", rh_lasterr());
	{
		/* Keep the failure detail: unmounting may overwrite it. */
		struct rh_err_saved saved;

		rh_err_save(&saved);
		*report = report_of(&r, &pc, pc_open, rc);
		if (pc_open && !o->dry_run && *report != NULL) {
			/* The target keeps its own record of what was done to it. */
			char *txt = json_dumps(*report, JSON_INDENT(2));

			if (txt == NULL || rh_pc_write_file(&pc, "/var/log/rehost-postconf.json", txt, 0600) < 0)
				rh_log_warn("cannot keep the report in the target: %s", rh_lasterr());
			free(txt);
		}
		if (pc_open)
			rh_pc_release(&pc);
		rc2 = sys_init ? rh_pc_sysroot_release(&r.sys) : 0;
		if (rc == 0 && rc2 < 0)
			rc = rc2;
		else if (rc < 0)
			rh_err_restore(&saved);
	}
	rh_pc_disks_free(r.disks);
	json_decref(r.steps);
	json_decref(r.mounts);
	return rc;
}
