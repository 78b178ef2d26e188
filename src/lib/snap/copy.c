/*
 * The one copy loop behind snapshots and rollbacks: walk the data extents
 * of a disk (SEEK_DATA/SEEK_HOLE), read them in runs of up to 4 MiB, skip
 * zero blocks so holes stay holes, and hash what was read on the way, so
 * the digest costs no extra read. Where the filesystem can share blocks
 * (FICLONE: btrfs, xfs with reflink), the copy is a clone and the digest
 * is the only read.
 */
#define RH_LOG_COMPONENT "snap"
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include "snap-internal.h"
#include "rehost/checked.h"
#include "rehost/endian.h"
#include "rehost/err.h"
#include "rehost/io.h"
#include "rehost/log.h"

#define RUN (4u << 20)

struct walker {
	int src, dst;
	const char *src_name, *dst_name;
	uint64_t size;
	unsigned flags;
	bool dst_blk;
	XXH3_state_t *h;
	uint8_t *buf;
	struct snap_io *io;
	uint64_t zoff, zlen;   /* pending range to zero (in place) */
};

static bool all_zero(const uint8_t *p, size_t len)
{
	return len == 0 || (p[0] == 0 && memcmp(p, p + 1, len - 1) == 0);
}

static int read_full(struct walker *w, uint8_t *buf, size_t len, uint64_t off)
{
	size_t got;
	int rc = rh_pread_full(w->src, buf, len, off, &got);

	w->io->read += got;
	if (rc < 0)
		return rh_seterr(rc, "cannot read %s at %s", w->src_name, rh_lasterr());
	/* The size was taken at the start: a source that ends before it
	 * changed under us. */
	if (got < len)
		return rh_seterr(RH_ERR_IO, "%s ended at %llu, before its size %llu: did it change while being copied?",
				 w->src_name, (unsigned long long)(off + got),
				 (unsigned long long)w->size);
	return 0;
}

static int write_full(struct walker *w, const uint8_t *buf, size_t len, uint64_t off)
{
	while (len > 0) {
		ssize_t r = pwrite(w->dst, buf, len, (off_t)off);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			int e = r < 0 ? errno : ENOSPC;

			if (e == ENOSPC || e == EDQUOT)
				return rh_seterr(RH_ERR_NOSPACE, "no space left writing %s at %llu; free space or use another directory",
						 w->dst_name, (unsigned long long)off);
			return rh_seterr_errno(e, "cannot write %s at %llu", w->dst_name,
					       (unsigned long long)off);
		}
		buf += r;
		len -= (size_t)r;
		off += (uint64_t)r;
		w->io->written += (uint64_t)r;
	}
	return 0;
}

/* Zero [off, off+len) of dst in place: a hole in a file, a zeroed range
 * on a device (BLKZEROOUT lets thin storage unmap it), else zeros. */
static int zero_now(struct walker *w, uint64_t off, uint64_t len)
{
	uint64_t range[2] = { off, len };
	static const uint8_t zeros[SNAP_BLOCK * 16];

	if (len == 0)
		return 0;
	if (!w->dst_blk &&
	    fallocate(w->dst, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)off, (off_t)len) == 0)
		return 0;
	if (w->dst_blk && ioctl(w->dst, BLKZEROOUT, range) == 0)
		return 0;
	while (len > 0) {
		size_t n = len < sizeof zeros ? (size_t)len : sizeof zeros;
		int rc = write_full(w, zeros, n, off);

		if (rc < 0)
			return rc;
		off += n;
		len -= n;
	}
	return 0;
}

static int zero_range(struct walker *w, uint64_t off, uint64_t len)
{
	int rc;

	if (!(w->flags & SNAP_COPY_INPLACE) || len == 0)
		return 0;
	if (w->zlen > 0 && w->zoff + w->zlen == off) {
		w->zlen += len;
		return 0;
	}
	rc = zero_now(w, w->zoff, w->zlen);
	w->zoff = off;
	w->zlen = len;
	return rc;
}

static void hash_block(struct walker *w, uint64_t off, const uint8_t *p, size_t len)
{
	uint8_t le[8];

	rh_le64enc(le, off);
	XXH3_128bits_update(w->h, le, sizeof le);
	XXH3_128bits_update(w->h, p, len);
}

/* Read [off, off+len) (block aligned, len <= RUN), hash its non-zero
 * blocks and write them to dst in contiguous runs. */
static int do_run(struct walker *w, uint64_t off, size_t len)
{
	size_t i, start = SIZE_MAX;
	int rc = read_full(w, w->buf, len, off);

	if (rc < 0)
		return rc;
	/* One step past the end (n == 0) flushes the last data run. */
	for (i = 0;; i += SNAP_BLOCK) {
		size_t n = i < len ? RH_MIN((size_t)SNAP_BLOCK, len - i) : 0;
		bool data = n > 0 && !all_zero(w->buf + i, n);

		if (data) {
			hash_block(w, off + i, w->buf + i, n);
			if (start == SIZE_MAX)
				start = i;
			continue;
		}
		if (start != SIZE_MAX && w->dst >= 0) {
			rc = write_full(w, w->buf + start, RH_MIN(i, len) - start, off + start);
			if (rc < 0)
				return rc;
		}
		start = SIZE_MAX;
		if (n == 0)
			return 0;
		if ((rc = zero_range(w, off + i, n)) < 0)
			return rc;
	}
}

