/* Unit tests for file-mode verify (src/lib/verify): trees in a private
 * temporary directory, compared in quick and crc mode, limits, refused
 * roots, recheck, and the result-log reader. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <dirent.h>

#include "rehost/err.h"
#include "rehost/fileverify.h"

struct fx {
	char base[256], src[300], tgt[300], log[320], summary[320];
};

/* rm -rf below dfd/name, without following symlinks. */
static void rm_tree_at(int dfd, const char *name)
{
	int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	DIR *d;
	struct dirent *de;

	if (fd < 0) {
		unlinkat(dfd, name, 0);
		return;
	}
	d = fdopendir(fd);
	assert_non_null(d);
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (de->d_type == DT_DIR)
			rm_tree_at(dirfd(d), de->d_name);
		else
			unlinkat(dirfd(d), de->d_name, 0);
	}
	closedir(d);
	unlinkat(dfd, name, AT_REMOVEDIR);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof *f);
	const char *tmp = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : getenv("TMPDIR");

	assert_non_null(f);
	snprintf(f->base, sizeof f->base, "%s/rehost-fv.XXXXXX", tmp ? tmp : "/tmp");
	assert_non_null(mkdtemp(f->base));
	snprintf(f->src, sizeof f->src, "%s/src", f->base);
	snprintf(f->tgt, sizeof f->tgt, "%s/tgt", f->base);
	snprintf(f->log, sizeof f->log, "%s/result.log", f->base);
	snprintf(f->summary, sizeof f->summary, "%s/summary.json", f->base);
	assert_int_equal(mkdir(f->src, 0755), 0);
	assert_int_equal(mkdir(f->tgt, 0755), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	rm_tree_at(AT_FDCWD, f->base);
	free(f);
	return 0;
}

/* Write len bytes (pattern seeded by seed) to root/rel with mtime. */
static void put(const char *root, const char *rel, size_t len, unsigned seed, time_t mtime)
{
	char p[2048];
	unsigned char *buf = malloc(len ? len : 1);
	struct timespec ts[2] = { { mtime, 0 }, { mtime, 123456789 } };
	int fd;

	assert_non_null(buf);
	for (size_t i = 0; i < len; i++)
		buf[i] = (unsigned char)(((i * 2654435761u) >> 13) + seed * 31 + i);
	snprintf(p, sizeof p, "%s/%s", root, rel);
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, buf, len), (ssize_t)len);
	close(fd);
	free(buf);
	assert_int_equal(utimensat(AT_FDCWD, p, ts, 0), 0);
}

static void both(struct fx *f, const char *rel, size_t len, unsigned seed)
{
	put(f->src, rel, len, seed, 1700000000);
	put(f->tgt, rel, len, seed, 1700000000);
}

static void mkd(const char *root, const char *rel)
{
	char p[2048];

	snprintf(p, sizeof p, "%s/%s", root, rel);
	assert_int_equal(mkdir(p, 0755), 0);
}

static void sym(const char *root, const char *rel, const char *to)
{
	char p[2048];

	snprintf(p, sizeof p, "%s/%s", root, rel);
	assert_int_equal(symlink(to, p), 0);
}

static int run(struct fx *f, enum rh_fverify_mode mode, bool recheck, struct rh_fverify_stats *st)
{
	struct rh_fverify_opts o = {
		.source = f->src, .target = f->tgt, .mode = mode, .recheck = recheck,
		.result_log = f->log, .summary_path = f->summary,
		.buf_size = 1 << 20,
	};

	return rh_fverify_run(&o, st);
}

/* The entry for path in the current result log, or NULL; *log is kept
 * for the caller to free. */
static const struct rh_fverify_entry *find(struct fx *f, struct rh_fverify_log **log,
					   const char *path)
{
	rh_fverify_log_free(*log);
	*log = NULL;
	assert_int_equal(rh_fverify_log_load(f->log, log), 0);
	for (size_t i = 0; i < rh_fverify_log_count(*log); i++)
		if (strcmp(rh_fverify_log_at(*log, i)->path, path) == 0)
			return rh_fverify_log_at(*log, i);
	return NULL;
}

