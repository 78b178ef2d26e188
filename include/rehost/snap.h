/*
 * Named snapshots of a target's disks (docs/snapshots.md).
 *
 * The seed keeps two kinds on every target: "sync", taken after the data
 * sync and before the configuration changes, so that rolling back to it
 * gives disks that again match the source block for block (the next sync
 * then only has to send what changed on the source); and "cutover", taken
 * after the configuration, replaced by every new cutover. Any other name
 * matching [a-z0-9-]{1,32} is allowed too.
 *
 * Storage: <base>/snapshots/NAME/diskN.raw and manifest.json, where base is
 * the disk directory (--disk-dir) or the state directory (--disk DEV). The
 * disk files are reflinks (FICLONE) where the filesystem has them, else
 * sparse copies. A snapshot is built as NAME.tmp and renamed into place
 * only once every byte and the manifest are on stable storage, so a crash
 * never leaves a partial snapshot under a valid name.
 *
 * Every function takes the target's lock (rh_target_lock) for its whole
 * run and fails with RH_ERR_BUSY while a receiver session or another
 * snapshot operation holds it.
 */
#ifndef REHOST_SNAP_H
#define REHOST_SNAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define RH_SNAP_NAME_MAX 32
#define RH_SNAP_MAX_DISKS 64      /* as many as a migration job can have */
#define RH_SNAP_DIGEST_HEX 33     /* 32 hex digits + NUL */

/* The disks a snapshot covers. Exactly one of disk_dir and devices. */
struct rh_snap_target {
	const char *disk_dir;         /* disks are disk_dir/disk0.raw, disk1.raw...
				       * (consecutive from 0); snapshots live in
				       * disk_dir/snapshots; NULL in device mode */
	const char *const *devices;   /* device mode: block devices or files, in order */
	size_t ndevices;
	const char *state_dir;        /* device mode: snapshots and lock live here */
};

struct rh_snap_disk {
	char file[32];                /* "diskN.raw" inside the snapshot directory */
	char source[1024];            /* the disk it was taken from (path; informational) */
	uint64_t size;                /* bytes */
	char digest[RH_SNAP_DIGEST_HEX]; /* content digest, lower-case hex (see below) */
	char method[16];              /* "reflink" or "sparse-copy" */
};

/* A snapshot as its manifest describes it. */
struct rh_snap_info {
	char name[RH_SNAP_NAME_MAX + 1];
	char created[32];             /* ISO-8601 UTC, "2024-05-01T12:00:00Z" */
	time_t created_t;
	size_t ndisks;
	struct rh_snap_disk disks[RH_SNAP_MAX_DISKS];
	uint64_t size;                /* sum of the disk sizes, bytes */
	uint64_t used;                /* bytes allocated by its files (st_blocks);
				       * reflinked blocks shared with the disks
				       * count in full, so this is an upper bound */
};

/* Counters of one create or rollback. */
struct rh_snap_stats {
	uint64_t bytes;               /* sum of the disk sizes */
	uint64_t read;                /* bytes read (copy and digest passes) */
	uint64_t written;             /* bytes written (0 for reflinks) */
	unsigned reflinked;           /* disks cloned with FICLONE */
	double seconds;
};

/* The content digest is XXH3-128 over the disk's non-zero 4 KiB blocks,
 * each preceded by its byte offset (64-bit little-endian), followed by
 * the disk size: holes and zero blocks cost nothing and are
 * indistinguishable, so a sparse copy of a disk has the digest of the
 * disk. */
#define RH_SNAP_DIGEST_ALG "xxh3-128-nonzero-4k"

/* 0 when name matches [a-z0-9-]{1,32}, else RH_ERR_INVAL with a detail. */
int rh_snap_name_check(const char *name);

/* Take snapshot `name` of every disk, replacing an existing snapshot of
 * that name only once the new one is complete. st may be NULL. Returns 0,
 * RH_ERR_BUSY, RH_ERR_NOTFOUND (no disks), RH_ERR_NOSPACE, or an I/O
 * error; on failure nothing but leftovers named NAME.tmp remain (removed
 * by the next operation). */
int rh_snap_create(const struct rh_snap_target *t, const char *name,
		   struct rh_snap_stats *st);

/* Put snapshot `name` back on the disks. Every snapshot disk is checked
 * against its digest before any disk changes; a missing or damaged one
 * refuses the rollback (RH_ERR_CORRUPT / RH_ERR_NOTFOUND, disks
 * untouched). Disk files (disk-dir mode) are rebuilt beside the disk and
 * renamed over it; devices are written in place, synced, and read back.
 * The result is checked against the digest in both cases. st may be NULL. */
int rh_snap_rollback(const struct rh_snap_target *t, const char *name,
		     struct rh_snap_stats *st);

/* Delete snapshot `name`. RH_ERR_NOTFOUND when there is none. */
int rh_snap_delete(const struct rh_snap_target *t, const char *name);

/* All valid snapshots, sorted by creation time. *out is a new array of *n
 * entries that the caller frees with free(). A snapshot directory whose
 * manifest does not load is reported with a warning and left out. */
int rh_snap_list(const struct rh_snap_target *t, struct rh_snap_info **out, size_t *n);

/* Load and validate the manifest of snapshot `name` (no digest check). */
int rh_snap_info(const struct rh_snap_target *t, const char *name, struct rh_snap_info *out);

#endif
