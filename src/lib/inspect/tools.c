/*
 * Tools and configuration details of the source: rsync, ssh and fdisk on
 * the PATH (looked up under the root), root's home directory immutability
 * (SMS.5105), Google guest-agent units (MSG.google-services), device names
 * that will change on virtio hardware; and boot: GRUB components and
 * configuration, the initramfs of the running kernel and the virtio
 * modules it (or the kernel itself) provides.
 */
#define RH_LOG_COMPONENT "inspect"

#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "inspect/internal.h"
#include "rehost/checked.h"
#include "rehost/err.h"
#include "rehost/log.h"

static const char *const std_path[] = {
	"/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin",
};

static bool is_executable(const struct inv_root *r, const char *path)
{
	struct stat st;

	return root_stat(r, path, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 0111);
}

const char *tool_find(struct rh_inventory *inv, const struct inv_root *r, const char *name)
{
	char path[4096];

	for (size_t i = 0; i < RH_ARRAY_SIZE(std_path); i++) {
		snprintf(path, sizeof path, "%s/%s", std_path[i], name);
		if (is_executable(r, path))
			return inv_strdup(inv, path);
	}
	/* On the live system also honour $PATH, as `command -v` would. */
	if (r->host && getenv("PATH") != NULL) {
		char *copy = strdup(getenv("PATH")), *save = NULL;
		const char *found = NULL;

		if (copy == NULL)
			return NULL;
		for (char *d = strtok_r(copy, ":", &save); d && !found; d = strtok_r(NULL, ":", &save)) {
			if (d[0] != '/')
				continue;
			snprintf(path, sizeof path, "%s/%s", d, name);
			if (is_executable(r, path))
				found = inv_strdup(inv, path);
		}
		free(copy);
		return found;
	}
	return NULL;
}

static void home_immutable(struct rh_inventory *inv, const struct inv_root *r)
{
	int fd, flags = 0;

	inv->tools.home = "/root";
	fd = root_open(r, "/root", O_RDONLY | O_DIRECTORY | O_NONBLOCK);
	if (fd < 0)
		return;
	if (ioctl(fd, FS_IOC_GETFLAGS, &flags) == 0)
		inv->tools.home_immutable = (flags & FS_IMMUTABLE_FL) != 0;
	close(fd);
}

/* Google guest-environment units: `find /etc/systemd/system -name
 * 'google*' -type l | grep service` and /etc/init/google*.conf. */
static int google_units(struct rh_inventory *inv, const struct inv_root *r, const char *dir,
			int depth, unsigned *budget)
{
	DIR *d;
	struct dirent *de;
	int rc = 0;

	if (depth > 3 || (d = root_opendir(r, dir)) == NULL)
		return 0;
	while (rc == 0 && (de = readdir(d)) != NULL && *budget > 0) {
		char path[4096];
		struct stat st;

		(*budget)--;
		if (de->d_name[0] == '.')
			continue;
		if (snprintf(path, sizeof path, "%s/%s", dir, de->d_name) >= (int)sizeof path)
			continue;
		if (root_lstat(r, path, &st) != 0)
			continue;
		if (S_ISDIR(st.st_mode)) {
			rc = google_units(inv, r, path, depth + 1, budget);
		} else if (strncmp(de->d_name, "google", 6) == 0) {
			bool unit = S_ISLNK(st.st_mode) && strstr(de->d_name, ".service") != NULL;
			bool upstart = strncmp(dir, "/etc/init", 9) == 0 &&
				       strstr(de->d_name, ".conf") != NULL;

			if (unit || upstart)
				rc = strv_add(inv, &inv->tools.google_units, path);
		}
	}
	closedir(d);
	return rc;
}

/* /dev/sdX, /dev/hdX, /dev/xvdX, /dev/vdX: names that change with the
 * disk controller. LVM, md, by-uuid and by-label names do not. */
