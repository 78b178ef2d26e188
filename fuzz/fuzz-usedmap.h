/*
 * Shared body of the fuzz-usedmap-*.c targets.
 *
 * An input describes a sparse volume, so that a few KB can hold the
 * metadata of a real multi-hundred-MB filesystem (the corpus files are
 * recorded from real mkfs output by tests/unit/test-usedmap-fs.c with
 * REHOST_USEDMAP_CORPUS=DIR):
 *
 *   0   "RHUM"
 *   4   u8  filesystem type (enum rh_fstype; 0 = probe)
 *   5   u8  reserved
 *   6   u16 reserved
 *   8   u64 volume size in bytes (little-endian; capped at 4 GiB here)
 *   16  records until the end: u64 offset, u32 length, length bytes
 *
 * Bytes no record covers read as zero. Build the library with
 * -DFUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION to skip metadata checksums,
 * so that mutations get past them.
 *
 * Bytes no record covers read as zero. The target builds the map twice,
 * strictly and with RH_USEDMAP_FALLBACK_ALL, and checks that a success
 * yields a well-formed extent list and a failure explains itself.
 */
#ifndef REHOST_FUZZ_USEDMAP_H
#define REHOST_FUZZ_USEDMAP_H

#include <assert.h>
#include <stdint.h>
#include <string.h>

#include "rehost/endian.h"
#include "rehost/err.h"
#include "rehost/extent.h"
#include "rehost/log.h"
#include "rehost/usedmap.h"

#define FUZZ_USEDMAP_HDR 16
#define FUZZ_USEDMAP_MAX_VOL (4ull << 30)

struct fuzz_vol {
	const uint8_t *data;
	size_t size;
};

static int fuzz_vol_read(void *ctx, void *buf, size_t len, uint64_t off)
{
	const struct fuzz_vol *v = ctx;
	size_t pos = FUZZ_USEDMAP_HDR;

	memset(buf, 0, len);
	while (v->size - pos >= 12) {
		uint64_t roff = rh_le64dec(v->data + pos);
		uint32_t rlen = rh_le32dec(v->data + pos + 8);
		uint64_t lo, hi;

		pos += 12;
		if (rlen > v->size - pos)
			rlen = (uint32_t)(v->size - pos);
		/* Overlap of [roff, roff + rlen) with [off, off + len). */
		lo = roff > off ? roff : off;
		hi = roff + rlen < roff ? UINT64_MAX : roff + rlen;
		if (hi > off + len)
			hi = off + len;
		if (lo < hi)
			memcpy((uint8_t *)buf + (lo - off), v->data + pos + (lo - roff), hi - lo);
		pos += rlen;
	}
	return 0;
}

static void fuzz_usedmap_check(const struct rh_usedmap *m, uint64_t size)
{
	const struct rh_extents *x = rh_usedmap_extents(m);
	uint64_t sum = 0, prev_end = 0;

	assert(rh_usedmap_size(m) == size);
	for (size_t i = 0; i < rh_extents_count(x); i++) {
		const struct rh_extent *e = rh_extents_get(x, i);

		assert(e->len > 0 && e->off + e->len <= size && e->off + e->len > e->off);
		assert(i == 0 || e->off > prev_end);
		prev_end = e->off + e->len;
		sum += e->len;
	}
	assert(sum == rh_usedmap_used(m) && sum <= size);
	for (size_t i = 0; i < rh_usedmap_lv_count(m); i++) {
		struct rh_usedmap_lv lv;

		assert(rh_usedmap_lv(m, i, &lv) == 0);
		assert(lv.name != NULL);
	}
	assert(rh_usedmap_note(m) != NULL);
	if (rh_usedmap_fallback(m))
		assert(rh_usedmap_zero_detect(m));
}

static int fuzz_usedmap_one(const uint8_t *data, size_t size, int forced)
{
	struct fuzz_vol v = { data, size };
	struct rh_usedmap_opts o = { 0, 0, RH_FS_AUTO };
	struct rh_usedmap *m = NULL;
	uint64_t vsize;
	int rc;

	rh_log_set_level(RH_LOG_ERROR); /* fallback warnings are expected */
	if (size < FUZZ_USEDMAP_HDR || memcmp(data, "RHUM", 4) != 0)
		return 0;
	vsize = rh_le64dec(data + 8);
	if (vsize == 0 || vsize > FUZZ_USEDMAP_MAX_VOL)
		return 0;
	o.fstype = forced >= 0 ? (enum rh_fstype)forced : (enum rh_fstype)(data[4] % 8);

	rc = rh_usedmap_build_reader(fuzz_vol_read, &v, vsize, &o, &m);
	if (rc == 0) {
		fuzz_usedmap_check(m, vsize);
		rh_usedmap_free(m);
	} else {
		assert(rc == RH_ERR_CORRUPT || rc == RH_ERR_UNSUPPORTED || rc == RH_ERR_PARSE ||
		       rc == RH_ERR_RANGE || rc == RH_ERR_OVERFLOW || rc == RH_ERR_TOOBIG ||
		       rc == RH_ERR_NOMEM);
		assert(m == NULL);
		assert(rh_lasterr()[0] != '\0' || rc == RH_ERR_NOMEM);
	}

	/* With the fallback policy only running out of memory may fail. */
	o.flags = RH_USEDMAP_FALLBACK_ALL;
	rc = rh_usedmap_build_reader(fuzz_vol_read, &v, vsize, &o, &m);
	assert(rc == 0 || rc == RH_ERR_NOMEM);
	if (rc == 0) {
		fuzz_usedmap_check(m, vsize);
		rh_usedmap_free(m);
	}
	return 0;
}

#endif
