/*
 * Growing the filesystem of a grown partition, with the filesystem's own
 * tools on a loop device over the partition: ext2/3/4 offline with
 * e2fsck + resize2fs; xfs online only (xfs_growfs needs a mount), in a
 * private temporary directory; an LVM PV with pvresize restricted to that
 * one device, with device-mapper declared absent so nothing is activated
 * and the host's LVM (whose VGs may have the same names) is never touched.
 */
#define RH_LOG_COMPONENT "diskprep"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

#include "diskprep-internal.h"
#include "rehost/err.h"
#include "rehost/log.h"
#include "rehost/loopdev.h"

static int tool_failed(const char *what, int status, const char *out)
{
	const char *last = out;
	size_t len = strlen(out);

	/* The last non-empty line says why. */
	while (len > 0 && (out[len - 1] == '\n' || out[len - 1] == ' '))
		len--;
	for (size_t i = 0; i < len; i++)
		if (out[i] == '\n')
			last = out + i + 1;
	return rh_seterr(RH_ERR_IO, "%s failed (exit status %d): %.*s", what, status,
			 (int)(len - (size_t)(last - out)), last);
}

static int grow_ext(const char *dev)
{
	char out[2048];
	const char *fsck[] = { "e2fsck", "-f", "-p", dev, NULL };
	const char *resize[] = { "resize2fs", dev, NULL };
	int st;

	/* resize2fs wants a checked filesystem; -p replays the journal of a
	 * disk copied from a running source and fixes only what is safe. */
	st = diskprep_run(fsck, out, sizeof out);
	if (st < 0)
		return st;
	if (st > 3)
		return rh_seterr(RH_ERR_CORRUPT, "e2fsck -f -p %s found problems it cannot fix safely (exit status %d): run e2fsck on it by hand, then grow again: %s",
				 dev, st, out);
	st = diskprep_run(resize, out, sizeof out);
	if (st < 0)
		return st;
	return st == 0 ? 0 : tool_failed("resize2fs", st, out);
}

static int grow_xfs(const char *dev)
{
	char dir[] = "/tmp/rehost-growfs.XXXXXX", out[2048];
	const char *grow[] = { "xfs_growfs", dir, NULL };
	int st, rc;

	if (mkdtemp(dir) == NULL)
		return rh_seterr_errno(errno, "cannot create a temporary mount point");
	/* nouuid: the source's own filesystem, with the same UUID, may be
	 * mounted on this host. */
	if (mount(dev, dir, "xfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "nouuid") < 0) {
		rc = rh_seterr_errno(errno, "cannot mount the xfs on %s to grow it", dev);
		rmdir(dir);
		return rc;
	}
	st = diskprep_run(grow, out, sizeof out);
	rc = st < 0 ? st : st == 0 ? 0 : tool_failed("xfs_growfs", st, out);
	if (umount2(dir, 0) < 0) {
		int e = errno;

		rh_log_error("cannot unmount %s: %s; unmount it by hand", dir, strerror(e));
		if (rc == 0)
			rc = rh_seterr_errno(e, "cannot unmount %s", dir);
		return rc;
	}
	rmdir(dir);
	return rc;
}

static int grow_pv(const char *dev)
{
	char out[2048], config[512];
	const char *pvresize[] = { "pvresize", "--driverloaded", "n", "--devices", dev,
				   "--config", config, dev, NULL };
	int st;

	/* Only this device, whatever the host's lvm.conf filters say; no
	 * metadata backups of a foreign VG in the host's /etc/lvm. */
	snprintf(config, sizeof config,
		 "devices { filter = [ \"a|^%s$|\", \"r|.*|\" ] global_filter = [ \"a|^%s$|\", \"r|.*|\" ] "
		 "obtain_device_list_from_udev = 0 hints = \"none\" } "
		 "activation { udev_sync = 0 udev_rules = 0 } backup { backup = 0 archive = 0 }",
		 dev, dev);
	st = diskprep_run(pvresize, out, sizeof out);

	if (st < 0)
		return st;
	return st == 0 ? 0 : tool_failed("pvresize", st, out);
}

int diskprep_growfs(const char *path, uint64_t offset, uint64_t size, const char *type)
{
	struct rh_loopdev loop;
	int rc;
	int (*grow)(const char *);

	if (strcmp(type, "ext2") == 0 || strcmp(type, "ext3") == 0 || strcmp(type, "ext4") == 0)
		grow = grow_ext;
	else if (strcmp(type, "xfs") == 0)
		grow = grow_xfs;
	else if (strcmp(type, "LVM2_member") == 0)
		grow = grow_pv;
	else
		return rh_seterr(RH_ERR_UNSUPPORTED, "%s is not grown here (ext2/3/4, xfs and LVM PVs are); grow it on the booted target",
				 type[0] ? type : "an unrecognised filesystem");
	rc = rh_loop_attach(path, offset, size, false, &loop);
	if (rc < 0)
		return rc;
	rh_log_info("growing %s on %s (%s at offset %llu)", type, loop.path, path,
		    (unsigned long long)offset);
	rc = grow(loop.path);
	rh_loop_release(&loop);
	return rc;
}
