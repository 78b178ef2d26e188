/*
 * Rebuild the target's initramfs images with the target's own tool, then
 * check each one really carries virtio_blk: the whole point of the step is
 * that the migrated root disk is found on virtio at the next boot.
 */
#define RH_LOG_COMPONENT "postconf"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "postconf/boot.h"
#include "rehost/err.h"
#include "rehost/inspect.h"
#include "rehost/log.h"

#define MAX_KERNELS 16

struct kernel {
	char version[128];
	char image[192];   /* initramfs path in the target */
	bool have_image;
};

/* Installed kernels: a modules directory and a /boot/vmlinuz-VERSION. */
static int list_kernels(struct rh_pc_boot *b, struct kernel *k, size_t *n)
{
	static const char *const moddirs[] = { "usr/lib/modules", "lib/modules" };
	char path[PATH_MAX * 2];
	DIR *dir = NULL;
	struct dirent *de;

	*n = 0;
	for (size_t i = 0; i < 2 && dir == NULL; i++) {
		snprintf(path, sizeof path, "%s/%s", b->sys->root, moddirs[i]);
		dir = opendir(path);
	}
	if (dir == NULL)
		return rh_seterr_errno(errno, "the target has no /lib/modules");
	while ((de = readdir(dir)) != NULL && *n < MAX_KERNELS) {
		char vmlinuz[300];

		if (de->d_name[0] == '.' || strlen(de->d_name) >= sizeof k->version ||
		    strchr(de->d_name, '/') != NULL)
			continue;
		snprintf(vmlinuz, sizeof vmlinuz, "/boot/vmlinuz-%s", de->d_name);
		if (!rh_pc_exists(b->sys, vmlinuz))
			continue;
		snprintf(k[*n].version, sizeof k->version, "%.127s", de->d_name);
		(*n)++;
	}
	closedir(dir);
	if (*n == 0)
		return rh_seterr(RH_ERR_NOTFOUND, "no installed kernel found in the target "
				 "(/lib/modules/VERSION with /boot/vmlinuz-VERSION)");
	return 0;
}

struct find {
	const char *const *names; /* stems: "virtio_blk" matches virtio_blk.ko[.xz|.zst|.gz] */
	bool found;
};

static int find_cb(void *arg, const char *name, unsigned mode, unsigned long long size)
{
	struct find *f = arg;
	const char *base = strrchr(name, '/');

	(void)mode;
	(void)size;
	base = base ? base + 1 : name;
	for (const char *const *n = f->names; *n; n++) {
		size_t l = strlen(*n);

		if (strncmp(base, *n, l) == 0 && strncmp(base + l, ".ko", 3) == 0) {
			f->found = true;
			return 1;
		}
	}
	return 0;
}

/* virtio_blk in the image, or built into the kernel (modules.builtin). */
static int check_virtio(struct rh_pc_boot *b, const struct kernel *k)
{
	static const char *const names[] = { "virtio_blk", NULL };
	char path[PATH_MAX * 2];
	struct find f = { .names = names };
	struct rh_initramfs_scan scan;
	struct stat st;
	void *map;
	int fd, rc;
	FILE *bf;

	snprintf(path, sizeof path, "/lib/modules/%s/modules.builtin", k->version);
	fd = rh_pc_sys_open(b->sys, path, O_RDONLY);
	bf = fd >= 0 ? fdopen(fd, "r") : NULL;
	if (bf == NULL && fd >= 0)
		close(fd);
	if (bf != NULL) {
		char line[512];

		while (fgets(line, sizeof line, bf) != NULL)
			if (strstr(line, "/virtio_blk.ko") != NULL)
				f.found = true;
		fclose(bf);
		if (f.found)
			return 0;
	}
	errno = 0;
	fd = rh_pc_sys_open(b->sys, k->image, O_RDONLY);
	if (fd < 0 || fstat(fd, &st) < 0 || st.st_size <= 0) {
		rc = rh_seterr_errno(errno ? errno : EINVAL, "%s was not created", k->image);
		if (fd >= 0)
			close(fd);
		return rc;
	}
	map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (map == MAP_FAILED)
		return rh_seterr_errno(errno, "cannot read %s", k->image);
	rc = rh_initramfs_scan(map, (size_t)st.st_size, find_cb, &f, &scan);
	munmap(map, (size_t)st.st_size);
	if (rc < 0 && !f.found)
		return rh_seterr(rc, "cannot read the new %s: %s", k->image, rh_lasterr());
	if (!f.found)
		return rh_seterr(RH_ERR_NOTFOUND, "the rebuilt %s still lacks virtio_blk: the target "
				 "would not find its disk on virtio", k->image);
	return 0;
}

