/*
 * Disk layout reading without mounting anything: partition tables
 * (libfdisk), filesystem and volume signatures (libblkid) with the size and
 * used space their superblocks record, LVM physical-volume labels and VG
 * metadata, and md RAID member superblocks.
 *
 * Everything works on an open file descriptor of a disk image file or a
 * block device plus a byte range, so a partition (or an LV segment inside a
 * partition) is read in place. Nothing here writes to the device.
 *
 * Every structure read from the device is validated before use: fixed
 * magic, lengths checked against the range, offsets overflow-checked.
 */
#ifndef REHOST_DISK_H
#define REHOST_DISK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- partition tables (src/lib/fs/partition.c) ---- */

enum rh_ptable_type {
	RH_PTABLE_NONE = 0, /* no partition table (whole-disk filesystem, PV or empty) */
	RH_PTABLE_DOS,      /* MBR */
	RH_PTABLE_GPT,
	RH_PTABLE_OTHER,    /* sun, sgi, bsd: recognised but not supported */
};

/* Most partitions read from one table (GPT allows 128 by default). */
#define RH_PTABLE_MAX_PARTS 256u

struct rh_part {
	unsigned number;     /* 1-based partition number (MBR logical: 5...) */
	uint64_t start;      /* bytes from the start of the disk */
	uint64_t size;       /* bytes */
	char type[40];       /* GPT type GUID (lower case) or MBR type "0x83" */
	char type_name[64];  /* libfdisk's description, "" when unknown */
	char uuid[40];       /* PARTUUID: GPT entry GUID, MBR "xxxxxxxx-NN"; "" if none */
	char name[80];       /* GPT partition name, "" when none */
	bool bootable;       /* MBR active flag / GPT legacy-BIOS-bootable attribute */
	bool container;      /* MBR extended partition (holds the logical ones) */
	bool logical;        /* MBR logical partition */
};

struct rh_ptable {
	enum rh_ptable_type type;
	char label[16];        /* libfdisk label name: "dos", "gpt", "sun"...; "" if none */
	char id[48];           /* disk identifier: GPT GUID or MBR "0x1234abcd"; "" if none */
	uint32_t sector_size;  /* logical sector size, bytes */
	uint64_t size;         /* device size, bytes */
	uint64_t table_end;    /* bytes the table needs at the end (GPT backup), else 0 */
	size_t nparts;
	struct rh_part *parts; /* nparts entries in table order */
};

/* Read the partition table of the disk open on fd (read-only; name is used
 * in messages). On success *out is a new table (type RH_PTABLE_NONE when
 * there is none) that the caller frees with rh_ptable_free. Returns 0,
 * RH_ERR_IO, RH_ERR_CORRUPT (table present but unreadable), RH_ERR_TOOBIG
 * (more than RH_PTABLE_MAX_PARTS) or RH_ERR_NOMEM. */
int rh_ptable_read(int fd, const char *name, struct rh_ptable **out);
void rh_ptable_free(struct rh_ptable *pt);

/* Size in bytes of the device or file open on fd. Returns 0 or RH_ERR_IO. */
int rh_dev_size(int fd, uint64_t *size);

/* ---- filesystem signatures (src/lib/fs/probe.c; usage per filesystem: fsops.c) ---- */

enum rh_fs_usage {
	RH_FS_USAGE_NONE = 0, /* no signature found */
	RH_FS_USAGE_FILESYSTEM,
	RH_FS_USAGE_SWAP,     /* blkid reports swap as "other"; we keep it apart */
	RH_FS_USAGE_RAID,     /* md RAID member */
	RH_FS_USAGE_LVM,      /* LVM physical volume (blkid calls it "raid") */
	RH_FS_USAGE_CRYPTO,   /* LUKS and other encrypted containers */
	RH_FS_USAGE_OTHER,
};

