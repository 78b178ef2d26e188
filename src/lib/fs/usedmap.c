/* Used-block maps: volume access, probing, dispatch through the
 * filesystem table (fsops.c) and the fallback policy (see rehost/usedmap.h). */
#define RH_LOG_COMPONENT "usedmap"
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <linux/fs.h>

#include <blkid/blkid.h>

#include "fs/fs-internal.h"
#include "rehost/checked.h"
#include "rehost/err.h"
#include "rehost/io.h"
#include "rehost/log.h"

/* Notes are for humans and logs: keep them bounded. */
#define NOTE_MAX 2048

struct um_lv {
	char *name;
	struct rh_usedmap_lv info; /* info.name points at name */
};

struct rh_usedmap {
	struct rh_extents *x;
	enum rh_fstype fstype;
	uint32_t block_size;
	bool fallback;
	bool zero_detect;
	char note[NOTE_MAX];
	struct um_lv *lvs;
	size_t nlvs;
};

/* ---- volume access ---------------------------------------------------- */

/* um_read has checked the range against the volume's size: a file that
 * ends before it is RH_ERR_IO. */
static int read_fd(int fd, void *buf, size_t n, uint64_t off)
{
	size_t got;
	int rc = rh_pread_full(fd, buf, n, off, &got);

	if (rc < 0)
		return rh_seterr(rc, "read of %zu bytes at %s", n - got, rh_lasterr());
	if (got < n)
		return rh_seterr(RH_ERR_IO, "short read at offset %llu: end of file",
				 (unsigned long long)(off + got));
	return 0;
}

int um_read(const struct um_vol *v, void *buf, size_t n, uint64_t off, const char *what)
{
	uint64_t abs;

	if (!rh_range_ok(off, n, v->size))
		return rh_seterr(RH_ERR_CORRUPT,
				 "%s at offset %llu (+%zu) lies beyond the end of the %llu-byte volume",
				 what, (unsigned long long)off, n, (unsigned long long)v->size);
	if (n == 0)
		return 0;
	switch (v->kind) {
	case UM_VOL_FD:
		if (RH_ADD_OVERFLOW(v->base, off, &abs) || abs > INT64_MAX - n)
			return rh_seterr(RH_ERR_OVERFLOW, "%s: offset overflows", what);
		return read_fd(v->fd, buf, n, abs);
	case UM_VOL_CB: {
		int rc;

		rh_clearerr();
		rc = v->fn(v->ctx, buf, n, off);

		if (rc < 0 && rh_lasterr()[0] == '\0')
			rh_seterr(rc, "%s: read callback failed at offset %llu", what,
				  (unsigned long long)off);
		return rc;
	}
	case UM_VOL_SEGS: {
		uint8_t *p = buf;
		size_t lo = 0, hi = v->nsegs;

		/* Last segment starting at or before off. */
		while (hi - lo > 1) {
			size_t mid = lo + (hi - lo) / 2;

			if (v->segs[mid].lv_off <= off)
				lo = mid;
			else
				hi = mid;
		}
		for (size_t i = lo; n > 0 && i < v->nsegs; i++) {
			const struct um_seg *s = &v->segs[i];
			uint64_t in = off - s->lv_off;
			size_t k;
			int rc;

			if (off < s->lv_off || in >= s->len)
				return rh_seterr(RH_ERR_INTERNAL, "%s: LV offset %llu not mapped", what,
						 (unsigned long long)off);
			k = (size_t)RH_MIN((uint64_t)n, s->len - in);
			rc = um_read(v->parent, p, k, s->pv_off + in, what);
			if (rc < 0)
				return rc;
			p += k;
			n -= k;
			off += k;
		}
		if (n > 0)
			return rh_seterr(RH_ERR_INTERNAL, "%s: LV offset %llu not mapped", what,
					 (unsigned long long)off);
		return 0;
	}
	}
	return rh_seterr(RH_ERR_INTERNAL, "bad volume kind");
}

bool um_vol_fd_range(const struct um_vol *v, int *fd, uint64_t *off)
{
	uint64_t poff;

	switch (v->kind) {
	case UM_VOL_FD:
		*fd = v->fd;
		*off = v->base;
		return true;
	case UM_VOL_SEGS:
		if (v->nsegs == 0 || !um_vol_fd_range(v->parent, fd, &poff))
			return false;
		for (size_t i = 1; i < v->nsegs; i++)
			if (v->segs[i].pv_off != v->segs[i - 1].pv_off + v->segs[i - 1].len)
				return false;
		*off = poff + v->segs[0].pv_off;
		return true;
	case UM_VOL_CB:
		break;
	}
	return false;
}

