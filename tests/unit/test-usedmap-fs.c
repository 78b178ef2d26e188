/*
 * Used-block maps of real filesystems, made at run time by the system's
 * mkfs tools on sparse files and filled with a deterministic file tree.
 * For each filesystem:
 *
 *   - our used-byte count equals the filesystem's own accounting
 *     (dumpe2fs, xfs_db freesp, btrfs dump-tree device extents, fsck.fat);
 *   - every range partclone would copy (its ddrescue domain file) is in
 *     our map;
 *   - copying ONLY the mapped ranges into a zeroed sparse file gives an
 *     image the filesystem's checker accepts and whose files equal the
 *     originals (mounted read-only through a loop device when root, or
 *     extracted with mtools for vfat);
 *   - the map built through a read callback (no libblkid) is identical,
 *     and corrupting key metadata gives RH_ERR_CORRUPT, or an all-used
 *     map with RH_USEDMAP_FALLBACK_ALL.
 *
 * A tool that is missing skips its test with a message. With
 * REHOST_USEDMAP_CORPUS=DIR the metadata each build reads is written to
 * DIR/usedmap-FS/NAME as fuzz corpus (see fuzz/fuzz-usedmap.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rehost/endian.h"
#include "rehost/err.h"
#include "rehost/extent.h"
#include "rehost/usedmap.h"

static char dir[256];      /* scratch directory */
static char datadir[300];  /* the file tree every filesystem gets */
static char cmd[8192];

/* ---- shell helpers --------------------------------------------------- */

static int vsh(bool quiet, const char *fmt, va_list ap)
{
	int n, rc;

	/* A subshell, so the redirection covers every command of a chain. */
	strcpy(cmd, "(");
	n = vsnprintf(cmd + 1, sizeof cmd - 32, fmt, ap);
	assert_true(n > 0 && (size_t)n < sizeof cmd - 32);
	strcat(cmd, quiet ? ") >/dev/null 2>&1" : ")");
	rc = system(cmd);
	return rc == -1 ? -1 : WIFEXITED(rc) ? WEXITSTATUS(rc) : 128;
}

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = vsh(true, fmt, ap);
	va_end(ap);
	return rc;
}

/* Run a command and capture up to len-1 bytes of its stdout. */
static int sh_read(char *out, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int sh_read(char *out, size_t len, const char *fmt, ...)
{
	va_list ap;
	FILE *p;
	size_t n;
	int rc;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof cmd - 16, fmt, ap);
	va_end(ap);
	strcat(cmd, " 2>/dev/null");
	p = popen(cmd, "r");
	assert_non_null(p);
	n = fread(out, 1, len - 1, p);
	out[n] = '\0';
	rc = pclose(p);
	return WIFEXITED(rc) ? WEXITSTATUS(rc) : 128;
}

static bool have(const char *tool)
{
	return sh("command -v %s", tool) == 0;
}

#define REQUIRE(tool)                                                         \
	do {                                                                  \
		if (!have(tool)) {                                            \
			print_message("SKIP: %s not installed\n", tool);      \
			skip();                                               \
		}                                                             \
	} while (0)

/* Number following "key" in text (first occurrence), or UINT64_MAX. */
static uint64_t num_after(const char *text, const char *key)
{
	const char *p = strstr(text, key);

	if (p == NULL)
		return UINT64_MAX;
	p += strlen(key);
	while (*p == ' ' || *p == '\t' || *p == '=' || *p == ':')
		p++;
	return strtoull(p, NULL, 10);
}

/* ---- the data tree ----------------------------------------------------- */

static uint64_t rng = 0x9E3779B97F4A7C15ull;

static uint64_t next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static void write_file(const char *path, size_t size, bool text)
{
	FILE *f = fopen(path, "wb");
	char buf[4096];

	assert_non_null(f);
	while (size > 0) {
		size_t n = size < sizeof buf ? size : sizeof buf;

		for (size_t i = 0; i < n; i++)
			buf[i] = text ? (char)('a' + next_rand() % 26) : (char)next_rand();
		assert_int_equal(fwrite(buf, 1, n, f), n);
		size -= n;
	}
	assert_int_equal(fclose(f), 0);
}

/* About 10 MB in 40 files and 3 directories, with names every filesystem
 * (including vfat) keeps as written. */
static void make_tree(void)
{
	char p[512];

	snprintf(datadir, sizeof datadir, "%s/data", dir);
	assert_int_equal(sh("mkdir -p %s/dir1/dir2 %s/dir3", datadir, datadir), 0);
	snprintf(p, sizeof p, "%s/big.bin", datadir);
	write_file(p, 6u << 20, false);
	snprintf(p, sizeof p, "%s/rand.bin", datadir);
	write_file(p, 2500000, false);
	snprintf(p, sizeof p, "%s/dir1/text.txt", datadir);
	write_file(p, 100000, true);
	snprintf(p, sizeof p, "%s/dir1/dir2/mid.bin", datadir);
	write_file(p, 700000, false);
	snprintf(p, sizeof p, "%s/dir1/empty", datadir);
	write_file(p, 0, false);
	for (int i = 0; i < 35; i++) {
		snprintf(p, sizeof p, "%s/dir3/s%02d.txt", datadir, i);
		write_file(p, 50 + (size_t)(next_rand() % 3000), true);
	}
}

/* mkfs.xfs (6.1) takes its contents from a protofile. */
static void proto_dir(FILE *f, const char *path, int depth)
{
	struct dirent **ents = NULL;
	int n = scandir(path, &ents, NULL, alphasort);

	assert_true(n >= 0);
	for (int i = 0; i < n; i++) {
		char child[1024];
		struct stat st;

		if (ents[i]->d_name[0] == '.') {
			free(ents[i]);
			continue;
		}
		snprintf(child, sizeof child, "%s/%s", path, ents[i]->d_name);
		assert_int_equal(stat(child, &st), 0);
		if (S_ISDIR(st.st_mode)) {
			fprintf(f, "%*s%s d--755 0 0\n", depth, "", ents[i]->d_name);
			proto_dir(f, child, depth + 1);
			fprintf(f, "%*s$\n", depth, "");
		} else {
			fprintf(f, "%*s%s ---644 0 0 %s\n", depth, "", ents[i]->d_name, child);
		}
		free(ents[i]);
	}
	free(ents);
}

