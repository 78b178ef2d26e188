/* Sorted, merged extent lists with bounded memory (see rehost/extent.h). */
#include <stdlib.h>
#include <string.h>

#include "rehost/checked.h"
#include "rehost/err.h"
#include "rehost/extent.h"

struct rh_extents {
	uint64_t size;        /* volume size in bytes, > 0 */
	uint64_t gran;        /* granularity in bytes, power of two, >= 1 */
	struct rh_extent *v;  /* n extents, sorted; cap allocated */
	size_t n, cap;
	size_t limit;         /* maximum n */
	uint64_t used;        /* sum of v[i].len */
};

/* Smallest granularity used when a byte-exact list has to coarsen. */
#define EXTENTS_MIN_COARSE 512u

static inline uint64_t ext_end(const struct rh_extent *e)
{
	return e->off + e->len; /* never overflows: end <= size */
}

int rh_extents_new(uint64_t size, uint64_t granularity, struct rh_extents **out)
{
	struct rh_extents *x;

	*out = NULL;
	if (size == 0)
		return rh_seterr(RH_ERR_INVAL, "extent list: volume size is 0");
	if (granularity == 0)
		granularity = 1;
	if ((granularity & (granularity - 1)) != 0)
		return rh_seterr(RH_ERR_INVAL, "extent list: granularity %llu is not a power of two",
				 (unsigned long long)granularity);
	x = calloc(1, sizeof *x);
	if (x == NULL)
		return RH_ERR_NOMEM;
	x->size = size;
	x->gran = granularity;
	x->limit = RH_EXTENTS_DEFAULT_LIMIT;
	*out = x;
	return 0;
}

void rh_extents_free(struct rh_extents *x)
{
	if (x == NULL)
		return;
	free(x->v);
	free(x);
}

void rh_extents_clear(struct rh_extents *x)
{
	x->n = 0;
	x->used = 0;
}

/* Round [*s, *e) outwards to granularity g, clipped to size. */
static void round_range(uint64_t g, uint64_t size, uint64_t *s, uint64_t *e)
{
	uint64_t up;

	if (g <= 1)
		return;
	*s &= ~(g - 1);
	if (!rh_align_up(*e, g, &up) || up > size)
		up = size;
	*e = up;
}

/* Double the granularity until at most half the limit of extents remain,
 * merging extents that come to touch. Never allocates. */
static void coarsen(struct rh_extents *x)
{
	while (x->n > x->limit / 2 && x->gran < x->size && x->gran <= UINT64_MAX / 4) {
		size_t w = 0;

		x->gran = x->gran < EXTENTS_MIN_COARSE ? EXTENTS_MIN_COARSE : x->gran * 2;
		x->used = 0;
		for (size_t r = 0; r < x->n; r++) {
			uint64_t s = x->v[r].off, e = ext_end(&x->v[r]);

			round_range(x->gran, x->size, &s, &e);
			if (w > 0 && s <= ext_end(&x->v[w - 1])) {
				struct rh_extent *p = &x->v[w - 1];

				if (e > ext_end(p))
					p->len = e - p->off;
			} else {
				x->v[w].off = s;
				x->v[w].len = e - s;
				w++;
			}
		}
		x->n = w;
		for (size_t i = 0; i < x->n; i++)
			x->used += x->v[i].len;
	}
	if (x->n > x->limit / 2) {
		/* Granularity cannot grow any more: keep one covering extent. */
		x->v[0].len = ext_end(&x->v[x->n - 1]) - x->v[0].off;
		x->n = 1;
		x->used = x->v[0].len;
	}
}

int rh_extents_set_limit(struct rh_extents *x, size_t limit)
{
	if (limit < 2)
		return rh_seterr(RH_ERR_INVAL, "extent list: limit %zu is below 2", limit);
	x->limit = limit;
	if (x->n > limit)
		coarsen(x);
	return 0;
}

/* Make room for one more extent. Returns 0, or RH_ERR_NOMEM with the list
 * unchanged, or 1 when the list is at its limit and must coarsen first. */
static int reserve_one(struct rh_extents *x)
{
	struct rh_extent *nv;
	size_t ncap;

	if (x->n < x->cap)
		return 0;
	if (x->n >= x->limit)
		return 1;
	ncap = x->cap ? x->cap * 2 : 16;
	if (ncap > x->limit)
		ncap = x->limit;
	nv = realloc(x->v, ncap * sizeof *nv);
	if (nv == NULL)
		return RH_ERR_NOMEM;
	x->v = nv;
	x->cap = ncap;
	return 0;
}

