/*
 * Files below the target root, which is untrusted data: a migrated system
 * may hold any symlink. Paths are first resolved by hand with chroot
 * semantics, as the booted target will see them: an absolute symlink starts
 * again at the root, and ".." at the root stays there (a relative link
 * with one ".." too many is harmless on the real system; one built to
 * escape lands inside the root). A path given by the caller that climbs
 * above the root is refused. Then
 * opened one component at a time with O_NOFOLLOW from the root's
 * descriptor, so a symlink that appears between the two steps makes the
 * open fail instead of leading out of the root. Nothing runs in the target
 * while postconf edits it, so this is a guard, not a race we expect.
 */
#define RH_LOG_COMPONENT "postconf"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "postconf/internal.h"
#include "rehost/err.h"
#include "rehost/log.h"

/* "/a/b" (length clen) -> "/a"; "/a" -> "". Returns the new length. */
static size_t pop_component(char *canon, size_t clen)
{
	while (clen > 0 && canon[clen - 1] != '/')
		clen--;
	if (clen > 0)
		clen--; /* the slash */
	canon[clen] = '\0';
	return clen;
}

int pc_resolve(const struct rh_pc *pc, const char *path, bool follow, char *out, bool *exists)
{
	/* rest holds what is left to walk; canon what has been walked (no
	 * symlinks), as "/a/b" or "" for the root. */
	char rest[PATH_MAX * 2], canon[PATH_MAX], link[PATH_MAX], tmp[PATH_MAX * 2];
	size_t clen = 0;
	unsigned links = 0;
	bool missing = false;
	char *p;

	if (strlen(path) >= PATH_MAX)
		return rh_seterr(RH_ERR_TOOBIG, "path too long: %.64s...", path);
	strcpy(rest, path);
	canon[0] = '\0';
	p = rest;
	for (;;) {
		char *end;
		size_t n;
		bool last;
		struct stat st;

		while (*p == '/')
			p++;
		if (*p == '\0')
			break;
		end = strchrnul(p, '/');
		n = (size_t)(end - p);
		last = end[strspn(end, "/")] == '\0';
		if (n == 1 && p[0] == '.') {
			p = end;
			continue;
		}
		if (n == 2 && p[0] == '.' && p[1] == '.') {
			if (clen == 0 && links == 0)
				return rh_seterr(RH_ERR_PERM,
						 "%s: '..' leads above the target root; refusing it",
						 path);
			if (clen == 0) {
				/* As the booted target (and the kernel's
				 * RESOLVE_IN_ROOT) sees it: ".." of "/" is "/". */
				rh_log_warn("%s%s: a symlink on the way leads above the target "
					    "root; resolved inside it", pc->root, path);
				p = end;
				continue;
			}
			clen = pop_component(canon, clen);
			/* A missing directory may have been the one left. */
			missing = clen > 0 && fstatat(pc->rootfd, canon + 1, &st,
						      AT_SYMLINK_NOFOLLOW) != 0;
			p = end;
			continue;
		}
		if (n > NAME_MAX)
			return rh_seterr(RH_ERR_INVAL, "%s: a component is longer than %d bytes",
					 path, NAME_MAX);
		if (clen + 1 + n >= sizeof canon)
			return rh_seterr(RH_ERR_TOOBIG, "path too long: %.64s...", path);
		canon[clen++] = '/';
		memcpy(canon + clen, p, n);
		clen += n;
		canon[clen] = '\0';
		p = end;
		if (missing)
			continue;
		if (fstatat(pc->rootfd, canon + 1, &st, AT_SYMLINK_NOFOLLOW) != 0) {
			if (errno != ENOENT && errno != ENOTDIR)
				return rh_seterr_errno(errno, "%s%s", pc->root, canon);
			missing = true;
			continue;
		}
		if (S_ISLNK(st.st_mode) && (!last || follow)) {
			ssize_t l;

			if (++links > PC_MAX_LINKS)
				return rh_seterr(RH_ERR_INVAL, "%s: more than %u symlinks", path,
						 PC_MAX_LINKS);
			l = readlinkat(pc->rootfd, canon + 1, link, sizeof link - 1);
			if (l < 0)
				return rh_seterr_errno(errno, "%s%s", pc->root, canon);
			if ((size_t)l >= sizeof link - 1)
				return rh_seterr(RH_ERR_TOOBIG, "%s%s: symlink target too long",
						 pc->root, canon);
			link[l] = '\0';
			/* Drop the link's own name; absolute targets restart at the root. */
			clen = link[0] == '/' ? 0 : pop_component(canon, clen);
			canon[clen] = '\0';
			if ((size_t)snprintf(tmp, sizeof tmp, "%s%s", link, end) >= sizeof rest)
				return rh_seterr(RH_ERR_TOOBIG, "path too long: %.64s...", path);
			strcpy(rest, tmp);
			p = rest;
		}
	}
	if (clen == 0)
		strcpy(out, "/");
	else
		memcpy(out, canon, clen + 1);
	if (exists)
		*exists = !missing;
	return 0;
}

