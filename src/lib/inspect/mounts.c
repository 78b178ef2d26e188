/*
 * Mounts (/proc/self/mountinfo, else /proc/mounts), fstab, swap, the
 * classification of each mount (local disk, network, pseudo, loop) and the
 * bind/repeated-mount analysis, plus statvfs of local mounts.
 */
#define RH_LOG_COMPONENT "inspect"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "inspect/internal.h"
#include "rehost/checked.h"
#include "rehost/err.h"
#include "rehost/log.h"
#include "rehost/num.h"

static const char *const network_fs[] = {
	"nfs", "nfs4", "cifs", "smb3", "smbfs", "ncpfs", "ncp", "afs", "9p", "ceph",
	"glusterfs", "lustre", "gfs2", "ocfs2", "davfs", "fuse.sshfs", "fuse.glusterfs",
	"fuse.s3fs", "fuse.cephfs", "fuse.rclone", "fuse.davfs", "beegfs", "gpfs",
	"fuse.ceph-fuse", "nfsd", "rpc_pipefs",
};

/* Filesystems with no backing disk. */
static const char *const pseudo_fs[] = {
	"proc", "sysfs", "devtmpfs", "devpts", "tmpfs", "ramfs", "securityfs", "debugfs",
	"tracefs", "pstore", "bpf", "mqueue", "hugetlbfs", "autofs", "fusectl", "configfs",
	"binfmt_misc", "efivarfs", "nsfs", "cgroup", "cgroup2", "cpuset", "selinuxfs",
	"overlay", "aufs", "squashfs", "iso9660", "udf", "rootfs", "fuse.lxcfs",
	"fuse.gvfsd-fuse", "fuse.portal", "fuse.snapfuse", "zfs", "nfsd", "sockfs",
	"pipefs", "devfs", "usbfs", "xenfs", "virtiofs", "erofs",
};

static bool in_list(const char *s, const char *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(s, list[i]) == 0)
			return true;
	return false;
}

enum mount_class mount_classify(const char *fstype, const char *source)
{
	if (in_list(fstype, network_fs, RH_ARRAY_SIZE(network_fs)) ||
	    (source && strstr(source, ":/") != NULL && strncmp(source, "/dev/", 5) != 0) ||
	    (source && strncmp(source, "//", 2) == 0))
		return MNT_NETWORK;
	if (in_list(fstype, pseudo_fs, RH_ARRAY_SIZE(pseudo_fs)) ||
	    strncmp(fstype, "fuse", 4) == 0)
		return MNT_PSEUDO;
	if (source && strncmp(source, "/dev/loop", 9) == 0)
		return MNT_LOOP;
	if (source && (strncmp(source, "/dev/", 5) == 0 || strncmp(source, "UUID=", 5) == 0 ||
		       strncmp(source, "LABEL=", 6) == 0 || strncmp(source, "PARTUUID=", 9) == 0))
		return MNT_LOCAL;
	return MNT_OTHER;
}

void mount_unescape(char *s)
{
	char *o = s;

	while (*s) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' &&
		    s[3] >= '0' && s[3] <= '7') {
			*o++ = (char)((s[1] - '0') << 6 | (s[2] - '0') << 3 | (s[3] - '0'));
			s += 4;
		} else {
			*o++ = *s++;
		}
	}
	*o = '\0';
}

static bool has_option(const char *opts, const char *name)
{
	size_t n = strlen(name);

	for (const char *p = opts; p && *p;) {
		const char *c = strchr(p, ',');
		size_t l = c ? (size_t)(c - p) : strlen(p);

		if (l == n && strncmp(p, name, n) == 0)
			return true;
		p = c ? c + 1 : NULL;
	}
	return false;
}

/* Value of "name=value" in a comma-separated option list, copied. */
static const char *option_value(struct rh_inventory *inv, const char *opts, const char *name)
{
	size_t n = strlen(name);

	for (const char *p = opts; p && *p;) {
		const char *c = strchr(p, ',');
		size_t l = c ? (size_t)(c - p) : strlen(p);

		if (l > n && strncmp(p, name, n) == 0 && p[n] == '=')
			return inv_strndup(inv, p + n + 1, l - n - 1);
		p = c ? c + 1 : NULL;
	}
	return NULL;
}

