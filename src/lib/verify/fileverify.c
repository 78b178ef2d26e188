/*
 * File-mode verify: walk a source and a target tree side by side (sorted
 * directory listings merged by name), compare each pair of entries, and
 * write every mismatch to the result log.
 *
 * Directories are opened by their path relative to each root with
 * openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_XDEV), so the
 * walk holds only two directory descriptors at a time however deep the tree
 * is, never follows a symlink and never leaves the root's filesystem. Where
 * openat2 is missing the path is walked one O_NOFOLLOW component at a time.
 */
#define RH_LOG_COMPONENT "verify"
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>
#include <dirent.h>

#include "rehost/crc64.h"
#include "rehost/err.h"
#include "rehost/fileverify.h"
#include "rehost/json.h"
#include "rehost/log.h"
#include "verify/verify-internal.h"

#define DEFAULT_BUF (4u << 20)
#define MAX_BUF (64u << 20)
#define LINK_MAX_LEN 4096
#define DETAIL_MAX (2 * LINK_MAX_LEN + 512)

enum { SRC = 0, TGT = 1 };

static const char *const refused_roots[] = {
	"/", "/etc", "/dev", "/sys", "/usr", "/boot", "/run", "/proc",
};

struct side {
	const char *name;   /* "source" or "target" */
	int rootfd;
	dev_t dev;          /* of the root */
	uint64_t mnt_id;    /* of the root, when have_mnt */
	bool have_mnt;
	bool noatime;       /* O_NOATIME still worth trying */
};

struct ctx {
	const struct rh_fverify_opts *o;
	struct rh_fverify_stats *st;
	struct side s[2];
	enum rh_fverify_mode mode;
	unsigned max_entries;
	size_t root_len;           /* strlen(st->source): for the path limit */
	FILE *logf;
	uint8_t *buf[2];
	size_t bufsz;
	char detail[DETAIL_MAX];
	/* progress */
	struct timespec t0;
	double interval, last_t;
	uint64_t last_bytes;
	uint64_t total_files, total_bytes;
};

static int no_openat2;

