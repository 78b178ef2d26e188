/* A private /dev, /proc, /sys and /run for the chrooted target. */
#define RH_LOG_COMPONENT "postconf"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "postconf/devtree.h"
#include "rehost/checked.h"
#include "rehost/err.h"
#include "rehost/log.h"

static int node(const char *dev, const char *name, mode_t type, unsigned maj, unsigned min)
{
	char path[PATH_MAX];

	snprintf(path, sizeof path, "%s/%s", dev, name);
	if (mknod(path, type | 0660, makedev(maj, min)) < 0 && errno != EEXIST)
		return rh_seterr_errno(errno, "mknod %s", path);
	return 0;
}

static int link_to(const char *dev, const char *target, const char *name)
{
	char path[PATH_MAX];

	snprintf(path, sizeof path, "%s/%s", dev, name);
	if (symlink(target, path) < 0 && errno != EEXIST)
		return rh_seterr_errno(errno, "symlink %s", path);
	return 0;
}

static int dir(const char *dev, const char *name)
{
	char path[PATH_MAX];

	snprintf(path, sizeof path, "%s/%s", dev, name);
	if (mkdir(path, 0755) < 0 && errno != EEXIST)
		return rh_seterr_errno(errno, "mkdir %s", path);
	return 0;
}

/* The nodes of one volume: loopN, its virtio name, LVM aliases, by-uuid. */
static int vol_nodes(const char *dev, const struct rh_pc_vol *v)
{
	char rel[PATH_MAX], tgt[PATH_MAX];
	int rc;

	rc = node(dev, v->loop.path + 5, S_IFBLK, v->loop.major, v->loop.minor);
	if (rc == 0)
		rc = node(dev, v->name + 5, S_IFBLK, v->loop.major, v->loop.minor);
	if (rc == 0 && v->kind == RH_PC_VOL_LV) {
		snprintf(rel, sizeof rel, "%s", v->vg);
		rc = dir(dev, rel);
		snprintf(rel, sizeof rel, "%s/%s", v->vg, v->lv);
		snprintf(tgt, sizeof tgt, "..%s", v->name + 4);
		if (rc == 0)
			rc = link_to(dev, tgt, rel);
	}
	snprintf(tgt, sizeof tgt, "../..%s", v->name + 4);
	if (rc == 0 && v->fs.uuid[0] != '\0') {
		snprintf(rel, sizeof rel, "disk/by-uuid/%s", v->fs.uuid);
		rc = link_to(dev, tgt, rel);
	}
	if (rc == 0 && v->fs.label[0] != '\0' && strchr(v->fs.label, '/') == NULL) {
		snprintf(rel, sizeof rel, "disk/by-label/%s", v->fs.label);
		rc = link_to(dev, tgt, rel);
	}
	if (rc == 0 && v->partuuid[0] != '\0') {
		snprintf(rel, sizeof rel, "disk/by-partuuid/%s", v->partuuid);
		rc = link_to(dev, tgt, rel);
	}
	return rc;
}

int rh_pc_devtree(struct rh_pc_sysroot *s, const struct rh_pc_disks *d)
{
	static const struct {
		const char *name;
		unsigned maj, min;
	} chars[] = {
		{ "null", 1, 3 }, { "zero", 1, 5 }, { "full", 1, 7 }, { "random", 1, 8 },
		{ "urandom", 1, 9 }, { "tty", 5, 0 }, { "console", 5, 1 }, { "ptmx", 5, 2 },
		{ "loop-control", 10, 237 },
	};
	static const char *const dirs[] = {
		"pts", "shm", "mapper", "disk", "disk/by-uuid", "disk/by-label", "disk/by-partuuid",
	};
	char dev[PATH_MAX];
	int rc;

	rc = rh_pc_mount(s, "proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL, true);
	if (rc == 0)
		rc = rh_pc_mount(s, "sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RDONLY,
				 NULL, true);
	if (rc == 0)
		rc = rh_pc_mount(s, "tmpfs", "/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755", true);
	if (rc == 0)
		rc = rh_pc_mount(s, "tmpfs", "/dev", "tmpfs", MS_NOSUID, "mode=0755", true);
	if (rc < 0)
		return rc;
	/* The tmpfs just mounted is the last entry: its real host path. */
	snprintf(dev, sizeof dev, "%s", s->mounts[s->nmounts - 1]);
	for (size_t i = 0; i < RH_ARRAY_SIZE(dirs) && rc == 0; i++)
		rc = dir(dev, dirs[i]);
	for (size_t i = 0; i < RH_ARRAY_SIZE(chars) && rc == 0; i++)
		rc = node(dev, chars[i].name, S_IFCHR, chars[i].maj, chars[i].min);
	if (rc == 0)
		rc = link_to(dev, "/proc/self/fd", "fd");
	if (rc == 0)
		rc = link_to(dev, "/proc/self/fd/0", "stdin");
	if (rc == 0)
		rc = link_to(dev, "/proc/self/fd/1", "stdout");
	if (rc == 0)
		rc = link_to(dev, "/proc/self/fd/2", "stderr");
	for (size_t i = 0; i < d->nvols && rc == 0; i++)
		if (d->vols[i].loop.fd >= 0)
			rc = vol_nodes(dev, &d->vols[i]);
	if (rc == 0)
		rc = rh_pc_mount(s, "devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC,
				 "newinstance,ptmxmode=0666,mode=0620", false);
	return rc;
}
