/* Private to the agent's sender (sender.c, sender-sync.c). */
#ifndef REHOST_SENDER_INTERNAL_H
#define REHOST_SENDER_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "repl-internal.h"
#include "rehost/err.h"
#include "rehost/repl.h"

#define NNODES 6

enum node_state { N_FREE, N_READ, N_BUSY, N_READY };

struct node {
	enum node_state state;
	uint64_t seq;
	bool disk_end;            /* marker: all chunks of `disk` are queued */
	bool zero;
	uint32_t disk, len;
	uint64_t off, crc;
	uint8_t *raw;             /* node_size bytes read from the disk */
	uint8_t *z;               /* compressed bytes, or NULL when sent raw */
	size_t zlen, zcap;
};

struct sender {
	const struct rh_migrate_opts *o;
	struct rh_migrate_stats *st;
	int fds[RH_PROTO_MAX_DISKS];
	uint64_t sizes[RH_PROTO_MAX_DISKS], layouts[RH_PROTO_MAX_DISKS];
	struct repl_plan plans[RH_PROTO_MAX_DISKS];
	struct repl_sums sums[RH_PROTO_MAX_DISKS]; /* sync: source hashes to keep */
	struct rh_hello_ok ok;
	int threads;
	/* What DISK_END will claim, per disk: the target's durable figures
	 * from HELLO_OK (a copy) or nothing (a sync), plus this run's DATA. */
	uint64_t sent_bytes[RH_PROTO_MAX_DISKS], sent_sum[RH_PROTO_MAX_DISKS];

	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct node nodes[NNODES];
	bool reader_done, stop;
	int reader_err;
	struct rh_err_saved reader_saved; /* the reader's error record */

	/* Progress: only the sending thread (the caller's) touches these. */
	uint64_t done_raw, done_wire, durable_bytes;
	uint32_t durable_disk, cur_disk;
	struct repl_progress prog;
	/* The same for the hashing phase (sync, verify): its own samples, so
	 * the copy's rates do not start from the hashing's. */
	struct repl_progress hash_prog;
	double hash_t0;
	uint64_t hash_total, hash_done;
};

double sender_now(void);
/* Report the hashing phase's figures (hash_done of hash_total since
 * hash_t0): at most once a second, and now when final. */
void sender_report_hash(struct sender *s, bool final);

/* sender-sync.c */
int sender_compare(struct sender *s, struct rh_tls_conn *c, uint8_t *fbuf, const char *job_id);
int sender_save_sums(struct sender *s, const char *job_id);

#endif
