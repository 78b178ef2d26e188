/* Snapshots of a target's disks: create, delete, list (docs/snapshots.md). */
#define RH_LOG_COMPONENT "snap"
#include <dirent.h>
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
#include "rehost/dirs.h"
#include "rehost/err.h"
#include "rehost/log.h"
#include "rehost/repl.h"

static double now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int snap_paths(const struct rh_snap_target *t, char *base, size_t blen, char *root, size_t rlen)
{
	const char *b = t->disk_dir ? t->disk_dir : t->state_dir;
	int n;

	if (b == NULL || (t->disk_dir == NULL && t->ndevices == 0))
		return rh_seterr(RH_ERR_INVAL, "give the disk directory, or the devices and a state directory");
	n = snprintf(base, blen, "%s", b);
	if (n < 0 || (size_t)n >= blen || (size_t)n + 64 >= rlen)
		return rh_seterr(RH_ERR_TOOBIG, "directory name too long: %s", b);
	snprintf(root, rlen, "%s/snapshots", b);
	return 0;
}

void snap_disks_close(struct snap_disks *d)
{
	for (size_t i = 0; i < d->n; i++)
		if (d->fd[i] >= 0)
			close(d->fd[i]);
	d->n = 0;
}

int snap_disks_open(const struct rh_snap_target *t, int flags, size_t want_min,
		    struct snap_disks *d)
{
	size_t max = t->disk_dir ? RH_SNAP_MAX_DISKS : t->ndevices;
	int rc;

	d->n = 0;
	if (max > RH_SNAP_MAX_DISKS)
		return rh_seterr(RH_ERR_TOOBIG, "%zu disks, at most %d", max, RH_SNAP_MAX_DISKS);
	for (size_t i = 0; i < max; i++) {
		struct stat st;
		int fd;

		if (t->disk_dir)
			snprintf(d->path[i], sizeof d->path[i], "%s/disk%zu.raw", t->disk_dir, i);
		else
			snprintf(d->path[i], sizeof d->path[i], "%s", t->devices[i]);
		fd = open(d->path[i], flags | O_CLOEXEC);
		if (fd < 0 && errno == ENOENT && t->disk_dir && i >= want_min)
			break; /* disk0.raw, disk1.raw...: the first gap ends the list */
		if (fd < 0) {
			rc = rh_seterr_errno(errno, "cannot open target disk %s", d->path[i]);
			goto fail;
		}
		d->fd[i] = fd;
		d->n = i + 1;
		if (fstat(fd, &st) < 0) {
			rc = rh_seterr_errno(errno, "cannot stat %s", d->path[i]);
			goto fail;
		}
		d->is_blk[i] = S_ISBLK(st.st_mode);
		if (t->disk_dir && !S_ISREG(st.st_mode)) {
			rc = rh_seterr(RH_ERR_INVAL, "%s is not a regular file", d->path[i]);
			goto fail;
		}
		if ((rc = rh_dev_size(fd, &d->size[i])) < 0) {
			rc = rh_seterr(rc, "%s: %s", d->path[i], rh_lasterr());
			goto fail;
		}
		if (d->size[i] == 0) {
			rc = rh_seterr(RH_ERR_INVAL, "target disk %s is empty", d->path[i]);
			goto fail;
		}
	}
	if (d->n == 0) {
		rc = rh_seterr(RH_ERR_NOTFOUND, "no disks in %s (expected %s/disk0.raw from rehost target --disk-dir)",
			       t->disk_dir, t->disk_dir);
		goto fail;
	}
	return 0;
fail:
	snap_disks_close(d);
	return rc;
}

