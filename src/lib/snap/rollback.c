/*
 * Rollback: put a snapshot back on the target's disks.
 *
 * Nothing is changed until every snapshot disk has been read and matched
 * its digest. Disk files are rebuilt beside the disk (diskN.raw.rollback)
 * and renamed over it once all of them are complete, so a failure at any
 * point leaves the old disks. Devices cannot be renamed: they are written
 * in place after the digest pass, synced, and read back.
 */
#define RH_LOG_COMPONENT "snap"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "snap-internal.h"
#include "rehost/disk.h"
#include "rehost/err.h"
#include "rehost/log.h"
#include "rehost/repl.h"

#define ROLLBACK_SUFFIX ".rollback"

struct rollback {
	const struct rh_snap_target *t;
	const char *name;
	char snapdir[4400];
	struct rh_snap_info *info;
	int snap_fd[RH_SNAP_MAX_DISKS];
	char snap_path[RH_SNAP_MAX_DISKS][4500];
	char disk_path[RH_SNAP_MAX_DISKS][4096];
	char tmp_path[RH_SNAP_MAX_DISKS][4200];
	bool tmp_made[RH_SNAP_MAX_DISKS];
	struct snap_io io;
	unsigned reflinked;
};

static double now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int damaged(const struct rollback *rb, size_t i, const char *got)
{
	return rh_seterr(RH_ERR_CORRUPT,
			 "snapshot %s is damaged: %s does not match its digest (manifest %s, content %s); nothing was rolled back; delete it (rehost target snapshot --delete %s) and use another snapshot",
			 rb->name, rb->snap_path[i], rb->info->disks[i].digest, got, rb->name);
}

