/*
 * Used-block maps: which byte ranges of a volume (a partition, an LVM
 * physical volume, or a whole device, given as a byte range of a disk or
 * image file) hold filesystem data, so that replication and image export
 * copy only those.
 *
 *   ext2/3/4   block bitmaps read through libext2fs
 *   xfs        free-space B+tree (by block number) of every allocation
 *              group; used = AG space minus free extents
 *   vfat       FAT12/16/32: reserved sectors, FATs, root directory and the
 *              clusters the FAT marks allocated
 *   btrfs      the first MiB, superblock mirrors and every device extent
 *              allocated to a chunk on this device
 *   swap       the header page only (a hibernation image: everything)
 *   LVM2 PV    label and metadata areas, plus for each LV that lies
 *              linearly on this PV its own filesystem map; other allocated
 *              extents are all used; free extents are unused
 *   other      everything used; the copier skips zero chunks with
 *              rh_usedmap_is_zero()
 *
 * Offsets in a map are bytes from the volume start. The map describes the
 * filesystem as it is on disk when built: for a mounted filesystem, build
 * it while the filesystem is frozen (FIFREEZE), or treat it as a first
 * pass that a later incremental sync corrects (docs/internals/usedmap.md).
 *
 * Corrupt metadata: by default, a build fails with RH_ERR_CORRUPT (or
 * RH_ERR_UNSUPPORTED for a feature that is not handled) and an rh_lasterr()
 * detail. With RH_USEDMAP_FALLBACK_ALL it succeeds instead with the whole
 * volume (or the affected LV) marked used, rh_usedmap_fallback() true and
 * the reason in rh_usedmap_note() - the safe choice for a migration.
 * Read errors (RH_ERR_IO) and RH_ERR_NOMEM always fail.
 */
#ifndef REHOST_USEDMAP_H
#define REHOST_USEDMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rehost/extent.h"

/* What a volume holds. Values are stable (logged, stored in checkpoints). */
enum rh_fstype {
	RH_FS_AUTO = 0,     /* opts only: probe the volume */
	RH_FS_UNKNOWN = 1,  /* nothing recognised: all used */
	RH_FS_EXT = 2,      /* ext2, ext3 or ext4 */
	RH_FS_XFS = 3,
	RH_FS_VFAT = 4,     /* FAT12, FAT16 or FAT32 */
	RH_FS_BTRFS = 5,
	RH_FS_SWAP = 6,
	RH_FS_LVM2 = 7,     /* LVM2 physical volume */
};

/* Short lower-case name: "auto", "unknown", "ext", "xfs", "vfat",
 * "btrfs", "swap", "lvm2". Static string, never NULL. */
const char *rh_fstype_name(enum rh_fstype t);

enum rh_usedmap_flags {
	/* Corrupt or unsupported metadata: map the volume (or LV) as all
	 * used instead of failing; see rh_usedmap_fallback(). */
	RH_USEDMAP_FALLBACK_ALL = 1 << 0,
	/* Skip the libblkid probe and identify the volume from its
	 * superblocks alone (always so for rh_usedmap_build_reader). */
	RH_USEDMAP_NO_BLKID = 1 << 1,
};

struct rh_usedmap_opts {
	unsigned flags;          /* enum rh_usedmap_flags, OR-ed */
	uint64_t granularity;    /* bytes, power of two; extents are rounded
				  * outwards to it; 0 = exact */
	enum rh_fstype fstype;   /* RH_FS_AUTO to probe, or force a parser */
};

struct rh_usedmap;

/* Read callback for rh_usedmap_build_reader: fill buf with len bytes at
 * volume offset off (off + len <= volume size). Returns 0 or a negative
 * RH_ERR_* (with rh_seterr detail). Called from the building thread only. */
typedef int (*rh_usedmap_read_fn)(void *ctx, void *buf, size_t len, uint64_t off);

/* Build the map of the volume [off, off + len) of fd (a block device or a
 * regular file, which must reach off + len). opts may be NULL (defaults:
 * probe, exact, no fallback). The fd is only read (pread), never moved or
 * closed. On success *out is a new map the caller frees with
 * rh_usedmap_free. Returns 0, RH_ERR_INVAL, RH_ERR_RANGE, RH_ERR_IO,
 * RH_ERR_NOMEM, RH_ERR_CORRUPT or RH_ERR_UNSUPPORTED (the last two only
 * without RH_USEDMAP_FALLBACK_ALL). */