static void finish_mount(struct rh_inventory *inv, struct inv_mount *m)
{
	m->cls = mount_classify(m->fstype, m->source);
	m->ro = has_option(m->options, "ro");
	m->noexec = has_option(m->options, "noexec");
	if (strcmp(m->fstype, "btrfs") == 0)
		m->subvol = option_value(inv, m->options, "subvol");
	m->vol = -1;
}

/* "36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue" */
int mountinfo_parse_line(struct rh_inventory *inv, char *line, struct inv_mount *m)
{
	char *f[16], *save = NULL, *sep = NULL;
	size_t n = 0;
	unsigned maj, min;
	char *optional_end;

	memset(m, 0, sizeof *m);
	sep = strstr(line, " - ");
	if (sep == NULL)
		return RH_ERR_PARSE;
	*sep = '\0';
	optional_end = sep + 3;
	for (char *w = strtok_r(line, " ", &save); w && n < 6; w = strtok_r(NULL, " ", &save))
		f[n++] = w;
	if (n < 6)
		return RH_ERR_PARSE;
	save = NULL;
	for (char *w = strtok_r(optional_end, " ", &save); w && n < 9; w = strtok_r(NULL, " ", &save))
		f[n++] = w;
	if (n < 8)
		return RH_ERR_PARSE;
	if (sscanf(f[2], "%u:%u", &maj, &min) != 2)
		return RH_ERR_PARSE;
	for (size_t i = 3; i < n; i++)
		mount_unescape(f[i]);
	m->major = maj;
	m->minor = min;
	m->root = inv_strdup(inv, f[3]);
	m->target = inv_strdup(inv, f[4]);
	m->fstype = inv_strdup(inv, f[6]);
	m->source = inv_strdup(inv, f[7]);
	/* Per-mount flags (noexec...) and superblock options together. */
	m->options = inv_printf(inv, "%s%s%s", f[5], n > 8 ? "," : "", n > 8 ? f[8] : "");
	if (!m->root || !m->target || !m->fstype || !m->source || !m->options)
		return RH_ERR_NOMEM;
	finish_mount(inv, m);
	return 0;
}

static int parse_mounts_line(struct rh_inventory *inv, char *line, struct inv_mount *m)
{
	char *f[4], *save = NULL;
	size_t n = 0;

	memset(m, 0, sizeof *m);
	for (char *w = strtok_r(line, " \t", &save); w && n < 4; w = strtok_r(NULL, " \t", &save))
		f[n++] = w;
	if (n < 4)
		return RH_ERR_PARSE;
	for (size_t i = 0; i < 4; i++)
		mount_unescape(f[i]);
	m->source = inv_strdup(inv, f[0]);
	m->target = inv_strdup(inv, f[1]);
	m->fstype = inv_strdup(inv, f[2]);
	m->options = inv_strdup(inv, f[3]);
	m->root = "/";
	if (!m->source || !m->target || !m->fstype || !m->options)
		return RH_ERR_NOMEM;
	finish_mount(inv, m);
	return 0;
}

static int read_mounts(struct rh_inventory *inv, const struct inv_root *r)
{
	char *text = NULL, *cur, *line;
	bool info = true;
	int rc;

	rc = root_read(r, "/proc/self/mountinfo", INV_MAX_FILE, &text, NULL);
	if (rc == RH_ERR_NOTFOUND) {
		info = false;
		rc = root_read(r, "/proc/mounts", INV_MAX_FILE, &text, NULL);
		if (rc == RH_ERR_NOTFOUND)
			rc = root_read(r, "/etc/mtab", INV_MAX_FILE, &text, NULL);
	}
	if (rc == RH_ERR_NOTFOUND) {
		rh_log_debug("no mount table under the root");
		return 0;
	}
	if (rc < 0)
		return rc;
	inv->have_mountinfo = info;
	cur = text;
	while ((line = text_next_line(&cur)) != NULL) {
		struct inv_mount m, *slot;

		if (*line == '\0' || *line == '#')
			continue;
		rc = info ? mountinfo_parse_line(inv, line, &m) : parse_mounts_line(inv, line, &m);
		if (rc == RH_ERR_PARSE) {
			rh_log_debug("skipping malformed mount table line");
			continue;
		}
		if (rc < 0)
			goto out;
		slot = VEC_PUSH(inv->mounts, INV_MAX_MOUNTS);
		if (slot == NULL) {
			rc = rh_lasterr_code();
			goto out;
		}
		*slot = m;
	}
	rc = 0;
out:
	free(text);
	return rc;
}

