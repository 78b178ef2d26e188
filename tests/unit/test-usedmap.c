/* Unit tests for the used-block map API on handmade volumes in memory:
 * argument checks, probing, the unknown/all-used and fallback policies,
 * read errors, swap headers, zero detection and the LVM text parser.
 * Real filesystems are in test-usedmap-fs.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fs/lvm-text.h"
#include "rehost/endian.h"
#include "rehost/err.h"
#include "rehost/log.h"
#include "rehost/usedmap.h"

struct mem {
	const uint8_t *p;
	size_t n;
	int fail_at;   /* fail the Nth read (1-based), 0 = never */
	int reads;
};

static int mem_read(void *ctx, void *buf, size_t len, uint64_t off)
{
	struct mem *m = ctx;

	if (m->fail_at && ++m->reads == m->fail_at)
		return rh_seterr(RH_ERR_IO, "injected read error");
	memset(buf, 0, len);
	if (off < m->n)
		memcpy(buf, m->p + off, len < m->n - off ? len : m->n - off);
	return 0;
}

static int build_mem(const uint8_t *p, size_t n, uint64_t size, unsigned flags, enum rh_fstype t,
		     struct rh_usedmap **out)
{
	struct mem m = { p, n, 0, 0 };
	struct rh_usedmap_opts o = { flags, 0, t };

	return rh_usedmap_build_reader(mem_read, &m, size, &o, out);
}

static void test_is_zero(void **state)
{
	static uint8_t buf[70000];

	assert_true(rh_usedmap_is_zero(buf, 0));
	for (size_t len = 1; len < 40; len++)
		assert_true(rh_usedmap_is_zero(buf, len));
	assert_true(rh_usedmap_is_zero(buf, sizeof buf));
	for (size_t pos = 0; pos < sizeof buf; pos += 997) {
		buf[pos] = 1;
		assert_false(rh_usedmap_is_zero(buf, sizeof buf));
		assert_true(rh_usedmap_is_zero(buf, pos));
		buf[pos] = 0;
	}
	buf[sizeof buf - 1] = 0x80;
	assert_false(rh_usedmap_is_zero(buf, sizeof buf));
	assert_false(rh_usedmap_is_zero(buf + sizeof buf - 1, 1));
	/* Unaligned starts. */
	assert_true(rh_usedmap_is_zero(buf + 3, 1000));
}

