/*
 * Helpers for the postconf unit tests: build a small target root in a
 * temporary directory, read files back, snapshot a whole tree (to prove a
 * dry run wrote nothing) and run every postconf step the way the CLI does.
 * Header-only: each test program includes it once (functions a program
 * does not use are marked unused).
 */
#ifndef REHOST_TEST_PC_TREE_H
#define REHOST_TEST_PC_TREE_H

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

/* cmocka.h is included by the test before this header. */

#include "postconf/pc.h"

#define TREE_FN static __attribute__((unused))

TREE_FN void tree_fail(const char *what, const char *path)
{
	fprintf(stderr, "test tree: %s %s: %s\n", what, path, strerror(errno));
	abort();
}

/* mkdir -p root/rel */
TREE_FN void tree_mkdir(const char *root, const char *rel)
{
	char p[PATH_MAX];

	snprintf(p, sizeof p, "%s/%s", root, rel);
	for (char *s = p + strlen(root) + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, 0755) != 0 && errno != EEXIST)
			tree_fail("mkdir", p);
		*s = '/';
	}
	if (mkdir(p, 0755) != 0 && errno != EEXIST)
		tree_fail("mkdir", p);
}

TREE_FN void tree_parent(const char *root, const char *rel)
{
	char d[PATH_MAX];
	char *slash;

	snprintf(d, sizeof d, "%s", rel);
	slash = strrchr(d, '/');
	if (slash != NULL && slash != d) {
		*slash = '\0';
		tree_mkdir(root, d);
	}
}

TREE_FN void tree_put_mode(const char *root, const char *rel, const char *content, mode_t mode)
{
	char p[PATH_MAX];
	FILE *f;

	tree_parent(root, rel);
	snprintf(p, sizeof p, "%s/%s", root, rel);
	f = fopen(p, "w");
	if (f == NULL || fputs(content, f) < 0 || fclose(f) != 0)
		tree_fail("write", p);
	if (chmod(p, mode) != 0)
		tree_fail("chmod", p);
}

TREE_FN void tree_put(const char *root, const char *rel, const char *content)
{
	tree_put_mode(root, rel, content, 0644);
}

TREE_FN void tree_link(const char *root, const char *rel, const char *target)
{
	char p[PATH_MAX];

	tree_parent(root, rel);
	snprintf(p, sizeof p, "%s/%s", root, rel);
	if (symlink(target, p) != 0)
		tree_fail("symlink", p);
}

/* Content of root/rel (caller frees), or NULL when absent. */
static char *tree_get(const char *root, const char *rel)
{
	char p[PATH_MAX], *buf = NULL;
	size_t cap = 0;
	FILE *f;

	snprintf(p, sizeof p, "%s/%s", root, rel);
	f = fopen(p, "r");
	if (f == NULL)
		return NULL;
	{
		ssize_t n = getdelim(&buf, &cap, '\0', f);

		if (n < 0) {
			free(buf);
			buf = strdup("");
		}
	}
	fclose(f);
	return buf;
}

TREE_FN bool tree_exists(const char *root, const char *rel)
{
	char p[PATH_MAX];
	struct stat st;

	snprintf(p, sizeof p, "%s/%s", root, rel);
	return lstat(p, &st) == 0;
}

/* ---- snapshot: every entry with type, mode, size, mtime and content ---- */

static char *snap_buf;
static size_t snap_len, snap_root_len;

TREE_FN int snap_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	char line[PATH_MAX * 2 + 256], link[PATH_MAX] = "";
	unsigned long sum = 5381;

	(void)flag;
	(void)ftw;
	if (S_ISLNK(st->st_mode)) {
		ssize_t l = readlink(path, link, sizeof link - 1);

		link[l > 0 ? l : 0] = '\0';
	} else if (S_ISREG(st->st_mode)) {
		FILE *f = fopen(path, "r");
		int c;

		while (f && (c = fgetc(f)) != EOF)
			sum = sum * 33 + (unsigned char)c;
		if (f)
			fclose(f);
	}
	snprintf(line, sizeof line, "%s %o %lld %lld.%09ld %lu %s\n", path + snap_root_len,
		 st->st_mode, (long long)st->st_size, (long long)st->st_mtim.tv_sec,
		 st->st_mtim.tv_nsec, sum, link);
	snap_buf = realloc(snap_buf, snap_len + strlen(line) + 1);
	memcpy(snap_buf + snap_len, line, strlen(line) + 1);
	snap_len += strlen(line);
	return 0;
}

/* A text listing of the tree (nftw order is stable for an unchanged tree). */
static char *tree_snapshot(const char *root)
{
	char *res;

	snap_buf = strdup("");
	snap_len = 0;
	snap_root_len = strlen(root);
	nftw(root, snap_one, 32, FTW_PHYS);
	res = snap_buf;
	snap_buf = NULL;
	return res;
}

TREE_FN int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	return flag == FTW_DP ? rmdir(path) : unlink(path);
}

TREE_FN void tree_rm(const char *root)
{
	nftw(root, rm_one, 32, FTW_DEPTH | FTW_PHYS);
}

static char *tree_new(void)
{
	char *d = strdup("/tmp/rehost-pc-XXXXXX");

	if (d == NULL || mkdtemp(d) == NULL)
		tree_fail("mkdtemp", "/tmp");
	return d;
}