static int walk(struct walker *w)
{
	uint64_t off = 0;
	int rc;

	while (off < w->size) {
		off_t data = lseek(w->src, (off_t)off, SEEK_DATA), hole;
		uint64_t a, b;

		if (data < 0 && errno == ENXIO)
			break; /* only a hole is left */
		if (data < 0) {
			data = (off_t)off; /* no SEEK_DATA here: all data */
			hole = (off_t)w->size;
		} else {
			hole = lseek(w->src, data, SEEK_HOLE);
			if (hole < 0)
				hole = (off_t)w->size;
		}
		if ((uint64_t)data >= w->size)
			break;
		/* Whole blocks: the digest is defined on aligned blocks. */
		a = (uint64_t)data / SNAP_BLOCK * SNAP_BLOCK;
		if (a < off)
			a = off;
		b = RH_MIN(((uint64_t)hole + SNAP_BLOCK - 1) / SNAP_BLOCK * SNAP_BLOCK, w->size);
		if (b <= a)
			b = RH_MIN(a + SNAP_BLOCK, w->size);
		if ((rc = zero_range(w, off, a - off)) < 0)
			return rc;
		for (uint64_t p = a; p < b; p += RUN)
			if ((rc = do_run(w, p, (size_t)RH_MIN((uint64_t)RUN, b - p))) < 0)
				return rc;
		off = b;
	}
	if ((rc = zero_range(w, off, w->size - RH_MIN(off, w->size))) < 0)
		return rc;
	return zero_now(w, w->zoff, w->zlen);
}

static int finish(struct walker *w, char hex[RH_SNAP_DIGEST_HEX])
{
	XXH128_canonical_t c;
	uint8_t le[8];

	rh_le64enc(le, w->size);
	XXH3_128bits_update(w->h, le, sizeof le);
	XXH128_canonicalFromHash(&c, XXH3_128bits_digest(w->h));
	for (size_t i = 0; i < sizeof c.digest; i++)
		snprintf(hex + 2 * i, 3, "%02x", c.digest[i]);
	return 0;
}

static int run(struct walker *w, char hex[RH_SNAP_DIGEST_HEX])
{
	int rc;

	hex[0] = '\0';
	w->h = XXH3_createState();
	w->buf = malloc(RUN);
	if (w->h == NULL || w->buf == NULL) {
		rc = RH_ERR_NOMEM;
		goto out;
	}
	XXH3_128bits_reset(w->h);
	rc = walk(w);
	if (rc == 0)
		rc = finish(w, hex);
out:
	free(w->buf);
	XXH3_freeState(w->h);
	return rc;
}

int snap_digest(int fd, const char *name, uint64_t size, char hex[RH_SNAP_DIGEST_HEX],
		struct snap_io *io)
{
	struct walker w = { .src = fd, .dst = -1, .src_name = name, .size = size, .io = io };

	return run(&w, hex);
}

int snap_copy(int src, const char *src_name, int dst, const char *dst_name, uint64_t size,
	      unsigned flags, char hex[RH_SNAP_DIGEST_HEX], struct snap_io *io)
{
	struct walker w = { .src = src, .dst = dst, .src_name = src_name, .dst_name = dst_name,
			    .size = size, .flags = flags, .io = io };
	struct stat ss, ds;

	if (fstat(src, &ss) < 0 || fstat(dst, &ds) < 0)
		return rh_seterr_errno(errno, "cannot stat %s or %s", src_name, dst_name);
	w.dst_blk = S_ISBLK(ds.st_mode);
	if (!(flags & SNAP_COPY_INPLACE) && (!S_ISREG(ds.st_mode) || ds.st_size != 0))
		return rh_seterr(RH_ERR_INTERNAL, "%s: copy target must be a new empty file", dst_name);
	if ((flags & SNAP_COPY_REFLINK) && !(flags & SNAP_COPY_INPLACE) && S_ISREG(ss.st_mode) &&
	    (uint64_t)ss.st_size == size) {
		if (ioctl(dst, FICLONE, src) == 0) {
			io->reflinked = true;
			return snap_digest(dst, dst_name, size, hex, io);
		}
		/* EOPNOTSUPP, EXDEV, EINVAL: no shared blocks here; copy. */
		rh_log_debug("%s: no reflink (%s), copying", dst_name, strerror(errno));
	}
	/* A file target gets its final size first: never-written ranges are
	 * then holes, and a longer file (a grown image) is cut back. */
	if (!w.dst_blk && ftruncate(dst, (off_t)size) < 0)
		return rh_seterr_errno(errno, "cannot size %s to %llu bytes", dst_name,
				       (unsigned long long)size);
	return run(&w, hex);
}

int snap_sync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc = 0;

	if (fd < 0)
		return rh_seterr_errno(errno, "cannot open directory %s", dir);
	if (fsync(fd) < 0)
		rc = rh_seterr_errno(errno, "cannot sync directory %s", dir);
	close(fd);
	return rc;
}

int snap_sync_file(int fd, const char *path)
{
	char dir[4096];
	char *slash;

	if (fsync(fd) < 0)
		return rh_seterr_errno(errno, "cannot sync %s", path);
	snprintf(dir, sizeof dir, "%s", path);
	slash = strrchr(dir, '/');
	if (slash == NULL)
		return snap_sync_dir(".");
	if (slash == dir)
		slash[1] = '\0';
	else
		*slash = '\0';
	return snap_sync_dir(dir);
}