static void test_bad_args(void **state)
{
	struct rh_usedmap *m = (struct rh_usedmap *)1;
	struct rh_usedmap_opts o = { 0, 0, RH_FS_AUTO };
	uint8_t z[16] = { 0 };
	int fd;

	assert_int_equal(rh_usedmap_build(-1, 0, 10, NULL, &m), RH_ERR_INVAL);
	assert_null(m);
	assert_int_equal(rh_usedmap_build_reader(NULL, NULL, 10, NULL, &m), RH_ERR_INVAL);
	assert_int_equal(build_mem(z, sizeof z, 0, 0, RH_FS_AUTO, &m), RH_ERR_INVAL);
	assert_int_equal(build_mem(z, sizeof z, 4096, 1u << 7, RH_FS_AUTO, &m), RH_ERR_INVAL);
	assert_int_equal(build_mem(z, sizeof z, 4096, 0, (enum rh_fstype)99, &m), RH_ERR_INVAL);
	o.granularity = 3000;
	assert_int_equal(rh_usedmap_build_reader(mem_read, &(struct mem){ z, 16, 0, 0 }, 4096, &o, &m),
			 RH_ERR_INVAL);
	assert_int_equal(rh_usedmap_build_path("/nonexistent/rehost", 0, 0, NULL, &m),
			 RH_ERR_NOTFOUND);
	fd = open("/dev/null", O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(rh_usedmap_build(fd, 0, 4096, NULL, &m), RH_ERR_INVAL); /* a char device */
	close(fd);
	rh_usedmap_free(NULL);
}

static void test_unknown(void **state)
{
	static uint8_t buf[100000];
	struct rh_usedmap *m = NULL;
	struct rh_usedmap_opts o = { 0, 65536, RH_FS_AUTO };
	struct mem mm = { buf, sizeof buf, 0, 0 };

	srand(7);
	for (size_t i = 0; i < sizeof buf; i++)
		buf[i] = (uint8_t)rand();
	assert_int_equal(build_mem(buf, sizeof buf, sizeof buf, 0, RH_FS_AUTO, &m), 0);
	assert_int_equal(rh_usedmap_fstype(m), RH_FS_UNKNOWN);
	assert_true(rh_usedmap_used(m) == sizeof buf && rh_usedmap_size(m) == sizeof buf);
	assert_true(rh_usedmap_zero_detect(m));
	assert_false(rh_usedmap_fallback(m));
	assert_int_equal(rh_usedmap_block_size(m), 512);
	assert_int_equal(rh_usedmap_lv_count(m), 0);
	assert_string_equal(rh_usedmap_note(m), "");
	rh_usedmap_free(m);
	/* A granularity rounds extents, never past the end. */
	assert_int_equal(rh_usedmap_build_reader(mem_read, &mm, 1000, &o, &m), 0);
	assert_true(rh_usedmap_used(m) == 1000);
	rh_usedmap_free(m);
	/* A tiny volume: nothing to read past its end. */
	assert_int_equal(build_mem(buf, 1, 1, 0, RH_FS_AUTO, &m), 0);
	assert_true(rh_usedmap_used(m) == 1);
	rh_usedmap_free(m);
	assert_string_equal(rh_fstype_name(RH_FS_BTRFS), "btrfs");
	assert_string_equal(rh_fstype_name((enum rh_fstype)42), "unknown");
}

/* Every parser, forced onto zeros or noise, fails cleanly - or maps all
 * used under the fallback policy. */
static void test_forced_garbage(void **state)
{
	static uint8_t noise[200000];
	static const enum rh_fstype types[] = { RH_FS_EXT, RH_FS_XFS, RH_FS_VFAT, RH_FS_BTRFS,
						RH_FS_SWAP, RH_FS_LVM2 };
	const uint64_t sizes[] = { 1, 512, 4096, 100000, 1ull << 30 };

	srand(3);
	for (size_t i = 0; i < sizeof noise; i++)
		noise[i] = (uint8_t)rand();
	for (size_t t = 0; t < sizeof types / sizeof types[0]; t++) {
		for (int which = 0; which < 2; which++) {
			for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
				struct rh_usedmap *m = NULL;
				const uint8_t *p = which ? noise : NULL;
				size_t n = which ? sizeof noise : 0;
				int rc = build_mem(p, n, sizes[s], 0, types[t], &m);

				if (rc != RH_ERR_CORRUPT && rc != RH_ERR_UNSUPPORTED)
					fail_msg("%s on %s of %llu bytes: rc %d", rh_fstype_name(types[t]),
						 which ? "noise" : "zeros", (unsigned long long)sizes[s], rc);
				assert_null(m);
				assert_true(rh_lasterr()[0] != '\0');
				rc = build_mem(p, n, sizes[s], RH_USEDMAP_FALLBACK_ALL, types[t], &m);
				assert_int_equal(rc, 0);
				assert_true(rh_usedmap_fallback(m));
				assert_true(rh_usedmap_used(m) == sizes[s]);
				assert_int_equal(rh_usedmap_fstype(m), types[t]);
				assert_non_null(strstr(rh_usedmap_note(m), "all used"));
				rh_usedmap_free(m);
			}
		}
	}
}

/* A swap header page as mkswap writes it. */
static void make_swap(uint8_t *p, uint32_t pagesize, uint32_t last_page, const char *sig)
{
	memset(p, 0, pagesize);
	rh_le32enc(p + 1024, 1);
	rh_le32enc(p + 1028, last_page);
	memcpy(p + pagesize - 10, sig, strlen(sig));
}

