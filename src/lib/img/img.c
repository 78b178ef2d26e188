/* Image layer: format dispatch, the sequential writer front end, copying,
 * option parsing and the helpers every format shares. */
#define RH_LOG_COMPONENT "img"
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "img-internal.h"
#include "rehost/checked.h"
#include "rehost/disk.h"
#include "rehost/err.h"
#include "rehost/io.h"
#include "rehost/log.h"
#include "rehost/num.h"

static const struct img_ops *const formats[] = {
	&img_qcow2_ops, &img_vmdk_ops, &img_vpc_ops, &img_raw_ops,
};

const char *rh_img_format_name(enum rh_img_format f)
{
	switch (f) {
	case RH_IMG_AUTO: return "auto";
	case RH_IMG_RAW: return "raw";
	case RH_IMG_QCOW2: return "qcow2";
	case RH_IMG_VPC: return "vpc";
	case RH_IMG_VMDK: return "vmdk";
	}
	return "unknown";
}

int rh_img_format_parse(const char *s, enum rh_img_format *out)
{
	*out = RH_IMG_AUTO;
	if (strcmp(s, "raw") == 0)
		*out = RH_IMG_RAW;
	else if (strcmp(s, "qcow2") == 0)
		*out = RH_IMG_QCOW2;
	else if (strcmp(s, "vpc") == 0 || strcmp(s, "vhd") == 0)
		*out = RH_IMG_VPC;
	else if (strcmp(s, "vmdk") == 0)
		*out = RH_IMG_VMDK;
	else
		return rh_seterr(RH_ERR_INVAL, "unknown image format '%s' (raw, qcow2, vpc, vmdk)", s);
	return 0;
}

static const struct img_ops *ops_for(enum rh_img_format f)
{
	for (size_t i = 0; i < RH_ARRAY_SIZE(formats); i++)
		if (formats[i]->format == f)
			return formats[i];
	return NULL;
}

/* ---- small helpers ---- */

void *img_calloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);

	if (p == NULL)
		rh_seterr(RH_ERR_NOMEM, "out of memory (%zu x %zu bytes)", n, size);
	return p;
}

void *img_malloc_aligned(size_t size)
{
	void *p = NULL;

	if (posix_memalign(&p, 4096, size ? size : 1) != 0) {
		rh_seterr(RH_ERR_NOMEM, "out of memory (%zu bytes)", size);
		return NULL;
	}
	return p;
}

bool img_is_zero(const void *buf, size_t len)
{
	const uint8_t *p = buf;
	size_t i = 0;

	/* Check the head bytewise, then 64 bytes at a time. */
	for (; i < len && ((uintptr_t)(p + i) & 7) != 0; i++)
		if (p[i] != 0)
			return false;
	for (; i + 64 <= len; i += 64) {
		const uint64_t *q = (const uint64_t *)(const void *)(p + i);

		if ((q[0] | q[1] | q[2] | q[3] | q[4] | q[5] | q[6] | q[7]) != 0)
			return false;
	}
	for (; i < len; i++)
		if (p[i] != 0)
			return false;
	return true;
}

int img_read_at(struct rh_img *img, void *buf, size_t len, uint64_t off, const char *what)
{
	size_t got;
	int rc;

	if (!rh_range_ok(off, len, img->file_size))
		return rh_seterr(RH_ERR_CORRUPT, "%s: %s at offset %llu (%zu bytes) lies beyond the end of the file (%llu bytes)",
				 img->name, what, (unsigned long long)off, len,
				 (unsigned long long)img->file_size);
	rc = rh_pread_full(img->fd, buf, len, off, &got);
	if (rc < 0)
		return rh_seterr(rc, "%s: reading %s at %s", img->name, what, rh_lasterr());
	/* The file was shorter than its size said: the image is damaged. */
	if (got < len)
		return rh_seterr(RH_ERR_CORRUPT, "%s: %s at offset %llu: file ends early",
				 img->name, what, (unsigned long long)(off + got));
	return 0;
}

