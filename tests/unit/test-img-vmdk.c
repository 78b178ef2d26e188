/* Unit tests for vmdk: monolithicSparse and streamOptimized round trips,
 * the stream layout (footer with the grain directory, end-of-stream
 * marker), and damaged headers, grain tables and markers rejected or
 * reported with a message. */
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

#define VSIZE ((40u << 20) + 4096) /* two grain tables and a partial grain */

static uint8_t *pattern(void)
{
	uint8_t *p = calloc(1, VSIZE);

	assert_non_null(p);
	for (size_t i = 0; i < 300000; i++)
		p[i] = (uint8_t)(i * 2654435761u >> 11);
	for (size_t i = 33u << 20; i < (34u << 20); i++)
		p[i] = "stream "[i % 7];
	memset(p + VSIZE - 700, 0x5a, 700);
	return p;
}

static int write_vmdk(const uint8_t *data, enum rh_img_subformat sub)
{
	struct rh_img_create_opts o = { .format = RH_IMG_VMDK, .size = VSIZE, .subformat = sub,
					.threads = 2 };
	struct rh_img_writer *w = NULL;
	int fd = memfd_create("vmdk", MFD_CLOEXEC);

	assert_int_equal(rh_img_create_fd(dup(fd), "test.vmdk", &o, &w), 0);
	assert_int_equal(rh_img_write(w, data, VSIZE, 0), 0);
	assert_int_equal(rh_img_finalize(w), 0);
	rh_img_writer_free(w);
	return fd;
}

static void roundtrip(enum rh_img_subformat sub, const char *type, enum rh_img_compress comp)
{
	uint8_t *src = pattern(), *back = malloc(VSIZE);
	struct rh_img_check_result res;
	struct rh_img_info info;
	struct rh_img *img = NULL;
	int fd = write_vmdk(src, sub);

	assert_int_equal(rh_img_open_fd(dup(fd), "test.vmdk", RH_IMG_AUTO, &img), 0);
	assert_int_equal(rh_img_get_format(img), RH_IMG_VMDK);
	assert_true(rh_img_size(img) == VSIZE);
	assert_int_equal(rh_img_pread(img, back, VSIZE, 0), 0);
	assert_memory_equal(src, back, VSIZE);
	assert_int_equal(rh_img_get_info(img, &info), 0);
	assert_string_equal(info.subformat, type);
	assert_int_equal(info.compression, comp);
	assert_int_equal(info.cluster_size, 65536);
	assert_int_equal(rh_img_check(img, NULL, NULL, &res), 0);
	assert_int_equal(res.errors, 0);
	rh_img_free(img);
	close(fd);
	free(src);
	free(back);
}

static void test_sparse(void **state)
{
	roundtrip(RH_IMG_SUB_VMDK_SPARSE, "monolithicSparse", RH_IMG_COMPRESS_NONE);
}

static void test_stream(void **state)
{
	roundtrip(RH_IMG_SUB_VMDK_STREAM, "streamOptimized", RH_IMG_COMPRESS_ZLIB);
}

static void test_stream_layout(void **state)
{
	uint8_t *src = pattern(), h[512], f[1536];
	struct stat st;
	int fd = write_vmdk(src, RH_IMG_SUB_VMDK_STREAM);

	assert_int_equal(pread(fd, h, sizeof h, 0), (ssize_t)sizeof h);
	assert_int_equal(rh_le32dec(h), 0x564d444b);
	assert_int_equal(rh_le32dec(h + 4), 3);
	assert_true(rh_le64dec(h + 56) == UINT64_MAX); /* grain directory at the end */
	assert_int_equal(fstat(fd, &st), 0);
	assert_int_equal(pread(fd, f, sizeof f, st.st_size - 1536), (ssize_t)sizeof f);
	assert_int_equal(rh_le32dec(f + 12), 3);             /* footer marker */
	assert_int_equal(rh_le32dec(f + 512), 0x564d444b);   /* footer header */
	assert_true(rh_le64dec(f + 512 + 56) != UINT64_MAX);
	for (int i = 1024; i < 1536; i++)                     /* end of stream */
		assert_int_equal(f[i], 0);
	close(fd);
	free(src);
}

static void expect_fail(int fd, int code, const char *needle)
{
	struct rh_img *img = NULL;

	assert_int_equal(rh_img_open_fd(dup(fd), "bad.vmdk", RH_IMG_VMDK, &img), code);
	if (needle != NULL && strstr(rh_lasterr(), needle) == NULL)
		fail_msg("'%s' not in '%s'", needle, rh_lasterr());
	close(fd);
}

static void put_le(int fd, uint64_t off, uint64_t v, int width)
{
	uint8_t b[8];

	rh_le64enc(b, v);
	assert_int_equal(pwrite(fd, b, (size_t)width, (off_t)off), width);
}

static void test_damage(void **state)
{
	uint8_t *src = pattern(), h[512];
	struct rh_img_check_result res;
	struct rh_img *img = NULL;
	uint64_t gd, gt;
	struct stat st;
	int fd;

	fd = write_vmdk(src, RH_IMG_SUB_VMDK_SPARSE);
	put_le(fd, 12, 1ULL << 60, 8);
	expect_fail(fd, RH_ERR_TOOBIG, "capacity");
	fd = write_vmdk(src, RH_IMG_SUB_VMDK_SPARSE);
	put_le(fd, 20, 100, 8);
	expect_fail(fd, RH_ERR_CORRUPT, "grain size");
	fd = write_vmdk(src, RH_IMG_SUB_VMDK_SPARSE);
	put_le(fd, 56, 1ULL << 40, 8);
	expect_fail(fd, RH_ERR_CORRUPT, "grain directory");
	fd = write_vmdk(src, RH_IMG_SUB_VMDK_SPARSE);
	put_le(fd, 73, 0x0a0a0a0a, 4);
	expect_fail(fd, RH_ERR_CORRUPT, "newline");
	fd = write_vmdk(src, RH_IMG_SUB_VMDK_SPARSE);
	put_le(fd, 0, 0x11111111, 4);
	expect_fail(fd, RH_ERR_CORRUPT, "magic");

	/* A grain table entry past the end: reads fail cleanly, check reports. */
	fd = write_vmdk(src, RH_IMG_SUB_VMDK_SPARSE);
	assert_int_equal(pread(fd, h, sizeof h, 0), (ssize_t)sizeof h);
	gd = rh_le64dec(h + 56);
	assert_int_equal(pread(fd, h, 4, (off_t)(gd * 512)), 4);
	gt = rh_le32dec(h);
	put_le(fd, gt * 512, 0x0ffffff0, 4);
	assert_int_equal(rh_img_open_fd(dup(fd), "bad.vmdk", RH_IMG_VMDK, &img), 0);
	assert_int_equal(rh_img_pread(img, h, 512, 0), RH_ERR_CORRUPT);
	assert_int_equal(rh_img_check(img, NULL, NULL, &res), 0);
	assert_true(res.errors >= 1);
	rh_img_free(img);
	close(fd);

	/* Stream cut short: no footer. */
	fd = write_vmdk(src, RH_IMG_SUB_VMDK_STREAM);
	assert_int_equal(fstat(fd, &st), 0);
	assert_int_equal(ftruncate(fd, st.st_size - 1024), 0);
	expect_fail(fd, RH_ERR_CORRUPT, "footer");
	free(src);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sparse),
		cmocka_unit_test(test_stream),
		cmocka_unit_test(test_stream_layout),
		cmocka_unit_test(test_damage),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
