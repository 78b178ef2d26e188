/* Cluster compression for image writers on a small pool of worker threads,
 * and the decompressors readers use.
 *
 * The writer pushes jobs (runs of units) in order; workers take the oldest
 * queued job, zero-detect and compress each unit with a per-thread codec
 * context, and mark it done; the writer pops jobs strictly in push order.
 * So the output bytes never depend on thread timing or count. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include "img-internal.h"
#include "rehost/checked.h"
#include "rehost/err.h"

enum { JOB_FREE = 0, JOB_QUEUED, JOB_RUNNING, JOB_DONE };

struct codec_ctx {
	z_stream z;
	bool z_ready;
	ZSTD_CCtx *zc;
};

struct img_pool {
	enum img_codec codec;
	int level;
	uint32_t unit;
	size_t max_out, room, stride;
	unsigned job_units;
	unsigned nthreads;
	pthread_t *threads;
	unsigned started;
	struct codec_ctx sync_ctx;   /* threads == 0 */
	pthread_mutex_t mu;
	pthread_cond_t cv_work;      /* a job was queued, or shutdown */
	pthread_cond_t cv_done;      /* a job finished */
	bool shutdown;
	size_t nslots;
	struct img_cjob *slots;
	uint64_t head, tail;         /* pushed / popped counters; slot = n % nslots */
	uint64_t next_run;           /* oldest job no worker has taken yet */
};

unsigned img_default_threads(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	if (n < 1)
		n = 1;
	return (unsigned)RH_MIN(n, 16L);
}

static void codec_release(struct codec_ctx *c)
{
	if (c->z_ready)
		deflateEnd(&c->z);
	c->z_ready = false;
	ZSTD_freeCCtx(c->zc);
	c->zc = NULL;
}

static int codec_init(struct img_pool *p, struct codec_ctx *c)
{
	int level;

	memset(c, 0, sizeof *c);
	switch (p->codec) {
	case IMG_CODEC_DEFLATE_RAW:
	case IMG_CODEC_ZLIB:
		level = p->level ? RH_MAX(1, RH_MIN(p->level, 9)) : Z_DEFAULT_COMPRESSION;
		/* qcow2: raw deflate with a 4 KiB window, as qemu's decoder
		 * expects; vmdk: a zlib stream. */
		if (deflateInit2(&c->z, level, Z_DEFLATED, p->codec == IMG_CODEC_ZLIB ? 15 : -12, 9,
				 Z_DEFAULT_STRATEGY) != Z_OK)
			return rh_seterr(RH_ERR_NOMEM, "cannot set up deflate");
		c->z_ready = true;
		return 0;
	case IMG_CODEC_ZSTD:
		c->zc = ZSTD_createCCtx();
		if (c->zc == NULL)
			return rh_seterr(RH_ERR_NOMEM, "cannot set up zstd");
		/* Level 1 by default: on independent 64 KiB clusters it packs
		 * within about 1 % of level 3 (qemu's) at roughly twice the
		 * speed (docs/image.md has the measurements). */
		level = p->level ? p->level : 1;
		if (ZSTD_isError(ZSTD_CCtx_setParameter(c->zc, ZSTD_c_compressionLevel, level)))
			return rh_seterr(RH_ERR_INVAL, "zstd level %d rejected", level);
		return 0;
	}
	return rh_seterr(RH_ERR_INTERNAL, "unknown codec %d", (int)p->codec);
}

size_t img_codec_bound(enum img_codec codec, int level, size_t unit)
{
	struct img_pool probe = { .codec = codec, .level = level };
	struct codec_ctx c;
	size_t bound;

	if (codec == IMG_CODEC_ZSTD)
		return ZSTD_compressBound(unit);
	/* Ask zlib with the parameters codec_init really uses: with memLevel 9
	 * its bound is the conservative one (about unit + 13 %), well above
	 * compressBound(), which only holds for compress()'s defaults. */
	if (codec_init(&probe, &c) < 0)
		return unit + unit / 4 + 1024;
	bound = deflateBound(&c.z, (uLong)unit);
	codec_release(&c);
	return bound;
}