/* ---- CRC-32C ------------------------------------------------------------ */

static uint32_t crc32c_table[256];
static pthread_once_t crc32c_once = PTHREAD_ONCE_INIT;

static void crc32c_init(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;

		for (int k = 0; k < 8; k++)
			c = (c >> 1) ^ (0x82f63b78u & (0u - (c & 1)));
		crc32c_table[i] = c;
	}
}

uint32_t usedmap_crc32c(uint32_t crc, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	pthread_once(&crc32c_once, crc32c_init);
	while (len--)
		crc = crc32c_table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return crc;
}

/* ---- notes and LV table ----------------------------------------------- */

void usedmap_note(struct rh_usedmap *m, const char *fmt, ...)
{
	size_t n = strlen(m->note);
	va_list ap;

	if (n + 3 >= sizeof m->note)
		return;
	if (n > 0) {
		memcpy(m->note + n, "; ", 3);
		n += 2;
	}
	va_start(ap, fmt);
	vsnprintf(m->note + n, sizeof m->note - n, fmt, ap);
	va_end(ap);
}

/* Bound on the LV table (LVM itself allows far fewer LVs per VG). */
#define USEDMAP_MAX_LVS 65536

int usedmap_add_lv(struct rh_usedmap *m, const char *name, const struct rh_usedmap_lv *lv)
{
	struct um_lv *n;
	char *copy;

	if (m->nlvs >= USEDMAP_MAX_LVS)
		return rh_seterr(RH_ERR_TOOBIG, "lvm: more than %d LVs", USEDMAP_MAX_LVS);
	copy = strdup(name);
	if (copy == NULL)
		return RH_ERR_NOMEM;
	n = realloc(m->lvs, (m->nlvs + 1) * sizeof *n);
	if (n == NULL) {
		free(copy);
		return RH_ERR_NOMEM;
	}
	m->lvs = n;
	n[m->nlvs].name = copy;
	n[m->nlvs].info = *lv;
	n[m->nlvs].info.name = copy;
	m->nlvs++;
	return 0;
}

static void lvs_clear(struct rh_usedmap *m)
{
	for (size_t i = 0; i < m->nlvs; i++)
		free(m->lvs[i].name);
	free(m->lvs);
	m->lvs = NULL;
	m->nlvs = 0;
}

/* ---- probing ------------------------------------------------------------ */

int usedmap_sniff(const struct um_vol *v, enum rh_fstype *type)
{
	/* Read only where signatures live (so that identifying an LV full
	 * of data reads a few KB): the first 4 KiB, the last 10 bytes of
	 * each possible swap page size, and the btrfs superblock. The rest
	 * of the buffer stays zero. */
	uint8_t *buf;
	size_t head = (size_t)RH_MIN((uint64_t)FS_SNIFF_HEAD, v->size);
	size_t swap_len = (size_t)RH_MIN((uint64_t)65536, v->size);
	enum rh_fstype found = RH_FS_UNKNOWN;
	int hits = 0, rc;

	*type = RH_FS_UNKNOWN;
	buf = calloc(1, FS_SNIFF_BYTES);
	if (buf == NULL)
		return RH_ERR_NOMEM;
	rc = um_read(v, buf, head, 0, "superblock area");
	for (uint64_t ps = 8192; rc == 0 && ps <= swap_len; ps *= 2)
		rc = um_read(v, buf + ps - 10, 10, ps - 10, "swap signature");
	if (rc == 0 && v->size >= FS_SNIFF_BYTES)
		rc = um_read(v, buf + 65536, FS_SNIFF_BYTES - 65536, 65536, "btrfs superblock");
	if (rc < 0)
		goto out;
	for (size_t i = 0; fs_ops_all[i] != NULL; i++)
		if (fs_ops_all[i]->sniff(buf, v->size)) {
			found = fs_ops_all[i]->type;
			hits++;
		}
	/* Several signatures: like libblkid's "ambivalent" result, trust none. */
	*type = hits == 1 ? found : RH_FS_UNKNOWN;
out:
	free(buf);
	return rc;
}