struct rh_fsinfo {
	char type[32];        /* blkid TYPE: "ext4", "xfs", "vfat", "swap", "LVM2_member",
			       * "linux_raid_member", "crypto_LUKS"...; "" when none */
	char version[32];     /* blkid VERSION, "" when none */
	char uuid[64];        /* blkid UUID, "" when none */
	char label[256];      /* blkid LABEL, "" when none */
	enum rh_fs_usage usage;
	bool ambivalent;      /* several signatures matched; type is "" */
	bool size_known;      /* size is the filesystem's own idea of its size */
	bool used_known;      /* used is meaningful */
	uint64_t size;        /* bytes the filesystem spans (else the range size) */
	uint64_t used;        /* bytes allocated (ext: blocks in use; xfs, btrfs,
			       * vfat: as df would count them; swap: 0) */
};

/* Probe [offset, offset+size) of fd for a filesystem or volume signature
 * with libblkid, then read size and used space from the superblock for
 * ext2/3/4 (libext2fs), xfs, btrfs, vfat and swap. *out is always
 * initialised. Returns 0 (also when nothing is found: usage NONE),
 * RH_ERR_IO or RH_ERR_NOMEM. */
int rh_fs_probe(int fd, uint64_t offset, uint64_t size, struct rh_fsinfo *out);

/* Size and used space from the superblock of a filesystem of the given
 * blkid type at [offset, offset+size). Fills size/used and the _known
 * flags of *fs. Returns 0, RH_ERR_UNSUPPORTED (type not handled),
 * RH_ERR_CORRUPT (superblock fails validation) or RH_ERR_IO. */
int rh_fs_usage(int fd, uint64_t offset, uint64_t size, const char *type,
		struct rh_fsinfo *fs);

/* ---- LVM (src/lib/fs/lvm.c over lvm-label.c and lvm-text.c) ----
 *
 * One reader serves inspect, postconf and the used-block maps: the label
 * and metadata areas (CRC-checked) give the VG metadata text, which parses
 * into one model, struct rh_lvm_vg. */

/* Bounds on what we accept from a PV. */
#define RH_LVM_MAX_META (16u << 20) /* metadata text, bytes */
#define RH_LVM_MAX_PVS 1024u
#define RH_LVM_MAX_LVS 4096u
#define RH_LVM_MAX_SEGS 256u        /* per LV */

struct rh_lvm_pvlabel {
	char uuid[40];        /* PV UUID in LVM's dashed form */
	uint64_t dev_size;    /* bytes, as recorded in the label */
	char *meta;           /* VG metadata text (NUL-terminated), NULL when the
			       * PV has no metadata area or is not in a VG; owned */
	size_t meta_len;
};

/* Read the LVM2 label, PV header and current metadata text of the PV at
 * [offset, offset+size) of fd: the label and every metadata area header
 * and text must pass their CRC; the first metadata area that validates
 * (and is not flagged ignored) gives the text. Returns 0, RH_ERR_NOTFOUND
 * (no label), RH_ERR_CORRUPT, RH_ERR_TOOBIG, RH_ERR_IO or RH_ERR_NOMEM.
 * Free the result's contents with rh_lvm_pvlabel_release. */
int rh_lvm_read_label(int fd, uint64_t offset, uint64_t size,
		      struct rh_lvm_pvlabel *out);
void rh_lvm_pvlabel_release(struct rh_lvm_pvlabel *pv);

enum rh_lvm_segtype {
	RH_LVM_SEG_LINEAR = 0, /* "striped" with one stripe */
	RH_LVM_SEG_STRIPED,
	RH_LVM_SEG_THIN_POOL,
	RH_LVM_SEG_THIN,
	RH_LVM_SEG_MIRROR,     /* "mirror" and "raid*" */
	RH_LVM_SEG_SNAPSHOT,
	RH_LVM_SEG_CACHE,      /* "cache", "cache-pool", "writecache", "vdo*" */
	RH_LVM_SEG_OTHER,
};

