/* Unit tests for the qcow2 reader, writer and check: round trips (plain,
 * zlib, zstd, several cluster sizes), output identical for any number of
 * compression threads, and every malformed header or table rejected with a
 * message naming it before anything is read through it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "rehost/endian.h"
#include "rehost/err.h"
#include "rehost/img.h"

#define VSIZE (3u << 20) /* spans two L2 tables with 4 KiB clusters */

static uint8_t *pattern(size_t size)
{
	uint8_t *p = calloc(1, size);

	assert_non_null(p);
	/* Random-ish, compressible text, zeros and a tail. */
	for (size_t i = 0; i < 64 * 1024; i++)
		p[i] = (uint8_t)(i * 2654435761u >> 13);
	for (size_t i = 200 * 1024; i < 400 * 1024; i++)
		p[i] = "rehost qcow2 "[i % 13];
	for (size_t i = 2u << 20; i < (2u << 20) + 5000; i++)
		p[i] = (uint8_t)(i ^ (i >> 8));
	memset(p + size - 100, 0xab, 100);
	return p;
}

/* Write data (size bytes) as a qcow2 image into a new memfd. */
static int write_image(const uint8_t *data, size_t size, struct rh_img_create_opts o)
{
	struct rh_img_writer *w = NULL;
	int fd = memfd_create("test", MFD_CLOEXEC);

	assert_true(fd >= 0);
	o.format = RH_IMG_QCOW2;
	o.size = size;
	assert_int_equal(rh_img_create_fd(dup(fd), "test.qcow2", &o, &w), 0);
	/* Uneven pieces exercise the partial-cluster staging. */
	for (size_t off = 0; off < size;) {
		size_t n = size - off < 100000 ? size - off : 100000;

		assert_int_equal(rh_img_write(w, data + off, n, off), 0);
		off += n;
	}
	assert_int_equal(rh_img_finalize(w), 0);
	rh_img_writer_free(w);
	return fd;
}

static struct rh_img *open_fd(int fd)
{
	struct rh_img *img = NULL;

	assert_int_equal(rh_img_open_fd(dup(fd), "test.qcow2", RH_IMG_AUTO, &img), 0);
	return img;
}

static void expect_clean(struct rh_img *img)
{
	struct rh_img_check_result res;

	assert_int_equal(rh_img_check(img, NULL, NULL, &res), 0);
	assert_int_equal(res.errors, 0);
	assert_int_equal(res.leaks, 0);
}

static void roundtrip(struct rh_img_create_opts o, enum rh_img_compress want)
{
	uint8_t *src = pattern(VSIZE), *back = malloc(VSIZE);
	struct rh_img_info info;
	struct rh_img *img;
	int fd = write_image(src, VSIZE, o);

	img = open_fd(fd);
	assert_int_equal(rh_img_get_format(img), RH_IMG_QCOW2);
	assert_true(rh_img_size(img) == VSIZE);
	assert_int_equal(rh_img_pread(img, back, VSIZE, 0), 0);
	assert_memory_equal(src, back, VSIZE);
	assert_int_equal(rh_img_get_info(img, &info), 0);
	assert_int_equal(info.compression, want);
	assert_string_equal(info.subformat, "v3");
	if (o.compress)
		assert_true(info.compressed_clusters > 0);
	/* Zeros are not stored: well under the virtual size. */
	assert_true(info.data_bytes < VSIZE / 2);
	expect_clean(img);
	rh_img_free(img);
	close(fd);
	free(src);
	free(back);
}

static void test_roundtrip_plain(void **state)
{
	roundtrip((struct rh_img_create_opts){ .cluster_size = 4096 }, RH_IMG_COMPRESS_ZLIB);
	roundtrip((struct rh_img_create_opts){ .cluster_size = 512 }, RH_IMG_COMPRESS_ZLIB);
	roundtrip((struct rh_img_create_opts){ 0 }, RH_IMG_COMPRESS_ZLIB);
}

