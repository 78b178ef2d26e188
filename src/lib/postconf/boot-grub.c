/*
 * GRUB on the target: configuration and BIOS/UEFI installation.
 *
 * grub-mkconfig and grub-install probe devices through the kernel: which
 * disk holds a partition, where it starts. A target reached through loop
 * devices at offsets (disk images, or a rescue system without partition
 * nodes) cannot answer, so:
 *  - for grub-mkconfig a small grub-probe stand-in is bind-mounted over the
 *    target's own for the duration, answering from the layout we read from
 *    the disks (filesystem, UUID, partition map, LVM);
 *  - for installation we do what grub-install does underneath, with the
 *    target's tools: grub-mkimage builds a core image that finds /boot by
 *    filesystem UUID, and grub-bios-setup embeds it, given a device map that
 *    names the whole disk's loop device.
 */
#define RH_LOG_COMPONENT "postconf"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "postconf/boot.h"
#include "rehost/checked.h"
#include "rehost/err.h"
#include "rehost/io.h"
#include "rehost/log.h"

#define TAIL 4096

static const char *grub_fs(const char *type)
{
	if (strncmp(type, "ext", 3) == 0)
		return "ext2";
	if (strcmp(type, "vfat") == 0)
		return "fat";
	return type; /* xfs, btrfs */
}

static const struct rh_pc_mnt *mount_of(const struct rh_pc_boot *b, const char *path)
{
	const struct rh_pc_mnt *best = NULL;
	size_t best_len = 0;

	for (size_t i = 0; i < b->nmnts; i++) {
		const char *mp = b->mnts[i].mountpoint;
		size_t l = strcmp(mp, "/") == 0 ? 0 : strlen(mp);

		if (strncmp(path, mp, l) == 0 && (path[l] == '/' || path[l] == '\0') &&
		    (best == NULL || l >= best_len)) {
			best = &b->mnts[i];
			best_len = l;
		}
	}
	return best;
}

/* GRUB's name of the volume's partition: "hd0,msdos1", "hd0,gpt2"; for an
 * LV "lvm/VG-LV". */
static void grub_part(const struct rh_pc_boot *b, const struct rh_pc_vol *v, char *out, size_t n)
{
	if (v->kind == RH_PC_VOL_LV)
		snprintf(out, n, "lvm/%s", v->name + strlen("/dev/mapper/"));
	else if (v->kind == RH_PC_VOL_PART)
		snprintf(out, n, "hd%u,%s%u", v->disk,
			 b->disks->ptable[v->disk] == RH_PTABLE_GPT ? "gpt" : "msdos", v->partno);
	else
		snprintf(out, n, "hd%u", v->disk);
}

static const char *partmap_of(const struct rh_pc_boot *b, const struct rh_pc_vol *v)
{
	if (v->kind == RH_PC_VOL_LV) {
		/* The partition map of the PV's disk. */
		return b->disks->ptable[v->disk] == RH_PTABLE_GPT ? "gpt" :
		       b->disks->ptable[v->disk] == RH_PTABLE_DOS ? "msdos" : "";
	}
	if (v->kind == RH_PC_VOL_DISK)
		return "";
	return b->disks->ptable[v->disk] == RH_PTABLE_GPT ? "gpt" : "msdos";
}

/* Single-quote for sh; values come from disk metadata (untrusted). */
static void shq(FILE *f, const char *s)
{
	fputc('\'', f);
	for (; *s; s++) {
		if (*s == '\'')
			fputs("'\\''", f);
		else
			fputc(*s, f);
	}
	fputc('\'', f);
}