/* Open every snapshot disk file and check its size against the manifest. */
static int open_snapshot(struct rollback *rb)
{
	for (size_t i = 0; i < rb->info->ndisks; i++) {
		const struct rh_snap_disk *sd = &rb->info->disks[i];
		struct stat sb;

		snprintf(rb->snap_path[i], sizeof rb->snap_path[i], "%s/%s", rb->snapdir, sd->file);
		rb->snap_fd[i] = open(rb->snap_path[i], O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
		if (rb->snap_fd[i] < 0 && errno == ENOENT)
			return rh_seterr(RH_ERR_NOTFOUND,
					 "snapshot %s is incomplete: %s is missing; nothing was rolled back",
					 rb->name, rb->snap_path[i]);
		if (rb->snap_fd[i] < 0)
			return rh_seterr_errno(errno, "cannot open %s", rb->snap_path[i]);
		if (fstat(rb->snap_fd[i], &sb) < 0 || !S_ISREG(sb.st_mode) ||
		    (uint64_t)sb.st_size != sd->size)
			return rh_seterr(RH_ERR_CORRUPT,
					 "snapshot %s is damaged: %s should have %llu bytes, has %lld; nothing was rolled back",
					 rb->name, rb->snap_path[i], (unsigned long long)sd->size,
					 (long long)sb.st_size);
	}
	return 0;
}

/* Disk-dir mode: build every disk beside the old one, check, then rename. */
static int rollback_files(struct rollback *rb)
{
	const char *dir = rb->t->disk_dir;
	int rc = 0;

	for (size_t i = 0; i < rb->info->ndisks; i++) {
		const struct rh_snap_disk *sd = &rb->info->disks[i];
		char hex[RH_SNAP_DIGEST_HEX];
		struct stat sb;
		int fd;

		snprintf(rb->disk_path[i], sizeof rb->disk_path[i], "%s/%s", dir, sd->file);
		snprintf(rb->tmp_path[i], sizeof rb->tmp_path[i], "%s%s", rb->disk_path[i],
			 ROLLBACK_SUFFIX);
		if (stat(rb->disk_path[i], &sb) < 0 && errno == ENOENT)
			rh_log_warn("%s is missing; the rollback recreates it", rb->disk_path[i]);
		(void)unlink(rb->tmp_path[i]); /* from an interrupted rollback */
		fd = open(rb->tmp_path[i], O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd < 0)
			return rh_seterr_errno(errno, "cannot create %s", rb->tmp_path[i]);
		rb->tmp_made[i] = true;
		rb->io.reflinked = false;
		rc = snap_copy(rb->snap_fd[i], rb->snap_path[i], fd, rb->tmp_path[i], sd->size,
			       SNAP_COPY_REFLINK, hex, &rb->io);
		if (rc == 0 && strcmp(hex, sd->digest) != 0)
			rc = damaged(rb, i, hex);
		if (rc == 0 && fsync(fd) < 0)
			rc = rh_seterr_errno(errno, "cannot sync %s", rb->tmp_path[i]);
		/* A clone was hashed by reading it back; a copy is read back
		 * now, after the data is on stable storage. */
		if (rc == 0 && !rb->io.reflinked) {
			rc = snap_digest(fd, rb->tmp_path[i], sd->size, hex, &rb->io);
			if (rc == 0 && strcmp(hex, sd->digest) != 0)
				rc = rh_seterr(RH_ERR_IO,
					       "%s reads back different from snapshot %s (digest %s, expected %s); nothing was rolled back; check the storage",
					       rb->tmp_path[i], rb->name, hex, sd->digest);
		}
		close(fd);
		if (rc < 0)
			return rc;
		rb->reflinked += rb->io.reflinked;
		rh_log_info("rollback %s: %s verified (%s)", rb->name, sd->file,
			    rb->io.reflinked ? "cloned" : "copied");
	}
	for (size_t i = 0; i < rb->info->ndisks; i++) {
		if (rename(rb->tmp_path[i], rb->disk_path[i]) < 0)
			return rh_seterr_errno(errno, "cannot rename %s to %s (disks 0..%zu are rolled back, the rest are not; run the rollback again)",
					       rb->tmp_path[i], rb->disk_path[i], i);
		rb->tmp_made[i] = false;
	}
	return snap_sync_dir(dir);
}

/* Device mode: digest pass, in-place write, read-back pass. */
static int rollback_devices(struct rollback *rb)
{
	const struct rh_snap_target *t = rb->t;
	struct snap_disks *d = calloc(1, sizeof *d);
	char hex[RH_SNAP_DIGEST_HEX];
	int rc;

	if (d == NULL)
		return RH_ERR_NOMEM;
	if (t->ndevices != rb->info->ndisks) {
		rc = rh_seterr(RH_ERR_INVAL, "snapshot %s has %zu disks, but %zu devices were given; give the same --disk list as when it was taken",
			       rb->name, rb->info->ndisks, t->ndevices);
		goto out;
	}
	rc = snap_disks_open(t, O_RDWR, t->ndevices, d);
	if (rc < 0)
		goto out;
	for (size_t i = 0; i < d->n; i++) {
		const struct rh_snap_disk *sd = &rb->info->disks[i];

		if (d->is_blk[i] && d->size[i] != sd->size) {
			rc = rh_seterr(RH_ERR_INVAL, "device %s has %llu bytes, but its snapshot has %llu; is it the same disk (snapshot of %s)?",
				       d->path[i], (unsigned long long)d->size[i],
				       (unsigned long long)sd->size, sd->source);
			goto out;
		}
		if (strcmp(d->path[i], sd->source) != 0)
			rh_log_warn("rolling back %s from the snapshot of %s", d->path[i], sd->source);
	}
	for (size_t i = 0; i < d->n; i++) {
		rc = snap_digest(rb->snap_fd[i], rb->snap_path[i], rb->info->disks[i].size, hex, &rb->io);
		if (rc == 0 && strcmp(hex, rb->info->disks[i].digest) != 0)
			rc = damaged(rb, i, hex);
		if (rc < 0)
			goto out;
	}
	for (size_t i = 0; i < d->n; i++) {
		const struct rh_snap_disk *sd = &rb->info->disks[i];

		rc = snap_copy(rb->snap_fd[i], rb->snap_path[i], d->fd[i], d->path[i], sd->size,
			       SNAP_COPY_INPLACE, hex, &rb->io);
		if (rc == 0 && strcmp(hex, sd->digest) != 0)
			rc = rh_seterr(RH_ERR_CORRUPT, "snapshot %s changed while it was rolled back (%s); %s is partly written: run the rollback again",
				       rb->name, rb->snap_path[i], d->path[i]);
		if (rc == 0 && fsync(d->fd[i]) < 0)
			rc = rh_seterr_errno(errno, "cannot sync %s", d->path[i]);
		if (rc == 0)
			rc = snap_digest(d->fd[i], d->path[i], sd->size, hex, &rb->io);
		if (rc == 0 && strcmp(hex, sd->digest) != 0)
			rc = rh_seterr(RH_ERR_IO, "%s reads back different from snapshot %s (digest %s, expected %s); check the device",
				       d->path[i], rb->name, hex, sd->digest);
		if (rc < 0)
			goto out;
		rh_log_info("rollback %s: %s written and verified", rb->name, d->path[i]);
	}
out:
	snap_disks_close(d);
	free(d);
	return rc;
}

int rh_snap_rollback(const struct rh_snap_target *t, const char *name, struct rh_snap_stats *st)
{
	char base[4096], root[4200], what[64];
	struct rh_snap_stats local;
	struct rollback *rb = NULL;
	double t0 = now_seconds();
	int lock = -1, rc;

	if (st == NULL)
		st = &local;
	memset(st, 0, sizeof *st);
	if ((rc = rh_snap_name_check(name)) < 0)
		return rc;
	snprintf(what, sizeof what, "rollback to %s", name);
	rc = snap_lock(t, what, base, sizeof base, root, sizeof root, &lock);
	if (rc < 0)
		return rc;
	rb = calloc(1, sizeof *rb);
	if (rb == NULL || (rb->info = calloc(1, sizeof *rb->info)) == NULL) {
		rc = RH_ERR_NOMEM;
		goto out;
	}
	rb->t = t;
	rb->name = name;
	for (size_t i = 0; i < RH_SNAP_MAX_DISKS; i++)
		rb->snap_fd[i] = -1;
	snprintf(rb->snapdir, sizeof rb->snapdir, "%s/%s", root, name);
	rc = snap_load_info(root, name, rb->info);
	if (rc == RH_ERR_NOTFOUND)
		rc = rh_seterr(RH_ERR_NOTFOUND, "there is no snapshot '%s' in %s (rehost target snapshots lists them)",
			       name, root);
	if (rc < 0)
		goto out;
	rc = open_snapshot(rb);
	if (rc < 0)
		goto out;
	rc = t->disk_dir ? rollback_files(rb) : rollback_devices(rb);
	if (rc == 0) {
		char extra[4200];

		for (size_t i = 0; i < rb->info->ndisks; i++)
			st->bytes += rb->info->disks[i].size;
		st->reflinked = rb->reflinked;
		snprintf(extra, sizeof extra, "%s/disk%zu.raw", t->disk_dir ? t->disk_dir : "",
			 rb->info->ndisks);
		if (t->disk_dir && access(extra, F_OK) == 0)
			rh_log_warn("%s is not in snapshot %s and was left as it is", extra, name);
	}
out:
	if (rb != NULL) {
		for (size_t i = 0; i < RH_SNAP_MAX_DISKS; i++) {
			if (rb->tmp_made[i])
				(void)unlink(rb->tmp_path[i]);
			if (rb->snap_fd[i] >= 0)
				close(rb->snap_fd[i]);
		}
		st->read = rb->io.read;
		st->written = rb->io.written;
		free(rb->info);
	}
	free(rb);
	rh_target_unlock(lock);
	st->seconds = now_seconds() - t0;
	return rc;
}
