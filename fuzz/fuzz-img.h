/* Shared by the image-format fuzz targets (fuzz-qcow2.c, fuzz-vpc.c,
 * fuzz-vmdk.c): parse the input as an image of one format, and write the
 * input as disk contents in that format and read it back. Each target
 * includes this once. */
#ifndef REHOST_FUZZ_IMG_H
#define REHOST_FUZZ_IMG_H

#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "rehost/img.h"

#define READ_BUDGET (8u << 20)

static int memfd_with(const uint8_t *data, size_t size)
{
	int fd = memfd_create("fuzz", MFD_CLOEXEC);
	size_t done = 0;

	assert(fd >= 0);
	while (done < size) {
		ssize_t n = write(fd, data + done, size - done);

		assert(n > 0);
		done += (size_t)n;
	}
	return fd;
}

static void parse(const uint8_t *data, size_t size, enum rh_img_format fmt)
{
	struct rh_img *img = NULL;
	struct rh_img_info info;
	struct rh_img_check_result res;
	uint64_t off = 0, budget = READ_BUDGET, vsize;
	uint8_t *buf = malloc(1u << 20);

	assert(buf != NULL);
	if (rh_img_open_fd(memfd_with(data, size), "fuzz", fmt, &img) != 0)
		goto out;
	vsize = rh_img_size(img);
	assert(vsize <= RH_IMG_MAX_SIZE);
	(void)rh_img_get_info(img, &info);
	while (off < vsize && budget > 0) {
		uint64_t len;
		bool isdata;

		if (rh_img_block_status(img, off, vsize - off, &len, &isdata) != 0)
			break;
		assert(len > 0 && len <= vsize - off);
		if (isdata) {
			size_t n = (size_t)(len < (1u << 20) ? len : (1u << 20));

			n = n < budget ? n : (size_t)budget;
			if (rh_img_pread(img, buf, n, off) != 0)
				break;
			budget -= n;
		}
		off += len;
	}
	(void)rh_img_check(img, NULL, NULL, &res);
	(void)rh_img_check_contents(img, NULL, NULL, &res);
out:
	rh_img_free(img);
	free(buf);
}

static void roundtrip(const uint8_t *data, size_t size, enum rh_img_format fmt, uint8_t sel)
{
	struct rh_img_create_opts o = { .format = fmt, .size = size, .threads = sel & 1 };
	struct rh_img_writer *w = NULL;
	struct rh_img *img = NULL;
	struct rh_img_check_result res;
	uint8_t *back;
	int fd;

	if (size == 0 || size > (256u << 10))
		return;
	if (fmt == RH_IMG_QCOW2) {
		o.cluster_size = 512u << (sel >> 5 & 3);
		o.compress = (sel & 2) != 0;
		o.compression_type = (sel & 4) ? RH_IMG_COMPRESS_ZSTD : RH_IMG_COMPRESS_ZLIB;
	} else if (fmt == RH_IMG_VPC) {
		o.subformat = (sel & 2) ? RH_IMG_SUB_VPC_FIXED : RH_IMG_SUB_VPC_DYNAMIC;
		o.force_size = (sel & 4) != 0;
	} else if (fmt == RH_IMG_VMDK) {
		o.subformat = (sel & 2) ? RH_IMG_SUB_VMDK_STREAM : RH_IMG_SUB_VMDK_SPARSE;
	}
	fd = memfd_create("fuzz-out", MFD_CLOEXEC);
	assert(fd >= 0);
	assert(rh_img_create_fd(dup(fd), "fuzz-out", &o, &w) == 0);
	/* Two writes with a gap, to exercise staging and holes. */
	assert(rh_img_write(w, data, size / 3, 0) == 0);
	assert(rh_img_write(w, data + size / 2, size - size / 2, size / 2) == 0);
	assert(rh_img_finalize(w) == 0);
	rh_img_writer_free(w);
	assert(rh_img_open_fd(fd, "fuzz-out", fmt, &img) == 0);
	assert(rh_img_size(img) >= size);
	back = malloc(size);
	assert(back != NULL);
	assert(rh_img_pread(img, back, size, 0) == 0);
	for (size_t i = 0; i < size; i++) {
		bool in_gap = i >= size / 3 && i < size / 2;

		assert(back[i] == (in_gap ? 0 : data[i]));
	}
	assert(rh_img_check(img, NULL, NULL, &res) == 0);
	assert(res.errors == 0 && res.leaks == 0);
	free(back);
	rh_img_free(img);
}

/* The whole target: both halves for one format. */
static inline void fuzz_img(const uint8_t *data, size_t size, enum rh_img_format fmt)
{
	parse(data, size, fmt);
	if (size > 0)
		roundtrip(data + 1, size - 1, fmt, data[0]);
}

#endif