static void test_identical(void **state)
{
	struct fx *f = *state;
	struct rh_fverify_stats st;
	struct rh_fverify_log *log = NULL;
	char p[600];

	both(f, "a.txt", 100, 1);
	both(f, "empty", 0, 2);
	mkd(f->src, "sub");
	mkd(f->tgt, "sub");
	both(f, "sub/b.bin", 3 << 20, 3);
	sym(f->src, "link", "a.txt");
	sym(f->tgt, "link", "a.txt");
	sym(f->src, "etc", "/etc"); /* never followed */
	sym(f->tgt, "etc", "/etc");
	snprintf(p, sizeof p, "%s/fifo", f->src);
	assert_int_equal(mkfifo(p, 0600), 0);
	snprintf(p, sizeof p, "%s/fifo", f->tgt);
	assert_int_equal(mkfifo(p, 0600), 0);

	for (int m = RH_FVERIFY_QUICK; m <= RH_FVERIFY_CRC; m++) {
		assert_int_equal(run(f, (enum rh_fverify_mode)m, false, &st), 0);
		assert_int_equal(st.mismatches, 0);
		assert_int_equal(st.count[RH_FV_SKIPPED], 0);
		assert_int_equal(st.files_checked, 6);
		assert_int_equal(st.dirs_checked, 2);
		assert_int_equal(st.bytes_checked, 100 + (3 << 20));
		assert_int_equal(st.bytes_read, m == RH_FVERIFY_CRC ? 2 * (100 + (3 << 20)) : 0);
		assert_int_equal(rh_fverify_log_load(f->log, &log), 0);
		assert_int_equal(rh_fverify_log_count(log), 0);
		assert_int_equal(rh_fverify_log_mode(log), m);
		assert_string_equal(rh_fverify_log_source(log), st.source);
		rh_fverify_log_free(log);
		log = NULL;
	}
	assert_int_equal(access(f->summary, R_OK), 0);
}

static void test_changes(void **state)
{
	struct fx *f = *state;
	struct rh_fverify_stats st;
	struct rh_fverify_log *log = NULL;
	const struct rh_fverify_entry *e;

	both(f, "same", 10, 1);
	put(f->src, "new", 10, 1, 1700000000);          /* new on the source */
	put(f->tgt, "deleted", 10, 1, 1700000000);      /* deleted on the source */
	put(f->src, "modified", 10, 1, 1700000100);     /* same size, new content */
	put(f->tgt, "modified", 10, 2, 1700000000);
	put(f->src, "grown", 20, 1, 1700000000);
	put(f->tgt, "grown", 10, 1, 1700000000);
	mkd(f->src, "dir-vs-file");
	put(f->tgt, "dir-vs-file", 1, 1, 1700000000);
	mkd(f->src, "gone");                            /* a whole directory missing */
	put(f->src, "gone/x", 1, 1, 1700000000);

	assert_int_equal(run(f, RH_FVERIFY_QUICK, false, &st), 0);
	assert_int_equal(st.count[RH_FV_MISSING], 2);
	assert_int_equal(st.count[RH_FV_EXTRA], 1);
	assert_int_equal(st.count[RH_FV_MTIME], 1);
	assert_int_equal(st.count[RH_FV_SIZE], 1);
	assert_int_equal(st.count[RH_FV_TYPE], 1);
	assert_int_equal(st.mismatches, 6);
	e = find(f, &log, "modified");
	assert_non_null(e);
	assert_int_equal(e->kind, RH_FV_MTIME);
	e = find(f, &log, "gone");
	assert_non_null(e);
	assert_int_equal(e->kind, RH_FV_MISSING);
	assert_string_equal(e->detail, "directory");
	assert_null(find(f, &log, "gone/x")); /* only the top of a missing subtree */
	e = find(f, &log, "grown");
	assert_non_null(e);
	assert_int_equal(e->kind, RH_FV_SIZE);
	e = find(f, &log, "deleted");
	assert_non_null(e);
	assert_int_equal(e->kind, RH_FV_EXTRA);

	assert_int_equal(run(f, RH_FVERIFY_CRC, false, &st), 0);
	assert_int_equal(st.count[RH_FV_MTIME], 0); /* crc mode compares content */
	assert_int_equal(st.count[RH_FV_CONTENT], 1);
	e = find(f, &log, "modified");
	assert_non_null(e);
	assert_int_equal(e->kind, RH_FV_CONTENT);
	rh_fverify_log_free(log);
}

