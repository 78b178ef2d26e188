/* Private to src/lib/snap. */
#ifndef REHOST_SNAP_INTERNAL_H
#define REHOST_SNAP_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rehost/snap.h"

/* Granularity of hole detection and of the digest (RH_SNAP_DIGEST_ALG). */
#define SNAP_BLOCK 4096u
/* Manifests are a few KiB; anything larger is not ours. */
#define SNAP_MANIFEST_MAX (256u << 10)
#define SNAP_MANIFEST "manifest.json"

/* ---- copy.c ---- */

enum snap_copy_flags {
	SNAP_COPY_REFLINK = 1 << 0, /* try FICLONE first (regular files only) */
	SNAP_COPY_INPLACE = 1 << 1, /* dst already holds data: zero what src
				     * does not have (else dst must be empty) */
};

struct snap_io {
	uint64_t read, written;
	bool reflinked;
};

/* Digest of the first size bytes of fd (RH_SNAP_DIGEST_ALG) as 32 hex
 * digits. Reads only the data extents. Adds to io->read. */
int snap_digest(int fd, const char *name, uint64_t size, char hex[RH_SNAP_DIGEST_HEX],
		struct snap_io *io);

/* Copy size bytes of src into dst and return the digest of what was read
 * (for a reflink: of the clone, read back). Without SNAP_COPY_INPLACE dst
 * must be an empty regular file: it is sized to size and only non-zero
 * blocks are written, so holes stay holes. With it, dst (a device or a
 * file) is overwritten: data blocks written, the rest zeroed (punched
 * holes in files, BLKZEROOUT on devices). Does not fsync. */
int snap_copy(int src, const char *src_name, int dst, const char *dst_name, uint64_t size,
	      unsigned flags, char hex[RH_SNAP_DIGEST_HEX], struct snap_io *io);

/* fsync fd, then the directory holding path. */
int snap_sync_file(int fd, const char *path);
int snap_sync_dir(const char *dir);

/* ---- manifest.c ---- */

/* Parse and validate a manifest (len bytes, no NUL needed). expect_name,
 * when not NULL, must equal the manifest's name. */
int snap_manifest_parse(const char *text, size_t len, const char *expect_name,
			struct rh_snap_info *out);
/* Serialise info as a manifest into a new string (caller frees). */
int snap_manifest_format(const struct rh_snap_info *info, char **out);
/* Read dir/manifest.json and parse it. */
int snap_manifest_load(const char *dir, const char *expect_name, struct rh_snap_info *out);
/* Write dir/manifest.json durably. */
int snap_manifest_save(const char *dir, const struct rh_snap_info *info);

/* ---- snap.c ---- */

/* The disks of a target, resolved: paths and open descriptors. */
struct snap_disks {
	size_t n;
	char path[RH_SNAP_MAX_DISKS][4096];
	int fd[RH_SNAP_MAX_DISKS];
	uint64_t size[RH_SNAP_MAX_DISKS];
	bool is_blk[RH_SNAP_MAX_DISKS];
};

/* base = disk_dir or state_dir; root = base/snapshots. */
int snap_paths(const struct rh_snap_target *t, char *base, size_t blen, char *root, size_t rlen);
/* Open the target's disks (O_RDONLY or O_RDWR). In disk-dir mode a
 * missing file ends the list (want_min says how many must exist). */
int snap_disks_open(const struct rh_snap_target *t, int flags, size_t want_min,
		    struct snap_disks *d);
void snap_disks_close(struct snap_disks *d);
/* Resolve the paths, create root, take the target lock (what names the
 * holder) and remove leftovers of interrupted operations. */
int snap_lock(const struct rh_snap_target *t, const char *what, char *base, size_t blen,
	      char *root, size_t rlen, int *lock);
/* Load root/name/manifest.json and add the space its files use. */
int snap_load_info(const char *root, const char *name, struct rh_snap_info *out);
/* Remove leftovers of interrupted operations (NAME.tmp, NAME.old) in root. */
void snap_cleanup_leftovers(const char *root);
/* Remove a flat snapshot directory (regular files only). */
int snap_remove_dir(const char *path);

#endif