static void test_roundtrip_compressed(void **state)
{
	roundtrip((struct rh_img_create_opts){ .cluster_size = 4096, .compress = true,
					       .compression_type = RH_IMG_COMPRESS_ZLIB, .threads = 2 },
		  RH_IMG_COMPRESS_ZLIB);
	roundtrip((struct rh_img_create_opts){ .cluster_size = 65536, .compress = true,
					       .compression_type = RH_IMG_COMPRESS_ZSTD, .threads = 3 },
		  RH_IMG_COMPRESS_ZSTD);
	roundtrip((struct rh_img_create_opts){ .cluster_size = 512, .compress = true,
					       .compression_type = RH_IMG_COMPRESS_ZSTD },
		  RH_IMG_COMPRESS_ZSTD);
}

static uint8_t *fd_bytes(int fd, size_t *len)
{
	struct stat st;
	uint8_t *p;

	assert_int_equal(fstat(fd, &st), 0);
	*len = (size_t)st.st_size;
	p = malloc(*len + 1);
	assert_non_null(p);
	assert_int_equal(pread(fd, p, *len, 0), (ssize_t)*len);
	return p;
}

static void test_deterministic_threads(void **state)
{
	uint8_t *src = pattern(VSIZE), *a, *b;
	size_t la, lb;
	int f0, f4;

	f0 = write_image(src, VSIZE, (struct rh_img_create_opts){ .compress = true,
		.compression_type = RH_IMG_COMPRESS_ZSTD, .cluster_size = 4096, .threads = 0 });
	f4 = write_image(src, VSIZE, (struct rh_img_create_opts){ .compress = true,
		.compression_type = RH_IMG_COMPRESS_ZSTD, .cluster_size = 4096, .threads = 4 });
	a = fd_bytes(f0, &la);
	b = fd_bytes(f4, &lb);
	assert_int_equal(la, lb);
	assert_memory_equal(a, b, la);
	free(a);
	free(b);
	close(f0);
	close(f4);
	free(src);
}

static void test_writer_rules(void **state)
{
	struct rh_img_create_opts o = { .format = RH_IMG_QCOW2, .size = 1 << 20 };
	struct rh_img_writer *w = NULL;
	uint8_t buf[4096] = { 1 };
	int fd = memfd_create("w", MFD_CLOEXEC);

	assert_int_equal(rh_img_create_fd(fd, "w.qcow2", &o, &w), 0);
	assert_int_equal(rh_img_write(w, buf, sizeof buf, 8192), 0);
	/* Backwards and past the end are refused. */
	assert_int_equal(rh_img_write(w, buf, sizeof buf, 0), RH_ERR_INVAL);
	assert_non_null(strstr(rh_lasterr(), "before the previous end"));
	assert_int_equal(rh_img_write(w, buf, sizeof buf, (1 << 20) - 100), RH_ERR_INVAL);
	rh_img_writer_free(w);
	/* Bad options. */
	o.cluster_size = 3000;
	assert_int_equal(rh_img_create_fd(memfd_create("w", MFD_CLOEXEC), "w", &o, &w), RH_ERR_INVAL);
	o.cluster_size = 0;
	o.size = 0;
	assert_int_equal(rh_img_create_fd(memfd_create("w", MFD_CLOEXEC), "w", &o, &w), RH_ERR_INVAL);
}

static void test_options(void **state)
{
	struct rh_img_create_opts o = { .format = RH_IMG_QCOW2 };

	assert_int_equal(rh_img_create_opts_parse(&o, "compression_type=zstd,cluster_size=4K"), 0);
	assert_int_equal(o.compression_type, RH_IMG_COMPRESS_ZSTD);
	assert_int_equal(o.cluster_size, 4096);
	assert_int_equal(rh_img_create_opts_parse(&o, "cluster_size=3K"), RH_ERR_INVAL);
	assert_int_equal(rh_img_create_opts_parse(&o, "subformat=fixed"), RH_ERR_INVAL);
	assert_int_equal(rh_img_create_opts_parse(&o, "bogus=1"), RH_ERR_INVAL);
	assert_non_null(strstr(rh_lasterr(), "bogus"));
	o.format = RH_IMG_VPC;
	assert_int_equal(rh_img_create_opts_parse(&o, "subformat=fixed,force_size"), 0);
	assert_int_equal(o.subformat, RH_IMG_SUB_VPC_FIXED);
	assert_true(o.force_size);
	assert_int_equal(rh_img_create_opts_parse(&o, "compression_type=zlib"), RH_ERR_INVAL);
}

