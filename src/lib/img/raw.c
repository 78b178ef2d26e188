/* Raw images and block devices: reads are preads, allocation comes from
 * SEEK_DATA/SEEK_HOLE, and writes leave all-zero blocks as holes (zeroed
 * with BLKZEROOUT on block devices, which may hold old data). */
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "img-internal.h"
#include "rehost/checked.h"
#include "rehost/err.h"

/* Zero detection granularity of the writer. */
#define RAW_UNIT (64u << 10)

static int raw_probe(const uint8_t *head, size_t n, const uint8_t *tail, uint64_t file_size)
{
	return 1; /* anything is a raw image */
}

static int raw_open(struct rh_img *img)
{
	img->size = img->file_size;
	img->priv = NULL;
	return 0;
}

static void raw_close(struct rh_img *img)
{
}

static int raw_read(struct rh_img *img, void *buf, size_t len, uint64_t off)
{
	return img_read_at(img, buf, len, off, "data");
}

static void raw_prefetch(struct rh_img *img, uint64_t off, uint64_t len)
{
	(void)posix_fadvise(img->fd, (off_t)off, (off_t)len, POSIX_FADV_WILLNEED);
}

static int raw_status(struct rh_img *img, uint64_t off, uint64_t max, uint64_t *len, bool *data)
{
	off_t d, h;

	*data = true;
	*len = max;
	if (img->is_blockdev)
		return 0;
	d = lseek(img->fd, (off_t)off, SEEK_DATA);
	if (d < 0) {
		if (errno == ENXIO) { /* only a hole up to the end of the file */
			*data = false;
			return 0;
		}
		return 0; /* no hole support: all data */
	}
	if ((uint64_t)d > off) {
		*data = false;
		*len = RH_MIN((uint64_t)d - off, max);
		return 0;
	}
	h = lseek(img->fd, (off_t)off, SEEK_HOLE);
	if (h > (off_t)off)
		*len = RH_MIN((uint64_t)h - off, max);
	return 0;
}

static int raw_info(struct rh_img *img, struct rh_img_info *info)
{
	uint64_t off = 0, len;
	bool data;
	int rc;

	snprintf(info->subformat, sizeof info->subformat, "%s",
		 img->is_blockdev ? "block device" : "file");
	while (off < img->size) {
		if ((rc = rh_img_block_status(img, off, img->size - off, &len, &data)) < 0)
			return rc;
		if (data)
			info->data_bytes += len;
		off += len;
	}
	return 0;
}

/* ---- writer ---- */

struct raw_w {
	uint8_t *zeros;   /* RAW_UNIT zero bytes, for devices without BLKZEROOUT */
	bool no_zeroout;
	uint64_t next;    /* virtual offset after the last unit handled */
};

static int raw_create(struct rh_img_writer *w)
{
	struct raw_w *r = img_calloc(1, sizeof *r);

	if (r == NULL)
		return RH_ERR_NOMEM;
	w->priv = r;
	w->unit = RAW_UNIT;
	img_out_init(&w->out, w->fd, 0);
	return 0;
}

static int zero_device(struct rh_img_writer *w, uint64_t off, uint64_t len)
{
	struct raw_w *r = w->priv;
	uint64_t range[2] = { off, len };
	int rc;

	if (!r->no_zeroout && ioctl(w->fd, BLKZEROOUT, range) == 0)
		return 0;
	r->no_zeroout = true;
	if (r->zeros == NULL && (r->zeros = img_calloc(1, RAW_UNIT)) == NULL)
		return RH_ERR_NOMEM;
	for (uint64_t o = off; o < off + len; o += RAW_UNIT)
		if ((rc = img_write_at(w->fd, r->zeros, (size_t)RH_MIN((uint64_t)RAW_UNIT, off + len - o), o)) < 0)
			return rc;
	return 0;
}

static int raw_write(struct rh_img_writer *w, uint64_t index, size_t count, const uint8_t *data)
{
	struct raw_w *r = w->priv;
	uint64_t start = index * RAW_UNIT;
	size_t i = 0;
	int rc;

	/* A device keeps old data where the writer skipped a range. */
	if (w->is_blockdev && start > r->next) {
		if ((rc = img_out_flush(&w->out)) < 0 || (rc = zero_device(w, r->next, start - r->next)) < 0)
			return rc;
	}
	r->next = RH_MIN(w->size, (index + count) * RAW_UNIT);
	while (i < count) {
		bool zero = img_is_zero(data + i * RAW_UNIT, RAW_UNIT);
		size_t j = i + 1;
		uint64_t off = (index + i) * RAW_UNIT, len;

		while (j < count && img_is_zero(data + j * RAW_UNIT, RAW_UNIT) == zero)
			j++;
		len = (uint64_t)(j - i) * RAW_UNIT;
		/* The last unit may reach past the virtual size. */
		if (off + len > w->size)
			len = w->size - off;
		if (!zero) {
			if ((rc = img_out_append(&w->out, off, data + i * RAW_UNIT, (size_t)len)) < 0)
				return rc;
		} else if (w->is_blockdev) {
			if ((rc = img_out_flush(&w->out)) < 0 || (rc = zero_device(w, off, len)) < 0)
				return rc;
		}
		i = j;
	}
	return img_out_flush(&w->out);
}

static int raw_finalize(struct rh_img_writer *w)
{
	struct raw_w *r = w->priv;
	int rc;

	/* Zero what was never written (on a device) and set the file size. */
	if (w->is_blockdev && r->next < w->size) {
		if ((rc = img_out_flush(&w->out)) < 0 || (rc = zero_device(w, r->next, w->size - r->next)) < 0)
			return rc;
	}
	if (!w->is_blockdev && ftruncate(w->fd, (off_t)w->size) != 0)
		return rh_seterr_errno(errno, "%s: setting the size", w->name);
	w->out.high = w->size;
	return 0;
}

static void raw_wfree(struct rh_img_writer *w)
{
	struct raw_w *r = w->priv;

	free(r->zeros);
	free(r);
	w->priv = NULL;
}

const struct img_ops img_raw_ops = {
	.struct_size = sizeof(struct img_ops),
	.format = RH_IMG_RAW,
	.name = "raw",
	.probe = raw_probe,
	.open = raw_open,
	.close = raw_close,
	.read = raw_read,
	.status = raw_status,
	.prefetch = raw_prefetch,
	.info = raw_info,
	.check = NULL,
	.create = raw_create,
	.write = raw_write,
	.finalize = raw_finalize,
	.wfree = raw_wfree,
};
