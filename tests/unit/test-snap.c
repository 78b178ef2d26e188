/*
 * Target snapshots (src/lib/snap): the sparse copy keeps holes and turns
 * written zero blocks into holes (st_blocks), copies are byte-identical,
 * the digest matches an independent computation from its definition and
 * does not depend on how sparse a file is; manifests are validated field
 * by field; create/rollback/delete through the public API, with a damaged
 * or incomplete snapshot refused before any disk changes, a held target
 * lock refused, and leftovers of interrupted runs cleaned up.
 */
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
#include <xxhash.h>

#include "snap/snap-internal.h"
#include "rehost/endian.h"
#include "rehost/err.h"
#include "rehost/repl.h"
#include "rehost/snap.h"

#define MiB (1024u * 1024u)

static char dir[256];

static uint64_t rng_state = 0x9E3779B97F4A7C15ULL;

static uint64_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static void path_of(char *out, size_t len, const char *name)
{
	snprintf(out, len, "%s/%s", dir, name);
}

static void write_at(int fd, uint64_t off, const uint8_t *p, size_t len)
{
	assert_int_equal(pwrite(fd, p, len, (off_t)off), (ssize_t)len);
}

/* A sparse disk: size bytes, random data at a few places, one block of
 * written zeros (allocated, but zero), one partial block at the end. */
static int make_disk(const char *name, uint64_t size)
{
	char p[512];
	uint8_t buf[3 * 4096 + 100];
	int fd;

	path_of(p, sizeof p, name);
	fd = open(p, O_RDWR | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)size), 0);
	for (size_t i = 0; i < sizeof buf; i++)
		buf[i] = (uint8_t)rng();
	write_at(fd, 0, buf, 512);               /* a "partition table" */
	write_at(fd, 1 * MiB + 100, buf, sizeof buf);  /* unaligned run */
	memset(buf, 0, 4096);
	write_at(fd, 2 * MiB, buf, 4096);         /* written zeros */
	for (size_t i = 0; i < sizeof buf; i++)
		buf[i] = (uint8_t)rng();
	write_at(fd, size - 3000, buf, 3000);     /* ends inside a partial block */
	assert_int_equal(fsync(fd), 0);
	return fd;
}

/* The digest straight from its definition, over a plain read of the
 * whole file: XXH3-128 of (le64 offset, block) for every non-zero 4 KiB
 * block, then le64 size. */
static void reference_digest(int fd, uint64_t size, char hex[33])
{
	XXH3_state_t *h = XXH3_createState();
	uint8_t *blk = malloc(4096), le[8];
	static const uint8_t zero[4096];
	XXH128_canonical_t c;

	assert_non_null(h);
	assert_non_null(blk);
	XXH3_128bits_reset(h);
	for (uint64_t off = 0; off < size; off += 4096) {
		size_t n = size - off < 4096 ? (size_t)(size - off) : 4096;

		assert_int_equal(pread(fd, blk, n, (off_t)off), (ssize_t)n);
		if (memcmp(blk, zero, n) == 0)
			continue;
		rh_le64enc(le, off);
		XXH3_128bits_update(h, le, 8);
		XXH3_128bits_update(h, blk, n);
	}
	rh_le64enc(le, size);
	XXH3_128bits_update(h, le, 8);
	XXH128_canonicalFromHash(&c, XXH3_128bits_digest(h));
	for (int i = 0; i < 16; i++)
		snprintf(hex + 2 * i, 3, "%02x", c.digest[i]);
	XXH3_freeState(h);
	free(blk);
}