static void make_protofile(const char *path)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fprintf(f, "/dev/null\n0 0\nd--755 0 0\n");
	proto_dir(f, datadir, 1);
	fprintf(f, "$\n");
	assert_int_equal(fclose(f), 0);
}

/* ---- maps -------------------------------------------------------------- */

static struct rh_usedmap *map_path(const char *img, unsigned flags)
{
	struct rh_usedmap_opts o = { flags, 0, RH_FS_AUTO };
	struct rh_usedmap *m = NULL;
	int rc = rh_usedmap_build_path(img, 0, 0, &o, &m);

	if (rc != 0)
		fail_msg("map of %s: %s: %s", img, rh_strerror(rc), rh_lasterr());
	return m;
}

static void assert_same_map(const struct rh_usedmap *a, const struct rh_usedmap *b)
{
	const struct rh_extents *x = rh_usedmap_extents(a), *y = rh_usedmap_extents(b);

	assert_int_equal(rh_usedmap_fstype(a), rh_usedmap_fstype(b));
	assert_int_equal(rh_extents_count(x), rh_extents_count(y));
	for (size_t i = 0; i < rh_extents_count(x); i++) {
		assert_true(rh_extents_get(x, i)->off == rh_extents_get(y, i)->off);
		assert_true(rh_extents_get(x, i)->len == rh_extents_get(y, i)->len);
	}
}

/* A read callback over a file that records which bytes were read. */
struct rec {
	int fd;
	struct rh_extents *seen;
};

static int rec_read(void *ctx, void *buf, size_t len, uint64_t off)
{
	struct rec *r = ctx;

	if (pread(r->fd, buf, len, (off_t)off) != (ssize_t)len)
		return rh_seterr(RH_ERR_IO, "short read");
	return rh_extents_add(r->seen, off, len);
}

static void put_record(FILE *f, int fd, uint64_t off, uint64_t len)
{
	uint8_t hdr[12];
	uint8_t *b = malloc(len);

	assert_non_null(b);
	assert_true(pread(fd, b, len, (off_t)off) == (ssize_t)len);
	/* Emit the non-zero stretches only (zeros are implied). */
	for (uint64_t i = 0; i < len;) {
		uint64_t s, e, z;

		while (i < len && b[i] == 0)
			i++;
		if (i == len)
			break;
		s = i;
		for (e = i, z = 0; e < len && z < 32; e++)
			z = b[e] == 0 ? z + 1 : 0;
		e -= z;
		rh_le64enc(hdr, off + s);
		rh_le32enc(hdr + 8, (uint32_t)(e - s));
		assert_int_equal(fwrite(hdr, 1, 12, f), 12);
		assert_int_equal(fwrite(b + s, 1, e - s, f), e - s);
		i = e;
	}
	free(b);
}

/* Build the map through a recording callback: it must equal the fd map.
 * With REHOST_USEDMAP_CORPUS set, save what was read as a fuzz input. */
static void check_reader(const char *img, const struct rh_usedmap *ref, const char *corpus,
			 const char *name)
{
	struct rh_usedmap_opts o = { 0, 0, RH_FS_AUTO };
	struct rec r = { -1, NULL };
	struct rh_usedmap *m = NULL;
	const char *cdir = getenv("REHOST_USEDMAP_CORPUS");
	struct stat st;

	r.fd = open(img, O_RDONLY);
	assert_true(r.fd >= 0);
	assert_int_equal(fstat(r.fd, &st), 0);
	assert_int_equal(rh_extents_new((uint64_t)st.st_size, 1, &r.seen), 0);
	assert_int_equal(rh_usedmap_build_reader(rec_read, &r, (uint64_t)st.st_size, &o, &m), 0);
	assert_same_map(ref, m);
	rh_usedmap_free(m);
	if (cdir != NULL && corpus != NULL) {
		char path[1024];
		uint8_t hdr[16] = { 'R', 'H', 'U', 'M' };
		FILE *f;

		snprintf(path, sizeof path, "%s/usedmap-%s", cdir, corpus);
		mkdir(path, 0755);
		snprintf(path, sizeof path, "%s/usedmap-%s/%s", cdir, corpus, name);
		f = fopen(path, "wb");
		assert_non_null(f);
		hdr[4] = (uint8_t)rh_usedmap_fstype(ref);
		rh_le64enc(hdr + 8, (uint64_t)st.st_size);
		assert_int_equal(fwrite(hdr, 1, 16, f), 16);
		for (size_t i = 0; i < rh_extents_count(r.seen); i++)
			put_record(f, r.fd, rh_extents_get(r.seen, i)->off,
				   rh_extents_get(r.seen, i)->len);
		assert_int_equal(fclose(f), 0);
	}
	rh_extents_free(r.seen);
	close(r.fd);
}