/* ---- corruption ---- */

/* A small valid image to damage: 64 KiB virtual, 512-byte clusters. */
static int small_image(void)
{
	uint8_t data[65536];

	for (size_t i = 0; i < sizeof data; i++)
		data[i] = (i / 512) % 3 ? 0 : (uint8_t)(i * 7);
	return write_image(data, sizeof data, (struct rh_img_create_opts){ .cluster_size = 512 });
}

static uint64_t be64_at(int fd, uint64_t off)
{
	uint8_t b[8];

	assert_int_equal(pread(fd, b, 8, (off_t)off), 8);
	return rh_be64dec(b);
}

static void put_be64(int fd, uint64_t off, uint64_t v)
{
	uint8_t b[8];

	rh_be64enc(b, v);
	assert_int_equal(pwrite(fd, b, 8, (off_t)off), 8);
}

static void put_be32(int fd, uint64_t off, uint32_t v)
{
	uint8_t b[4];

	rh_be32enc(b, v);
	assert_int_equal(pwrite(fd, b, 4, (off_t)off), 4);
}

static void expect_open_fails(int fd, int code, const char *needle)
{
	struct rh_img *img = NULL;

	assert_int_equal(rh_img_open_fd(dup(fd), "bad.qcow2", RH_IMG_QCOW2, &img), code);
	assert_null(img);
	if (needle != NULL && strstr(rh_lasterr(), needle) == NULL)
		fail_msg("'%s' not in '%s'", needle, rh_lasterr());
	close(fd);
}

static void test_bad_headers(void **state)
{
	int fd;

	fd = small_image();
	put_be32(fd, 0, 0x12345678);
	expect_open_fails(fd, RH_ERR_CORRUPT, "bad magic");
	fd = small_image();
	put_be64(fd, 24, 1ULL << 62);
	expect_open_fails(fd, RH_ERR_TOOBIG, "virtual size");
	fd = small_image();
	put_be32(fd, 20, 31);
	expect_open_fails(fd, RH_ERR_CORRUPT, "cluster_bits");
	fd = small_image();
	put_be64(fd, 40, 1ULL << 40);
	expect_open_fails(fd, RH_ERR_CORRUPT, "L1 table");
	fd = small_image();
	put_be32(fd, 36, 0);
	expect_open_fails(fd, RH_ERR_CORRUPT, "too small");
	fd = small_image();
	put_be32(fd, 36, 0x7fffffff);
	expect_open_fails(fd, RH_ERR_TOOBIG, "L1 table");
	fd = small_image();
	put_be64(fd, 48, 12345);
	expect_open_fails(fd, RH_ERR_CORRUPT, "refcount table");
	fd = small_image();
	put_be32(fd, 100, 50000);
	expect_open_fails(fd, RH_ERR_CORRUPT, "header length");
	fd = small_image();
	put_be64(fd, 8, 512); /* backing file */
	expect_open_fails(fd, RH_ERR_UNSUPPORTED, "backing file");
	fd = small_image();
	put_be32(fd, 32, 1); /* AES */
	expect_open_fails(fd, RH_ERR_UNSUPPORTED, "encrypted");
	fd = small_image();
	put_be64(fd, 72, 1ULL << 4); /* extended L2 */
	expect_open_fails(fd, RH_ERR_UNSUPPORTED, "extended L2");
	fd = small_image();
	/* zstd without the incompatible bit */
	{
		uint8_t one = 1;

		assert_int_equal(pwrite(fd, &one, 1, 104), 1);
	}
	expect_open_fails(fd, RH_ERR_CORRUPT, "feature bit");
	/* Truncated to less than a header. */
	fd = small_image();
	assert_int_equal(ftruncate(fd, 50), 0);
	expect_open_fails(fd, RH_ERR_CORRUPT, "too short");
}

