/* Linux swap: the header page (signature, version, last page), decoded in
 * swap_decode and validated for the map in swap_validate. Its size is
 * (last page + 1) pages and none of it counts as used data. In the
 * used-block map only the header page (signature, version, UUID, label)
 * matters; the rest is scratch space the target's kernel rewrites. A swap
 * area holding a hibernation image is all used, since resuming from it
 * needs every page. */
#define RH_LOG_COMPONENT "usedmap"
#include <stdlib.h>
#include <string.h>

#include "fs/fs-internal.h"
#include "rehost/checked.h"
#include "rehost/endian.h"
#include "rehost/err.h"

static const uint32_t swap_page_sizes[] = { 4096, 8192, 16384, 32768, 65536 };

enum swap_kind { SWAP_NONE, SWAP_AREA, SWAP_SUSPEND };

/* The signature sits in the last 10 bytes of the first page. */
static enum swap_kind swap_sig(const uint8_t *first, size_t len, uint32_t *pagesize)
{
	static const char *const suspend[] = { "S1SUSPEND", "S2SUSPEND", "ULSUSPEND",
					       "\xed\xc3\x02\xe9\x98\x56\xe5\x0c", "LINHIB0001" };

	*pagesize = 0;
	for (size_t i = 0; i < RH_ARRAY_SIZE(swap_page_sizes); i++) {
		uint32_t ps = swap_page_sizes[i];
		const uint8_t *sig;

		if (len < ps)
			break;
		sig = first + ps - 10;
		*pagesize = ps;
		if (memcmp(sig, "SWAPSPACE2", 10) == 0 || memcmp(sig, "SWAP-SPACE", 10) == 0)
			return SWAP_AREA;
		for (size_t k = 0; k < RH_ARRAY_SIZE(suspend); k++)
			if (memcmp(sig, suspend[k], strlen(suspend[k])) == 0)
				return SWAP_SUSPEND;
	}
	*pagesize = 0;
	return SWAP_NONE;
}

/* The header's version and last page, in the byte order of the machine
 * that wrote it (a big-endian header reads as version 0x01000000). */
static void swap_decode(const uint8_t *first, uint32_t *version, uint32_t *last)
{
	*version = rh_le32dec(first + 1024);
	*last = rh_le32dec(first + 1028);
	if (*version == 0x01000000u) {
		*version = 1;
		*last = rh_be32dec(first + 1028);
	}
}

/* Validate a SWAPSPACE2 header: version 1 (either byte order) and a last
 * page that fits the volume. vol_size 0 skips the size check. */
static int swap_validate(const uint8_t *first, uint32_t pagesize, uint64_t vol_size)
{
	uint32_t version, last;

	if (memcmp(first + pagesize - 10, "SWAP-SPACE", 10) == 0)
		return 0; /* old v0 format: a bitmap page, nothing to check */
	swap_decode(first, &version, &last);
	if (version != 1)
		return rh_seterr(RH_ERR_UNSUPPORTED, "swap: header version %u", version);
	if (last == 0 || (vol_size != 0 && ((uint64_t)last + 1) * pagesize > vol_size))
		return rh_seterr(RH_ERR_CORRUPT, "swap: last page %u does not fit the volume", last);
	return 0;
}

static bool swap_sniff(const uint8_t *first, uint64_t vol_size)
{
	size_t len = (size_t)RH_MIN((uint64_t)65536, vol_size);
	uint32_t ps;

	switch (swap_sig(first, len, &ps)) {
	case SWAP_AREA:
		return swap_validate(first, ps, 0) == 0;
	case SWAP_SUSPEND:
		return true;
	case SWAP_NONE:
		break;
	}
	return false;
}

/* The header page, up to 64 KiB, and its page size. *kind is SWAP_NONE
 * when no signature ends a page. first is the caller's to free. */
static int swap_read_header(const struct um_vol *v, uint8_t **first, uint32_t *ps,
			    enum swap_kind *kind)
{
	size_t n = (size_t)RH_MIN((uint64_t)65536, v->size);
	int rc;

	*kind = SWAP_NONE;
	*first = malloc(n);
	if (*first == NULL)
		return RH_ERR_NOMEM;
	rc = um_read(v, *first, n, 0, "swap header");
	if (rc == 0)
		*kind = swap_sig(*first, n, ps);
	return rc;
}

/* The area's size from its header; nothing in it is data worth copying,
 * so used is 0. Only the signature and a non-zero last page are required
 * (not swap_validate's version check): df-style figures are wanted even
 * for headers the map would refuse. A hibernation image gives no size. */
static int swap_usage(const struct um_vol *v, struct rh_fsinfo *fs)
{
	uint8_t *first = NULL;
	enum swap_kind kind;
	uint32_t ps = 0, version, last = 0;
	int rc;

	rc = swap_read_header(v, &first, &ps, &kind);
	if (rc == 0 && kind != SWAP_AREA)
		rc = rh_seterr(RH_ERR_CORRUPT, "swap: no signature at a known page size");
	if (rc == 0) {
		swap_decode(first, &version, &last);
		if (last == 0)
			rc = rh_seterr(RH_ERR_CORRUPT, "swap: last page 0");
	}
	if (rc == 0) {
		fs->size = ((uint64_t)last + 1) * ps;
		fs->used = 0;
		fs->size_known = fs->used_known = true;
	}
	free(first);
	return rc;
}

static int swap_build(struct um_ctx *c, const struct um_vol *v, struct rh_extents *x,
		      uint32_t *bsize)
{
	uint8_t *first = NULL;
	enum swap_kind kind;
	uint32_t ps = 0;
	int rc;

	*bsize = 0;
	rc = swap_read_header(v, &first, &ps, &kind);
	if (rc < 0)
		goto out;
	switch (kind) {
	case SWAP_NONE:
		rc = rh_seterr(RH_ERR_CORRUPT, "swap: no swap signature");
		goto out;
	case SWAP_SUSPEND:
		usedmap_note(c->map, "swap holds a hibernation image: all used");
		*bsize = ps;
		rc = rh_extents_add_all(x);
		goto out;
	case SWAP_AREA:
		break;
	}
	rc = swap_validate(first, ps, v->size);
	if (rc < 0)
		goto out;
	*bsize = ps;
	rc = rh_extents_add(x, 0, ps);
out:
	free(first);
	return rc;
}

static const char *const swap_blkid[] = { "swap", "swsuspend", NULL };

const struct fs_ops fs_swap_ops = {
	.type = RH_FS_SWAP,
	.name = "swap",
	.blkid_types = swap_blkid,
	.sniff = swap_sniff,
	.usage = swap_usage,
	.build = swap_build,
};
