/*
 * File-level verification (INVENTORY §2.11): compare a source directory tree
 * with a target directory tree after a migration or sync.
 *
 *   quick  type, size and modification time of every entry, symlink targets
 *          and device numbers; no file content is read;
 *   crc    type, size, symlink targets and a CRC-64 (rh_crc64_update) of the
 *          content of every regular file, read in large chunks;
 *   recheck  retest only the entries the previous run's result log lists.
 *
 * Seed limits: at most RH_FVERIFY_MAX_DIR_ENTRIES entries per directory (a
 * larger directory is skipped and reported, its contents are not compared),
 * source paths shorter than RH_FVERIFY_MAX_PATH bytes (longer ones are
 * skipped and reported), and the roots /, /etc, /dev, /sys, /usr, /boot,
 * /run (and /proc) are refused after realpath(3). The walk never follows
 * symlinks and never crosses a mount point (mount points are reported as
 * skipped).
 *
 * Results go to a result log, one line per mismatch or skipped entry:
 *
 *   # rehost verify result log v1
 *   # mode: crc
 *   # source: /srv/data
 *   # target: /mnt/target/srv/data
 *   # recheck: no
 *   # started: 2026-11-22T21:30:01.123+00:00
 *   content<TAB>db/table.ibd<TAB>first differing byte at offset 1048583 ...
 *   missing<TAB>www/index.html<TAB>regular file, 1234 bytes
 *   skipped<TAB>proc<TAB>mount point on source
 *   # end: 3
 *
 * Paths are relative to the roots ("." is the root itself). In paths and
 * details a backslash, TAB, LF, CR and other control bytes are escaped as
 * \\ \t \n \r \xHH; other bytes (UTF-8 included) are written as they are.
 * The "# end: N" trailer counts the entry lines; a log without it is
 * truncated and refused by the parser.
 */
#ifndef REHOST_FILEVERIFY_H
#define REHOST_FILEVERIFY_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

/* Seed limits (INVENTORY §2.11). */
#define RH_FVERIFY_MAX_DIR_ENTRIES 100000u
#define RH_FVERIFY_MAX_PATH 1024u /* a source path must be shorter than this */

/* Bound on a result log read back for recheck. */
#define RH_FVERIFY_LOG_MAX (256u << 20)

/* Default file names, in the log directory. */
#define RH_FVERIFY_LOG_NAME "rehost-verify-result.log"
#define RH_FVERIFY_SUMMARY_NAME "rehost-verify-summary.json"

enum rh_fverify_mode {
	RH_FVERIFY_DEFAULT = 0, /* quick; for recheck, the mode of the previous run */
	RH_FVERIFY_QUICK,
	RH_FVERIFY_CRC,
};

/* What a result-log line reports. Values index rh_fverify_stats.count. */
enum rh_fverify_kind {
	RH_FV_MISSING = 0, /* on the source, not on the target */
	RH_FV_EXTRA,       /* on the target, not on the source */
	RH_FV_TYPE,        /* file type or device number differs */
	RH_FV_SIZE,        /* regular file size differs */
	RH_FV_MTIME,       /* modification time differs (quick mode) */
	RH_FV_CONTENT,     /* CRC-64 of content differs (crc mode) */
	RH_FV_LINK,        /* symlink target differs */
	RH_FV_UNREADABLE,  /* stat, open, read or list failed (detail has errno) */
	RH_FV_SKIPPED,     /* not compared: mount point, path too long, too many entries */
	RH_FV_NKINDS,
};
#define RH_FV_NMISMATCH RH_FV_SKIPPED /* kinds below this are mismatches */

/* Why an entry was skipped. Values index rh_fverify_stats.skipped. */
enum rh_fverify_skip {
	RH_FV_SKIP_MOUNT = 0, /* a mount point: the walk stays on one filesystem */
	RH_FV_SKIP_PATH,      /* source path of RH_FVERIFY_MAX_PATH bytes or more */
	RH_FV_SKIP_ENTRIES,   /* directory with more than the entry limit */
	RH_FV_NSKIP,
};

struct rh_fverify_progress {
	double elapsed_s;       /* since the start of the run */
	uint64_t files;         /* entries compared so far (directories included) */
	uint64_t bytes_checked; /* source file bytes covered so far */
	uint64_t bytes_read;    /* content bytes read, both sides */
	uint64_t total_files;   /* entries found by the pre-scan */
	uint64_t total_bytes;   /* source file bytes found by the pre-scan */
	double percent;         /* 0..100: bytes (crc) or entries (quick) done */
	double rate;            /* bytes_checked per second since the last report */
	uint64_t mismatches;    /* found so far */
	bool final;             /* last call, after the walk */
};

struct rh_fverify_opts {
	const char *source;       /* source tree (a directory); borrowed */
	const char *target;       /* target tree (a directory); borrowed */
	enum rh_fverify_mode mode;
	bool recheck;             /* retest only the entries listed in prev_log */
	const char *result_log;   /* result log to write (replaced atomically); required */
	const char *prev_log;     /* recheck input; NULL = result_log */
	const char *summary_path; /* JSON summary to write, NULL = none */
	size_t buf_size;          /* read chunk per side in bytes; 0 = 4 MiB */
	unsigned max_dir_entries; /* 0 = RH_FVERIFY_MAX_DIR_ENTRIES */
	/* Called about every progress_interval seconds (0 = 5) and once at the
	 * end with final = true; NULL = no progress and no pre-scan. */
	void (*progress)(const struct rh_fverify_progress *p, void *arg);
	void *progress_arg;
	double progress_interval;
	/* Called for every line written to the result log, NULL = none. path
	 * and detail are borrowed for the duration of the call. */
	void (*on_entry)(enum rh_fverify_kind kind, const char *path,
			 const char *detail, void *arg);
	void *entry_arg;
	const volatile sig_atomic_t *stop; /* nonzero: stop with RH_ERR_INTR; NULL = never */
};