static void test_swap(void **state)
{
	static uint8_t page[65536];
	struct rh_usedmap *m = NULL;
	struct mem mm = { page, sizeof page, 0, 0 };
	struct rh_usedmap_opts o = { 0, 0, RH_FS_AUTO };

	make_swap(page, 4096, 255, "SWAPSPACE2");
	assert_int_equal(build_mem(page, 4096, 1 << 20, 0, RH_FS_AUTO, &m), 0);
	assert_int_equal(rh_usedmap_fstype(m), RH_FS_SWAP);
	assert_true(rh_usedmap_used(m) == 4096);
	assert_false(rh_usedmap_zero_detect(m));
	rh_usedmap_free(m);
	/* 64 KiB pages (e.g. from an arm64 or ppc64 machine). */
	make_swap(page, 65536, 15, "SWAPSPACE2");
	assert_int_equal(build_mem(page, sizeof page, 1 << 20, 0, RH_FS_AUTO, &m), 0);
	assert_int_equal(rh_usedmap_fstype(m), RH_FS_SWAP);
	assert_true(rh_usedmap_used(m) == 65536);
	assert_int_equal(rh_usedmap_block_size(m), 65536);
	rh_usedmap_free(m);
	/* A hibernation image: everything matters. */
	make_swap(page, 4096, 255, "S1SUSPEND");
	assert_int_equal(build_mem(page, 4096, 1 << 20, 0, RH_FS_AUTO, &m), 0);
	assert_int_equal(rh_usedmap_fstype(m), RH_FS_SWAP);
	assert_true(rh_usedmap_used(m) == 1 << 20);
	assert_non_null(strstr(rh_usedmap_note(m), "hibernation"));
	rh_usedmap_free(m);
	/* Claims more pages than the volume has. */
	make_swap(page, 4096, 1000, "SWAPSPACE2");
	assert_int_equal(build_mem(page, 4096, 1 << 20, 0, RH_FS_SWAP, &m), RH_ERR_CORRUPT);
	assert_non_null(strstr(rh_lasterr(), "last page 1000"));
	/* Unknown header version: not a swap area we know. */
	make_swap(page, 4096, 255, "SWAPSPACE2");
	rh_le32enc(page + 1024, 2);
	assert_int_equal(rh_usedmap_build_reader(mem_read, &mm, 1 << 20, &o, &m), 0);
	assert_int_equal(rh_usedmap_fstype(m), RH_FS_UNKNOWN);
	rh_usedmap_free(m);
	o.fstype = RH_FS_SWAP;
	assert_int_equal(rh_usedmap_build_reader(mem_read, &mm, 1 << 20, &o, &m), RH_ERR_UNSUPPORTED);
	o.flags = RH_USEDMAP_FALLBACK_ALL;
	assert_int_equal(rh_usedmap_build_reader(mem_read, &mm, 1 << 20, &o, &m), 0);
	assert_true(rh_usedmap_fallback(m) && rh_usedmap_used(m) == 1 << 20);
	rh_usedmap_free(m);
}

/* Read errors are never papered over by the fallback policy. */
static void test_read_error(void **state)
{
	static uint8_t page[4096];
	struct rh_usedmap *m = NULL;
	struct rh_usedmap_opts o = { RH_USEDMAP_FALLBACK_ALL, 0, RH_FS_AUTO };

	make_swap(page, 4096, 255, "SWAPSPACE2");
	for (int n = 1; n <= 3; n++) {
		struct mem mm = { page, sizeof page, n, 0 };
		int rc = rh_usedmap_build_reader(mem_read, &mm, 1 << 20, &o, &m);

		if (mm.reads < n) {
			/* Fewer reads than n: nothing failed. */
			assert_int_equal(rc, 0);
			rh_usedmap_free(m);
			continue;
		}
		assert_int_equal(rc, RH_ERR_IO);
		assert_null(m);
		assert_non_null(strstr(rh_lasterr(), "injected"));
	}
}

/* Minimal but valid ext and xfs superblocks. */
static void put_ext_sb(uint8_t *v, uint64_t blocks)
{
	uint8_t *sb = v + 1024;

	rh_le32enc(sb + 0, 1024);       /* inodes */
	rh_le32enc(sb + 4, (uint32_t)blocks);
	rh_le32enc(sb + 20, 0);         /* first data block */
	rh_le32enc(sb + 24, 2);         /* 4 KiB blocks */
	rh_le32enc(sb + 28, 2);
	rh_le32enc(sb + 32, 32768);     /* blocks per group */
	rh_le32enc(sb + 36, 32768);
	rh_le32enc(sb + 40, 1024);      /* inodes per group */
	rh_le16enc(sb + 56, 0xEF53);
}

static void put_xfs_sb(uint8_t *v, uint32_t agblocks, uint32_t agcount)
{
	int l = 0;

	memcpy(v, "XFSB", 4);
	rh_be32enc(v + 4, 4096);
	rh_be64enc(v + 8, (uint64_t)agblocks * agcount);
	rh_be32enc(v + 84, agblocks);
	rh_be32enc(v + 88, agcount);
	rh_be16enc(v + 100, 4);         /* v4: no CRC */
	rh_be16enc(v + 102, 512);
	v[120] = 12;
	v[121] = 9;
	while ((1u << l) < agblocks)
		l++;
	v[124] = (uint8_t)l;
}