/* ---- running postconf ---- */

static const char *const test_grub_args[] = { "console=tty0", "console=ttyS0,115200n8", NULL };

/* Every step in the order the CLI runs them; returns the first error. */
TREE_FN int pc_run_all(struct rh_pc *pc, const struct rh_pc_fs *fs, size_t nfs)
{
	int rc = rh_pc_fstab(pc, fs, nfs);

	if (rc == 0)
		rc = rh_pc_network_dhcp(pc);
	if (rc == 0)
		rc = rh_pc_disable_agents(pc);
	if (rc == 0)
		rc = rh_pc_selinux_relabel(pc);
	if (rc == 0)
		rc = rh_pc_motd(pc);
	if (rc == 0)
		rc = rh_pc_xorg(pc);
	if (rc == 0)
		rc = rh_pc_initramfs_config(pc, NULL);
	if (rc == 0)
		rc = rh_pc_grub_defaults(pc, test_grub_args);
	return rc;
}

/* Number of changes recorded for path with action (NULL: any). */
TREE_FN size_t pc_count(const struct rh_pc *pc, const char *path, const char *action)
{
	size_t i, n = 0;
	json_t *c;

	json_array_foreach(pc->changes, i, c) {
		if (strcmp(json_string_value(json_object_get(c, "path")), path) != 0)
			continue;
		if (action && strcmp(json_string_value(json_object_get(c, "action")), action) != 0)
			continue;
		n++;
	}
	return n;
}

/* Print the changes (to see what a failing test did). */
TREE_FN void pc_dump(const struct rh_pc *pc)
{
	char *s = json_dumps(pc->changes, JSON_INDENT(1));

	fprintf(stderr, "%s\n", s ? s : "?");
	free(s);
}

/* Every modified, removed, renamed or commented file has a backup that
 * exists in the tree; created files have none. */
TREE_FN void pc_check_backups(const char *root, const struct rh_pc *pc)
{
	size_t i;
	json_t *c;

	json_array_foreach(pc->changes, i, c) {
		const char *action = json_string_value(json_object_get(c, "action"));
		json_t *b = json_object_get(c, "backup");

		if (strcmp(action, "created") == 0) {
			if (!json_is_null(b)) {
				pc_dump(pc);
				fail_msg("created %s has a backup",
					 json_string_value(json_object_get(c, "path")));
			}
			continue;
		}
		if (!json_is_string(b) || !tree_exists(root, json_string_value(b) + 1)) {
			pc_dump(pc);
			fail_msg("%s %s: no backup", action,
				 json_string_value(json_object_get(c, "path")));
		}
	}
}

/*
 * The life of a target tree under postconf: a dry run writes nothing and
 * predicts the real run's changes; the real run succeeds and backs up what
 * it changes, then check() looks at the result; a second run changes
 * nothing. Returns the number of changes of the real run.
 */
TREE_FN size_t pc_family_run(const char *root, const struct rh_pc_fs *fs, size_t nfs,
			     const struct rh_config *cfg,
			     void (*check)(const char *root, struct rh_pc *pc))
{
	char *before, *after;
	struct rh_pc pc;
	size_t n, ndry;

	before = tree_snapshot(root);
	assert_int_equal(rh_pc_open(&pc, root, cfg, true), 0);
	assert_int_equal(pc_run_all(&pc, fs, nfs), 0);
	ndry = json_array_size(pc.changes);
	rh_pc_release(&pc);
	after = tree_snapshot(root);
	assert_string_equal(before, after);
	free(before);
	free(after);

	assert_int_equal(rh_pc_open(&pc, root, cfg, false), 0);
	assert_int_equal(pc_run_all(&pc, fs, nfs), 0);
	n = json_array_size(pc.changes);
	if (n != ndry) {
		pc_dump(&pc);
		fail_msg("dry run predicted %zu changes, the run made %zu", ndry, n);
	}
	if (getenv("REHOST_TEST_DUMP"))
		pc_dump(&pc);
	pc_check_backups(root, &pc);
	check(root, &pc);
	rh_pc_release(&pc);

	before = tree_snapshot(root);
	assert_int_equal(rh_pc_open(&pc, root, cfg, false), 0);
	assert_int_equal(pc_run_all(&pc, fs, nfs), 0);
	if (json_array_size(pc.changes) != 0) {
		pc_dump(&pc);
		fail_msg("second run changed something");
	}
	rh_pc_release(&pc);
	after = tree_snapshot(root);
	assert_string_equal(before, after);
	free(before);
	free(after);
	return n;
}

/* File content equals want (prints both when not). */
#define assert_file(root, rel, want)                                         \
	do {                                                                 \
		char *got_ = tree_get((root), (rel));                        \
		if (got_ == NULL)                                            \
			fail_msg("%s: missing", (rel));                      \
		if (strcmp(got_, (want)) != 0) {                             \
			fprintf(stderr, "%s:\n--- got\n%s--- want\n%s---\n", \
				(rel), got_, (want));                        \
			fail_msg("%s differs", (rel));                       \
		}                                                            \
		free(got_);                                                  \
	} while (0)

#endif
