/* Unit tests for vpc (VHD): the CHS size rounding qemu-img uses, dynamic
 * and fixed round trips with holes, sector bitmaps honoured on read, and
 * damaged footers, dynamic headers and BATs rejected with a message. */
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

#include "img/img-internal.h"
#include "rehost/endian.h"
#include "rehost/err.h"
#include "rehost/img.h"

static int write_vhd(const uint8_t *data, size_t size, enum rh_img_subformat sub, bool force,
		     uint64_t *vsize)
{
	struct rh_img_create_opts o = { .format = RH_IMG_VPC, .size = size, .subformat = sub,
					.force_size = force };
	struct rh_img_writer *w = NULL;
	int fd = memfd_create("vhd", MFD_CLOEXEC);

	assert_true(fd >= 0);
	assert_int_equal(rh_img_create_fd(dup(fd), "test.vhd", &o, &w), 0);
	*vsize = rh_img_writer_size(w);
	assert_int_equal(rh_img_write(w, data, size / 4, 0), 0);
	/* A gap, then the rest. */
	assert_int_equal(rh_img_write(w, data + size / 2, size - size / 2, size / 2), 0);
	assert_int_equal(rh_img_finalize(w), 0);
	rh_img_writer_free(w);
	return fd;
}

static uint8_t *pattern(size_t size)
{
	uint8_t *p = malloc(size);

	assert_non_null(p);
	for (size_t i = 0; i < size; i++)
		p[i] = (i / 65536) % 4 == 1 ? 0 : (uint8_t)(i * 31 + i / 512);
	return p;
}

static void test_chs(void **state)
{
	uint16_t c;
	uint8_t h, s;

	/* The specification's worked limits. */
	assert_true(img_vpc_chs(65535ULL * 16 * 255, &c, &h, &s) == 65535ULL * 16 * 255);
	assert_int_equal(h, 16);
	assert_int_equal(s, 255);
	assert_true(img_vpc_chs(131072, &c, &h, &s) <= 131072);
	assert_int_equal(s, 17);
}

static void roundtrip(enum rh_img_subformat sub, bool force, size_t size, uint64_t want_vsize)
{
	uint8_t *src = pattern(size), *back = calloc(1, size);
	struct rh_img_check_result res;
	struct rh_img_info info;
	struct rh_img *img = NULL;
	uint64_t vsize;
	int fd = write_vhd(src, size, sub, force, &vsize);

	memset(src + size / 4, 0, size / 2 - size / 4);
	if (want_vsize)
		assert_true(vsize == want_vsize);
	assert_int_equal(rh_img_open_fd(dup(fd), "test.vhd", RH_IMG_AUTO, &img), 0);
	assert_int_equal(rh_img_get_format(img), RH_IMG_VPC);
	assert_true(rh_img_size(img) == vsize);
	assert_int_equal(rh_img_pread(img, back, size, 0), 0);
	assert_memory_equal(src, back, size);
	assert_int_equal(rh_img_get_info(img, &info), 0);
	assert_string_equal(info.subformat, sub == RH_IMG_SUB_VPC_FIXED ? "fixed" : "dynamic");
	assert_true(info.data_bytes <= vsize);
	if (size >= (64u << 20))
		assert_true(info.data_bytes < vsize);
	assert_int_equal(rh_img_check(img, NULL, NULL, &res), 0);
	assert_int_equal(res.errors, 0);
	assert_int_equal(res.leaks, 0);
	rh_img_free(img);
	close(fd);
	free(src);
	free(back);
}

static void test_roundtrips(void **state)
{
	/* 64 MiB rounds up to qemu-img's geometry: 67125248 bytes. */
	roundtrip(RH_IMG_SUB_VPC_DYNAMIC, false, 64u << 20, 67125248);
	roundtrip(RH_IMG_SUB_VPC_FIXED, false, 64u << 20, 67125248);
	/* force_size keeps the size exactly. */
	roundtrip(RH_IMG_SUB_VPC_DYNAMIC, true, 5u << 20, 5u << 20);
	roundtrip(RH_IMG_SUB_DEFAULT, false, 12345, 0);
}

