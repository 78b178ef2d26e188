/* Unit tests of the initramfs reader: newc and odc cpio, gzip, xz, lzma and
 * zstd streams, early-cpio prefixes, padding, and malformed input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <lzma.h>
#include <zlib.h>
#include <zstd.h>

#include "rehost/err.h"
#include "rehost/inspect.h"

struct mem {
	unsigned char *p;
	size_t n, cap;
};

static void put(struct mem *m, const void *data, size_t n)
{
	if (m->n + n > m->cap) {
		m->cap = (m->n + n) * 2 + 1024;
		m->p = realloc(m->p, m->cap);
		assert_non_null(m->p);
	}
	memcpy(m->p + m->n, data, n);
	m->n += n;
}

static void pad4(struct mem *m, size_t base)
{
	static const unsigned char zero[4];

	put(m, zero, (4 - (m->n - base) % 4) % 4);
}

/* One newc member; base is where the archive started in m. */
static void newc(struct mem *m, size_t base, const char *name, unsigned mode, size_t size)
{
	char hdr[111];
	unsigned char *data = calloc(1, size + 1);

	assert_non_null(data);
	snprintf(hdr, sizeof hdr, "070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X", 1u,
		 mode, 0u, 0u, 1u, 0u, (unsigned)size, 0u, 0u, 0u, 0u, (unsigned)strlen(name) + 1,
		 0u);
	put(m, hdr, 110);
	put(m, name, strlen(name) + 1);
	pad4(m, base);
	put(m, data, size);
	pad4(m, base);
	free(data);
}

static void archive(struct mem *m, const char *const *names, size_t n)
{
	size_t base = m->n;

	for (size_t i = 0; i < n; i++)
		newc(m, base, names[i], 0100644, 10 + i * 7);
	newc(m, base, "TRAILER!!!", 0, 0);
}

static const char *const main_names[] = {
	".", "./init", "./usr/lib/modules/6.1/kernel/drivers/block/virtio_blk.ko.xz",
	"./usr/lib/modules/6.1/kernel/drivers/virtio/virtio_pci.ko.xz", "usr/bin/sh",
};

struct seen {
	unsigned count;
	int stop_after;
	int fail_with;
	char last[256];
	bool saw_virtio_blk;
};

static int cb(void *arg, const char *name, unsigned mode, unsigned long long size)
{
	struct seen *s = arg;

	(void)mode;
	(void)size;
	assert_true(name[0] != '/');
	assert_false(name[0] == '.' && name[1] == '/');
	s->count++;
	snprintf(s->last, sizeof s->last, "%s", name);
	if (strstr(name, "virtio_blk.ko") != NULL)
		s->saw_virtio_blk = true;
	if (s->fail_with)
		return s->fail_with;
	if (s->stop_after > 0 && (int)s->count >= s->stop_after)
		return 1;
	return 0;
}

static struct mem gzip_of(const struct mem *in)
{
	struct mem out = { 0 };
	z_stream zs = { 0 };

	out.cap = compressBound((uLong)in->n) + 64;
	out.p = malloc(out.cap);
	assert_int_equal(deflateInit2(&zs, 9, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY), Z_OK);
	zs.next_in = in->p;
	zs.avail_in = (uInt)in->n;
	zs.next_out = out.p;
	zs.avail_out = (uInt)out.cap;
	assert_int_equal(deflate(&zs, Z_FINISH), Z_STREAM_END);
	out.n = zs.total_out;
	deflateEnd(&zs);
	return out;
}

static struct mem xz_of(const struct mem *in, bool alone)
{
	struct mem out = { 0 };
	lzma_stream s = LZMA_STREAM_INIT;
	lzma_options_lzma opt;

