/*
 * Disk image formats: raw, qcow2 (version 3, also reads version 2), vpc
 * (VHD, dynamic and fixed) and vmdk (monolithicSparse and streamOptimized),
 * each behind one ops struct in src/lib/img/.
 *
 * Reading: rh_img_open() validates every header and table before any data
 * is read (minimum length, overflow, bounds against the file size, explicit
 * byte order); tables that are loaded later (qcow2 L2 tables, vmdk grain
 * tables, vpc sector bitmaps) go through one validation function each when
 * they are loaded. A malformed image fails with RH_ERR_CORRUPT and an
 * rh_lasterr() detail naming the structure and offset, never a crash.
 *
 * Writing: rh_img_create() starts a new image that is written front to back
 * with rh_img_write() (each write at or after the end of the previous one;
 * skipped ranges read back as zeros and take no space) and completed with
 * rh_img_finalize(). All-zero clusters become holes. qcow2 and
 * streamOptimized vmdk compress clusters on a pool of worker threads; the
 * output is identical for any number of threads.
 *
 * An open image or writer is used by one thread at a time.
 */
#ifndef REHOST_IMG_H
#define REHOST_IMG_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rehost/extent.h"
#include "rehost/inspect.h"

/* Image formats. Values are stable (logged). */
enum rh_img_format {
	RH_IMG_AUTO = 0,  /* rh_img_open only: detect from the contents */
	RH_IMG_RAW = 1,
	RH_IMG_QCOW2 = 2,
	RH_IMG_VPC = 3,   /* Microsoft VHD ("vpc" in qemu-img) */
	RH_IMG_VMDK = 4,
};

/* Cluster compression of an image. */
enum rh_img_compress {
	RH_IMG_COMPRESS_NONE = 0,
	RH_IMG_COMPRESS_ZLIB = 1, /* qcow2: raw deflate; vmdk: zlib stream */
	RH_IMG_COMPRESS_ZSTD = 2, /* qcow2 only */
};

/* Layout variants of a format. */
enum rh_img_subformat {
	RH_IMG_SUB_DEFAULT = 0,     /* vpc: dynamic; vmdk: monolithicSparse */
	RH_IMG_SUB_VPC_DYNAMIC,
	RH_IMG_SUB_VPC_FIXED,
	RH_IMG_SUB_VMDK_SPARSE,     /* monolithicSparse */
	RH_IMG_SUB_VMDK_STREAM,     /* streamOptimized (compressed, markers) */
};

/* Largest virtual size accepted from a header or for a new image: 64 TiB
 * (vpc: 2040 GiB, the format's own limit). */
#define RH_IMG_MAX_SIZE (1ULL << 46)

/* Format name as qemu-img spells it ("raw", "qcow2", "vpc", "vmdk"; "auto").
 * Static string, never NULL. */
const char *rh_img_format_name(enum rh_img_format f);

/* Parse a format name; "vhd" is accepted for vpc. Returns 0 or
 * RH_ERR_INVAL (detail lists the names). */
int rh_img_format_parse(const char *s, enum rh_img_format *out);

/* ---- reading ---- */

struct rh_img;

/* Open the image at path read-only as format fmt (RH_IMG_AUTO: probe the
 * contents; anything unrecognised is raw). Block devices are raw. On
 * success *out is a new image the caller frees with rh_img_free. Returns 0,
 * RH_ERR_NOTFOUND / RH_ERR_PERM / RH_ERR_IO (cannot open or read),
 * RH_ERR_CORRUPT (a header or table is malformed; detail says which),
 * RH_ERR_UNSUPPORTED (valid image using a feature we do not read: backing
 * file, encryption, differencing VHD, ...), RH_ERR_TOOBIG (a size above
 * the bounds) or RH_ERR_NOMEM. */
int rh_img_open(const char *path, enum rh_img_format fmt, struct rh_img **out);

/* As rh_img_open on an open descriptor (regular file, memfd or block
 * device; read with pread only). The image takes ownership of fd and closes
 * it in rh_img_free, also when the open fails. name is copied and used in
 * messages. */
int rh_img_open_fd(int fd, const char *name, enum rh_img_format fmt, struct rh_img **out);

/* Close and free; NULL is accepted. */
void rh_img_free(struct rh_img *img);

/* The detected format and the virtual size in bytes. */
enum rh_img_format rh_img_get_format(const struct rh_img *img);
uint64_t rh_img_size(const struct rh_img *img);

