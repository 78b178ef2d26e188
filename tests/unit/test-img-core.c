/* Unit tests for the generic image layer: format names, probing, raw
 * images with holes, the sequential writer's staging, and copies limited
 * to a used-block list. */
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

#include "rehost/err.h"
#include "rehost/extent.h"
#include "rehost/img.h"

static void test_names(void **state)
{
	enum rh_img_format f;

	assert_int_equal(rh_img_format_parse("vhd", &f), 0);
	assert_int_equal(f, RH_IMG_VPC);
	assert_string_equal(rh_img_format_name(RH_IMG_VPC), "vpc");
	assert_int_equal(rh_img_format_parse("qcow2", &f), 0);
	assert_int_equal(f, RH_IMG_QCOW2);
	assert_int_equal(rh_img_format_parse("vdi", &f), RH_ERR_INVAL);
	assert_non_null(strstr(rh_lasterr(), "vdi"));
}

static int memfd_data(const uint8_t *p, size_t n)
{
	int fd = memfd_create("t", MFD_CLOEXEC);

	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, p, n, 0), (ssize_t)n);
	return fd;
}

static void test_probe_raw(void **state)
{
	uint8_t buf[8192] = { 0 };
	struct rh_img *img = NULL;
	uint64_t len;
	bool data;

	memcpy(buf, "not an image", 12);
	assert_int_equal(rh_img_open_fd(memfd_data(buf, sizeof buf), "t", RH_IMG_AUTO, &img), 0);
	assert_int_equal(rh_img_get_format(img), RH_IMG_RAW);
	assert_true(rh_img_size(img) == sizeof buf);
	assert_int_equal(rh_img_block_status(img, 0, 100000, &len, &data), 0);
	assert_true(len >= 1 && len <= sizeof buf);
	assert_int_equal(rh_img_block_status(img, sizeof buf, 1, &len, &data), RH_ERR_RANGE);
	assert_int_equal(rh_img_pread(img, buf, 10, sizeof buf - 5), RH_ERR_RANGE);
	rh_img_free(img);
	/* An empty file is a raw image of size 0; as qcow2 it is corrupt. */
	assert_int_equal(rh_img_open_fd(memfd_data(buf, 0), "t", RH_IMG_QCOW2, &img), RH_ERR_CORRUPT);
}

/* Raw output: zero runs become holes; reading back gives the data. */
static void test_raw_holes(void **state)
{
	size_t size = 1u << 20;
	uint8_t *src = calloc(1, size), *back = malloc(size);
	struct rh_img_create_opts o = { .format = RH_IMG_RAW, .size = size };
	struct rh_img_writer *w = NULL;
	struct rh_img *img = NULL;
	struct stat st;
	int fd = memfd_create("raw", MFD_CLOEXEC);

	memset(src + 4096, 0x11, 100);
	memset(src + size - 10, 0x22, 10);
	assert_int_equal(rh_img_create_fd(dup(fd), "out.raw", &o, &w), 0);
	/* Odd-sized writes with a gap. */
	assert_int_equal(rh_img_write(w, src, 5000, 0), 0);
	assert_int_equal(rh_img_write(w, src + 70000, 33, 70000), 0);
	assert_int_equal(rh_img_write(w, src + 500000, size - 500000, 500000), 0);
	assert_int_equal(rh_img_finalize(w), 0);
	rh_img_writer_free(w);
	assert_int_equal(fstat(fd, &st), 0);
	assert_true((size_t)st.st_size == size);
	assert_true((size_t)st.st_blocks * 512 < size / 2);
	assert_int_equal(rh_img_open_fd(dup(fd), "out.raw", RH_IMG_RAW, &img), 0);
	assert_int_equal(rh_img_pread(img, back, size, 0), 0);
	assert_memory_equal(src, back, size);
	rh_img_free(img);
	close(fd);
	free(src);
	free(back);
}

/* rh_img_copy with a used-block list copies only the listed ranges. */
static void test_copy_only(void **state)
{
	size_t size = 2u << 20;
	uint8_t *src = malloc(size), *back = malloc(size);
	struct rh_img_create_opts o = { .format = RH_IMG_QCOW2, .size = size, .cluster_size = 4096 };
	struct rh_img_writer *w = NULL;
	struct rh_img *in = NULL, *out = NULL;
	struct rh_extents *x = NULL;
	struct rh_img_copy_stats st;
	int fd = memfd_create("q", MFD_CLOEXEC);

	memset(src, 0x77, size);
	assert_int_equal(rh_img_open_fd(memfd_data(src, size), "in", RH_IMG_RAW, &in), 0);
	assert_int_equal(rh_extents_new(size, 0, &x), 0);
	assert_int_equal(rh_extents_add(x, 0, 1000), 0);
	assert_int_equal(rh_extents_add(x, 1u << 20, 8192), 0);
	assert_int_equal(rh_img_create_fd(dup(fd), "q", &o, &w), 0);
	assert_int_equal(rh_img_copy(in, w, x, NULL, NULL, NULL, &st), 0);
	assert_int_equal(rh_img_finalize(w), 0);
	rh_img_writer_free(w);
	assert_true(st.read_bytes == 1000 + 8192);
	assert_true(st.skipped_bytes == size - 1000 - 8192);
	assert_int_equal(rh_img_open_fd(dup(fd), "q", RH_IMG_QCOW2, &out), 0);
	assert_int_equal(rh_img_pread(out, back, size, 0), 0);
	for (size_t i = 0; i < size; i++) {
		bool used = i < 1000 || (i >= (1u << 20) && i < (1u << 20) + 8192);

		if (back[i] != (used ? 0x77 : 0))
			fail_msg("byte %zu is %d", i, back[i]);
	}
	rh_img_free(out);
	rh_img_free(in);
	rh_extents_free(x);
	close(fd);
	free(src);
	free(back);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_probe_raw),
		cmocka_unit_test(test_raw_holes),
		cmocka_unit_test(test_copy_only),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