/* Compress one unit; returns its length code. */
static uint32_t compress_unit(struct img_pool *p, struct codec_ctx *c, const uint8_t *in,
			      uint8_t *out)
{
	if (img_is_zero(in, p->unit))
		return IMG_CLEN_ZERO;
	if (p->codec == IMG_CODEC_ZSTD) {
		size_t n = ZSTD_compress2(c->zc, out, p->max_out, in, p->unit);

		if (ZSTD_isError(n) || n == 0) {
			ZSTD_CCtx_reset(c->zc, ZSTD_reset_session_only);
			return IMG_CLEN_RAW;
		}
		return (uint32_t)n;
	}
	deflateReset(&c->z);
	c->z.next_in = (Bytef *)(uintptr_t)in;
	c->z.avail_in = p->unit;
	c->z.next_out = out;
	c->z.avail_out = (uInt)p->max_out;
	if (deflate(&c->z, Z_FINISH) != Z_STREAM_END)
		return IMG_CLEN_RAW;
	return (uint32_t)c->z.total_out;
}

static void run_job(struct img_pool *p, struct codec_ctx *c, struct img_cjob *j)
{
	for (unsigned i = 0; i < j->count; i++)
		j->len[i] = compress_unit(p, c, j->in + (size_t)i * p->unit,
					  j->out + (size_t)i * p->stride + p->room);
	j->rc = 0;
}

static void *worker(void *arg)
{
	struct img_pool *p = arg;
	struct codec_ctx c;
	bool ok = codec_init(p, &c) == 0;

	pthread_mutex_lock(&p->mu);
	for (;;) {
		struct img_cjob *j;

		while (!p->shutdown && p->next_run == p->head)
			pthread_cond_wait(&p->cv_work, &p->mu);
		if (p->shutdown)
			break;
		j = &p->slots[p->next_run % p->nslots];
		p->next_run++;
		j->state = JOB_RUNNING;
		pthread_mutex_unlock(&p->mu);
		if (ok)
			run_job(p, &c, j);
		else
			j->rc = RH_ERR_NOMEM;
		pthread_mutex_lock(&p->mu);
		j->state = JOB_DONE;
		pthread_cond_broadcast(&p->cv_done);
	}
	pthread_mutex_unlock(&p->mu);
	codec_release(&c);
	return NULL;
}

int img_pool_new(enum img_codec codec, int level, uint32_t unit, size_t max_out, size_t room,
		 unsigned threads, unsigned job_units, struct img_pool **out)
{
	struct img_pool *p;
	int rc;

	*out = NULL;
	p = img_calloc(1, sizeof *p);
	if (p == NULL)
		return RH_ERR_NOMEM;
	p->codec = codec;
	p->level = level;
	p->unit = unit;
	p->max_out = max_out;
	p->room = room;
	/* Room for the marker, the largest output we accept, and padding to
	 * a sector, rounded to 64 bytes. */
	p->stride = (room + max_out + 512 + 63) & ~(size_t)63;
	p->job_units = job_units ? job_units : 1;
	p->nthreads = threads;
	p->nslots = threads ? 2 * (size_t)threads + 2 : 1;
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv_work, NULL);
	pthread_cond_init(&p->cv_done, NULL);
	p->slots = img_calloc(p->nslots, sizeof *p->slots);
	if (p->slots == NULL) {
		rc = RH_ERR_NOMEM;
		goto fail;
	}
	for (size_t i = 0; i < p->nslots; i++) {
		struct img_cjob *j = &p->slots[i];

		j->in = img_malloc_aligned((size_t)unit * p->job_units);
		j->out = img_malloc_aligned(p->stride * p->job_units);
		j->len = img_calloc(p->job_units, sizeof *j->len);
		if (j->in == NULL || j->out == NULL || j->len == NULL) {
			rc = RH_ERR_NOMEM;
			goto fail;
		}
	}
	if (threads == 0) {
		if ((rc = codec_init(p, &p->sync_ctx)) < 0)
			goto fail;
	} else {
		p->threads = img_calloc(threads, sizeof *p->threads);
		if (p->threads == NULL) {
			rc = RH_ERR_NOMEM;
			goto fail;
		}
		for (unsigned i = 0; i < threads; i++) {
			if (pthread_create(&p->threads[i], NULL, worker, p) != 0) {
				rc = rh_seterr(RH_ERR_NOMEM, "cannot start compression thread");
				goto fail;
			}
			p->started++;
		}
	}
	*out = p;
	return 0;
