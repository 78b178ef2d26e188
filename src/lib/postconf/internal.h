/*
 * Private interfaces of the postconf module, grouped by the file that
 * defines them. "Target path" means a path as seen on the target
 * ("/etc/fstab"); canonical target paths have no symlink, "." or ".."
 * component (a final symlink may remain where the function says so).
 */
#ifndef REHOST_POSTCONF_INTERNAL_H
#define REHOST_POSTCONF_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>

#include "postconf/pc.h"
#include "rehost/buf.h"

/* Bounds on what is read from the target. */
#define PC_MAX_FILE (4u << 20)      /* a configuration file */
#define PC_MAX_OUT (8u << 20)       /* an edited file (lines may double) */
#define PC_MAX_BACKUP (64u << 20)   /* a file copied to the backup dir */
#define PC_MAX_DIRENTS 10000u       /* entries listed in one directory */
#define PC_MAX_LINKS 40u            /* symlinks followed in one path */
#define PC_BACKUP_BASE "/var/backups/rehost-postconf"

/* ---- root.c: files below the target root ---- */

/* Resolve path inside the root into a canonical target path (out has
 * PATH_MAX bytes). Symlinks are followed with the root as "/" and ".." of
 * "/" staying "/" (chroot semantics), the final one only when follow is
 * set. *exists says whether the result exists (lstat). Returns 0,
 * RH_ERR_PERM (path itself, before any symlink, climbs above the root),
 * RH_ERR_INVAL (too many symlinks, a component too long) or
 * RH_ERR_TOOBIG. */
int pc_resolve(const struct rh_pc *pc, const char *path, bool follow, char *out, bool *exists);

/* Open the directory at canonical target path dir (O_RDONLY|O_DIRECTORY),
 * walking each component with O_NOFOLLOW; with create, missing components
 * are made with mode. Returns 0 with *fd, RH_ERR_NOTFOUND or RH_ERR_IO. */
int pc_opendir(const struct rh_pc *pc, const char *dir, bool create, mode_t mode, int *fd);

/* Read a regular file (final symlink followed inside the root) into a new
 * NUL-terminated buffer the caller frees. canon (PATH_MAX bytes, may be
 * NULL) receives the file's canonical path and st (may be NULL) its stat.
 * Returns 0, RH_ERR_NOTFOUND (absent or a dangling symlink), RH_ERR_INVAL
 * (not a regular file), RH_ERR_TOOBIG (> max), RH_ERR_PERM or RH_ERR_IO. */
int pc_read(const struct rh_pc *pc, const char *path, size_t max, char **buf, size_t *len,
	    char *canon, struct stat *st);

/* lstat (follow = false) or stat inside the root. Returns 0,
 * RH_ERR_NOTFOUND, RH_ERR_PERM or RH_ERR_IO; canon may be NULL. */
int pc_stat(const struct rh_pc *pc, const char *path, bool follow, struct stat *st, char *canon);

/* Write len bytes as the content of path; see rh_pc_write_file. canon
 * receives the path actually written. Returns 1 (changed), 0 (same
 * content) or negative. */
int pc_write(struct rh_pc *pc, const char *path, const char *data, size_t len, mode_t mode,
	     char *canon);

/* pc_write, then record action with the formatted detail when it changed.
 * Returns 1, 0 or negative as pc_write. */
int pc_update(struct rh_pc *pc, const char *path, const char *data, size_t len, mode_t mode,
	      const char *action, const char *fmt, ...) __attribute__((format(printf, 7, 8)));

/* Back up and remove path (a file or symlink; a final symlink itself, not
 * its target), and record "removed" with the detail. Returns 1 (removed,
 * or would be), 0 (absent), RH_ERR_INVAL (a directory) or negative. */