static void test_probe_ambiguous(void **state)
{
	static uint8_t v[8192];
	struct rh_usedmap *m = NULL;

	memset(v, 0, sizeof v);
	put_ext_sb(v, 256);
	/* Superblock only: libext2fs then finds no group descriptors. */
	assert_int_equal(build_mem(v, sizeof v, 1 << 20, 0, RH_FS_AUTO, &m), RH_ERR_CORRUPT);
	assert_non_null(strstr(rh_lasterr(), "ext: "));
	/* ext at 1024 and xfs at 0: ambiguous, so nothing is trusted. */
	put_xfs_sb(v, 64, 4);
	assert_int_equal(build_mem(v, sizeof v, 1 << 20, 0, RH_FS_AUTO, &m), 0);
	assert_int_equal(rh_usedmap_fstype(m), RH_FS_UNKNOWN);
	assert_true(rh_usedmap_used(m) == 1 << 20);
	rh_usedmap_free(m);
	/* xfs alone, forced: its AGFs are missing. */
	memset(v + 1024, 0, 1024);
	assert_int_equal(build_mem(v, sizeof v, 1 << 20, 0, RH_FS_AUTO, &m), RH_ERR_CORRUPT);
	assert_non_null(strstr(rh_lasterr(), "xfs: AG 0: bad AGF magic"));
	/* Too big for its volume. */
	assert_int_equal(build_mem(v, sizeof v, 100000, 0, RH_FS_XFS, &m), RH_ERR_CORRUPT);
	assert_non_null(strstr(rh_lasterr(), "larger than its"));
}

static void test_lvm_text(void **state)
{
	static const char text[] =
		"# comment\n"
		"vg0 {\n"
		"  id = \"abc-def\"\n"
		"  seqno = 12\n"
		"  neg = -5\n"
		"  ratio = 1.5\n"
		"  status = [\"READ\", \"WRITE\", \"VISIBLE\"]\n"
		"  empty = []\n"
		"  esc = \"a\\\"b\\\\c\"\n"
		"  nested { deeper { x = 1 } }\n"
		"  pairs = [\"pv0\", 0, \"pv1\", 7,]\n"
		"}\n"
		"contents = \"Text Format Volume Group\"\n";
	struct lvm_node *root = NULL;
	const struct lvm_node *vg, *n;
	int64_t v;

	assert_int_equal(lvm_text_parse(text, sizeof text - 1, &root), 0);
	vg = lvm_text_get(root, "vg0");
	assert_non_null(vg);
	assert_int_equal(vg->type, LVM_SECTION);
	assert_string_equal(lvm_text_str(vg, "id"), "abc-def");
	assert_int_equal(lvm_text_int(vg, "seqno", 0, 100, &v), 0);
	assert_int_equal(v, 12);
	assert_int_equal(lvm_text_int(vg, "seqno", 0, 10, &v), RH_ERR_RANGE);
	assert_int_equal(lvm_text_int(vg, "neg", -10, 0, &v), 0);
	assert_int_equal(v, -5);
	assert_int_equal(lvm_text_int(vg, "id", 0, 10, &v), RH_ERR_PARSE);
	assert_int_equal(lvm_text_int(vg, "missing", 0, 10, &v), RH_ERR_PARSE);
	assert_string_equal(lvm_text_str(vg, "ratio"), "1.5");
	assert_string_equal(lvm_text_str(vg, "esc"), "a\"b\\c");
	assert_true(lvm_text_has_flag(vg, "status", "VISIBLE"));
	assert_false(lvm_text_has_flag(vg, "status", "LOCKED"));
	assert_false(lvm_text_has_flag(vg, "id", "abc-def"));
	n = lvm_text_get(vg, "empty");
	assert_true(n != NULL && n->type == LVM_ARRAY && n->child == NULL);
	n = lvm_text_get(lvm_text_get(lvm_text_get(vg, "nested"), "deeper"), "x");
	assert_true(n != NULL && n->type == LVM_INT && n->num == 1);
	n = lvm_text_get(vg, "pairs");
	assert_true(n->child->next->next->next->num == 7 && n->child->next->next->next->next == NULL);
	assert_string_equal(lvm_text_str(root, "contents"), "Text Format Volume Group");
	lvm_text_free(root);

	/* Parsing stops at a NUL, like LVM's own reader. */
	assert_int_equal(lvm_text_parse("a = 1\0garbage {{{", 17, &root), 0);
	assert_non_null(lvm_text_get(root, "a"));
	lvm_text_free(root);
}