int rh_usedmap_build(int fd, uint64_t off, uint64_t len, const struct rh_usedmap_opts *opts,
		     struct rh_usedmap **out);

/* As rh_usedmap_build on path opened read-only; len 0 means up to the end
 * of the file or device. */
int rh_usedmap_build_path(const char *path, uint64_t off, uint64_t len,
			  const struct rh_usedmap_opts *opts, struct rh_usedmap **out);

/* As rh_usedmap_build over a volume of len bytes read through fn (an image
 * format layer, a memory buffer, a test). No libblkid probe. */
int rh_usedmap_build_reader(rh_usedmap_read_fn fn, void *ctx, uint64_t len,
			    const struct rh_usedmap_opts *opts, struct rh_usedmap **out);

/* Identify what the volume [off, off + len) of fd holds, with libblkid
 * (low-level probe over the byte range), confirmed by our own superblock
 * check. Returns 0 with *type set (RH_FS_UNKNOWN when nothing supported is
 * found or the signatures are ambiguous), or RH_ERR_IO / RH_ERR_NOMEM. */
int rh_usedmap_probe(int fd, uint64_t off, uint64_t len, enum rh_fstype *type);

/* Free a map; NULL is accepted. */
void rh_usedmap_free(struct rh_usedmap *m);

/* The used extents, relative to the volume start. Borrowed; valid until
 * rh_usedmap_free. */
const struct rh_extents *rh_usedmap_extents(const struct rh_usedmap *m);

/* Volume size and used bytes (shorthands for the extent list). */
uint64_t rh_usedmap_size(const struct rh_usedmap *m);
uint64_t rh_usedmap_used(const struct rh_usedmap *m);

/* What the volume holds, and the filesystem's allocation unit in bytes
 * (block or cluster size; 512 for unknown contents). */
enum rh_fstype rh_usedmap_fstype(const struct rh_usedmap *m);
uint32_t rh_usedmap_block_size(const struct rh_usedmap *m);

/* Whether the whole volume was marked used because its metadata was
 * corrupt or unsupported (RH_USEDMAP_FALLBACK_ALL), for the volume itself
 * or for any LV of a PV. */
bool rh_usedmap_fallback(const struct rh_usedmap *m);

/* Whether some of the used ranges are used only because their contents are
 * unknown (unknown filesystem, fallback, LV areas without a recognised
 * filesystem): the copier should then skip zero chunks. */
bool rh_usedmap_zero_detect(const struct rh_usedmap *m);

/* Human-readable notes about the build (fallback reasons, LVs mapped as
 * all used, features ignored), "" when none. Borrowed; valid until
 * rh_usedmap_free. */
const char *rh_usedmap_note(const struct rh_usedmap *m);

/* One logical volume of an LVM2 PV map. */
struct rh_usedmap_lv {
	const char *name;      /* "vg/lv"; borrowed, valid until rh_usedmap_free */
	enum rh_fstype fstype; /* RH_FS_UNKNOWN when not probed or not recognised */
	uint64_t pv_bytes;     /* bytes of this LV on this PV */
	uint64_t lv_bytes;     /* LV size in bytes (all segments, all PVs) */
	uint64_t used;         /* used bytes of this LV on this PV */
	bool mapped;           /* its filesystem map was used (else all used) */
	bool fallback;         /* all used because its metadata was corrupt */
};

/* Number of LVs with extents on this PV (0 for other volumes), and LV i
 * (0 <= i < count) copied to *lv. Returns 0 or RH_ERR_RANGE. */
size_t rh_usedmap_lv_count(const struct rh_usedmap *m);
int rh_usedmap_lv(const struct rh_usedmap *m, size_t i, struct rh_usedmap_lv *lv);

/* Whether len bytes at buf are all zero (len 0: true). Fast enough to run
 * on every chunk the copier reads. */
bool rh_usedmap_is_zero(const void *buf, size_t len);

#endif