static bool unstable_devname(const char *s)
{
	static const char *const prefixes[] = { "/dev/sd", "/dev/hd", "/dev/xvd", "/dev/vd",
						"/dev/nvme" };

	for (size_t i = 0; i < RH_ARRAY_SIZE(prefixes); i++)
		if (strncmp(s, prefixes[i], strlen(prefixes[i])) == 0)
			return true;
	return false;
}

int tools_collect(struct rh_inventory *inv, const struct inv_root *r)
{
	unsigned budget = 20000;
	int rc;

	inv->tools.rsync = tool_find(inv, r, "rsync");
	inv->tools.ssh = tool_find(inv, r, "ssh");
	inv->tools.fdisk = tool_find(inv, r, "fdisk");
	home_immutable(inv, r);
	rc = google_units(inv, r, "/etc/systemd/system", 0, &budget);
	if (rc == 0)
		rc = google_units(inv, r, "/etc/init", 3, &budget);
	for (size_t i = 0; rc == 0 && i < inv->fstab.n; i++) {
		const struct inv_fstab *e = &inv->fstab.v[i];

		if (unstable_devname(e->spec) && strcmp(e->type, "swap") != 0)
			rc = strv_add(inv, &inv->tools.device_names,
				      inv_printf(inv, "/etc/fstab: %s on %s", e->spec, e->file));
		else if (unstable_devname(e->spec))
			rc = strv_add(inv, &inv->tools.device_names,
				      inv_printf(inv, "/etc/fstab: swap %s", e->spec));
	}
	return rc;
}

/* ---- boot: GRUB and the initramfs of the running kernel ---- */

const char *const inv_virtio_modules[6] = {
	"virtio_blk", "virtio_scsi", "virtio_net", "virtio_pci", "virtio_ring", "virtio",
};
static const char *const virtio_config[6] = {
	"CONFIG_VIRTIO_BLK=y", "CONFIG_SCSI_VIRTIO=y", "CONFIG_VIRTIO_NET=y",
	"CONFIG_VIRTIO_PCI=y", "CONFIG_VIRTIO=y", "CONFIG_VIRTIO=y",
};

/* "virtio_blk.ko.zst" -> index of virtio_blk, or -1. */
static int virtio_index(const char *path)
{
	const char *base = strrchr(path, '/');
	char name[64];
	size_t n;

	base = base ? base + 1 : path;
	n = strcspn(base, ".");
	if (n == 0 || n >= sizeof name || strncmp(base + n, ".ko", 3) != 0)
		return -1;
	for (size_t i = 0; i < n; i++)
		name[i] = base[i] == '-' ? '_' : base[i];
	name[n] = '\0';
	for (int i = 0; i < 6; i++)
		if (strcmp(name, inv_virtio_modules[i]) == 0)
			return i;
	return -1;
}

static void builtin_modules(struct rh_inventory *inv, const struct inv_root *r)
{
	static const char *const dirs[] = { "/lib/modules", "/usr/lib/modules" };
	char path[512], *text = NULL, *cur, *line;

	for (size_t d = 0; d < 2 && text == NULL; d++) {
		snprintf(path, sizeof path, "%s/%s/modules.builtin", dirs[d], inv->kernel);
		if (root_read(r, path, INV_MAX_FILE, &text, NULL) < 0)
			text = NULL;
	}
	if (text != NULL) {
		cur = text;
		while ((line = text_next_line(&cur)) != NULL) {
			int i = virtio_index(line);

			if (i >= 0)
				inv->boot.virtio[i] = 'b';
		}
		free(text);
		return;
	}
	snprintf(path, sizeof path, "/boot/config-%s", inv->kernel);
	if (root_read(r, path, INV_MAX_FILE, &text, NULL) < 0)
		return;
	cur = text;
	while ((line = text_next_line(&cur)) != NULL)
		for (int i = 0; i < 6; i++)
			if (strcmp(line, virtio_config[i]) == 0)
				inv->boot.virtio[i] = 'b';
	free(text);
}