static bool same_content(int a, int b, uint64_t size)
{
	uint8_t *x = malloc(MiB), *y = malloc(MiB);
	bool same = true;

	for (uint64_t off = 0; off < size && same; off += MiB) {
		size_t n = size - off < MiB ? (size_t)(size - off) : MiB;

		assert_int_equal(pread(a, x, n, (off_t)off), (ssize_t)n);
		assert_int_equal(pread(b, y, n, (off_t)off), (ssize_t)n);
		same = memcmp(x, y, n) == 0;
	}
	free(x);
	free(y);
	return same;
}

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof dir, "%s/rehost-test-snap.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[600];

	(void)state;
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void test_copy_keeps_holes(void **state)
{
	const uint64_t size = 8 * MiB + 3000;
	int src = make_disk("copy-src", size), dst;
	char p[512], hex[33], hex2[33], ref[33];
	struct snap_io io = { 0 };
	struct stat ss, ds;

	(void)state;
	path_of(p, sizeof p, "copy-dst");
	dst = open(p, O_RDWR | O_CREAT | O_EXCL, 0600);
	assert_true(dst >= 0);
	/* No reflink flag: exercise the sparse copy whatever the filesystem. */
	assert_int_equal(snap_copy(src, "copy-src", dst, p, size, 0, hex, &io), 0);
	assert_false(io.reflinked);
	assert_int_equal(fsync(dst), 0);
	assert_int_equal(fstat(src, &ss), 0);
	assert_int_equal(fstat(dst, &ds), 0);
	assert_int_equal(ds.st_size, (off_t)size);
	assert_true(same_content(src, dst, size));
	/* The written zero block became a hole: fewer blocks than the source,
	 * and far fewer than the size. */
	assert_true(ds.st_blocks < ss.st_blocks);
	assert_true((uint64_t)ds.st_blocks * 512 < 64 * 1024);
	/* Only data extents were read. */
	assert_true(io.read < 64 * 1024);
	reference_digest(src, size, ref);
	assert_string_equal(hex, ref);
	memset(&io, 0, sizeof io);
	assert_int_equal(snap_digest(dst, p, size, hex2, &io), 0);
	assert_string_equal(hex2, ref);
	close(src);
	close(dst);
}

static void test_digest_definition(void **state)
{
	const uint64_t size = 4 * MiB;
	int a = make_disk("dig-a", size), b;
	char p[512], ha[33], hb[33];
	uint8_t *buf = malloc(size);
	struct snap_io io = { 0 };

	(void)state;
	/* The same bytes, fully allocated: same digest. */
	assert_int_equal(pread(a, buf, size, 0), (ssize_t)size);
	path_of(p, sizeof p, "dig-b");
	b = open(p, O_RDWR | O_CREAT | O_TRUNC, 0600);
	write_at(b, 0, buf, size);
	assert_int_equal(snap_digest(a, "a", size, ha, &io), 0);
	assert_int_equal(snap_digest(b, "b", size, hb, &io), 0);
	assert_string_equal(ha, hb);
	assert_int_equal(strlen(ha), 32);
	/* One bit anywhere, even in a hole, changes it. */
	buf[3 * MiB + 17] ^= 1;
	write_at(b, 3 * MiB + 17, buf + 3 * MiB + 17, 1);
	assert_int_equal(snap_digest(b, "b", size, hb, &io), 0);
	assert_string_not_equal(ha, hb);
	/* So does the size alone (trailing zeros). */
	buf[3 * MiB + 17] ^= 1;
	write_at(b, 3 * MiB + 17, buf + 3 * MiB + 17, 1);
	assert_int_equal(ftruncate(b, (off_t)size + 4096), 0);
	assert_int_equal(snap_digest(b, "b", size + 4096, hb, &io), 0);
	assert_string_not_equal(ha, hb);
	free(buf);
	close(a);
	close(b);
}

static void test_copy_in_place(void **state)
{
	const uint64_t size = 6 * MiB;
	int src = make_disk("inpl-src", size), dst;
	char p[512], hex[33], ref[33];
	uint8_t junk[64 * 1024];
	struct snap_io io = { 0 };

	(void)state;
	path_of(p, sizeof p, "inpl-dst");
	dst = open(p, O_RDWR | O_CREAT | O_TRUNC, 0600);
	/* Garbage everywhere, and longer than the source (a grown image). */
	for (uint64_t off = 0; off < size + MiB; off += sizeof junk) {
		for (size_t i = 0; i < sizeof junk; i++)
			junk[i] = (uint8_t)(rng() | 1);
		write_at(dst, off, junk, sizeof junk);
	}
	assert_int_equal(snap_copy(src, "inpl-src", dst, p, size, SNAP_COPY_INPLACE, hex, &io), 0);
	assert_true(same_content(src, dst, size));
	reference_digest(src, size, ref);
	assert_string_equal(hex, ref);
	assert_int_equal(lseek(dst, 0, SEEK_END), (off_t)size);
	close(src);
	close(dst);
}