static void test_lvm_text_errors(void **state)
{
	static const struct {
		const char *text;
		int err;
		const char *expect;
	} cases[] = {
		{ "a {\n b = 1\n", RH_ERR_PARSE, "line 3: missing '}'" },
		{ "}", RH_ERR_PARSE, "unexpected '}'" },
		{ "a = \"unterminated", RH_ERR_PARSE, "unterminated string" },
		{ "a = [1, 2", RH_ERR_PARSE, "unterminated array" },
		{ "a = [1 2]", RH_ERR_PARSE, "expected ',' or ']'" },
		{ "a = 99999999999999999999", RH_ERR_PARSE, "number out of range" },
		{ "a = -", RH_ERR_PARSE, "bad number" },
		{ "a = @", RH_ERR_PARSE, "unexpected character" },
		{ "a b", RH_ERR_PARSE, "expected '=' or '{'" },
		{ "= 1", RH_ERR_PARSE, "expected a name" },
		{ "a =", RH_ERR_PARSE, "missing value" },
	};
	char deep[2048];
	struct lvm_node *root = NULL;
	size_t k = 0;

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		int rc = lvm_text_parse(cases[i].text, strlen(cases[i].text), &root);

		if (rc != cases[i].err || strstr(rh_lasterr(), cases[i].expect) == NULL)
			fail_msg("case %zu: rc %d, '%s' lacks '%s'", i, rc, rh_lasterr(),
				 cases[i].expect);
		assert_null(root);
	}
	/* Nesting is bounded. */
	for (int d = 0; d < 100; d++)
		k += (size_t)snprintf(deep + k, sizeof deep - k, "s%d {", d);
	assert_int_equal(lvm_text_parse(deep, k, &root), RH_ERR_PARSE);
	assert_non_null(strstr(rh_lasterr(), "nested too deeply"));
	k = 0;
	for (int d = 0; d < 100; d++)
		deep[k++] = '[';
	memcpy(deep, "a = ", 4);
	assert_int_equal(lvm_text_parse(deep, k, &root), RH_ERR_PARSE);
}

/* With REHOST_USEDMAP_CORPUS=DIR, save a memory volume as a fuzz input
 * (format in fuzz/fuzz-usedmap.h): its non-zero stretches only. */
static void save_corpus(const char *sub, const char *name, enum rh_fstype t, const uint8_t *p,
			size_t n, uint64_t size)
{
	const char *dir = getenv("REHOST_USEDMAP_CORPUS");
	uint8_t hdr[16] = { 'R', 'H', 'U', 'M' };
	char path[1024];
	FILE *f;

	if (dir == NULL)
		return;
	snprintf(path, sizeof path, "%s/usedmap-%s/%s", dir, sub, name);
	f = fopen(path, "wb");
	assert_non_null(f);
	hdr[4] = (uint8_t)t;
	rh_le64enc(hdr + 8, size);
	assert_int_equal(fwrite(hdr, 1, 16, f), 16);
	for (size_t i = 0; i < n;) {
		size_t e, z;
		uint8_t rec[12];

		while (i < n && p[i] == 0)
			i++;
		if (i == n)
			break;
		for (e = i, z = 0; e < n && z < 32; e++)
			z = p[e] == 0 ? z + 1 : 0;
		e -= z;
		rh_le64enc(rec, i);
		rh_le32enc(rec + 8, (uint32_t)(e - i));
		assert_int_equal(fwrite(rec, 1, 12, f), 12);
		assert_int_equal(fwrite(p + i, 1, e - i, f), e - i);
		i = e;
	}
	assert_int_equal(fclose(f), 0);
}

/* ---- a handmade LVM2 PV ------------------------------------------------ */

static uint32_t lvm_crc(const uint8_t *p, size_t n)
{
	uint32_t crc = 0xf597a6cfu;

	while (n--) {
		crc ^= *p++;
		for (int k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1)));
	}
	return crc;
}

