/*
 * Internal interface of src/lib/fs (not installed).
 *
 * A struct um_vol is a bounded, read-only view of one volume: a byte range
 * of a file descriptor, a caller's read callback, or an LVM logical volume
 * made of segments of another volume. Every superblock and metadata parser
 * reads only through um_read(), which refuses anything outside the volume,
 * so a corrupt length can never make us read past the volume we were given.
 *
 * Each filesystem is one struct fs_ops (fsops.c lists them), implemented in
 * one file that parses its superblock in one place: ext.c, xfs.c, vfat.c,
 * btrfs.c, swap.c, lvm-map.c. Byte-order loads come from rehost/endian.h.
 */
#ifndef REHOST_FS_INTERNAL_H
#define REHOST_FS_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rehost/disk.h"
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

/* Span of the areas read to identify a volume: every signature we
 * recognise lies inside the first 64 KiB + 4 KiB (btrfs at 64 KiB; swap
 * signatures end pages of up to 64 KiB). */
#define FS_SNIFF_BYTES (68u * 1024)
#define FS_SNIFF_HEAD 4096u

/*
 * One filesystem (or volume format). New members go at the end; a NULL
 * callback means "not supported" for that filesystem.
 */
struct fs_ops {
	enum rh_fstype type;
	const char *name;                 /* rh_fstype_name(); static */
	const char *const *blkid_types;   /* libblkid TYPE values, NULL-terminated */
	bool container;                   /* holds other volumes (LVM PV): not
					   * mapped again inside an LV */

	/* Whether the volume carries this signature and a superblock that
	 * validates. buf holds FS_SNIFF_BYTES: the first FS_SNIFF_HEAD bytes,
	 * the last 10 bytes of each power-of-two page from 8 KiB to 64 KiB
	 * and the 4 KiB at 64 KiB, each only when inside the volume; the rest
	 * is zero. */
	bool (*sniff)(const uint8_t *buf, uint64_t vol_size);

	/* Size and used space as df counts them (rh_fs_usage). Fills
	 * size/used and the _known flags of *fs. Returns 0, RH_ERR_CORRUPT
	 * (superblock fails validation), RH_ERR_IO or RH_ERR_NOMEM. */
	int (*usage)(const struct um_vol *v, struct rh_fsinfo *fs);

	/* Used-block map: validate the on-disk headers, add the used ranges
	 * to x (sized v->size) and set *bsize (allocation unit). On failure x
	 * holds a partial result the caller discards, and rh_lasterr() says
	 * why. */
	int (*build)(struct um_ctx *c, const struct um_vol *v, struct rh_extents *x,
		     uint32_t *bsize);
};

/* fsops.c */
/* The entry for a type, or NULL (RH_FS_AUTO, RH_FS_UNKNOWN, out of range). */
const struct fs_ops *fs_ops_find(enum rh_fstype t);
/* The entry whose blkid_types holds name, or NULL. */
const struct fs_ops *fs_ops_find_blkid(const char *name);
/* Every entry, NULL-terminated. */
extern const struct fs_ops *const fs_ops_all[];
/* Set fs->size/used from block counts; RH_ERR_CORRUPT when free > total or
 * on overflow. what names the filesystem in the error. */
int fs_set_size_used(struct rh_fsinfo *fs, uint64_t blocks, uint64_t free_blocks,
		     uint64_t block_size, const char *what);

/* The table entries, one per file. */
extern const struct fs_ops fs_ext_ops;   /* ext.c */
extern const struct fs_ops fs_xfs_ops;   /* xfs.c */
extern const struct fs_ops fs_vfat_ops;  /* vfat.c */
extern const struct fs_ops fs_btrfs_ops; /* btrfs.c */
extern const struct fs_ops fs_swap_ops;  /* swap.c */
extern const struct fs_ops fs_lvm2_ops;  /* lvm-map.c */

/* lvm-label.c: the LVM2 PV label and metadata areas */

#define LVM_SECTOR 512u
#define LVM_LABEL_SCAN 4       /* the label lies in one of the first 4 sectors */
#define LVM_ID_LEN 32          /* PV/VG/LV ids, without dashes */
#define LVM_MAX_AREAS 8        /* per list in the pv_header */

