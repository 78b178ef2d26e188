/*
 * Source inventory and migration pre-checks (`rehost inspect`, and the
 * agent's registration step).
 *
 * rh_inspect_run() collects what a migration needs to know about a Linux
 * source - OS, kernel, CPU, memory, firmware, virtualisation, disks and
 * their partitions, filesystems, LVM, md RAID, swap, mounts, the
 * default-gateway NIC, tools, GRUB and the initramfs of the running kernel -
 * then runs every pre-check of the seed service (each with its SMS.xxxx
 * code when the catalogue has one) and derives a recommendation: migration
 * mode and target sizes.
 *
 * Inputs can be redirected for testing and for offline use: `root` makes
 * every system file (/etc, /proc, /sys, /boot, /usr/lib/grub, PATH lookups)
 * come from a prepared tree, and `disks` inspects the given disk images or
 * block devices instead of the machine's own disks.
 *
 * The JSON form is a stable, versioned schema documented in
 * docs/inventory.md.
 */
#ifndef REHOST_INSPECT_H
#define REHOST_INSPECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

struct rh_config;
struct rh_inventory;

/* Version of the JSON schema (the "schema" member). Bumped only for
 * incompatible changes; new members may be added at any time. */
#define RH_INVENTORY_SCHEMA 1

enum rh_inspect_flags {
	RH_INSPECT_NO_INITRAMFS = 1 << 0, /* do not read the initramfs contents */
};

struct rh_inspect_opts {
	const char *root;          /* system root; NULL or "/" = this machine */
	const char *const *disks;  /* NULL-terminated disk image / block device
				    * paths (host paths, not under root); NULL =
				    * the disks listed in root's /sys/block */
	size_t ndisks;             /* entries in disks (the NULL may be omitted) */
	const struct rh_config *config; /* borrowed for the call; NULL = defaults */
	unsigned flags;            /* enum rh_inspect_flags */
};

/* Collect the inventory and run the checks. Problems found on the source
 * are check results, not errors: the call fails only when it cannot do its
 * job at all (root missing, out of memory, a --disk path unreadable).
 * On success *out is a new inventory freed with rh_inventory_free.
 * Returns 0, RH_ERR_NOTFOUND / RH_ERR_IO (with a detail naming the path),
 * RH_ERR_INVAL or RH_ERR_NOMEM. */
int rh_inspect_run(const struct rh_inspect_opts *opts, struct rh_inventory **out);

void rh_inventory_free(struct rh_inventory *inv);

enum rh_check_status {
	RH_CHECK_OK = 0,   /* passed */
	RH_CHECK_SKIPPED,  /* not applicable here (e.g. GRUB i386-pc on UEFI) */
	RH_CHECK_WARNING,  /* migration possible; the operator acknowledges it */
	RH_CHECK_ERROR,    /* migration blocked */
};

/* One check result. A check that finds several problems (e.g. two full
 * mount points) yields one result per problem, all with the same id. All
 * strings are owned by the inventory. */
struct rh_check_result {
	const char *id;       /* stable identifier, e.g. "mount-free-space" */
	const char *title;    /* what is checked, e.g. "free space on mount points" */
	enum rh_check_status status;
	const char *code;     /* catalogue code "SMS.1351" / "MSG.tmp-full", or NULL */
	const char *subject;  /* what it is about ("/data", "vg0"), or NULL */
	const char *message;  /* the finding, one sentence */
	const char *hint;     /* what to do (the catalogue's action when code is
			       * set), or NULL for OK results */
};

size_t rh_inventory_check_count(const struct rh_inventory *inv);

/* Result i in report order, or NULL when out of range. Borrowed. */
const struct rh_check_result *rh_inventory_check_at(const struct rh_inventory *inv, size_t i);

/* Number of results with the given status. */
size_t rh_inventory_count(const struct rh_inventory *inv, enum rh_check_status status);

/* Whether migration is possible: no RH_CHECK_ERROR result. */
bool rh_inventory_migratable(const struct rh_inventory *inv);

/* Recommended migration mode: "block" or "file". Static string. */
const char *rh_inventory_mode(const struct rh_inventory *inv);

/* The inventory as JSON text (schema RH_INVENTORY_SCHEMA, documented in
 * docs/inventory.md), indented when pretty. On success *out is a
 * NUL-terminated string the caller frees with free(). Returns 0 or
 * RH_ERR_NOMEM. */
int rh_inventory_json(const struct rh_inventory *inv, bool pretty, char **out);

/* Write the human-readable report: a summary of the machine and its
 * disks, the check results grouped as errors, warnings and OK, and the
 * recommendation. verbose also lists every mount. Returns 0 or RH_ERR_IO. */
int rh_inventory_report(const struct rh_inventory *inv, FILE *out, bool verbose);

/* ---- initramfs contents (src/lib/inspect/initramfs.c) ---- */

/* Bounds on what is read from an initramfs image. */
#define RH_INITRAMFS_MAX_FILE (1ull << 30)     /* compressed image size */
#define RH_INITRAMFS_MAX_OUTPUT (2ull << 30)   /* decompressed bytes in total */
#define RH_INITRAMFS_MAX_ENTRIES 500000u
#define RH_INITRAMFS_MAX_NAME 4096u
#define RH_INITRAMFS_MAX_SEGMENTS 16u

/* Called for each archive member: name without a leading "./" or "/",
 * mode as in the cpio header, size in bytes. Return 0 to continue, 1 to
 * stop scanning early (not an error), or a negative RH_ERR_* to abort. */
typedef int (*rh_cpio_cb)(void *arg, const char *name, unsigned mode, unsigned long long size);

struct rh_initramfs_scan {
	unsigned segments;         /* archives (cpio or compressed streams) seen */
	char formats[96];          /* e.g. "cpio+zstd": each segment's format */
	unsigned long long entries;
	unsigned long long bytes;  /* decompressed bytes processed */
	bool stopped;              /* the callback asked to stop early */
};

/* Walk an initramfs image held in memory: any sequence of newc/crc cpio
 * archives ("070701"/"070702", also odc "070707"), each optionally
 * compressed with gzip, xz, lzma or zstd, with NUL padding between them -
 * the usual layout is an uncompressed early cpio (CPU microcode) followed
 * by the compressed main archive. Returns 0, RH_ERR_PARSE / RH_ERR_CORRUPT
 * (malformed header or stream, with the offset), RH_ERR_UNSUPPORTED
 * (another compression, e.g. lz4 or bzip2), RH_ERR_TOOBIG (a bound above)
 * or RH_ERR_NOMEM. *scan is filled in either case. */
int rh_initramfs_scan(const unsigned char *data, size_t len, rh_cpio_cb cb, void *arg,
		      struct rh_initramfs_scan *scan);

#endif