/* First index whose extent ends at or after off (touching counts). */
static size_t find_touch(const struct rh_extents *x, uint64_t off)
{
	size_t lo = 0, hi = x->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (ext_end(&x->v[mid]) < off)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Insert [s, e) (already rounded, inside the volume, s < e). */
static int insert_range(struct rh_extents *x, uint64_t s, uint64_t e)
{
	size_t i, j;

	for (;;) {
		struct rh_extent *last = x->n ? &x->v[x->n - 1] : NULL;
		int rc;

		/* Fast paths: ascending additions. */
		if (last != NULL && s >= last->off && s <= ext_end(last)) {
			if (e > ext_end(last)) {
				x->used += e - ext_end(last);
				last->len = e - last->off;
			}
			return 0;
		}
		i = find_touch(x, s);
		j = i;
		while (j < x->n && x->v[j].off <= e)
			j++;
		if (i < j)
			break; /* merges with existing extents: no new slot */
		rc = reserve_one(x);
		if (rc < 0)
			return rc;
		if (rc == 0) {
			memmove(&x->v[i + 1], &x->v[i], (x->n - i) * sizeof *x->v);
			x->v[i].off = s;
			x->v[i].len = e - s;
			x->n++;
			x->used += e - s;
			return 0;
		}
		coarsen(x);
		round_range(x->gran, x->size, &s, &e);
	}
	/* [i, j) touch [s, e): replace them by their union. */
	{
		uint64_t ns = RH_MIN(s, x->v[i].off);
		uint64_t ne = RH_MAX(e, ext_end(&x->v[j - 1]));

		for (size_t k = i; k < j; k++)
			x->used -= x->v[k].len;
		x->v[i].off = ns;
		x->v[i].len = ne - ns;
		x->used += ne - ns;
		memmove(&x->v[i + 1], &x->v[j], (x->n - j) * sizeof *x->v);
		x->n -= j - i - 1;
	}
	return 0;
}

int rh_extents_add(struct rh_extents *x, uint64_t off, uint64_t len)
{
	uint64_t s = off, e;

	if (len == 0)
		return 0;
	if (!rh_range_ok(off, len, x->size))
		return rh_seterr(RH_ERR_RANGE,
				 "extent [%llu, +%llu) is outside the %llu-byte volume",
				 (unsigned long long)off, (unsigned long long)len,
				 (unsigned long long)x->size);
	e = off + len;
	round_range(x->gran, x->size, &s, &e);
	return insert_range(x, s, e);
}

int rh_extents_add_all(struct rh_extents *x)
{
	return rh_extents_add(x, 0, x->size);
}

int rh_extents_add_list(struct rh_extents *x, const struct rh_extents *src, uint64_t delta)
{
	for (size_t i = 0; i < src->n; i++) {
		uint64_t off;
		int rc;

		if (RH_ADD_OVERFLOW(src->v[i].off, delta, &off))
			return rh_seterr(RH_ERR_RANGE, "extent list: shifted extent overflows");
		rc = rh_extents_add(x, off, src->v[i].len);
		if (rc < 0)
			return rc;
	}
	return 0;
}

uint64_t rh_extents_size(const struct rh_extents *x)
{
	return x->size;
}

uint64_t rh_extents_granularity(const struct rh_extents *x)
{
	return x->gran;
}

size_t rh_extents_count(const struct rh_extents *x)
{
	return x->n;
}

uint64_t rh_extents_used(const struct rh_extents *x)
{
	return x->used;
}

const struct rh_extent *rh_extents_get(const struct rh_extents *x, size_t i)
{
	return i < x->n ? &x->v[i] : NULL;
}

size_t rh_extents_find(const struct rh_extents *x, uint64_t off)
{
	size_t lo = 0, hi = x->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (ext_end(&x->v[mid]) <= off)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* End of the window [start, start + len), saturated and clipped to size. */
static uint64_t window_end(const struct rh_extents *x, uint64_t start, uint64_t len)
{
	uint64_t end;

	if (RH_ADD_OVERFLOW(start, len, &end))
		end = UINT64_MAX;
	return RH_MIN(end, x->size);
}

int rh_extents_foreach(const struct rh_extents *x, uint64_t start, uint64_t len,
		       int (*fn)(void *ctx, uint64_t off, uint64_t len), void *ctx)
{
	uint64_t end = window_end(x, start, len);

	for (size_t i = rh_extents_find(x, start); i < x->n && x->v[i].off < end; i++) {
		uint64_t s = RH_MAX(x->v[i].off, start);
		uint64_t e = RH_MIN(ext_end(&x->v[i]), end);
		int rc = fn(ctx, s, e - s);

		if (rc != 0)
			return rc;
	}
	return 0;
}

static int sum_cb(void *ctx, uint64_t off, uint64_t len)
{
	*(uint64_t *)ctx += len;
	return 0;
}

uint64_t rh_extents_used_in(const struct rh_extents *x, uint64_t start, uint64_t len)
{
	uint64_t sum = 0;

	rh_extents_foreach(x, start, len, sum_cb, &sum);
	return sum;
}

bool rh_extents_test(const struct rh_extents *x, uint64_t off, uint64_t len)
{
	size_t i;

	if (len == 0)
		return false;
	i = rh_extents_find(x, off);
	return i < x->n && x->v[i].off < window_end(x, off, len);
}

static int add_cb(void *ctx, uint64_t off, uint64_t len)
{
	return rh_extents_add(ctx, off, len);
}

int rh_extents_intersect(const struct rh_extents *x, uint64_t start, uint64_t len,
			 struct rh_extents **out)
{
	struct rh_extents *r = NULL;
	int rc;

	*out = NULL;
	rc = rh_extents_new(x->size, 1, &r);
	if (rc < 0)
		return rc;
	r->limit = RH_MAX(x->limit, (size_t)2);
	rc = rh_extents_foreach(x, start, len, add_cb, r);
	if (rc < 0) {
		rh_extents_free(r);
		return rc;
	}
	*out = r;
	return 0;
}

int rh_extents_complement(const struct rh_extents *x, struct rh_extents **out)
{
	struct rh_extents *r = NULL;
	uint64_t cur = 0;
	int rc;

	*out = NULL;
	rc = rh_extents_new(x->size, 1, &r);
	if (rc < 0)
		return rc;
	r->limit = RH_MAX(x->limit, x->n + 1);
	for (size_t i = 0; i <= x->n; i++) {
		uint64_t next = i < x->n ? x->v[i].off : x->size;

		if (next > cur && (rc = rh_extents_add(r, cur, next - cur)) < 0) {
			rh_extents_free(r);
			return rc;
		}
		if (i < x->n)
			cur = ext_end(&x->v[i]);
	}
	*out = r;
	return 0;
}

/* Refuse chunk bitmaps above 1 GiB (8 Gi chunks). */
#define EXTENTS_MAX_BITMAP_BYTES (1ull << 30)

int rh_extents_to_bitmap(const struct rh_extents *x, uint64_t chunk, uint8_t **bits,
			 uint64_t *nchunks)
{
	uint64_t n, bytes;
	uint8_t *b;

	*bits = NULL;
	*nchunks = 0;
	if (chunk == 0)
		return rh_seterr(RH_ERR_INVAL, "chunk bitmap: chunk size is 0");
	n = x->size / chunk + (x->size % chunk != 0);
	bytes = n / 8 + (n % 8 != 0);
	if (bytes > EXTENTS_MAX_BITMAP_BYTES)
		return rh_seterr(RH_ERR_TOOBIG, "chunk bitmap: %llu chunks of %llu bytes is too many",
				 (unsigned long long)n, (unsigned long long)chunk);
	b = calloc(1, (size_t)bytes);
	if (b == NULL)
		return RH_ERR_NOMEM;
	for (size_t i = 0; i < x->n; i++) {
		uint64_t first = x->v[i].off / chunk;
		uint64_t last = (ext_end(&x->v[i]) - 1) / chunk;
		uint64_t c = first;

		for (; c <= last && c % 8 != 0; c++)
			b[c / 8] |= (uint8_t)(1u << (c % 8));
		if (c + 8 <= last + 1) {
			uint64_t nb = (last + 1 - c) / 8;

			memset(&b[c / 8], 0xff, (size_t)nb);
			c += nb * 8;
		}
		for (; c <= last; c++)
			b[c / 8] |= (uint8_t)(1u << (c % 8));
	}
	*bits = b;
	*nchunks = n;
	return 0;
}
