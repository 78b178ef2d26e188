/*
 * System-disk image pre-checks of the export guide (INVENTORY.md 8.1),
 * built on the source inventory (rehost/inspect.h) plus a few files the
 * inventory does not cover (IPv6 addresses, NICs, /etc/shadow, guest tools,
 * cloud-init), all read under the inspected root.
 */
#define RH_LOG_COMPONENT "img"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <linux/fs.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "img-internal.h"
#include "rehost/err.h"
#include "rehost/inspect.h"
#include "rehost/json.h"

#define PRECHECK_MAX 16
#define JSON_MAX (64u << 20)

struct rh_img_precheck {
	size_t n;
	struct rh_img_precheck_result r[PRECHECK_MAX];
	char text[PRECHECK_MAX][2][512]; /* message, hint */
};

struct pctx {
	struct rh_img_precheck *p;
	const char *root;          /* "" for / */
	json_t *inv;
};

static void add(struct pctx *c, const char *id, const char *title, enum rh_check_status st,
		const char *hint, const char *fmt, ...) __attribute__((format(printf, 6, 7)));

static void add(struct pctx *c, const char *id, const char *title, enum rh_check_status st,
		const char *hint, const char *fmt, ...)
{
	struct rh_img_precheck *p = c->p;
	va_list ap;

	if (p->n == PRECHECK_MAX)
		return;
	va_start(ap, fmt);
	vsnprintf(p->text[p->n][0], sizeof p->text[p->n][0], fmt, ap);
	va_end(ap);
	snprintf(p->text[p->n][1], sizeof p->text[p->n][1], "%s", hint ? hint : "");
	p->r[p->n] = (struct rh_img_precheck_result){
		.id = id, .title = title, .status = st, .message = p->text[p->n][0],
		.hint = hint ? p->text[p->n][1] : NULL,
	};
	p->n++;
}

static void path_in(const struct pctx *c, const char *rel, char *buf, size_t len)
{
	snprintf(buf, len, "%s%s", c->root, rel);
}

static bool exists_in(const struct pctx *c, const char *rel)
{
	char p[4096];

	path_in(c, rel, p, sizeof p);
	return access(p, F_OK) == 0;
}

/* Whether any entry of directory rel matches the glob pattern. */
static bool dir_has(const struct pctx *c, const char *rel, const char *pattern)
{
	char p[4096];
	struct dirent *de;
	bool hit = false;
	DIR *d;

	path_in(c, rel, p, sizeof p);
	if ((d = opendir(p)) == NULL)
		return false;
	while (!hit && (de = readdir(d)) != NULL)
		hit = fnmatch(pattern, de->d_name, 0) == 0;
	closedir(d);
	return hit;
}

static const char *jstr(json_t *o, const char *path)
{
	char key[64];
	const char *p = path, *dot;
	json_t *v = o;

	while (v != NULL && (dot = strchr(p, '.')) != NULL) {
		snprintf(key, sizeof key, "%.*s", (int)(dot - p), p);
		v = json_object_get(v, key);
		p = dot + 1;
	}
	v = v ? json_object_get(v, p) : NULL;
	return json_is_string(v) ? json_string_value(v) : NULL;
}

static json_t *system_disk(struct pctx *c)
{
	json_t *disks = json_object_get(c->inv, "disks"), *d;
	size_t i;

	json_array_foreach(disks, i, d)
		if (json_is_true(json_object_get(d, "system")))
			return d;
	return json_array_size(disks) == 1 ? json_array_get(disks, 0) : NULL;
}

static void check_table(struct pctx *c)
{
	const char *T = "partition table";
	json_t *d = system_disk(c);
	const char *t = d ? jstr(d, "table") : NULL;

	if (t == NULL)
		add(c, "partition-table", T, RH_CHECK_SKIPPED, NULL, "system disk not found or unreadable");
	else if (strcmp(t, "dos") == 0)
		add(c, "partition-table", T, RH_CHECK_OK, NULL, "%s: MBR (msdos)", jstr(d, "name"));
	else if (strcmp(t, "gpt") == 0)
		add(c, "partition-table", T, RH_CHECK_ERROR,
		    "convert the disk to MBR (gdisk, 'r' then 'g') if it is 2 TiB or less, or import with a service that accepts GPT",
		    "%s: GPT; the image import of the guide supports MBR disks only", jstr(d, "name"));
	else
		add(c, "partition-table", T, RH_CHECK_WARNING,
		    "export the whole disk; make sure the import accepts a disk without an MBR",
		    "%s: %s partition table", jstr(d, "name"), t);
}

