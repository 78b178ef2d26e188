/*
 * Internal interface of the used-block map modules (not installed).
 *
 * A struct um_vol is a bounded, read-only view of one volume: a byte range
 * of a file descriptor, a caller's read callback, or an LVM logical volume
 * made of segments of another volume. Every parser reads only through
 * um_read(), which refuses anything outside the volume, so a corrupt
 * length can never make us read past the volume we were given.
 */
#ifndef REHOST_USEDMAP_INT_H
#define REHOST_USEDMAP_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rehost/extent.h"
#include "rehost/usedmap.h"

/* One piece of an LV: LV bytes [lv_off, lv_off + len) are parent bytes
 * [pv_off, pv_off + len). */
struct um_seg {
	uint64_t lv_off;
	uint64_t pv_off;
	uint64_t len;
};

enum um_vol_kind { UM_VOL_FD, UM_VOL_CB, UM_VOL_SEGS };

struct um_vol {
	enum um_vol_kind kind;
	uint64_t size;               /* bytes */
	int fd;                      /* FD: the descriptor (borrowed) */
	uint64_t base;               /* FD: byte offset of the volume in fd */
	rh_usedmap_read_fn fn;       /* CB: read callback and its context */
	void *ctx;
	const struct um_vol *parent; /* SEGS: the PV (borrowed) */
	const struct um_seg *segs;   /* SEGS: sorted by lv_off, covering [0, size) */
	size_t nsegs;
	bool no_blkid;               /* do not probe with libblkid */
};

/* Read n bytes at volume offset off. what names the structure for the
 * error detail. Returns 0, RH_ERR_CORRUPT (outside the volume), RH_ERR_IO
 * or another error from a read callback. */
int um_read(const struct um_vol *v, void *buf, size_t n, uint64_t off, const char *what);

/* Whether the volume is one contiguous byte range of a file descriptor;
 * if so, *fd and *off give it. */
bool um_vol_fd_range(const struct um_vol *v, int *fd, uint64_t *off);

/* What building one volume found out. */
struct um_volinfo {
	enum rh_fstype fstype;
	uint32_t block_size;   /* allocation unit, bytes */
	bool mapped;           /* a filesystem map was built */
	bool fallback;         /* all used after corrupt metadata */
	bool zero_detect;      /* some ranges are used only as unknown contents */
};

/* State of one rh_usedmap_build* call. */
struct um_ctx {
	unsigned flags;          /* enum rh_usedmap_flags */
	int depth;               /* nesting: 0 for the volume, 1 inside an LV */
	const char *where;       /* "vg/lv" while mapping an LV, else NULL */
	struct rh_usedmap *map;  /* for notes and the LV table */
};

/* usedmap.c */
/* Identify and map one volume into x (sized v->size). forced is
 * RH_FS_AUTO to probe. Applies the fallback policy. */
int usedmap_build_vol(struct um_ctx *c, const struct um_vol *v, enum rh_fstype forced,
		      struct rh_extents *x, struct um_volinfo *info);
/* Identify a volume from its superblocks (no libblkid). */
int usedmap_sniff(const struct um_vol *v, enum rh_fstype *type);
/* Append a note ("; "-separated, bounded) to the map. */
void usedmap_note(struct rh_usedmap *m, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Record an LV of a PV map; name is copied. Returns 0 or RH_ERR_NOMEM. */
int usedmap_add_lv(struct rh_usedmap *m, const char *name, const struct rh_usedmap_lv *lv);
/* CRC-32C (Castagnoli), raw register: no inversion on entry or exit. */
uint32_t usedmap_crc32c(uint32_t crc, const void *buf, size_t len);

/* Per-filesystem parsers. Each validates its on-disk headers in one place,
 * adds the used ranges to x and sets *bsize. On failure x holds a partial
 * result the caller discards, and rh_lasterr() says why. */

/* usedmap-ext.c */
bool usedmap_ext_sniff(const uint8_t *sb1024, size_t len);
int usedmap_ext_build(struct um_ctx *c, const struct um_vol *v, struct rh_extents *x,
		      uint32_t *bsize);
/* usedmap-xfs.c */
bool usedmap_xfs_sniff(const uint8_t *sb, size_t len);
int usedmap_xfs_build(struct um_ctx *c, const struct um_vol *v, struct rh_extents *x,
		      uint32_t *bsize);
/* usedmap-fat.c */
bool usedmap_fat_sniff(const uint8_t *bs, size_t len);
int usedmap_fat_build(struct um_ctx *c, const struct um_vol *v, struct rh_extents *x,
		      uint32_t *bsize);
/* usedmap-btrfs.c */
bool usedmap_btrfs_sniff(const uint8_t *sb, size_t len);
int usedmap_btrfs_build(struct um_ctx *c, const struct um_vol *v, struct rh_extents *x,
			uint32_t *bsize);
/* usedmap-swap.c: first is the first 64 KiB of the volume (or less). */
bool usedmap_swap_sniff(const uint8_t *first, size_t len);
int usedmap_swap_build(struct um_ctx *c, const struct um_vol *v, struct rh_extents *x,
		       uint32_t *bsize);
/* lvm-map.c: first is the first 4 sectors (2048 bytes) of the volume. */
bool lvm_map_sniff(const uint8_t *first, size_t len);
int lvm_map_build(struct um_ctx *c, const struct um_vol *v, struct rh_extents *x,
	       uint32_t *bsize);

#endif
