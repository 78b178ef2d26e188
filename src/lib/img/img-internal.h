/*
 * Private interface of the image-format layer (src/lib/img/): one ops
 * struct per format, the state shared by readers and writers, and helpers
 * for I/O, output batching, compression workers and check reports.
 */
#ifndef REHOST_IMG_INTERNAL_H
#define REHOST_IMG_INTERNAL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "rehost/img.h"

struct rh_img;
struct rh_img_writer;
struct img_checker;

/* One per format (nbdkit plugin style): new members only at the end, and
 * callers check struct_size before using them. Optional callbacks may be
 * NULL. */
struct img_ops {
	size_t struct_size;        /* sizeof(struct img_ops) when compiled */
	enum rh_img_format format;
	const char *name;

	/* Score 0..100 how surely a file starting with head (n bytes) and
	 * ending with tail (512 bytes, or NULL when the file is shorter) of
	 * file_size bytes is this format. */
	int (*probe)(const uint8_t *head, size_t n, const uint8_t *tail, uint64_t file_size);

	/* Validate every header and top-level table and set img->size and
	 * img->priv. On failure priv must be freed (close is not called). */
	int (*open)(struct rh_img *img);
	void (*close)(struct rh_img *img);
	/* [off, off + len) lies inside the virtual size. */
	int (*read)(struct rh_img *img, void *buf, size_t len, uint64_t off);
	/* off < size, max >= 1 and off + max <= size. */
	int (*status)(struct rh_img *img, uint64_t off, uint64_t max, uint64_t *len, bool *data);
	/* Optional: hint that [off, off + len) will be read soon. */
	void (*prefetch)(struct rh_img *img, uint64_t off, uint64_t len);
	/* Fill the format-specific fields; generic ones are set before. */
	int (*info)(struct rh_img *img, struct rh_img_info *info);
	int (*check)(struct rh_img *img, struct img_checker *ck);

	/* Writer: set w->unit (bytes per write unit, a divisor of nothing in
	 * particular but fixed), may round w->size up, and set w->priv. */
	int (*create)(struct rh_img_writer *w);
	/* count units starting at unit index, data is count * w->unit bytes
	 * (the last unit of the image is zero-padded). Indexes only grow.
	 * data is borrowed for the call. */
	int (*write)(struct rh_img_writer *w, uint64_t index, size_t count, const uint8_t *data);
	int (*finalize)(struct rh_img_writer *w);
	void (*wfree)(struct rh_img_writer *w);
};

extern const struct img_ops img_raw_ops;
extern const struct img_ops img_qcow2_ops;
extern const struct img_ops img_vpc_ops;
extern const struct img_ops img_vmdk_ops;

struct rh_img {
	const struct img_ops *ops;
	int fd;                 /* owned */
	char *name;             /* owned; for messages */
	bool is_blockdev;
	uint64_t file_size;     /* bytes */
	uint64_t size;          /* virtual size, bytes */
	void *priv;             /* format state, owned by the ops */
};

/* Append-only output with batched pwritev: ranges are queued by pointer and
 * written when the queue fills or on img_out_flush. Queued memory must stay
 * valid until the next flush. */
struct img_out {
	int fd;
	uint64_t start;         /* file offset of the first queued byte */
	uint64_t tail;          /* file offset after the last queued byte */
	struct iovec iov[64];
	int niov;
	uint64_t high;          /* highest file offset written (file size) */
	uint64_t synced;        /* offsets below were handed to write-back */
	bool writebehind;       /* start write-back as data is written */
};

struct rh_img_writer {
	const struct img_ops *ops;
	int fd;                 /* owned */
	char *name;
	bool is_blockdev;
	struct rh_img_create_opts o;
	uint64_t size;          /* virtual size after rounding */
	uint32_t unit;          /* bytes per format write unit */
	uint64_t pos;           /* next virtual offset a write may start at */
	uint8_t *stage;         /* one unit being assembled, NULL until needed */
	uint64_t stage_index;
	bool staged;            /* stage holds data for stage_index */
	bool failed, finalized;
	struct img_out out;
	void *priv;
};

/* ---- img.c helpers ---- */

/* pread exactly len bytes at off of img's file. A range past the end of
 * the file is RH_ERR_CORRUPT ("what ... beyond the end of the file"). */
/* ---- tcache.c: the few metadata tables a reader keeps (qcow2 L2 tables,
 * vmdk grain tables), least recently used out first. ---- */
#define IMG_TCACHE_SLOTS 16
struct img_tslot {
	uint64_t key;  /* where the table lives in the file; 0 = empty slot */
	uint64_t used; /* LRU tick */
	void *t;       /* the validated table */
};
struct img_tcache {
	struct img_tslot slot[IMG_TCACHE_SLOTS];
	uint64_t tick;
};
/* The cached table for key (non-zero), or NULL with *victim set to the
 * least recently used slot, emptied and with a table of bytes allocated,
 * for the caller to fill and then hand to img_tcache_put (*victim is NULL
 * when out of memory). */
void *img_tcache_get(struct img_tcache *c, uint64_t key, size_t bytes, struct img_tslot **victim);
/* Mark the filled slot s as holding key's table. */
void img_tcache_put(struct img_tcache *c, struct img_tslot *s, uint64_t key);
void img_tcache_free(struct img_tcache *c);

int img_read_at(struct rh_img *img, void *buf, size_t len, uint64_t off, const char *what);

/* pwrite exactly len bytes; ENOSPC maps to RH_ERR_NOSPACE. */
int img_write_at(int fd, const void *buf, size_t len, uint64_t off);