static void check_efi(struct pctx *c)
{
	const char *T = "boot mode", *fw = jstr(c->inv, "host.firmware");

	if (fw == NULL || strcmp(fw, "uefi") != 0) {
		add(c, "efi-boot", T, RH_CHECK_OK, NULL, "legacy BIOS boot");
		return;
	}
	if (jstr(c->inv, "boot.grub.i386_pc") != NULL)
		add(c, "efi-boot", T, RH_CHECK_WARNING,
		    "make sure grub.cfg has a working legacy boot entry and the disk has a BIOS boot area",
		    "booted with EFI (/sys/firmware/efi); GRUB's i386-pc modules are installed");
	else
		add(c, "efi-boot", T, RH_CHECK_ERROR,
		    "install GRUB for i386-pc (grub-install --target=i386-pc) so the image also boots in legacy mode",
		    "booted with EFI and no legacy GRUB: the import supports legacy boot only");
}

static void check_network(struct pctx *c)
{
	char p[4096], line[256], dev[64];
	unsigned scope, nics = 0, v6 = 0;
	struct dirent *de;
	DIR *d;
	FILE *f;

	/* IPv6: global addresses outside loopback (/proc/net/if_inet6:
	 * address, index, prefix, scope, flags, name). */
	path_in(c, "/proc/net/if_inet6", p, sizeof p);
	if ((f = fopen(p, "r")) != NULL) {
		while (fgets(line, sizeof line, f) != NULL)
			if (sscanf(line, "%*s %*x %*x %x %*x %63s", &scope, dev) == 2 && scope == 0 &&
			    strcmp(dev, "lo") != 0)
				v6++;
		fclose(f);
	}
	if (v6 > 0)
		add(c, "ipv6", "IPv6", RH_CHECK_WARNING,
		    "move services to IPv4; the imported server gets IPv4 only",
		    "%u global IPv6 address%s in use", v6, v6 == 1 ? "" : "es");
	else
		add(c, "ipv6", "IPv6", RH_CHECK_OK, NULL, "no global IPv6 address in use");
	/* NICs: entries of /sys/class/net backed by a device. */
	path_in(c, "/sys/class/net", p, sizeof p);
	if ((d = opendir(p)) != NULL) {
		while ((de = readdir(d)) != NULL) {
			char q[4096 + 300];

			if (de->d_name[0] == '.' || strcmp(de->d_name, "lo") == 0)
				continue;
			if ((size_t)snprintf(q, sizeof q, "%s/%s/device", p, de->d_name) >= sizeof q)
				continue;
			if (access(q, F_OK) == 0)
				nics++;
		}
		closedir(d);
	}
	if (nics > 1)
		add(c, "multiple-nics", "network interfaces", RH_CHECK_WARNING,
		    "the imported server has one virtio NIC (eth0): move services off the other interfaces",
		    "%u network interfaces", nics);
	else
		add(c, "multiple-nics", "network interfaces", RH_CHECK_OK, NULL, "%u network interface%s",
		    nics, nics == 1 ? "" : "s");
}

static void check_root_uuid(struct pctx *c)
{
	const char *T = "kernel root= parameter", *root = jstr(c->inv, "boot.grub.cmdline_root");
	char p[4096], cmd[4096] = "", *r;
	FILE *f;

	if (root == NULL) {
		path_in(c, "/proc/cmdline", p, sizeof p);
		if ((f = fopen(p, "r")) != NULL) {
			if (fgets(cmd, sizeof cmd, f) == NULL)
				cmd[0] = '\0';
			fclose(f);
		}
		r = strstr(cmd, "root=");
		if (r != NULL && (r == cmd || r[-1] == ' ')) {
			r += 5;
			r[strcspn(r, " \n")] = '\0';
			root = r;
		}
	}
	if (root == NULL)
		add(c, "root-uuid", T, RH_CHECK_SKIPPED, NULL, "no root= found in grub.cfg or /proc/cmdline");
	else if (strncmp(root, "UUID=", 5) == 0 || strncmp(root, "PARTUUID=", 9) == 0 ||
		 strncmp(root, "LABEL=", 6) == 0 || strncmp(root, "/dev/mapper/", 12) == 0 ||
		 strncmp(root, "/dev/disk/by-", 13) == 0 || strncmp(root, "ZFS=", 4) == 0 ||
		 fnmatch("/dev/*/*", root, 0) == 0)
		add(c, "root-uuid", T, RH_CHECK_OK, NULL, "root=%s", root);
	else
		add(c, "root-uuid", T, RH_CHECK_WARNING,
		    "use root=UUID=... in the boot loader configuration (grub2-mkconfig / update-grub with UUIDs)",
		    "root=%s names a device that becomes vda after import", root);
}

