/* Private to src/lib/repl. */
#ifndef REHOST_REPL_INTERNAL_H
#define REHOST_REPL_INTERNAL_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "rehost/proto.h"
#include <stdlib.h>

/* Checkpoint files are small; anything bigger is not ours. */
#define REPL_STATE_MAX (1u << 20)

/* state.c */
int repl_state_save(const char *dir, const char *name, const json_t *j);
/* RH_ERR_NOTFOUND when the file does not exist. */
int repl_state_load(const char *dir, const char *name, json_t **out);
void repl_hex64(uint64_t v, char out[17]);

/* layout.c */
/* Fingerprint of a disk's layout: its size and partition table entries.
 * Changes to it between runs mean the plan no longer fits (SMS.0515). */
int repl_layout_fingerprint(int fd, const char *name, uint64_t *size, uint64_t *fp);

/* plan.c */
struct repl_range {
	uint64_t off, len; /* bytes */
};

struct repl_plan {
	struct repl_range *r; /* sorted, disjoint */
	size_t n;
	uint64_t bytes;       /* sum of lengths: the data to copy */
	uint64_t part_bytes;  /* sum of partition sizes (seed's "total", §2.2) */
};

/* Ranges of the disk open on fd (size bytes, name for messages) that may
 * hold data: see plan.c. skip_holes: leave out holes of a sparse file. */
int repl_plan_build(int fd, const char *name, uint64_t size, bool skip_holes,
		    struct repl_plan *plan);
void repl_plan_release(struct repl_plan *plan);
/* Planned bytes at or after offset from. */
uint64_t repl_plan_bytes_from(const struct repl_plan *plan, uint64_t from);
/* rh_proto_range_sum of the planned bytes at or after offset from. */
uint64_t repl_plan_sum_from(const struct repl_plan *plan, uint64_t from);

/* chunksum.c: per-chunk hashes (RH_SYNC_CHUNK bytes, XXH3-128). */
struct repl_sums {
	uint64_t *idx;          /* chunk indices, increasing */
	uint8_t (*hash)[16];    /* hash of each chunk, big-endian high|low */
	size_t n;
};

int repl_sums_alloc(struct repl_sums *s, size_t n);
void repl_sums_release(struct repl_sums *s);
/* The chunks that the plan's ranges touch (hashes not yet computed). */
int repl_sums_from_plan(const struct repl_plan *plan, uint64_t disk_size, struct repl_sums *s);
/* Hash every listed chunk of the disk open on fd; adds to *bytes_read. */
int repl_sums_hash(int fd, uint64_t disk_size, struct repl_sums *s, uint64_t *bytes_read);
/* Durable storage in dir/name; load refuses more than max_count entries.
 * load returns RH_ERR_NOTFOUND when there is no file. */
int repl_sums_save(const char *dir, const char *name, const struct repl_sums *s);
int repl_sums_load(const char *dir, const char *name, uint64_t max_count, struct repl_sums *s);
const uint8_t *repl_sums_find(const struct repl_sums *s, uint64_t idx);

/* progress.c: the figures of a struct rh_repl_progress. */
#define REPL_PROGRESS_HIST 8

struct repl_progress {
	struct { double t; uint64_t raw, wire; } hist[REPL_PROGRESS_HIST]; /* one sample a second */
	unsigned nhist;
};

struct rh_repl_progress;
/* Take a sample at out->elapsed_s: sent is the data bytes of
 * out->replicated_bytes sent this run, out->wire_bytes its frame bytes.
 * Fills out's rates, remaining time and percent and returns true, or
 * returns false when the last sample is less than a second old and not
 * force. p starts zeroed; samples must come in time order. */
bool repl_progress_sample(struct repl_progress *p, uint64_t sent, bool force,
			  struct rh_repl_progress *out);

#endif