struct rh_fverify_stats {
	enum rh_fverify_mode mode;   /* the mode used (never DEFAULT) */
	bool recheck;
	char source[4096];           /* roots after realpath */
	char target[4096];
	uint64_t files_checked;      /* non-directory entries compared */
	uint64_t dirs_checked;       /* directories compared (root included) */
	uint64_t bytes_checked;      /* source regular-file bytes covered */
	uint64_t bytes_read;         /* content bytes read, both sides (crc) */
	uint64_t rechecked;          /* entries taken from the previous log */
	uint64_t count[RH_FV_NKINDS]; /* result-log lines by kind */
	uint64_t skipped[RH_FV_NSKIP]; /* RH_FV_SKIPPED lines by reason */
	uint64_t mismatches;         /* sum of count[] below RH_FV_NMISMATCH */
	double seconds;
};

/* Compare opts->target against opts->source and write the result log (and
 * summary). *st is filled in as far as the run got, also on failure.
 * Mismatches are results, not errors: the return value is 0 whenever the
 * walk completed; st->mismatches says whether the trees differ.
 * Returns 0, RH_ERR_INVAL (refused root, not a directory, source equals
 * target, bad option), RH_ERR_NOTFOUND (a root, or for recheck the previous
 * log, does not exist), RH_ERR_STATE (recheck log is from other roots),
 * RH_ERR_PARSE/RH_ERR_CORRUPT/RH_ERR_TOOBIG (previous log unusable),
 * RH_ERR_IO (result log cannot be written), RH_ERR_INTR (opts->stop), or
 * RH_ERR_NOMEM; the detail (rh_lasterr) says which path and why. On
 * failure an existing result log is left as it was. */
int rh_fverify_run(const struct rh_fverify_opts *opts, struct rh_fverify_stats *st);

/* Check one root as rh_fverify_run does: realpath, directory, not refused.
 * On success writes the resolved path (at most len bytes with NUL) to out.
 * Returns 0, RH_ERR_NOTFOUND, RH_ERR_INVAL or RH_ERR_TOOBIG. */
int rh_fverify_check_root(const char *path, char *out, size_t len);

/* JSON summary of a run: mode, roots, counters, mismatches and skipped by
 * kind, duration. Returns a new reference (caller json_decref) or NULL when
 * out of memory. */
json_t *rh_fverify_summary_json(const struct rh_fverify_stats *st, const char *result_log);

/* "missing", "extra", "type", "size", "mtime", "content", "link",
 * "unreadable", "skipped"; static. rh_fverify_kind_parse returns the kind
 * or -1. */
const char *rh_fverify_kind_name(enum rh_fverify_kind kind);
int rh_fverify_kind_parse(const char *name);
const char *rh_fverify_mode_name(enum rh_fverify_mode mode);
const char *rh_fverify_skip_name(enum rh_fverify_skip why);

/* ---- result log reader (used by recheck; also for tests and tools) ---- */

struct rh_fverify_log;

struct rh_fverify_entry {
	enum rh_fverify_kind kind;
	const char *path;   /* decoded, relative, validated: no "..", ".", "//", no
			     * leading '/', shorter than RH_FVERIFY_MAX_PATH */
	const char *detail; /* decoded, may be "" */
};

/* Parse a result log of len bytes (no NUL needed). Returns 0 with *out set
 * (caller frees with rh_fverify_log_free), RH_ERR_TOOBIG (len over
 * RH_FVERIFY_LOG_MAX), RH_ERR_PARSE (detail "line N: ..."), RH_ERR_CORRUPT
 * (no or wrong "# end" trailer) or RH_ERR_NOMEM; *out is NULL on failure. */
int rh_fverify_log_parse(const char *data, size_t len, struct rh_fverify_log **out);

/* Read and parse the file at path. RH_ERR_NOTFOUND when it does not exist;
 * otherwise as rh_fverify_log_parse plus RH_ERR_IO. */
int rh_fverify_log_load(const char *path, struct rh_fverify_log **out);

size_t rh_fverify_log_count(const struct rh_fverify_log *log);
/* Borrowed, valid until rh_fverify_log_free; NULL when i is out of range. */
const struct rh_fverify_entry *rh_fverify_log_at(const struct rh_fverify_log *log, size_t i);
/* Header fields; borrowed; mode is RH_FVERIFY_DEFAULT and the roots are ""
 * when the header does not give them. */
enum rh_fverify_mode rh_fverify_log_mode(const struct rh_fverify_log *log);
const char *rh_fverify_log_source(const struct rh_fverify_log *log);
const char *rh_fverify_log_target(const struct rh_fverify_log *log);
void rh_fverify_log_free(struct rh_fverify_log *log);

#endif