static int virtio_cb(void *arg, const char *name, unsigned mode, unsigned long long size)
{
	struct rh_inventory *inv = arg;
	int i = virtio_index(name);

	(void)mode;
	(void)size;
	if (i >= 0 && inv->boot.virtio[i] != 'b')
		inv->boot.virtio[i] = 'i';
	for (int k = 0; k < 6; k++)
		if (inv->boot.virtio[k] == 0)
			return 0;
	return 1; /* every module accounted for: stop reading */
}

int boot_scan_initramfs(struct rh_inventory *inv, const struct inv_root *r, const char *path)
{
	struct rh_initramfs_scan scan;
	unsigned char *data = NULL;
	struct stat st;
	size_t len = 0, cap;
	int fd, rc;

	fd = root_open(r, path, O_RDONLY | O_NONBLOCK);
	if (fd < 0)
		return rh_seterr_errno(errno, "%s", path);
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return rh_seterr(RH_ERR_IO, "%s: not a regular file", path);
	}
	inv->boot.initramfs_size = (uint64_t)st.st_size;
	if ((uint64_t)st.st_size > RH_INITRAMFS_MAX_FILE) {
		close(fd);
		return rh_seterr(RH_ERR_TOOBIG, "%s: larger than %llu bytes", path,
				 (unsigned long long)RH_INITRAMFS_MAX_FILE);
	}
	/* Read it whole: images are tens of MiB and we walk them once. */
	cap = (size_t)st.st_size;
	data = malloc(cap ? cap : 1);
	if (data == NULL) {
		close(fd);
		return RH_ERR_NOMEM;
	}
	while (len < cap) {
		ssize_t n = read(fd, data + len, cap - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	rc = rh_initramfs_scan(data, len, virtio_cb, inv, &scan);
	free(data);
	inv->boot.initramfs_scanned = true;
	inv->boot.initramfs_format = scan.formats[0] ? inv_strdup(inv, scan.formats) : NULL;
	inv->boot.initramfs_complete = rc == 0;
	rh_log_debug("%s: %s, %llu members, %llu bytes%s", path, scan.formats, scan.entries,
		     scan.bytes, scan.stopped ? " (stopped early)" : "");
	return rc;
}

/* root= of the first kernel line of grub.cfg ("linux /vmlinuz root=UUID=..."). */
static void grub_cmdline(struct rh_inventory *inv, const struct inv_root *r, const char *cfg)
{
	char *text = NULL, *cur, *line;

	if (root_read(r, cfg, INV_MAX_FILE, &text, NULL) < 0)
		return;
	cur = text;
	while ((line = text_next_line(&cur)) != NULL) {
		char *t = text_trim(line), *root;

		if (strncmp(t, "linux", 5) != 0 && strncmp(t, "kernel", 6) != 0)
			continue;
		root = strstr(t, " root=");
		if (root == NULL)
			continue;
		root += 6;
		root[strcspn(root, " \t")] = '\0';
		inv->boot.cmdline_root = inv_strdup(inv, root);
		if (unstable_devname(root))
			strv_add(inv, &inv->tools.device_names,
				 inv_printf(inv, "%s: root=%s", cfg, root));
		break;
	}
	free(text);
}

int boot_collect(struct rh_inventory *inv, const struct inv_root *r, bool read_initramfs)
{
	static const char *const pc_dirs[] = {
		"/usr/lib/grub/i386-pc", "/usr/lib/grub2/i386-pc", "/usr/share/grub2/i386-pc",
	};
	static const char *const efi_dirs[] = {
		"/usr/lib/grub/x86_64-efi", "/usr/lib/grub2/x86_64-efi",
		"/usr/share/grub2/x86_64-efi",
	};
	static const char *const cfgs[] = {
		"/boot/grub/grub.cfg", "/boot/grub2/grub.cfg", "/boot/grub/menu.lst",
		"/boot/grub/grub.conf",
	};
	struct inv_boot *b = &inv->boot;
	const char *mid;
	char path[512];

	for (size_t i = 0; i < RH_ARRAY_SIZE(pc_dirs) && !b->i386_pc; i++)
		if (root_dir_nonempty(r, pc_dirs[i]))
			b->i386_pc = pc_dirs[i];
	for (size_t i = 0; i < RH_ARRAY_SIZE(efi_dirs) && !b->x86_64_efi; i++)
		if (root_dir_nonempty(r, efi_dirs[i]))
			b->x86_64_efi = efi_dirs[i];
	for (size_t i = 0; i < RH_ARRAY_SIZE(cfgs) && !b->grub_cfg; i++)
		if (root_exists(r, cfgs[i]))
			b->grub_cfg = cfgs[i];
	if (b->grub_cfg == NULL) {
		DIR *d = root_opendir(r, "/boot/efi/EFI");
		struct dirent *de;

		while (d != NULL && (de = readdir(d)) != NULL && b->grub_cfg == NULL) {
			if (de->d_name[0] == '.')
				continue;
			snprintf(path, sizeof path, "/boot/efi/EFI/%s/grub.cfg", de->d_name);
			if (root_exists(r, path))
				b->grub_cfg = inv_strdup(inv, path);
		}
		if (d != NULL)
			closedir(d);
	}
	b->grub_install = tool_find(inv, r, "grub-install");
	if (b->grub_install == NULL)
		b->grub_install = tool_find(inv, r, "grub2-install");
	if (b->i386_pc || b->x86_64_efi || (b->grub_cfg && strstr(b->grub_cfg, ".cfg")))
		b->grub = "grub2";
	else if (b->grub_cfg || root_exists(r, "/boot/grub/stage2"))
		b->grub = "grub-legacy";
	if (b->grub_cfg)
		grub_cmdline(inv, r, b->grub_cfg);

	if (inv->kernel == NULL || strchr(inv->kernel, '/') != NULL)
		return 0;
	{
		/* Debian/Ubuntu, RHEL/Fedora, SUSE and older names. */
		static const char *const names[][2] = {
			{ "/boot/initrd.img-", "" }, { "/boot/initramfs-", ".img" },
			{ "/boot/initrd-", "" }, { "/boot/initramfs-", "" },
			{ "/boot/initrd-", ".img" },
		};

		for (size_t i = 0; i < RH_ARRAY_SIZE(names) && !b->initramfs; i++) {
			snprintf(path, sizeof path, "%s%s%s", names[i][0], inv->kernel, names[i][1]);
			if (root_exists(r, path))
				b->initramfs = inv_strdup(inv, path);
		}
	}
	/* Boot Loader Specification layout: /boot/<machine-id>/<kernel>/initrd. */
	mid = root_read_line(inv, r, "/etc/machine-id");
	if (b->initramfs == NULL && mid != NULL && strchr(mid, '/') == NULL) {
		static const char *const bls[] = { "/boot", "/boot/efi" };

		for (size_t i = 0; i < RH_ARRAY_SIZE(bls) && !b->initramfs; i++) {
			snprintf(path, sizeof path, "%s/%s/%s/initrd", bls[i], mid, inv->kernel);
			if (root_exists(r, path))
				b->initramfs = inv_strdup(inv, path);
		}
	}
	builtin_modules(inv, r);
	if (b->initramfs != NULL && read_initramfs) {
		int rc = boot_scan_initramfs(inv, r, b->initramfs);

		if (rc == RH_ERR_NOMEM)
			return rc;
		if (rc < 0) {
			b->initramfs_error = inv_strdup(inv, rh_lasterr());
			rh_log_warn("%s: %s", b->initramfs, rh_lasterr());
		}
	}
	return 0;
}