int pc_remove(struct rh_pc *pc, const char *path, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Create path as an empty file with mode when nothing exists there, and
 * record "created". Returns 1 (created, or would be), 0 (exists) or
 * negative. */
int pc_touch(struct rh_pc *pc, const char *path, mode_t mode, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Create directory path (and missing parents) with mode and record
 * "created". Returns 1 (created, or would be), 0 (a directory is there),
 * RH_ERR_INVAL (something else is there) or negative. */
int pc_mkdir(struct rh_pc *pc, const char *path, mode_t mode);

/* Back up path, then move it into directory dir (created 0755 if needed)
 * under the same name, and record "renamed". Returns 1, 0 (absent) or
 * negative. */
int pc_move_into(struct rh_pc *pc, const char *path, const char *dir);

/* Names in directory path (final symlink followed), without "." and "..",
 * sorted. *names is a NULL-terminated array the caller frees with
 * pc_names_free. Returns 0, RH_ERR_NOTFOUND (absent or not a directory),
 * RH_ERR_TOOBIG or negative. */
int pc_list(const struct rh_pc *pc, const char *path, char ***names, size_t *n);
void pc_names_free(char **names);

/* Whether path exists (lstat, no final symlink followed). */
bool pc_exists(const struct rh_pc *pc, const char *path);

/* ---- text.c: line-oriented editing ---- */

/* Next line of [*cur, end): *len excludes the newline; *cur moves past it.
 * Returns the line start, NULL at the end. */
const char *pc_next_line(const char **cur, const char *end, size_t *len);

/* A new output buffer of at most PC_MAX_OUT bytes. */
int pc_out_new(struct rh_buf **out);
/* Append n bytes then a newline. */
int pc_out_line(struct rh_buf *out, const char *s, size_t n);

/* Case-sensitive membership of the n-byte word w in a NULL-terminated
 * list. */
bool pc_in_list(const char *w, size_t n, const char *const *list);

/* Line is blank or a '#' comment. */
bool pc_line_is_comment(const char *s, size_t n);

/* A shell variable assignment "NAME=value" at the start of a line (after
 * blanks and an optional "export "). Finds the name; value_off is where the
 * value starts. Returns false for anything else. */
bool pc_shvar_name(const char *s, size_t n, char *name, size_t namelen, size_t *value_off);

/* Decode a shell word made of plain characters, '...' and "..." parts (as
 * used in /etc/default/grub and ifcfg files) into out, NUL-terminated.
 * Returns true when the value is literal: no expansion ($, `), no
 * unbalanced quote, and only blanks or a # comment after it. */
bool pc_shvar_value(const char *s, size_t n, char *out, size_t outlen);

/* Append value to out as a double-quoted shell word. */
int pc_shquote(struct rh_buf *out, const char *value);

/* "[name]" with optional blanks: copies name (truncated to namelen). */
bool pc_ini_section(const char *s, size_t n, char *name, size_t namelen);
/* "key=value" (blanks around either allowed): copies the key; the value
 * (trimmed) is at s + *voff, *vlen bytes. False for comments, sections
 * and lines without '='. */
bool pc_ini_key(const char *s, size_t n, char *key, size_t keylen, size_t *voff, size_t *vlen);

/* A change summary built in pieces, joined by sep ("; " when NULL),
 * truncated with "..." when long. */
struct pc_detail {
	char s[1024];
	size_t n;
	const char *sep;
};
void pc_detail_add(struct pc_detail *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Whether a file name in a configuration directory is a leftover the
 * tools ignore: dot files, editor and package backups (~, .bak, .orig,
 * .rpmsave, .rpmnew, .dpkg-*, .ucf-*). */
bool pc_name_is_backup(const char *name);

/* Configuration lists with the schema's defaults when pc->cfg is NULL. */
const char *const *pc_cfg_list(const struct rh_pc *pc, const char *key, size_t *n);
bool pc_cfg_bool(const struct rh_pc *pc, const char *key);

/* ---- fstab.c ---- */

struct pc_fstab_opts {
	const struct rh_pc_fs *fs;
	size_t nfs;
	const char *const *tmp_types; /* fstab_tmp_filesystem */
	size_t ntmp;
	const char *const *keep;      /* fstab_keep_mount_path */
	size_t nkeep;
	const char *const *ignore;    /* fstab_ignore_mount_path */
	size_t nignore;
};

/* Called for each changed line: 1-based input line number, action
 * ("modified" or "commented") and a detail. Returns 0 or negative to stop. */
typedef int (*pc_fstab_note_fn)(void *arg, unsigned line, const char *action, const char *detail);

/* Edit fstab text (len bytes, need not be NUL-terminated) into out by the
 * rules of rh_pc_fstab. Returns the number of changed lines (0: out equals
 * the input, apart from a missing final newline), RH_ERR_TOOBIG or
 * RH_ERR_NOMEM. Pure: no file access. */
int pc_fstab_edit(const char *text, size_t len, const struct pc_fstab_opts *o,
		  struct rh_buf *out, pc_fstab_note_fn note, void *arg);

/* ---- net-*.c: one file per configuration system ---- */
int pc_net_ifupdown(struct rh_pc *pc);
int pc_net_netplan(struct rh_pc *pc);
int pc_net_networkd(struct rh_pc *pc);
int pc_net_ifcfg(struct rh_pc *pc);
int pc_net_nm(struct rh_pc *pc);
int pc_net_udev(struct rh_pc *pc);

/* Interface names a virtio NIC may get on a KVM target: eth0 without
 * predictable names, ens3/enp0s3 on i440fx, enp1s0 on q35 behind a root
 * port, ens2/enp0s2 on q35 without one. */
extern const char *const pc_kvm_nic_names[];
/* A physical Ethernet name (eth*, en*, em*, p<N>p<N>...), not lo, bridges,
 * bonds, VLANs or tunnels. */
bool pc_nic_name_physical(const char *name);

#endif