static void test_name_check(void **state)
{
	(void)state;
	assert_int_equal(rh_snap_name_check("sync"), 0);
	assert_int_equal(rh_snap_name_check("cutover"), 0);
	assert_int_equal(rh_snap_name_check("before-upgrade-2"), 0);
	assert_int_equal(rh_snap_name_check("abcdefghijklmnopqrstuvwxyz012345"), 0);
	assert_int_equal(rh_snap_name_check("abcdefghijklmnopqrstuvwxyz0123456"), RH_ERR_INVAL);
	assert_int_equal(rh_snap_name_check(""), RH_ERR_INVAL);
	assert_int_equal(rh_snap_name_check(NULL), RH_ERR_INVAL);
	assert_int_equal(rh_snap_name_check("Sync"), RH_ERR_INVAL);
	assert_int_equal(rh_snap_name_check("a.tmp"), RH_ERR_INVAL);
	assert_int_equal(rh_snap_name_check("../x"), RH_ERR_INVAL);
	assert_int_equal(rh_snap_name_check("a b"), RH_ERR_INVAL);
	assert_non_null(strstr(rh_lasterr(), "a-z, 0-9"));
}

#define DIGEST "0123456789abcdef0123456789abcdef"

static const char good[] =
	"{\"format\":\"rehost-snapshot\",\"version\":1,\"name\":\"sync\","
	"\"created\":\"2024-05-01T12:00:00Z\",\"digest_alg\":\"xxh3-128-nonzero-4k\","
	"\"disks\":[{\"file\":\"disk0.raw\",\"source\":\"/t/disk0.raw\",\"size\":1048576,"
	"\"digest\":\"" DIGEST "\",\"method\":\"sparse-copy\"},"
	"{\"file\":\"disk1.raw\",\"source\":\"/t/disk1.raw\",\"size\":512,"
	"\"digest\":\"" DIGEST "\",\"method\":\"reflink\"}]}";

/* good with the first occurrence of from replaced by to. */
static int parse_variant(const char *from, const char *to, const char *expect_name)
{
	static char buf[4096];
	struct rh_snap_info *info = calloc(1, sizeof *info);
	const char *at = strstr(good, from);
	int rc;

	assert_non_null(at);
	snprintf(buf, sizeof buf, "%.*s%s%s", (int)(at - good), good, to, at + strlen(from));
	rc = snap_manifest_parse(buf, strlen(buf), expect_name, info);
	free(info);
	return rc;
}

