/*
 * Which accelerator a QEMU that rehost starts should use (src/lib/accel/):
 * the boot test today, the libvirt launch and the libguestfs appliance
 * later. KVM only where it really runs a guest, else TCG (full emulation),
 * and a one-line reason either way.
 *
 * An openable /dev/kvm is not proof: on some hosts QEMU aborts at once
 * under KVM ("failed to set MSR ..."), or hangs silently at 100% system
 * time, and firmware output is no proof either (SeaBIOS may run where a
 * kernel prints nothing). So "auto" boots a real Linux kernel under KVM,
 * with the same -cpu model the real run uses, and wants "Linux version"
 * on its serial console within a few seconds. The verdict is cached per
 * host boot and QEMU binary.
 *
 * Three parts: the choice (choose.c), the probe (probe.c) and the verdict
 * cache (cache.c).
 */
#ifndef REHOST_ACCEL_H
#define REHOST_ACCEL_H

#include <stdbool.h>
#include <stddef.h>

enum rh_accel {
	RH_ACCEL_AUTO = 0, /* probe (the default) */
	RH_ACCEL_KVM = 1,
	RH_ACCEL_TCG = 2,
};

/* "auto", "kvm", "tcg". Static, never NULL. */
const char *rh_accel_name(enum rh_accel a);

/* Parse "auto", "kvm" or "tcg". Returns 0 or RH_ERR_INVAL. */
int rh_accel_parse(const char *s, enum rh_accel *out);

/* The -cpu model that goes with an accelerator: "host" under KVM (the
 * guest sees the host's CPU), "max" under TCG (every feature TCG emulates;
 * newer distributions need x86-64-v2). Static, never NULL. The probe uses
 * the same, so that it tests what the real run will do. */
const char *rh_accel_cpu(enum rh_accel a);

/* Longest reason kept, with its NUL. */
#define RH_ACCEL_REASON_MAX 512u
/* Default probe deadline (seconds). A working KVM prints "Linux version"
 * well under a second after QEMU starts. */
#define RH_ACCEL_PROBE_TIMEOUT_S 8u

/* Where each setting comes from when its field is NULL/0: the environment
 * variable named, else the default. The variables exist so that every
 * program and test reaches the same knobs. */
struct rh_accel_opts {
	enum rh_accel want;          /* RH_ACCEL_AUTO probes; KVM and TCG are taken as asked */
	const char *qemu;            /* QEMU binary; NULL: qemu-system-x86_64 from PATH */
	const char *kernel;          /* kernel to probe with; NULL: $REHOST_PROBE_KERNEL,
				      * else /boot/vmlinuz-$(uname -r), else the newest
				      * /boot/vmlinuz-* */
	const char *kvm_dev;         /* NULL: $REHOST_KVM_DEV, else /dev/kvm */
	const char *cache_dir;       /* NULL: $REHOST_ACCEL_CACHE, else /run/rehost;
				      * "off": no cache */
	const char *boot_id_file;    /* NULL: $REHOST_BOOT_ID_FILE, else
				      * /proc/sys/kernel/random/boot_id */
	unsigned probe_timeout_s;    /* 0: $REHOST_PROBE_TIMEOUT, else RH_ACCEL_PROBE_TIMEOUT_S */
};

/* How a choice was made. */
enum rh_accel_how {
	RH_ACCEL_REQUESTED = 0, /* kvm or tcg asked for: no probe */
	RH_ACCEL_NO_DEVICE = 1, /* the KVM device does not open: TCG */
	RH_ACCEL_NO_KERNEL = 2, /* no kernel to probe with: TCG */
	RH_ACCEL_PROBED = 3,    /* a probe ran now */
	RH_ACCEL_CACHED = 4,    /* an earlier probe's verdict in this host boot */
};

struct rh_accel_choice {
	enum rh_accel accel;            /* RH_ACCEL_KVM or RH_ACCEL_TCG, never AUTO */
	const char *cpu;                /* rh_accel_cpu(accel); static */
	enum rh_accel_how how;
	char reason[RH_ACCEL_REASON_MAX]; /* one line of printable ASCII, never "" */
};