/* A large file rewritten in the middle with its size and mtime restored:
 * quick mode cannot see it, crc mode finds the exact byte. */
static void test_rewrite_middle(void **state)
{
	struct fx *f = *state;
	struct rh_fverify_stats st;
	struct rh_fverify_log *log = NULL;
	const struct rh_fverify_entry *e;
	struct timespec ts[2] = { { 1700000000, 0 }, { 1700000000, 123456789 } };
	const size_t size = 5u << 20, at = (5u << 20) / 2 + 7;
	char p[600];
	int fd;

	both(f, "big.img", size, 9);
	snprintf(p, sizeof p, "%s/big.img", f->tgt);
	fd = open(p, O_RDWR);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, "XYZ", 3, (off_t)at), 3);
	close(fd);
	assert_int_equal(utimensat(AT_FDCWD, p, ts, 0), 0);

	assert_int_equal(run(f, RH_FVERIFY_QUICK, false, &st), 0);
	assert_int_equal(st.mismatches, 0);
	assert_int_equal(run(f, RH_FVERIFY_CRC, false, &st), 0);
	assert_int_equal(st.mismatches, 1);
	assert_int_equal(st.count[RH_FV_CONTENT], 1);
	assert_int_equal(st.bytes_checked, size);
	e = find(f, &log, "big.img");
	assert_non_null(e);
	assert_int_equal(e->kind, RH_FV_CONTENT);
	snprintf(p, sizeof p, "first differing byte at offset %zu;", at);
	assert_non_null(strstr(e->detail, p));
	rh_fverify_log_free(log);
}

static void test_symlinks(void **state)
{
	struct fx *f = *state;
	struct rh_fverify_stats st;
	struct rh_fverify_log *log = NULL;
	const struct rh_fverify_entry *e;

	both(f, "a", 5, 1);
	both(f, "b", 5, 2);
	sym(f->src, "same", "a");
	sym(f->tgt, "same", "a");
	sym(f->src, "moved", "a");
	sym(f->tgt, "moved", "b");
	sym(f->src, "was-link", "a");
	put(f->tgt, "was-link", 1, 1, 1700000000);
	sym(f->src, "dangling", "/nonexistent/x");
	sym(f->tgt, "dangling", "/nonexistent/x");

	assert_int_equal(run(f, RH_FVERIFY_CRC, false, &st), 0);
	assert_int_equal(st.mismatches, 2);
	e = find(f, &log, "moved");
	assert_non_null(e);
	assert_int_equal(e->kind, RH_FV_LINK);
	assert_string_equal(e->detail, "source -> a, target -> b");
	e = find(f, &log, "was-link");
	assert_non_null(e);
	assert_int_equal(e->kind, RH_FV_TYPE);
	assert_string_equal(e->detail, "source symlink, target regular file, 1 bytes");
	rh_fverify_log_free(log);
}

/* 100,001 entries in one directory: reported, not compared; the rest of
 * the tree still is. */
