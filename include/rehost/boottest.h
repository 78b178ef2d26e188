/*
 * Boot test: start a migrated target's disks in QEMU and decide from the
 * guest's serial console whether it boots to a login prompt, and if not,
 * why (src/lib/boottest/).
 *
 * Four parts, usable on their own:
 *   - the console line buffer turns untrusted console bytes into bounded,
 *     printable lines and keeps the last N of them;
 *   - the rules (data/boot-failures.tsv) classify a line as a known boot
 *     failure, fatal at once or a warning sign;
 *   - the watcher combines both into a verdict (login, fatal, pending);
 *   - the runner builds QEMU's command line, runs it with -snapshot (the
 *     disks are never written), watches its consoles and stops it.
 */
#ifndef REHOST_BOOTTEST_H
#define REHOST_BOOTTEST_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rehost/accel.h"
#include "rehost/img.h"

enum rh_bt_firmware {
	RH_BT_BIOS = 0, /* SeaBIOS, QEMU's default */
	RH_BT_UEFI = 1, /* OVMF */
};

enum rh_bt_bus {
	RH_BT_VIRTIO = 0, /* virtio-blk-pci: /dev/vdX in the guest */
	RH_BT_SCSI = 1,   /* virtio-scsi-pci + scsi-hd: /dev/sdX */
	RH_BT_SATA = 2,   /* q35's ich9-ahci: /dev/sdX */
	RH_BT_IDE = 3,    /* the pc machine's PIIX IDE: /dev/sdX (libata) */
};

/* Names as the command line spells them ("bios", "virtio", ...). Static
 * strings, never NULL. */
const char *rh_bt_firmware_name(enum rh_bt_firmware f);
const char *rh_bt_bus_name(enum rh_bt_bus b);

/* Most disks a bus takes in the boot test's machine: IDE 4 (two PIIX
 * channels of two), SATA 6 (q35's AHCI ports), virtio and SCSI
 * RH_BT_MAX_DISKS. */
unsigned rh_bt_bus_max_disks(enum rh_bt_bus b);

/* Parse a name. Returns 0 or RH_ERR_INVAL (detail lists the names). */
int rh_bt_firmware_parse(const char *s, enum rh_bt_firmware *out);
int rh_bt_bus_parse(const char *s, enum rh_bt_bus *out);

/* ---- console line buffer ---- */

/* Longest cleaned line kept (bytes, without NUL); a longer line is cut
 * there and the rest starts a new line. */
#define RH_BT_MAX_LINE 512u
/* Most tail lines a buffer keeps. */
#define RH_BT_MAX_TAIL 10000u

struct rh_bt_console;

/* Called for each complete cleaned line: line is NUL-terminated, printable
 * ASCII only, at most RH_BT_MAX_LINE bytes; borrowed for the call. A
 * negative return stops the feed and is returned by it. */
typedef int (*rh_bt_line_fn)(const char *line, void *arg);

/* A new buffer keeping the last tail lines (0..RH_BT_MAX_TAIL). Caller
 * frees with rh_bt_console_free. Returns 0, RH_ERR_RANGE or RH_ERR_NOMEM. */
int rh_bt_console_new(size_t tail, struct rh_bt_console **out);
void rh_bt_console_free(struct rh_bt_console *c);

/* Feed len raw console bytes. ANSI escape sequences (CSI, OSC, two- and
 * three-byte ESC sequences) are removed; clearing the screen, or moving
 * the cursor to column 1 or to another row, ends the current line (a
 * jump along the same row continues it); CR and other control bytes are dropped,
 * TAB becomes a space, bytes >= 0x80 become '?'. Each completed line,
 * trailing spaces removed, is kept in the tail and passed to fn (NULL:
 * none), unless it is empty. Returns 0 or the first negative value fn
 * returned. */
int rh_bt_console_feed(struct rh_bt_console *c, const void *buf, size_t len,
		       rh_bt_line_fn fn, void *arg);

/* End the current partial line as if a newline had arrived (at the end of
 * a run, so that a prompt without newline reaches the tail). Returns as
 * rh_bt_console_feed. */
int rh_bt_console_flush(struct rh_bt_console *c, rh_bt_line_fn fn, void *arg);