static void check_fstab(struct pctx *c)
{
	const char *T = "fstab and other disks";
	json_t *disks = json_object_get(c->inv, "disks"), *d, *parts, *pt, *fs, *fstab, *mp;
	size_t i, j, k;
	unsigned n = 0;
	char first[256] = "";

	json_array_foreach(disks, i, d) {
		if (json_is_true(json_object_get(d, "system")))
			continue;
		parts = json_object_get(d, "partitions");
		for (j = 0; j <= json_array_size(parts); j++) {
			pt = j < json_array_size(parts) ? json_array_get(parts, j) : d;
			fs = json_object_get(pt, "filesystem");
			fstab = json_object_get(fs, "fstab");
			json_array_foreach(fstab, k, mp) {
				if (!json_is_string(mp))
					continue;
				if (n++ == 0)
					snprintf(first, sizeof first, "%s (on %s)", json_string_value(mp),
						 jstr(d, "name") ? jstr(d, "name") : "?");
			}
		}
	}
	if (n > 0)
		add(c, "fstab-other-disks", T, RH_CHECK_WARNING,
		    "remove these entries from /etc/fstab or add nofail: the image holds the system disk only, a missing disk stops the boot",
		    "/etc/fstab mounts %u filesystem%s of other disks, e.g. %s", n, n == 1 ? "" : "s", first);
	else
		add(c, "fstab-other-disks", T, RH_CHECK_OK, NULL, "/etc/fstab mounts only the system disk");
}

static void check_shadow(struct pctx *c)
{
	const char *T = "/etc/shadow";
	char p[4096];
	struct stat st;
	int fd, flags = 0;

	path_in(c, "/etc/shadow", p, sizeof p);
	if (lstat(p, &st) != 0) {
		add(c, "shadow", T, RH_CHECK_ERROR, "restore /etc/shadow (pwconv)", "missing: %s",
		    strerror(errno));
		return;
	}
	if (!S_ISREG(st.st_mode)) {
		add(c, "shadow", T, RH_CHECK_ERROR, "restore /etc/shadow as a regular file",
		    "not a regular file");
		return;
	}
	fd = open(p, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd >= 0) {
		if (ioctl(fd, FS_IOC_GETFLAGS, &flags) != 0)
			flags = 0;
		close(fd);
	}
	if (flags & (FS_IMMUTABLE_FL | FS_APPEND_FL))
		add(c, "shadow", T, RH_CHECK_ERROR,
		    "chattr -i -a /etc/shadow: password changes and first-boot tools must be able to write it",
		    "immutable or append-only attribute set");
	else if (st.st_uid != 0 || (st.st_mode & 0007) != 0)
		add(c, "shadow", T, RH_CHECK_WARNING, "chown root /etc/shadow; chmod 0640 (or 0000 on Red Hat)",
		    "owner uid %u, mode %04o", (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777));
	else
		add(c, "shadow", T, RH_CHECK_OK, NULL, "owner root, mode %04o",
		    (unsigned)(st.st_mode & 07777));
}

static void check_tools(struct pctx *c)
{
	char found[256] = "";
	size_t len = 0;
	static const struct {
		const char *name, *dir, *pattern;
	} probes[] = {
		{ "VMware Tools", "/usr/bin", "vmtoolsd" },
		{ "VMware Tools", "/usr/sbin", "vmtoolsd" },
		{ "VMware Tools", "/etc", "vmware-tools" },
		{ "Xen tools", "/usr/sbin", "xe-daemon" },
		{ "Xen tools", "/etc/init.d", "xe-linux-distribution" },
		{ "VirtualBox Guest Additions", "/usr/sbin", "VBoxService" },
		{ "VirtualBox Guest Additions", "/opt", "VBoxGuestAdditions*" },
	};

	for (size_t i = 0; i < sizeof probes / sizeof probes[0]; i++) {
		if (!dir_has(c, probes[i].dir, probes[i].pattern) || strstr(found, probes[i].name))
			continue;
		len += (size_t)snprintf(found + len, sizeof found - len, "%s%s", len ? ", " : "",
					probes[i].name);
		if (len >= sizeof found)
			break;
	}
	if (found[0])
		add(c, "guest-tools", "conflicting guest tools", RH_CHECK_WARNING,
		    "uninstall them before the export (open-vm-tools, xe-guest-utilities, VBoxGuestAdditions uninstall)",
		    "installed: %s", found);
	else
		add(c, "guest-tools", "conflicting guest tools", RH_CHECK_OK, NULL,
		    "no VMware, Xen or VirtualBox guest tools found");
}