fail:
	img_pool_free(p);
	return rc;
}

void img_pool_free(struct img_pool *p)
{
	if (p == NULL)
		return;
	pthread_mutex_lock(&p->mu);
	p->shutdown = true;
	pthread_cond_broadcast(&p->cv_work);
	pthread_mutex_unlock(&p->mu);
	for (unsigned i = 0; i < p->started; i++)
		pthread_join(p->threads[i], NULL);
	free(p->threads);
	codec_release(&p->sync_ctx);
	if (p->slots != NULL) {
		for (size_t i = 0; i < p->nslots; i++) {
			free(p->slots[i].in);
			free(p->slots[i].out);
			free(p->slots[i].len);
		}
	}
	free(p->slots);
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->cv_work);
	pthread_cond_destroy(&p->cv_done);
	free(p);
}

size_t img_pool_stride(const struct img_pool *p)
{
	return p->stride;
}

unsigned img_pool_job_units(const struct img_pool *p)
{
	return p->job_units;
}

bool img_pool_can_push(const struct img_pool *p)
{
	return p->head - p->tail < p->nslots;
}

int img_pool_push(struct img_pool *p, uint64_t index, unsigned count, const uint8_t *data)
{
	struct img_cjob *j;

	if (!img_pool_can_push(p) || count == 0 || count > p->job_units)
		return rh_seterr(RH_ERR_INTERNAL, "compression pool misuse");
	j = &p->slots[p->head % p->nslots];
	j->index = index;
	j->count = count;
	j->rc = 0;
	memcpy(j->in, data, (size_t)count * p->unit);
	if (p->nthreads == 0) {
		run_job(p, &p->sync_ctx, j);
		j->state = JOB_DONE;
		p->head++;
		p->next_run = p->head;
		return 0;
	}
	pthread_mutex_lock(&p->mu);
	j->state = JOB_QUEUED;
	p->head++;
	pthread_cond_signal(&p->cv_work);
	pthread_mutex_unlock(&p->mu);
	return 0;
}

int img_pool_pop(struct img_pool *p, struct img_cjob **job)
{
	struct img_cjob *j;

	*job = NULL;
	if (p->tail == p->head)
		return 0;
	j = &p->slots[p->tail % p->nslots];
	pthread_mutex_lock(&p->mu);
	while (j->state != JOB_DONE)
		pthread_cond_wait(&p->cv_done, &p->mu);
	pthread_mutex_unlock(&p->mu);
	if (j->rc < 0)
		return rh_seterr(j->rc, "compression worker failed");
	*job = j;
	return 0;
}

void img_pool_release(struct img_pool *p, struct img_cjob *job)
{
	pthread_mutex_lock(&p->mu);
	job->state = JOB_FREE;
	p->tail++;
	pthread_mutex_unlock(&p->mu);
}

/* ---- decompression ---- */

struct img_dctx {
	z_stream raw, zl;
	bool raw_ready, zl_ready;
	ZSTD_DCtx *zd;
};

int img_dctx_new(struct img_dctx **out)
{
	*out = img_calloc(1, sizeof **out);
	return *out ? 0 : RH_ERR_NOMEM;
}