int snap_remove_dir(const char *path)
{
	DIR *dir = opendir(path);
	struct dirent *e;
	int rc = 0;

	if (dir == NULL)
		return errno == ENOENT ? 0 : rh_seterr_errno(errno, "cannot open %s", path);
	/* Snapshot directories are flat; anything else is not ours to remove. */
	while ((e = readdir(dir)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (unlinkat(dirfd(dir), e->d_name, 0) < 0) {
			rc = rh_seterr_errno(errno, "cannot remove %s/%s", path, e->d_name);
			break;
		}
	}
	closedir(dir);
	if (rc == 0 && rmdir(path) < 0)
		rc = rh_seterr_errno(errno, "cannot remove %s", path);
	return rc;
}

static bool has_suffix(const char *s, const char *suf)
{
	size_t a = strlen(s), b = strlen(suf);

	return a > b && strcmp(s + a - b, suf) == 0;
}

void snap_cleanup_leftovers(const char *root)
{
	DIR *dir = opendir(root);
	struct dirent *e;
	char path[4200], name[64];

	if (dir == NULL)
		return;
	while ((e = readdir(dir)) != NULL) {
		bool tmp = has_suffix(e->d_name, ".tmp"), old = has_suffix(e->d_name, ".old");
		struct stat st;

		if ((!tmp && !old) || strlen(e->d_name) >= sizeof name)
			continue;
		snprintf(path, sizeof path, "%s/%s", root, e->d_name);
		snprintf(name, sizeof name, "%.*s", (int)strlen(e->d_name) - 4, e->d_name);
		if (rh_snap_name_check(name) < 0)
			continue;
		if (old) {
			char live[4200];

			/* A replace that stopped between its two renames: the
			 * old snapshot is still the valid one. */
			snprintf(live, sizeof live, "%s/%s", root, name);
			if (stat(live, &st) < 0 && errno == ENOENT && rename(path, live) == 0) {
				rh_log_warn("restored snapshot %s from an interrupted replace", name);
				continue;
			}
		}
		rh_log_info("removing %s, left by an interrupted snapshot operation", path);
		if (snap_remove_dir(path) < 0)
			rh_log_warn("%s", rh_lasterr());
	}
	closedir(dir);
	rh_clearerr();
}

/* Move the complete snapshot in tmp to root/name, atomically replacing
 * an existing one. */
static int install(const char *root, const char *tmp, const char *name)
{
	char live[4300], old[4300];

	snprintf(live, sizeof live, "%.4096s/%.40s", root, name);
	if (rename(tmp, live) == 0)
		return snap_sync_dir(root);
	if (errno != ENOTEMPTY && errno != EEXIST)
		return rh_seterr_errno(errno, "cannot rename %s to %s", tmp, live);
	/* Swap in one step where the filesystem can; tmp then holds the old one. */
	if (renameat2(AT_FDCWD, tmp, AT_FDCWD, live, RENAME_EXCHANGE) == 0) {
		int rc = snap_sync_dir(root);

		if (rc == 0 && snap_remove_dir(tmp) < 0)
			rh_log_warn("%s (remove it by hand)", rh_lasterr());
		return rc;
	}
	snprintf(old, sizeof old, "%.4096s/%.40s.old", root, name);
	if (rename(live, old) < 0)
		return rh_seterr_errno(errno, "cannot rename %s to %s", live, old);
	if (rename(tmp, live) < 0) {
		int e = errno;

		(void)rename(old, live);
		return rh_seterr_errno(e, "cannot rename %s to %s", tmp, live);
	}
	if (snap_sync_dir(root) == 0 && snap_remove_dir(old) < 0)
		rh_log_warn("%s (remove it by hand)", rh_lasterr());
	return snap_sync_dir(root);
}

int snap_lock(const struct rh_snap_target *t, const char *what, char *base, size_t blen,
	      char *root, size_t rlen, int *lock)
{
	int rc = snap_paths(t, base, blen, root, rlen);

	*lock = -1;
	if (rc < 0)
		return rc;
	/* Device mode: the state directory may not exist yet. */
	if (t->disk_dir == NULL && (rc = rh_mkdir_parents(base, 0700, "state directory")) < 0)
		return rc;
	if (mkdir(root, 0700) < 0 && errno != EEXIST)
		return rh_seterr_errno(errno, "cannot create %s", root);
	rc = rh_target_lock(base, what, lock);
	if (rc < 0)
		return rc;
	snap_cleanup_leftovers(root);
	return 0;
}

static void iso_now(char *buf, size_t len, time_t *t)
{
	struct tm tm;

	*t = time(NULL);
	gmtime_r(t, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int rh_snap_create(const struct rh_snap_target *t, const char *name, struct rh_snap_stats *st)
{
	char base[4096], root[4200], tmp[4300], what[64], path[4400];
	struct snap_disks *d = NULL;
	struct rh_snap_info *info = NULL;
	struct rh_snap_stats local;
	struct snap_io io = { 0 };
	bool made_tmp = false;
	double t0 = now_seconds();
	int lock = -1, rc;

	if (st == NULL)
		st = &local;
	memset(st, 0, sizeof *st);
	if ((rc = rh_snap_name_check(name)) < 0)
		return rc;
	snprintf(what, sizeof what, "snapshot %s", name);
	rc = snap_lock(t, what, base, sizeof base, root, sizeof root, &lock);
	if (rc < 0)
		goto out;
	d = calloc(1, sizeof *d);
	info = calloc(1, sizeof *info);
	if (d == NULL || info == NULL) {
		rc = RH_ERR_NOMEM;
		goto out;
	}
	rc = snap_disks_open(t, O_RDONLY, 0, d);
	if (rc < 0)
		goto out;
	snprintf(tmp, sizeof tmp, "%s/%s.tmp", root, name);
	if (mkdir(tmp, 0700) < 0) {
		rc = rh_seterr_errno(errno, "cannot create %s", tmp);
		goto out;
	}
	made_tmp = true;
	memcpy(info->name, name, strlen(name) + 1);
	info->ndisks = d->n;
	for (size_t i = 0; i < d->n; i++) {
		struct rh_snap_disk *sd = &info->disks[i];
		int fd;

		snprintf(sd->file, sizeof sd->file, "disk%zu.raw", i);
		snprintf(sd->source, sizeof sd->source, "%.*s", (int)sizeof sd->source - 1, d->path[i]);
		snprintf(path, sizeof path, "%s/%s", tmp, sd->file);
		sd->size = d->size[i];
		fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd < 0) {
			rc = rh_seterr_errno(errno, "cannot create %s", path);
			goto out;
		}
		io.reflinked = false;
		rc = snap_copy(d->fd[i], d->path[i], fd, path, sd->size, SNAP_COPY_REFLINK,
			       sd->digest, &io);
		if (rc == 0 && fsync(fd) < 0)
			rc = rh_seterr_errno(errno, "cannot sync %s", path);
		close(fd);
		if (rc < 0)
			goto out;
		snprintf(sd->method, sizeof sd->method, "%s", io.reflinked ? "reflink" : "sparse-copy");
		st->reflinked += io.reflinked;
		st->bytes += sd->size;
		rh_log_info("snapshot %s: %s (%llu bytes) %s, digest %s", name, d->path[i],
			    (unsigned long long)sd->size, io.reflinked ? "cloned" : "copied", sd->digest);
	}
	iso_now(info->created, sizeof info->created, &info->created_t);
	rc = snap_manifest_save(tmp, info);
	if (rc < 0)
		goto out;
	rc = install(root, tmp, name);
	if (rc == 0)
		made_tmp = false;
out:
	if (made_tmp) {
		struct rh_err_saved saved;

		rh_err_save(&saved);
		if (snap_remove_dir(tmp) < 0)
			rh_log_warn("%s", rh_lasterr());
		rh_err_restore(&saved);
	}
	if (d != NULL)
		snap_disks_close(d);
	free(d);
	free(info);
	rh_target_unlock(lock);
	st->read = io.read;
	st->written = io.written;
	st->seconds = now_seconds() - t0;
	return rc;
}

int rh_snap_delete(const struct rh_snap_target *t, const char *name)
{
	char base[4096], root[4200], live[4300], tmp[4300], what[64];
	struct stat sb;
	int lock = -1, rc;

	if ((rc = rh_snap_name_check(name)) < 0)
		return rc;
	snprintf(what, sizeof what, "delete snapshot %s", name);
	rc = snap_lock(t, what, base, sizeof base, root, sizeof root, &lock);
	if (rc < 0)
		return rc;
	snprintf(live, sizeof live, "%s/%s", root, name);
	snprintf(tmp, sizeof tmp, "%s/%s.tmp", root, name);
	if (stat(live, &sb) < 0 || !S_ISDIR(sb.st_mode)) {
		rc = rh_seterr(RH_ERR_NOTFOUND, "there is no snapshot '%s' in %s (rehost target snapshots lists them)",
			       name, root);
		goto out;
	}
	/* Rename first: the name stops being valid in one step. */
	if (rename(live, tmp) < 0) {
		rc = rh_seterr_errno(errno, "cannot rename %s", live);
		goto out;
	}
	rc = snap_sync_dir(root);
	if (rc == 0)
		rc = snap_remove_dir(tmp);
out:
	rh_target_unlock(lock);
	return rc;
}

int snap_load_info(const char *root, const char *name, struct rh_snap_info *out)
{
	char dir[4300], path[4400];
	struct stat sb;
	int rc;

	snprintf(dir, sizeof dir, "%s/%s", root, name);
	rc = snap_manifest_load(dir, name, out);
	if (rc < 0)
		return rc;
	if (stat(dir, &sb) == 0 && S_ISDIR(sb.st_mode)) {
		snprintf(path, sizeof path, "%s/%s", dir, SNAP_MANIFEST);
		if (stat(path, &sb) == 0)
			out->used += (uint64_t)sb.st_blocks * 512;
	}
	for (size_t i = 0; i < out->ndisks; i++) {
		snprintf(path, sizeof path, "%s/%s", dir, out->disks[i].file);
		if (stat(path, &sb) == 0)
			out->used += (uint64_t)sb.st_blocks * 512;
	}
	return 0;
}

int rh_snap_info(const struct rh_snap_target *t, const char *name, struct rh_snap_info *out)
{
	char base[4096], root[4200];
	int rc;

	memset(out, 0, sizeof *out);
	if ((rc = rh_snap_name_check(name)) < 0 ||
	    (rc = snap_paths(t, base, sizeof base, root, sizeof root)) < 0)
		return rc;
	rc = snap_load_info(root, name, out);
	if (rc == RH_ERR_NOTFOUND)
		rc = rh_seterr(RH_ERR_NOTFOUND, "there is no snapshot '%s' in %s (rehost target snapshots lists them)",
			       name, root);
	return rc;
}

static int by_time(const void *a, const void *b)
{
	const struct rh_snap_info *x = a, *y = b;

	if (x->created_t != y->created_t)
		return x->created_t < y->created_t ? -1 : 1;
	return strcmp(x->name, y->name);
}

int rh_snap_list(const struct rh_snap_target *t, struct rh_snap_info **out, size_t *n)
{
	char base[4096], root[4200];
	struct rh_snap_info *v = NULL;
	size_t cap = 0, cnt = 0;
	struct dirent *e;
	DIR *dir;
	int rc;

	*out = NULL;
	*n = 0;
	if ((rc = snap_paths(t, base, sizeof base, root, sizeof root)) < 0)
		return rc;
	dir = opendir(root);
	if (dir == NULL)
		return errno == ENOENT ? 0 : rh_seterr_errno(errno, "cannot open %s", root);
	while ((e = readdir(dir)) != NULL) {
		if (e->d_name[0] == '.' || rh_snap_name_check(e->d_name) < 0) {
			rh_clearerr();
			continue; /* ., .., NAME.tmp and strangers */
		}
		if (cnt == cap) {
			size_t ncap = cap ? cap * 2 : 4;
			struct rh_snap_info *nv = realloc(v, ncap * sizeof *v);

			if (nv == NULL) {
				rc = RH_ERR_NOMEM;
				goto out;
			}
			v = nv;
			cap = ncap;
		}
		if (snap_load_info(root, e->d_name, &v[cnt]) < 0) {
			rh_log_warn("ignoring snapshot %s: %s", e->d_name, rh_lasterr());
			continue;
		}
		cnt++;
	}
	qsort(v, cnt, sizeof *v, by_time);
	*out = v;
	*n = cnt;
	v = NULL;
	rc = 0;
out:
	closedir(dir);
	free(v);
	return rc;
}