/* The cleaned partial line (text since the last line end; "" when none).
 * Borrowed; valid until the next feed or flush. */
const char *rh_bt_console_partial(const struct rh_bt_console *c);

/* Raw bytes fed and complete non-empty lines produced so far. */
uint64_t rh_bt_console_bytes(const struct rh_bt_console *c);
uint64_t rh_bt_console_lines(const struct rh_bt_console *c);

/* Number of lines in the tail (at most the tail size) and line i, oldest
 * first (NULL when i is out of range). Borrowed; valid until the next
 * feed or flush. */
size_t rh_bt_console_tail_count(const struct rh_bt_console *c);
const char *rh_bt_console_tail_line(const struct rh_bt_console *c, size_t i);

/* ---- failure rules ---- */

/* One row of data/boot-failures.tsv. Strings are owned by the rule set. */
struct rh_bt_rule {
	const char *id;      /* "initramfs-gave-up" */
	bool fatal;          /* stop the boot at once */
	const char *code;    /* catalogue code, NULL for none */
	const char *pattern; /* POSIX ERE as written in the file */
	const char *cause;
	const char *action;
};

struct rh_bt_rules;

/* Parse a rule table from data/len (no NUL needed); what names it in
 * messages. Every pattern is compiled here, so a bad regular expression
 * fails the parse. On success *out is a new table the caller frees with
 * rh_bt_rules_free. Returns 0, RH_ERR_PARSE (detail names the line),
 * RH_ERR_TOOBIG or RH_ERR_NOMEM. */
int rh_bt_rules_parse(const char *data, size_t len, const char *what,
		      struct rh_bt_rules **out);
void rh_bt_rules_free(struct rh_bt_rules *r);

/* The table compiled in from data/boot-failures.tsv, parsed on first use.
 * NULL only if the embedded data is broken (a unit test rules that out).
 * Borrowed; lives for the whole process. */
const struct rh_bt_rules *rh_bt_rules_builtin(void);

size_t rh_bt_rules_count(const struct rh_bt_rules *r);
/* Rule i in file order, NULL when out of range. Borrowed. */
const struct rh_bt_rule *rh_bt_rules_at(const struct rh_bt_rules *r, size_t i);

/* The first rule whose pattern matches line, or NULL; *index (may be NULL)
 * gets its position. Borrowed. */
const struct rh_bt_rule *rh_bt_rules_match(const struct rh_bt_rules *r, const char *line,
					   size_t *index);

/* Whether a cleaned console line is a login prompt: "login:" at the start
 * or after a host name ("rehost-src login: "), possibly followed by kernel
 * messages that landed on the same line; never "Last login: ..." nor a
 * line with "Login incorrect". */
bool rh_bt_is_login_prompt(const char *line);

/* ---- watcher: console lines -> verdict ---- */

enum rh_bt_source {
	RH_BT_SERIAL = 0, /* the guest's first serial port (ttyS0) */
	RH_BT_SCREEN = 1, /* the BIOS text screen: what SeaBIOS and GRUB print
			   * through the BIOS, which SeaBIOS's serial console
			   * mirrors to the second serial port */
};

enum rh_bt_state {
	RH_BT_PENDING = 0, /* nothing decisive yet */
	RH_BT_LOGIN = 1,   /* a login prompt was seen */
	RH_BT_FATAL = 2,   /* a fatal rule matched */
};

/* Where a watcher stands. Lines are copies (NUL-terminated). */
struct rh_bt_watch {
	const struct rh_bt_rules *rules;   /* borrowed */
	enum rh_bt_state state;
	size_t fatal_index;                /* rule index of the fatal verdict */
	const struct rh_bt_rule *fatal;    /* NULL unless state is RH_BT_FATAL */
	char fatal_line[RH_BT_MAX_LINE + 1];
	enum rh_bt_source fatal_source;
	const struct rh_bt_rule *hint;     /* last warning-sign rule seen, or NULL */
	char hint_line[RH_BT_MAX_LINE + 1];
	enum rh_bt_source hint_source;
	char login_line[RH_BT_MAX_LINE + 1];
	uint64_t serial_lines;             /* complete serial lines seen */
	bool firmware_booted_disk;         /* the screen said "Booting from Hard Disk" */
	bool os_seen;                      /* ttyS0 carried a line from the kernel, the
					    * initramfs or systemd (not just firmware
					    * and boot loader) */
};

