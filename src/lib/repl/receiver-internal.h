/* Private to the target's receiver (receiver.c, receiver-sync.c). */
#ifndef REHOST_RECEIVER_INTERNAL_H
#define REHOST_RECEIVER_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>
#include <zstd.h>

#include "repl-internal.h"
#include "rehost/proto.h"
#include "rehost/repl.h"

/* The target's checkpoint, in the disk directory or --state-dir. */
#define STATE_FILE "rehost-target.json"

struct tdisk {
	int fd;
	bool is_file;
	char path[4096];
	uint64_t size, layout;
	uint32_t state;      /* enum rh_disk_state */
	uint64_t durable;    /* everything the agent planned below this is on disk */
	uint64_t written;    /* end of the last chunk written (not yet durable) */
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
	char syncer_msg[1024];
	uint64_t req_written[RH_PROTO_MAX_DISKS];
	uint32_t req_state[RH_PROTO_MAX_DISKS];
};

/* receiver.c */
/* Checkpoint JSON from the given per-disk states and durable offsets. */
json_t *receiver_state_json(const struct receiver *r, const uint32_t *states,
			    const uint64_t *durables);
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

/* receiver-sync.c */
int receiver_sync_sums(struct receiver *r, const struct rh_sums *m);
int receiver_sync_compare(struct receiver *r, uint32_t disk);
int receiver_sync_disk_end(struct receiver *r, uint32_t disk);

#endif