struct lvm_area {
	uint64_t off, size;    /* bytes from the PV start */
};

/* What the label sector says. */
struct lvm_label {
	char uuid[LVM_ID_LEN + 1];    /* PV id, 32 characters, no dashes */
	uint64_t dev_size;            /* bytes, as recorded */
	struct lvm_area data[LVM_MAX_AREAS];
	size_t ndata;
	struct lvm_area mda[LVM_MAX_AREAS];
	size_t nmda;
	struct lvm_area ba[LVM_MAX_AREAS]; /* boot loader areas */
	size_t nba;
};

/* Index of the sector holding a label signature among the first
 * LVM_LABEL_SCAN sectors in first[0, len), or -1. */
int lvm_label_sector(const uint8_t *first, size_t len);
/* Validate the label sector s found in sector number `sector` and decode
 * it: CRC, pv_header, area lists; metadata and boot loader areas inside
 * vol_size bytes (UINT64_MAX: unknown). Returns 0 or RH_ERR_CORRUPT. */
int lvm_label_validate(const uint8_t *s, uint64_t sector, uint64_t vol_size,
		       struct lvm_label *l);
/* Find and validate the label of the PV v. Returns 0, RH_ERR_NOTFOUND (no
 * label), RH_ERR_CORRUPT or a read error. */
int lvm_label_read(const struct um_vol *v, struct lvm_label *l);
/* The current VG metadata text from the first metadata area that
 * validates (header magic, version and CRC; text CRC; at most
 * RH_LVM_MAX_META bytes). *text (NUL-terminated, *len bytes before the
 * first NUL; the caller frees) stays NULL when the areas are ignored or
 * hold no metadata (a PV in no VG) or there are none. Returns 0,
 * RH_ERR_CORRUPT, RH_ERR_TOOBIG (the last area's error when none
 * validates), RH_ERR_IO or RH_ERR_NOMEM. */
int lvm_label_metadata(const struct um_vol *v, const struct lvm_label *l, char **text,
		       size_t *len);

/* io.c */

/* Read exactly len bytes at off into buf (rh_pread_full, include/rehost/io.h).
 * Returns 0, RH_ERR_IO (with errno text) or RH_ERR_CORRUPT (end of file
 * before len bytes: the structure claims data that is not there). */
int fs_pread_full(int fd, void *buf, size_t len, uint64_t off);

/* As fs_pread_full for the window [base, base+range): off is relative to
 * base and [off, off+len) must lie inside the window, else RH_ERR_CORRUPT. */
int fs_pread_in(int fd, uint64_t base, uint64_t range, void *buf, size_t len,
		uint64_t off);

/* usedmap.c */

/* Read n bytes at volume offset off. what names the structure for the
 * error detail. Returns 0, RH_ERR_CORRUPT (outside the volume), RH_ERR_IO
 * or another error from a read callback. */
int um_read(const struct um_vol *v, void *buf, size_t n, uint64_t off, const char *what);

/* Whether the volume is one contiguous byte range of a file descriptor;
 * if so, *fd and *off give it. */
bool um_vol_fd_range(const struct um_vol *v, int *fd, uint64_t *off);

/* Identify and map one volume into x (sized v->size). forced is
 * RH_FS_AUTO to probe. Applies the fallback policy. */
int usedmap_build_vol(struct um_ctx *c, const struct um_vol *v, enum rh_fstype forced,
		      struct rh_extents *x, struct um_volinfo *info);
/* Identify a volume from its superblocks (no libblkid): every table
 * entry's sniff; exactly one must match. */
int usedmap_sniff(const struct um_vol *v, enum rh_fstype *type);
/* Append a note ("; "-separated, bounded) to the map. */
void usedmap_note(struct rh_usedmap *m, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Record an LV of a PV map; name is copied. Returns 0 or RH_ERR_NOMEM. */
int usedmap_add_lv(struct rh_usedmap *m, const char *name, const struct rh_usedmap_lv *lv);
/* CRC-32C (Castagnoli), raw register: no inversion on entry or exit. */
uint32_t usedmap_crc32c(uint32_t crc, const void *buf, size_t len);

#endif