static int read_fstab(struct rh_inventory *inv, const struct inv_root *r)
{
	char *text = NULL, *cur, *line;
	int rc;

	rc = root_read(r, "/etc/fstab", INV_MAX_FILE, &text, NULL);
	if (rc == RH_ERR_NOTFOUND)
		return 0;
	if (rc < 0)
		return rc;
	cur = text;
	while ((line = text_next_line(&cur)) != NULL) {
		char *f[4], *save = NULL;
		struct inv_fstab *e;
		size_t n = 0;

		line = text_trim(line);
		if (*line == '\0' || *line == '#')
			continue;
		for (char *w = strtok_r(line, " \t", &save); w && n < 4; w = strtok_r(NULL, " \t", &save))
			f[n++] = w;
		if (n < 3)
			continue;
		for (size_t i = 0; i < n; i++)
			mount_unescape(f[i]);
		e = VEC_PUSH(inv->fstab, INV_MAX_FSTAB);
		if (e == NULL) {
			rc = rh_lasterr_code();
			break;
		}
		e->spec = inv_strdup(inv, f[0]);
		e->file = inv_strdup(inv, f[1]);
		e->type = inv_strdup(inv, f[2]);
		e->options = inv_strdup(inv, n > 3 ? f[3] : "defaults");
		e->vol = -1;
	}
	free(text);
	return rc;
}

/* /proc/swaps: "Filename Type Size Used Priority", sizes in KiB. */
static int read_swaps(struct rh_inventory *inv, const struct inv_root *r)
{
	char *text = NULL, *cur, *line;
	int rc;

	rc = root_read(r, "/proc/swaps", INV_MAX_FILE, &text, NULL);
	if (rc == RH_ERR_NOTFOUND)
		return 0;
	if (rc < 0)
		return rc;
	cur = text;
	text_next_line(&cur); /* header */
	while ((line = text_next_line(&cur)) != NULL) {
		char path[4096], type[32];
		unsigned long long size, used;
		struct inv_swap *s;

		if (sscanf(line, "%4095s %31s %llu %llu", path, type, &size, &used) != 4 ||
		    size > (1ull << 50) || used > size)
			continue;
		mount_unescape(path);
		s = VEC_PUSH(inv->swaps, INV_MAX_LIST);
		if (s == NULL) {
			rc = rh_lasterr_code();
			break;
		}
		s->path = inv_strdup(inv, path);
		s->type = inv_strdup(inv, type);
		s->size = size * 1024;
		s->used = used * 1024;
	}
	free(text);
	return rc;
}

/*
 * Bind and repeated mounts (SMS.1353): local mounts of the same device
 * (major:minor, or source with /proc/mounts) more than once, or of a
 * subdirectory of a filesystem. btrfs subvolume mounts are neither.
 */