#define PV_UUID "AbCdEfGhIjKlMnOpQrStUvWxYz012345"
#define PV_MDA 4096u
#define PV_MDA_SIZE (1u << 20) - 4096u
#define PV_PE_START (1u << 20)

/* Label in sector 1, one metadata area at 4 KiB holding text, data from
 * 1 MiB. Writes into v (at least 1 MiB). */
static void make_pv(uint8_t *v, uint64_t dev_size, const char *text)
{
	uint8_t *l = v + 512, *h = v + PV_MDA;
	size_t tlen = strlen(text) + 1;

	memset(v, 0, PV_PE_START);
	memcpy(l, "LABELONE", 8);
	rh_le64enc(l + 8, 1);
	rh_le32enc(l + 20, 32);
	memcpy(l + 24, "LVM2 001", 8);
	memcpy(l + 32, PV_UUID, 32);
	rh_le64enc(l + 64, dev_size);
	rh_le64enc(l + 72, PV_PE_START);     /* data area */
	rh_le64enc(l + 104, PV_MDA);         /* metadata area */
	rh_le64enc(l + 112, PV_MDA_SIZE);
	rh_le32enc(l + 136, 2);              /* extension version 2, no boot loader area */
	rh_le32enc(l + 16, lvm_crc(l + 20, 512 - 20));

	memcpy(h + 4, " LVM2 x[5A%r0N*>", 16);
	rh_le32enc(h + 20, 1);
	rh_le64enc(h + 24, PV_MDA);
	rh_le64enc(h + 32, PV_MDA_SIZE);
	rh_le64enc(h + 40, 512);
	rh_le64enc(h + 48, tlen);
	memcpy(h + 512, text, tlen);
	rh_le32enc(h + 56, lvm_crc(h + 512, tlen));
	rh_le32enc(h, lvm_crc(h + 4, 512 - 4));
}

#define LV_LINEAR(name, flags, pe, n)                                           \
	name " { status = [" flags "] segment_count = 1\n"                      \
	"segment1 { start_extent = 0 extent_count = " #n " type = \"striped\"\n" \
	"stripe_count = 1 stripes = [\"pv0\", " #pe "] } }\n"

static const char vg_text[] =
	"vg1 {\n"
	"id = \"x\" seqno = 5 extent_size = 2048\n"
	"physical_volumes {\n"
	" pv0 { id = \"AbCdEf-GhIj-KlMn-OpQr-StUv-WxYz-012345\" pe_start = 2048 pe_count = 60 }\n"
	" pv1 { id = \"zzzzzz-zzzz-zzzz-zzzz-zzzz-zzzz-zzzzzz\" pe_start = 2048 pe_count = 60 }\n"
	"}\n"
	"logical_volumes {\n"
	/* A linear LV holding swap: mapped through its own filesystem. */
	LV_LINEAR("lin", "\"READ\", \"WRITE\", \"VISIBLE\"", 0, 4)
	/* A thin pool: its hidden data and metadata LVs are all used; the
	 * thin LV has no extents of its own. */
	"pool { status = [\"VISIBLE\"] segment_count = 1\n"
	" segment1 { start_extent = 0 extent_count = 8 type = \"thin-pool\"\n"
	"  metadata = \"pool_tmeta\" pool = \"pool_tdata\" transaction_id = 1 } }\n"
	LV_LINEAR("pool_tdata", "\"READ\"", 4, 8)
	LV_LINEAR("pool_tmeta", "\"READ\"", 12, 1)
	"thin1 { status = [\"VISIBLE\"] segment_count = 1\n"
	" segment1 { start_extent = 0 extent_count = 100 type = \"thin\" thin_pool = \"pool\"\n"
	"  transaction_id = 0 device_id = 1 } }\n"
	/* Striped over two PVs: our half is all used. */
	"str { status = [\"VISIBLE\"] segment_count = 1\n"
	" segment1 { start_extent = 0 extent_count = 4 type = \"striped\" stripe_count = 2\n"
	"  stripe_size = 128 stripes = [\"pv0\", 20, \"pv1\", 0] } }\n"
	/* Linear but continued on another PV: all used here. */
	"span { status = [\"VISIBLE\"] segment_count = 2\n"
	" segment1 { start_extent = 0 extent_count = 2 type = \"striped\" stripe_count = 1\n"
	"  stripes = [\"pv0\", 30] }\n"
	" segment2 { start_extent = 2 extent_count = 2 type = \"striped\" stripe_count = 1\n"
	"  stripes = [\"pv1\", 10] } }\n"
	/* RAID1: the images are hidden sub-LVs, all used. */
	"mir { status = [\"VISIBLE\"] segment_count = 1\n"
	" segment1 { start_extent = 0 extent_count = 2 type = \"raid1\" device_count = 2\n"
	"  raids = [\"mir_rmeta_0\", \"mir_rimage_0\", \"mir_rmeta_1\", \"mir_rimage_1\"] } }\n"
	LV_LINEAR("mir_rimage_0", "\"READ\"", 40, 2)
	LV_LINEAR("mir_rmeta_0", "\"READ\"", 42, 1)
	"mir_rimage_1 { status = [\"READ\"] segment_count = 1\n"
	" segment1 { start_extent = 0 extent_count = 2 type = \"striped\" stripe_count = 1\n"
	"  stripes = [\"pv1\", 40] } }\n"
	"}\n"
	"}\n"
	"contents = \"Text Format Volume Group\"\nversion = 1\n";

