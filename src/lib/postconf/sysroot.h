/*
 * A mounted target root to work in: a private mount namespace (so every
 * mount vanishes with the process, whatever happens), the target's
 * filesystems mounted under one directory, and commands run chrooted in it.
 */
#ifndef REHOST_POSTCONF_SYSROOT_H
#define REHOST_POSTCONF_SYSROOT_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

#define RH_PC_MAX_MOUNTS 64u

struct rh_pc_sysroot {
	char base[PATH_MAX];   /* private scratch directory, removed at release */
	char root[PATH_MAX + 8]; /* base + "/root": the target's / */
	size_t nmounts;
	char *mounts[RH_PC_MAX_MOUNTS]; /* host paths, unmounted in reverse order */
};

/* Enter a private mount namespace and make the scratch directory under
 * tmpdir (NULL: $TMPDIR or /tmp). Call once per process, single-threaded. */
int rh_pc_sysroot_init(struct rh_pc_sysroot *s, const char *tmpdir);

/* Unmount everything (flushing first) and remove the scratch directory.
 * Returns the first error; carries on regardless. */
int rh_pc_sysroot_release(struct rh_pc_sysroot *s);

/* Mount src on root + rel (rel "" is the root itself), creating the
 * directory inside the target only when mkdir is true. */
int rh_pc_mount(struct rh_pc_sysroot *s, const char *src, const char *rel, const char *type,
		unsigned long flags, const char *data, bool mkdir);

/* Make every mount so far read-write (they are mounted read-only while
 * the target is being checked). */
int rh_pc_remount_rw(struct rh_pc_sysroot *s);

/* Unmount the most recent mount (used to undo a probe mount). */
int rh_pc_umount_last(struct rh_pc_sysroot *s);

/* Bind-mount the host file `file` over root + rel, which must exist. */
int rh_pc_bind_file(struct rh_pc_sysroot *s, const char *file, const char *rel);

/* Run argv chrooted in the target with a clean environment (PATH, LANG=C,
 * DEBIAN_FRONTEND=noninteractive), logging its output line by line.
 * Returns the exit status (0..255), or a negative RH_ERR_* if it could not
 * be started or was killed. The last lines of output are kept in tail. */
int rh_pc_run(struct rh_pc_sysroot *s, const char *const *argv, char *tail, size_t tail_len);

/* Open rel inside the target as the target would resolve it: absolute
 * symlinks and ".." stay inside root (openat2 RESOLVE_IN_ROOT). Returns an
 * fd or -1 with errno. */
int rh_pc_sys_open(const struct rh_pc_sysroot *s, const char *rel, int flags);

/* As rh_pc_run, but on the host (no chroot): for tools the target need not
 * have, such as mtools on an ESP this kernel cannot mount. */
int rh_pc_run_host(const char *const *argv, char *tail, size_t tail_len);

/* Whether root + rel exists (without following a final symlink). */
bool rh_pc_exists(const struct rh_pc_sysroot *s, const char *rel);

#endif