int img_write_at(int fd, const void *buf, size_t len, uint64_t off)
{
	const uint8_t *p = buf;
	size_t done = 0;

	while (done < len) {
		ssize_t n = pwrite(fd, p + done, len - done, (off_t)(off + done));

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return rh_seterr_errno(errno, "writing %zu bytes at offset %llu", len - done,
					       (unsigned long long)(off + done));
		}
		done += (size_t)n;
	}
	return 0;
}

/* Bytes of output between write-back starts. */
#define IMG_WRITEBEHIND (32u << 20)

void img_out_init(struct img_out *o, int fd, uint64_t start)
{
	memset(o, 0, sizeof *o);
	o->fd = fd;
	o->start = o->tail = start;
}

int img_out_flush(struct img_out *o)
{
	int i = 0;
	uint64_t off = o->start;

	while (i < o->niov) {
		ssize_t n = pwritev(o->fd, o->iov + i, o->niov - i, (off_t)off);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return rh_seterr_errno(errno, "writing at offset %llu", (unsigned long long)off);
		}
		off += (uint64_t)n;
		/* Skip the fully written vectors, trim a partial one. */
		while (i < o->niov && (size_t)n >= o->iov[i].iov_len) {
			n -= (ssize_t)o->iov[i].iov_len;
			i++;
		}
		if (i < o->niov && n > 0) {
			o->iov[i].iov_base = (uint8_t *)o->iov[i].iov_base + n;
			o->iov[i].iov_len -= (size_t)n;
		}
	}
	if (o->tail > o->high)
		o->high = o->tail;
	o->niov = 0;
	o->start = o->tail;
	/* Start write-back of what is written so far every few MiB, so the
	 * final fdatasync has little left to do and disk writes overlap the
	 * copy. */
	if (o->writebehind && o->high >= o->synced + IMG_WRITEBEHIND) {
		(void)sync_file_range(o->fd, (off_t)o->synced, (off_t)(o->high - o->synced),
				      SYNC_FILE_RANGE_WRITE);
		o->synced = o->high;
	}
	return 0;
}

int img_out_append(struct img_out *o, uint64_t off, const void *buf, size_t len)
{
	int rc;

	if (len == 0)
		return 0;
	if (off < o->tail)
		return rh_seterr(RH_ERR_INTERNAL, "output offset %llu goes backwards (tail %llu)",
				 (unsigned long long)off, (unsigned long long)o->tail);
	/* Memory that continues the last vector (consecutive clusters of one
	 * buffer) extends it: fewer, larger vectors copy much faster. */
	if (off == o->tail && o->niov > 0 &&
	    (const uint8_t *)o->iov[o->niov - 1].iov_base + o->iov[o->niov - 1].iov_len ==
		    (const uint8_t *)buf) {
		o->iov[o->niov - 1].iov_len += len;
		o->tail = off + len;
		return 0;
	}
	if (off != o->tail || o->niov == (int)RH_ARRAY_SIZE(o->iov)) {
		if ((rc = img_out_flush(o)) < 0)
			return rc;
		o->start = o->tail = off;
	}
	o->iov[o->niov].iov_base = (void *)(uintptr_t)buf;
	o->iov[o->niov].iov_len = len;
	o->niov++;
	o->tail = off + len;
	return 0;
}

/* ---- check reports ---- */

#define IMG_CHECK_MAX_SHOWN 100u

void img_check_report(struct img_checker *ck, enum rh_img_problem kind, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	switch (kind) {
	case RH_IMG_PROBLEM_ERROR: ck->res->errors++; break;
	case RH_IMG_PROBLEM_LEAK: ck->res->leaks++; break;
	case RH_IMG_PROBLEM_WARNING: ck->res->warnings++; break;
	default: break;
	}
	if (ck->fn == NULL || (unsigned)kind >= RH_ARRAY_SIZE(ck->shown))
		return;
	if (ck->shown[kind] == IMG_CHECK_MAX_SHOWN) {
		ck->shown[kind]++;
		ck->fn(ck->ctx, kind, "(further messages of this kind are not shown)");
		return;
	}
	if (ck->shown[kind] > IMG_CHECK_MAX_SHOWN)
		return;
	ck->shown[kind]++;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	ck->fn(ck->ctx, kind, msg);
}