/* Choose the accelerator for o (NULL: all defaults). Logs exactly one
 * line: info for KVM or when there is no KVM device, warn when a probe
 * or its lack makes it TCG. Never fails over to an error because KVM is
 * broken: that is a TCG verdict. Returns 0, or RH_ERR_INVAL for a bad
 * setting ($REHOST_PROBE_TIMEOUT that is not 1..600). */
int rh_accel_choose(const struct rh_accel_opts *o, struct rh_accel_choice *out);

/* ---- probe (probe.c) ---- */

/* The kernel to probe with: configured if not NULL or "" (it must be
 * readable), else boot_dir/vmlinuz-RELEASE for the running kernel, else
 * the newest boot_dir/vmlinuz-* by version. Copies the path into path.
 * Returns 0 or RH_ERR_NOTFOUND (detail says what was looked for). */
int rh_accel_find_kernel(const char *configured, const char *boot_dir, char *path, size_t len);

/* Verdict of one probe. */
enum rh_accel_verdict {
	RH_ACCEL_WORKS = 0,    /* "Linux version" arrived in time */
	RH_ACCEL_BROKEN = 1,   /* QEMU aborted, failed or stayed silent */
	RH_ACCEL_NO_RUN = 2,   /* the probe itself could not run (fork, exec):
				* says nothing about KVM, never cached */
};

/* Boot kernel under KVM in qemu (NULL: qemu-system-x86_64) with console=
 * ttyS0 and no initrd; QEMU is killed at timeout_s at the latest, with
 * what it started, and reaped. Writes the reason (one printable line) to
 * reason. Returns the verdict (never negative). */
enum rh_accel_verdict rh_accel_probe(const char *qemu, const char *kernel, unsigned timeout_s,
				     char *reason, size_t len);

/* ---- verdict cache (cache.c) ---- */

/* Longest cache file read (bytes); a longer one is corrupt. */
#define RH_ACCEL_CACHE_MAX 8192u
/* Longest key (with NUL). */
#define RH_ACCEL_KEY_MAX 4400u

/* The cache key: the host boot (the boot id in boot_id_file) and the QEMU
 * binary (qemu, or qemu-system-x86_64 found in PATH, resolved to its real
 * path, with its device, inode, size and modification time). One line,
 * copied into key. Returns 0, RH_ERR_NOTFOUND (no boot id, no binary),
 * RH_ERR_CORRUPT (a boot id that is not one short token), RH_ERR_INVAL
 * (a binary path with control characters) or RH_ERR_TOOBIG. */
int rh_accel_cache_key(const char *boot_id_file, const char *qemu, char *key, size_t len);

/* The file name (no directory) that holds key's verdict: "accel-" and a
 * 64-bit hash of the key in hex. The file repeats the key, which is what
 * is trusted, not the name. */
void rh_accel_cache_name(const char *key, char *name, size_t len);

/* Write the cache file text for c under key into buf. Returns its length,
 * or RH_ERR_TOOBIG, RH_ERR_INVAL (c is not a KVM/TCG verdict). */
int rh_accel_cache_format(const char *key, const struct rh_accel_choice *c, char *buf,
			  size_t len);

/* Parse a cache file (len bytes, no NUL needed) written for key. On
 * success *out is the verdict with how = RH_ACCEL_CACHED. Returns 0,
 * RH_ERR_CORRUPT (anything but the exact format: four lines, a known
 * accelerator, a printable reason; more than RH_ACCEL_CACHE_MAX bytes) or
 * RH_ERR_NOTFOUND (a well-formed file for another key). */
int rh_accel_cache_parse(const void *data, size_t len, const char *key,
			 struct rh_accel_choice *out);

/* Read key's verdict from dir. Returns 0, RH_ERR_NOTFOUND (none, or for
 * another key), RH_ERR_CORRUPT, RH_ERR_PERM (dir or file not ours, or
 * writable by others: not trusted) or RH_ERR_IO. */
int rh_accel_cache_load(const char *dir, const char *key, struct rh_accel_choice *out);

/* Store c under key in dir, creating dir and its parents (mode 0700);
 * written to a temporary file and renamed into place, so a reader sees
 * the old file or the new one. Returns 0 or a negative RH_ERR_*. */
int rh_accel_cache_store(const char *dir, const char *key, const struct rh_accel_choice *c);

#endif
