/*
 * initramfs configuration for virtio (INVENTORY §5.4 "initrd/initramfs",
 * §G item 76). The initramfs is rebuilt by the caller in a chroot of the
 * target, on the migration host: any "host-only" logic there looks at the
 * migration host's hardware, not at the KVM target's. So the configuration
 * written here lists the virtio drivers explicitly and turns host-only
 * selection off, for each tool whose configuration is present:
 *
 * - initramfs-tools (Debian, Ubuntu): the drivers are appended to
 *   /etc/initramfs-tools/modules; when MODULES=dep is in effect, a conf.d
 *   drop-in sets MODULES=most (dep also fails outright in a chroot whose
 *   root device it cannot find).
 * - dracut (RHEL family, SUSE 12+, some Debian): a drop-in with add_drivers
 *   and hostonly="no". A generic image is larger (tens of MiB); the caller
 *   checks /boot has room.
 * - mkinitrd (SLES 11 and older): the drivers are added to INITRD_MODULES
 *   in /etc/sysconfig/kernel.
 */
#define RH_LOG_COMPONENT "postconf"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "postconf/internal.h"
#include "rehost/err.h"
#include "rehost/log.h"

/* virtio, virtio_ring and virtio_pci_modern_dev come in as dependencies. */
const char *const rh_pc_virtio_drivers[] = { "virtio_pci", "virtio_blk", "virtio_scsi",
					     "virtio_net", "virtio_console", NULL };

#define ITOOLS "/etc/initramfs-tools"
#define ITOOLS_DROPIN ITOOLS "/conf.d/zz-rehost-virtio"
#define DRACUT_DROPIN "/etc/dracut.conf.d/90-rehost-virtio.conf"

/* Module names go into shell-sourced files: allow only what module names
 * contain. */