static void test_too_many_entries(void **state)
{
	struct fx *f = *state;
	struct rh_fverify_stats st;
	struct rh_fverify_log *log = NULL;
	const struct rh_fverify_entry *e;
	char p[600], name[16];
	int dfd;

	mkd(f->src, "huge");
	mkd(f->tgt, "huge");
	snprintf(p, sizeof p, "%s/huge", f->src);
	dfd = open(p, O_RDONLY | O_DIRECTORY);
	assert_true(dfd >= 0);
	for (unsigned i = 0; i < RH_FVERIFY_MAX_DIR_ENTRIES + 1; i++) {
		snprintf(name, sizeof name, "%u", i);
		assert_int_equal(mknodat(dfd, name, S_IFREG | 0600, 0), 0);
	}
	close(dfd);
	put(f->src, "other", 3, 1, 1700000000);

	assert_int_equal(run(f, RH_FVERIFY_QUICK, false, &st), 0);
	assert_int_equal(st.skipped[RH_FV_SKIP_ENTRIES], 1);
	assert_int_equal(st.count[RH_FV_SKIPPED], 1);
	assert_int_equal(st.mismatches, 1); /* "other"; nothing under huge/ */
	e = find(f, &log, "huge");
	assert_non_null(e);
	assert_int_equal(e->kind, RH_FV_SKIPPED);
	assert_non_null(strstr(e->detail, "too_many_entries: the source directory has more than 100000"));
	rh_fverify_log_free(log);

	/* Exactly at the limit is fine. */
	snprintf(p, sizeof p, "%s/huge/0", f->src);
	assert_int_equal(unlink(p), 0);
	assert_int_equal(run(f, RH_FVERIFY_QUICK, false, &st), 0);
	assert_int_equal(st.count[RH_FV_SKIPPED], 0);
	assert_int_equal(st.count[RH_FV_MISSING], 1 + RH_FVERIFY_MAX_DIR_ENTRIES);
}

static void test_long_paths(void **state)
{
	struct fx *f = *state;
	struct rh_fverify_stats st;
	struct rh_fverify_log *log = NULL;
	char rel[1600] = "", comp[201];
	size_t n = 0;

	memset(comp, 'd', 200);
	comp[200] = '\0';
	/* Six levels of 200-byte names: deeper than 1023 bytes in total. */
	for (int i = 0; i < 6; i++) {
		n += (size_t)snprintf(rel + n, sizeof rel - n, "%s%s", i ? "/" : "", comp);
		mkd(f->src, rel);
		mkd(f->tgt, rel);
	}
	put(f->src, "dddd", 1, 1, 1700000000); /* a real mismatch elsewhere */

	assert_int_equal(run(f, RH_FVERIFY_QUICK, false, &st), 0);
	assert_int_equal(st.skipped[RH_FV_SKIP_PATH], 1);
	assert_int_equal(st.mismatches, 1);
	assert_int_equal(rh_fverify_log_load(f->log, &log), 0);
	for (size_t i = 0; i < rh_fverify_log_count(log); i++) {
		const struct rh_fverify_entry *e = rh_fverify_log_at(log, i);

		if (e->kind == RH_FV_SKIPPED) {
			assert_true(strlen(st.source) + 1 + strlen(e->path) >= RH_FVERIFY_MAX_PATH);
			assert_true(strlen(st.source) + 1 + strlen(e->path) - 201 < RH_FVERIFY_MAX_PATH);
			assert_non_null(strstr(e->detail, "path_too_long"));
		}
	}
	rh_fverify_log_free(log);
}