	out.cap = in->n + 4096;
	out.p = malloc(out.cap);
	if (alone) {
		assert_false(lzma_lzma_preset(&opt, 6));
		assert_int_equal(lzma_alone_encoder(&s, &opt), LZMA_OK);
	} else {
		assert_int_equal(lzma_easy_encoder(&s, 6, LZMA_CHECK_CRC32), LZMA_OK);
	}
	s.next_in = in->p;
	s.avail_in = in->n;
	s.next_out = out.p;
	s.avail_out = out.cap;
	assert_int_equal(lzma_code(&s, LZMA_FINISH), LZMA_STREAM_END);
	out.n = s.total_out;
	lzma_end(&s);
	return out;
}

static struct mem zstd_of(const struct mem *in)
{
	struct mem out = { 0 };

	out.cap = ZSTD_compressBound(in->n);
	out.p = malloc(out.cap);
	out.n = ZSTD_compress(out.p, out.cap, in->p, in->n, 3);
	assert_false(ZSTD_isError(out.n));
	return out;
}

static void test_plain(void **state)
{
	struct mem m = { 0 };
	struct seen s = { 0 };
	struct rh_initramfs_scan scan;

	(void)state;
	archive(&m, main_names, 5);
	assert_int_equal(rh_initramfs_scan(m.p, m.n, cb, &s, &scan), 0);
	assert_int_equal(s.count, 5);
	assert_int_equal(scan.entries, 5);
	assert_string_equal(scan.formats, "cpio");
	assert_string_equal(s.last, "usr/bin/sh");
	assert_true(s.saw_virtio_blk);
	assert_false(scan.stopped);
	free(m.p);
}

static void test_compressed(void **state)
{
	static const char *const fmts[] = { "gzip", "xz", "lzma", "zstd" };
	struct mem m = { 0 };

	(void)state;
	archive(&m, main_names, 5);
	for (size_t i = 0; i < 4; i++) {
		struct mem c = i == 0 ? gzip_of(&m) : i == 1 ? xz_of(&m, false)
				: i == 2 ? xz_of(&m, true) : zstd_of(&m);
		struct seen s = { 0 };
		struct rh_initramfs_scan scan;

		assert_int_equal(rh_initramfs_scan(c.p, c.n, cb, &s, &scan), 0);
		assert_int_equal(s.count, 5);
		assert_string_equal(scan.formats, fmts[i]);
		assert_int_equal(scan.bytes, m.n);
		/* Truncated streams are errors, not partial successes. */
		s.count = 0;
		assert_int_equal(rh_initramfs_scan(c.p, c.n - 7, cb, &s, &scan), RH_ERR_CORRUPT);
		free(c.p);
	}
	free(m.p);
}

static void test_early_cpio(void **state)
{
	static const char *const early_names[] = { "kernel", "kernel/x86/microcode/GenuineIntel.bin" };
	struct mem img = { 0 }, m = { 0 }, two = { 0 }, c;
	struct seen s = { 0 };
	struct rh_initramfs_scan scan;
	static const unsigned char zeros[512];

	(void)state;
	archive(&img, early_names, 2);
	put(&img, zeros, 512 - img.n % 512); /* initramfs-tools pads to 512 */
	archive(&m, main_names, 5);
	/* Two archives concatenated inside the compressed stream. */
	put(&two, m.p, m.n);
	put(&two, zeros, 12);
	archive(&two, main_names + 1, 2);
	c = zstd_of(&two);
	put(&img, c.p, c.n);
	assert_int_equal(rh_initramfs_scan(img.p, img.n, cb, &s, &scan), 0);
	assert_string_equal(scan.formats, "cpio+zstd");
	assert_int_equal(scan.segments, 2);
	assert_int_equal(s.count, 2 + 5 + 2);
	/* Stop early: the callback found what it wanted. */
	memset(&s, 0, sizeof s);
	s.stop_after = 4;
	assert_int_equal(rh_initramfs_scan(img.p, img.n, cb, &s, &scan), 0);
	assert_true(scan.stopped);
	assert_int_equal(s.count, 4);
	/* A callback error aborts the scan with that error. */
	memset(&s, 0, sizeof s);
	s.fail_with = RH_ERR_INTERNAL;
	assert_int_equal(rh_initramfs_scan(img.p, img.n, cb, &s, &scan), RH_ERR_INTERNAL);
	free(c.p);
	free(two.p);
	free(m.p);
	free(img.p);
}