static int check_drivers(const char *const *drivers)
{
	for (; *drivers; drivers++) {
		size_t n = strlen(*drivers);

		if (n == 0 || n > 64 ||
		    strspn(*drivers, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") != n)
			return rh_seterr(RH_ERR_INVAL,
					 "driver name '%s': only letters, digits, '_' and '-' are "
					 "allowed in a kernel module name",
					 *drivers);
	}
	return 0;
}

/* modprobe treats '-' and '_' in module names alike. */
static bool same_module(const char *a, const char *b, size_t n)
{
	for (size_t k = 0; k < n; k++)
		if ((a[k] == '-' ? '_' : a[k]) != (b[k] == '-' ? '_' : b[k]))
			return false;
	return true;
}

/* Module names: first word of each non-comment line. */
static bool listed(const char *text, size_t len, const char *mod)
{
	const char *cur = text, *end = text + len, *line;
	size_t n, ml = strlen(mod);

	while ((line = pc_next_line(&cur, end, &n)) != NULL) {
		size_t i = strspn(line, " \t"), w;

		if (pc_line_is_comment(line, n) || i >= n)
			continue;
		w = strcspn(line + i, " \t\r");
		if (w > n - i)
			w = n - i;
		if (w == ml && same_module(line + i, mod, ml))
			return true;
	}
	return false;
}

/* mod is one of the blank-separated words of list. */
static bool listed_word(const char *list, const char *mod)
{
	size_t ml = strlen(mod);

	for (const char *p = list; *p;) {
		size_t w;

		p += strspn(p, " \t");
		w = strcspn(p, " \t");
		if (w == ml && same_module(p, mod, ml))
			return true;
		p += w;
	}
	return false;
}

static int itools_modules(struct rh_pc *pc, const char *const *drivers)
{
	static const char path[] = ITOOLS "/modules";
	struct pc_detail d = { .n = 0, .sep = " " };
	struct rh_buf *out = NULL;
	char *text = NULL;
	size_t len = 0;
	bool exists;
	int rc;

	rc = pc_read(pc, path, PC_MAX_FILE, &text, &len, NULL, NULL);
	exists = rc == 0;
	if (rc < 0 && rc != RH_ERR_NOTFOUND)
		return rc;
	rc = pc_out_new(&out);
	if (rc == 0 && len > 0)
		rc = rh_buf_put(out, text, len);
	if (rc == 0 && len > 0 && text[len - 1] != '\n')
		rc = rh_buf_put(out, "\n", 1);
	for (const char *const *m = drivers; *m && rc == 0; m++) {
		if (listed(text ? text : "", len, *m))
			continue;
		if (d.n == 0)
			rc = rh_buf_putf(out, "# rehost: virtio drivers for the KVM target\n");
		if (rc == 0)
			rc = rh_buf_putf(out, "%s\n", *m);
		pc_detail_add(&d, "%s", *m);
	}
	if (rc == 0 && d.n)
		rc = pc_update(pc, path, rh_buf_str(out), rh_buf_len(out), 0644,
			       exists ? "modified" : "created", "added %s", d.s);
	rh_buf_free(out);
	free(text);
	return rc < 0 ? rc : 0;
}

/* MODULES= of one shell file into value (unchanged when absent). */
static void modules_setting(const char *text, size_t len, char *value, size_t vlen)
{
	const char *cur = text, *end = text + len, *line;
	char name[32], v[64];
	size_t n, off;

	while ((line = pc_next_line(&cur, end, &n)) != NULL)
		if (pc_shvar_name(line, n, name, sizeof name, &off) && strcmp(name, "MODULES") == 0 &&
		    pc_shvar_value(line + off, n - off, v, sizeof v))
			snprintf(value, vlen, "%s", v);
}

static int itools_modules_policy(struct rh_pc *pc)
{
	static const char dropin[] =
		"# Written by rehost postconf: the initramfs is built in a chroot on the\n"
		"# migration host, where MODULES=dep would pick the host's drivers (or\n"
		"# fail to find the root device). Include the usual storage and network\n"
		"# drivers instead; the virtio ones are also listed in ../modules.\n"
		"MODULES=most\n";
	char value[64] = "most", path[PATH_MAX], **names = NULL, *text = NULL;
	size_t n = 0, len;
	int rc;

	/* initramfs.conf, then conf.d in name order: the last one wins. */
	if (pc_read(pc, ITOOLS "/initramfs.conf", PC_MAX_FILE, &text, &len, NULL, NULL) == 0)
		modules_setting(text, len, value, sizeof value);
	free(text);
	rc = pc_list(pc, ITOOLS "/conf.d", &names, &n);
	if (rc < 0 && rc != RH_ERR_NOTFOUND)
		return rc;
	for (size_t i = 0; i < n; i++) {
		if (pc_name_is_backup(names[i]) || strcmp(names[i], "zz-rehost-virtio") == 0)
			continue;
		snprintf(path, sizeof path, ITOOLS "/conf.d/%s", names[i]);
		text = NULL;
		if (pc_read(pc, path, PC_MAX_FILE, &text, &len, NULL, NULL) == 0)
			modules_setting(text, len, value, sizeof value);
		free(text);
	}
	pc_names_free(names);
	if (strcmp(value, "dep") != 0)
		return 0;
	rc = pc_mkdir(pc, ITOOLS "/conf.d", 0755);
	if (rc >= 0)
		rc = pc_update(pc, ITOOLS_DROPIN, dropin, strlen(dropin), 0644,
			       pc_exists(pc, ITOOLS_DROPIN) ? "modified" : "created",
			       "MODULES=dep -> most: dep follows the migration host's hardware");
	return rc < 0 ? rc : 0;
}

static int dracut(struct rh_pc *pc, const char *const *drivers)
{
	char content[2048];
	size_t o;
	int rc;

	o = (size_t)snprintf(content, sizeof content, "%s",
			     "# Written by rehost postconf: the target boots on KVM/virtio. The\n"
			     "# initramfs is built in a chroot on the migration host, where\n"
			     "# host-only mode would pick the host's drivers, not the target's:\n"
			     "# build a generic image and add the virtio drivers.\n"
			     "add_drivers+=\" ");
	for (const char *const *m = drivers; *m && o < sizeof content; m++)
		o += (size_t)snprintf(content + o, sizeof content - o, "%s ", *m);
	if (o < sizeof content)
		snprintf(content + o, sizeof content - o, "\"\nhostonly=\"no\"\n");
	rc = pc_mkdir(pc, "/etc/dracut.conf.d", 0755);
	if (rc >= 0)
		rc = pc_update(pc, DRACUT_DROPIN, content, strlen(content), 0644,
			       pc_exists(pc, DRACUT_DROPIN) ? "modified" : "created",
			       "dracut: virtio drivers added, host-only mode off");
	return rc < 0 ? rc : 0;
}

static int mkinitrd_sysconfig(struct rh_pc *pc, const char *const *drivers)
{
	static const char path[] = "/etc/sysconfig/kernel";
	const char *cur, *end, *line;
	struct pc_detail d = { .n = 0, .sep = " " };
	struct rh_buf *out = NULL;
	char *text = NULL, name[32], val[1024];
	size_t len, n, off;
	int rc;

	rc = pc_read(pc, path, PC_MAX_FILE, &text, &len, NULL, NULL);
	if (rc == RH_ERR_NOTFOUND)
		return 0;
	if (rc < 0)
		return rc;
	rc = pc_out_new(&out);
	cur = text;
	end = text + len;
	while (rc == 0 && (line = pc_next_line(&cur, end, &n)) != NULL) {
		if (pc_shvar_name(line, n, name, sizeof name, &off) &&
		    strcmp(name, "INITRD_MODULES") == 0 &&
		    pc_shvar_value(line + off, n - off, val, sizeof val)) {
			struct rh_buf *v = NULL;
			bool added = false;

			rc = rh_buf_new(4096, &v);
			if (rc == 0)
				rc = rh_buf_putf(v, "%s", val);
			for (const char *const *m = drivers; *m && rc == 0; m++) {
				if (listed_word(rh_buf_str(v), *m))
					continue;
				rc = rh_buf_putf(v, "%s%s", rh_buf_len(v) ? " " : "", *m);
				pc_detail_add(&d, "%s", *m);
				added = true;
			}
			if (rc == 0 && added) {
				rc = rh_buf_putf(out, "INITRD_MODULES=");
				if (rc == 0)
					rc = pc_shquote(out, rh_buf_str(v));
				if (rc == 0)
					rc = rh_buf_put(out, "\n", 1);
				rh_buf_free(v);
				continue;
			}
			rh_buf_free(v);
		}
		if (rc == 0)
			rc = pc_out_line(out, line, n);
	}
	if (rc == 0 && d.n)
		rc = pc_update(pc, path, rh_buf_str(out), rh_buf_len(out), 0644, "modified",
			       "INITRD_MODULES: added %s", d.s);
	rh_buf_free(out);
	free(text);
	return rc < 0 ? rc : 0;
}

int rh_pc_initramfs_config(struct rh_pc *pc, const char *const *drivers)
{
	struct stat st;
	int rc;

	if (drivers == NULL)
		drivers = rh_pc_virtio_drivers;
	rc = check_drivers(drivers);
	if (rc < 0)
		return rc;
	if (pc_stat(pc, ITOOLS, true, &st, NULL) == 0 && S_ISDIR(st.st_mode)) {
		rc = itools_modules(pc, drivers);
		if (rc == 0)
			rc = itools_modules_policy(pc);
		if (rc < 0)
			return rc;
	}
	if (pc_exists(pc, "/etc/dracut.conf") || pc_exists(pc, "/etc/dracut.conf.d")) {
		rc = dracut(pc, drivers);
		if (rc < 0)
			return rc;
	}
	return mkinitrd_sysconfig(pc, drivers);
}