/* The descriptor of a raw image (disk or raw file), for code that needs
 * direct access (partition tables, filesystem probes); -1 for other
 * formats. Borrowed: valid until rh_img_free. */
int rh_img_raw_fd(const struct rh_img *img);

/* Read len bytes at virtual offset off into buf; off + len must not exceed
 * the virtual size. Unallocated ranges read as zeros. Returns 0,
 * RH_ERR_RANGE, RH_ERR_IO, RH_ERR_CORRUPT (a table or compressed cluster
 * met on the way is malformed) or RH_ERR_NOMEM. */
int rh_img_pread(struct rh_img *img, void *buf, size_t len, uint64_t off);

/* Allocation status of the range starting at off: *len (1 <= *len <= max,
 * and not past the virtual size) bytes from off are all data (*data true:
 * stored in the image, possibly compressed) or all zero (unallocated or a
 * zero cluster). Converters copy the data runs and skip the rest. Returns
 * 0, RH_ERR_RANGE (off at or past the end, or max 0), RH_ERR_IO or
 * RH_ERR_CORRUPT. */
int rh_img_block_status(struct rh_img *img, uint64_t off, uint64_t max, uint64_t *len,
			bool *data);

struct rh_img_info {
	enum rh_img_format format;
	char subformat[32];        /* "v3"/"v2" (qcow2), "dynamic"/"fixed" (vpc),
				    * "monolithicSparse"/"streamOptimized" (vmdk),
				    * "file"/"block device" (raw) */
	uint64_t virtual_size;     /* bytes */
	uint64_t file_size;        /* bytes of the image file or device */
	uint64_t disk_usage;       /* bytes the file occupies on its filesystem
				    * (st_blocks); file_size for devices */
	uint64_t data_bytes;       /* virtual bytes stored as data (allocated
				    * clusters, blocks or grains; raw: non-hole) */
	uint32_t cluster_size;     /* bytes: qcow2 cluster, vpc block, vmdk grain;
				    * 0 for raw */
	enum rh_img_compress compression; /* qcow2: the header's compression
				    * type; vmdk: zlib when streamOptimized */
	uint64_t compressed_clusters; /* clusters/grains stored compressed */
	unsigned refcount_bits;    /* qcow2 only, else 0 */
	bool dirty;                /* qcow2 dirty bit / vmdk unclean shutdown */
	bool corrupt_flag;         /* qcow2 "corrupt" incompatible bit */
};

/* Describe the image (walks the allocation tables to count data bytes).
 * Returns 0, RH_ERR_IO or RH_ERR_CORRUPT. */
int rh_img_get_info(struct rh_img *img, struct rh_img_info *info);

/* ---- structural check ---- */

enum rh_img_problem {
	RH_IMG_PROBLEM_ERROR = 1, /* corruption: data reads wrong or may be lost */
	RH_IMG_PROBLEM_LEAK,      /* space allocated but unused: harmless */
	RH_IMG_PROBLEM_WARNING,   /* unusual but readable; or not checked */
	RH_IMG_PROBLEM_INFO,      /* not a problem: what was found and checked */
};

/* Receives one message per problem found (at most 100 per kind; the counts
 * below include all) and informational lines. msg is borrowed for the
 * call. */
typedef void (*rh_img_check_fn)(void *ctx, enum rh_img_problem kind, const char *msg);

struct rh_img_check_result {
	uint64_t errors;   /* corruptions found */
	uint64_t leaks;    /* leaked clusters (qcow2) / unreferenced space */
	uint64_t warnings;
};

/* Check the image's structure: qcow2 refcounts against the references of
 * every table (leaked, overlapping and unreferenced clusters, COPIED flags,
 * entries past the end of the file), vpc BAT and sector bitmaps, vmdk grain
 * directories, grain tables and markers. fn may be NULL. *res is filled in.
 * Returns 0 when the check ran (problems are in *res), or RH_ERR_IO /
 * RH_ERR_NOMEM when it could not. */
int rh_img_check(struct rh_img *img, rh_img_check_fn fn, void *ctx,
		 struct rh_img_check_result *res);

/* Check what the image holds: read its partition table (MBR or GPT) and,
 * for every partition (or the whole image when there is no table), probe
 * the filesystem signature and validate its superblock and allocation
 * metadata through the used-block map parsers. Filesystems that fail
 * validation are errors; partitions without a recognised filesystem are
 * warnings. Same conventions as rh_img_check; results are added to *res
 * (not cleared). */
