/* Private to the target's receiver (receiver*.c). */
#ifndef REHOST_RECEIVER_INTERNAL_H
#define REHOST_RECEIVER_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>
#include <zstd.h>

#include "repl-internal.h"
#include "rehost/err.h"
#include "rehost/proto.h"
#include "rehost/repl.h"

/* The target's checkpoint, in the disk directory or --state-dir. */
#define STATE_FILE "rehost-target.json"

/* A point in a disk's copy and what was received below it. */
struct rpos {
	uint64_t off;        /* bytes: end of the last chunk */
	uint64_t bytes;      /* bytes of DATA received below off, all sessions */
	uint64_t sum;        /* rh_proto_range_sum of those bytes */
};

struct tdisk {
	int fd;
	bool is_file;
	char path[4096];
	uint64_t size, layout;
	uint32_t state;      /* enum rh_disk_state */
	struct rpos durable; /* everything the agent planned below off is on disk;
			      * what the checkpoint holds */
	struct rpos written; /* received and written, not yet durable; in a sync
			      * session, this session's DATA only */
	bool sync_failed;    /* an fdatasync failed: durable must not move */
	/* This session only. */
	bool planned;        /* migrate: PLAN received; sync: NEED sent */
	uint64_t exp_bytes, exp_sum; /* what `written` must hold at DISK_END */
	bool finished;       /* DISK_DONE sent (migrate, sync), NEED_END (verify) */
};

struct receiver {
	const struct rh_receiver_opts *o;
	const char *state_dir;
	int lock_fd;                /* rh_target_lock on state_dir, -1 before HELLO */
	struct rh_tls_conn *c;
	char job_id[RH_PROTO_JOB_ID_LEN + 1];
	uint32_t ndisks;
	struct tdisk disks[RH_PROTO_MAX_DISKS];
	uint8_t *frame, *raw;
	ZSTD_DCtx *dctx;
	uint64_t unsynced;
	struct timespec last_sync;
	bool sync, verify;          /* HELLO flags of this session */
	struct repl_sums pending;   /* sync: the agent's sums of pending_disk */
	struct repl_sums mine;      /* sync: the target's hashes of the same chunks */
	uint64_t mine_read;         /* bytes read to hash them */
	uint32_t pending_disk;
	uint64_t sync_written;      /* sync: bytes written this session */

	/* Background durability (receiver-durable.c): the syncer thread
	 * fdatasyncs and checkpoints while the main thread keeps receiving.
	 * smu protects every field below and tdisk.durable. */
	pthread_t syncer;
	bool syncer_running;
	pthread_mutex_t smu;
	pthread_cond_t scv;
	bool req, busy, stop, done;
	int syncer_err;
	struct rh_err_saved syncer_saved; /* the syncer's error record */
	struct rpos req_written[RH_PROTO_MAX_DISKS];
	uint32_t req_state[RH_PROTO_MAX_DISKS];
	int reserve_fd;             /* receiver-keep.c: space kept for the checkpoint */
};

/* receiver.c */
/* Checkpoint JSON from the given per-disk states and durable offsets. */
json_t *receiver_state_json(const struct receiver *r, const uint32_t *states,
			    const struct rpos *durables);
int receiver_state_save(struct receiver *r);
int receiver_make_durable(struct receiver *r);
int receiver_send_pos(struct receiver *r, uint16_t type, uint32_t disk);

/* receiver-durable.c */
int receiver_syncer_start(struct receiver *r);
void receiver_syncer_stop(struct receiver *r);
/* Ask for everything written so far to be made durable, without waiting
 * (unless a previous round is still running and the backlog is large). */
int receiver_syncer_kick(struct receiver *r, bool backlogged);
/* Wait until no round is running; returns its error, if any. */
int receiver_syncer_wait(struct receiver *r);
/* 1 when a round finished since the last call (send DURABLE), 0 if not,
 * or the round's error. */
int receiver_syncer_poll(struct receiver *r);

/* receiver-complete.c: what makes a disk and a job complete. */
int receiver_plan(struct receiver *r, const struct rh_plan *p);
int receiver_disk_end(struct receiver *r, const struct rh_disk_end *e);
/* Compare what disk e->disk received this session with the expectation
 * and the agent's claim; what names the session ("copy", "sync"). */
int receiver_check_received(struct receiver *r, const struct rh_disk_end *e,
			    const char *what);
int receiver_bye(struct receiver *r);
/* Add the chunk [off, off + len) to a position. */
void receiver_pos_add(struct rpos *p, uint64_t off, uint64_t len);

/* receiver-keep.c: on any error, keep what was written. */
/* Set aside room for the checkpoint on the disk directory's filesystem. */
void receiver_reserve(struct receiver *r);
void receiver_unreserve(struct receiver *r);
/* Make everything written durable and checkpoint it, even when the disk
 * is full, before the error err (the thread's last error) is reported;
 * the last error is restored on return. */
void receiver_keep_written(struct receiver *r, int err);

/* receiver-sync.c */
int receiver_sync_sums(struct receiver *r, const struct rh_sums *m);
int receiver_sync_compare(struct receiver *r, uint32_t disk);
int receiver_sync_disk_end(struct receiver *r, const struct rh_disk_end *e);

#endif