/* libblkid low-level probe of [off, off + len) of fd. */
static int probe_blkid(int fd, uint64_t off, uint64_t len, enum rh_fstype *type, char *name,
		       size_t namelen)
{
	blkid_probe pr;
	const char *val = NULL;
	int rc;

	*type = RH_FS_UNKNOWN;
	name[0] = '\0';
	if (off > INT64_MAX || len > INT64_MAX)
		return rh_seterr(RH_ERR_RANGE, "probe range too large");
	pr = blkid_new_probe();
	if (pr == NULL)
		return RH_ERR_NOMEM;
	if (blkid_probe_set_device(pr, fd, (blkid_loff_t)off, (blkid_loff_t)len) != 0) {
		rc = rh_seterr(RH_ERR_IO, "libblkid cannot probe the volume");
		goto out;
	}
	blkid_probe_enable_superblocks(pr, 1);
	blkid_probe_set_superblocks_flags(pr, BLKID_SUBLKS_TYPE);
	blkid_probe_enable_partitions(pr, 0);
	rc = blkid_do_safeprobe(pr);
	if (rc == 0 && blkid_probe_lookup_value(pr, "TYPE", &val, NULL) == 0 && val != NULL) {
		snprintf(name, namelen, "%s", val);
		*type = fs_ops_find_blkid(val) != NULL ? fs_ops_find_blkid(val)->type
							: RH_FS_UNKNOWN;
	} else if (rc == -2) {
		snprintf(name, namelen, "(ambivalent)");
	} else if (rc < 0) {
		rc = rh_seterr(RH_ERR_IO, "libblkid probe failed");
		goto out;
	}
	rc = 0;
out:
	blkid_free_probe(pr);
	return rc;
}

/* libblkid's answer for an fd-backed volume, checked against our own
 * superblock checks (every table entry's sniff): *ok is false when they
 * disagree. name gets blkid's TYPE. */
static int probe_confirmed(const struct um_vol *v, int fd, uint64_t off, enum rh_fstype *type,
			   char *name, size_t namelen, bool *ok)
{
	enum rh_fstype s;
	int rc;

	*ok = true;
	rc = probe_blkid(fd, off, v->size, type, name, namelen);
	if (rc < 0 || *type == RH_FS_UNKNOWN)
		return rc;
	rc = usedmap_sniff(v, &s);
	if (rc < 0)
		return rc;
	*ok = s == *type;
	return 0;
}

int rh_usedmap_probe(int fd, uint64_t off, uint64_t len, enum rh_fstype *type)
{
	struct um_vol v = { .kind = UM_VOL_FD, .fd = fd, .base = off, .size = len };
	char name[64];
	bool ok = false;
	int rc;

	*type = RH_FS_UNKNOWN;
	if (fd < 0 || len == 0 || !rh_range_ok(off, len, INT64_MAX))
		return rh_seterr(RH_ERR_INVAL, "probe: bad volume range");
	rc = probe_confirmed(&v, fd, off, type, name, sizeof name, &ok);
	if (rc < 0 || !ok)
		*type = RH_FS_UNKNOWN;
	return rc;
}

/* ---- building ------------------------------------------------------------ */

/* Errors that mean "this metadata cannot be trusted", for the fallback. */
static bool is_metadata_error(int rc)
{
	switch (rc) {
	case RH_ERR_CORRUPT:
	case RH_ERR_UNSUPPORTED:
	case RH_ERR_PARSE:
	case RH_ERR_RANGE:
	case RH_ERR_OVERFLOW:
	case RH_ERR_TOOBIG:
		return true;
	default:
		return false;
	}
}

#define WHERE(c) ((c)->where != NULL ? (c)->where : "volume")

int usedmap_build_vol(struct um_ctx *c, const struct um_vol *v, enum rh_fstype forced,
		      struct rh_extents *x, struct um_volinfo *info)
{
	enum rh_fstype t = forced;
	const struct fs_ops *ops;
	uint32_t bsize = 512;
	int fd, rc = 0;
	uint64_t foff;

