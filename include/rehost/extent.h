/*
 * Extent lists: a sorted, merged set of byte ranges inside a volume of a
 * fixed size. The used-block maps (rehost/usedmap.h) are extent lists, and
 * the copier turns them into chunk bitmaps.
 *
 * Invariants, kept by every function that modifies a list (never by lazy
 * normalisation, so a list may be read from several threads at once):
 *   - extents are sorted by offset, non-empty, and neither overlap nor touch
 *     (two adjacent ranges are merged into one);
 *   - every extent lies inside [0, size);
 *   - with a granularity g > 1, every extent starts at a multiple of g and
 *     ends at a multiple of g or at size.
 *
 * Memory is bounded: a list holds at most a limit of extents (default
 * RH_EXTENTS_DEFAULT_LIMIT). When an addition would exceed it, the list
 * coarsens itself - it doubles its granularity and merges the extents that
 * now touch - so the set can only grow (a superset of what was added; safe
 * for copying) and memory never exceeds the limit.
 */
#ifndef REHOST_EXTENT_H
#define REHOST_EXTENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One byte range [off, off + len). */
struct rh_extent {
	uint64_t off; /* bytes from the volume start */
	uint64_t len; /* bytes, > 0 inside a list */
};

struct rh_extents;

/* Default maximum number of extents: 4 Mi extents = 64 MiB. */
#define RH_EXTENTS_DEFAULT_LIMIT (4u << 20)

/* Create an empty list for a volume of size bytes (> 0). granularity is 0
 * or 1 for byte-exact extents, or a power of two to which every extent is
 * rounded outwards. On success *out is a new list the caller frees with
 * rh_extents_free. Returns 0, RH_ERR_INVAL or RH_ERR_NOMEM. */
int rh_extents_new(uint64_t size, uint64_t granularity, struct rh_extents **out);

/* Free a list; NULL is accepted. */
void rh_extents_free(struct rh_extents *x);

/* Remove every extent (size, granularity and limit stay). */
void rh_extents_clear(struct rh_extents *x);

/* Change the maximum number of extents (>= 2; for tests and for callers
 * that want a tighter memory bound). Coarsens at once if needed. Returns 0
 * or RH_ERR_INVAL. */
int rh_extents_set_limit(struct rh_extents *x, size_t limit);

/* Mark [off, off + len) used. len 0 is a no-op. The range must lie inside
 * the volume: RH_ERR_RANGE otherwise (the list is then unchanged). O(1)
 * amortised when ranges are added in ascending order, O(n) otherwise.
 * Returns 0, RH_ERR_RANGE or RH_ERR_NOMEM (list unchanged). */
int rh_extents_add(struct rh_extents *x, uint64_t off, uint64_t len);

/* Mark the whole volume used. Returns 0 or RH_ERR_NOMEM. */
int rh_extents_add_all(struct rh_extents *x);

/* Add every extent of src, shifted by delta bytes (src's [0, size) maps to
 * x's [delta, delta + src size)). Returns 0, RH_ERR_RANGE (does not fit;
 * x may then hold part of src) or RH_ERR_NOMEM. */
int rh_extents_add_list(struct rh_extents *x, const struct rh_extents *src, uint64_t delta);

/* Volume size, current granularity (1 when exact; it grows when the list
 * coarsens), number of extents, and total used bytes. */
uint64_t rh_extents_size(const struct rh_extents *x);
uint64_t rh_extents_granularity(const struct rh_extents *x);
size_t rh_extents_count(const struct rh_extents *x);
uint64_t rh_extents_used(const struct rh_extents *x);

/* Extent i (0 <= i < count), in ascending order. Borrowed; valid until the
 * list is next modified or freed. NULL when i is out of range. */
const struct rh_extent *rh_extents_get(const struct rh_extents *x, size_t i);

/* Index of the first extent that ends after off (the one containing off,
 * or the next one); rh_extents_count() when there is none. O(log n). */
size_t rh_extents_find(const struct rh_extents *x, uint64_t off);

/* Whether any byte of [off, off + len) is used (false for len 0). */
bool rh_extents_test(const struct rh_extents *x, uint64_t off, uint64_t len);

/* Used bytes inside the window [start, start + len), clipped to the
 * volume. */
uint64_t rh_extents_used_in(const struct rh_extents *x, uint64_t start, uint64_t len);

/* Call fn(ctx, off, len) for each used range inside the window [start,
 * start + len), clipped to the window, in ascending order. Stops at the
 * first non-zero return of fn and returns it; returns 0 otherwise. */
int rh_extents_foreach(const struct rh_extents *x, uint64_t start, uint64_t len,
		       int (*fn)(void *ctx, uint64_t off, uint64_t len), void *ctx);

/* A new list holding x intersected with [start, start + len), in the same
 * coordinates as x (same size and granularity). Caller frees *out with
 * rh_extents_free. Returns 0, RH_ERR_INVAL or RH_ERR_NOMEM. */
int rh_extents_intersect(const struct rh_extents *x, uint64_t start, uint64_t len,
			 struct rh_extents **out);

/* A new exact list holding the complement of x in [0, size). Caller frees
 * *out with rh_extents_free. Returns 0 or RH_ERR_NOMEM. */
int rh_extents_complement(const struct rh_extents *x, struct rh_extents **out);

/* Chunk bitmap: chunk i covers [i * chunk, (i + 1) * chunk) (the last one
 * may be short) and is set when any byte in it is used. Bit i is bit
 * (i % 8) of byte i / 8. *nchunks = ceil(size / chunk). *bits is a new
 * array of ceil(*nchunks / 8) bytes the caller frees with free(). Returns
 * 0, RH_ERR_INVAL (chunk 0), RH_ERR_TOOBIG or RH_ERR_NOMEM. */
int rh_extents_to_bitmap(const struct rh_extents *x, uint64_t chunk, uint8_t **bits,
			 uint64_t *nchunks);

/* Bit i of a chunk bitmap made by rh_extents_to_bitmap. */
static inline bool rh_bitmap_test(const uint8_t *bits, uint64_t i)
{
	return (bits[i / 8] >> (i % 8)) & 1;
}

#endif