static int write_probe_script(const struct rh_pc_boot *b, const char *path)
{
	FILE *f = fopen(path, "w");

	if (f == NULL)
		return rh_seterr_errno(errno, "cannot write %s", path);
	fputs("#!/bin/sh\n"
	      "# Stand-in for grub-probe, bind-mounted by rehost postconf while it runs\n"
	      "# grub-mkconfig: loop devices cannot be probed from this chroot, so the\n"
	      "# answers come from the layout rehost read from the target disks.\n"
	      "target=device dev= path=\n"
	      "while [ $# -gt 0 ]; do\n"
	      "  case \"$1\" in\n"
	      "  -t|--target) target=$2; shift 2 ;;\n"
	      "  --target=*) target=${1#--target=}; shift ;;\n"
	      "  -d|--device) dev=$2; shift 2 ;;\n"
	      "  --device=*) dev=${1#--device=}; shift ;;\n"
	      "  -m|--device-map) shift 2 ;;\n"
	      "  -*) shift ;;\n"
	      "  *) [ -n \"$dev\" ] || [ -n \"$path\" ] || path=$1; shift ;;\n"
	      "  esac\n"
	      "done\n"
	      "if [ -z \"$dev\" ]; then\n"
	      "  case \"$path\" in\n", f);
	/* Longest mount points first, so /boot/efi wins over /boot over /. */
	for (int pass = 3; pass >= 0; pass--) {
		for (size_t i = 0; i < b->nmnts; i++) {
			const char *mp = b->mnts[i].mountpoint;
			int depth = 0;

			for (const char *c = mp; *c; c++)
				depth += *c == '/';
			if (strcmp(mp, "/") == 0)
				depth = 0;
			if (depth != pass && !(pass == 3 && depth > 3))
				continue;
			fputs("  ", f);
			if (depth == 0) {
				fputs("/*|/", f);
			} else {
				shq(f, mp);
				fputs("|", f);
				shq(f, mp);
				fputs("/*", f);
			}
			fputs(") dev=", f);
			shq(f, b->mnts[i].vol->name);
			fputs(" ;;\n", f);
		}
	}
	fputs("  *) echo \"grub-probe (rehost): no filesystem for $path\" >&2; exit 1 ;;\n"
	      "  esac\n"
	      "fi\n"
	      "case \"$dev\" in\n", f);
	for (size_t i = 0; i < b->disks->nvols; i++) {
		const struct rh_pc_vol *v = &b->disks->vols[i];
		char gp[300];

		if (v->loop.fd < 0)
			continue;
		grub_part(b, v, gp, sizeof gp);
		shq(f, v->name);
		fputs("|", f);
		shq(f, v->loop.path);
		if (v->alias[0] != '\0') {
			fputs("|", f);
			shq(f, v->alias);
		}
		if (v->fs.uuid[0] != '\0') {
			fputs("|/dev/disk/by-uuid/", f);
			shq(f, v->fs.uuid);
		}
		fputs(")\n  name=", f);
		shq(f, v->name);
		fputs(" fs=", f);
		shq(f, grub_fs(v->fs.type));
		fputs(" uuid=", f);
		shq(f, v->fs.uuid);
		fputs(" label=", f);
		shq(f, v->fs.label);
		fputs(" partuuid=", f);
		shq(f, v->partuuid);
		fprintf(f, " disk=/dev/vd%c partmap=%s", 'a' + v->disk, partmap_of(b, v));
		fputs(" abstraction=", f);
		fputs(v->kind == RH_PC_VOL_LV ? "lvm" : "''", f);
		fputs(" drive=", f);
		shq(f, gp);
		fputs(" ;;\n", f);
	}
	fputs("*) echo \"grub-probe (rehost): unknown device $dev\" >&2; exit 1 ;;\n"
	      "esac\n"
	      "case \"$target\" in\n"
	      "device) echo \"$name\" ;;\n"
	      "fs) [ -n \"$fs\" ] || { echo \"grub-probe (rehost): no filesystem on $name\" >&2; exit 1; }; echo \"$fs\" ;;\n"
	      "fs_uuid) [ -n \"$uuid\" ] || exit 1; echo \"$uuid\" ;;\n"
	      "fs_label) [ -n \"$label\" ] || exit 1; echo \"$label\" ;;\n"
	      "partuuid) [ -n \"$partuuid\" ] || exit 1; echo \"$partuuid\" ;;\n"
	      "partmap) [ -z \"$partmap\" ] || echo \"$partmap\" ;;\n"
	      "abstraction) [ -z \"$abstraction\" ] || echo \"$abstraction\" ;;\n"
	      "cryptodisk_uuid) ;;\n"
	      "drive) echo \"($drive)\" ;;\n"
	      "disk) echo \"$disk\" ;;\n"
	      "compatibility_hint) [ \"$abstraction\" = lvm ] || echo \"$drive\" ;;\n"
	      "hints_string) [ \"$abstraction\" = lvm ] || echo \"--hint-bios=$drive --hint-efi=$drive --hint-baremetal=ahci${drive#hd} \" ;;\n"
	      "*) echo \"grub-probe (rehost): target $target is not supported\" >&2; exit 1 ;;\n"
	      "esac\n", f);
	if (fchmod(fileno(f), 0755) < 0 || fclose(f) != 0)
		return rh_seterr_errno(errno, "cannot write %s", path);
	return 0;
}