	memset(info, 0, sizeof *info);
	if (t == RH_FS_AUTO) {
		char name[64];
		bool ok = true;

		if (!v->no_blkid && um_vol_fd_range(v, &fd, &foff)) {
			rc = probe_confirmed(v, fd, foff, &t, name, sizeof name, &ok);
			if (rc == 0 && !ok)
				usedmap_note(c->map, "%s: libblkid reports %s but its superblock does "
					     "not validate", WHERE(c), name);
			if (rc == 0 && t == RH_FS_UNKNOWN && name[0] != '\0')
				usedmap_note(c->map, "%s: %s contents: all used", WHERE(c), name);
		} else {
			rc = usedmap_sniff(v, &t);
		}
		if (rc < 0)
			return rc;
	}
	info->fstype = t;
	ops = fs_ops_find(t);
	if (ops == NULL) {
		info->fstype = RH_FS_UNKNOWN;
		info->zero_detect = true;
		info->block_size = 512;
		return rh_extents_add_all(x);
	}
	if (ops->container && c->depth > 0) {
		/* A PV inside an LV: do not recurse further. */
		usedmap_note(c->map, "%s: nested LVM PV: all used", WHERE(c));
		info->fstype = RH_FS_UNKNOWN;
		info->zero_detect = true;
		return rh_extents_add_all(x);
	}
	rc = ops->build(c, v, x, &bsize);
	if (rc < 0) {
		if (!is_metadata_error(rc) || !(c->flags & RH_USEDMAP_FALLBACK_ALL))
			return rc;
		rh_log_warn("%s: %s metadata unusable (%s): mapping it as all used", WHERE(c),
			    rh_fstype_name(t), rh_lasterr());
		if (c->where != NULL)
			usedmap_note(c->map, "LV %s: %s: %s; all used", c->where, rh_fstype_name(t),
				     rh_lasterr());
		else
			usedmap_note(c->map, "%s: %s; all used", rh_fstype_name(t), rh_lasterr());
		rh_clearerr();
		rh_extents_clear(x);
		if (c->depth == 0)
			lvs_clear(c->map); /* a PV given up on has no LV table */
		rc = rh_extents_add_all(x);
		if (rc < 0)
			return rc;
		info->fallback = true;
		info->zero_detect = true;
		info->block_size = 512;
		return 0;
	}
	info->mapped = true;
	info->block_size = bsize;
	return 0;
}

static int build(struct um_vol *v, const struct rh_usedmap_opts *opts, struct rh_usedmap **out)
{
	static const struct rh_usedmap_opts defaults = { 0, 0, RH_FS_AUTO };
	struct rh_usedmap *m = NULL;
	struct um_ctx c = { 0 };
	struct um_volinfo info;
	int rc;

	*out = NULL;
	if (opts == NULL)
		opts = &defaults;
	if ((unsigned)opts->fstype > RH_FS_LVM2)
		return rh_seterr(RH_ERR_INVAL, "used-block map: bad filesystem type %d", opts->fstype);
	if (opts->flags & ~(unsigned)(RH_USEDMAP_FALLBACK_ALL | RH_USEDMAP_NO_BLKID))
		return rh_seterr(RH_ERR_INVAL, "used-block map: unknown flags %#x", opts->flags);
	v->no_blkid = v->no_blkid || (opts->flags & RH_USEDMAP_NO_BLKID);
	m = calloc(1, sizeof *m);
	if (m == NULL)
		return RH_ERR_NOMEM;
	rc = rh_extents_new(v->size, opts->granularity, &m->x);
	if (rc < 0)
		goto out;
	c.flags = opts->flags;
	c.map = m;
	rh_clearerr();
	rc = usedmap_build_vol(&c, v, opts->fstype, m->x, &info);
	if (rc < 0)
		goto out;
	m->fstype = info.fstype;
	m->block_size = info.block_size;
	m->fallback = m->fallback || info.fallback;
	m->zero_detect = m->zero_detect || info.zero_detect;
	for (size_t i = 0; i < m->nlvs; i++) {
		m->fallback = m->fallback || m->lvs[i].info.fallback;
		m->zero_detect = m->zero_detect || !m->lvs[i].info.mapped;
	}
	rh_log_debug("%s volume of %llu bytes: %llu bytes used in %zu extents%s%s",
		     rh_fstype_name(m->fstype), (unsigned long long)v->size,
		     (unsigned long long)rh_extents_used(m->x), rh_extents_count(m->x),
		     m->note[0] ? "; " : "", m->note);
	*out = m;
	m = NULL;
out:
	rh_usedmap_free(m);
	return rc;
}

/* Size of what fd refers to, for range checks; 0 when unknown. */
static int fd_size(int fd, uint64_t *size)
{
	struct stat st;

	*size = 0;
	if (fstat(fd, &st) != 0)
		return rh_seterr_errno(errno, "fstat");
	if (S_ISREG(st.st_mode)) {
		*size = (uint64_t)st.st_size;
	} else if (S_ISBLK(st.st_mode)) {
		uint64_t b = 0;

		if (ioctl(fd, BLKGETSIZE64, &b) != 0)
			return rh_seterr_errno(errno, "BLKGETSIZE64");
		*size = b;
	} else {
		return rh_seterr(RH_ERR_INVAL, "not a regular file or block device");
	}
	return 0;
}