static double now_since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) + (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

/* ---- roots ---- */

int rh_fverify_check_root(const char *path, char *out, size_t len)
{
	struct stat sb;
	char *real;
	int rc = 0;

	if (path == NULL || *path == '\0')
		return rh_seterr(RH_ERR_INVAL, "empty path");
	real = realpath(path, NULL);
	if (real == NULL)
		return rh_seterr_errno(errno, "%s", path);
	for (size_t i = 0; i < sizeof refused_roots / sizeof refused_roots[0]; i++) {
		if (strcmp(real, refused_roots[i]) == 0) {
			rc = rh_seterr(RH_ERR_INVAL,
				       "%s%s%s is a refused root: verify does not walk /, /etc, /dev, "
				       "/sys, /usr, /boot, /run or /proc (system and pseudo filesystems "
				       "that change while the system runs); give data directories instead",
				       path, strcmp(path, real) ? " -> " : "",
				       strcmp(path, real) ? real : "");
			goto out;
		}
	}
	if (stat(real, &sb) < 0) {
		rc = rh_seterr_errno(errno, "%s", real);
		goto out;
	}
	if (!S_ISDIR(sb.st_mode)) {
		rc = rh_seterr(RH_ERR_INVAL, "%s: not a directory", path);
		goto out;
	}
	if (strlen(real) >= len || strlen(real) >= RH_FVERIFY_MAX_PATH) {
		rc = rh_seterr(RH_ERR_TOOBIG, "%s: path of %zu bytes is too long", path, strlen(real));
		goto out;
	}
	snprintf(out, len, "%s", real);
out:
	free(real);
	return rc;
}

/* True when inner equals outer or lies below it (both realpaths). */
static bool path_within(const char *inner, const char *outer)
{
	size_t n = strlen(outer);

	return strncmp(inner, outer, n) == 0 && (inner[n] == '\0' || inner[n] == '/');
}

/* ---- opening inside a root ---- */

/* Open rel (a validated relative path or ".") below the side's root without
 * following symlinks or crossing mounts. Returns an fd or -1 with errno. */
static int open_beneath(const struct side *sd, const char *rel, int flags)
{
	flags |= O_CLOEXEC | O_NOCTTY;
	if (strcmp(rel, ".") == 0)
		return openat(sd->rootfd, ".", flags);
	if (!no_openat2) {
		struct open_how how = {
			.flags = (uint64_t)flags,
			.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS |
				   RESOLVE_NO_XDEV,
		};
		int fd = (int)syscall(SYS_openat2, sd->rootfd, rel, &how, sizeof how);

		if (fd >= 0 || errno != ENOSYS)
			return fd;
		no_openat2 = 1;
	}
	/* Fallback: one component at a time. */
	{
		char comp[NAME_MAX + 1];
		const char *p = rel;
		int cur = sd->rootfd, next, err;
		struct stat sb;

		for (;;) {
			const char *slash = strchr(p, '/');
			size_t n = slash ? (size_t)(slash - p) : strlen(p);

			if (n == 0 || n > NAME_MAX) {
				err = ENAMETOOLONG;
				goto fail;
			}
			memcpy(comp, p, n);
			comp[n] = '\0';
			next = openat(cur, comp,
				      slash ? O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC
					    : flags | O_NOFOLLOW);
			err = errno;
			if (cur != sd->rootfd)
				close(cur);
			if (next < 0)
				goto fail_noclose;
			if (fstat(next, &sb) < 0 || sb.st_dev != sd->dev) {
				close(next);
				err = EXDEV;
				goto fail_noclose;
			}
			if (slash == NULL)
				return next;
			cur = next;
			p = slash + 1;
		}
fail:
		if (cur != sd->rootfd)
			close(cur);
fail_noclose:
		errno = err;
		return -1;
	}
}

/* ---- the result log ---- */

static void record(struct ctx *c, enum rh_fverify_kind kind, const char *rel,
		   const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void record(struct ctx *c, enum rh_fverify_kind kind, const char *rel,
		   const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->detail, sizeof c->detail, fmt, ap);
	va_end(ap);
	c->st->count[kind]++;
	if (kind < RH_FV_NMISMATCH)
		c->st->mismatches++;
	verifylog_put_entry(c->logf, kind, rel, c->detail);
	rh_log_debug("%s %s: %s", rh_fverify_kind_name(kind), rel, c->detail);
	if (c->o->on_entry)
		c->o->on_entry(kind, rel, c->detail, c->o->entry_arg);
}

static void record_skip(struct ctx *c, enum rh_fverify_skip why, const char *rel,
			const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void record_skip(struct ctx *c, enum rh_fverify_skip why, const char *rel,
			const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	c->st->skipped[why]++;
	record(c, RH_FV_SKIPPED, rel, "%s: %s", rh_fverify_skip_name(why), msg);
}

/* ---- progress ---- */

static void progress_report(struct ctx *c, double t, bool final)
{
	struct rh_fverify_progress p = {
		.elapsed_s = t,
		.files = c->st->files_checked + c->st->dirs_checked,
		.bytes_checked = c->st->bytes_checked,
		.bytes_read = c->st->bytes_read,
		.total_files = c->total_files,
		.total_bytes = c->total_bytes,
		.mismatches = c->st->mismatches,
		.final = final,
	};

	if (c->mode == RH_FVERIFY_CRC && c->total_bytes > 0)
		p.percent = 100.0 * (double)p.bytes_checked / (double)c->total_bytes;
	else if (c->total_files > 0)
		p.percent = 100.0 * (double)p.files / (double)c->total_files;
	if (p.percent > 100.0 || final)
		p.percent = 100.0;
	if (t - c->last_t > 0.001)
		p.rate = (double)(p.bytes_checked - c->last_bytes) / (t - c->last_t);
	if (final && t > 0.001)
		p.rate = (double)p.bytes_checked / t;
	c->last_t = t;
	c->last_bytes = p.bytes_checked;
	c->o->progress(&p, c->o->progress_arg);
}

/* Report progress when due; RH_ERR_INTR when asked to stop. */
static int tick(struct ctx *c)
{
	if (c->o->stop != NULL && *c->o->stop)
		return rh_seterr(RH_ERR_INTR, "verify stopped after %" PRIu64 " entries",
				 c->st->files_checked + c->st->dirs_checked);
	if (c->o->progress != NULL) {
		double t = now_since(&c->t0);

		if (t - c->last_t >= c->interval)
			progress_report(c, t, false);
	}
	return 0;
}

/* ---- directory listings ---- */

struct names {
	char **v;
	size_t n, cap;
};

static void names_clear(struct names *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	*l = (struct names){ 0 };
}

static int names_add(struct names *l, const char *s)
{
	char *d;

	if (l->n == l->cap) {
		size_t ncap = l->cap ? l->cap * 2 : 32;
		char **nv = realloc(l->v, ncap * sizeof *nv);

		if (nv == NULL)
			return rh_seterr(RH_ERR_NOMEM, "directory listing of %zu names", l->n);
		l->v = nv;
		l->cap = ncap;
	}
	d = strdup(s);
	if (d == NULL)
		return rh_seterr(RH_ERR_NOMEM, "directory listing");
	l->v[l->n++] = d;
	return 0;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* List the directory d (sorted, without . and ..). Returns 0, 1 when it has
 * more than max entries (the list is then incomplete), -errno when reading
 * failed, or RH_ERR_NOMEM (negative, distinguished by *nomem). */
static int list_dir(DIR *d, unsigned max, struct names *out, bool *nomem)
{
	struct dirent *de;

	*nomem = false;
	for (;;) {
		errno = 0;
		de = readdir(d);
		if (de == NULL) {
			if (errno != 0)
				return -errno;
			break;
		}
		if (de->d_name[0] == '.' && (de->d_name[1] == '\0' ||
					     (de->d_name[1] == '.' && de->d_name[2] == '\0')))
			continue;
		if (out->n >= max)
			return 1;
		if (names_add(out, de->d_name) < 0) {
			*nomem = true;
			return RH_ERR_NOMEM;
		}
	}
	if (out->n > 1)
		qsort(out->v, out->n, sizeof *out->v, cmp_names);
	return 0;
}

/* ---- describing entries ---- */

static const char *type_name(mode_t m)
{
	switch (m & S_IFMT) {
	case S_IFREG: return "regular file";
	case S_IFDIR: return "directory";
	case S_IFLNK: return "symlink";
	case S_IFCHR: return "character device";
	case S_IFBLK: return "block device";
	case S_IFIFO: return "fifo";
	case S_IFSOCK: return "socket";
	default: return "unknown type";
	}
}

static void describe(const struct statx *x, char *buf, size_t len)
{
	if (S_ISREG(x->stx_mode))
		snprintf(buf, len, "regular file, %" PRIu64 " bytes", (uint64_t)x->stx_size);
	else if (S_ISCHR(x->stx_mode) || S_ISBLK(x->stx_mode))
		snprintf(buf, len, "%s %u:%u", type_name(x->stx_mode), x->stx_rdev_major,
			 x->stx_rdev_minor);
	else
		snprintf(buf, len, "%s", type_name(x->stx_mode));
}

static void fmt_time(const struct statx_timestamp *ts, char *buf, size_t len)
{
	struct tm tm;
	time_t t = (time_t)ts->tv_sec;

	if (gmtime_r(&t, &tm) == NULL) {
		snprintf(buf, len, "%" PRId64 ".%09u", (int64_t)ts->tv_sec, ts->tv_nsec);
		return;
	}
	snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%09uZ", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts->tv_nsec);
}

/* Equal modification times. A side with nanoseconds 0 is taken to have
 * whole-second timestamps, and then only the seconds are compared. */
static bool mtime_equal(const struct statx_timestamp *a, const struct statx_timestamp *b)
{
	if (a->tv_sec != b->tv_sec)
		return false;
	return a->tv_nsec == b->tv_nsec || a->tv_nsec == 0 || b->tv_nsec == 0;
}

static bool is_mount(const struct side *sd, const struct statx *x)
{
	if (makedev(x->stx_dev_major, x->stx_dev_minor) != sd->dev)
		return true;
	return sd->have_mnt && (x->stx_mask & STATX_MNT_ID) && x->stx_mnt_id != sd->mnt_id;
}

/* ---- content ---- */

static int open_file(struct side *sd, int dfd, const char *name)
{
	int flags = O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK, fd;

	if (sd->noatime) {
		fd = openat(dfd, name, flags | O_NOATIME);
		if (fd >= 0 || errno != EPERM)
			return fd;
		sd->noatime = false; /* not the owner and no CAP_FOWNER */
	}
	return openat(dfd, name, flags);
}

/* Read up to len bytes; returns the count (short only at EOF) or -errno. */
static ssize_t read_full(int fd, uint8_t *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t r = read(fd, buf + got, len - got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			break;
		got += (size_t)r;
	}
	return (ssize_t)got;
}

/* Compare the content of two regular files of equal size by CRC-64 of each
 * chunk; on a difference locate the first differing byte. */
static int compare_content(struct ctx *c, const int dfd[2], const char *name, const char *rel,
			   uint64_t size)
{
	int fd[2] = { -1, -1 }, rc = 0;
	uint64_t off = 0, covered = 0, crc_whole[2] = { 0, 0 };
	struct stat sb;

	for (int i = 0; i < 2; i++) {
		fd[i] = open_file(&c->s[i], dfd[i], name);
		if (fd[i] < 0) {
			record(c, RH_FV_UNREADABLE, rel, "%s: open: %s (errno %d)", c->s[i].name,
			       strerror(errno), errno);
			goto out;
		}
		if (fstat(fd[i], &sb) < 0 || !S_ISREG(sb.st_mode)) {
			record(c, RH_FV_UNREADABLE, rel, "%s: no longer a regular file", c->s[i].name);
			goto out;
		}
		posix_fadvise(fd[i], 0, 0, POSIX_FADV_SEQUENTIAL);
	}
	for (;;) {
		ssize_t n[2];
		uint64_t crc[2];

		for (int i = 0; i < 2; i++) {
			n[i] = read_full(fd[i], c->buf[i], c->bufsz);
			if (n[i] < 0) {
				record(c, RH_FV_UNREADABLE, rel, "%s: read at offset %" PRIu64 ": %s (errno %d)",
				       c->s[i].name, off, strerror((int)-n[i]), (int)-n[i]);
				goto out;
			}
			crc[i] = rh_crc64_update(0, c->buf[i], (size_t)n[i]);
			crc_whole[i] = rh_crc64_update(crc_whole[i], c->buf[i], (size_t)n[i]);
			c->st->bytes_read += (uint64_t)n[i];
		}
		c->st->bytes_checked += (uint64_t)n[SRC];
		covered += (uint64_t)n[SRC];
		if (n[SRC] != n[TGT] || crc[SRC] != crc[TGT]) {
			size_t m = (size_t)(n[SRC] < n[TGT] ? n[SRC] : n[TGT]), k = 0;

			while (k < m && c->buf[SRC][k] == c->buf[TGT][k])
				k++;
			if (n[SRC] != n[TGT] && k == m)
				record(c, RH_FV_CONTENT, rel,
				       "%s ends at offset %" PRIu64 " (file changed during verify?)",
				       n[SRC] < n[TGT] ? "source" : "target", off + m);
			else
				record(c, RH_FV_CONTENT, rel,
				       "first differing byte at offset %" PRIu64 "; CRC-64 of the %zd-byte "
				       "chunk at %" PRIu64 ": source %016" PRIx64 ", target %016" PRIx64,
				       off + k, n[SRC], off, crc[SRC], crc[TGT]);
			goto out;
		}
		off += (uint64_t)n[SRC];
		if ((size_t)n[SRC] < c->bufsz)
			break;
		if ((rc = tick(c)) < 0)
			goto out;
	}
	rh_log_debug3("%s: %" PRIu64 " bytes, crc64 %016" PRIx64, rel, off, crc_whole[SRC]);
out:
	/* Count the whole file as covered, also when it stopped early. */
	if (covered < size && rc == 0)
		c->st->bytes_checked += size - covered;
	for (int i = 0; i < 2; i++)
		if (fd[i] >= 0)
			close(fd[i]);
	return rc;
}

/* ---- comparing one name ---- */

static int link_target(int dfd, const char *name, char *buf, size_t len)
{
	ssize_t n = readlinkat(dfd, name, buf, len - 1);

	if (n < 0)
		return -errno;
	buf[n] = '\0';
	return 0;
}

/* Compare name (at rel) in the directories dfd[] (-1 = the directory does
 * not exist on that side). Returns 1 when rel is a directory on both sides
 * that the caller should descend into, 0 when done, or a negative error. */
static int compare_entry(struct ctx *c, const int dfd[2], const char *name, const char *rel)
{
	struct statx x[2];
	bool have[2] = { false, false };
	char d0[96], d1[96];
	int rc;

	if ((rc = tick(c)) < 0)
		return rc;
	if (c->root_len + 1 + strlen(rel) >= RH_FVERIFY_MAX_PATH) {
		record_skip(c, RH_FV_SKIP_PATH, rel, "source path of %zu bytes; the limit is %u",
			    c->root_len + 1 + strlen(rel), RH_FVERIFY_MAX_PATH - 1);
		return 0;
	}
	for (int i = 0; i < 2; i++) {
		if (dfd[i] < 0)
			continue;
		if (statx(dfd[i], name, AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT,
			  STATX_BASIC_STATS | STATX_MNT_ID, &x[i]) == 0) {
			have[i] = true;
		} else if (errno != ENOENT && errno != ENOTDIR) {
			record(c, RH_FV_UNREADABLE, rel, "%s: stat: %s (errno %d)", c->s[i].name,
			       strerror(errno), errno);
			return 0;
		}
	}
	if (!have[SRC] && !have[TGT])
		return 0;
	for (int i = 0; i < 2; i++) {
		if (have[i] && is_mount(&c->s[i], &x[i])) {
			record_skip(c, RH_FV_SKIP_MOUNT, rel, "mount point on the %s%s", c->s[i].name,
				    have[!i] ? "" : !i ? " (not on the source)" : " (not on the target)");
			return 0;
		}
	}
	if (!have[TGT] || !have[SRC]) {
		describe(&x[have[SRC] ? SRC : TGT], d0, sizeof d0);
		record(c, have[SRC] ? RH_FV_MISSING : RH_FV_EXTRA, rel, "%s", d0);
		return 0;
	}
	if ((x[SRC].stx_mode & S_IFMT) != (x[TGT].stx_mode & S_IFMT)) {
		describe(&x[SRC], d0, sizeof d0);
		describe(&x[TGT], d1, sizeof d1);
		record(c, RH_FV_TYPE, rel, "source %s, target %s", d0, d1);
		return 0;
	}
	if (S_ISDIR(x[SRC].stx_mode)) {
		c->st->dirs_checked++;
		return 1;
	}
	c->st->files_checked++;
	switch (x[SRC].stx_mode & S_IFMT) {
	case S_IFLNK: {
		char t0[LINK_MAX_LEN], t1[LINK_MAX_LEN];

		for (int i = 0; i < 2; i++) {
			rc = link_target(dfd[i], name, i ? t1 : t0, LINK_MAX_LEN);
			if (rc < 0) {
				record(c, RH_FV_UNREADABLE, rel, "%s: readlink: %s (errno %d)",
				       c->s[i].name, strerror(-rc), -rc);
				return 0;
			}
		}
		if (strcmp(t0, t1) != 0)
			record(c, RH_FV_LINK, rel, "source -> %s, target -> %s", t0, t1);
		return 0;
	}
	case S_IFCHR:
	case S_IFBLK:
		if (x[SRC].stx_rdev_major != x[TGT].stx_rdev_major ||
		    x[SRC].stx_rdev_minor != x[TGT].stx_rdev_minor) {
			describe(&x[SRC], d0, sizeof d0);
			describe(&x[TGT], d1, sizeof d1);
			record(c, RH_FV_TYPE, rel, "source %s, target %s", d0, d1);
		}
		return 0;
	case S_IFREG:
		break;
	default:
		return 0; /* fifos and sockets: the type is all there is */
	}
	if (x[SRC].stx_size != x[TGT].stx_size) {
		c->st->bytes_checked += x[SRC].stx_size;
		record(c, RH_FV_SIZE, rel, "source %" PRIu64 " bytes, target %" PRIu64 " bytes",
		       (uint64_t)x[SRC].stx_size, (uint64_t)x[TGT].stx_size);
		return 0;
	}
	if (c->mode == RH_FVERIFY_QUICK) {
		c->st->bytes_checked += x[SRC].stx_size;
		if (!mtime_equal(&x[SRC].stx_mtime, &x[TGT].stx_mtime)) {
			fmt_time(&x[SRC].stx_mtime, d0, sizeof d0);
			fmt_time(&x[TGT].stx_mtime, d1, sizeof d1);
			record(c, RH_FV_MTIME, rel, "source %s, target %s", d0, d1);
		}
		return 0;
	}
	return compare_content(c, dfd, name, rel, x[SRC].stx_size);
}

/* ---- walking ---- */

/* rel + "/" + name (or name when rel is "."), malloc'd; NULL when out of memory. */
static char *join(const char *rel, const char *name)
{
	char *p = NULL;

	if (strcmp(rel, ".") == 0)
		return strdup(name);
	if (asprintf(&p, "%s/%s", rel, name) < 0)
		return NULL;
	return p;
}

/* Open rel as a directory on both sides and list it. On return *dirs[i] is
 * NULL for a side where rel cannot be opened (absent: not recorded; other
 * errors are recorded as unreadable). Returns 0, 1 when rel was recorded
 * (unreadable or too many entries) and should not be compared further, or
 * a negative error. */
static int open_pair(struct ctx *c, const char *rel, DIR *dirs[2], struct names l[2])
{
	bool nomem;
	int r;

	for (int i = 0; i < 2; i++) {
		int fd = open_beneath(&c->s[i], rel, O_RDONLY | O_DIRECTORY);

		dirs[i] = NULL;
		if (fd < 0) {
			if (errno == ENOENT || errno == ENOTDIR || errno == ELOOP)
				continue;
			if (errno == EXDEV) {
				record_skip(c, RH_FV_SKIP_MOUNT, rel, "path crosses a mount point on the %s",
					    c->s[i].name);
				return 1;
			}
			record(c, RH_FV_UNREADABLE, rel, "%s: open directory: %s (errno %d)",
			       c->s[i].name, strerror(errno), errno);
			return 1;
		}
		dirs[i] = fdopendir(fd);
		if (dirs[i] == NULL) {
			close(fd);
			return rh_seterr(RH_ERR_NOMEM, "fdopendir %s", rel);
		}
	}
	for (int i = 0; i < 2; i++) {
		if (dirs[i] == NULL)
			continue;
		r = list_dir(dirs[i], c->max_entries, &l[i], &nomem);
		if (nomem)
			return r;
		if (r == 1) {
			record_skip(c, RH_FV_SKIP_ENTRIES, rel,
				    "the %s directory has more than %u entries; its contents were not compared",
				    c->s[i].name, c->max_entries);
			return 1;
		}
		if (r < 0) {
			record(c, RH_FV_UNREADABLE, rel, "%s: list directory: %s (errno %d)",
			       c->s[i].name, strerror(-r), -r);
			return 1;
		}
	}
	return 0;
}

/* Compare the contents of directory rel (already known to be a directory
 * on both sides, same filesystem) and recurse. */
static int walk_dir(struct ctx *c, const char *rel)
{
	DIR *dirs[2] = { NULL, NULL };
	struct names l[2] = { { 0 }, { 0 } }, sub = { 0 };
	size_t i = 0, j = 0;
	int rc, dfd[2];

	rc = open_pair(c, rel, dirs, l);
	if (rc != 0)
		goto out;
	if (dirs[SRC] == NULL || dirs[TGT] == NULL) {
		/* Replaced or removed since its parent was listed. */
		record(c, dirs[SRC] ? RH_FV_MISSING : RH_FV_EXTRA, rel, "directory (vanished during verify)");
		goto out;
	}
	dfd[SRC] = dirfd(dirs[SRC]);
	dfd[TGT] = dirfd(dirs[TGT]);
	while (i < l[SRC].n || j < l[TGT].n) {
		const char *name;
		int cmp, fds[2];
		char *crel;

		if (i >= l[SRC].n)
			cmp = 1;
		else if (j >= l[TGT].n)
			cmp = -1;
		else
			cmp = strcmp(l[SRC].v[i], l[TGT].v[j]);
		name = cmp <= 0 ? l[SRC].v[i] : l[TGT].v[j];
		fds[SRC] = cmp <= 0 ? dfd[SRC] : -1;
		fds[TGT] = cmp >= 0 ? dfd[TGT] : -1;
		crel = join(rel, name);
		if (crel == NULL) {
			rc = rh_seterr(RH_ERR_NOMEM, "path");
			goto out;
		}
		rc = compare_entry(c, fds, name, crel);
		free(crel);
		if (rc == 1)
			rc = names_add(&sub, name);
		if (rc < 0)
			goto out;
		if (cmp <= 0)
			i++;
		if (cmp >= 0)
			j++;
	}
	/* Descend with this level's descriptors closed. */
	for (int k = 0; k < 2; k++) {
		closedir(dirs[k]);
		dirs[k] = NULL;
		names_clear(&l[k]);
	}
	for (size_t k = 0; k < sub.n; k++) {
		char *crel = join(rel, sub.v[k]);

		if (crel == NULL) {
			rc = rh_seterr(RH_ERR_NOMEM, "path");
			goto out;
		}
		rc = walk_dir(c, crel);
		free(crel);
		if (rc < 0)
			goto out;
	}
	rc = 0;
out:
	for (int k = 0; k < 2; k++) {
		if (dirs[k])
			closedir(dirs[k]);
		names_clear(&l[k]);
	}
	names_clear(&sub);
	return rc < 0 ? rc : 0;
}

/* Count what the walk will cover, for the progress percentage. */
static int prescan_dir(struct ctx *c, const char *rel)
{
	struct names l = { 0 }, sub = { 0 };
	DIR *d = NULL;
	bool nomem;
	int fd, rc = 0;

	fd = open_beneath(&c->s[SRC], rel, O_RDONLY | O_DIRECTORY);
	if (fd < 0 || (d = fdopendir(fd)) == NULL) {
		if (fd >= 0)
			close(fd);
		return 0;
	}
	c->total_files++;
	rc = list_dir(d, c->max_entries, &l, &nomem);
	if (rc != 0) {
		rc = nomem ? rc : 0;
		goto out;
	}
	for (size_t i = 0; i < l.n; i++) {
		struct statx x;

		if (c->o->stop != NULL && *c->o->stop)
			break;
		if (statx(dirfd(d), l.v[i], AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT,
			  STATX_TYPE | STATX_SIZE | STATX_MNT_ID, &x) < 0 ||
		    is_mount(&c->s[SRC], &x))
			continue;
		if (S_ISDIR(x.stx_mode)) {
			if ((rc = names_add(&sub, l.v[i])) < 0)
				goto out;
			continue;
		}
		c->total_files++;
		if (S_ISREG(x.stx_mode))
			c->total_bytes += x.stx_size;
	}
	closedir(d);
	d = NULL;
	names_clear(&l);
	for (size_t i = 0; i < sub.n; i++) {
		char *crel = join(rel, sub.v[i]);

		if (crel == NULL) {
			rc = rh_seterr(RH_ERR_NOMEM, "path");
			goto out;
		}
		if (c->root_len + 1 + strlen(crel) < RH_FVERIFY_MAX_PATH)
			rc = prescan_dir(c, crel);
		free(crel);
		if (rc < 0)
			goto out;
	}
out:
	if (d)
		closedir(d);
	names_clear(&l);
	names_clear(&sub);
	return rc;
}

/* ---- recheck ---- */

/* Order paths so that every path is followed directly by its descendants:
 * '/' sorts before every other byte. */
static int cmp_paths(const void *a, const void *b)
{
	const unsigned char *p = (const unsigned char *)*(const char *const *)a;
	const unsigned char *q = (const unsigned char *)*(const char *const *)b;

	for (; *p && *p == *q; p++, q++)
		;
	if (*p == *q)
		return 0;
	if (*p == '/')
		return *q ? -1 : 1;
	if (*q == '/')
		return *p ? 1 : -1;
	return *p < *q ? -1 : 1;
}

static int recheck_one(struct ctx *c, const char *rel)
{
	const char *slash = strrchr(rel, '/'), *name;
	char *parent = NULL;
	int fds[2] = { -1, -1 }, rc = 0;

	if (strcmp(rel, ".") == 0) {
		c->st->dirs_checked++;
		return walk_dir(c, ".");
	}
	parent = slash ? strndup(rel, (size_t)(slash - rel)) : strdup(".");
	if (parent == NULL)
		return rh_seterr(RH_ERR_NOMEM, "path");
	name = slash ? slash + 1 : rel;
	for (int i = 0; i < 2; i++) {
		fds[i] = open_beneath(&c->s[i], parent, O_RDONLY | O_DIRECTORY);
		if (fds[i] >= 0 || errno == ENOENT || errno == ENOTDIR || errno == ELOOP)
			continue;
		if (errno == EXDEV)
			record_skip(c, RH_FV_SKIP_MOUNT, rel, "path crosses a mount point on the %s",
				    c->s[i].name);
		else
			record(c, RH_FV_UNREADABLE, rel, "%s: open %s: %s (errno %d)", c->s[i].name,
			       parent, strerror(errno), errno);
		goto out;
	}
	rc = compare_entry(c, fds, name, rel);
	if (rc == 1) {
		for (int i = 0; i < 2; i++) {
			close(fds[i]);
			fds[i] = -1;
		}
		rc = walk_dir(c, rel);
	}
out:
	for (int i = 0; i < 2; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	free(parent);
	return rc < 0 ? rc : 0;
}

static int recheck_all(struct ctx *c, const struct rh_fverify_log *prev)
{
	size_t n = rh_fverify_log_count(prev), m = 0;
	const char **paths = NULL, *last = NULL;
	int rc = 0;

	paths = calloc(n ? n : 1, sizeof *paths);
	if (paths == NULL)
		return rh_seterr(RH_ERR_NOMEM, "recheck list of %zu paths", n);
	for (size_t i = 0; i < n; i++) {
		const struct rh_fverify_entry *e = rh_fverify_log_at(prev, i);

		if (e->kind != RH_FV_SKIPPED)
			paths[m++] = e->path;
	}
	qsort(paths, m, sizeof *paths, cmp_paths);
	for (size_t i = 0; i < m; i++) {
		if (strcmp(paths[i], ".") == 0) { /* the root covers everything */
			paths[0] = paths[i];
			m = 1;
			break;
		}
	}
	/* The root or a directory listed covers everything below it. */
	for (size_t i = 0; i < m; i++) {
		size_t ll = last ? strlen(last) : 0;

		if (last != NULL && (strcmp(last, paths[i]) == 0 ||
				     (strncmp(paths[i], last, ll) == 0 && paths[i][ll] == '/')))
			continue;
		last = paths[i];
		c->st->rechecked++;
		if ((rc = recheck_one(c, paths[i])) < 0)
			break;
	}
	free(paths);
	return rc;
}

/* ---- summary ---- */

json_t *rh_fverify_summary_json(const struct rh_fverify_stats *st, const char *result_log)
{
	json_t *j = json_object(), *mm = json_object(), *sk = json_object();

	if (j == NULL || mm == NULL || sk == NULL) {
		json_decref(j);
		json_decref(mm);
		json_decref(sk);
		return NULL;
	}
	for (int k = 0; k < RH_FV_NMISMATCH; k++)
		json_object_set_new(mm, rh_fverify_kind_name((enum rh_fverify_kind)k),
				    json_integer((json_int_t)st->count[k]));
	for (int k = 0; k < RH_FV_NSKIP; k++)
		json_object_set_new(sk, rh_fverify_skip_name((enum rh_fverify_skip)k),
				    json_integer((json_int_t)st->skipped[k]));
	json_object_set_new(j, "mode", json_string(rh_fverify_mode_name(st->mode)));
	json_object_set_new(j, "recheck", json_boolean(st->recheck));
	json_object_set_new(j, "source", json_string(st->source));
	json_object_set_new(j, "target", json_string(st->target));
	json_object_set_new(j, "identical", json_boolean(st->mismatches == 0));
	json_object_set_new(j, "files_checked", json_integer((json_int_t)st->files_checked));
	json_object_set_new(j, "dirs_checked", json_integer((json_int_t)st->dirs_checked));
	json_object_set_new(j, "bytes_checked", json_integer((json_int_t)st->bytes_checked));
	json_object_set_new(j, "bytes_read", json_integer((json_int_t)st->bytes_read));
	if (st->recheck)
		json_object_set_new(j, "rechecked", json_integer((json_int_t)st->rechecked));
	json_object_set_new(j, "mismatches_total", json_integer((json_int_t)st->mismatches));
	json_object_set_new(j, "mismatches", mm);
	json_object_set_new(j, "skipped_total", json_integer((json_int_t)st->count[RH_FV_SKIPPED]));
	json_object_set_new(j, "skipped", sk);
	json_object_set_new(j, "duration_ms", json_integer((json_int_t)(st->seconds * 1000)));
	if (result_log)
		json_object_set_new(j, "result_log", json_string(result_log));
	return j;
}

static int write_summary(const struct rh_fverify_opts *o, const struct rh_fverify_stats *st)
{
	char *tmp = NULL;
	json_t *j = NULL;
	int fd = -1, rc;

	j = rh_fverify_summary_json(st, o->result_log);
	if (j == NULL || asprintf(&tmp, "%s.tmp", o->summary_path) < 0) {
		tmp = NULL;
		rc = rh_seterr(RH_ERR_NOMEM, "summary");
		goto out;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	if (fd < 0) {
		rc = rh_seterr_errno(errno, "%s", tmp);
		goto out;
	}
	rc = rh_json_dump_fd(fd, j, 1);
	if (rc == 0 && (fsync(fd) < 0 || close(fd) < 0))
		rc = rh_seterr_errno(errno, "%s", tmp);
	else if (rc < 0)
		close(fd);
	fd = -1;
	if (rc == 0 && rename(tmp, o->summary_path) < 0)
		rc = rh_seterr_errno(errno, "%s", o->summary_path);
	if (rc < 0)
		unlink(tmp);
out:
	json_decref(j);
	free(tmp);
	return rc;
}

/* ---- the run ---- */

static int open_root(struct side *sd, const char *path)
{
	struct statx x;

	sd->rootfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (sd->rootfd < 0)
		return rh_seterr_errno(errno, "%s %s", sd->name, path);
	if (statx(sd->rootfd, "", AT_EMPTY_PATH, STATX_BASIC_STATS | STATX_MNT_ID, &x) < 0)
		return rh_seterr_errno(errno, "%s %s", sd->name, path);
	sd->dev = makedev(x.stx_dev_major, x.stx_dev_minor);
	sd->have_mnt = (x.stx_mask & STATX_MNT_ID) != 0;
	sd->mnt_id = x.stx_mnt_id;
	sd->noatime = true;
	return 0;
}

int rh_fverify_run(const struct rh_fverify_opts *o, struct rh_fverify_stats *st)
{
	struct ctx c = { .o = o, .st = st };
	struct rh_fverify_log *prev = NULL;
	char *tmp = NULL;
	int rc, fd = -1;

	memset(st, 0, sizeof *st);
	c.s[SRC] = (struct side){ .name = "source", .rootfd = -1 };
	c.s[TGT] = (struct side){ .name = "target", .rootfd = -1 };
	clock_gettime(CLOCK_MONOTONIC, &c.t0);
	if (o->source == NULL || o->target == NULL || o->result_log == NULL) {
		rc = rh_seterr(RH_ERR_INVAL, "source, target and result log are required");
		goto out;
	}
	if ((rc = rh_fverify_check_root(o->source, st->source, sizeof st->source)) < 0 ||
	    (rc = rh_fverify_check_root(o->target, st->target, sizeof st->target)) < 0) {
		/* rh_seterr formats before it records, so wrapping the
		 * detail in place is safe. */
		rc = rh_seterr(rc, "%s %s", st->source[0] ? "target" : "source", rh_lasterr());
		goto out;
	}
	if (path_within(st->source, st->target) || path_within(st->target, st->source)) {
		rc = rh_seterr(RH_ERR_INVAL, "source %s and target %s overlap: one contains the other",
			       st->source, st->target);
		goto out;
	}
	c.root_len = strlen(st->source);
	c.mode = o->mode;
	st->recheck = o->recheck;
	if (o->recheck) {
		const char *pl = o->prev_log ? o->prev_log : o->result_log;

		rc = rh_fverify_log_load(pl, &prev);
		if (rc == RH_ERR_NOTFOUND) {
			rc = rh_seterr(RH_ERR_NOTFOUND, "recheck needs the result log of an earlier verify, "
				       "and %s does not exist: run verify without --recheck first", pl);
			goto out;
		}
		if (rc < 0)
			goto out;
		if ((*rh_fverify_log_source(prev) && strcmp(rh_fverify_log_source(prev), st->source)) ||
		    (*rh_fverify_log_target(prev) && strcmp(rh_fverify_log_target(prev), st->target))) {
			rc = rh_seterr(RH_ERR_STATE, "%s is the result of verifying %s against %s, not %s "
				       "against %s", pl, rh_fverify_log_source(prev),
				       rh_fverify_log_target(prev), st->source, st->target);
			goto out;
		}
		if (c.mode == RH_FVERIFY_DEFAULT)
			c.mode = rh_fverify_log_mode(prev);
	}
	if (c.mode != RH_FVERIFY_QUICK && c.mode != RH_FVERIFY_CRC)
		c.mode = RH_FVERIFY_QUICK;
	st->mode = c.mode;
	c.max_entries = o->max_dir_entries ? o->max_dir_entries : RH_FVERIFY_MAX_DIR_ENTRIES;
	c.interval = o->progress_interval > 0 ? o->progress_interval : 5.0;
	if ((rc = open_root(&c.s[SRC], st->source)) < 0 || (rc = open_root(&c.s[TGT], st->target)) < 0)
		goto out;
	if (c.mode == RH_FVERIFY_CRC) {
		c.bufsz = o->buf_size ? o->buf_size : DEFAULT_BUF;
		if (c.bufsz > MAX_BUF)
			c.bufsz = MAX_BUF;
		for (int i = 0; i < 2; i++) {
			if (posix_memalign((void **)&c.buf[i], 4096, c.bufsz) != 0) {
				c.buf[i] = NULL;
				rc = rh_seterr(RH_ERR_NOMEM, "read buffer of %zu bytes", c.bufsz);
				goto out;
			}
		}
	}
	if (asprintf(&tmp, "%s.tmp", o->result_log) < 0) {
		tmp = NULL;
		rc = rh_seterr(RH_ERR_NOMEM, "result log");
		goto out;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	if (fd < 0 || (c.logf = fdopen(fd, "w")) == NULL) {
		rc = rh_seterr_errno(errno, "result log %s", tmp);
		goto out;
	}
	fd = -1;
	verifylog_put_header(c.logf, c.mode, o->recheck, st->source, st->target);
	rh_log_info("verify %s%s: source %s, target %s", rh_fverify_mode_name(c.mode),
		    o->recheck ? " (recheck)" : "", st->source, st->target);

	if (o->progress != NULL) {
		if (o->recheck)
			c.total_files = rh_fverify_log_count(prev);
		else if ((rc = prescan_dir(&c, ".")) < 0)
			goto out;
	}
	if (o->recheck) {
		rc = recheck_all(&c, prev);
	} else {
		st->dirs_checked++; /* the root */
		rc = walk_dir(&c, ".");
	}
	if (rc < 0)
		goto out;
	fprintf(c.logf, "# end: %" PRIu64 "\n", st->mismatches + st->count[RH_FV_SKIPPED]);
	if (fflush(c.logf) != 0 || ferror(c.logf) || fsync(fileno(c.logf)) < 0) {
		rc = rh_seterr_errno(errno ? errno : EIO, "result log %s", tmp);
		goto out;
	}
	fd = fileno(c.logf);
	c.logf = NULL;
	if (close(fd) < 0) {
		fd = -1;
		rc = rh_seterr_errno(errno, "result log %s", tmp);
		goto out;
	}
	fd = -1;
	if (rename(tmp, o->result_log) < 0) {
		rc = rh_seterr_errno(errno, "result log %s", o->result_log);
		goto out;
	}
	st->seconds = now_since(&c.t0);
	if (o->progress != NULL)
		progress_report(&c, st->seconds, true);
	if (o->summary_path != NULL && (rc = write_summary(o, st)) < 0)
		goto out;
	rh_log_info("verify %s: %" PRIu64 " files, %" PRIu64 " directories, %" PRIu64
		    " mismatches, %" PRIu64 " skipped, %.1f s", rh_fverify_mode_name(c.mode),
		    st->files_checked, st->dirs_checked, st->mismatches, st->count[RH_FV_SKIPPED],
		    st->seconds);
	rc = 0;
out:
	st->seconds = now_since(&c.t0);
	if (c.logf != NULL)
		fclose(c.logf);
	if (fd >= 0)
		close(fd);
	if (rc < 0 && tmp != NULL)
		unlink(tmp);
	free(tmp);
	for (int i = 0; i < 2; i++) {
		free(c.buf[i]);
		if (c.s[i].rootfd >= 0)
			close(c.s[i].rootfd);
	}
	rh_fverify_log_free(prev);
	return rc;
}
