/* Private to src/lib/repl. */
#ifndef REHOST_REPL_INTERNAL_H
#define REHOST_REPL_INTERNAL_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
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
 * hold data: see plan.c. */
int repl_plan_build(int fd, const char *name, uint64_t size, struct repl_plan *plan);
void repl_plan_release(struct repl_plan *plan);
/* Planned bytes at or after offset from. */
uint64_t repl_plan_bytes_from(const struct repl_plan *plan, uint64_t from);

#endif