static void test_manifest(void **state)
{
	struct rh_snap_info *info = calloc(1, sizeof *info), *again = calloc(1, sizeof *again);
	char *text = NULL;

	(void)state;
	assert_int_equal(snap_manifest_parse(good, strlen(good), "sync", info), 0);
	assert_string_equal(info->name, "sync");
	assert_int_equal(info->ndisks, 2);
	assert_int_equal(info->size, 1048576 + 512);
	assert_int_equal(info->created_t, 1714564800);
	assert_string_equal(info->disks[1].method, "reflink");
	/* Round trip. */
	assert_int_equal(snap_manifest_format(info, &text), 0);
	assert_int_equal(snap_manifest_parse(text, strlen(text), "sync", again), 0);
	assert_memory_equal(info->disks, again->disks, sizeof info->disks[0] * 2);
	free(text);

	/* Every field is checked. */
	assert_int_equal(parse_variant("\"sync\"", "\"cutover\"", "sync"), RH_ERR_PARSE);
	assert_int_equal(parse_variant("\"sync\"", "\"../etc\"", NULL), RH_ERR_PARSE);
	assert_int_equal(parse_variant("disk0.raw\",\"source", "../disk0.raw\",\"source", NULL), RH_ERR_PARSE);
	assert_int_equal(parse_variant("disk1.raw\",\"source", "disk0.raw\",\"source", NULL), RH_ERR_PARSE);
	assert_int_equal(parse_variant("\"" DIGEST "\"", "\"0123\"", NULL), RH_ERR_PARSE);
	assert_int_equal(parse_variant("\"" DIGEST "\"", "\"0123456789ABCDEF0123456789abcdef\"", NULL), RH_ERR_PARSE);
	assert_int_equal(parse_variant("1048576", "0", NULL), RH_ERR_PARSE);
	assert_int_equal(parse_variant("1048576", "-5", NULL), RH_ERR_PARSE);
	assert_int_equal(parse_variant("1048576", "\"1048576\"", NULL), RH_ERR_PARSE);
	assert_int_equal(parse_variant("\"version\":1", "\"version\":2", NULL), RH_ERR_UNSUPPORTED);
	assert_int_equal(parse_variant("nonzero-4k", "nonzero-64k", NULL), RH_ERR_UNSUPPORTED);
	assert_int_equal(parse_variant("rehost-snapshot", "other", NULL), RH_ERR_UNSUPPORTED);
	assert_int_equal(parse_variant("2024-05-01T12:00:00Z", "yesterday", NULL), RH_ERR_PARSE);
	assert_int_equal(parse_variant("2024-05-01T12:00:00Z", "2024-05-01T12:00:00Zjunk", NULL), RH_ERR_PARSE);
	assert_int_equal(parse_variant("\"sparse-copy\"", "\"dd\"", NULL), RH_ERR_PARSE);
	assert_int_equal(parse_variant(",\"method\":\"reflink\"", "", NULL), RH_ERR_PARSE);
	assert_int_equal(parse_variant("\"name\":\"sync\",", "\"name\":\"sync\",\"name\":\"x\",", NULL), RH_ERR_PARSE);
	assert_int_equal(parse_variant("\"disks\":[", "\"disks\":{}, \"x\":[", NULL), RH_ERR_PARSE);
	assert_int_equal(snap_manifest_parse("[]", 2, NULL, info), RH_ERR_PARSE);
	assert_int_equal(snap_manifest_parse("{", 1, NULL, info), RH_ERR_PARSE);
	assert_int_equal(snap_manifest_parse(good, strlen(good) - 1, NULL, info), RH_ERR_PARSE);

	/* At most RH_SNAP_MAX_DISKS disks, and a bounded size. */
	{
		size_t cap = 64 * 1024;
		char *big = malloc(cap);
		size_t n = (size_t)snprintf(big, cap, "{\"format\":\"rehost-snapshot\",\"version\":1,\"name\":\"a\",\"created\":\"2024-05-01T12:00:00Z\",\"digest_alg\":\"xxh3-128-nonzero-4k\",\"disks\":[");

		for (int i = 0; i <= RH_SNAP_MAX_DISKS; i++)
			n += (size_t)snprintf(big + n, cap - n, "%s{\"file\":\"disk%d.raw\",\"source\":\"s\",\"size\":1,\"digest\":\"" DIGEST "\",\"method\":\"reflink\"}",
					      i ? "," : "", i);
		n += (size_t)snprintf(big + n, cap - n, "]}");
		assert_int_equal(snap_manifest_parse(big, n, NULL, info), RH_ERR_PARSE);
		assert_non_null(strstr(rh_lasterr(), "1 to 64 disks"));
		free(big);
		big = calloc(1, SNAP_MANIFEST_MAX + 2);
		memset(big, ' ', SNAP_MANIFEST_MAX + 1);
		big[0] = '{';
		big[SNAP_MANIFEST_MAX] = '}';
		assert_int_equal(snap_manifest_parse(big, SNAP_MANIFEST_MAX + 1, NULL, info), RH_ERR_PARSE);
		free(big);
	}
	free(info);
	free(again);
}

static void file_of(char *out, size_t len, const char *sub, const char *name)
{
	snprintf(out, len, "%s/%s/%s", dir, sub, name);
}

