/* rehost target's subcommands beside the listener (cmd-target.c):
 * snapshots, rollback, grow and firmware, each in its own file. */
#ifndef REHOST_TARGET_H
#define REHOST_TARGET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "rehost/snap.h"

/* cmd-target-snap.c: `rehost target snapshot|snapshots|rollback ...`;
 * argv[0] is the word. */
int cmd_target_snapshot(int argc, char **argv);
int cmd_target_snapshots(int argc, char **argv);
int cmd_target_rollback(int argc, char **argv);
void usage_target_snapshot(FILE *out);
void usage_target_snapshots(FILE *out);
void usage_target_rollback(FILE *out);
/* cmd-target-cutover.c: sync snapshot, postconf, cutover snapshot. */
int cmd_target_cutover(int argc, char **argv);
void usage_target_cutover(FILE *out);
/* Whether cutover configured the disks (they no longer match the source). */
bool target_is_configured(const struct rh_snap_target *t);
/* Put the sync snapshot back on configured disks (no-op otherwise), so a
 * replication job or a new cutover starts from the source's blocks. */
int target_unconfigure(const struct rh_snap_target *t);
/* cmd-target-grow.c */
int cmd_target_grow(int argc, char **argv);
void usage_target_grow(FILE *out);
/* cmd-target-firmware.c */
int cmd_target_firmware(int argc, char **argv);
void usage_target_firmware(FILE *out);

/* target-sessions.c: the listener's authenticated sessions, a thread each
 * (at most max serving; more agents get an ERROR frame, RH_ERR_BUSY). */
struct target_sessions;
struct rh_tls_conn;
struct rh_receiver_opts;
/* ro and snapt are borrowed for the object's life; wake_fd (non-blocking)
 * gets a byte whenever a session ends. Free with target_sessions_free. */
int target_sessions_new(const struct rh_receiver_opts *ro, const struct rh_snap_target *snapt,
			unsigned max, int wake_fd, struct target_sessions **out);
/* Serve (or refuse, when full) the verified connection c in a new thread,
 * which owns c. 0, or an error after closing c. */
int target_sessions_start(struct target_sessions *t, struct rh_tls_conn *c);
/* Join the finished sessions. Returns how many were jobs (not refusals)
 * and stores the last one's result in *job_rc. */
int target_sessions_reap(struct target_sessions *t, int *job_rc);
/* Sessions serving now. */
unsigned target_sessions_serving(const struct target_sessions *t);
/* Make every running session fail at once (its socket shut down); each
 * keeps what it wrote durable, so the agent resumes later. */
void target_sessions_abort(struct target_sessions *t);
/* Abort, join every thread and free. NULL ok. */
void target_sessions_free(struct target_sessions *t);

/* The disk selection every subcommand takes: --disk-dir DIR, or
 * --disk DEV (repeated, in order) with --state-dir DIR. */
struct target_disks {
	const char *disk_dir;
	const char *devices[RH_SNAP_MAX_DISKS];
	size_t ndevices;
	const char *state_dir;
};

#define TARGET_DEFAULT_STATE_DIR "/var/lib/rehost/target"

/* Record one --disk; returns EXIT_USAGE (after a message) when too many. */
int target_disks_add(const char *cmd, struct target_disks *d, const char *dev);
/* Check the selection (exactly one of --disk-dir and --disk) and fill t;
 * returns 0 or EXIT_USAGE after a message. */
int target_disks_finish(const char *cmd, struct target_disks *d, struct rh_snap_target *t);

/* cmd-target-grow.c: resolve the one disk of grow/firmware into path
 * (disk_dir/diskN.raw with --disk N, default 0; or the --disk DEV). 0 or
 * EXIT_USAGE after a message. */
int target_one_disk(const char *cmd, const char *disk_dir, const char *disk, char *path,
		    size_t len);

#endif
