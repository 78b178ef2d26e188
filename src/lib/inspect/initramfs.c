/*
 * initramfs reader: a streaming cpio parser (newc/crc and odc headers)
 * behind gzip (zlib), xz and lzma (liblzma) and zstd decompressors, walking
 * the segments of an image in memory. Nothing is extracted: only member
 * names, modes and sizes are reported, and file data is skipped.
 *
 * Every header field is checked (hex/octal digits only, name length within
 * RH_INITRAMFS_MAX_NAME and NUL-terminated), the number of members and the
 * decompressed total are capped, and a truncated archive is an error.
 */
#define RH_LOG_COMPONENT "inspect"

#include <lzma.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

#include "rehost/checked.h"
#include "rehost/err.h"
#include "rehost/inspect.h"

#define OUTBUF (64u * 1024)
#define XZ_MEMLIMIT (256u << 20)

enum cpio_state { C_BETWEEN, C_HDR, C_NAME, C_DATA };

struct cpio {
	enum cpio_state state;
	uint8_t hdr[110];
	size_t hdr_have, hdr_len;
	char name[RH_INITRAMFS_MAX_NAME + 8];
	size_t name_have, name_need;
	unsigned long long namesize, filesize, data_left;
	unsigned mode;
	bool trailer;
	bool odc;
};

struct scanner {
	rh_cpio_cb cb;
	void *arg;
	struct rh_initramfs_scan *scan;
	bool stop;        /* the callback asked to stop */
	int err;          /* callback error */
};

static bool parse_num(const uint8_t *p, size_t n, int base, unsigned long long *out)
{
	unsigned long long v = 0;

	for (size_t i = 0; i < n; i++) {
		int d;

		if (p[i] >= '0' && p[i] <= '9')
			d = p[i] - '0';
		else if (base == 16 && p[i] >= 'a' && p[i] <= 'f')
			d = p[i] - 'a' + 10;
		else if (base == 16 && p[i] >= 'A' && p[i] <= 'F')
			d = p[i] - 'A' + 10;
		else
			return false;
		if (d >= base)
			return false;
		v = v * (unsigned)base + (unsigned)d;
	}
	*out = v;
	return true;
}

/* The header is complete in c->hdr: validate it and set up the name read. */
static int cpio_header(struct cpio *c)
{
	unsigned long long mode;

	if (c->odc) {
		if (!parse_num(c->hdr + 18, 6, 8, &mode) ||
		    !parse_num(c->hdr + 59, 6, 8, &c->namesize) ||
		    !parse_num(c->hdr + 65, 11, 8, &c->filesize))
			return rh_seterr(RH_ERR_PARSE, "cpio: malformed odc header");
	} else {
		if (!parse_num(c->hdr + 14, 8, 16, &mode) ||
		    !parse_num(c->hdr + 54, 8, 16, &c->filesize) ||
		    !parse_num(c->hdr + 94, 8, 16, &c->namesize))
			return rh_seterr(RH_ERR_PARSE, "cpio: malformed newc header");
		/* The other fields must be hex digits too. */
		for (size_t i = 6; i < 110; i++)
			if (!((c->hdr[i] >= '0' && c->hdr[i] <= '9') ||
			      (c->hdr[i] >= 'a' && c->hdr[i] <= 'f') ||
			      (c->hdr[i] >= 'A' && c->hdr[i] <= 'F')))
				return rh_seterr(RH_ERR_PARSE, "cpio: non-hex digit in a newc header");
	}
	if (c->namesize == 0 || c->namesize > RH_INITRAMFS_MAX_NAME + 1)
		return rh_seterr(RH_ERR_TOOBIG, "cpio: name of %llu bytes (limit %u)", c->namesize,
				 RH_INITRAMFS_MAX_NAME);
	c->mode = (unsigned)(mode & 0xffffffffu);
	/* newc pads header+name and the data to multiples of 4. */
	c->name_need = c->odc ? c->namesize : ((110 + c->namesize + 3) & ~(size_t)3) - 110;
	c->name_have = 0;
	c->data_left = c->odc ? c->filesize : (c->filesize + 3) & ~3ull;
	c->state = C_NAME;
	return 0;
}

