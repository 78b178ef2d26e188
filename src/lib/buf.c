/* Bounded growable buffer and parsing cursor; see rehost/buf.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rehost/buf.h"
#include "rehost/checked.h"
#include "rehost/endian.h"
#include "rehost/err.h"

/* First allocation; small buffers (one frame header, one log line) fit. */
#define BUF_MIN_ALLOC 256

struct rh_buf {
	uint8_t *d;   /* owned; NULL until the first append */
	size_t len;   /* bytes held; d[len] is always NUL once d exists */
	size_t alloc; /* bytes allocated at d, at most max + 1 */
	size_t max;   /* fixed bound on len */
};

int rh_buf_new(size_t max, struct rh_buf **out)
{
	struct rh_buf *b;

	*out = NULL;
	if (max == 0 || max > SIZE_MAX / 2)
		return rh_seterr(RH_ERR_INVAL, "buffer maximum %zu out of range", max);
	b = calloc(1, sizeof *b);
	if (b == NULL)
		return RH_ERR_NOMEM;
	b->max = max;
	*out = b;
	return 0;
}

void rh_buf_free(struct rh_buf *b)
{
	if (b == NULL)
		return;
	free(b->d);
	free(b);
}

void rh_buf_reset(struct rh_buf *b)
{
	b->len = 0;
	if (b->d != NULL)
		b->d[0] = '\0';
}

size_t rh_buf_len(const struct rh_buf *b)
{
	return b->len;
}

size_t rh_buf_max(const struct rh_buf *b)
{
	return b->max;
}

size_t rh_buf_avail(const struct rh_buf *b)
{
	return b->max - b->len;
}

const uint8_t *rh_buf_data(const struct rh_buf *b)
{
	return b->d != NULL ? b->d : (const uint8_t *)"";
}

const char *rh_buf_str(const struct rh_buf *b)
{
	return (const char *)rh_buf_data(b);
}

/* Make room for n more bytes plus the NUL, without changing len. */
static int buf_grow(struct rh_buf *b, size_t n)
{
	size_t need, alloc;
	uint8_t *d;

	if (RH_ADD_OVERFLOW(b->len, n, &need) || need > b->max)
		return rh_seterr(RH_ERR_TOOBIG,
				 "buffer limit: %zu + %zu bytes exceeds %zu",
				 b->len, n, b->max);
	need++; /* the NUL; max <= SIZE_MAX / 2 so this cannot wrap */
	if (need <= b->alloc)
		return 0;
	/* Doubling keeps appends amortised O(1); max + 1 caps it. */
	alloc = b->alloc > 0 ? b->alloc : BUF_MIN_ALLOC;
	while (alloc < need)
		alloc *= 2; /* alloc < need <= SIZE_MAX / 2 + 1: no wrap */
	alloc = RH_MIN(alloc, b->max + 1);
	d = realloc(b->d, alloc);
	if (d == NULL)
		return RH_ERR_NOMEM;
	b->d = d;
	b->alloc = alloc;
	return 0;
}

int rh_buf_reserve(struct rh_buf *b, size_t n, uint8_t **out)
{
	int rc;

	*out = NULL;
	rc = buf_grow(b, n);
	if (rc < 0)
		return rc;
	*out = b->d + b->len;
	b->len += n;
	b->d[b->len] = '\0';
	return 0;
}

int rh_buf_put(struct rh_buf *b, const void *data, size_t n)
{
	uint8_t *p;
	int rc;

	rc = rh_buf_reserve(b, n, &p);
	if (rc < 0)
		return rc;
	if (n > 0)
		memcpy(p, data, n);
	return 0;
}

int rh_buf_put_u8(struct rh_buf *b, uint8_t v)
{
	return rh_buf_put(b, &v, 1);
}

#define DEFINE_PUT(name, type, enc) \
	int rh_buf_put_##name(struct rh_buf *b, type v) \
	{ \
		uint8_t tmp[sizeof(type)]; \
\
		enc(tmp, v); \
		return rh_buf_put(b, tmp, sizeof tmp); \
	}