void img_check_count(struct img_checker *ck, enum rh_img_problem kind, uint64_t n)
{
	switch (kind) {
	case RH_IMG_PROBLEM_ERROR: ck->res->errors += n; break;
	case RH_IMG_PROBLEM_LEAK: ck->res->leaks += n; break;
	default: ck->res->warnings += n; break;
	}
}

/* ---- reading ---- */

static int probe_format(struct rh_img *img, const struct img_ops **ops)
{
	uint8_t head[4096], tail[512];
	size_t n = (size_t)RH_MIN(img->file_size, (uint64_t)sizeof head);
	bool have_tail = img->file_size >= sizeof tail;
	int best = 0, rc;

	*ops = &img_raw_ops;
	if (img->is_blockdev)
		return 0;
	if (n > 0 && (rc = img_read_at(img, head, n, 0, "first sectors")) < 0)
		return rc;
	if (have_tail &&
	    (rc = img_read_at(img, tail, sizeof tail, img->file_size - sizeof tail, "last sector")) < 0)
		return rc;
	for (size_t i = 0; i < RH_ARRAY_SIZE(formats); i++) {
		int score = formats[i]->probe(head, n, have_tail ? tail : NULL, img->file_size);

		if (score > best) {
			best = score;
			*ops = formats[i];
		}
	}
	return 0;
}

int rh_img_open_fd(int fd, const char *name, enum rh_img_format fmt, struct rh_img **out)
{
	struct rh_img *img = NULL;
	struct stat st;
	int rc;

	*out = NULL;
	img = img_calloc(1, sizeof *img);
	if (img == NULL) {
		close(fd);
		return RH_ERR_NOMEM;
	}
	img->fd = fd;
	img->name = strdup(name ? name : "image");
	if (img->name == NULL) {
		rc = rh_seterr(RH_ERR_NOMEM, "out of memory");
		goto fail;
	}
	if (fstat(fd, &st) != 0) {
		rc = rh_seterr_errno(errno, "%s: fstat", img->name);
		goto fail;
	}
	img->is_blockdev = S_ISBLK(st.st_mode);
	if ((rc = rh_dev_size(fd, &img->file_size)) < 0) {
		rc = rh_seterr(rc, "%s: %s", img->name, rh_lasterr());
		goto fail;
	}
	if (fmt == RH_IMG_AUTO) {
		if ((rc = probe_format(img, &img->ops)) < 0)
			goto fail;
	} else {
		img->ops = ops_for(fmt);
		if (img->ops == NULL) {
			rc = rh_seterr(RH_ERR_INVAL, "unknown image format %d", (int)fmt);
			goto fail;
		}
		if (img->is_blockdev && fmt != RH_IMG_RAW)
			rh_log_debug("%s: reading a block device as %s", img->name, img->ops->name);
	}
	rc = img->ops->open(img);
	if (rc < 0) {
		img->ops = NULL;
		goto fail;
	}
	if (img->size > RH_IMG_MAX_SIZE && img->ops->format != RH_IMG_RAW) {
		img->ops->close(img);
		img->ops = NULL;
		rc = rh_seterr(RH_ERR_TOOBIG, "%s: virtual size %llu exceeds the limit of %llu bytes",
			       img->name, (unsigned long long)img->size,
			       (unsigned long long)RH_IMG_MAX_SIZE);
		goto fail;
	}
	*out = img;
	return 0;
fail:
	rh_img_free(img);
	return rc;
}

int rh_img_open(const char *path, enum rh_img_format fmt, struct rh_img **out)
{
	int fd;

	*out = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return rh_seterr_errno(errno, "%s", path);
	return rh_img_open_fd(fd, path, fmt, out);
}

void rh_img_free(struct rh_img *img)
{
	if (img == NULL)
		return;
	if (img->ops != NULL)
		img->ops->close(img);
	if (img->fd >= 0)
		close(img->fd);
	free(img->name);
	free(img);
}

enum rh_img_format rh_img_get_format(const struct rh_img *img)
{
	return img->ops->format;
}

uint64_t rh_img_size(const struct rh_img *img)
{
	return img->size;
}

int rh_img_raw_fd(const struct rh_img *img)
{
	return img->ops->format == RH_IMG_RAW ? img->fd : -1;
}