static int cpio_member(struct cpio *c, struct scanner *sc)
{
	const char *name = c->name;
	int r;

	if (c->name[c->namesize - 1] != '\0' || strlen(c->name) != c->namesize - 1)
		return rh_seterr(RH_ERR_PARSE, "cpio: name not NUL-terminated");
	if (strcmp(name, "TRAILER!!!") == 0) {
		c->trailer = true;
		return 0;
	}
	if (++sc->scan->entries > RH_INITRAMFS_MAX_ENTRIES)
		return rh_seterr(RH_ERR_TOOBIG, "initramfs: more than %u members",
				 RH_INITRAMFS_MAX_ENTRIES);
	while (name[0] == '.' && name[1] == '/')
		name += 2;
	while (name[0] == '/')
		name++;
	if (sc->cb == NULL)
		return 0;
	r = sc->cb(sc->arg, name, c->mode, c->filesize);
	if (r < 0) {
		sc->err = r;
		return r;
	}
	if (r > 0)
		sc->stop = true;
	return 0;
}

/* Consume up to len bytes. *done is set when an archive's trailer (and its
 * padding) has been consumed and `outer` asks to return there. */
static int cpio_feed(struct cpio *c, struct scanner *sc, const uint8_t *buf, size_t len,
		     bool outer, size_t *consumed, bool *done)
{
	size_t i = 0;
	int rc;

	*done = false;
	while (i < len && !sc->stop) {
		switch (c->state) {
		case C_BETWEEN:
			if (buf[i] == 0) {
				i++;
				continue;
			}
			memset(c->hdr, 0, sizeof c->hdr);
			c->hdr_have = 0;
			c->hdr_len = 6;
			c->state = C_HDR;
			break;
		case C_HDR: {
			size_t take = RH_MIN(c->hdr_len - c->hdr_have, len - i);

			memcpy(c->hdr + c->hdr_have, buf + i, take);
			c->hdr_have += take;
			i += take;
			if (c->hdr_have < c->hdr_len)
				break;
			if (c->hdr_len == 6) {
				if (memcmp(c->hdr, "070701", 6) == 0 || memcmp(c->hdr, "070702", 6) == 0) {
					c->odc = false;
					c->hdr_len = 110;
				} else if (memcmp(c->hdr, "070707", 6) == 0) {
					c->odc = true;
					c->hdr_len = 76;
				} else {
					return rh_seterr(RH_ERR_PARSE, "cpio: bad magic");
				}
				break;
			}
			rc = cpio_header(c);
			if (rc < 0)
				return rc;
			break;
		}
		case C_NAME: {
			size_t take = RH_MIN(c->name_need - c->name_have, len - i);
			size_t keep = c->name_have < c->namesize
					      ? RH_MIN(take, c->namesize - c->name_have) : 0;

			memcpy(c->name + c->name_have, buf + i, keep);
			c->name_have += take;
			i += take;
			if (c->name_have < c->name_need)
				break;
			rc = cpio_member(c, sc);
			if (rc < 0)
				return rc;
			c->state = C_DATA;
			if (c->data_left == 0)
				goto data_done;
			break;
		}
		case C_DATA: {
			size_t take = (size_t)RH_MIN((unsigned long long)(len - i), c->data_left);

			c->data_left -= take;
			i += take;
			if (c->data_left > 0)
				break;
data_done:
			if (c->trailer) {
				c->trailer = false;
				c->state = C_BETWEEN;
				if (outer) {
					*consumed = i;
					*done = true;
					return 0;
				}
			} else {
				memset(c->hdr, 0, sizeof c->hdr);
				c->hdr_have = 0;
				c->hdr_len = 6;
				c->state = C_HDR;
			}
			break;
		}
		}
	}
	*consumed = i;
	return 0;
}

static void add_format(struct rh_initramfs_scan *scan, const char *f)
{
	size_t l = strlen(scan->formats);

	snprintf(scan->formats + l, sizeof scan->formats - l, "%s%s", l ? "+" : "", f);
	scan->segments++;
}

static int account(struct scanner *sc, size_t n)
{
	sc->scan->bytes += n;
	if (sc->scan->bytes > RH_INITRAMFS_MAX_OUTPUT)
		return rh_seterr(RH_ERR_TOOBIG, "initramfs: more than %llu decompressed bytes",
				 (unsigned long long)RH_INITRAMFS_MAX_OUTPUT);
	return 0;
}

/* Feed decompressed bytes to the inner parser (which continues across
 * concatenated archives). */
static int inner_feed(struct cpio *c, struct scanner *sc, const uint8_t *buf, size_t n)
{
	size_t used = 0, off = 0;
	bool done;
	int rc;

	rc = account(sc, n);
	while (rc == 0 && off < n && !sc->stop) {
		rc = cpio_feed(c, sc, buf + off, n - off, false, &used, &done);
		off += used;
	}
	return rc;
}