/* Room in /boot for the new image beside the old one (a generic dracut
 * image is tens of MiB bigger than a host-only one). */
static int check_boot_space(struct rh_pc_boot *b, const char *image)
{
	int fd = rh_pc_sys_open(b->sys, "/boot", O_RDONLY | O_DIRECTORY);
	uint64_t have, need = 64u << 20;
	struct statvfs vfs;
	struct stat st;

	if (fd < 0)
		return rh_seterr_errno(errno, "the target has no /boot");
	if (fstatvfs(fd, &vfs) < 0) {
		close(fd);
		return rh_seterr_errno(errno, "statvfs /boot");
	}
	if (fstatat(fd, image + strlen("/boot/"), &st, AT_SYMLINK_NOFOLLOW) == 0 && st.st_size > 0)
		need = 2 * (uint64_t)st.st_size + (16u << 20);
	close(fd);
	have = (uint64_t)vfs.f_bavail * vfs.f_frsize;
	if (have < need)
		return rh_seterr(RH_ERR_NOSPACE, "/boot in the target has %llu MiB free; rebuilding %s "
				 "needs about %llu MiB: remove old kernels on the source, sync again and "
				 "repeat the cutover", (unsigned long long)(have >> 20), image,
				 (unsigned long long)(need >> 20));
	return 0;
}

int rh_pc_initramfs_rebuild(struct rh_pc_boot *b)
{
	struct kernel k[MAX_KERNELS];
	size_t n;
	int rc;
	bool uird = rh_pc_exists(b->sys, "/usr/sbin/update-initramfs") ||
		    rh_pc_exists(b->sys, "/sbin/update-initramfs");
	bool dracut = rh_pc_exists(b->sys, "/usr/bin/dracut") || rh_pc_exists(b->sys, "/sbin/dracut") ||
		      rh_pc_exists(b->sys, "/usr/sbin/dracut");
	bool mkinitrd = rh_pc_exists(b->sys, "/sbin/mkinitrd") || rh_pc_exists(b->sys, "/usr/sbin/mkinitrd");

	if (!uird && !dracut && !mkinitrd)
		return rh_seterr(RH_ERR_NOTFOUND, "the target has no update-initramfs, dracut or mkinitrd "
				 "to rebuild its initramfs with the virtio drivers");
	if ((rc = list_kernels(b, k, &n)) < 0)
		return rc;
	for (size_t i = 0; i < n; i++) {
		const char *argv[8];
		char tail[4096], detail[512], vmlinuz[160], ver[128];
		int st;

		memcpy(ver, k[i].version, sizeof ver);

		if (uird) {
			snprintf(k[i].image, sizeof k->image, "/boot/initrd.img-%.127s", ver);
			k[i].have_image = rh_pc_exists(b->sys, k[i].image);
			argv[0] = "update-initramfs";
			argv[1] = k[i].have_image ? "-u" : "-c";
			argv[2] = "-k";
			argv[3] = k[i].version;
			argv[4] = NULL;
		} else if (dracut) {
			/* RHEL names it initramfs-V.img, SUSE initrd-V. */
			snprintf(k[i].image, sizeof k->image, "/boot/initrd-%.127s", ver);
			if (!rh_pc_exists(b->sys, k[i].image))
				snprintf(k[i].image, sizeof k->image, "/boot/initramfs-%.127s.img", ver);
			argv[0] = "dracut";
			argv[1] = "-f";
			argv[2] = "--no-hostonly";
			argv[3] = k[i].image;
			argv[4] = k[i].version;
			argv[5] = NULL;
		} else {
			snprintf(k[i].image, sizeof k->image, "/boot/initrd-%.127s", ver);
			snprintf(vmlinuz, sizeof vmlinuz, "/boot/vmlinuz-%.127s", ver);
			argv[0] = "mkinitrd";
			argv[1] = "-k";
			argv[2] = vmlinuz;
			argv[3] = "-i";
			argv[4] = k[i].image;
			argv[5] = NULL;
		}
		if ((rc = check_boot_space(b, k[i].image)) < 0)
			return rc;
		st = rh_pc_run(b->sys, argv, tail, sizeof tail);
		if (st < 0)
			return st;
		if (st != 0)
			return rh_seterr(RH_ERR_IO, "%s for kernel %s failed (exit status %d); its output "
					 "is in the log", argv[0], k[i].version, st);
		rc = check_virtio(b, &k[i]);
		if (rc < 0)
			return rc;
		snprintf(detail, sizeof detail, "%.191s rebuilt by %.32s, contains virtio_blk", k[i].image, argv[0]);
		json_array_append_new(b->steps, json_pack("{s:s, s:s}", "step", "initramfs", "detail", detail));
		rh_log_info("%s", detail);
	}
	return 0;
}