static void test_bad_tables(void **state)
{
	struct rh_img *img = NULL;
	struct rh_img_check_result res;
	uint8_t buf[512];
	uint64_t l1, l2, e0;
	int fd;

	/* An L1 entry pointing past the end of the file. */
	fd = small_image();
	l1 = be64_at(fd, 40);
	put_be64(fd, l1, (1ULL << 63) | (1ULL << 40));
	expect_open_fails(fd, RH_ERR_CORRUPT, "L1 entry 0");

	/* An L2 entry past the end: open works, the read fails cleanly and
	 * check reports it. */
	fd = small_image();
	l1 = be64_at(fd, 40);
	l2 = be64_at(fd, l1) & 0x00fffffffffffe00ULL;
	put_be64(fd, l2, (1ULL << 63) | (1ULL << 42));
	img = open_fd(fd);
	assert_int_equal(rh_img_pread(img, buf, sizeof buf, 0), RH_ERR_CORRUPT);
	assert_non_null(strstr(rh_lasterr(), "beyond the end of the file"));
	assert_int_equal(rh_img_check(img, NULL, NULL, &res), 0);
	assert_true(res.errors >= 1);
	rh_img_free(img);
	close(fd);

	/* Two virtual clusters sharing one host cluster: an overlap. */
	fd = small_image();
	l1 = be64_at(fd, 40);
	l2 = be64_at(fd, l1) & 0x00fffffffffffe00ULL;
	e0 = be64_at(fd, l2);
	put_be64(fd, l2 + 8, e0);
	img = open_fd(fd);
	assert_int_equal(rh_img_check(img, NULL, NULL, &res), 0);
	assert_true(res.errors >= 1);
	rh_img_free(img);
	close(fd);

	/* An L2 table that is also used as data. */
	fd = small_image();
	l1 = be64_at(fd, 40);
	l2 = be64_at(fd, l1) & 0x00fffffffffffe00ULL;
	put_be64(fd, l2 + 8, (1ULL << 63) | l2);
	img = open_fd(fd);
	assert_int_equal(rh_img_check(img, NULL, NULL, &res), 0);
	assert_true(res.errors >= 1);
	rh_img_free(img);
	close(fd);
}

struct msgs {
	char text[4096];
};

static void collect(void *ctx, enum rh_img_problem kind, const char *msg)
{
	struct msgs *m = ctx;

	strncat(m->text, msg, sizeof m->text - strlen(m->text) - 2);
	strcat(m->text, "\n");
}

static void test_refcounts(void **state)
{
	struct rh_img_check_result res;
	struct msgs m = { "" };
	struct rh_img *img;
	uint64_t rt, rb;
	uint8_t z[2] = { 0, 0 }, two[2] = { 0, 2 };
	int fd;

	/* Refcount of the header cluster zeroed: used but unreferenced. */
	fd = small_image();
	rt = be64_at(fd, 48);
	rb = be64_at(fd, rt);
	assert_int_equal(pwrite(fd, z, 2, (off_t)rb), 2);
	img = open_fd(fd);
	assert_int_equal(rh_img_check(img, collect, &m, &res), 0);
	assert_int_equal(res.errors, 1);
	assert_non_null(strstr(m.text, "refcount 0 but referenced 1 time"));
	rh_img_free(img);
	close(fd);

	/* Refcount too high (on the header cluster): a leak, not an error. */
	fd = small_image();
	rt = be64_at(fd, 48);
	rb = be64_at(fd, rt);
	assert_int_equal(pwrite(fd, two, 2, (off_t)rb), 2);
	img = open_fd(fd);
	memset(&m, 0, sizeof m);
	assert_int_equal(rh_img_check(img, collect, &m, &res), 0);
	assert_int_equal(res.leaks, 1);
	assert_int_equal(res.errors, 0);
	assert_non_null(strstr(m.text, "leaked"));
	rh_img_free(img);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip_plain),
		cmocka_unit_test(test_roundtrip_compressed),
		cmocka_unit_test(test_deterministic_threads),
		cmocka_unit_test(test_writer_rules),
		cmocka_unit_test(test_options),
		cmocka_unit_test(test_bad_headers),
		cmocka_unit_test(test_bad_tables),
		cmocka_unit_test(test_refcounts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