int rh_img_check_contents(struct rh_img *img, rh_img_check_fn fn, void *ctx,
			  struct rh_img_check_result *res);

/* ---- writing ---- */

struct rh_img_create_opts {
	enum rh_img_format format;   /* not AUTO */
	enum rh_img_subformat subformat;
	uint64_t size;               /* virtual size in bytes, > 0; vpc and vmdk
				      * round it up (vpc: to its CHS geometry
				      * unless force_size, vmdk: to 512) */
	uint32_t cluster_size;       /* qcow2 cluster size (512..2 MiB, power of
				      * two); 0 = 64 KiB. Ignored elsewhere. */
	bool compress;               /* qcow2: compress clusters (-c); vmdk:
				      * implied by streamOptimized */
	enum rh_img_compress compression_type; /* qcow2: ZLIB (default) or ZSTD */
	int compression_level;       /* 0 = the codec's default */
	unsigned threads;            /* compression workers; 0 = one per CPU
				      * (at most 16) */
	bool force_size;             /* vpc: keep the exact size (max CHS
				      * geometry, like qemu-img force_size) */
	bool sync;                   /* rh_img_finalize waits until the image
				      * is on stable storage (fdatasync); off,
				      * the kernel writes it back later, as
				      * with qemu-img convert, cp or dd */
};

/* Parse qemu-img style "-o" options into o, comma separated:
 * compression_type=zlib|zstd, cluster_size=SIZE, subformat=dynamic|fixed|
 * monolithicSparse|streamOptimized, force_size[=on|off],
 * compression_level=N, threads=N. Options are checked against o->format,
 * so set it first. Returns 0 or RH_ERR_INVAL (detail names the option). */
int rh_img_create_opts_parse(struct rh_img_create_opts *o, const char *s);

struct rh_img_writer;

/* Create (or truncate) the image at path. A block device is accepted for
 * raw only; holes are then written as zeros. On success *out is a writer
 * the caller completes with rh_img_finalize and frees with
 * rh_img_writer_free. Returns 0, RH_ERR_INVAL (bad options), RH_ERR_TOOBIG,
 * RH_ERR_IO/RH_ERR_PERM/RH_ERR_NOTFOUND (cannot create) or RH_ERR_NOMEM. */
int rh_img_create(const char *path, const struct rh_img_create_opts *o,
		  struct rh_img_writer **out);

/* As rh_img_create on an open descriptor (taken over and closed by
 * rh_img_writer_free; it must be empty unless it is a block device). */
int rh_img_create_fd(int fd, const char *name, const struct rh_img_create_opts *o,
		     struct rh_img_writer **out);

/* The virtual size of the image being written (after rounding). */
uint64_t rh_img_writer_size(const struct rh_img_writer *w);

/* Write len bytes at virtual offset off. off must be at or after the end of
 * the previous write and off + len within the virtual size; bytes skipped
 * between writes are zeros. Returns 0, RH_ERR_INVAL (out of order, past the
 * end, or the writer failed before), RH_ERR_IO, RH_ERR_NOSPACE or
 * RH_ERR_NOMEM. */
int rh_img_write(struct rh_img_writer *w, const void *buf, size_t len, uint64_t off);

/* Write the remaining metadata (and with opts.sync, flush the file to
 * stable storage). After a failure the file is incomplete and should be
 * removed. Returns 0 or as rh_img_write. */
int rh_img_finalize(struct rh_img_writer *w);

/* Free a writer (closing its file; without rh_img_finalize the image is
 * incomplete). NULL is accepted. */
void rh_img_writer_free(struct rh_img_writer *w);

/* Bytes of the output file so far (after finalize: its final size). */
uint64_t rh_img_writer_file_size(const struct rh_img_writer *w);

/* ---- copying ---- */

/* Called now and then during a copy with the bytes processed so far and the
 * total (both count only ranges that are read, not holes). */
typedef void (*rh_img_progress_fn)(void *ctx, uint64_t done, uint64_t total);

struct rh_img_copy_stats {
	uint64_t read_bytes;    /* bytes read from the source */
	uint64_t skipped_bytes; /* bytes not read: holes and unused blocks */
};