/* One (name, extent) pair of a segment's area list. */
struct rh_lvm_area {
	int pv;               /* index in vg->pvs, -1 when the name is not a PV (a sub-LV) */
	uint64_t start;       /* first extent there */
};

struct rh_lvm_seg {
	uint64_t start_extent, extent_count;
	enum rh_lvm_segtype type;
	char type_name[24];   /* as written in the metadata, e.g. "thin-pool" */
	int pv;               /* first stripe: index in vg->pvs, -1 if none */
	uint64_t pv_start;    /* first stripe: starting extent on that PV */
	char pool[128];       /* thin: name of the thin-pool LV, else "" */
	uint32_t stripe_count; /* "stripe_count" (1..65536), 0 when absent or out of range */
	bool areas_bad;       /* "striped" whose "stripes" is not (name, extent) pairs */
	size_t nareas;
	struct rh_lvm_area *areas; /* every (name, extent) pair the segment lists:
				    * "stripes" of a "striped" segment, else every
				    * list made of such pairs; owned by the VG */
};

struct rh_lvm_lv {
	char name[128];
	char uuid[40];
	bool visible;         /* has the VISIBLE flag (sub-LVs of pools do not) */
	enum rh_lvm_segtype type; /* of the first segment */
	uint64_t extents;     /* sum over segments */
	size_t nsegs;
	struct rh_lvm_seg *segs;
};

struct rh_lvm_pv {
	char name[32];        /* "pv0" */
	char uuid[40];
	char device[256];     /* device hint recorded by LVM, "" if none */
	uint64_t dev_size;    /* sectors of 512 bytes */
	uint64_t pe_start;    /* sectors */
	uint64_t pe_count;
	bool missing;         /* flagged MISSING in the metadata */
};

struct rh_lvm_vg {
	char name[128];
	char uuid[40];
	uint64_t seqno;
	uint64_t extent_size; /* sectors of 512 bytes */
	size_t npvs, nlvs;
	struct rh_lvm_pv *pvs;
	struct rh_lvm_lv *lvs;
};

/* Parse LVM2 text-format VG metadata (len bytes, need not be
 * NUL-terminated). On success *out is a new VG freed with rh_lvm_vg_free.
 * Returns 0, RH_ERR_PARSE (with a detail naming the line), RH_ERR_TOOBIG
 * or RH_ERR_NOMEM. */
int rh_lvm_parse_vg(const char *text, size_t len, struct rh_lvm_vg **out);
void rh_lvm_vg_free(struct rh_lvm_vg *vg);

/* Byte offset of an LV extent on its PV: pe_start + extent * extent_size,
 * in bytes, from the start of the PV. false on overflow. */
bool rh_lvm_extent_offset(const struct rh_lvm_vg *vg, const struct rh_lvm_pv *pv,
			  uint64_t extent, uint64_t *bytes);

/* Compare two LVM UUIDs ignoring dashes; true when equal. */
bool rh_lvm_uuid_eq(const char *a, const char *b);

/* ---- md RAID (src/lib/fs/mdraid.c) ---- */

struct rh_md_member {
	char version[8];      /* "0.90", "1.0", "1.1", "1.2" */
	char uuid[40];        /* array (set) UUID, "xxxxxxxx:xxxxxxxx:xxxxxxxx:xxxxxxxx" */
	char name[40];        /* array name (1.x), "" for 0.90 */
	int level;            /* -1 linear, 0, 1, 4, 5, 6, 10; -4 multipath */
	unsigned raid_disks;
	int role;             /* this member's slot, -1 spare/faulty/unknown */
	uint64_t data_offset; /* bytes from the start of the member to the array data */
	uint64_t data_size;   /* bytes of array data on this member (0 if unknown) */
};

/* Read the md superblock of the member at [offset, offset+size) of fd.
 * Returns 0, RH_ERR_NOTFOUND (no superblock), RH_ERR_CORRUPT or RH_ERR_IO. */
int rh_md_read_member(int fd, uint64_t offset, uint64_t size, struct rh_md_member *out);

#endif
