/* The mounted target root: private mount namespace, mounts, chrooted runs. */
#define RH_LOG_COMPONENT "postconf"
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "postconf/sysroot.h"
#include "rehost/err.h"
#include "rehost/log.h"
#include "rehost/proc.h"

int rh_pc_sysroot_init(struct rh_pc_sysroot *s, const char *tmpdir)
{
	memset(s, 0, sizeof *s);
	if (tmpdir == NULL)
		tmpdir = getenv("TMPDIR");
	if (tmpdir == NULL || tmpdir[0] == '\0')
		tmpdir = "/tmp";
	/* A private namespace: our mounts are invisible to the host and are
	 * torn down by the kernel if this process dies before release. */
	if (unshare(CLONE_NEWNS) < 0)
		return rh_seterr_errno(errno, "cannot create a private mount namespace (are you root?)");
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return rh_seterr_errno(errno, "cannot make the mount namespace private");
	if ((size_t)snprintf(s->base, sizeof s->base, "%s/rehost-postconf.XXXXXX", tmpdir) >=
	    sizeof s->base)
		return rh_seterr(RH_ERR_TOOBIG, "TMPDIR %s is too long", tmpdir);
	if (mkdtemp(s->base) == NULL)
		return rh_seterr_errno(errno, "cannot create a scratch directory in %s", tmpdir);
	snprintf(s->root, sizeof s->root, "%s/root", s->base);
	if (mkdir(s->root, 0700) < 0) {
		int rc = rh_seterr_errno(errno, "cannot create %s", s->root);

		rmdir(s->base);
		s->base[0] = '\0';
		return rc;
	}
	return 0;
}

static int umount_one(char *path)
{
	int rc = 0;
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	/* Flush first so an unmount failure cannot lose written data. */
	if (fd >= 0) {
		syncfs(fd);
		close(fd);
	}
	if (umount2(path, 0) < 0) {
		rc = rh_seterr_errno(errno, "cannot unmount %s", path);
		rh_log_warn("%s; detaching it lazily", rh_lasterr());
		umount2(path, MNT_DETACH);
	}
	free(path);
	return rc;
}

int rh_pc_remount_rw(struct rh_pc_sysroot *s)
{
	for (size_t i = 0; i < s->nmounts; i++)
		if (mount(NULL, s->mounts[i], NULL, MS_REMOUNT, NULL) < 0)
			return rh_seterr_errno(errno, "cannot make %s writable", s->mounts[i]);
	return 0;
}

int rh_pc_umount_last(struct rh_pc_sysroot *s)
{
	if (s->nmounts == 0)
		return 0;
	return umount_one(s->mounts[--s->nmounts]);
}

int rh_pc_sysroot_release(struct rh_pc_sysroot *s)
{
	int rc = 0, r;

	while (s->nmounts > 0)
		if ((r = rh_pc_umount_last(s)) < 0 && rc == 0)
			rc = r;
	if (s->base[0] != '\0') {
		rmdir(s->root);
		rmdir(s->base);
		s->base[0] = '\0';
	}
	return rc;
}

/* Open rel inside the target root as the target itself would resolve it:
 * absolute symlinks and ".." stay inside root (the tree is untrusted). */
int rh_pc_sys_open(const struct rh_pc_sysroot *s, const char *rel, int flags)
{
	struct open_how how = { .flags = (uint64_t)flags | O_CLOEXEC, .resolve = RESOLVE_IN_ROOT,
				.mode = (flags & O_CREAT) ? 0644 : 0 };
	int rfd = open(s->root, O_PATH | O_DIRECTORY | O_CLOEXEC), fd;

	if (rfd < 0)
		return -1;
	while (*rel == '/')
		rel++;
	fd = (int)syscall(SYS_openat2, rfd, *rel ? rel : ".", &how, sizeof how);
	if (fd < 0) {
		int e = errno;

		close(rfd);
		errno = e;
		return -1;
	}
	close(rfd);
	return fd;
}

bool rh_pc_exists(const struct rh_pc_sysroot *s, const char *rel)
{
	int fd = rh_pc_sys_open(s, rel, O_PATH | O_NOFOLLOW);

	if (fd < 0)
		return false;
	close(fd);
	return true;
}

