/*
 * Private interfaces of the inspect module, grouped by the file that
 * defines them. The inventory owns every string it points to: they live
 * in its arena and go away with rh_inventory_free().
 */
#ifndef REHOST_INSPECT_INTERNAL_H
#define REHOST_INSPECT_INTERNAL_H

#include <dirent.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "rehost/config.h"
#include "rehost/disk.h"
#include "rehost/inspect.h"
#include "rehost/tsv.h"

/* Bounds on inputs. */
#define INV_MAX_FILE (4u << 20)     /* any text file read from the root */
#define INV_MAX_LINE 65536u         /* longer lines are skipped */
#define INV_MAX_MOUNTS 8192u
#define INV_MAX_FSTAB 4096u
#define INV_MAX_DISKS 256u
#define INV_MAX_VOLS 16384u
#define INV_MAX_VGS 1024u
#define INV_MAX_MDS 256u
#define INV_MAX_CHECKS 8192u
#define INV_MAX_LIST 4096u          /* small string lists */
#define INV_MAX_ARENA (256u << 20)

#define GIB (1024ull * 1024 * 1024)
#define MIB (1024ull * 1024)

/* A bounded growable array: VEC_PUSH returns a zeroed new element or NULL
 * (with rh_seterr: RH_ERR_TOOBIG beyond max, or RH_ERR_NOMEM). */