/* Whether len bytes are all zero. */
bool img_is_zero(const void *buf, size_t len);

void img_out_init(struct img_out *o, int fd, uint64_t start);
/* Queue len bytes at file offset off (>= o->tail; a gap leaves a hole). */
int img_out_append(struct img_out *o, uint64_t off, const void *buf, size_t len);
int img_out_flush(struct img_out *o);

/* Memory helpers that record RH_ERR_NOMEM. */
void *img_calloc(size_t n, size_t size);
void *img_malloc_aligned(size_t size);

/* ---- compress.c: ordered compression on worker threads ---- */

enum img_codec {
	IMG_CODEC_DEFLATE_RAW = 1, /* qcow2 zlib: raw deflate, 4 KiB window */
	IMG_CODEC_ZLIB,            /* vmdk: zlib stream (RFC 1950) */
	IMG_CODEC_ZSTD,            /* qcow2 zstd: one frame per cluster */
};

#define IMG_CLEN_ZERO 0u          /* unit was all zeros */
#define IMG_CLEN_RAW UINT32_MAX   /* did not fit: store uncompressed */

struct img_cjob {
	uint64_t index;     /* first unit */
	unsigned count;     /* units */
	uint8_t *in;        /* count * unit bytes, owned by the pool */
	uint8_t *out;       /* count * stride bytes; unit i's output starts at
			     * out + i * stride + room */
	uint32_t *len;      /* count entries: compressed bytes, IMG_CLEN_ZERO or
			     * IMG_CLEN_RAW */
	int rc;             /* 0 or the worker's error */
	int state;          /* private to compress.c */
};

struct img_pool;

/* The most bytes codec at level can make of unit bytes, for a writer that
 * must compress every unit (a vmdk stream has no uncompressed grains). */
size_t img_codec_bound(enum img_codec codec, int level, size_t unit);

/* A pool compressing units of unit bytes with codec at level (0 = default).
 * A unit whose output would exceed max_out bytes is IMG_CLEN_RAW. room bytes
 * are left free before each output (for a marker). threads 0 compresses in
 * the submitting thread. Jobs carry at most job_units units. */
int img_pool_new(enum img_codec codec, int level, uint32_t unit, size_t max_out, size_t room,
		 unsigned threads, unsigned job_units, struct img_pool **out);
void img_pool_free(struct img_pool *p);
size_t img_pool_stride(const struct img_pool *p);
unsigned img_pool_job_units(const struct img_pool *p);
/* Whether a job slot is free for img_pool_push. */
bool img_pool_can_push(const struct img_pool *p);
/* Copy count units at data (starting at unit index) into a free slot and
 * queue it. Requires img_pool_can_push. */
int img_pool_push(struct img_pool *p, uint64_t index, unsigned count, const uint8_t *data);
/* Wait for the oldest queued job and return it in *job (NULL when nothing
 * is queued). Give it back with img_pool_release after using its output. */
int img_pool_pop(struct img_pool *p, struct img_cjob **job);
void img_pool_release(struct img_pool *p, struct img_cjob *job);
/* Number of worker threads for opts->threads == 0. */
unsigned img_default_threads(void);

/* Decompressors for readers. Each returns 0 when exactly out_len bytes were
 * produced (trailing input is ignored), else RH_ERR_CORRUPT. ctx holds a
 * lazily created codec state; free it with img_dctx_free. */
struct img_dctx;
int img_dctx_new(struct img_dctx **out);
void img_dctx_free(struct img_dctx *d);
int img_inflate_raw(struct img_dctx *d, const void *in, size_t in_len, void *out, size_t out_len);
/* zlib stream; *produced receives the byte count (may be < out_len). */
int img_inflate_zlib(struct img_dctx *d, const void *in, size_t in_len, void *out, size_t out_len,
		     size_t *produced);
int img_unzstd(struct img_dctx *d, const void *in, size_t in_len, void *out, size_t out_len);

/* ---- check reports ---- */

struct img_checker {
	rh_img_check_fn fn;
	void *ctx;
	struct rh_img_check_result *res;
	unsigned shown[5];      /* messages passed to fn, per kind */
};

void img_check_report(struct img_checker *ck, enum rh_img_problem kind, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
#define img_check_error(ck, ...) img_check_report(ck, RH_IMG_PROBLEM_ERROR, __VA_ARGS__)
#define img_check_leak(ck, ...) img_check_report(ck, RH_IMG_PROBLEM_LEAK, __VA_ARGS__)
#define img_check_warn(ck, ...) img_check_report(ck, RH_IMG_PROBLEM_WARNING, __VA_ARGS__)
/* Record n more problems of kind without messages (after a summary line). */
void img_check_count(struct img_checker *ck, enum rh_img_problem kind, uint64_t n);

#define img_check_info(ck, ...) img_check_report(ck, RH_IMG_PROBLEM_INFO, __VA_ARGS__)

/* ---- export.c ---- */

struct rh_ptable;

/* Read the partition table of img: directly for raw images, otherwise
 * through a sparse memory file holding the image's first and last MiB and
 * every EBR of an MBR extended partition. Same results as rh_ptable_read. */
int img_read_ptable(struct rh_img *img, struct rh_ptable **out);

/* ---- vpc.c: shared with tests through the library ---- */

/* VHD CHS geometry for a size in sectors (the VHD specification's
 * algorithm); returns cylinders * heads * sectors. */
uint64_t img_vpc_chs(uint64_t sectors, uint16_t *cyls, uint8_t *heads, uint8_t *secs);

#endif