DEFINE_PUT(le16, uint16_t, rh_le16enc)
DEFINE_PUT(le32, uint32_t, rh_le32enc)
DEFINE_PUT(le64, uint64_t, rh_le64enc)
DEFINE_PUT(be16, uint16_t, rh_be16enc)
DEFINE_PUT(be32, uint32_t, rh_be32enc)
DEFINE_PUT(be64, uint64_t, rh_be64enc)

int rh_buf_vputf(struct rh_buf *b, const char *fmt, va_list ap)
{
	va_list ap2;
	int n;
	int rc;

	/* Measure first so that a too-long result leaves b untouched. */
	va_copy(ap2, ap);
	n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n < 0)
		return rh_seterr(RH_ERR_INVAL, "buffer: bad format '%s'", fmt);
	rc = buf_grow(b, (size_t)n);
	if (rc < 0)
		return rc;
	/* buf_grow left room for n bytes and the NUL. */
	vsnprintf((char *)b->d + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
	return 0;
}

int rh_buf_putf(struct rh_buf *b, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = rh_buf_vputf(b, fmt, ap);
	va_end(ap);
	return rc;
}

int rh_buf_truncate(struct rh_buf *b, size_t len)
{
	if (len > b->len)
		return rh_seterr(RH_ERR_INVAL, "buffer: truncate to %zu > length %zu",
				 len, b->len);
	b->len = len;
	if (b->d != NULL)
		b->d[len] = '\0';
	return 0;
}

int rh_buf_consume(struct rh_buf *b, size_t n)
{
	if (n > b->len)
		return rh_seterr(RH_ERR_INVAL, "buffer: consume %zu > length %zu",
				 n, b->len);
	if (n == 0)
		return 0;
	/* + 1 moves the NUL too. */
	memmove(b->d, b->d + n, b->len - n + 1);
	b->len -= n;
	return 0;
}

void rh_buf_cursor_init(struct rh_buf_cursor *c, const void *data, size_t len)
{
	c->p = data;
	c->left = c->p != NULL ? len : 0;
}

size_t rh_buf_remaining(const struct rh_buf_cursor *c)
{
	return c->left;
}

static int short_data(const struct rh_buf_cursor *c, size_t n)
{
	return rh_seterr(RH_ERR_PARSE, "short data: need %zu bytes, %zu left",
			 n, c->left);
}

int rh_buf_get_bytes(struct rh_buf_cursor *c, size_t n, const uint8_t **out)
{
	*out = NULL;
	if (n > c->left)
		return short_data(c, n);
	*out = c->p;
	if (n > 0) {
		c->p += n;
		c->left -= n;
	}
	return 0;
}

int rh_buf_get_copy(struct rh_buf_cursor *c, void *dst, size_t n)
{
	const uint8_t *p;
	int rc;

	rc = rh_buf_get_bytes(c, n, &p);
	if (n == 0)
		return rc;
	if (rc < 0)
		memset(dst, 0, n);
	else
		memcpy(dst, p, n);
	return rc;
}

int rh_buf_skip(struct rh_buf_cursor *c, size_t n)
{
	const uint8_t *p;

	return rh_buf_get_bytes(c, n, &p);
}

int rh_buf_get_u8(struct rh_buf_cursor *c, uint8_t *out)
{
	const uint8_t *p;
	int rc;

	*out = 0;
	rc = rh_buf_get_bytes(c, 1, &p);
	if (rc == 0)
		*out = *p;
	return rc;
}

#define DEFINE_GET(name, type, dec) \
	int rh_buf_get_##name(struct rh_buf_cursor *c, type *out) \
	{ \
		const uint8_t *p; \
		int rc; \
\
		*out = 0; \
		rc = rh_buf_get_bytes(c, sizeof(type), &p); \
		if (rc == 0) \
			*out = dec(p); \
		return rc; \
	}

DEFINE_GET(le16, uint16_t, rh_le16dec)
DEFINE_GET(le32, uint32_t, rh_le32dec)
DEFINE_GET(le64, uint64_t, rh_le64dec)
DEFINE_GET(be16, uint16_t, rh_be16dec)
DEFINE_GET(be32, uint32_t, rh_be32dec)
DEFINE_GET(be64, uint64_t, rh_be64dec)