/* "/a/b/c" -> dir "/a/b", base "c"; "/c" -> "/", "c". */
static void split(const char *canon, char *dir, const char **base)
{
	const char *slash = strrchr(canon, '/');
	size_t n = (size_t)(slash - canon);

	if (n == 0) {
		strcpy(dir, "/");
	} else {
		memcpy(dir, canon, n);
		dir[n] = '\0';
	}
	*base = slash + 1;
}

int pc_opendir(const struct rh_pc *pc, const char *dir, bool create, mode_t mode, int *fd)
{
	char buf[PATH_MAX];
	char *save = NULL, *comp;
	int cur;

	*fd = -1;
	if (strlen(dir) >= sizeof buf)
		return rh_seterr(RH_ERR_TOOBIG, "path too long");
	strcpy(buf, dir);
	cur = openat(pc->rootfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cur < 0)
		return rh_seterr_errno(errno, "%s", pc->root);
	for (comp = strtok_r(buf, "/", &save); comp; comp = strtok_r(NULL, "/", &save)) {
		int next = openat(cur, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

		if (next < 0 && errno == ENOENT && create) {
			if (mkdirat(cur, comp, mode) != 0 && errno != EEXIST) {
				int e = errno;

				close(cur);
				return rh_seterr_errno(e, "mkdir %s%s", pc->root, dir);
			}
			next = openat(cur, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		}
		if (next < 0) {
			int e = errno;

			close(cur);
			if (e == ENOENT)
				return RH_ERR_NOTFOUND;
			/* ELOOP/ENOTDIR: a symlink or file appeared where the
			 * resolved path had a directory. */
			return rh_seterr_errno(e, "%s%s", pc->root, dir);
		}
		close(cur);
		cur = next;
	}
	*fd = cur;
	return 0;
}

/* Open the parent directory of canonical path canon; *base points into
 * canon. */
static int open_parent(const struct rh_pc *pc, const char *canon, int *dfd, const char **base)
{
	char dir[PATH_MAX];

	split(canon, dir, base);
	if (**base == '\0')
		return rh_seterr(RH_ERR_INVAL, "the target root itself is not a file");
	return pc_opendir(pc, dir, false, 0, dfd);
}

int pc_stat(const struct rh_pc *pc, const char *path, bool follow, struct stat *st, char *canon)
{
	char c[PATH_MAX];
	const char *base;
	bool exists;
	int rc, dfd;

	rc = pc_resolve(pc, path, follow, c, &exists);
	if (rc < 0)
		return rc;
	if (canon)
		strcpy(canon, c);
	if (!exists)
		return RH_ERR_NOTFOUND;
	if (strcmp(c, "/") == 0)
		return fstat(pc->rootfd, st) == 0 ? 0 : rh_seterr_errno(errno, "%s", pc->root);
	rc = open_parent(pc, c, &dfd, &base);
	if (rc < 0)
		return rc;
	if (fstatat(dfd, base, st, AT_SYMLINK_NOFOLLOW) != 0)
		rc = errno == ENOENT ? RH_ERR_NOTFOUND : rh_seterr_errno(errno, "%s%s", pc->root, c);
	close(dfd);
	return rc;
}

bool pc_exists(const struct rh_pc *pc, const char *path)
{
	struct stat st;

	return pc_stat(pc, path, false, &st, NULL) == 0;
}

/* Read all of fd (a regular file) up to max bytes. */
static int read_fd(int fd, const char *what, size_t max, char **buf, size_t *len)
{
	struct stat st;
	size_t n = 0, cap;
	char *b;

	if (fstat(fd, &st) != 0)
		return rh_seterr_errno(errno, "%s", what);
	if ((uint64_t)st.st_size > max)
		return rh_seterr(RH_ERR_TOOBIG, "%s: %lld bytes, more than the %zu allowed", what,
				 (long long)st.st_size, max);
	cap = (size_t)st.st_size + 1;
	b = malloc(cap);
	if (b == NULL)
		return RH_ERR_NOMEM;
	for (;;) {
		ssize_t got;

		if (n + 1 == cap) {
			/* Grew since fstat: allow up to max. */
			char *nb;

			if (cap > max) {
				free(b);
				return rh_seterr(RH_ERR_TOOBIG, "%s: more than %zu bytes", what, max);
			}
			cap = cap * 2 > max + 1 ? max + 1 : cap * 2;
			nb = realloc(b, cap);
			if (nb == NULL) {
				free(b);
				return RH_ERR_NOMEM;
			}
			b = nb;
		}
		got = read(fd, b + n, cap - n - 1);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			int e = errno;

			free(b);
			return rh_seterr_errno(e, "read %s", what);
		}
		if (got == 0)
			break;
		n += (size_t)got;
	}
	b[n] = '\0';
	*buf = b;
	if (len)
		*len = n;
	return 0;
}

int pc_read(const struct rh_pc *pc, const char *path, size_t max, char **buf, size_t *len,
	    char *canon, struct stat *st)
{
	char c[PATH_MAX], what[PATH_MAX + 64];
	const char *base;
	struct stat sb;
	bool exists;
	int rc, dfd, fd;

	*buf = NULL;
	if (len)
		*len = 0;
	rc = pc_resolve(pc, path, true, c, &exists);
	if (rc < 0)
		return rc;
	if (canon)
		strcpy(canon, c);
	if (!exists)
		return RH_ERR_NOTFOUND;
	rc = open_parent(pc, c, &dfd, &base);
	if (rc < 0)
		return rc;
	snprintf(what, sizeof what, "%s (%s on the target)", path, c);
	fd = openat(dfd, base, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	close(dfd);
	if (fd < 0)
		return errno == ENOENT ? RH_ERR_NOTFOUND : rh_seterr_errno(errno, "%s", what);
	if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
		close(fd);
		return rh_seterr(RH_ERR_INVAL, "%s is not a regular file", what);
	}
	rc = read_fd(fd, what, max, buf, len);
	close(fd);
	if (rc == 0 && st)
		*st = sb;
	return rc;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int pc_list(const struct rh_pc *pc, const char *path, char ***names, size_t *n)
{
	char c[PATH_MAX];
	char **v = NULL;
	size_t cnt = 0, cap = 0;
	struct dirent *de;
	struct stat st;
	DIR *d;
	int rc, fd;

	*names = NULL;
	*n = 0;
	rc = pc_stat(pc, path, true, &st, c);
	if (rc < 0)
		return rc;
	if (!S_ISDIR(st.st_mode))
		return RH_ERR_NOTFOUND;
	rc = pc_opendir(pc, c, false, 0, &fd);
	if (rc < 0)
		return rc;
	d = fdopendir(fd);
	if (d == NULL) {
		close(fd);
		return rh_seterr_errno(errno, "%s%s", pc->root, c);
	}
	rc = 0;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (cnt + 1 >= cap) {
			char **nv;

			if (cap >= PC_MAX_DIRENTS) {
				rc = rh_seterr(RH_ERR_TOOBIG, "%s: more than %u entries", c,
					       PC_MAX_DIRENTS);
				break;
			}
			cap = cap ? cap * 2 : 16;
			nv = realloc(v, cap * sizeof *v);
			if (nv == NULL) {
				rc = RH_ERR_NOMEM;
				break;
			}
			v = nv;
		}
		v[cnt] = strdup(de->d_name);
		if (v[cnt] == NULL) {
			rc = RH_ERR_NOMEM;
			break;
		}
		v[++cnt] = NULL;
	}
	closedir(d);
	if (rc < 0) {
		if (v)
			v[cnt] = NULL;
		pc_names_free(v);
		return rc;
	}
	if (v == NULL) {
		v = calloc(1, sizeof *v);
		if (v == NULL)
			return RH_ERR_NOMEM;
	}
	qsort(v, cnt, sizeof *v, cmp_names);
	*names = v;
	*n = cnt;
	return 0;
}

void pc_names_free(char **names)
{
	if (names == NULL)
		return;
	for (char **p = names; *p; p++)
		free(*p);
	free(names);
}

/* ---- backups ---- */

static bool path_under(const char *path, const char *dir)
{
	size_t n = strlen(dir);

	return n > 0 && strncmp(path, dir, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

/* Create this run's backup directory on first use. */
static int backup_dir_ready(struct rh_pc *pc)
{
	char base[PATH_MAX], name[48];
	int rc, fd;

	if (pc->backup_rel[0])
		return 0;
	rc = pc_resolve(pc, PC_BACKUP_BASE, true, base, NULL);
	if (rc < 0)
		return rc;
	rc = pc_opendir(pc, base, true, 0700, &fd);
	if (rc < 0)
		return rc == RH_ERR_NOTFOUND ? rh_seterr(RH_ERR_IO, "cannot create %s%s", pc->root, base)
					     : rc;
	/* Two runs within one second get -1, -2... */
	for (unsigned i = 0;; i++) {
		if (i == 0)
			snprintf(name, sizeof name, "%s", pc->stamp);
		else
			snprintf(name, sizeof name, "%s-%u", pc->stamp, i);
		if (mkdirat(fd, name, 0700) == 0)
			break;
		if (errno != EEXIST || i >= 1000) {
			rc = rh_seterr_errno(errno, "mkdir %s%s/%s", pc->root, base, name);
			close(fd);
			return rc;
		}
	}
	close(fd);
	if ((size_t)snprintf(pc->backup_rel, sizeof pc->backup_rel, "%s/%s",
			     strcmp(base, "/") == 0 ? "" : base, name) >= sizeof pc->backup_rel ||
	    (size_t)snprintf(pc->backup_dir, sizeof pc->backup_dir, "%s%s", pc->root,
			     pc->backup_rel) >= sizeof pc->backup_dir) {
		pc->backup_rel[0] = pc->backup_dir[0] = '\0';
		return rh_seterr(RH_ERR_TOOBIG, "backup path too long");
	}
	rh_log_info("backups of changed files go to %s", pc->backup_dir);
	return 0;
}

/* Owner, mode and times of st onto the new copy name in dfd. Ownership
 * can only be given by root; a test run as another user keeps its own. */
static int copy_attrs(int dfd, const char *name, const struct stat *st, const char *what)
{
	struct timespec ts[2] = { st->st_atim, st->st_mtim };

	if (fchownat(dfd, name, st->st_uid, st->st_gid, AT_SYMLINK_NOFOLLOW) != 0 &&
	    errno != EPERM)
		return rh_seterr_errno(errno, "chown %s", what);
	if (!S_ISLNK(st->st_mode) && fchmodat(dfd, name, st->st_mode & 07777, 0) != 0)
		return rh_seterr_errno(errno, "chmod %s", what);
	if (utimensat(dfd, name, ts, AT_SYMLINK_NOFOLLOW) != 0)
		return rh_seterr_errno(errno, "set times of %s", what);
	return 0;
}

static int write_all(int fd, const char *data, size_t len, const char *what)
{
	while (len > 0) {
		ssize_t w = write(fd, data, len);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return rh_seterr_errno(errno, "write %s", what);
		data += w;
		len -= (size_t)w;
	}
	return 0;
}

static int copy_file(int sdfd, int ddfd, const char *name, const struct stat *st,
		     const char *what)
{
	char *buf = NULL;
	size_t len = 0;
	int sfd, dfd = -1, rc;

	sfd = openat(sdfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (sfd < 0)
		return rh_seterr_errno(errno, "open %s", what);
	rc = read_fd(sfd, what, PC_MAX_BACKUP, &buf, &len);
	close(sfd);
	if (rc < 0)
		return rc;
	dfd = openat(ddfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (dfd < 0) {
		rc = rh_seterr_errno(errno, "create backup of %s", what);
		goto out;
	}
	rc = write_all(dfd, buf, len, what);
	if (rc == 0 && fsync(dfd) != 0)
		rc = rh_seterr_errno(errno, "fsync backup of %s", what);
	if (rc == 0)
		rc = copy_attrs(ddfd, name, st, what);
out:
	if (dfd >= 0)
		close(dfd);
	free(buf);
	return rc;
}

static int backup_canon(struct rh_pc *pc, const char *c)
{
	char dst[PATH_MAX * 2], dir[PATH_MAX], what[PATH_MAX + 32], link[PATH_MAX];
	const char *base;
	struct stat st;
	int sdfd = -1, ddfd = -1, rc;

	if (json_object_get(pc->backups, c) != NULL || pc->dry_run)
		return 0;
	if (path_under(c, PC_BACKUP_BASE) || (pc->backup_rel[0] && path_under(c, pc->backup_rel)))
		return rh_seterr(RH_ERR_INVAL, "%s is in the backup area; not backing it up", c);
	snprintf(what, sizeof what, "%s on the target", c);
	rc = open_parent(pc, c, &sdfd, &base);
	if (rc < 0)
		return rc;
	if (fstatat(sdfd, base, &st, AT_SYMLINK_NOFOLLOW) != 0) {
		rc = errno == ENOENT ? 0 : rh_seterr_errno(errno, "%s", what);
		goto out;
	}
	if (!S_ISREG(st.st_mode) && !S_ISLNK(st.st_mode) && !S_ISDIR(st.st_mode)) {
		rc = rh_seterr(RH_ERR_UNSUPPORTED, "%s is not a file, symlink or directory", what);
		goto out;
	}
	rc = backup_dir_ready(pc);
	if (rc < 0)
		goto out;
	split(c, dir, &base);
	if ((size_t)snprintf(dst, sizeof dst, "%s%s", pc->backup_rel,
			     strcmp(dir, "/") == 0 ? "" : dir) >= PATH_MAX) {
		rc = rh_seterr(RH_ERR_TOOBIG, "backup path too long for %s", c);
		goto out;
	}
	rc = pc_opendir(pc, dst, true, 0700, &ddfd);
	if (rc < 0)
		goto out;
	if (S_ISREG(st.st_mode)) {
		rc = copy_file(sdfd, ddfd, base, &st, what);
	} else if (S_ISLNK(st.st_mode)) {
		ssize_t l = readlinkat(sdfd, base, link, sizeof link - 1);

		if (l < 0 || (size_t)l >= sizeof link - 1) {
			rc = rh_seterr_errno(l < 0 ? errno : ENAMETOOLONG, "readlink %s", what);
			goto out;
		}
		link[l] = '\0';
		if (symlinkat(link, ddfd, base) != 0) {
			rc = rh_seterr_errno(errno, "backup of symlink %s", what);
			goto out;
		}
		rc = copy_attrs(ddfd, base, &st, what);
	} else {
		if (mkdirat(ddfd, base, 0700) != 0 && errno != EEXIST) {
			rc = rh_seterr_errno(errno, "backup of directory %s", what);
			goto out;
		}
		rc = copy_attrs(ddfd, base, &st, what);
	}
	if (rc < 0)
		goto out;
	snprintf(dst, sizeof dst, "%s%s", pc->backup_rel, c);
	if (json_object_set_new(pc->backups, c, json_string(dst)) != 0)
		rc = RH_ERR_NOMEM;
out:
	if (sdfd >= 0)
		close(sdfd);
	if (ddfd >= 0)
		close(ddfd);
	return rc;
}

int rh_pc_backup(struct rh_pc *pc, const char *path)
{
	char c[PATH_MAX];
	bool exists;
	int rc = pc_resolve(pc, path, false, c, &exists);

	if (rc < 0 || !exists)
		return rc;
	return backup_canon(pc, c);
}

/* ---- writing ---- */

int pc_write(struct rh_pc *pc, const char *path, const char *data, size_t len, mode_t mode,
	     char *canon)
{
	char lc[PATH_MAX], tc[PATH_MAX], tmp[64], what[PATH_MAX + 32], label[256];
	const char *target = lc, *base;
	char *old = NULL;
	size_t oldlen = 0;
	ssize_t labellen = -1;
	struct stat st;
	bool exists, regular = false;
	int rc, dfd = -1, fd = -1;

	rc = pc_resolve(pc, path, false, lc, &exists);
	if (rc < 0)
		return rc;
	if (exists) {
		rc = pc_stat(pc, lc, false, &st, NULL);
		if (rc < 0)
			return rc;
		if (S_ISLNK(st.st_mode)) {
			bool texists;

			rc = pc_resolve(pc, lc, true, tc, &texists);
			if (rc < 0)
				return rc;
			/* A link to a file: rewrite the file. A dangling link
			 * is replaced; one to anything else is refused. */
			if (texists) {
				rc = pc_stat(pc, tc, false, &st, NULL);
				if (rc < 0)
					return rc;
				if (!S_ISREG(st.st_mode))
					return rh_seterr(RH_ERR_INVAL,
							 "%s on the target leads to %s, not a "
							 "regular file", lc, tc);
				target = tc;
				regular = true;
			}
		} else if (S_ISREG(st.st_mode)) {
			regular = true;
		} else {
			return rh_seterr(RH_ERR_INVAL, "%s on the target is not a regular file", lc);
		}
	}
	if (canon)
		strcpy(canon, target);
	/* A new file in a dry run: its directory may be one the run would
	 * have made. */
	if (!regular && pc->dry_run)
		return 1;
	snprintf(what, sizeof what, "%s on the target", target);
	rc = open_parent(pc, target, &dfd, &base);
	if (rc < 0)
		return rc == RH_ERR_NOTFOUND
			       ? rh_seterr(RH_ERR_NOTFOUND, "%s: the directory does not exist", what)
			       : rc;
	if (regular) {
		fd = openat(dfd, base, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
		if (fd < 0) {
			rc = rh_seterr_errno(errno, "open %s", what);
			goto out;
		}
		if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
			rc = rh_seterr(RH_ERR_INVAL, "%s is not a regular file", what);
			goto out;
		}
		rc = read_fd(fd, what, PC_MAX_FILE, &old, &oldlen);
		if (rc < 0)
			goto out;
		if (oldlen == len && memcmp(old, data, len) == 0) {
			rc = 0;
			goto out;
		}
		/* Keep the SELinux label: a relabel is only scheduled when
		 * the target enforces, and the label is right as it is. */
		labellen = fgetxattr(fd, "security.selinux", label, sizeof label);
		close(fd);
		fd = -1;
	}
	if (pc->dry_run) {
		rc = 1;
		goto out;
	}
	if (exists) {
		rc = backup_canon(pc, target);
		if (rc < 0)
			goto out;
	}
	for (;;) {
		snprintf(tmp, sizeof tmp, ".rehost-tmp.%ld.%u", (long)getpid(), pc->tmpseq++);
		fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd >= 0 || errno != EEXIST)
			break;
	}
	if (fd < 0) {
		rc = rh_seterr_errno(errno, "create a temporary file beside %s", what);
		goto out;
	}
	rc = write_all(fd, data, len, what);
	if (rc == 0 && regular && fchown(fd, st.st_uid, st.st_gid) != 0 && errno != EPERM)
		rc = rh_seterr_errno(errno, "chown %s", what);
	if (rc == 0 && fchmod(fd, regular ? st.st_mode & 07777 : (mode ? mode : 0644)) != 0)
		rc = rh_seterr_errno(errno, "chmod %s", what);
	if (rc == 0 && labellen > 0)
		(void)fsetxattr(fd, "security.selinux", label, (size_t)labellen, 0);
	if (rc == 0 && fsync(fd) != 0)
		rc = rh_seterr_errno(errno, "fsync %s", what);
	if (rc == 0 && renameat(dfd, tmp, dfd, base) != 0)
		rc = rh_seterr_errno(errno, "rename over %s", what);
	if (rc < 0) {
		unlinkat(dfd, tmp, 0);
		goto out;
	}
	if (fsync(dfd) != 0)
		rh_log_warn("fsync of the directory of %s: %s", what, strerror(errno));
	rc = 1;
out:
	if (fd >= 0)
		close(fd);
	if (dfd >= 0)
		close(dfd);
	free(old);
	return rc;
}

int rh_pc_write_file(struct rh_pc *pc, const char *path, const char *content, mode_t mode)
{
	return pc_write(pc, path, content, strlen(content), mode, NULL);
}

static int vrecord(struct rh_pc *pc, const char *path, const char *action, const char *fmt,
		   va_list ap) __attribute__((format(printf, 4, 0)));

static int vrecord(struct rh_pc *pc, const char *path, const char *action, const char *fmt,
		   va_list ap)
{
	char detail[1024];

	vsnprintf(detail, sizeof detail, fmt, ap);
	return rh_pc_record(pc, path, action, "%s", detail);
}

int pc_update(struct rh_pc *pc, const char *path, const char *data, size_t len, mode_t mode,
	      const char *action, const char *fmt, ...)
{
	char c[PATH_MAX];
	va_list ap;
	int rc = pc_write(pc, path, data, len, mode, c);

	if (rc == 1) {
		int r;

		va_start(ap, fmt);
		r = vrecord(pc, c, action, fmt, ap);
		va_end(ap);
		if (r < 0)
			return r;
	}
	return rc;
}

int pc_remove(struct rh_pc *pc, const char *path, const char *fmt, ...)
{
	char c[PATH_MAX];
	const char *base;
	struct stat st;
	va_list ap;
	int rc, dfd;

	rc = pc_stat(pc, path, false, &st, c);
	if (rc == RH_ERR_NOTFOUND || (rc == 0 && json_object_get(pc->gone, c) != NULL))
		return 0;
	if (rc < 0)
		return rc;
	if (S_ISDIR(st.st_mode))
		return rh_seterr(RH_ERR_INVAL, "%s on the target is a directory; not removing it", c);
	if (!pc->dry_run) {
		rc = backup_canon(pc, c);
		if (rc < 0)
			return rc;
		rc = open_parent(pc, c, &dfd, &base);
		if (rc < 0)
			return rc;
		if (unlinkat(dfd, base, 0) != 0)
			rc = rh_seterr_errno(errno, "remove %s on the target", c);
		else if (fsync(dfd) != 0)
			rh_log_warn("fsync of the directory of %s: %s", c, strerror(errno));
		close(dfd);
		if (rc < 0)
			return rc;
	}
	if (json_object_set_new(pc->gone, c, json_true()) != 0)
		return RH_ERR_NOMEM;
	va_start(ap, fmt);
	rc = vrecord(pc, c, "removed", fmt, ap);
	va_end(ap);
	return rc < 0 ? rc : 1;
}

int pc_touch(struct rh_pc *pc, const char *path, mode_t mode, const char *fmt, ...)
{
	char c[PATH_MAX];
	const char *base;
	va_list ap;
	bool exists;
	int rc, dfd, fd;

	rc = pc_resolve(pc, path, false, c, &exists);
	if (rc < 0)
		return rc;
	if (exists)
		return 0;
	if (!pc->dry_run) {
		rc = open_parent(pc, c, &dfd, &base);
		if (rc < 0)
			return rc == RH_ERR_NOTFOUND
				       ? rh_seterr(RH_ERR_NOTFOUND, "%s: the directory does not exist", c)
				       : rc;
		fd = openat(dfd, base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
		if (fd < 0 || fchmod(fd, mode) != 0 || fsync(fd) != 0)
			rc = rh_seterr_errno(errno, "create %s on the target", c);
		if (fd >= 0)
			close(fd);
		if (rc == 0 && fsync(dfd) != 0)
			rh_log_warn("fsync of the directory of %s: %s", c, strerror(errno));
		close(dfd);
		if (rc < 0)
			return rc;
	}
	va_start(ap, fmt);
	rc = vrecord(pc, c, "created", fmt, ap);
	va_end(ap);
	return rc < 0 ? rc : 1;
}

int pc_move_into(struct rh_pc *pc, const char *path, const char *dir)
{
	char c[PATH_MAX], dc[PATH_MAX], dest[PATH_MAX * 2];
	const char *base;
	struct stat st;
	int rc, sdfd = -1, ddfd = -1;

	rc = pc_stat(pc, path, false, &st, c);
	if (rc == RH_ERR_NOTFOUND || (rc == 0 && json_object_get(pc->gone, c) != NULL))
		return 0;
	if (rc < 0)
		return rc;
	rc = pc_resolve(pc, dir, true, dc, NULL);
	if (rc < 0)
		return rc;
	base = strrchr(c, '/') + 1;
	snprintf(dest, sizeof dest, "%s/%s", strcmp(dc, "/") == 0 ? "" : dc, base);
	if (!pc->dry_run) {
		rc = backup_canon(pc, c);
		if (rc < 0)
			return rc;
		rc = pc_opendir(pc, dc, true, 0755, &ddfd);
		if (rc < 0)
			return rc;
		rc = open_parent(pc, c, &sdfd, &base);
		if (rc == 0 && renameat(sdfd, base, ddfd, base) != 0)
			rc = rh_seterr_errno(errno, "move %s to %s on the target", c, dc);
		if (rc == 0 && (fsync(sdfd) != 0 || fsync(ddfd) != 0))
			rh_log_warn("fsync after moving %s: %s", c, strerror(errno));
		if (sdfd >= 0)
			close(sdfd);
		close(ddfd);
		if (rc < 0)
			return rc;
	}
	if (json_object_set_new(pc->gone, c, json_true()) != 0)
		return RH_ERR_NOMEM;
	rc = rh_pc_record(pc, c, "renamed", "moved to %s", dest);
	return rc < 0 ? rc : 1;
}

int pc_mkdir(struct rh_pc *pc, const char *path, mode_t mode)
{
	char c[PATH_MAX];
	struct stat st;
	int rc, fd;

	rc = pc_stat(pc, path, true, &st, c);
	if (rc == 0)
		return S_ISDIR(st.st_mode) ? 0
					   : rh_seterr(RH_ERR_INVAL, "%s on the target is not a directory", c);
	if (rc != RH_ERR_NOTFOUND)
		return rc;
	if (!pc->dry_run) {
		rc = pc_opendir(pc, c, true, mode, &fd);
		if (rc < 0)
			return rc;
		close(fd);
	}
	rc = rh_pc_record(pc, c, "created", "directory");
	return rc < 0 ? rc : 1;
}