void mounts_flag_repeated(struct rh_inventory *inv)
{
	for (size_t i = 0; i < inv->mounts.n; i++) {
		struct inv_mount *m = &inv->mounts.v[i];
		const char *subroot;

		if (m->cls != MNT_LOCAL)
			continue;
		subroot = m->root ? m->root : "/";
		if (strcmp(subroot, "/") != 0 &&
		    !(m->subvol != NULL && (strcmp(subroot, m->subvol) == 0 ||
					    (subroot[0] == '/' && strcmp(subroot + 1, m->subvol) == 0) ||
					    (m->subvol[0] == '/' && strcmp(subroot, m->subvol + 1) == 0))))
			m->bind = true;
		for (size_t j = 0; j < i; j++) {
			const struct inv_mount *o = &inv->mounts.v[j];
			bool same;

			if (o->cls != MNT_LOCAL)
				continue;
			if (inv->have_mountinfo)
				same = o->major == m->major && o->minor == m->minor;
			else
				same = strcmp(o->source, m->source) == 0;
			if (!same)
				continue;
			/* A second mount of the same subvolume / root. */
			if (strcmp(o->root ? o->root : "/", subroot) == 0 &&
			    ((o->subvol == NULL) == (m->subvol == NULL)) &&
			    (o->subvol == NULL || strcmp(o->subvol, m->subvol) == 0)) {
				m->repeated = true;
				break;
			}
		}
	}
}

const struct inv_mount *mount_for_path(const struct rh_inventory *inv, const char *path)
{
	const struct inv_mount *best = NULL;
	size_t best_len = 0;

	for (size_t i = 0; i < inv->mounts.n; i++) {
		const struct inv_mount *m = &inv->mounts.v[i];
		size_t l = strlen(m->target);

		if (strcmp(m->target, "/") == 0)
			l = 0;
		else if (strncmp(path, m->target, l) != 0 || (path[l] != '/' && path[l] != '\0'))
			continue;
		/* Later mounts hide earlier ones on the same path. */
		if (best == NULL || l >= best_len) {
			best = m;
			best_len = l;
		}
	}
	return best;
}

/* Free space of local mounts and of the mounts /tmp and / live on. Never
 * on network filesystems: a dead server would hang the call (SMS.5108). */
void mounts_statvfs(struct rh_inventory *inv, const struct inv_root *r)
{
	const struct inv_mount *tmp = mount_for_path(inv, "/tmp");

	for (size_t i = 0; i < inv->mounts.n; i++) {
		struct inv_mount *m = &inv->mounts.v[i];
		struct statvfs sv;
		int fd;

		if (m->cls != MNT_LOCAL && m != tmp && strcmp(m->target, "/") != 0)
			continue;
		if (m->cls == MNT_NETWORK)
			continue;
		fd = root_open(r, m->target, O_PATH | O_DIRECTORY);
		if (fd < 0) {
			/* In a prepared tree a mount point may simply be absent;
			 * on the live system a failure means a dead mount. */
			if (r->host && errno != ENOENT)
				m->stat_errno = errno;
			continue;
		}
		if (fstatvfs(fd, &sv) == 0) {
			m->stat_ok = true;
			m->size = (uint64_t)sv.f_blocks * sv.f_frsize;
			m->free = (uint64_t)sv.f_bfree * sv.f_frsize;
			m->avail = (uint64_t)sv.f_bavail * sv.f_frsize;
		} else {
			m->stat_errno = errno;
		}
		close(fd);
	}
	/* The root and /tmp themselves, whether or not the mount table
	 * lists them (a prepared tree may have none). */
	for (int k = 0; k < 2; k++) {
		struct statvfs sv;
		int fd = root_open(r, k == 0 ? "/" : "/tmp", O_PATH | O_DIRECTORY);

		if (fd < 0)
			continue;
		if (fstatvfs(fd, &sv) == 0) {
			if (k == 0) {
				inv->rootfs_ok = true;
				inv->rootfs_size = (uint64_t)sv.f_blocks * sv.f_frsize;
				inv->rootfs_avail = (uint64_t)sv.f_bavail * sv.f_frsize;
			} else {
				inv->tmp_ok = true;
				inv->tmp_avail = (uint64_t)sv.f_bavail * sv.f_frsize;
			}
		}
		close(fd);
	}
}

int mounts_collect(struct rh_inventory *inv, const struct inv_root *r)
{
	int rc;

	rc = read_mounts(inv, r);
	if (rc == 0)
		rc = read_fstab(inv, r);
	if (rc == 0)
		rc = read_swaps(inv, r);
	if (rc == 0)
		mounts_flag_repeated(inv);
	return rc;
}