/* Start a watcher over rules (NULL: the built-in table). */
void rh_bt_watch_init(struct rh_bt_watch *w, const struct rh_bt_rules *rules);

/* Look at one cleaned line from src. partial says it is a partial line
 * that has been idle for a while (a prompt or a message without newline):
 * it is checked the same way but not counted. Once the state is
 * RH_BT_LOGIN it no longer changes; once RH_BT_FATAL, only a fatal rule
 * nearer the top of the table replaces the verdict (the rest of a
 * multi-line failure message may name it more precisely). Returns the
 * state after the line. */
enum rh_bt_state rh_bt_watch_line(struct rh_bt_watch *w, enum rh_bt_source src,
				  const char *line, bool partial);

/* ---- runner ---- */

/* One disk to attach; disk 0 boots. */
struct rh_bt_disk {
	char *path;                 /* owned */
	enum rh_img_format format;  /* detected or implied by the name */
};

/* Find DIR/disk0.{raw,qcow2}, disk1..., in order, up to the first number
 * with neither (a later one present is an error: a gap). .raw is raw as
 * named (never probed: guest data must not pass for an image header);
 * .qcow2 must hold a valid qcow2 image. On success *out is an array of *n
 * (>= 1) disks freed with rh_bt_disks_free. Returns 0, RH_ERR_NOTFOUND (no
 * such directory, or no disk0), RH_ERR_INVAL (a gap, both disk0.raw and
 * disk0.qcow2, not a regular file, a .qcow2 that is not qcow2),
 * RH_ERR_TOOBIG (more than RH_BT_MAX_DISKS), or an rh_img_open error. */
int rh_bt_disks_from_dir(const char *dir, struct rh_bt_disk **out, size_t *n);

/* One disk given by path: a name ending in .raw/.img is raw; anything else
 * is probed (qcow2, vpc, vmdk or raw). Fills d (d->path owned by the
 * caller afterwards, freed by rh_bt_disks_free). Returns 0 or an
 * rh_img_open error (RH_ERR_NOTFOUND, RH_ERR_CORRUPT, ...). */
int rh_bt_disk_probe(const char *path, struct rh_bt_disk *d);

void rh_bt_disks_free(struct rh_bt_disk *d, size_t n);

#define RH_BT_MAX_DISKS 16u

struct rh_bt_progress {
	double seconds;            /* since QEMU started */
	uint64_t console_lines;    /* complete serial lines */
	const char *last_line;     /* last serial line, "" when none; borrowed */
	const char *screen_line;   /* last BIOS screen line, "" when none; borrowed */
};

typedef void (*rh_bt_progress_fn)(const struct rh_bt_progress *p, void *arg);

struct rh_bt_opts {
	const struct rh_bt_disk *disks; /* borrowed; disk 0 boots */
	size_t ndisks;                   /* 1..RH_BT_MAX_DISKS */
	enum rh_bt_firmware firmware;
	enum rh_bt_bus bus;
	unsigned memory_mib;             /* 64..1048576 */
	unsigned cpus;                   /* 1..64 */
	unsigned timeout_s;              /* > 0 */
	unsigned tail_lines;             /* lines kept for the report */
	const char *qemu;                /* binary; NULL: qemu-system-x86_64 from PATH */
	const char *ovmf_code;           /* NULL: search the usual places */
	const char *ovmf_vars;           /* template copied per run; NULL: beside code */
	const char *console_log;         /* raw serial bytes go here; NULL: none */
	enum rh_accel accel;             /* RH_ACCEL_AUTO (the default): KVM only if a
					  * probe boots a kernel under it (accel.h) */
	const char *probe_kernel;        /* kernel for that probe; NULL: accel.h's search */
	unsigned progress_s;             /* seconds between progress calls; 0: never */
	rh_bt_progress_fn progress;      /* may be NULL */
	void *progress_arg;
	const volatile sig_atomic_t *stop; /* set non-zero to abandon the run; may be NULL */
};