static void test_lvm_handmade(void **state)
{
	static uint8_t v[PV_PE_START + 4096];
	const uint64_t mib = 1 << 20, size = 64 * mib;
	struct rh_usedmap *m = NULL;
	const struct rh_extents *x;
	struct rh_usedmap_lv lv;
	uint64_t expect;
	bool seen_lin = false;

	make_pv(v, size, vg_text);
	make_swap(v + PV_PE_START, 4096, 1000, "SWAPSPACE2");
	save_corpus("lvm", "handmade-7lv", RH_FS_LVM2, v, sizeof v, size);
	assert_int_equal(build_mem(v, sizeof v, size, 0, RH_FS_AUTO, &m), 0);
	assert_int_equal(rh_usedmap_fstype(m), RH_FS_LVM2);
	x = rh_usedmap_extents(m);
	/* metadata + lin's swap header + pool data 8 + meta 1 + str 2 (of 4,
	 * over 2 stripes) + span 2 + rimage_0 2 + rmeta_0 1 */
	expect = mib + 4096 + (8 + 1 + 2 + 2 + 2 + 1) * mib;
	if (rh_usedmap_used(m) != expect)
		fail_msg("used %llu, expected %llu; notes: %s", (unsigned long long)rh_usedmap_used(m),
			 (unsigned long long)expect, rh_usedmap_note(m));
	assert_true(rh_extents_used_in(x, mib + 4096, 4 * mib - 4096) == 0); /* rest of lin */
	assert_true(rh_extents_used_in(x, mib + 4 * mib, 9 * mib) == 9 * mib); /* pool */
	assert_true(rh_extents_used_in(x, mib + 43 * mib, 17 * mib) == 0);    /* free PEs */
	assert_true(rh_extents_used_in(x, mib + 13 * mib, 7 * mib) == 0);     /* free PEs */
	assert_true(rh_usedmap_zero_detect(m));
	assert_false(rh_usedmap_fallback(m));
	assert_int_equal(rh_usedmap_lv_count(m), 7);
	for (size_t i = 0; i < rh_usedmap_lv_count(m); i++) {
		assert_int_equal(rh_usedmap_lv(m, i, &lv), 0);
		if (strcmp(lv.name, "vg1/lin") == 0) {
			seen_lin = true;
			assert_true(lv.mapped && lv.fstype == RH_FS_SWAP && lv.used == 4096);
		} else {
			assert_false(lv.mapped);
			assert_true(lv.used == lv.pv_bytes);
		}
		if (strcmp(lv.name, "vg1/str") == 0)
			assert_true(lv.pv_bytes == 2 * mib && lv.lv_bytes == 4 * mib);
		assert_string_not_equal(lv.name, "vg1/thin1");
	}
	assert_true(seen_lin);
	assert_int_equal(rh_usedmap_lv(m, 7, &lv), RH_ERR_RANGE);
	assert_non_null(strstr(rh_usedmap_note(m), "LV vg1/str: not a plain linear LV"));
	rh_usedmap_free(m);
}