static void test_refused_roots(void **state)
{
	struct fx *f = *state;
	struct rh_fverify_stats st;
	struct rh_fverify_opts o = { .target = f->tgt, .result_log = f->log };
	const char *refused[] = { "/", "/etc", "/dev", "/sys", "/usr", "/boot", "/run",
				  "/usr/../etc", "//etc/", "/proc" };
	char out[4096], p[600];

	for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
		if (access(refused[i], F_OK) != 0)
			continue;
		assert_int_equal(rh_fverify_check_root(refused[i], out, sizeof out), RH_ERR_INVAL);
		assert_non_null(strstr(rh_lasterr(), "refused root"));
	}
	snprintf(p, sizeof p, "%s/etc-link", f->base); /* realpath normalisation */
	assert_int_equal(symlink("/etc", p), 0);
	assert_int_equal(rh_fverify_check_root(p, out, sizeof out), RH_ERR_INVAL);
	assert_non_null(strstr(rh_lasterr(), "-> /etc is a refused root"));

	o.source = "/etc";
	assert_int_equal(rh_fverify_run(&o, &st), RH_ERR_INVAL);
	assert_non_null(strstr(rh_lasterr(), "source /etc is a refused root"));
	assert_int_equal(access(f->log, F_OK), -1); /* nothing written */
	o.source = f->src;
	o.target = "/run";
	assert_int_equal(rh_fverify_run(&o, &st), RH_ERR_INVAL);
	assert_non_null(strstr(rh_lasterr(), "target /run is a refused root"));

	o.target = "/nonexistent-rehost-dir";
	assert_int_equal(rh_fverify_run(&o, &st), RH_ERR_NOTFOUND);
	o.target = f->src;
	assert_int_equal(rh_fverify_run(&o, &st), RH_ERR_INVAL); /* same tree */
	mkd(f->src, "inner");
	snprintf(p, sizeof p, "%s/inner", f->src);
	o.target = p;
	assert_int_equal(rh_fverify_run(&o, &st), RH_ERR_INVAL); /* nested */
	assert_non_null(strstr(rh_lasterr(), "overlap"));
	snprintf(p, sizeof p, "%s/a-file", f->base);
	put(f->base, "a-file", 1, 1, 1700000000);
	o.target = p;
	assert_int_equal(rh_fverify_run(&o, &st), RH_ERR_INVAL);
	assert_non_null(strstr(rh_lasterr(), "not a directory"));
}

static void test_recheck(void **state)
{
	struct fx *f = *state;
	struct rh_fverify_stats st;
	struct rh_fverify_log *log = NULL;
	char p[600], other[600];

	both(f, "ok", 100, 1);
	both(f, "later", 100, 1);
	put(f->src, "bad", 100, 1, 1700000000);
	put(f->tgt, "bad", 100, 2, 1700000000);
	put(f->src, "lost", 5, 1, 1700000000);
	mkd(f->src, "d");
	mkd(f->tgt, "d");
	put(f->src, "d/bad2", 7, 1, 1700000000);
	put(f->tgt, "d/bad2", 7, 3, 1700000000);

	/* Recheck needs an earlier log. */
	assert_int_equal(run(f, RH_FVERIFY_CRC, true, &st), RH_ERR_NOTFOUND);
	assert_non_null(strstr(rh_lasterr(), "run verify without --recheck first"));

	assert_int_equal(run(f, RH_FVERIFY_CRC, false, &st), 0);
	assert_int_equal(st.mismatches, 3);

	/* A file not in the list changes: recheck does not look at it. */
	put(f->tgt, "later", 100, 7, 1700000000);
	assert_int_equal(run(f, RH_FVERIFY_DEFAULT, true, &st), 0);
	assert_int_equal(st.mode, RH_FVERIFY_CRC); /* from the log */
	assert_int_equal(st.rechecked, 3);
	assert_int_equal(st.files_checked, 2); /* bad, d/bad2 ("lost" still missing) */
	assert_int_equal(st.mismatches, 3);
	assert_null(find(f, &log, "later"));

	/* Fixing listed entries clears them. */
	put(f->tgt, "bad", 100, 1, 1700000000);
	put(f->tgt, "lost", 5, 1, 1700000000);
	assert_int_equal(run(f, RH_FVERIFY_DEFAULT, true, &st), 0);
	assert_int_equal(st.mismatches, 1);
	assert_null(find(f, &log, "bad"));
	assert_null(find(f, &log, "lost"));
	assert_non_null(find(f, &log, "d/bad2"));
	assert_int_equal(rh_fverify_log_count(log), 1);

	/* The next recheck starts from the shorter list. */
	put(f->tgt, "d/bad2", 7, 1, 1700000000);
	assert_int_equal(run(f, RH_FVERIFY_DEFAULT, true, &st), 0);
	assert_int_equal(st.rechecked, 1);
	assert_int_equal(st.mismatches, 0);

	/* A full run still sees "later". */
	assert_int_equal(run(f, RH_FVERIFY_CRC, false, &st), 0);
	assert_int_equal(st.mismatches, 1);
	assert_non_null(find(f, &log, "later"));
	rh_fverify_log_free(log);

	/* A log of other roots is refused. */
	snprintf(other, sizeof other, "%s/other", f->base);
	assert_int_equal(mkdir(other, 0755), 0);
	{
		struct rh_fverify_opts o = { .source = f->src, .target = other, .recheck = true,
					     .result_log = f->log };

		assert_int_equal(rh_fverify_run(&o, &st), RH_ERR_STATE);
	}
	/* A truncated log is refused. */
	snprintf(p, sizeof p, "%s", f->log);
	assert_int_equal(truncate(p, (off_t)strlen("# rehost verify result log v1\n# mode: crc\n")), 0);
	assert_int_equal(run(f, RH_FVERIFY_DEFAULT, true, &st), RH_ERR_CORRUPT);
}