static int push_mount(struct rh_pc_sysroot *s, const char *path)
{
	if (s->nmounts >= RH_PC_MAX_MOUNTS) {
		umount2(path, MNT_DETACH);
		return rh_seterr(RH_ERR_TOOBIG, "more than %u mounts in the target", RH_PC_MAX_MOUNTS);
	}
	s->mounts[s->nmounts] = strdup(path);
	if (s->mounts[s->nmounts] == NULL) {
		umount2(path, MNT_DETACH);
		return rh_seterr(RH_ERR_NOMEM, "out of memory");
	}
	s->nmounts++;
	return 0;
}

/* The host path of the directory rel inside the target, resolved in root
 * (via /proc/self/fd, so a symlinked /boot cannot point outside). */
static int target_dir(const struct rh_pc_sysroot *s, const char *rel, bool mkdir_it, char *out,
		      size_t n, int *fdout)
{
	int fd = rh_pc_sys_open(s, rel, O_PATH | O_DIRECTORY);

	if (fd < 0 && errno == ENOENT && mkdir_it) {
		char parent[PATH_MAX], *slash;
		int pfd;

		snprintf(parent, sizeof parent, "%s", rel);
		slash = strrchr(parent, '/');
		if (slash == NULL)
			return rh_seterr(RH_ERR_INVAL, "bad target path %s", rel);
		*slash = '\0';
		pfd = rh_pc_sys_open(s, parent, O_PATH | O_DIRECTORY);
		if (pfd < 0)
			return rh_seterr_errno(errno, "target directory %s", parent[0] ? parent : "/");
		if (mkdirat(pfd, slash + 1, 0755) < 0 && errno != EEXIST) {
			close(pfd);
			return rh_seterr_errno(errno, "cannot create %s in the target", rel);
		}
		close(pfd);
		fd = rh_pc_sys_open(s, rel, O_PATH | O_DIRECTORY);
	}
	if (fd < 0)
		return rh_seterr_errno(errno, "target directory %s", rel[0] ? rel : "/");
	snprintf(out, n, "/proc/self/fd/%d", fd);
	*fdout = fd;
	return 0;
}

int rh_pc_mount(struct rh_pc_sysroot *s, const char *src, const char *rel, const char *type,
		unsigned long flags, const char *data, bool mkdir_it)
{
	char where[64], real[PATH_MAX + 8];
	int fd = -1, rc;
	ssize_t l;

	if (rel[0] == '\0' || strcmp(rel, "/") == 0) {
		snprintf(where, sizeof where, "%s", "");
		snprintf(real, sizeof real, "%s", s->root);
	} else {
		rc = target_dir(s, rel, mkdir_it, where, sizeof where, &fd);
		if (rc < 0)
			return rc;
		l = readlink(where, real, sizeof real - 1);
		if (l < 0) {
			close(fd);
			return rh_seterr_errno(errno, "cannot resolve %s", rel);
		}
		real[l] = '\0';
	}
	rc = mount(src, fd >= 0 ? where : real, type, flags, data);
	if (fd >= 0)
		close(fd);
	if (rc < 0)
		return rh_seterr_errno(errno, "cannot mount %s (%s) on %s", src, type ? type : "bind",
				       rel[0] ? rel : "/");
	rh_log_debug("mounted %s (%s) on %s", src, type ? type : "bind", real);
	return push_mount(s, real);
}

int rh_pc_bind_file(struct rh_pc_sysroot *s, const char *file, const char *rel)
{
	char where[64], real[PATH_MAX];
	int fd = rh_pc_sys_open(s, rel, O_PATH);
	ssize_t l;

	if (fd < 0)
		return rh_seterr_errno(errno, "%s in the target", rel);
	snprintf(where, sizeof where, "/proc/self/fd/%d", fd);
	l = readlink(where, real, sizeof real - 1);
	if (l < 0 || mount(file, where, NULL, MS_BIND, NULL) < 0) {
		int rc = rh_seterr_errno(errno, "cannot bind %s over %s", file, rel);

		close(fd);
		return rc;
	}
	close(fd);
	real[l] = '\0';
	return push_mount(s, real);
}

int rh_pc_run(struct rh_pc_sysroot *s, const char *const *argv, char *tail, size_t tail_len)
{
	const struct rh_run_opts o = { .chroot = s->root, .clean_env = true };

	return rh_run(argv, &o, tail, tail_len);
}

int rh_pc_run_host(const char *const *argv, char *tail, size_t tail_len)
{
	const struct rh_run_opts o = { .clean_env = true };

	return rh_run(argv, &o, tail, tail_len);
}
