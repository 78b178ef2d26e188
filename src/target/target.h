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
