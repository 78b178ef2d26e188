/*
 * Block replication: the target's receiver and the agent's sender
 * (docs/protocol.md for the wire format, docs/replication.md for resume).
 */
#ifndef REHOST_REPL_H
#define REHOST_REPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rehost/proto.h"
#include "rehost/ratesched.h"
#include "rehost/tls.h"

/* Frame buffer size that fits any valid frame. */
#define RH_FRAME_BUF_SIZE (RH_PROTO_HDR_SIZE + RH_PROTO_MAX_PAYLOAD)

/* Read one frame into buf (RH_FRAME_BUF_SIZE bytes) and validate it as
 * sent by the agent (from_agent) or the target. An ERROR frame from the
 * peer is returned as its code with the peer's text as detail. */
int rh_frame_recv(struct rh_tls_conn *c, uint8_t *buf, bool from_agent, struct rh_frame *f);

/* Send an ERROR frame carrying the thread's last error (best effort). */
void rh_frame_send_error(struct rh_tls_conn *c, int err);

/* ---- target ---- */

struct rh_receiver_opts {
	const char *disk_dir;       /* image files diskN.raw here, or NULL */
	const char *const *devices; /* else these block devices/files, in order */
	size_t ndevices;
	const char *state_dir;      /* checkpoint for device mode; disk_dir otherwise */
	bool replace;               /* allow a new job to overwrite another job's disks */
	uint64_t sync_bytes;        /* make durable at least every this many bytes */
};

/* Exclusive lock on a target's disks, DIR/.lock in the disk directory (or
 * in the state directory in device mode). The receiver holds it for a
 * session; snapshot, rollback and grow hold it while they run. what names
 * the holder in the other side's message ("snapshot sync"). Returns 0 and
 * the lock's descriptor in *fd (release with rh_target_unlock), RH_ERR_BUSY
 * naming the holder, or an I/O error. */
int rh_target_lock(const char *dir, const char *what, int *fd);
/* Release a lock from rh_target_lock; fd < 0 is a no-op. */
void rh_target_unlock(int fd);

/* Serve one agent connection to the end (BYE, error or disconnect). All
 * data acknowledged DURABLE is on stable storage. Returns 0 after BYE. */
int rh_receiver_serve(struct rh_tls_conn *c, const struct rh_receiver_opts *o);

/* ---- agent ---- */

enum rh_repl_mode {
	RH_REPL_MIGRATE = 0, /* full copy, resumable */
	RH_REPL_SYNC,        /* send only chunks whose hashes differ */
	RH_REPL_VERIFY,      /* compare chunk hashes, write nothing */
};

/* Which part of a run a struct rh_repl_progress describes. A migrate only
 * copies; a sync hashes its used chunks, then copies those that differ; a
 * block verify only hashes. */
enum rh_repl_phase {
	RH_PHASE_COPY = 0, /* data is sent to the target */
	RH_PHASE_HASH,     /* the source's used chunks are hashed and the sums
			    * sent, while the target hashes its copies */
};

/* Figures of a running copy (migrate, or the copy phase of a sync), or of
 * the hashing phase of a sync or block verify, for the caller to show or
 * forward; docs/replication.md, "Progress". Byte counts are of the data
 * (before compression) unless they say wire. In RH_PHASE_HASH the fields
 * keep their meaning with "hashed" for "replicated": total_bytes is the
 * source bytes to hash over all disks, replicated_bytes those hashed so
 * far, rate the hashed bytes/s; elapsed_s counts from the start of hashing;
 * durable_*, wire_bytes and wire_rate are 0; final marks the last call of
 * the phase (after the target answered for the last disk, or on failure). */
struct rh_repl_progress {
	enum rh_repl_phase phase;
	double elapsed_s;          /* since the copy started (a sync: after the comparison) */
	uint64_t total_bytes;      /* planned bytes over all disks */
	uint64_t replicated_bytes; /* of which on the target: sent this run plus
				    * what earlier runs left durable */
	uint64_t durable_bytes;    /* offset below which disk durable_disk is on
				    * the target's stable storage (its last
				    * DURABLE reply); 0 before the first */
	uint32_t durable_disk;     /* index into rh_migrate_opts.disks */
	uint32_t disk;             /* disk being sent, index into rh_migrate_opts.disks */
	uint64_t wire_bytes;       /* frame bytes sent this run (after compression) */
	double percent;            /* 0..100: replicated of total; 100 when total is 0 */
	double rate;               /* data bytes/s over the last 5 s; the average
				    * since the start while the copy is younger */
	double wire_rate;          /* wire bytes/s, same window */
	double remaining_s;        /* (total - replicated) / rate; -1 unknown */
	bool final;                /* the last call of the run, after the copy
				    * ended (successfully or not) */
};

struct rh_migrate_opts {
	enum rh_repl_mode mode;
	const char *const *disks;   /* source disks (block devices or image files) */
	size_t ndisks;
	const char *target;         /* HOST:PORT */
	const char *key_dir;        /* rehost keygen directory (agent.pem, ca.pem) */
	const char *state_dir;      /* agent checkpoint directory */
	int compress_threads;       /* -1 auto, 0 off, 1..3 */
	uint32_t node_size;         /* buffer node bytes, 1..8 MiB */
	struct rh_ratesched rates;  /* wire cap in Mbit/s by time of day; all 0 = unlimited */
	bool new_job;               /* forget a previous job's checkpoint */
	/* Called at most once a second while data is sent and once at the end
	 * with final = true, from the thread that called rh_migrate_run, with
	 * no lock held; p is valid for the call only. A sync and a block verify
	 * first report their hashing phase the same way (p->phase, its own
	 * final call), then a sync its copy. The thread's last error is kept
	 * across the call. Not called when the run fails before hashing or
	 * sending. NULL = no progress. */
	void (*progress)(const struct rh_repl_progress *p, void *arg);
	void *progress_arg;
};

struct rh_migrate_stats {
	uint64_t total_bytes;       /* bytes planned (used data) over all disks */
	uint64_t disk_bytes;        /* sum of disk sizes */
	uint64_t part_bytes;        /* sum of partition sizes (the seed's "total") */
	uint64_t sent_raw;          /* uncompressed bytes sent this run */
	uint64_t sent_wire;         /* bytes on the wire this run (frames) */
	uint64_t skipped_resume;    /* planned bytes already durable at start */
	uint64_t zero_bytes;        /* planned bytes found to be zero */
	double seconds;
	/* sync and verify */
	uint64_t chunks_compared;   /* used chunks hashed on both sides */
	uint64_t chunks_differ;     /* of which the target's differed */
	uint64_t target_changed;    /* chunks written on the target since the
				     * last sync; UINT64_MAX when unknown */
	uint64_t source_changed;    /* chunks changed on the source since the
				     * last sync; UINT64_MAX when unknown */
	uint64_t hashed_bytes;      /* source bytes read to hash */
	uint64_t first_mismatch[8]; /* verify: byte offsets of the first mismatches */
	uint32_t first_mismatch_disk[8];
};

/* Copy the disks to the target, resuming from the target's checkpoint.
 * Returns 0 when every disk is complete on stable storage. */
int rh_migrate_run(const struct rh_migrate_opts *o, struct rh_migrate_stats *st);

#endif