static void test_odc(void **state)
{
	struct mem m = { 0 };
	struct seen s = { 0 };
	struct rh_initramfs_scan scan;
	char hdr[80];

	(void)state;
	snprintf(hdr, sizeof hdr, "070707%06o%06o%06o%06o%06o%06o%06o%011o%06o%011o", 0, 1,
		 0100644, 0, 0, 1, 0, 0, 5, 3);
	put(&m, hdr, 76);
	put(&m, "abcd", 5);
	put(&m, "xyz", 3);
	snprintf(hdr, sizeof hdr, "070707%06o%06o%06o%06o%06o%06o%06o%011o%06o%011o", 0, 0, 0, 0,
		 0, 1, 0, 0, 11, 0);
	put(&m, hdr, 76);
	put(&m, "TRAILER!!!", 11);
	assert_int_equal(rh_initramfs_scan(m.p, m.n, cb, &s, &scan), 0);
	assert_int_equal(s.count, 1);
	assert_string_equal(s.last, "abcd");
	free(m.p);
}

static void test_malformed(void **state)
{
	struct mem m = { 0 }, t = { 0 };
	struct rh_initramfs_scan scan;
	char name[5000];

	(void)state;
	archive(&m, main_names, 5);
	/* Truncated plain archive. */
	assert_int_equal(rh_initramfs_scan(m.p, m.n - 20, NULL, NULL, &scan), RH_ERR_CORRUPT);
	/* A non-hex digit in a header field. */
	m.p[20] = 'G';
	assert_int_equal(rh_initramfs_scan(m.p, m.n, NULL, NULL, &scan), RH_ERR_PARSE);
	/* Name longer than the limit. */
	memset(name, 'a', sizeof name - 1);
	name[sizeof name - 1] = '\0';
	newc(&t, 0, name, 0100644, 0);
	assert_int_equal(rh_initramfs_scan(t.p, t.n, NULL, NULL, &scan), RH_ERR_TOOBIG);
	/* namesize that does not end on the NUL. */
	free(t.p);
	memset(&t, 0, sizeof t);
	newc(&t, 0, "abc", 0100644, 0);
	memcpy(t.p + 94, "00000002", 8);
	assert_int_equal(rh_initramfs_scan(t.p, t.n, NULL, NULL, &scan), RH_ERR_PARSE);
	assert_int_equal(rh_initramfs_scan((const unsigned char *)"hello", 5, NULL, NULL, &scan),
			 RH_ERR_PARSE);
	assert_int_equal(rh_initramfs_scan((const unsigned char *)"\x02\x21\x4c\x18xxxx", 8, NULL,
					   NULL, &scan),
			 RH_ERR_UNSUPPORTED);
	assert_int_equal(rh_initramfs_scan((const unsigned char *)"BZh91AY", 7, NULL, NULL, &scan),
			 RH_ERR_UNSUPPORTED);
	assert_int_equal(rh_initramfs_scan((const unsigned char *)"\0\0\0\0", 4, NULL, NULL, &scan),
			 RH_ERR_PARSE);
	assert_int_equal(rh_initramfs_scan((const unsigned char *)"", 0, NULL, NULL, &scan),
			 RH_ERR_PARSE);
	/* Corrupt gzip payload. */
	{
		struct mem fresh = { 0 }, g;

		archive(&fresh, main_names, 5);
		g = gzip_of(&fresh);
		for (size_t i = 20; i < g.n - 8; i += 3)
			g.p[i] ^= 0x5a;
		assert_int_equal(rh_initramfs_scan(g.p, g.n, NULL, NULL, &scan), RH_ERR_CORRUPT);
		free(g.p);
		free(fresh.p);
	}
	free(t.p);
	free(m.p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain),
		cmocka_unit_test(test_compressed),
		cmocka_unit_test(test_early_cpio),
		cmocka_unit_test(test_odc),
		cmocka_unit_test(test_malformed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