int rh_usedmap_build(int fd, uint64_t off, uint64_t len, const struct rh_usedmap_opts *opts,
		     struct rh_usedmap **out)
{
	struct um_vol v = { .kind = UM_VOL_FD, .fd = fd, .base = off, .size = len };
	uint64_t size;
	int rc;

	*out = NULL;
	if (fd < 0 || len == 0)
		return rh_seterr(RH_ERR_INVAL, "used-block map: bad descriptor or empty volume");
	rc = fd_size(fd, &size);
	if (rc < 0)
		return rc;
	if (!rh_range_ok(off, len, size) || off + len > INT64_MAX)
		return rh_seterr(RH_ERR_RANGE,
				 "volume [%llu, +%llu) extends beyond the %llu-byte device",
				 (unsigned long long)off, (unsigned long long)len,
				 (unsigned long long)size);
	return build(&v, opts, out);
}

int rh_usedmap_build_path(const char *path, uint64_t off, uint64_t len,
			  const struct rh_usedmap_opts *opts, struct rh_usedmap **out)
{
	uint64_t size;
	int fd, rc;

	*out = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return rh_seterr_errno(errno, "%s", path);
	rc = fd_size(fd, &size);
	if (rc < 0)
		goto out;
	if (len == 0) {
		if (off >= size) {
			rc = rh_seterr(RH_ERR_RANGE, "%s: offset %llu is beyond its end", path,
				       (unsigned long long)off);
			goto out;
		}
		len = size - off;
	}
	rc = rh_usedmap_build(fd, off, len, opts, out);
out:
	close(fd);
	return rc;
}

int rh_usedmap_build_reader(rh_usedmap_read_fn fn, void *ctx, uint64_t len,
			    const struct rh_usedmap_opts *opts, struct rh_usedmap **out)
{
	struct um_vol v = { .kind = UM_VOL_CB, .fn = fn, .ctx = ctx, .size = len,
			    .no_blkid = true };

	*out = NULL;
	if (fn == NULL || len == 0)
		return rh_seterr(RH_ERR_INVAL, "used-block map: no reader or empty volume");
	return build(&v, opts, out);
}

void rh_usedmap_free(struct rh_usedmap *m)
{
	if (m == NULL)
		return;
	lvs_clear(m);
	rh_extents_free(m->x);
	free(m);
}

const struct rh_extents *rh_usedmap_extents(const struct rh_usedmap *m)
{
	return m->x;
}

uint64_t rh_usedmap_size(const struct rh_usedmap *m)
{
	return rh_extents_size(m->x);
}

uint64_t rh_usedmap_used(const struct rh_usedmap *m)
{
	return rh_extents_used(m->x);
}

enum rh_fstype rh_usedmap_fstype(const struct rh_usedmap *m)
{
	return m->fstype;
}

uint32_t rh_usedmap_block_size(const struct rh_usedmap *m)
{
	return m->block_size;
}

bool rh_usedmap_fallback(const struct rh_usedmap *m)
{
	return m->fallback;
}

bool rh_usedmap_zero_detect(const struct rh_usedmap *m)
{
	return m->zero_detect;
}

const char *rh_usedmap_note(const struct rh_usedmap *m)
{
	return m->note;
}

size_t rh_usedmap_lv_count(const struct rh_usedmap *m)
{
	return m->nlvs;
}

int rh_usedmap_lv(const struct rh_usedmap *m, size_t i, struct rh_usedmap_lv *lv)
{
	memset(lv, 0, sizeof *lv);
	if (i >= m->nlvs)
		return rh_seterr(RH_ERR_RANGE, "LV index %zu out of range", i);
	*lv = m->lvs[i].info;
	return 0;
}

/* ---- zero detection ------------------------------------------------------ */

bool rh_usedmap_is_zero(const void *buf, size_t len)
{
	const uint8_t *p = buf;
	size_t head = len < 16 ? len : 16;

	for (size_t i = 0; i < head; i++)
		if (p[i] != 0)
			return false;
	/* The first 16 bytes are zero; if every byte equals the one 16 bytes
	 * before it, all are. memcmp is vectorised by the C library. */
	return len <= 16 || memcmp(p, p + 16, len - 16) == 0;
}