int rh_img_pread(struct rh_img *img, void *buf, size_t len, uint64_t off)
{
	if (!rh_range_ok(off, len, img->size))
		return rh_seterr(RH_ERR_RANGE, "%s: read of %zu bytes at %llu past the virtual size %llu",
				 img->name, len, (unsigned long long)off,
				 (unsigned long long)img->size);
	if (len == 0)
		return 0;
	return img->ops->read(img, buf, len, off);
}

int rh_img_block_status(struct rh_img *img, uint64_t off, uint64_t max, uint64_t *len,
			bool *data)
{
	int rc;

	*len = 0;
	*data = false;
	if (off >= img->size || max == 0)
		return rh_seterr(RH_ERR_RANGE, "%s: block status at %llu outside the image", img->name,
				 (unsigned long long)off);
	max = RH_MIN(max, img->size - off);
	rc = img->ops->status(img, off, max, len, data);
	if (rc == 0 && (*len == 0 || *len > max))
		return rh_seterr(RH_ERR_INTERNAL, "%s: block status returned %llu of %llu bytes",
				 img->name, (unsigned long long)*len, (unsigned long long)max);
	return rc;
}

int rh_img_get_info(struct rh_img *img, struct rh_img_info *info)
{
	struct stat st;

	memset(info, 0, sizeof *info);
	info->format = img->ops->format;
	info->virtual_size = img->size;
	info->file_size = img->file_size;
	info->disk_usage = img->file_size;
	if (!img->is_blockdev && fstat(img->fd, &st) == 0)
		info->disk_usage = (uint64_t)st.st_blocks * 512;
	return img->ops->info(img, info);
}

int rh_img_check(struct rh_img *img, rh_img_check_fn fn, void *ctx,
		 struct rh_img_check_result *res)
{
	struct img_checker ck = { .fn = fn, .ctx = ctx, .res = res };

	memset(res, 0, sizeof *res);
	if (img->ops->check == NULL)
		return 0;
	return img->ops->check(img, &ck);
}

/* ---- writing ---- */

static int parse_bool(const char *v, bool *out)
{
	if (v == NULL || strcmp(v, "on") == 0 || strcmp(v, "true") == 0 || strcmp(v, "1") == 0)
		*out = true;
	else if (strcmp(v, "off") == 0 || strcmp(v, "false") == 0 || strcmp(v, "0") == 0)
		*out = false;
	else
		return -1;
	return 0;
}

static int set_option(struct rh_img_create_opts *o, const char *key, const char *v)
{
	const char *fmt = rh_img_format_name(o->format);
	uint64_t u;
	int64_t i;

	if (strcmp(key, "compression_type") == 0) {
		if (o->format != RH_IMG_QCOW2)
			goto wrong_format;
		if (v != NULL && strcmp(v, "zlib") == 0)
			o->compression_type = RH_IMG_COMPRESS_ZLIB;
		else if (v != NULL && strcmp(v, "zstd") == 0)
			o->compression_type = RH_IMG_COMPRESS_ZSTD;
		else
			return rh_seterr(RH_ERR_INVAL, "compression_type: use zlib or zstd");
	} else if (strcmp(key, "cluster_size") == 0) {
		if (o->format != RH_IMG_QCOW2)
			goto wrong_format;
		if (v == NULL || rh_parse_size(v, 512, 2u << 20, &u) < 0 || (u & (u - 1)) != 0)
			return rh_seterr(RH_ERR_INVAL, "cluster_size: a power of two from 512 to 2M");
		o->cluster_size = (uint32_t)u;
	} else if (strcmp(key, "subformat") == 0) {
		if (v == NULL)
			return rh_seterr(RH_ERR_INVAL, "subformat needs a value");
		if (o->format == RH_IMG_VPC && strcmp(v, "dynamic") == 0)
			o->subformat = RH_IMG_SUB_VPC_DYNAMIC;
		else if (o->format == RH_IMG_VPC && strcmp(v, "fixed") == 0)
			o->subformat = RH_IMG_SUB_VPC_FIXED;
		else if (o->format == RH_IMG_VMDK && strcmp(v, "monolithicSparse") == 0)
			o->subformat = RH_IMG_SUB_VMDK_SPARSE;
		else if (o->format == RH_IMG_VMDK && strcmp(v, "streamOptimized") == 0)
			o->subformat = RH_IMG_SUB_VMDK_STREAM;
		else
			return rh_seterr(RH_ERR_INVAL,
					 "subformat=%s: %s supports %s", v, fmt,
					 o->format == RH_IMG_VPC ? "dynamic and fixed"
					 : o->format == RH_IMG_VMDK ? "monolithicSparse and streamOptimized"
					 : "no subformats");
	} else if (strcmp(key, "force_size") == 0) {
		if (o->format != RH_IMG_VPC)
			goto wrong_format;
		if (parse_bool(v, &o->force_size) < 0)
			return rh_seterr(RH_ERR_INVAL, "force_size: on or off");
	} else if (strcmp(key, "compression_level") == 0) {
		if (v == NULL || rh_parse_i64(v, -5, 19, &i) < 0)
			return rh_seterr(RH_ERR_INVAL, "compression_level: -5 to 19 (zlib: 1 to 9)");
		o->compression_level = (int)i;
	} else if (strcmp(key, "threads") == 0) {
		if (v == NULL || rh_parse_i64(v, 0, 64, &i) < 0)
			return rh_seterr(RH_ERR_INVAL, "threads: 0 (one per CPU) to 64");
		o->threads = (unsigned)i;
	} else {
		return rh_seterr(RH_ERR_INVAL, "unknown option '%s' for %s", key, fmt);
	}
	return 0;
wrong_format:
	return rh_seterr(RH_ERR_INVAL, "option '%s' does not apply to %s", key, fmt);
}

