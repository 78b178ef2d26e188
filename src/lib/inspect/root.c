/*
 * Access to the files of the inspected system. Every path is resolved
 * relative to the root directory with openat2(RESOLVE_IN_ROOT), so an
 * absolute symlink inside a prepared tree (/etc/os-release ->
 * /usr/lib/os-release) stays inside the tree instead of reaching the host.
 */
#define RH_LOG_COMPONENT "inspect"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "inspect/internal.h"
#include "rehost/err.h"
#include "rehost/log.h"
#include "rehost/tsv.h"

int root_init(struct inv_root *r, const char *path)
{
	struct stat st;

	r->dirfd = -1;
	r->host = path == NULL || strcmp(path, "/") == 0;
	r->dirfd = open(r->host ? "/" : path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (r->dirfd < 0)
		return rh_seterr_errno(errno, "root directory %s", path);
	if (fstat(r->dirfd, &st) != 0 || !S_ISDIR(st.st_mode)) {
		close(r->dirfd);
		r->dirfd = -1;
		return rh_seterr(RH_ERR_INVAL, "root %s is not a directory", path);
	}
	return 0;
}

void root_release(struct inv_root *r)
{
	if (r->dirfd >= 0)
		close(r->dirfd);
	r->dirfd = -1;
}

static const char *relative(const char *path)
{
	while (*path == '/')
		path++;
	return *path ? path : ".";
}

static int open_in_root(const struct inv_root *r, const char *path, int flags)
{
	static int no_openat2;
	struct open_how how = {
		.flags = (uint64_t)(flags | O_CLOEXEC),
		.resolve = RESOLVE_IN_ROOT,
	};
	int fd;

	if (!no_openat2) {
		fd = (int)syscall(SYS_openat2, r->dirfd, relative(path), &how, sizeof how);
		if (fd >= 0 || errno != ENOSYS)
			return fd;
		no_openat2 = 1;
		rh_log_debug("openat2 unavailable: symlinks in the root are resolved on the host");
	}
	return openat(r->dirfd, relative(path), flags | O_CLOEXEC);
}

int root_open(const struct inv_root *r, const char *path, int flags)
{
	return open_in_root(r, path, flags);
}

int root_read(const struct inv_root *r, const char *path, size_t max, char **buf,
	      size_t *len)
{
	size_t cap = 4096, n = 0;
	char *b = NULL;
	int fd, rc;

	*buf = NULL;
	if (len)
		*len = 0;
	fd = open_in_root(r, path, O_RDONLY | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		if (errno == ENOENT || errno == ENOTDIR)
			return RH_ERR_NOTFOUND;
		return rh_seterr_errno(errno, "%s", path);
	}
	b = malloc(cap);
	if (b == NULL) {
		rc = RH_ERR_NOMEM;
		goto out;
	}
	/* /proc and /sys files report size 0: read until EOF, bounded. */
	for (;;) {
		ssize_t got;

		if (n + 1 >= cap) {
			char *nb;

			if (cap > max) {
				rc = rh_seterr(RH_ERR_TOOBIG, "%s: larger than %zu bytes", path, max);
				goto out;
			}
			cap *= 2;
			nb = realloc(b, cap);
			if (nb == NULL) {
				rc = RH_ERR_NOMEM;
				goto out;
			}
			b = nb;
		}
		got = read(fd, b + n, cap - n - 1);
		if (got < 0) {
			if (errno == EINTR)
				continue;
			rc = rh_seterr_errno(errno, "%s", path);
			goto out;
		}
		if (got == 0)
			break;
		n += (size_t)got;
		if (n > max) {
			rc = rh_seterr(RH_ERR_TOOBIG, "%s: larger than %zu bytes", path, max);
			goto out;
		}
	}
	b[n] = '\0';
	*buf = b;
	b = NULL;
	if (len)
		*len = n;
	rc = 0;
out:
	free(b);
	close(fd);
	return rc;
}

const char *root_read_line(struct rh_inventory *inv, const struct inv_root *r,
			   const char *path)
{
	char *buf = NULL, *cur, *line;
	const char *res = NULL;

	if (root_read(r, path, 65536, &buf, NULL) < 0)
		return NULL;
	cur = buf;
	line = text_next_line(&cur);
	if (line != NULL) {
		line = text_trim(line);
		if (*line)
			res = inv_strdup(inv, line);
	}
	free(buf);
	return res;
}

static int stat_in_root(const struct inv_root *r, const char *path, struct stat *st,
			bool follow)
{
	int fd = open_in_root(r, path, O_PATH | (follow ? 0 : O_NOFOLLOW));
	int rc = 0;

	if (fd < 0)
		return rh_err_from_errno(errno);
	if (fstat(fd, st) != 0)
		rc = rh_err_from_errno(errno);
	close(fd);
	return rc;
}

int root_stat(const struct inv_root *r, const char *path, struct stat *st)
{
	return stat_in_root(r, path, st, true);
}

int root_lstat(const struct inv_root *r, const char *path, struct stat *st)
{
	return stat_in_root(r, path, st, false);
}

bool root_exists(const struct inv_root *r, const char *path)
{
	struct stat st;

	return root_lstat(r, path, &st) == 0;
}

DIR *root_opendir(const struct inv_root *r, const char *path)
{
	int fd = open_in_root(r, path, O_RDONLY | O_DIRECTORY);
	DIR *d;

	if (fd < 0)
		return NULL;
	d = fdopendir(fd);
	if (d == NULL)
		close(fd);
	return d;
}

bool root_dir_nonempty(const struct inv_root *r, const char *path)
{
	DIR *d = root_opendir(r, path);
	struct dirent *de;
	bool found = false;

	if (d == NULL)
		return false;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0) {
			found = true;
			break;
		}
	}
	closedir(d);
	return found;
}

char *text_next_line(char **cursor)
{
	struct rh_tsv_lines it;
	char *line;

	if (*cursor == NULL)
		return NULL;
	rh_tsv_lines_init(&it, *cursor);
	/* Skip lines longer than INV_MAX_LINE as stored (with any '\r'). */
	while ((line = rh_tsv_line_next(&it, NULL)) != NULL && it.rawlen > INV_MAX_LINE)
		;
	*cursor = it.next;
	return line;
}

char *text_trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' || e[-1] == '\r'))
		*--e = '\0';
	return s;
}