/* Copy only the mapped ranges of src into a new zero-filled sparse dst. */
static void copy_mapped(const char *src, const char *dst, const struct rh_usedmap *m)
{
	const struct rh_extents *x = rh_usedmap_extents(m);
	int in = open(src, O_RDONLY), out = open(dst, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	static uint8_t buf[1 << 20];

	assert_true(in >= 0 && out >= 0);
	assert_int_equal(ftruncate(out, (off_t)rh_usedmap_size(m)), 0);
	for (size_t i = 0; i < rh_extents_count(x); i++) {
		uint64_t off = rh_extents_get(x, i)->off, left = rh_extents_get(x, i)->len;

		while (left > 0) {
			size_t n = left < sizeof buf ? (size_t)left : sizeof buf;

			assert_true(pread(in, buf, n, (off_t)off) == (ssize_t)n);
			/* Zero chunks stay holes, as the copier does it. */
			if (!rh_usedmap_is_zero(buf, n))
				assert_true(pwrite(out, buf, n, (off_t)off) == (ssize_t)n);
			off += n;
			left -= n;
		}
	}
	close(in);
	assert_int_equal(close(out), 0);
}

/* Every range partclone.FS would copy is in our map. Returns partclone's
 * used bytes (0 when partclone is not installed). */
static uint64_t check_partclone(const char *fs, const char *img, const struct rh_usedmap *m)
{
	char tool[64], dom[512], line[256];
	uint64_t total = 0;
	FILE *f;

	snprintf(tool, sizeof tool, "partclone.%s", fs);
	if (!have(tool)) {
		print_message("note: %s not installed, subset check skipped\n", tool);
		return 0;
	}
	snprintf(dom, sizeof dom, "%s/%s.dom", dir, fs);
	assert_int_equal(sh("rm -f %s && %s -q -D -s %s -o %s", dom, tool, img, dom), 0);
	f = fopen(dom, "r");
	assert_non_null(f);
	while (fgets(line, sizeof line, f) != NULL) {
		unsigned long long pos, size;
		char status[8];

		if (line[0] == '#' || sscanf(line, "%llx %llx %7s", &pos, &size, status) != 3 ||
		    strcmp(status, "+") != 0)
			continue;
		if (rh_extents_used_in(rh_usedmap_extents(m), pos, size) != size)
			fail_msg("%s: partclone copies [%#llx, +%#llx) which our map lacks", fs, pos,
				 size);
		total += size;
	}
	fclose(f);
	return total;
}

/* Mount img read-only through a loop device we attach, compare its files
 * with the data tree, and detach exactly what we attached. */
static void compare_mounted(const char *img, const char *orig, const char *fstype)
{
	char dev[64] = "", mnt[512];
	int diff_rc;

	if (geteuid() != 0 || !have("losetup")) {
		print_message("note: not root, mounted comparison of %s skipped\n", fstype);
		return;
	}
	snprintf(mnt, sizeof mnt, "%s/mnt", dir);
	assert_int_equal(sh("mkdir -p %s", mnt), 0);
	assert_int_equal(sh_read(dev, sizeof dev, "losetup -r --show -f %s", img), 0);
	dev[strcspn(dev, "\n")] = '\0';
	assert_true(strncmp(dev, "/dev/loop", 9) == 0);
	if (sh("mount -t %s -o ro %s %s", fstype, dev, mnt) != 0) {
		sh("losetup -d %s", dev);
		/* Some kernels cannot mount some formats (xfs v4): fine if
		 * the original does not mount either. */
		assert_int_equal(sh_read(dev, sizeof dev, "losetup -r --show -f %s", orig), 0);
		dev[strcspn(dev, "\n")] = '\0';
		if (sh("mount -t %s -o ro %s %s", fstype, dev, mnt) == 0) {
			sh("umount %s", mnt);
			sh("losetup -d %s", dev);
			fail_msg("the %s original mounts, its copy does not", fstype);
		}
		sh("losetup -d %s", dev);
		print_message("note: this kernel cannot mount %s, mounted comparison skipped\n", orig);
		return;
	}
	diff_rc = sh("diff -r -x lost+found %s %s", datadir, mnt);
	sh("umount %s", mnt);
	sh("losetup -d %s", dev);
	assert_int_equal(diff_rc, 0);
}

static void log_counts(const char *what, const struct rh_usedmap *m, uint64_t ref,
		       uint64_t partclone)
{
	print_message("%-14s used %12" PRIu64 " of %12" PRIu64 "  reference %12" PRIu64
		      "  partclone %12" PRIu64 "  extents %zu\n",
		      what, rh_usedmap_used(m), rh_usedmap_size(m), ref, partclone,
		      rh_extents_count(rh_usedmap_extents(m)));
}

/* Flip one byte of a file. */
static void poke(const char *path, uint64_t off)
{
	int fd = open(path, O_RDWR);
	uint8_t b;

	assert_true(fd >= 0);
	assert_true(pread(fd, &b, 1, (off_t)off) == 1);
	b ^= 0x5a;
	assert_true(pwrite(fd, &b, 1, (off_t)off) == 1);
	close(fd);
}

/* Corrupt metadata: strict build fails with RH_ERR_CORRUPT naming the
 * problem; the fallback policy maps everything. */
static void check_corrupt(const char *img, enum rh_fstype t, const char *expect)
{
	struct rh_usedmap_opts o = { 0, 0, t };
	struct rh_usedmap *m = NULL;
	int rc = rh_usedmap_build_path(img, 0, 0, &o, &m);

	if (rc != RH_ERR_CORRUPT || strstr(rh_lasterr(), expect) == NULL)
		fail_msg("corrupt %s: rc %d (%s), '%s' lacks '%s'", rh_fstype_name(t), rc,
			 rh_strerror(rc), rh_lasterr(), expect);
	assert_null(m);
	o.flags = RH_USEDMAP_FALLBACK_ALL;
	assert_int_equal(rh_usedmap_build_path(img, 0, 0, &o, &m), 0);
	assert_true(rh_usedmap_fallback(m) && rh_usedmap_zero_detect(m));
	assert_true(rh_usedmap_used(m) == rh_usedmap_size(m));
	assert_non_null(strstr(rh_usedmap_note(m), expect));
	rh_usedmap_free(m);
}

/* ---- ext2/3/4 ----------------------------------------------------------- */

static uint64_t ext_reference(const char *img)
{
	static char out[65536];

	assert_int_equal(sh_read(out, sizeof out, "dumpe2fs -h %s", img), 0);
	return (num_after(out, "Block count:") - num_after(out, "Free blocks:")) *
	       num_after(out, "Block size:");
}

static void ext_case(const char *name, const char *mkfs_opts, const char *size, bool full)
{
	char img[512], copy[512];
	struct rh_usedmap *m;
	uint64_t ref, pc = 0;

	snprintf(img, sizeof img, "%s/%s.img", dir, name);
	snprintf(copy, sizeof copy, "%s/%s.copy", dir, name);
	assert_int_equal(sh("truncate -s %s %s && mkfs.ext4 -q -F %s -d %s %s", size, img,
			    mkfs_opts, datadir, img), 0);
	m = map_path(img, 0);
	ref = ext_reference(img);
	assert_int_equal(rh_usedmap_fstype(m), RH_FS_EXT);
	assert_true(rh_usedmap_used(m) == ref);
	assert_false(rh_usedmap_fallback(m));
	check_reader(img, m, "ext", name);
	if (full) {
		pc = check_partclone("ext4", img, m);
		copy_mapped(img, copy, m);
		assert_int_equal(sh("e2fsck -fn %s", copy), 0);
		compare_mounted(copy, img, "ext4");
	}
	log_counts(name, m, ref, pc);
	rh_usedmap_free(m);
}

static void test_ext4(void **state)
{
	REQUIRE("mkfs.ext4");
	REQUIRE("dumpe2fs");
	ext_case("ext4-4k", "-b 4096", "64M", true);
}

static void test_ext_variants(void **state)
{
	REQUIRE("mkfs.ext4");
	REQUIRE("dumpe2fs");
	/* 1 KiB blocks: block 0 is outside the bitmap. */
	ext_case("ext2-1k", "-t ext2 -b 1024", "32M", true);
	ext_case("ext3", "-t ext3", "40M", false);
	ext_case("ext4-bigalloc", "-O bigalloc -C 16384", "64M", false);
	ext_case("ext4-nouninit", "-O ^uninit_bg,^metadata_csum", "48M", false);
}

static void test_ext_corrupt(void **state)
{
	char img[512];

	REQUIRE("mkfs.ext4");
	snprintf(img, sizeof img, "%s/ext-bad.img", dir);
	assert_int_equal(sh("truncate -s 32M %s && mkfs.ext4 -q -F -b 4096 %s", img, img), 0);
	/* The group descriptor block (block 1) fails its checksum. */
	poke(img, 4096 + 8);
	check_corrupt(img, RH_FS_EXT, "ext: group 0 descriptor checksum mismatch");
	/* Superblock magic. */
	assert_int_equal(sh("mkfs.ext4 -q -F -b 4096 %s", img), 0);
	poke(img, 1024 + 56);
	check_corrupt(img, RH_FS_EXT, "ext: bad superblock magic");
	/* A filesystem larger than its volume. */
	assert_int_equal(sh("mkfs.ext4 -q -F -b 4096 %s && truncate -s 16M %s", img, img), 0);
	check_corrupt(img, RH_FS_EXT, "larger than its");
}

/* ---- xfs ------------------------------------------------------------------ */

static uint64_t xfs_reference(const char *img)
{
	static char out[65536];
	uint64_t dblocks, agcount, bs, freeb, fl = 0;

	assert_int_equal(sh_read(out, sizeof out, "xfs_db -r -c 'sb 0' -c 'p dblocks' -c 'p agcount' "
				 "-c 'p blocksize' -c 'freesp -s' %s", img), 0);
	dblocks = num_after(out, "dblocks =");
	agcount = num_after(out, "agcount =");
	bs = num_after(out, "blocksize =");
	freeb = num_after(out, "total free blocks");
	/* freesp counts the AG free lists as free; they are not in the
	 * bnobt, so we keep them (a few blocks per AG). */
	for (uint64_t ag = 0; ag < agcount; ag++) {
		assert_int_equal(sh_read(out, sizeof out, "xfs_db -r -c 'agf %" PRIu64 "' -c 'p flcount' %s",
					 ag, img), 0);
		fl += num_after(out, "flcount =");
	}
	return (dblocks - (freeb - fl)) * bs;
}

static void xfs_case(const char *name, const char *mkfs_opts, bool full)
{
	char img[512], copy[512], proto[512];
	struct rh_usedmap *m;
	uint64_t ref, pc = 0;

	snprintf(img, sizeof img, "%s/%s.img", dir, name);
	snprintf(copy, sizeof copy, "%s/%s.copy", dir, name);
	snprintf(proto, sizeof proto, "%s/xfs.proto", dir);
	make_protofile(proto);
	assert_int_equal(sh("truncate -s 320M %s && mkfs.xfs -q -f %s -p %s %s", img, mkfs_opts,
			    proto, img), 0);
	m = map_path(img, 0);
	ref = xfs_reference(img);
	assert_int_equal(rh_usedmap_fstype(m), RH_FS_XFS);
	assert_true(rh_usedmap_used(m) == ref);
	assert_string_equal(rh_usedmap_note(m), "");
	check_reader(img, m, "xfs", name);
	if (full) {
		pc = check_partclone("xfs", img, m);
		copy_mapped(img, copy, m);
		assert_int_equal(sh("xfs_repair -n -f %s", copy), 0);
		compare_mounted(copy, img, "xfs");
	}
	log_counts(name, m, ref, pc);
	rh_usedmap_free(m);
}

static void test_xfs(void **state)
{
	REQUIRE("mkfs.xfs");
	REQUIRE("xfs_db");
	REQUIRE("xfs_repair");
	xfs_case("xfs-v5", "", true);
}

static void test_xfs_variants(void **state)
{
	REQUIRE("mkfs.xfs");
	REQUIRE("xfs_db");
	/* 4 KiB sectors: the v5 CRCs cover whole sectors. */
	xfs_case("xfs-v5-4kn", "-s size=4096", false);
	/* Version 4 (no CRCs), 1 KiB blocks. */
	if (sh("truncate -s 320M %s/probe-v4.img && mkfs.xfs -q -f -m crc=0 %s/probe-v4.img", dir,
	       dir) != 0) {
		print_message("SKIP: mkfs.xfs cannot make v4 filesystems\n");
		skip();
	}
	xfs_case("xfs-v4", "-m crc=0 -b size=1024", true);
}

static void test_xfs_corrupt(void **state)
{
	char img[512];

	REQUIRE("mkfs.xfs");
	snprintf(img, sizeof img, "%s/xfs-bad.img", dir);
	assert_int_equal(sh("truncate -s 320M %s && mkfs.xfs -q -f %s", img, img), 0);
	/* AG 1's AGF (sector 1 of the AG): CRC mismatch. */
	{
		struct rh_usedmap *m = map_path(img, 0);
		static char out[4096];
		uint64_t agblocks, bs;

		rh_usedmap_free(m);
		assert_int_equal(sh_read(out, sizeof out, "xfs_db -r -c 'sb 0' -c 'p agblocks' "
					 "-c 'p blocksize' %s", img), 0);
		agblocks = num_after(out, "agblocks =");
		bs = num_after(out, "blocksize =");
		poke(img, agblocks * bs + 512 + 60);
		check_corrupt(img, RH_FS_XFS, "xfs: AG 1: AGF CRC mismatch");
	}
	/* Superblock magic. */
	poke(img, 0);
	check_corrupt(img, RH_FS_XFS, "xfs: bad superblock magic");
}

/* ---- btrfs ---------------------------------------------------------------- */

/* Device extents from btrfs's own dump, plus the reserved first MiB and
 * the superblock mirrors: the map we expect, extent for extent. */
static struct rh_extents *btrfs_reference(const char *img, uint64_t devid, uint64_t size)
{
	static char out[1 << 20];
	struct rh_extents *x = NULL;
	const char *p = out;

	assert_int_equal(rh_extents_new(size, 1, &x), 0);
	assert_int_equal(sh_read(out, sizeof out, "btrfs inspect-internal dump-tree -t dev %s", img), 0);
	while ((p = strstr(p, "key (")) != NULL) {
		unsigned long long id, off;
		const char *l;

		p += 5;
		if (sscanf(p, "%llu DEV_EXTENT %llu)", &id, &off) != 2 || id != devid)
			continue;
		l = strstr(p, "length ");
		assert_non_null(l);
		assert_int_equal(rh_extents_add(x, off, strtoull(l + 7, NULL, 10)), 0);
	}
	assert_true(rh_extents_count(x) > 0);
	assert_int_equal(rh_extents_add(x, 0, 1 << 20), 0);
	if ((64ull << 20) + 4096 <= size)
		assert_int_equal(rh_extents_add(x, 64ull << 20, 4096), 0);
	return x;
}

static void assert_same_extents(const struct rh_extents *a, const struct rh_extents *b)
{
	assert_true(rh_extents_used(a) == rh_extents_used(b));
	assert_int_equal(rh_extents_count(a), rh_extents_count(b));
	for (size_t i = 0; i < rh_extents_count(a); i++) {
		assert_true(rh_extents_get(a, i)->off == rh_extents_get(b, i)->off);
		assert_true(rh_extents_get(a, i)->len == rh_extents_get(b, i)->len);
	}
}

static void test_btrfs(void **state)
{
	char img[512], copy[512];
	struct rh_usedmap *m;
	struct rh_extents *ref;
	uint64_t pc;

	REQUIRE("mkfs.btrfs");
	REQUIRE("btrfs");
	snprintf(img, sizeof img, "%s/btrfs.img", dir);
	snprintf(copy, sizeof copy, "%s/btrfs.copy", dir);
	assert_int_equal(sh("truncate -s 256M %s && mkfs.btrfs -q -f --rootdir %s %s", img, datadir,
			    img), 0);
	m = map_path(img, 0);
	assert_int_equal(rh_usedmap_fstype(m), RH_FS_BTRFS);
	assert_string_equal(rh_usedmap_note(m), "");
	ref = btrfs_reference(img, 1, rh_usedmap_size(m));
	/* Same extents as btrfs's own device extents plus the fixed areas. */
	assert_same_extents(rh_usedmap_extents(m), ref);
	check_reader(img, m, "btrfs", "btrfs-single");
	pc = check_partclone("btrfs", img, m);
	copy_mapped(img, copy, m);
	assert_int_equal(sh("btrfs check --readonly %s", copy), 0);
	compare_mounted(copy, img, "btrfs");
	log_counts("btrfs", m, rh_extents_used(ref), pc);
	rh_extents_free(ref);
	rh_usedmap_free(m);
}

/* Two devices, data RAID0 and metadata RAID1: each device's map is its
 * own device extents; tree blocks are read from this device's copy. */
static void test_btrfs_multi(void **state)
{
	char d1[512], d2[512];
	struct rh_usedmap *m;
	struct rh_extents *ref;

	REQUIRE("mkfs.btrfs");
	REQUIRE("btrfs");
	snprintf(d1, sizeof d1, "%s/btrfs-d1.img", dir);
	snprintf(d2, sizeof d2, "%s/btrfs-d2.img", dir);
	/* (--rootdir takes one device only: the filesystem stays empty.) */
	if (sh("truncate -s 300M %s %s && mkfs.btrfs -q -f -d raid0 -m raid1 %s %s", d1, d2, d1,
	       d2) != 0) {
		print_message("SKIP: mkfs.btrfs cannot make a two-device filesystem on files\n");
		skip();
	}
	for (int dev = 1; dev <= 2; dev++) {
		const char *img = dev == 1 ? d1 : d2;

		m = map_path(img, 0);
		assert_int_equal(rh_usedmap_fstype(m), RH_FS_BTRFS);
		ref = btrfs_reference(img, (uint64_t)dev, rh_usedmap_size(m));
		assert_same_extents(rh_usedmap_extents(m), ref);
		check_reader(img, m, "btrfs", dev == 1 ? "btrfs-raid-d1" : "btrfs-raid-d2");
		log_counts(dev == 1 ? "btrfs-raid0/1" : "btrfs-raid0/2", m, rh_extents_used(ref), 0);
		rh_extents_free(ref);
		rh_usedmap_free(m);
	}
}

static void test_btrfs_corrupt(void **state)
{
	char img[512];
	static char out[65536];
	uint64_t chunk_root;

	REQUIRE("mkfs.btrfs");
	REQUIRE("btrfs");
	snprintf(img, sizeof img, "%s/btrfs-bad.img", dir);
	assert_int_equal(sh("truncate -s 128M %s && mkfs.btrfs -q -f %s", img, img), 0);
	assert_int_equal(sh_read(out, sizeof out, "btrfs inspect-internal dump-super %s", img), 0);
	chunk_root = num_after(out, "chunk_root\t");
	assert_true(chunk_root != UINT64_MAX);
	{
		/* Damage every copy (DUP) of the chunk root: the tree blocks
		 * whose header records its logical address. */
		int fd = open(img, O_RDONLY);
		uint8_t hdr[0x38];
		int found = 0;

		assert_true(fd >= 0);
		for (uint64_t off = 1 << 20; off < (128ull << 20); off += 4096) {
			if (pread(fd, hdr, sizeof hdr, (off_t)off) != (ssize_t)sizeof hdr ||
			    rh_le64dec(hdr + 0x30) != chunk_root)
				continue;
			poke(img, off + 200);
			found++;
		}
		close(fd);
		assert_true(found >= 1);
	}
	check_corrupt(img, RH_FS_BTRFS, "checksum mismatch");
	/* Superblock checksum. */
	poke(img, 0x10000 + 0x100);
	check_corrupt(img, RH_FS_BTRFS, "btrfs: superblock checksum mismatch");
}

/* ---- vfat ----------------------------------------------------------------- */

static void fat_case(const char *name, const char *mkfs_opts, const char *size)
{
	char img[512], copy[512], out[4096], x[512];
	struct rh_usedmap *m;
	uint64_t ref, pc, used_cl, cl_bytes, data_start;
	const char *slash;

	snprintf(img, sizeof img, "%s/%s.img", dir, name);
	snprintf(copy, sizeof copy, "%s/%s.copy", dir, name);
	snprintf(x, sizeof x, "%s/%s.out", dir, name);
	assert_int_equal(sh("truncate -s %s %s && mkfs.vfat %s %s && MTOOLS_SKIP_CHECK=1 "
			    "mcopy -s -i %s %s/* ::/", size, img, mkfs_opts, img, img, datadir), 0);
	m = map_path(img, 0);
	assert_int_equal(rh_usedmap_fstype(m), RH_FS_VFAT);
	assert_int_equal(sh_read(out, sizeof out, "fsck.fat -n -v %s", img), 0);
	data_start = num_after(out, "Data area starts at byte");
	cl_bytes = num_after(out, "bytes per cluster");
	/* "...bytes per cluster" is preceded by the number: find it. */
	{
		const char *p = strstr(out, "bytes per cluster");

		assert_non_null(p);
		while (p > out && p[-1] == ' ')
			p--;
		while (p > out && p[-1] >= '0' && p[-1] <= '9')
			p--;
		cl_bytes = strtoull(p, NULL, 10);
	}
	slash = strrchr(out, '/');
	assert_non_null(slash);
	while (slash > out && slash[-1] >= '0' && slash[-1] <= '9')
		slash--;
	used_cl = strtoull(slash, NULL, 10);
	ref = data_start + used_cl * cl_bytes;
	assert_true(rh_usedmap_used(m) == ref);
	check_reader(img, m, "fat", name);
	pc = check_partclone("fat", img, m);
	copy_mapped(img, copy, m);
	assert_int_equal(sh("fsck.fat -n %s", copy), 0);
	assert_int_equal(sh("mkdir -p %s && MTOOLS_SKIP_CHECK=1 mcopy -s -n -i %s '::*' %s && "
			    "diff -r %s %s", x, copy, x, datadir, x), 0);
	log_counts(name, m, ref, pc);
	rh_usedmap_free(m);
}

static void test_vfat(void **state)
{
	REQUIRE("mkfs.vfat");
	REQUIRE("mcopy");
	REQUIRE("fsck.fat");
	fat_case("fat12", "-F 12", "16M");
	fat_case("fat16", "-F 16", "48M");
	fat_case("fat32", "-F 32", "300M");
}

static void test_vfat_corrupt(void **state)
{
	char img[512];
	uint8_t b = 3;
	int fd;

	REQUIRE("mkfs.vfat");
	snprintf(img, sizeof img, "%s/fat-bad.img", dir);
	assert_int_equal(sh("truncate -s 16M %s && mkfs.vfat %s", img, img), 0);
	fd = open(img, O_RDWR);
	assert_true(fd >= 0);
	assert_true(pwrite(fd, &b, 1, 13) == 1); /* 3 sectors per cluster */
	close(fd);
	check_corrupt(img, RH_FS_VFAT, "sectors per cluster is invalid");
}

/* ---- swap, unknown, offsets ----------------------------------------------- */

static void test_swap(void **state)
{
	char img[512];
	struct rh_usedmap *m;

	REQUIRE("mkswap");
	snprintf(img, sizeof img, "%s/swap.img", dir);
	assert_int_equal(sh("truncate -s 32M %s && mkswap %s", img, img), 0);
	m = map_path(img, 0);
	assert_int_equal(rh_usedmap_fstype(m), RH_FS_SWAP);
	assert_true(rh_usedmap_used(m) == 4096);
	assert_int_equal(rh_usedmap_block_size(m), 4096);
	check_reader(img, m, "auto", "swap");
	rh_usedmap_free(m);
}

/* A filesystem inside a partitioned disk image, surrounded by noise: the
 * map of its byte range equals the map of the filesystem alone. */
static void test_offset(void **state)
{
	char img[512], disk[512];
	struct rh_usedmap *a, *b = NULL;
	struct rh_usedmap_opts o = { 0, 0, RH_FS_AUTO };
	enum rh_fstype t;
	int fd;

	REQUIRE("mkfs.ext4");
	snprintf(img, sizeof img, "%s/part.img", dir);
	snprintf(disk, sizeof disk, "%s/disk.img", dir);
	assert_int_equal(sh("truncate -s 24M %s && mkfs.ext4 -q -F -d %s/dir1 %s", img, datadir, img),
			 0);
	assert_int_equal(sh("head -c 1M /dev/urandom > %s && dd if=%s of=%s bs=1M seek=1 "
			    "conv=notrunc,sparse status=none && head -c 3M /dev/urandom >> %s",
			    disk, img, disk, disk), 0);
	a = map_path(img, 0);
	assert_int_equal(rh_usedmap_build_path(disk, 1 << 20, 24 << 20, &o, &b), 0);
	assert_same_map(a, b);
	rh_usedmap_free(b);
	fd = open(disk, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(rh_usedmap_probe(fd, 1 << 20, 24 << 20, &t), 0);
	assert_int_equal(t, RH_FS_EXT);
	/* The random bytes before it: nothing. */
	assert_int_equal(rh_usedmap_probe(fd, 0, 1 << 20, &t), 0);
	assert_int_equal(t, RH_FS_UNKNOWN);
	/* Beyond the device: refused. */
	assert_int_equal(rh_usedmap_build(fd, 1 << 20, 64 << 20, &o, &b), RH_ERR_RANGE);
	assert_null(b);
	/* Cut short: the filesystem is larger than the volume. */
	assert_int_equal(rh_usedmap_build(fd, 1 << 20, 20 << 20, &o, &b), RH_ERR_CORRUPT);
	assert_non_null(strstr(rh_lasterr(), "larger than its"));
	close(fd);
	rh_usedmap_free(a);
}

/* ---- LVM ------------------------------------------------------------------ */

#define LVM_CFG "--config 'backup { backup=0 archive=0 } devices { use_devicesfile=0 hints=\"none\" }' " \
		"--driverloaded n"

/* Copy len bytes from src at soff to dst at doff (both files). */
static void copy_range(const char *src, uint64_t soff, const char *dst, uint64_t doff,
		       uint64_t len)
{
	int in = open(src, O_RDONLY), out = open(dst, O_WRONLY | O_CREAT, 0644);
	static uint8_t buf[1 << 20];

	assert_true(in >= 0 && out >= 0);
	while (len > 0) {
		size_t n = len < sizeof buf ? (size_t)len : sizeof buf;

		assert_true(pread(in, buf, n, (off_t)soff) == (ssize_t)n);
		assert_true(pwrite(out, buf, n, (off_t)doff) == (ssize_t)n);
		soff += n;
		doff += n;
		len -= n;
	}
	close(in);
	assert_int_equal(close(out), 0);
}

/*
 * A PV with 1 MiB extents (pe_start 1 MiB):
 *   fs   PEs 0-7 and 12-19 (two segments, not adjacent): ext4 with data
 *   raw  PEs 8-9: random bytes (unknown contents: all used)
 *   sw   PEs 10-11: swap (header page only)
 *   PEs 20-30: free (unused)
 * The LVs' contents are written at the PEs LVM reports; the ext4 LV is
 * assembled from its two segments to check the copy.
 */
static void test_lvm(void **state)
{
	char pv[512], fsimg[512], swimg[512], copy[512], lvcopy[512], dev[64] = "", out[4096];
	char vg[64], name[128], opts[512];
	struct rh_usedmap *m;
	struct rh_usedmap_lv lv;
	uint64_t pe_start, ext = 1 << 20, fs_used, expect;
	int rc;

	REQUIRE("pvcreate");
	REQUIRE("mkfs.ext4");
	REQUIRE("mkswap");
	if (geteuid() != 0) {
		print_message("SKIP: LVM test needs root for a loop device\n");
		skip();
	}
	snprintf(pv, sizeof pv, "%s/pv.img", dir);
	snprintf(fsimg, sizeof fsimg, "%s/lvfs.img", dir);
	snprintf(swimg, sizeof swimg, "%s/lvsw.img", dir);
	snprintf(copy, sizeof copy, "%s/pv.copy", dir);
	snprintf(lvcopy, sizeof lvcopy, "%s/lvfs.copy", dir);
	assert_int_equal(sh("truncate -s 33M %s", pv), 0);
	assert_int_equal(sh_read(dev, sizeof dev, "losetup --show -f %s", pv), 0);
	dev[strcspn(dev, "\n")] = '\0';
	assert_true(strncmp(dev, "/dev/loop", 9) == 0);
	setenv("LVM_SUPPRESS_FD_WARNINGS", "1", 1);
	/* LVM sees only our loop device (--devices), under a VG name no
	 * concurrent test uses. */
	snprintf(vg, sizeof vg, "rhtest%ld", (long)getpid());
	snprintf(opts, sizeof opts, LVM_CFG " --devices %s", dev);
	rc = sh("pvcreate %s -y %s && vgcreate %s -s 1M %s %s && lvcreate %s -an -Zn -l 8 -n fs %s && "
		"lvcreate %s -an -Zn -l 2 -n raw %s && lvcreate %s -an -Zn -l 2 -n sw %s && "
		"lvextend %s -l +8 %s/fs",
		opts, dev, opts, vg, dev, opts, vg, opts, vg, opts, vg, opts, vg);
	if (rc == 0)
		rc = sh_read(out, sizeof out, "lvs %s --segments --noheadings -o lv_name,seg_pe_ranges %s",
			     opts, vg);
	sh("losetup -d %s", dev);
	assert_int_equal(rc, 0);
	/* The layout we asked for. */
	assert_non_null(strstr(out, ":0-7"));
	assert_non_null(strstr(out, ":12-19"));
	assert_non_null(strstr(out, ":8-9"));
	assert_non_null(strstr(out, ":10-11"));
	pe_start = 1 << 20;

	/* Contents. */
	assert_int_equal(sh("truncate -s 16M %s && mkfs.ext4 -q -F -b 1024 -d %s/dir1 %s", fsimg,
			    datadir, fsimg), 0);
	copy_range(fsimg, 0, pv, pe_start, 8 * ext);
	copy_range(fsimg, 8 * ext, pv, pe_start + 12 * ext, 8 * ext);
	assert_int_equal(sh("dd if=/dev/urandom of=%s bs=1M seek=%" PRIu64 " count=2 conv=notrunc "
			    "status=none", pv, (pe_start + 8 * ext) >> 20), 0);
	assert_int_equal(sh("truncate -s 2M %s && mkswap %s", swimg, swimg), 0);
	copy_range(swimg, 0, pv, pe_start + 10 * ext, 2 * ext);

	m = map_path(pv, 0);
	assert_int_equal(rh_usedmap_fstype(m), RH_FS_LVM2);
	assert_int_equal(rh_usedmap_lv_count(m), 3);
	fs_used = ext_reference(fsimg);
	expect = pe_start + fs_used + 2 * ext + 4096;
	assert_true(rh_usedmap_used(m) == expect);
	assert_true(rh_usedmap_zero_detect(m)); /* the raw LV */
	assert_false(rh_usedmap_fallback(m));
	for (size_t i = 0; i < 3; i++) {
		assert_int_equal(rh_usedmap_lv(m, i, &lv), 0);
		snprintf(name, sizeof name, "%s/", vg);
		assert_true(strncmp(lv.name, name, strlen(name)) == 0);
		if (strcmp(lv.name + strlen(name), "fs") == 0) {
			assert_int_equal(lv.fstype, RH_FS_EXT);
			assert_true(lv.mapped && lv.used == fs_used && lv.lv_bytes == 16 * ext);
		} else if (strcmp(lv.name + strlen(name), "raw") == 0) {
			assert_int_equal(lv.fstype, RH_FS_UNKNOWN);
			assert_true(!lv.mapped && lv.used == 2 * ext);
		} else {
			assert_string_equal(lv.name + strlen(name), "sw");
			assert_int_equal(lv.fstype, RH_FS_SWAP);
			assert_true(lv.used == 4096);
		}
	}
	/* Free extents are unused; the metadata is used. */
	assert_true(rh_extents_used_in(rh_usedmap_extents(m), pe_start + 20 * ext, 11 * ext) == 0);
	assert_true(rh_extents_used_in(rh_usedmap_extents(m), 0, pe_start) == pe_start);
	check_reader(pv, m, "lvm", "pv-3lv");

	/* Copy only the mapped ranges of the PV, reassemble the ext4 LV from
	 * its two segments, and check it. */
	copy_mapped(pv, copy, m);
	assert_int_equal(sh("truncate -s 16M %s", lvcopy), 0);
	copy_range(copy, pe_start, lvcopy, 0, 8 * ext);
	copy_range(copy, pe_start + 12 * ext, lvcopy, 8 * ext, 8 * ext);
	assert_int_equal(sh("e2fsck -fn %s", lvcopy), 0);
	{
		/* The copied swap LV still has its header. */
		struct rh_usedmap_opts o = { 0, 0, RH_FS_AUTO };
		struct rh_usedmap *s = NULL;

		assert_int_equal(rh_usedmap_build_path(copy, pe_start + 10 * ext, 2 * ext, &o, &s), 0);
		assert_int_equal(rh_usedmap_fstype(s), RH_FS_SWAP);
		rh_usedmap_free(s);
	}
	log_counts("lvm-pv", m, expect, 0);
	rh_usedmap_free(m);
	/* The PV metadata checksum: corrupt the text, the copy in the second
	 * metadata area does not exist, so the map fails or falls back. */
	{
		/* Damage the current metadata text (the metadata area header's
		 * first raw location points at it). */
		uint8_t h[64];
		int fd = open(pv, O_RDONLY);

		assert_true(fd >= 0);
		assert_true(pread(fd, h, sizeof h, 4096) == (ssize_t)sizeof h);
		close(fd);
		poke(pv, 4096 + rh_le64dec(h + 40) + 10);
		check_corrupt(pv, RH_FS_LVM2, "lvm: metadata text checksum mismatch");
	}
}

/* ---- setup ---------------------------------------------------------------- */

static int setup(void **state)
{
	snprintf(dir, sizeof dir, "%s/rehost-usedmap.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (mkdtemp(dir) == NULL)
		return -1;
	make_tree();
	return 0;
}

static int teardown(void **state)
{
	if (dir[0] != '\0' && strncmp(dir, "/", 1) == 0)
		sh("rm -rf %s", dir);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ext4),
		cmocka_unit_test(test_ext_variants),
		cmocka_unit_test(test_ext_corrupt),
		cmocka_unit_test(test_xfs),
		cmocka_unit_test(test_xfs_variants),
		cmocka_unit_test(test_xfs_corrupt),
		cmocka_unit_test(test_btrfs),
		cmocka_unit_test(test_btrfs_multi),
		cmocka_unit_test(test_btrfs_corrupt),
		cmocka_unit_test(test_vfat),
		cmocka_unit_test(test_vfat_corrupt),
		cmocka_unit_test(test_swap),
		cmocka_unit_test(test_offset),
		cmocka_unit_test(test_lvm),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