/* Copy the first rh_img_writer_size(dst) bytes of src (clipped to the
 * source size; the rest is zeros) into dst, reading only ranges that the
 * source has allocated and, when only is not NULL, that only marks used
 * (its size must cover the copy). Does not finalize dst. progress may be
 * NULL. stats may be NULL. Returns 0 or an error of rh_img_pread /
 * rh_img_write; RH_ERR_INTR when *stop becomes non-zero (stop may be NULL). */
int rh_img_copy(struct rh_img *src, struct rh_img_writer *dst, const struct rh_extents *only,
		rh_img_progress_fn progress, void *ctx, const volatile sig_atomic_t *stop,
		struct rh_img_copy_stats *stats);

/* ---- export of a disk (src/lib/img/export.c) ---- */

struct rh_img_export_part {
	unsigned number;      /* partition number */
	uint64_t start, size; /* bytes */
	bool container;       /* MBR extended partition */
	bool included;        /* inside the exported range */
	char fstype[16];      /* used-block map type name ("ext", "xfs", ...,
			       * "unknown"), "" for containers */
	uint64_t used;        /* bytes the map marks used */
	bool fallback;        /* metadata unreadable: copied in full */
};

struct rh_img_export_plan {
	uint64_t disk_size;   /* bytes of the source disk */
	uint64_t size;        /* bytes to export: the image's virtual size */
	uint32_t sector_size; /* logical sector size of the partition table */
	char ptable[16];      /* "dos", "gpt", "" when none */
	bool whole;           /* the whole disk is exported */
	char note[256];       /* why whole was chosen, or ""; informational */
	struct rh_extents *used; /* ranges of [0, size) to copy (the rest are
			       * zeros); owned by the plan */
	size_t nparts;
	struct rh_img_export_part *parts; /* owned by the plan */
};

/* Plan the export of the disk (or disk image) src: the image covers the
 * MBR/GPT and every partition up to the end of the last one - the guide's
 * (end sector + 1) x sector size - or the whole disk when whole is true,
 * when there is no partition table, or for GPT (whose backup header lives at
 * the end of the disk). Inside each partition only the blocks its
 * filesystem uses are copied (rehost/usedmap.h; unknown contents and
 * unreadable metadata are copied in full); everything outside partitions
 * (boot loader gaps, EBRs) is copied. On success *out is a new plan freed
 * with rh_img_export_plan_free. Returns 0, RH_ERR_IO, RH_ERR_CORRUPT (bad
 * partition table) or RH_ERR_NOMEM. */
int rh_img_export_plan(struct rh_img *src, bool whole, struct rh_img_export_plan **out);
void rh_img_export_plan_free(struct rh_img_export_plan *p);

/* Whether writing to out_path would write onto the source: the same file
 * or device, or a file on a filesystem that lives on the source disk or
 * one of its partitions. src_fd is the source's descriptor. Returns 0 when
 * safe, RH_ERR_EXISTS (with a detail) when it would overwrite the source,
 * or RH_ERR_IO. A non-existent out_path is judged by its directory. */
int rh_img_check_output(int src_fd, const char *out_path);

/* ---- pre-checks of a system disk export (src/lib/img/precheck.c) ---- */

struct rh_img_precheck_result {
	const char *id;       /* stable: "partition-table", "efi-boot", "ipv6",
			       * "multiple-nics", "root-uuid", "fstab-other-disks",
			       * "shadow", "guest-tools", "virtio", "cloud-init" */
	const char *title;    /* what is checked */
	enum rh_check_status status;
	const char *message;  /* the finding */
	const char *hint;     /* what to do, NULL for OK and skipped results */
};

struct rh_img_precheck;

/* Run the export guide's pre-checks on the system under root (NULL or "/"
 * for this machine) with the given disks (image files or devices; ndisks 0:
 * the machine's disks), through the source inventory (rh_inspect_run).
 * Strings are owned by the result. On success *out is freed with
 * rh_img_precheck_free. Returns 0 or an error of rh_inspect_run. */
int rh_img_precheck_run(const char *root, const char *const *disks, size_t ndisks,
			struct rh_img_precheck **out);
size_t rh_img_precheck_count(const struct rh_img_precheck *p);
/* Result i, or NULL when out of range. Borrowed until rh_img_precheck_free. */
const struct rh_img_precheck_result *rh_img_precheck_at(const struct rh_img_precheck *p, size_t i);
void rh_img_precheck_free(struct rh_img_precheck *p);

#endif