/* Metadata that names impossible layouts. */
static void test_lvm_handmade_bad(void **state)
{
	static const struct {
		const char *lv;
		const char *expect;
	} cases[] = {
		{ LV_LINEAR("big", "\"VISIBLE\"", 55, 10), "are outside the PV" },
		{ "gap { status = [\"VISIBLE\"]\n segment1 { start_extent = 0 extent_count = 2 "
		  "type = \"striped\" stripe_count = 1 stripes = [\"pv0\", 0] }\n"
		  " segment2 { start_extent = 3 extent_count = 2 type = \"striped\" stripe_count = 1 "
		  "stripes = [\"pv0\", 5] } }\n", "segments leave a gap" },
		{ "odd { segment1 { start_extent = 0 extent_count = 3 type = \"striped\" stripe_count = 2 "
		  "stripes = [\"pv0\", 0, \"pv0\", 10] } }\n", "2 stripes listed, 2 declared for 3" },
		{ "notype { segment1 { start_extent = 0 extent_count = 3 } }\n", "segment without a type" },
		{ "bad { segment1 { start_extent = 0 extent_count = 3 type = \"striped\" stripe_count = 1 "
		  "stripes = [0, \"pv0\"] } }\n", "malformed area list" },
	};
	static uint8_t v[PV_PE_START];
	char text[4096];

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct rh_usedmap *m = NULL;
		int rc;

		snprintf(text, sizeof text,
			 "vg1 { extent_size = 2048\n physical_volumes { pv0 { id = \"" PV_UUID "\" "
			 "pe_start = 2048 pe_count = 60 } }\n logical_volumes {\n%s}\n}\n", cases[i].lv);
		make_pv(v, 64 << 20, text);
		rc = build_mem(v, sizeof v, 64 << 20, 0, RH_FS_AUTO, &m);
		if (rc >= 0 || strstr(rh_lasterr(), cases[i].expect) == NULL)
			fail_msg("case %zu: rc %d, '%s' lacks '%s'", i, rc, rh_lasterr(), cases[i].expect);
		assert_int_equal(build_mem(v, sizeof v, 64 << 20, RH_USEDMAP_FALLBACK_ALL, RH_FS_AUTO,
					   &m), 0);
		assert_true(rh_usedmap_fallback(m) && rh_usedmap_used(m) == 64 << 20);
		assert_int_equal(rh_usedmap_lv_count(m), 0);
		rh_usedmap_free(m);
	}
	/* An orphan PV (no VG yet): only its label and metadata area. */
	make_pv(v, 64 << 20, "x");
	rh_le64enc(v + PV_MDA + 40, 0);
	rh_le32enc(v + PV_MDA, lvm_crc(v + PV_MDA + 4, 512 - 4));
	{
		struct rh_usedmap *m = NULL;

		assert_int_equal(build_mem(v, sizeof v, 64 << 20, 0, RH_FS_AUTO, &m), 0);
		assert_int_equal(rh_usedmap_fstype(m), RH_FS_LVM2);
		assert_true(rh_usedmap_used(m) == PV_PE_START);
		assert_non_null(strstr(rh_usedmap_note(m), "belongs to no VG"));
		rh_usedmap_free(m);
	}
	/* The PV is not the one the metadata describes. */
	make_pv(v, 64 << 20, "vg1 { extent_size = 2048 physical_volumes { pv0 { id = \"other\" "
			     "pe_start = 2048 pe_count = 60 } } }");
	{
		struct rh_usedmap *m = NULL;

		assert_int_equal(build_mem(v, sizeof v, 64 << 20, 0, RH_FS_AUTO, &m), RH_ERR_CORRUPT);
		assert_non_null(strstr(rh_lasterr(), "not listed in its VG"));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_is_zero),
		cmocka_unit_test(test_bad_args),
		cmocka_unit_test(test_unknown),
		cmocka_unit_test(test_forced_garbage),
		cmocka_unit_test(test_swap),
		cmocka_unit_test(test_read_error),
		cmocka_unit_test(test_probe_ambiguous),
		cmocka_unit_test(test_lvm_text),
		cmocka_unit_test(test_lvm_text_errors),
		cmocka_unit_test(test_lvm_handmade),
		cmocka_unit_test(test_lvm_handmade_bad),
	};

	rh_log_set_level(RH_LOG_ERROR); /* fallback warnings are expected here */
	return cmocka_run_group_tests(tests, NULL, NULL);
}