static void test_create_rollback(void **state)
{
	char tdir[400], p[600], q[600];
	struct rh_snap_target t = { 0 };
	struct rh_snap_stats st;
	struct rh_snap_info *v = NULL, *info = calloc(1, sizeof *info);
	size_t n;
	int fd, lock, orig;
	uint8_t byte;

	(void)state;
	snprintf(tdir, sizeof tdir, "%s/tgt", dir);
	assert_int_equal(mkdir(tdir, 0700), 0);
	t.disk_dir = tdir;
	/* No disks yet. */
	assert_int_equal(rh_snap_create(&t, "sync", NULL), RH_ERR_NOTFOUND);
	close(make_disk("tgt/disk0.raw", 4 * MiB));
	close(make_disk("tgt/disk1.raw", 3 * MiB + 512));
	file_of(p, sizeof p, "tgt", "disk0.raw");
	orig = open(p, O_RDONLY);
	file_of(q, sizeof q, "tgt", "orig0");
	fd = open(q, O_RDWR | O_CREAT, 0600);
	{
		char hex[33];
		struct snap_io io = { 0 };

		assert_int_equal(snap_copy(orig, p, fd, q, 4 * MiB, 0, hex, &io), 0);
	}
	close(orig);

	assert_int_equal(rh_snap_create(&t, "sync", &st), 0);
	assert_int_equal(st.bytes, 7 * MiB + 512);
	assert_int_equal(rh_snap_info(&t, "sync", info), 0);
	assert_int_equal(info->ndisks, 2);

	/* Change the disk, take cutover, change again. */
	orig = open(p, O_RDWR);
	byte = 0x5a;
	write_at(orig, 3 * MiB, &byte, 1);
	close(orig);
	assert_int_equal(rh_snap_create(&t, "cutover", NULL), 0);
	orig = open(p, O_RDWR);
	write_at(orig, 100, &byte, 1);
	close(orig);

	/* Back to sync: identical to the original. */
	assert_int_equal(rh_snap_rollback(&t, "sync", &st), 0);
	orig = open(p, O_RDONLY);
	assert_true(same_content(orig, fd, 4 * MiB));
	close(orig);

	/* A new cutover replaces the old one. */
	assert_int_equal(rh_snap_create(&t, "cutover", NULL), 0);
	assert_int_equal(rh_snap_list(&t, &v, &n), 0);
	assert_int_equal(n, 2);
	free(v);

	/* One flipped byte in the snapshot: refused, disks untouched. */
	file_of(q, sizeof q, "tgt/snapshots/cutover", "disk1.raw");
	orig = open(q, O_RDWR);
	assert_int_equal(pread(orig, &byte, 1, 2 * MiB), 1);
	byte ^= 0x80;
	write_at(orig, 2 * MiB, &byte, 1);
	close(orig);
	orig = open(p, O_RDWR);
	write_at(orig, 200, &byte, 1); /* a change the refused rollback must keep */
	close(orig);
	assert_int_equal(rh_snap_rollback(&t, "cutover", NULL), RH_ERR_CORRUPT);
	assert_non_null(strstr(rh_lasterr(), "does not match its digest"));
	{
		uint8_t kept;

		orig = open(p, O_RDONLY);
		assert_int_equal(pread(orig, &kept, 1, 200), 1);
		assert_int_equal(kept, byte);
		close(orig);
	}
	{
		struct stat sb;
		char tmp[700];

		snprintf(tmp, sizeof tmp, "%s/disk0.raw.rollback", tdir);
		assert_int_equal(stat(tmp, &sb), -1); /* no leftovers */
	}
	/* A missing disk file: refused too. */
	assert_int_equal(unlink(q), 0);
	assert_int_equal(rh_snap_rollback(&t, "cutover", NULL), RH_ERR_NOTFOUND);
	assert_non_null(strstr(rh_lasterr(), "is missing"));
	assert_int_equal(rh_snap_rollback(&t, "nosuch", NULL), RH_ERR_NOTFOUND);

	/* While someone holds the target lock (a replication session): busy. */
	assert_int_equal(rh_target_lock(tdir, "a replication session", &lock), 0);
	assert_int_equal(rh_snap_create(&t, "sync", NULL), RH_ERR_BUSY);
	assert_non_null(strstr(rh_lasterr(), "a replication session, pid"));
	assert_int_equal(rh_snap_rollback(&t, "sync", NULL), RH_ERR_BUSY);
	rh_target_unlock(lock);

	/* Leftovers: a half-built snapshot is removed; a snapshot whose
	 * replacement stopped between its two renames (only NAME.old left)
	 * is restored. */
	file_of(q, sizeof q, "tgt/snapshots", "half.tmp");
	assert_int_equal(mkdir(q, 0700), 0);
	file_of(p, sizeof p, "tgt/snapshots", "sync");
	file_of(q, sizeof q, "tgt/snapshots", "sync.old");
	assert_int_equal(rename(p, q), 0);
	assert_int_equal(rh_snap_delete(&t, "cutover"), 0);
	assert_int_equal(rh_snap_delete(&t, "cutover"), RH_ERR_NOTFOUND);
	assert_int_equal(rh_snap_list(&t, &v, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(v[0].name, "sync");
	free(v);
	file_of(q, sizeof q, "tgt/snapshots", "half.tmp");
	assert_int_equal(access(q, F_OK), -1);
	/* And the restored one still rolls back. */
	assert_int_equal(rh_snap_rollback(&t, "sync", NULL), 0);
	close(fd);
	free(info);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_copy_keeps_holes),
		cmocka_unit_test(test_digest_definition),
		cmocka_unit_test(test_copy_in_place),
		cmocka_unit_test(test_name_check),
		cmocka_unit_test(test_manifest),
		cmocka_unit_test(test_create_rollback),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