/* Why the run ended. Values are stable (JSON "reason" names them). */
enum rh_bt_reason {
	RH_BT_R_LOGIN = 0,       /* success */
	RH_BT_R_FATAL = 1,       /* a fatal rule matched */
	RH_BT_R_TIMEOUT = 2,     /* no login prompt within the timeout */
	RH_BT_R_QEMU_EXIT = 3,   /* QEMU exited by itself (guest reset or power-off) */
	RH_BT_R_QEMU_ERROR = 4,  /* QEMU failed: bad option, missing file, lock... */
	RH_BT_R_STOPPED = 5,     /* opts->stop was set */
};

const char *rh_bt_reason_name(enum rh_bt_reason r);

struct rh_bt_result {
	bool passed;                  /* reason == RH_BT_R_LOGIN */
	enum rh_bt_reason reason;
	double seconds;               /* QEMU start to verdict */
	char accel[8];                /* "kvm" or "tcg" */
	char accel_reason[RH_ACCEL_REASON_MAX]; /* why that accelerator (one line) */
	char cause[1024];             /* "" on success */
	char action[1024];            /* "" when none */
	const struct rh_bt_rule *rule;/* matched rule (fatal, or the hint behind a
				       * timeout or exit), NULL when none; borrowed
				       * from the built-in table */
	char matched[RH_BT_MAX_LINE + 1]; /* the console line the rule matched, or the login line */
	bool matched_screen;          /* matched came from the BIOS screen */
	char hint_line[RH_BT_MAX_LINE + 1]; /* an earlier warning sign beside a fatal rule, or "" */
	const struct rh_bt_rule *hint;/* its rule, NULL when none */
	uint64_t console_bytes;       /* raw serial bytes */
	uint64_t console_lines;       /* complete serial lines */
	char **tail;                  /* last serial lines, oldest first; owned */
	size_t ntail;
	char **screen_tail;           /* last BIOS screen lines (at most 20); owned */
	size_t nscreen_tail;
	char *qemu_stderr;            /* QEMU's stderr (bounded to 8 KiB), "" when none; owned */
	int qemu_status;              /* waitpid status as returned, -1 if QEMU never ran */
	char **argv;                  /* the QEMU command line, NULL-terminated; owned */
};

/* Run the boot test. On success (the test ran, whatever its verdict) *out
 * is a new result freed with rh_bt_result_free and 0 is returned. Errors
 * that prevent a test return a negative code with a detail: RH_ERR_INVAL
 * (bad options), RH_ERR_NOTFOUND (no QEMU binary, no OVMF for --firmware
 * uefi; a QEMU that cannot be executed gives its errno's error), RH_ERR_IO
 * (pipes, fork, temp files), RH_ERR_NOMEM. QEMU is always
 * reaped and the private temp directory (OVMF variables) removed before
 * returning. */
int rh_bt_run(const struct rh_bt_opts *o, struct rh_bt_result **out);
void rh_bt_result_free(struct rh_bt_result *r);

/* Build the QEMU argument vector for o (argv[0] = the binary) into a
 * NULL-terminated array the caller frees with rh_bt_argv_free. The
 * serial console goes to QEMU's stdout. For BIOS, screen_path (e.g.
 * "/dev/fd/3") receives the second serial port, and sercon_file is a
 * 2-byte file holding 0x02f8 (little-endian) that tells SeaBIOS to mirror
 * its screen there; NULL for neither. For UEFI, code_path is the OVMF
 * code and vars_path the private variables copy. Returns 0, RH_ERR_INVAL
 * (too many disks for the bus, UEFI without OVMF files) or RH_ERR_NOMEM. */
int rh_bt_build_argv(const struct rh_bt_opts *o, const char *accel, const char *screen_path,
		     const char *sercon_file, const char *code_path, const char *vars_path,
		     char ***argv);
void rh_bt_argv_free(char **argv);

/* Find OVMF: code and the matching variables template, in the Debian
 * (ovmf package: /usr/share/OVMF/OVMF_CODE_4M.fd, OVMF_CODE.fd), Fedora
 * and Arch places. Copies the paths into code/vars (len bytes each).
 * Returns 0 or RH_ERR_NOTFOUND (detail lists where it looked). */
int rh_bt_find_ovmf(char *code, char *vars, size_t len);

#endif