void img_dctx_free(struct img_dctx *d)
{
	if (d == NULL)
		return;
	if (d->raw_ready)
		inflateEnd(&d->raw);
	if (d->zl_ready)
		inflateEnd(&d->zl);
	ZSTD_freeDCtx(d->zd);
	free(d);
}

int img_inflate_raw(struct img_dctx *d, const void *in, size_t in_len, void *out, size_t out_len)
{
	int zr;

	if (!d->raw_ready) {
		/* A 32 KiB window decodes qemu's 4 KiB-window streams and any
		 * other raw deflate stream. */
		if (inflateInit2(&d->raw, -15) != Z_OK)
			return rh_seterr(RH_ERR_NOMEM, "cannot set up inflate");
		d->raw_ready = true;
	} else {
		inflateReset(&d->raw);
	}
	d->raw.next_in = (Bytef *)(uintptr_t)in;
	d->raw.avail_in = (uInt)in_len;
	d->raw.next_out = out;
	d->raw.avail_out = (uInt)out_len;
	zr = inflate(&d->raw, Z_FINISH);
	if ((zr == Z_STREAM_END || zr == Z_BUF_ERROR) && d->raw.avail_out == 0)
		return 0;
	return rh_seterr(RH_ERR_CORRUPT, "deflate data is invalid or decodes to %zu of %zu bytes",
			 out_len - d->raw.avail_out, out_len);
}

int img_inflate_zlib(struct img_dctx *d, const void *in, size_t in_len, void *out, size_t out_len,
		     size_t *produced)
{
	int zr;

	*produced = 0;
	if (!d->zl_ready) {
		if (inflateInit2(&d->zl, 15) != Z_OK)
			return rh_seterr(RH_ERR_NOMEM, "cannot set up inflate");
		d->zl_ready = true;
	} else {
		inflateReset(&d->zl);
	}
	d->zl.next_in = (Bytef *)(uintptr_t)in;
	d->zl.avail_in = (uInt)in_len;
	d->zl.next_out = out;
	d->zl.avail_out = (uInt)out_len;
	zr = inflate(&d->zl, Z_FINISH);
	*produced = out_len - d->zl.avail_out;
	if (zr == Z_STREAM_END)
		return 0;
	return rh_seterr(RH_ERR_CORRUPT, "zlib data is invalid (%s)",
			 zr == Z_BUF_ERROR ? (d->zl.avail_out == 0 ? "decodes to more than a grain"
								  : "truncated")
					   : "bad stream");
}

int img_unzstd(struct img_dctx *d, const void *in, size_t in_len, void *out, size_t out_len)
{
	ZSTD_inBuffer ib = { in, in_len, 0 };
	ZSTD_outBuffer ob = { out, out_len, 0 };
	size_t r = 1;

	if (d->zd == NULL) {
		d->zd = ZSTD_createDCtx();
		if (d->zd == NULL)
			return rh_seterr(RH_ERR_NOMEM, "cannot set up zstd");
	}
	ZSTD_DCtx_reset(d->zd, ZSTD_reset_session_only);
	/* As qemu: decode until the cluster is full; the frame must end there
	 * (trailing sector padding is ignored). */
	while (ob.pos < ob.size) {
		size_t in_before = ib.pos, out_before = ob.pos;

		r = ZSTD_decompressStream(d->zd, &ob, &ib);
		if (ZSTD_isError(r))
			return rh_seterr(RH_ERR_CORRUPT, "zstd data is invalid: %s",
					 ZSTD_getErrorName(r));
		if (ib.pos == in_before && ob.pos == out_before)
			return rh_seterr(RH_ERR_CORRUPT, "zstd data decodes to %zu of %zu bytes",
					 ob.pos, ob.size);
	}
	if (r > 0)
		return rh_seterr(RH_ERR_CORRUPT, "zstd frame decodes to more than %zu bytes", out_len);
	return 0;
}