static const char *first_existing(const struct rh_pc_sysroot *s, const char *const *cands)
{
	for (; *cands != NULL; cands++)
		if (rh_pc_exists(s, *cands))
			return *cands;
	return NULL;
}

static void step(struct rh_pc_boot *b, const char *what, const char *detail)
{
	json_array_append_new(b->steps, json_pack("{s:s, s:s}", "step", what, "detail", detail));
}

static int run_checked(struct rh_pc_boot *b, const char *const *argv, const char *what)
{
	char tail[TAIL];
	int st = rh_pc_run(b->sys, argv, tail, sizeof tail);

	if (st < 0)
		return st;
	if (st != 0) {
		size_t l = strlen(tail);

		while (l > 0 && tail[l - 1] == '\n')
			tail[--l] = '\0';
		return rh_seterr(RH_ERR_IO, "%s failed in the target (exit status %d): %s", what, st,
				 strrchr(tail, '\n') ? strrchr(tail, '\n') + 1 : tail);
	}
	return 0;
}

/* Read a whole small file of the target. */
static char *slurp(const struct rh_pc_sysroot *s, const char *rel, size_t max)
{
	int fd = rh_pc_sys_open(s, rel, O_RDONLY);
	FILE *f = fd >= 0 ? fdopen(fd, "r") : NULL;
	char *buf;
	size_t n;

	if (f == NULL) {
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	buf = malloc(max + 1);
	if (buf == NULL) {
		fclose(f);
		return NULL;
	}
	n = fread(buf, 1, max, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

int rh_pc_grub_config(struct rh_pc_boot *b)
{
	static const char *const probes[] = { "/usr/sbin/grub-probe", "/usr/sbin/grub2-probe",
					      "/sbin/grub-probe", "/sbin/grub2-probe", NULL };
	static const char *const mkconfigs[] = { "/usr/sbin/grub-mkconfig", "/usr/sbin/grub2-mkconfig",
						 "/sbin/grub-mkconfig", "/sbin/grub2-mkconfig", NULL };
	const char *probe = first_existing(b->sys, probes), *mkconfig = first_existing(b->sys, mkconfigs);
	const struct rh_pc_mnt *rootm = mount_of(b, "/");
	char script[PATH_MAX + 16], cfg[64], *text;
	const char *argv[4];
	int rc;

	if (probe == NULL || mkconfig == NULL)
		return rh_seterr(RH_ERR_NOTFOUND, "the target has no grub-mkconfig/grub2-mkconfig: "
				 "install GRUB 2 on the source (grub-pc or grub2-pc) and sync again");
	b->rhel_layout = strstr(mkconfig, "grub2") != NULL;
	snprintf(cfg, sizeof cfg, "/boot/%s/grub.cfg", b->rhel_layout ? "grub2" : "grub");
	if (b->uefi && b->rhel_layout && rh_pc_exists(b->sys, "/boot/efi/EFI/redhat/grub.cfg") &&
	    !rh_pc_exists(b->sys, "/boot/grub2/grub.cfg"))
		snprintf(cfg, sizeof cfg, "/boot/efi/EFI/redhat/grub.cfg");
	snprintf(script, sizeof script, "%s/grub-probe", b->sys->base);
	rc = write_probe_script(b, script);
	if (rc == 0)
		rc = rh_pc_bind_file(b->sys, script, probe);
	if (rc < 0)
		return rc;
	argv[0] = mkconfig;
	argv[1] = "-o";
	argv[2] = cfg;
	argv[3] = NULL;
	rc = run_checked(b, argv, mkconfig);
	/* The stand-in goes away before anything else runs. */
	rh_pc_umount_last(b->sys);
	if (rc < 0)
		return rc;
	/* The result must name the target's devices, never ours. */
	text = slurp(b->sys, cfg, 4u << 20);
	if (text == NULL)
		return rh_seterr_errno(errno, "%s was not written", cfg);
	if (strstr(text, "/dev/loop") != NULL) {
		free(text);
		return rh_seterr(RH_ERR_INTERNAL, "%s names a host loop device", cfg);
	}
	if (rootm != NULL && rootm->vol->fs.uuid[0] != '\0' && rootm->vol->kind != RH_PC_VOL_LV &&
	    strstr(text, rootm->vol->fs.uuid) == NULL) {
		free(text);
		return rh_seterr(RH_ERR_INTERNAL, "%s does not name the root filesystem %s", cfg,
				 rootm->vol->fs.uuid);
	}
	free(text);
	step(b, "grub-config", cfg);
	rh_log_info("GRUB configuration regenerated: %s", cfg);
	return 0;
}

/* Write a small file of the target, resolved inside it. */
static int write_text(const struct rh_pc_sysroot *s, const char *path, const char *text)
{
	int fd = rh_pc_sys_open(s, path, O_WRONLY | O_CREAT | O_TRUNC);
	FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;

	if (f == NULL) {
		if (fd >= 0)
			close(fd);
		return rh_seterr_errno(errno, "cannot write %s in the target", path);
	}
	fputs(text, f);
	if (fclose(f) != 0)
		return rh_seterr_errno(errno, "cannot write %s", path);
	return 0;
}

/* The core image's built-in configuration: find /boot by UUID, wherever
 * the disks end up. */
static int write_early_cfg(struct rh_pc_boot *b, const struct rh_pc_mnt *bootm, const char *gdir,
			   char *rel, size_t n)
{
	char text[512];
	const char *sub = strcmp(bootm->mountpoint, "/") == 0 ? "/boot" : "";

	snprintf(rel, n, "/run/rehost-early.cfg");
	snprintf(text, sizeof text, "search.fs_uuid %s root\nset prefix=($root)%s/%s\n",
		 bootm->vol->fs.uuid, sub, gdir);
	return write_text(b->sys, rel, text);
}

static int install_bios(struct rh_pc_boot *b, const struct rh_pc_mnt *bootm)
{
	static const char *const setups[] = { "/usr/lib/grub/i386-pc/grub-bios-setup",
					      "/usr/sbin/grub-bios-setup", "/usr/sbin/grub2-bios-setup",
					      "/sbin/grub2-bios-setup", NULL };
	static const char *const mkimages[] = { "/usr/bin/grub-mkimage", "/usr/bin/grub2-mkimage", NULL };
	const char *setup = first_existing(b->sys, setups), *mkimage = first_existing(b->sys, mkimages);
	const char *gdir = b->rhel_layout ? "grub2" : "grub";
	struct rh_pc_vol *disk = NULL, *bv = bootm->vol;
	char early[64], moddir[64], core[96], map[64], text[512], part[12];
	const char *fsmod = grub_fs(bv->fs.type);
	unsigned char mbr[512];
	uint64_t kernel_sector = 0;
	int rc, fd;

	if (!rh_pc_exists(b->sys, "/usr/lib/grub/i386-pc/boot.img") || setup == NULL || mkimage == NULL)
		return rh_seterr(RH_ERR_NOTFOUND, "the target has no GRUB for BIOS (/usr/lib/grub/i386-pc): "
				 "install grub-pc (Debian/Ubuntu) or grub2-pc (RHEL/SUSE) on the source, "
				 "or use a UEFI target");
	for (size_t i = 0; i < b->disks->nvols; i++)
		if (b->disks->vols[i].kind == RH_PC_VOL_DISK && b->disks->vols[i].disk == bv->disk)
			disk = &b->disks->vols[i];
	if (disk == NULL || (rc = rh_pc_vol_attach(b->disks, disk)) < 0)
		return disk == NULL ? rh_seterr(RH_ERR_INTERNAL, "no disk for %s", bv->name) : rc;
	snprintf(part, sizeof part, "%s", b->disks->ptable[bv->disk] == RH_PTABLE_GPT ? "part_gpt" :
					     "part_msdos");
	snprintf(moddir, sizeof moddir, "/boot/%s/i386-pc", gdir);
	/* The modules GRUB loads at boot, as grub-install would copy them. */
	{
		const char *argv[] = { "/bin/sh", "-c",
				       "mkdir -p \"$2\" && cp \"$1\"/*.mod \"$1\"/*.lst \"$1\"/*.img \"$2\"/",
				       "sh", "/usr/lib/grub/i386-pc", moddir, NULL };

		if ((rc = run_checked(b, argv, "copying the GRUB modules")) < 0)
			return rc;
	}
	rc = write_early_cfg(b, bootm, gdir, early, sizeof early);
	if (rc < 0)
		return rc;
	snprintf(core, sizeof core, "%s/core.img", moddir);
	{
		const char *argv[] = { mkimage, "-O", "i386-pc", "-o", core, "-c", early, "-p",
				       strcmp(bootm->mountpoint, "/") == 0 ? (b->rhel_layout ? "/boot/grub2" : "/boot/grub") :
				       (b->rhel_layout ? "/grub2" : "/grub"),
				       "biosdisk", part, fsmod, "search_fs_uuid",
				       bv->kind == RH_PC_VOL_LV ? "lvm" : NULL, NULL };

		if ((rc = run_checked(b, argv, "grub-mkimage")) < 0)
			return rc;
	}
	/* grub-bios-setup resolves the directory's own device too: both go in
	 * the map, named as the chroot's /dev has them. */
	snprintf(map, sizeof map, "/run/rehost-device.map");
	snprintf(text, sizeof text, "(hd0) %s\n(hd1) %s\n", disk->loop.path, bv->loop.path);
	if ((rc = write_text(b->sys, map, text)) < 0)
		return rc;
	{
		const char *argv[] = { setup, "-d", moddir, "-m", map, "(hd0)", NULL };

		if ((rc = run_checked(b, argv, "grub-bios-setup")) < 0) {
			if (b->disks->ptable[bv->disk] == RH_PTABLE_GPT)
				rh_seterr(rc, "%s (a GPT disk needs a BIOS boot partition, type "
					  "21686148-6E6F-744E-656564454649, for BIOS boot)", rh_lasterr());
			return rc;
		}
	}
	/* Check what the firmware will load: boot code pointing at the core. */
	fd = open(b->disks->paths[bv->disk], O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return rh_seterr_errno(errno, "cannot read back the boot sector of %s",
				       b->disks->paths[bv->disk]);
	/* A disk shorter than one sector is an error too (got == NULL). */
	rc = rh_pread_full(fd, mbr, sizeof mbr, 0, NULL);
	close(fd);
	if (rc < 0)
		return rh_seterr(rc, "cannot read back the boot sector of %s at %s",
				 b->disks->paths[bv->disk], rh_lasterr());
	for (int i = 7; i >= 0; i--)
		kernel_sector = kernel_sector << 8 | mbr[0x5c + i];
	if (mbr[510] != 0x55 || mbr[511] != 0xaa || kernel_sector == 0)
		return rh_seterr(RH_ERR_CORRUPT, "the boot sector of %s was not written as expected",
				 disk->name);
	snprintf(text, sizeof text, "%s: boot sector + core image at sector %llu (finds /boot by UUID %s)",
		 disk->name, (unsigned long long)kernel_sector, bv->fs.uuid);
	step(b, "grub-install-bios", text);
	rh_log_info("GRUB installed for BIOS on %s", text);
	return 0;
}

/* Copy file to EFI/BOOT/BOOTX64.EFI on an ESP that is not mounted. */
static int esp_copy(const struct rh_pc_vol *esp, const char *file)
{
	const char *mmd[] = { "mmd", "-i", esp->loop.path, "::/EFI", "::/EFI/BOOT", NULL };
	const char *mcopy[] = { "mcopy", "-o", "-i", esp->loop.path, file, "::/EFI/BOOT/BOOTX64.EFI", NULL };
	char tail[1024];
	int st;

	/* mmd fails when the directories exist: that is fine. */
	st = rh_pc_run_host(mmd, tail, sizeof tail);
	if (st < 0)
		return rh_seterr(st, "cannot run mtools (install the mtools package): %s", rh_lasterr());
	st = rh_pc_run_host(mcopy, tail, sizeof tail);
	if (st < 0)
		return st;
	if (st != 0)
		return rh_seterr(RH_ERR_IO, "mcopy to the ESP %s failed (exit status %d): %s", esp->name, st, tail);
	return 0;
}

static int install_uefi(struct rh_pc_boot *b, const struct rh_pc_mnt *bootm)
{
	static const char *const mkimages[] = { "/usr/bin/grub-mkimage", "/usr/bin/grub2-mkimage", NULL };
	const char *mkimage = first_existing(b->sys, mkimages);
	const struct rh_pc_mnt *esp = NULL;
	const char *gdir = b->rhel_layout ? "grub2" : "grub";
	struct rh_pc_vol *bv = bootm->vol;
	char early[64], text[512];
	int rc;

	for (size_t i = 0; i < b->nmnts; i++)
		if (strcmp(b->mnts[i].mountpoint, "/boot/efi") == 0 ||
		    strcmp(b->mnts[i].mountpoint, "/efi") == 0)
			esp = &b->mnts[i];
	if (esp == NULL)
		return rh_seterr(RH_ERR_NOTFOUND, "UEFI target, but no EFI System Partition is mounted "
				 "from the target's fstab (/boot/efi)");
	if (!rh_pc_exists(b->sys, "/usr/lib/grub/x86_64-efi/normal.mod") || mkimage == NULL)
		return rh_seterr(RH_ERR_NOTFOUND, "the target has no GRUB for UEFI (/usr/lib/grub/x86_64-efi): "
				 "install grub-efi-amd64 (Debian/Ubuntu) or grub2-efi-x64-modules (RHEL)");
	rc = write_early_cfg(b, bootm, gdir, early, sizeof early);
	if (rc < 0)
		return rc;
	{
		char moddir[64];
		const char *argv[] = { "/bin/sh", "-c", "mkdir -p \"$2\" && cp \"$1\"/*.mod \"$1\"/*.lst \"$2\"/",
				       "sh", "/usr/lib/grub/x86_64-efi", moddir, NULL };

		snprintf(moddir, sizeof moddir, "/boot/%s/x86_64-efi", gdir);
		if ((rc = run_checked(b, argv, "copying the GRUB modules")) < 0)
			return rc;
	}
	{
		char out[300];
		const char *argv[] = { "/bin/sh", "-c", "mkdir -p \"$1\"/EFI/BOOT", "sh", esp->mountpoint, NULL };
		const char *mk[] = { mkimage, "-O", "x86_64-efi", "-o", out, "-c", early, "-p",
				     strcmp(bootm->mountpoint, "/") == 0 ? "/boot/grub" : "/grub",
				     "part_msdos", "part_gpt", grub_fs(bv->fs.type), "search_fs_uuid",
				     bv->kind == RH_PC_VOL_LV ? "lvm" : NULL, NULL };

		if (esp->mounted) {
			snprintf(out, sizeof out, "%s/EFI/BOOT/BOOTX64.EFI", esp->mountpoint);
			if ((rc = run_checked(b, argv, "creating EFI/BOOT")) < 0 ||
			    (rc = run_checked(b, mk, "grub-mkimage")) < 0)
				return rc;
		} else {
			/* Built in the target's /run (our tmpfs), copied onto the
			 * unmounted ESP with mtools. */
			char host[PATH_MAX + 64];

			snprintf(out, sizeof out, "/run/rehost-BOOTX64.EFI");
			if ((rc = run_checked(b, mk, "grub-mkimage")) < 0)
				return rc;
			snprintf(host, sizeof host, "%s/run/rehost-BOOTX64.EFI", b->sys->root);
			if ((rc = esp_copy(esp->vol, host)) < 0)
				return rc;
			snprintf(out, sizeof out, "%s/EFI/BOOT/BOOTX64.EFI", esp->mountpoint);
		}
		snprintf(text, sizeof text, "%s (removable-media path; finds /boot by UUID %s)", out,
			 bv->fs.uuid);
	}
	step(b, "grub-install-uefi", text);
	rh_log_info("GRUB installed for UEFI: %s", text);
	return 0;
}

int rh_pc_grub_install(struct rh_pc_boot *b)
{
	const struct rh_pc_mnt *bootm = mount_of(b, "/boot");

	if (bootm == NULL)
		return rh_seterr(RH_ERR_NOTFOUND, "no filesystem holds /boot in the target");
	if (bootm->vol->fs.uuid[0] == '\0')
		return rh_seterr(RH_ERR_UNSUPPORTED, "the filesystem holding /boot (%s) has no UUID",
				 bootm->vol->name);
	return b->uefi ? install_uefi(b, bootm) : install_bios(b, bootm);
}