/* Names with bytes that need escaping survive the round trip. */
static void test_escaping(void **state)
{
	struct fx *f = *state;
	struct rh_fverify_stats st;
	struct rh_fverify_log *log = NULL;
	const char *names[] = { "tab\there", "new\nline", "back\\slash", "ctl\x01x", "ütf-8 ✓" };

	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		put(f->src, names[i], 1, 1, 1700000000);
	assert_int_equal(run(f, RH_FVERIFY_QUICK, false, &st), 0);
	assert_int_equal(st.count[RH_FV_MISSING], 5);
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		assert_non_null(find(f, &log, names[i]));
	rh_fverify_log_free(log);
}

static int parse(const char *text)
{
	struct rh_fverify_log *log = NULL;
	int rc = rh_fverify_log_parse(text, strlen(text), &log);

	if (rc == 0)
		assert_non_null(log);
	else
		assert_null(log);
	rh_fverify_log_free(log);
	return rc;
}

static void test_log_parser(void **state)
{
	struct rh_fverify_log *log = NULL;
	const char *ok = "# rehost verify result log v1\n# mode: crc\n# source: /a\\tb\n"
			 "content\tx/y\tdetail\nskipped\t.\ttoo_many_entries: x\n# end: 2\n";

	(void)state;
	assert_int_equal(rh_fverify_log_parse(ok, strlen(ok), &log), 0);
	assert_int_equal(rh_fverify_log_count(log), 2);
	assert_int_equal(rh_fverify_log_mode(log), RH_FVERIFY_CRC);
	assert_string_equal(rh_fverify_log_source(log), "/a\tb");
	assert_string_equal(rh_fverify_log_target(log), "");
	assert_string_equal(rh_fverify_log_at(log, 0)->path, "x/y");
	assert_int_equal(rh_fverify_log_at(log, 1)->kind, RH_FV_SKIPPED);
	assert_null(rh_fverify_log_at(log, 2));
	rh_fverify_log_free(log);

	assert_int_equal(parse("# rehost verify result log v1\n# end: 0\n"), 0);
	assert_int_equal(parse("# rehost verify result log v1\r\n# end: 0\r\n"), 0);
	assert_int_equal(parse(""), RH_ERR_PARSE);
	assert_int_equal(parse("hello\n# end: 0\n"), RH_ERR_PARSE);
	assert_int_equal(parse("# rehost verify result log v1\nsize\ta\tb\n"), RH_ERR_CORRUPT);
	assert_int_equal(parse("# rehost verify result log v1\nsize\ta\tb\n# end: 2\n"), RH_ERR_CORRUPT);
	assert_int_equal(parse("# rehost verify result log v1\n# end: 0\nsize\ta\tb\n"), RH_ERR_PARSE);
	assert_int_equal(parse("# rehost verify result log v1\nbogus\ta\tb\n# end: 1\n"), RH_ERR_PARSE);
	assert_int_equal(parse("# rehost verify result log v1\nsize\ta\n# end: 1\n"), RH_ERR_PARSE);
	assert_int_equal(parse("# rehost verify result log v1\nsize\ta\tb\tc\n# end: 1\n"), RH_ERR_PARSE);
	assert_int_equal(parse("# rehost verify result log v1\nsize\t../a\tb\n# end: 1\n"), RH_ERR_PARSE);
	assert_int_equal(parse("# rehost verify result log v1\nsize\ta/../b\tb\n# end: 1\n"), RH_ERR_PARSE);
	assert_int_equal(parse("# rehost verify result log v1\nsize\t/etc/passwd\tb\n# end: 1\n"), RH_ERR_PARSE);
	assert_int_equal(parse("# rehost verify result log v1\nsize\ta//b\tb\n# end: 1\n"), RH_ERR_PARSE);
	assert_int_equal(parse("# rehost verify result log v1\nsize\ta\\x00b\tb\n# end: 1\n"), RH_ERR_PARSE);
	assert_int_equal(parse("# rehost verify result log v1\nsize\ta\\q\tb\n# end: 1\n"), RH_ERR_PARSE);
	assert_int_equal(parse("# rehost verify result log v1\nsize\ta\\\tb\n# end: 1\n"), RH_ERR_PARSE);
	assert_int_equal(parse("# rehost verify result log v1\n# mode: fast\n# end: 0\n"), RH_ERR_PARSE);
	assert_int_equal(parse("# rehost verify result log v1\n# end: x\n"), RH_ERR_PARSE);
	assert_int_equal(rh_fverify_log_parse("x", (size_t)RH_FVERIFY_LOG_MAX + 1, &log), RH_ERR_TOOBIG);
	assert_int_equal(rh_fverify_log_load("/nonexistent/log", &log), RH_ERR_NOTFOUND);
}