int rh_img_create_opts_parse(struct rh_img_create_opts *o, const char *s)
{
	char *copy = strdup(s), *save = NULL, *tok;
	int rc = 0;

	if (copy == NULL)
		return rh_seterr(RH_ERR_NOMEM, "out of memory");
	for (tok = strtok_r(copy, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(tok, '=');

		if (eq != NULL)
			*eq++ = '\0';
		if ((rc = set_option(o, tok, eq)) < 0)
			break;
	}
	free(copy);
	return rc;
}

int rh_img_create_fd(int fd, const char *name, const struct rh_img_create_opts *o,
		     struct rh_img_writer **out)
{
	struct rh_img_writer *w;
	struct stat st;
	int rc;

	*out = NULL;
	w = img_calloc(1, sizeof *w);
	if (w == NULL) {
		close(fd);
		return RH_ERR_NOMEM;
	}
	w->fd = fd;
	w->o = *o;
	w->size = o->size;
	w->name = strdup(name ? name : "image");
	if (w->name == NULL) {
		rc = rh_seterr(RH_ERR_NOMEM, "out of memory");
		goto fail;
	}
	if (fstat(fd, &st) != 0) {
		rc = rh_seterr_errno(errno, "%s: fstat", w->name);
		goto fail;
	}
	w->is_blockdev = S_ISBLK(st.st_mode);
	w->ops = ops_for(o->format);
	if (w->ops == NULL || o->format == RH_IMG_AUTO) {
		rc = rh_seterr(RH_ERR_INVAL, "%s: choose an output format", w->name);
		goto fail;
	}
	if (o->size == 0 || o->size > RH_IMG_MAX_SIZE) {
		rc = rh_seterr(o->size ? RH_ERR_TOOBIG : RH_ERR_INVAL,
			       "%s: virtual size %llu outside 1..%llu bytes", w->name,
			       (unsigned long long)o->size, (unsigned long long)RH_IMG_MAX_SIZE);
		goto fail;
	}
	if (w->is_blockdev && o->format != RH_IMG_RAW) {
		rc = rh_seterr(RH_ERR_INVAL, "%s: only raw images can be written to a block device",
			       w->name);
		goto fail;
	}
	if (w->is_blockdev) {
		uint64_t devsize;

		if ((rc = rh_dev_size(fd, &devsize)) < 0)
			goto fail;
		if (devsize < o->size) {
			rc = rh_seterr(RH_ERR_NOSPACE, "%s: device holds %llu bytes, the image needs %llu",
				       w->name, (unsigned long long)devsize,
				       (unsigned long long)o->size);
			goto fail;
		}
	} else if (!S_ISREG(st.st_mode)) {
		rc = rh_seterr(RH_ERR_INVAL, "%s: not a regular file or block device", w->name);
		goto fail;
	}
	if ((rc = w->ops->create(w)) < 0)
		goto fail;
	w->out.writebehind = o->sync;
	if (w->unit == 0 || w->size < o->size) {
		rc = rh_seterr(RH_ERR_INTERNAL, "%s: format set up a bad writer", w->name);
		goto fail;
	}
	*out = w;
	return 0;
fail:
	rh_img_writer_free(w);
	return rc;
}

int rh_img_create(const char *path, const struct rh_img_create_opts *o,
		  struct rh_img_writer **out)
{
	struct stat st;
	int fd, flags = O_WRONLY | O_CLOEXEC;

	*out = NULL;
	if (stat(path, &st) == 0 && S_ISBLK(st.st_mode))
		fd = open(path, flags);
	else
		fd = open(path, flags | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		return rh_seterr_errno(errno, "%s", path);
	return rh_img_create_fd(fd, path, o, out);
}

uint64_t rh_img_writer_size(const struct rh_img_writer *w)
{
	return w->size;
}

uint64_t rh_img_writer_file_size(const struct rh_img_writer *w)
{
	return RH_MAX(w->out.high, w->out.tail);
}

/* Hand the staged partial unit to the format (zero-padded). */
static int flush_stage(struct rh_img_writer *w)
{
	int rc;

	if (!w->staged)
		return 0;
	w->staged = false;
	rc = w->ops->write(w, w->stage_index, 1, w->stage);
	memset(w->stage, 0, w->unit);
	return rc;
}

static int stage_bytes(struct rh_img_writer *w, uint64_t index, uint32_t at, const uint8_t *p,
		       size_t n)
{
	int rc;

	if (w->stage == NULL) {
		w->stage = img_malloc_aligned(w->unit);
		if (w->stage == NULL)
			return RH_ERR_NOMEM;
		memset(w->stage, 0, w->unit);
	}
	if (w->staged && w->stage_index != index && (rc = flush_stage(w)) < 0)
		return rc;
	w->stage_index = index;
	w->staged = true;
	memcpy(w->stage + at, p, n);
	return 0;
}

static int write_units(struct rh_img_writer *w, const uint8_t *buf, size_t len, uint64_t off)
{
	const uint8_t *p = buf;
	uint64_t unit = w->unit;
	int rc;

	while (len > 0) {
		uint64_t index = off / unit;
		uint32_t at = (uint32_t)(off % unit);

		if (w->staged && w->stage_index != index && (rc = flush_stage(w)) < 0)
			return rc;
		if (at != 0 || len < unit) {
			/* A partial unit: assemble it in the stage. */
			size_t n = (size_t)RH_MIN((uint64_t)len, unit - at);

			if ((rc = stage_bytes(w, index, at, p, n)) < 0)
				return rc;
			if (at + n == unit && (rc = flush_stage(w)) < 0)
				return rc;
			p += n;
			off += n;
			len -= n;
			continue;
		}
		/* Whole units straight from the caller's buffer. */
		size_t count = (size_t)(len / unit);

		if ((rc = w->ops->write(w, index, count, p)) < 0)
			return rc;
		p += count * unit;
		off += count * unit;
		len -= count * unit;
	}
	return 0;
}

int rh_img_write(struct rh_img_writer *w, const void *buf, size_t len, uint64_t off)
{
	int rc;

	if (w->failed || w->finalized)
		return rh_seterr(RH_ERR_INVAL, "%s: writer is %s", w->name,
				 w->failed ? "in a failed state" : "finalized");
	if (off < w->pos)
		return rh_seterr(RH_ERR_INVAL, "%s: write at %llu before the previous end %llu",
				 w->name, (unsigned long long)off, (unsigned long long)w->pos);
	if (!rh_range_ok(off, len, w->size))
		return rh_seterr(RH_ERR_INVAL, "%s: write of %zu bytes at %llu past the virtual size %llu",
				 w->name, len, (unsigned long long)off, (unsigned long long)w->size);
	if (len == 0)
		return 0;
	rc = write_units(w, buf, len, off);
	if (rc < 0) {
		w->failed = true;
		return rc;
	}
	w->pos = off + len;
	return 0;
}

int rh_img_finalize(struct rh_img_writer *w)
{
	int rc;

	if (w->failed || w->finalized)
		return rh_seterr(RH_ERR_INVAL, "%s: writer is %s", w->name,
				 w->failed ? "in a failed state" : "finalized");
	if ((rc = flush_stage(w)) < 0 || (rc = w->ops->finalize(w)) < 0 ||
	    (rc = img_out_flush(&w->out)) < 0) {
		w->failed = true;
		return rc;
	}
	if (w->o.sync && fdatasync(w->fd) != 0 && errno != EINVAL) {
		w->failed = true;
		return rh_seterr_errno(errno, "%s: flushing to disk", w->name);
	}
	w->finalized = true;
	return 0;
}

void rh_img_writer_free(struct rh_img_writer *w)
{
	if (w == NULL)
		return;
	if (w->ops != NULL && w->priv != NULL)
		w->ops->wfree(w);
	if (w->fd >= 0)
		close(w->fd);
	free(w->stage);
	free(w->name);
	free(w);
}

/* ---- copying ---- */

/*
 * A reader thread walks the source (block status, then preads of the data
 * runs) and fills a ring of chunk buffers; the calling thread writes them
 * in order. Reading the next chunks thus overlaps writing (and compressing)
 * the current one. Only the reader touches src, only the caller dst.
 */
#define COPY_CHUNK (4u << 20)
#define COPY_PREFETCH (16u << 20)
#define COPY_SLOTS 4

struct copy_slot {
	uint64_t off;
	size_t len;
	uint8_t *buf;
};

struct copy_state {
	struct rh_img *src;
	struct rh_img_writer *dst;
	const struct rh_extents *only;
	uint64_t end;           /* bytes to copy */
	uint64_t total;         /* data bytes to read (counting pass) */
	const volatile sig_atomic_t *stop;
	bool counting;          /* first pass: only add up total */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct copy_slot slots[COPY_SLOTS];
	unsigned head, tail;    /* filled by the reader / taken by the writer */
	bool done;              /* reader finished (rc says how) */
	bool quit;              /* writer failed: reader stops */
	int rc;                 /* reader's result */
	struct rh_err_saved err; /* reader's error record */
};

/* Reader: hand a filled slot over, waiting for a free one first. */
static int put_chunk(struct copy_state *s, uint64_t off, size_t len)
{
	struct copy_slot *sl;
	int rc;

	pthread_mutex_lock(&s->mu);
	while (!s->quit && s->head - s->tail == COPY_SLOTS)
		pthread_cond_wait(&s->cv, &s->mu);
	if (s->quit) {
		pthread_mutex_unlock(&s->mu);
		return RH_ERR_INTR;
	}
	sl = &s->slots[s->head % COPY_SLOTS];
	pthread_mutex_unlock(&s->mu);
	if ((rc = rh_img_pread(s->src, sl->buf, len, off)) < 0)
		return rc;
	pthread_mutex_lock(&s->mu);
	sl->off = off;
	sl->len = len;
	s->head++;
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
	return 0;
}

/* Read (or count) the allocated parts of [off, off + len). */
static int copy_range(void *arg, uint64_t off, uint64_t len)
{
	struct copy_state *s = arg;
	uint64_t end = off + len;
	int rc;

	while (off < end) {
		uint64_t run;
		bool data;

		if (s->stop != NULL && *s->stop)
			return rh_seterr(RH_ERR_INTR, "copy interrupted");
		if ((rc = rh_img_block_status(s->src, off, end - off, &run, &data)) < 0)
			return rc;
		if (s->counting || !data) {
			if (data)
				s->total += run;
			off += run;
			continue;
		}
		for (uint64_t o = off; o < off + run;) {
			size_t n = (size_t)RH_MIN((uint64_t)COPY_CHUNK, off + run - o);

			if (s->stop != NULL && *s->stop)
				return rh_seterr(RH_ERR_INTR, "copy interrupted");
			/* Ask the kernel for the next chunks of this run too. */
			if (s->src->ops->prefetch != NULL && o + n < off + run)
				s->src->ops->prefetch(s->src, o + n,
						      RH_MIN((uint64_t)COPY_PREFETCH, off + run - o - n));
			if ((rc = put_chunk(s, o, n)) < 0)
				return rc;
			o += n;
		}
		off += run;
	}
	return 0;
}

static int copy_pass(struct copy_state *s)
{
	if (s->only == NULL)
		return copy_range(s, 0, s->end);
	return rh_extents_foreach(s->only, 0, s->end, copy_range, s);
}

static void *reader_main(void *arg)
{
	struct copy_state *s = arg;
	int rc = copy_pass(s);

	pthread_mutex_lock(&s->mu);
	s->rc = rc;
	if (rc < 0)
		rh_err_save(&s->err);
	s->done = true;
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

int rh_img_copy(struct rh_img *src, struct rh_img_writer *dst, const struct rh_extents *only,
		rh_img_progress_fn progress, void *ctx, const volatile sig_atomic_t *stop,
		struct rh_img_copy_stats *stats)
{
	struct rh_img_copy_stats local, *st = stats ? stats : &local;
	struct copy_state *s;
	pthread_t reader;
	bool started = false;
	uint64_t done = 0;
	int rc = 0;

	memset(st, 0, sizeof *st);
	s = img_calloc(1, sizeof *s);
	if (s == NULL)
		return RH_ERR_NOMEM;
	s->src = src;
	s->dst = dst;
	s->only = only;
	s->stop = stop;
	s->end = RH_MIN(rh_img_size(src), rh_img_writer_size(dst));
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->cv, NULL);
	if (only != NULL && rh_extents_size(only) < s->end) {
		rc = rh_seterr(RH_ERR_INVAL, "used-block list covers %llu bytes, the copy %llu",
			       (unsigned long long)rh_extents_size(only), (unsigned long long)s->end);
		goto out;
	}
	for (int i = 0; i < COPY_SLOTS; i++)
		if ((s->slots[i].buf = img_malloc_aligned(COPY_CHUNK)) == NULL) {
			rc = RH_ERR_NOMEM;
			goto out;
		}
	s->counting = true;
	if ((rc = copy_pass(s)) < 0)
		goto out;
	s->counting = false;
	if (progress != NULL)
		progress(ctx, 0, s->total);
	if (pthread_create(&reader, NULL, reader_main, s) != 0) {
		rc = rh_seterr(RH_ERR_NOMEM, "cannot start the reader thread");
		goto out;
	}
	started = true;
	for (;;) {
		struct copy_slot *sl;

		pthread_mutex_lock(&s->mu);
		while (s->tail == s->head && !s->done)
			pthread_cond_wait(&s->cv, &s->mu);
		if (s->tail == s->head) { /* reader done and nothing left */
			pthread_mutex_unlock(&s->mu);
			break;
		}
		sl = &s->slots[s->tail % COPY_SLOTS];
		pthread_mutex_unlock(&s->mu);
		rc = rh_img_write(dst, sl->buf, sl->len, sl->off);
		if (rc < 0)
			break;
		done += sl->len;
		st->read_bytes += sl->len;
		pthread_mutex_lock(&s->mu);
		s->tail++;
		pthread_cond_broadcast(&s->cv);
		pthread_mutex_unlock(&s->mu);
		if (progress != NULL)
			progress(ctx, done, s->total);
	}
out:
	if (started) {
		pthread_mutex_lock(&s->mu);
		s->quit = true;
		pthread_cond_broadcast(&s->cv);
		pthread_mutex_unlock(&s->mu);
		pthread_join(reader, NULL);
		/* The writer's own error wins; else the reader's. */
		if (rc == 0 && s->rc < 0) {
			rh_err_restore(&s->err);
			rc = s->rc;
		}
	}
	if (rc == 0)
		st->skipped_bytes = s->end - st->read_bytes;
	for (int i = 0; i < COPY_SLOTS; i++)
		free(s->slots[i].buf);
	pthread_mutex_destroy(&s->mu);
	pthread_cond_destroy(&s->cv);
	free(s);
	return rc;
}
