/*
 * The accelerator verdict cache (include/rehost/accel.h): one small file
 * per host boot and QEMU binary, so that a probe runs once per boot, not
 * once per QEMU start.
 *
 *   rehost-accel-cache 1
 *   key <boot id> <dev>:<ino> <size> <mtime> <real path of the binary>
 *   accel kvm|tcg
 *   reason <one printable line>
 *
 * The file is read as untrusted input: anything but exactly this is
 * corrupt and re-probed, and its key line must equal the key we computed
 * (the file name is only a hash of it).
 */
#define RH_LOG_COMPONENT "accel"
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rehost/accel.h"
#include "rehost/dirs.h"
#include "rehost/err.h"

#define MAGIC "rehost-accel-cache 1"
#define BOOT_ID_MAX 64u

/* Read the boot id: one token of at most BOOT_ID_MAX printable bytes. */
static int read_boot_id(const char *file, char *id, size_t len)
{
	char buf[BOOT_ID_MAX + 2];
	ssize_t n;
	size_t l;
	int fd = open(file, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return rh_seterr_errno(errno, "boot id %s", file);
	do
		n = read(fd, buf, sizeof buf);
	while (n < 0 && errno == EINTR);
	close(fd);
	if (n < 0)
		return rh_seterr_errno(errno, "boot id %s", file);
	l = (size_t)n;
	while (l > 0 && (buf[l - 1] == '\n' || buf[l - 1] == ' '))
		l--;
	if (l == 0 || l > BOOT_ID_MAX || l >= len)
		return rh_seterr(RH_ERR_CORRUPT, "boot id %s: empty or too long", file);
	for (size_t i = 0; i < l; i++)
		if (buf[i] <= 0x20 || buf[i] >= 0x7f)
			return rh_seterr(RH_ERR_CORRUPT, "boot id %s: not one printable word", file);
	memcpy(id, buf, l);
	id[l] = '\0';
	return 0;
}

/* The binary's real path: a name without '/' is looked up in PATH as
 * exec would. */
static int resolve_binary(const char *name, char *real)
{
	const char *path = getenv("PATH");
	char buf[PATH_MAX];

	if (strchr(name, '/') != NULL) {
		if (realpath(name, real) == NULL)
			return rh_seterr_errno(errno, "QEMU binary %s", name);
		return 0;
	}
	if (path == NULL || *path == '\0')
		path = "/usr/local/bin:/usr/bin:/bin";
	while (*path != '\0') {
		size_t l = strcspn(path, ":");

		if ((size_t)snprintf(buf, sizeof buf, "%.*s/%s", (int)l, path, name) < sizeof buf &&
		    access(buf, X_OK) == 0 && realpath(buf, real) != NULL)
			return 0;
		path += l;
		if (*path == ':')
			path++;
	}
	return rh_seterr(RH_ERR_NOTFOUND, "%s not found in PATH", name);
}

int rh_accel_cache_key(const char *boot_id_file, const char *qemu, char *key, size_t len)
{
	char id[BOOT_ID_MAX + 1], real[PATH_MAX];
	struct stat st;
	int rc, n;

	if ((rc = read_boot_id(boot_id_file, id, sizeof id)) < 0)
		return rc;
	if ((rc = resolve_binary(qemu != NULL ? qemu : "qemu-system-x86_64", real)) < 0)
		return rc;
	if (stat(real, &st) < 0)
		return rh_seterr_errno(errno, "QEMU binary %s", real);
	/* The key is one line of the cache file. */
	for (const char *p = real; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return rh_seterr(RH_ERR_INVAL, "QEMU binary path with control characters");
	n = snprintf(key, len, "%s %llu:%llu %lld %lld.%09ld %s", id, (unsigned long long)st.st_dev,
		     (unsigned long long)st.st_ino, (long long)st.st_size,
		     (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec, real);
	if (n < 0 || (size_t)n >= len)
		return rh_seterr(RH_ERR_TOOBIG, "cache key longer than %zu bytes", len);
	return 0;
}

void rh_accel_cache_name(const char *key, char *name, size_t len)
{
	/* FNV-1a: the name only spreads keys over files; the key inside
	 * decides. */
	unsigned long long h = 14695981039346656037ull;

	for (const unsigned char *p = (const unsigned char *)key; *p; p++)
		h = (h ^ *p) * 1099511628211ull;
	snprintf(name, len, "accel-%016llx", h);
}

static bool printable(const char *s, size_t l)
{
	for (size_t i = 0; i < l; i++)
		if (s[i] < 0x20 || s[i] >= 0x7f)
			return false;
	return true;
}

int rh_accel_cache_format(const char *key, const struct rh_accel_choice *c, char *buf, size_t len)
{
	size_t rl = strnlen(c->reason, sizeof c->reason);
	int n;

	if (c->accel != RH_ACCEL_KVM && c->accel != RH_ACCEL_TCG)
		return rh_seterr(RH_ERR_INVAL, "no verdict to cache");
	if (rl == 0 || rl >= sizeof c->reason || !printable(c->reason, rl))
		return rh_seterr(RH_ERR_INVAL, "reason is not one printable line");
	n = snprintf(buf, len, "%s\nkey %s\naccel %s\nreason %s\n", MAGIC, key,
		     rh_accel_name(c->accel), c->reason);
	if (n < 0 || (size_t)n >= len || (size_t)n > RH_ACCEL_CACHE_MAX)
		return rh_seterr(RH_ERR_TOOBIG, "cache file longer than %u bytes",
				 RH_ACCEL_CACHE_MAX);
	return n;
}

/* The next line of [*p, end) as (start, length), without its newline,
 * which must be there. Returns false at the end or without a newline. */
static bool next_line(const char **p, const char *end, const char **s, size_t *l)
{
	const char *nl;

	if (*p >= end || (nl = memchr(*p, '\n', (size_t)(end - *p))) == NULL)
		return false;
	*s = *p;
	*l = (size_t)(nl - *p);
	*p = nl + 1;
	return true;
}

/* Line s/l is "word value": the value as (start, length). */
static bool field(const char *s, size_t l, const char *word, const char **v, size_t *vl)
{
	size_t w = strlen(word);

	if (l <= w + 1 || memcmp(s, word, w) != 0 || s[w] != ' ')
		return false;
	*v = s + w + 1;
	*vl = l - w - 1;
	return true;
}

int rh_accel_cache_parse(const void *data, size_t len, const char *key,
			 struct rh_accel_choice *out)
{
	const char *p = data, *end = p + len, *s, *v;
	size_t l, vl;
	enum rh_accel a;
	bool key_ok;

	memset(out, 0, sizeof *out);
	if (len > RH_ACCEL_CACHE_MAX)
		return rh_seterr(RH_ERR_CORRUPT, "cache file larger than %u bytes",
				 RH_ACCEL_CACHE_MAX);
	if (memchr(p, '\0', len) != NULL)
		return rh_seterr(RH_ERR_CORRUPT, "cache file with a NUL byte");
	if (!next_line(&p, end, &s, &l) || l != strlen(MAGIC) || memcmp(s, MAGIC, l) != 0)
		return rh_seterr(RH_ERR_CORRUPT, "cache file without its first line");
	if (!next_line(&p, end, &s, &l) || !field(s, l, "key", &v, &vl))
		return rh_seterr(RH_ERR_CORRUPT, "cache file without its key");
	key_ok = vl == strlen(key) && memcmp(v, key, vl) == 0;
	if (!next_line(&p, end, &s, &l) || !field(s, l, "accel", &v, &vl))
		return rh_seterr(RH_ERR_CORRUPT, "cache file without its accelerator");
	if (vl == 3 && memcmp(v, "kvm", 3) == 0)
		a = RH_ACCEL_KVM;
	else if (vl == 3 && memcmp(v, "tcg", 3) == 0)
		a = RH_ACCEL_TCG;
	else
		return rh_seterr(RH_ERR_CORRUPT, "cache file with an unknown accelerator");
	if (!next_line(&p, end, &s, &l) || !field(s, l, "reason", &v, &vl) ||
	    vl >= sizeof out->reason || !printable(v, vl))
		return rh_seterr(RH_ERR_CORRUPT, "cache file without a printable reason");
	if (p != end)
		return rh_seterr(RH_ERR_CORRUPT, "cache file with trailing bytes");
	/* Well-formed, but a verdict for another boot or binary says
	 * nothing here. */
	if (!key_ok)
		return rh_seterr(RH_ERR_NOTFOUND, "cache file for another boot or QEMU binary");
	out->accel = a;
	out->cpu = rh_accel_cpu(a);
	out->how = RH_ACCEL_CACHED;
	memcpy(out->reason, v, vl);
	out->reason[vl] = '\0';
	return 0;
}

/* Only a directory or file of our own that others cannot write is
 * trusted to hold a verdict. */
static int check_owner(const struct stat *st, const char *what)
{
	if (st->st_uid != geteuid() || (st->st_mode & 022) != 0)
		return rh_seterr(RH_ERR_PERM, "%s is not ours or writable by others: not trusted",
				 what);
	return 0;
}

/* The cache directory itself: a real directory (not a link) that only its
 * owner, root or the user, can write. */
static int check_dir(const char *dir)
{
	struct stat st;

	if (lstat(dir, &st) < 0)
		return rh_seterr_errno(errno, "cache directory %s", dir);
	if (!S_ISDIR(st.st_mode))
		return rh_seterr(RH_ERR_PERM, "cache directory %s is not a directory", dir);
	return check_owner(&st, dir);
}

int rh_accel_cache_load(const char *dir, const char *key, struct rh_accel_choice *out)
{
	char path[PATH_MAX], name[32], buf[RH_ACCEL_CACHE_MAX + 1];
	struct stat st;
	size_t got = 0;
	int fd, rc;

	memset(out, 0, sizeof *out);
	if ((rc = check_dir(dir)) < 0)
		return rc;
	rh_accel_cache_name(key, name, sizeof name);
	if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, name) >= sizeof path)
		return rh_seterr(RH_ERR_TOOBIG, "cache directory name too long");
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return errno == ENOENT ? rh_seterr(RH_ERR_NOTFOUND, "no cached verdict")
				       : rh_seterr_errno(errno, "%s", path);
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return rh_seterr(RH_ERR_CORRUPT, "%s is not a regular file", path);
	}
	if ((rc = check_owner(&st, path)) < 0) {
		close(fd);
		return rc;
	}
	/* One byte more than allowed tells an oversized file. */
	while (got < sizeof buf) {
		ssize_t n = read(fd, buf + got, sizeof buf - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = rh_seterr_errno(errno, "read %s", path);
			close(fd);
			return rc;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	return rh_accel_cache_parse(buf, got, key, out);
}

int rh_accel_cache_store(const char *dir, const char *key, const struct rh_accel_choice *c)
{
	char path[PATH_MAX], tmp[PATH_MAX], name[32], buf[RH_ACCEL_CACHE_MAX + 1];
	int n, fd, rc = 0;

	if ((n = rh_accel_cache_format(key, c, buf, sizeof buf)) < 0)
		return n;
	if ((rc = rh_mkdir_parents(dir, 0700, "cache directory")) < 0 ||
	    (rc = check_dir(dir)) < 0)
		return rc;
	rh_accel_cache_name(key, name, sizeof name);
	if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, name) >= sizeof path ||
	    (size_t)snprintf(tmp, sizeof tmp, "%s/.%s.%ld.tmp", dir, name, (long)getpid()) >=
		    sizeof tmp)
		return rh_seterr(RH_ERR_TOOBIG, "cache directory name too long");
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return rh_seterr_errno(errno, "%s", tmp);
	/* No fsync: a cache lost or cut short by a crash is re-probed (the
	 * parser rejects a short file), and /run is tmpfs anyway. */
	if (write(fd, buf, (size_t)n) != n)
		rc = rh_seterr_errno(errno ? errno : EIO, "write %s", tmp);
	if (close(fd) < 0 && rc == 0)
		rc = rh_seterr_errno(errno, "close %s", tmp);
	if (rc == 0 && rename(tmp, path) < 0)
		rc = rh_seterr_errno(errno, "rename %s", tmp);
	if (rc < 0)
		unlink(tmp);
	return rc;
}
