/* Private to the target's receiver (receiver.c, receiver-sync.c). */
#ifndef REHOST_RECEIVER_INTERNAL_H
#define REHOST_RECEIVER_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>
#include <zstd.h>

#include "repl-internal.h"
#include "rehost/proto.h"
#include "rehost/repl.h"

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
	uint32_t pending_disk;
	uint64_t sync_written;      /* sync: bytes written this session */
};

/* receiver.c */
int receiver_state_save(struct receiver *r);
int receiver_make_durable(struct receiver *r);
int receiver_send_pos(struct receiver *r, uint16_t type, uint32_t disk);

/* receiver-sync.c */
int receiver_sync_sums(struct receiver *r, const struct rh_sums *m);
int receiver_sync_compare(struct receiver *r, uint32_t disk);
int receiver_sync_disk_end(struct receiver *r, uint32_t disk);

#endif