static int inner_end(const struct cpio *c, const struct scanner *sc, const char *fmt)
{
	if (sc->stop || c->state == C_BETWEEN)
		return 0;
	return rh_seterr(RH_ERR_CORRUPT, "initramfs: %s stream ends inside a cpio archive", fmt);
}

static int scan_gzip(const uint8_t *in, size_t len, struct scanner *sc, size_t *consumed)
{
	uint8_t *out = malloc(OUTBUF);
	struct cpio c = { .state = C_BETWEEN };
	z_stream zs;
	int rc = 0, zr;

	if (out == NULL)
		return RH_ERR_NOMEM;
	memset(&zs, 0, sizeof zs);
	if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK) {
		free(out);
		return RH_ERR_NOMEM;
	}
	zs.next_in = (Bytef *)in;
	zs.avail_in = (uInt)RH_MIN(len, (size_t)UINT32_MAX);
	while (rc == 0 && !sc->stop) {
		zs.next_out = out;
		zs.avail_out = OUTBUF;
		zr = inflate(&zs, Z_NO_FLUSH);
		if (zr != Z_OK && zr != Z_STREAM_END && zr != Z_BUF_ERROR) {
			rc = rh_seterr(RH_ERR_CORRUPT, "initramfs: gzip data corrupt near input byte %lu",
				       zs.total_in);
			break;
		}
		rc = inner_feed(&c, sc, out, OUTBUF - zs.avail_out);
		if (rc < 0)
			break;
		if (zr == Z_STREAM_END) {
			/* Concatenated gzip members continue the same stream. */
			if (zs.avail_in >= 2 && zs.next_in[0] == 0x1f && zs.next_in[1] == 0x8b) {
				inflateReset(&zs);
				continue;
			}
			break;
		}
		/* No progress possible with output space left: input ran out. */
		if (zr == Z_BUF_ERROR || (zs.avail_in == 0 && zs.avail_out > 0)) {
			rc = rh_seterr(RH_ERR_CORRUPT, "initramfs: gzip stream truncated");
			break;
		}
	}
	*consumed = zs.total_in;
	if (rc == 0)
		rc = inner_end(&c, sc, "gzip");
	inflateEnd(&zs);
	free(out);
	return rc;
}

static int scan_xz(const uint8_t *in, size_t len, bool alone, struct scanner *sc,
		   size_t *consumed)
{
	uint8_t *out = malloc(OUTBUF);
	struct cpio c = { .state = C_BETWEEN };
	lzma_stream s = LZMA_STREAM_INIT;
	lzma_ret lr;
	int rc = 0;

	if (out == NULL)
		return RH_ERR_NOMEM;
	lr = alone ? lzma_alone_decoder(&s, XZ_MEMLIMIT) : lzma_stream_decoder(&s, XZ_MEMLIMIT, 0);
	if (lr != LZMA_OK) {
		free(out);
		return RH_ERR_NOMEM;
	}
	s.next_in = in;
	s.avail_in = len;
	while (rc == 0 && !sc->stop) {
		s.next_out = out;
		s.avail_out = OUTBUF;
		lr = lzma_code(&s, LZMA_FINISH);
		if (lr != LZMA_OK && lr != LZMA_STREAM_END) {
			rc = rh_seterr(lr == LZMA_MEMLIMIT_ERROR ? RH_ERR_TOOBIG : RH_ERR_CORRUPT,
				       "initramfs: %s data %s near input byte %llu",
				       alone ? "lzma" : "xz",
				       lr == LZMA_MEMLIMIT_ERROR ? "needs too much memory" : "corrupt",
				       (unsigned long long)s.total_in);
			break;
		}
		rc = inner_feed(&c, sc, out, OUTBUF - s.avail_out);
		if (rc < 0 || lr == LZMA_STREAM_END)
			break;
	}
	*consumed = (size_t)s.total_in;
	if (rc == 0)
		rc = inner_end(&c, sc, alone ? "lzma" : "xz");
	lzma_end(&s);
	free(out);
	return rc;
}