struct progress_rec {
	unsigned calls;
	struct rh_fverify_progress last;
};

static void on_progress(const struct rh_fverify_progress *p, void *arg)
{
	struct progress_rec *pr = arg;

	pr->calls++;
	assert_true(p->percent >= 0 && p->percent <= 100.0);
	pr->last = *p;
}

static void test_progress(void **state)
{
	struct fx *f = *state;
	struct rh_fverify_stats st;
	struct progress_rec pr = { 0 };
	struct rh_fverify_opts o = {
		.source = f->src, .target = f->tgt, .mode = RH_FVERIFY_CRC,
		.result_log = f->log, .buf_size = 1 << 20, .progress_interval = 0.000001,
		.progress = on_progress, .progress_arg = &pr,
	};

	both(f, "a", 3 << 20, 1);
	both(f, "b", 1000, 2);
	assert_int_equal(rh_fverify_run(&o, &st), 0);
	assert_true(pr.calls >= 2);
	assert_true(pr.last.final);
	assert_int_equal(pr.last.total_bytes, (3 << 20) + 1000);
	assert_int_equal(pr.last.total_files, 3);
	assert_int_equal(pr.last.bytes_checked, (3 << 20) + 1000);
	assert_true(pr.last.percent == 100.0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_identical, setup, teardown),
		cmocka_unit_test_setup_teardown(test_changes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rewrite_middle, setup, teardown),
		cmocka_unit_test_setup_teardown(test_symlinks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_too_many_entries, setup, teardown),
		cmocka_unit_test_setup_teardown(test_long_paths, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refused_roots, setup, teardown),
		cmocka_unit_test_setup_teardown(test_recheck, setup, teardown),
		cmocka_unit_test_setup_teardown(test_escaping, setup, teardown),
		cmocka_unit_test(test_log_parser),
		cmocka_unit_test_setup_teardown(test_progress, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