static void check_virtio(struct pctx *c)
{
	static const char *const mods[] = { "virtio_blk", "virtio_net", "virtio_pci" };
	const char *T = "virtio drivers", *path = jstr(c->inv, "boot.initramfs.path");
	char missing[128] = "";
	bool unknown = false;

	for (size_t i = 0; i < sizeof mods / sizeof mods[0]; i++) {
		char key[64];
		const char *v;

		snprintf(key, sizeof key, "boot.initramfs.virtio.%s", mods[i]);
		v = jstr(c->inv, key);
		if (v == NULL)
			unknown = true;
		else if (strcmp(v, "missing") == 0)
			snprintf(missing + strlen(missing), sizeof missing - strlen(missing), "%s%s",
				 missing[0] ? ", " : "", mods[i]);
	}
	if (missing[0])
		add(c, "virtio", T, RH_CHECK_ERROR,
		    "add them to the initramfs (dracut --add-drivers \"virtio_blk virtio_net virtio_pci\" -f, or /etc/initramfs-tools/modules + update-initramfs -u)",
		    "missing from %s: %s", path ? path : "the initramfs", missing);
	else if (unknown)
		add(c, "virtio", T, RH_CHECK_WARNING,
		    "check the initramfs by hand (lsinitrd | grep virtio, or lsinitramfs)",
		    "initramfs not found or not readable");
	else
		add(c, "virtio", T, RH_CHECK_OK, NULL, "virtio_blk, virtio_net and virtio_pci present");
}

static void check_cloud_init(struct pctx *c)
{
	if (exists_in(c, "/usr/bin/cloud-init") || exists_in(c, "/etc/cloud/cloud.cfg"))
		add(c, "cloud-init", "cloud-init", RH_CHECK_OK, NULL, "installed");
	else
		add(c, "cloud-init", "cloud-init", RH_CHECK_WARNING,
		    "install cloud-init for the image import (rehost's own migration disables it on the target instead)",
		    "not installed");
}

int rh_img_precheck_run(const char *root, const char *const *disks, size_t ndisks,
			struct rh_img_precheck **out)
{
	struct rh_inspect_opts io = { .root = root, .disks = ndisks ? disks : NULL, .ndisks = ndisks };
	struct rh_inventory *inv = NULL;
	struct pctx c = { 0 };
	char *text = NULL;
	int rc;

	*out = NULL;
	c.p = img_calloc(1, sizeof *c.p);
	if (c.p == NULL)
		return RH_ERR_NOMEM;
	c.root = (root == NULL || strcmp(root, "/") == 0) ? "" : root;
	if ((rc = rh_inspect_run(&io, &inv)) < 0 || (rc = rh_inventory_json(inv, false, &text)) < 0 ||
	    (rc = rh_json_load(text, strlen(text), JSON_MAX, &c.inv)) < 0)
		goto out;
	check_table(&c);
	check_efi(&c);
	check_network(&c);
	check_root_uuid(&c);
	check_fstab(&c);
	check_shadow(&c);
	check_tools(&c);
	check_virtio(&c);
	check_cloud_init(&c);
	*out = c.p;
	c.p = NULL;
	rc = 0;
out:
	json_decref(c.inv);
	free(text);
	rh_inventory_free(inv);
	free(c.p);
	return rc;
}

size_t rh_img_precheck_count(const struct rh_img_precheck *p)
{
	return p->n;
}

const struct rh_img_precheck_result *rh_img_precheck_at(const struct rh_img_precheck *p, size_t i)
{
	return i < p->n ? &p->r[i] : NULL;
}

void rh_img_precheck_free(struct rh_img_precheck *p)
{
	free(p);
}