static int scan_zstd(const uint8_t *in, size_t len, struct scanner *sc, size_t *consumed)
{
	uint8_t *out = malloc(OUTBUF);
	struct cpio c = { .state = C_BETWEEN };
	ZSTD_DCtx *dctx = ZSTD_createDCtx();
	ZSTD_inBuffer ib = { in, len, 0 };
	int rc = 0;

	if (out == NULL || dctx == NULL) {
		free(out);
		ZSTD_freeDCtx(dctx);
		return RH_ERR_NOMEM;
	}
	while (rc == 0 && !sc->stop) {
		ZSTD_outBuffer ob = { out, OUTBUF, 0 };
		size_t r = ZSTD_decompressStream(dctx, &ob, &ib);

		if (ZSTD_isError(r)) {
			rc = rh_seterr(RH_ERR_CORRUPT, "initramfs: zstd data corrupt near input byte %zu: %s",
				       ib.pos, ZSTD_getErrorName(r));
			break;
		}
		rc = inner_feed(&c, sc, out, ob.pos);
		if (rc < 0)
			break;
		if (r == 0) {
			/* Frame complete: another zstd frame may follow. */
			if (len - ib.pos >= 4 && memcmp(in + ib.pos, "\x28\xb5\x2f\xfd", 4) == 0)
				continue;
			break;
		}
		if (ib.pos == ib.size && ob.pos < ob.size) {
			rc = rh_seterr(RH_ERR_CORRUPT, "initramfs: zstd stream truncated");
			break;
		}
	}
	*consumed = ib.pos;
	if (rc == 0)
		rc = inner_end(&c, sc, "zstd");
	ZSTD_freeDCtx(dctx);
	free(out);
	return rc;
}

int rh_initramfs_scan(const unsigned char *data, size_t len, rh_cpio_cb cb, void *arg,
		      struct rh_initramfs_scan *scan)
{
	struct scanner sc = { .cb = cb, .arg = arg, .scan = scan };
	size_t off = 0;
	int rc = 0;

	memset(scan, 0, sizeof *scan);
	if (len > RH_INITRAMFS_MAX_FILE)
		return rh_seterr(RH_ERR_TOOBIG, "initramfs larger than %llu bytes",
				 (unsigned long long)RH_INITRAMFS_MAX_FILE);
	while (rc == 0 && !sc.stop) {
		const uint8_t *p;
		size_t rest, used = 0;

		while (off < len && data[off] == 0)
			off++;
		if (off >= len)
			break;
		if (scan->segments >= RH_INITRAMFS_MAX_SEGMENTS)
			return rh_seterr(RH_ERR_TOOBIG, "initramfs: more than %u segments",
					 RH_INITRAMFS_MAX_SEGMENTS);
		p = data + off;
		rest = len - off;
		if (rest >= 6 && memcmp(p, "07070", 5) == 0) {
			struct cpio c = { .state = C_BETWEEN };
			bool done = false;

			add_format(scan, "cpio");
			rc = cpio_feed(&c, &sc, p, rest, true, &used, &done);
			if (rc == 0 && !done && !sc.stop)
				rc = rh_seterr(RH_ERR_CORRUPT, "initramfs: cpio archive at offset %zu is truncated",
					       off);
			if (rc == 0)
				rc = account(&sc, used);
		} else if (rest >= 2 && p[0] == 0x1f && p[1] == 0x8b) {
			add_format(scan, "gzip");
			rc = scan_gzip(p, rest, &sc, &used);
		} else if (rest >= 6 && memcmp(p, "\xfd" "7zXZ\0", 6) == 0) {
			add_format(scan, "xz");
			rc = scan_xz(p, rest, false, &sc, &used);
		} else if (rest >= 3 && p[0] == 0x5d && p[1] == 0 && p[2] == 0) {
			add_format(scan, "lzma");
			rc = scan_xz(p, rest, true, &sc, &used);
		} else if (rest >= 4 && memcmp(p, "\x28\xb5\x2f\xfd", 4) == 0) {
			add_format(scan, "zstd");
			rc = scan_zstd(p, rest, &sc, &used);
		} else if ((rest >= 4 && memcmp(p, "\x02\x21\x4c\x18", 4) == 0) ||
			   (rest >= 3 && memcmp(p, "BZh", 3) == 0) ||
			   (rest >= 4 && memcmp(p, "\x89LZO", 4) == 0)) {
			add_format(scan, p[0] == 0x02 ? "lz4" : p[0] == 'B' ? "bzip2" : "lzo");
			return rh_seterr(RH_ERR_UNSUPPORTED,
					 "initramfs: %s compression at offset %zu is not supported",
					 p[0] == 0x02 ? "lz4" : p[0] == 'B' ? "bzip2" : "lzo", off);
		} else {
			return rh_seterr(RH_ERR_PARSE, "initramfs: unknown data at offset %zu", off);
		}
		if (rc == 0 && used == 0)
			rc = rh_seterr(RH_ERR_CORRUPT, "initramfs: empty segment at offset %zu", off);
		off += used;
	}
	if (rc == 0 && sc.err < 0)
		rc = sc.err;
	if (rc == 0 && scan->segments == 0)
		rc = rh_seterr(RH_ERR_PARSE, "initramfs: empty image");
	scan->stopped = sc.stop;
	return rc;
}