/* A dynamic image with one block whose bitmap marks some sectors absent. */
static void test_bitmap(void **state)
{
	uint8_t *src = pattern(4u << 20), *back = malloc(4u << 20), bm[512];
	struct rh_img *img = NULL;
	uint64_t vsize, block0;
	uint8_t be[4];
	int fd = write_vhd(src, 4u << 20, RH_IMG_SUB_VPC_DYNAMIC, true, &vsize);

	assert_int_equal(pread(fd, be, 4, 1536), 4);
	block0 = (uint64_t)rh_be32dec(be) * 512;
	memset(bm, 0xff, sizeof bm);
	bm[0] = 0x7f; /* sector 0 absent */
	assert_int_equal(pwrite(fd, bm, sizeof bm, (off_t)block0), (ssize_t)sizeof bm);
	assert_int_equal(rh_img_open_fd(dup(fd), "t.vhd", RH_IMG_VPC, &img), 0);
	assert_int_equal(rh_img_pread(img, back, 4096, 0), 0);
	for (int i = 0; i < 512; i++)
		assert_int_equal(back[i], 0);
	assert_memory_equal(back + 512, src + 512, 4096 - 512);
	rh_img_free(img);
	close(fd);
	free(src);
	free(back);
}

static void expect_fail(int fd, int code, const char *needle)
{
	struct rh_img *img = NULL;

	assert_int_equal(rh_img_open_fd(dup(fd), "bad.vhd", RH_IMG_VPC, &img), code);
	if (needle != NULL && strstr(rh_lasterr(), needle) == NULL)
		fail_msg("'%s' not in '%s'", needle, rh_lasterr());
	close(fd);
}

static int fresh(uint64_t *end)
{
	uint8_t *src = pattern(4u << 20);
	uint64_t vsize;
	struct stat st;
	int fd = write_vhd(src, 4u << 20, RH_IMG_SUB_VPC_DYNAMIC, true, &vsize);

	free(src);
	assert_int_equal(fstat(fd, &st), 0);
	*end = (uint64_t)st.st_size;
	return fd;
}

static void test_damage(void **state)
{
	uint8_t b[8] = { 0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4 };
	uint64_t end;
	int fd;

	/* Footer checksum: the footer at the end is used. */
	fd = fresh(&end);
	assert_int_equal(pwrite(fd, b, 1, (off_t)(end - 512 + 64)), 1);
	expect_fail(fd, RH_ERR_CORRUPT, "checksum");
	/* Dynamic header damaged. */
	fd = fresh(&end);
	assert_int_equal(pwrite(fd, b, 4, 512 + 32), 4);
	expect_fail(fd, RH_ERR_CORRUPT, "dynamic header checksum");
	/* Not a VHD at all. */
	fd = fresh(&end);
	assert_int_equal(pwrite(fd, b, 8, (off_t)(end - 512)), 8);
	assert_int_equal(pwrite(fd, b, 8, 0), 8);
	expect_fail(fd, RH_ERR_CORRUPT, "no VHD footer");
	/* BAT entry past the end. */
	fd = fresh(&end);
	assert_int_equal(pwrite(fd, b, 4, 1536), 4);
	expect_fail(fd, RH_ERR_CORRUPT, "BAT entry 0");
	/* Truncated in the middle of a block. */
	fd = fresh(&end);
	assert_int_equal(ftruncate(fd, (off_t)(end / 2)), 0);
	expect_fail(fd, RH_ERR_CORRUPT, "beyond the end");
	/* Too small for a footer. */
	fd = fresh(&end);
	assert_int_equal(ftruncate(fd, 100), 0);
	expect_fail(fd, RH_ERR_CORRUPT, "shorter than a footer");
}

static void test_footer_lost(void **state)
{
	struct rh_img_check_result res;
	struct rh_img *img = NULL;
	uint8_t z[512] = { 0 };
	uint64_t end;
	int fd = fresh(&end);

	/* The end footer wiped: the copy at offset 0 still opens it, and
	 * check reports the damage. */
	assert_int_equal(pwrite(fd, z, sizeof z, (off_t)(end - 512)), (ssize_t)sizeof z);
	assert_int_equal(rh_img_open_fd(dup(fd), "t.vhd", RH_IMG_VPC, &img), 0);
	assert_int_equal(rh_img_check(img, NULL, NULL, &res), 0);
	assert_true(res.errors >= 1);
	rh_img_free(img);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_chs),
		cmocka_unit_test(test_roundtrips),
		cmocka_unit_test(test_bitmap),
		cmocka_unit_test(test_damage),
		cmocka_unit_test(test_footer_lost),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