#define VEC(type) struct { type *v; size_t n, cap; }
#define VEC_PUSH(vec, max)                                                       \
	(inv_vec_grow((void **)&(vec).v, &(vec).cap, (vec).n, sizeof *(vec).v, (max), \
		      #vec) < 0 ? NULL : &(vec).v[(vec).n++])
#define VEC_FREE(vec) do { free((vec).v); (vec).v = NULL; (vec).n = (vec).cap = 0; } while (0)

typedef VEC(const char *) strv_t;

/* ---- inventory model ---- */

struct inv_os {
	const char *id;        /* os-release ID, lower case ("centos"); NULL if unknown */
	const char *name;      /* NAME */
	const char *pretty;    /* PRETTY_NAME or the release file's first line */
	const char *version;   /* most precise version found ("7.9", "12.5", "11.3") */
	const char *version_id;/* os-release VERSION_ID as written */
	const char *variant;   /* VARIANT_ID, NULL if none */
	const char *id_like;
	const char *source;    /* file the identity came from */
	/* From data/os-compat.tsv: */
	bool family_known;     /* some version of this family is listed */
	bool listed;           /* this exact version is listed */
	int uefi;              /* 1 UEFI supported, 0 not, -1 unknown */
	const char *note;      /* the list's note column ("no-btrfs", "kvm-only"), or NULL */
	bool block_listed;     /* data/block-os.tsv */
};

enum vol_kind { VOL_DISK, VOL_PART, VOL_LV, VOL_MD };

struct inv_vol {
	enum vol_kind kind;
	const char *name;       /* "vda1", "vg0/root", "md0", "disk.img:1" */
	const char *dev;        /* device path to show and match ("/dev/vda1"), or NULL */
	int disk;               /* index in inv->disks, -1 for LVs and md */
	int part;               /* index in the disk's ptable, -1 otherwise */
	int vg, lv;             /* VOL_LV: indices, else -1 */
	int md;                 /* VOL_MD: index, else -1 */
	uint64_t offset, size;  /* bytes; offset on the disk (VOL_DISK/PART) */
	unsigned major, minor;  /* from sysfs, 0:0 when unknown */
	bool probed;
	struct rh_fsinfo fs;
	strv_t mountpoints;     /* current mounts (root "/" or subvolume) */
	strv_t fstab;           /* fstab mount points naming this volume */
	bool statvfs_ok;        /* used from statvfs of a mount (more accurate) */
	bool system;            /* holds / */
	bool boot;              /* holds /boot or /boot/efi */
};

struct inv_disk {
	const char *name;       /* "vda", or the image file's base name */
	const char *path;       /* what was opened */
	bool is_file;
	unsigned major, minor;
	uint64_t size;
	struct rh_ptable *pt;   /* owned; NULL when unreadable */
	const char *error;      /* why it could not be read, else NULL */
	bool system;            /* holds the system volume */
	uint64_t required;      /* bytes a target disk needs (end of last partition) */
	uint64_t recommended_gib;
};

struct inv_vg {
	struct rh_lvm_vg *vg;   /* owned */
	int *pv_vol;            /* per vg->pvs[i]: index in vols, -1 when not found */
	unsigned unknown_pvs;
	bool duplicate_name;
	bool has_thin_pool;
	uint64_t size, free;    /* bytes */
};

struct inv_md {
	const char *name;       /* "md0" or the array name from the superblock */
	const char *uuid;
	const char *level;      /* "raid1", "linear"... */
	const char *state;      /* mdstat: "active"; superblock: "not assembled" */
	const char *source;     /* "mdstat" or "superblock" */
	unsigned raid_disks;
	strv_t members;         /* volume names */
	int vol;                /* the array's own volume, -1 if none */
};

enum mount_class { MNT_LOCAL, MNT_NETWORK, MNT_PSEUDO, MNT_LOOP, MNT_OTHER };

struct inv_mount {
	const char *source, *target, *fstype, *options, *root;
	unsigned major, minor;  /* mountinfo only */
	enum mount_class cls;
	bool bind, repeated, ro, noexec;
	const char *subvol;     /* btrfs subvol= option, or NULL */
	int vol;                /* matched volume, -1 */
	bool stat_ok;
	int stat_errno;         /* statvfs failure, 0 when ok or not tried */
	uint64_t size, free, avail; /* bytes, from statvfs */
};

struct inv_fstab {
	const char *spec, *file, *type, *options;
	int vol;
};

struct inv_swap {
	const char *path, *type;
	uint64_t size, used;   /* bytes */
};

struct inv_net {
	const char *iface, *ip, *mac, *gateway;
	const char *source;    /* "route", "config" */
	unsigned ndefault;     /* interfaces with a default route */
	strv_t default_ifaces;
};

struct inv_boot {
	const char *grub;          /* "grub2", "grub-legacy" or NULL */
	const char *i386_pc;       /* platform module directory, or NULL */
	const char *x86_64_efi;
	const char *grub_cfg;      /* first config file found */
	const char *grub_install;  /* grub-install / grub2-install path */
	const char *cmdline_root;  /* root= of the first kernel line, or NULL */
	const char *initramfs;     /* path for the running kernel, or NULL */
	uint64_t initramfs_size;
	const char *initramfs_format;
	const char *initramfs_error; /* could not be read fully */
	bool initramfs_scanned;
	bool initramfs_complete;
	/* Per virtio module: 'i' initramfs, 'b' built into the kernel, 0 missing. */
	char virtio[6];
};

struct inv_tools {
	const char *rsync, *ssh, *fdisk;
	bool home_immutable;
	const char *home;
	strv_t google_units;
	strv_t raw_devices;
	strv_t device_names;       /* fstab/grub references by /dev/sdX-style names */
};

struct rh_inventory {
	/* arena of strings and small objects */
	struct arena_block *arena;
	size_t arena_total;

	const char *root;          /* "/" or the --root directory */
	bool host_root;
	bool explicit_disks;
	char collected_at[40];
	const struct rh_config *cfg; /* borrowed; NULL after rh_inspect_run */

	const char *hostname, *kernel, *arch;
	unsigned cpus;
	uint64_t mem_total, mem_available;
	bool uefi;
	const char *hypervisor;    /* "kvm", "xen", "vmware"... or NULL for bare metal */
	const char *virt_product;
	bool paravirt;
	bool kernel_block_listed;
	struct inv_os os;

	VEC(struct inv_disk) disks;
	VEC(struct inv_vol) vols;
	VEC(struct inv_vg) vgs;
	VEC(struct inv_md) mds;
	VEC(struct inv_mount) mounts;
	bool have_mountinfo;
	VEC(struct inv_fstab) fstab;
	VEC(struct inv_swap) swaps;
	/* statvfs of the root directory and of /tmp (bytes). */
	bool rootfs_ok, tmp_ok;
	uint64_t rootfs_size, rootfs_avail, tmp_avail;
	struct inv_net net;
	struct inv_tools tools;
	struct inv_boot boot;

	VEC(struct rh_check_result) checks;
	const char *mode;          /* "block" / "file" */
	bool block_eligible;
	const char *mode_reason;
	unsigned reco_cpus;
	uint64_t reco_mem_gib;
	int system_disk;           /* index or -1 */
};

/* inspect.c */
int inv_vec_grow(void **v, size_t *cap, size_t n, size_t elem, size_t max, const char *what);
/* Arena copies: NULL in, NULL out; NULL with rh_seterr on failure. */
const char *inv_strdup(struct rh_inventory *inv, const char *s);
const char *inv_strndup(struct rh_inventory *inv, const char *s, size_t n);
const char *inv_printf(struct rh_inventory *inv, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
int strv_add(struct rh_inventory *inv, strv_t *v, const char *s);
bool strv_has(const strv_t *v, const char *s);
const struct rh_config *inv_config(const struct rh_inventory *inv);

/* root.c: files of the inspected system, resolved inside its root (absolute
 * symlinks in a prepared tree stay in the tree). Paths are absolute
 * ("/etc/os-release"). */
struct inv_root {
	int dirfd;
	bool host;             /* root is "/" */
};
int root_init(struct inv_root *r, const char *path);
void root_release(struct inv_root *r);
int root_open(const struct inv_root *r, const char *path, int flags);
/* Read a whole text file into a new NUL-terminated buffer (caller frees).
 * Returns 0, RH_ERR_NOTFOUND, RH_ERR_TOOBIG (> max) or RH_ERR_IO. */
int root_read(const struct inv_root *r, const char *path, size_t max, char **buf,
	      size_t *len);
/* First line of a small file, trimmed, copied to the arena; NULL if absent. */
const char *root_read_line(struct rh_inventory *inv, const struct inv_root *r,
			   const char *path);
int root_stat(const struct inv_root *r, const char *path, struct stat *st);
int root_lstat(const struct inv_root *r, const char *path, struct stat *st);
bool root_exists(const struct inv_root *r, const char *path);
DIR *root_opendir(const struct inv_root *r, const char *path);
/* Directory with at least one entry besides . and .. */
bool root_dir_nonempty(const struct inv_root *r, const char *path);

/* Split the next line off *cursor in place (rh_tsv_line_next); NULL at the
 * end. Lines longer than INV_MAX_LINE are skipped. A trailing '\r' is
 * removed. */
char *text_next_line(char **cursor);
char *text_trim(char *s);

/* datalist.c: the TSV data files (data/os-compat.tsv, ...), parsed with
 * rh_tsv_parse (rehost/tsv.h). */
/* Compare dotted versions numerically ("8" == "8.0" < "8.10"); non-numeric
 * components compare case-insensitively. */
int version_cmp(const char *a, const char *b);
/* The built-in lists, parsed on first use; NULL if the embedded data is
 * broken (a unit test rules that out). */
const struct rh_tsv *datalist_os_compat(void);
const struct rh_tsv *datalist_block_os(void);
const struct rh_tsv *datalist_block_kernels(void);
/* Lookups. */
struct os_compat {
	bool family_known, listed;
	int uefi;              /* 1, 0, -1 */
	const char *note;      /* borrowed from the list, NULL for "-" */
};
void os_compat_lookup(const struct rh_tsv *t, const char *family, const char *version,
		      const char *variant, struct os_compat *out);
bool block_os_listed(const struct rh_tsv *t, const char *family, const char *version);
bool block_kernel_listed(const struct rh_tsv *t, const char *release);

/* osrel.c */
/* Value of KEY in os-release text (shell-style quoting undone) copied to
 * out. Returns 0, RH_ERR_NOTFOUND or RH_ERR_TOOBIG (value longer than len). */
int osrel_get(const char *text, const char *key, char *out, size_t len);
int os_detect(struct rh_inventory *inv, const struct inv_root *r);

/* system.c */
int system_collect(struct rh_inventory *inv, const struct inv_root *r);

/* mounts.c */
int mounts_collect(struct rh_inventory *inv, const struct inv_root *r);
/* Parse one mountinfo line into m (strings in the arena). */
int mountinfo_parse_line(struct rh_inventory *inv, char *line, struct inv_mount *m);
/* Undo the octal escapes (\040) of /proc/mounts fields in place. */
void mount_unescape(char *s);
enum mount_class mount_classify(const char *fstype, const char *source);
/* Mount whose target is the longest prefix of path, or NULL. */
const struct inv_mount *mount_for_path(const struct rh_inventory *inv, const char *path);
void mounts_flag_repeated(struct rh_inventory *inv);
void mounts_statvfs(struct rh_inventory *inv, const struct inv_root *r);

/* net.c */
int net_collect(struct rh_inventory *inv, const struct inv_root *r);

/* tools.c */
const char *tool_find(struct rh_inventory *inv, const struct inv_root *r, const char *name);
int tools_collect(struct rh_inventory *inv, const struct inv_root *r);
int boot_collect(struct rh_inventory *inv, const struct inv_root *r, bool read_initramfs);
/* Scan the initramfs at path for the virtio modules (inv->boot.virtio). */
int boot_scan_initramfs(struct rh_inventory *inv, const struct inv_root *r, const char *path);
/* virtio_blk, virtio_scsi, virtio_net, virtio_pci, virtio_ring, virtio */
extern const char *const inv_virtio_modules[6];

/* disks.c */
int disks_collect(struct rh_inventory *inv, const struct inv_root *r,
		  const char *const *paths, size_t npaths);
void disks_link(struct rh_inventory *inv, const struct inv_root *r);

/* checks.c */
int checks_run(struct rh_inventory *inv);

/* output.c: JSON and text (rh_inventory_json / rh_inventory_report). */
const char *check_status_name(enum rh_check_status s);

#endif
