/*
 * Agent side of incremental sync and block verify: hash the source's used
 * chunks, send the hashes, and receive the chunks whose target copy
 * differs. Sync then copies exactly those chunks through the normal
 * pipeline; verify reports them. The source hashes of the last successful
 * sync are kept in the state directory, so each cycle can say how much of
 * the source changed.
 */
#define RH_LOG_COMPONENT "sync"
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sender-internal.h"
#include "rehost/checked.h"
#include "rehost/endian.h"
#include "rehost/err.h"
#include "rehost/log.h"

static void sums_name(const char *job_id, size_t disk, char *buf, size_t len)
{
	snprintf(buf, len, "rehost-sums-%.8s-disk%zu.bin", job_id, disk);
}

/* SUMS frames for entries [from, to) of sums. */
static int send_sums(struct rh_tls_conn *c, uint8_t *fbuf, uint32_t disk,
		     const struct repl_sums *sums, size_t from, size_t to)
{
	size_t i = from;
	int rc;

	while (i < to) {
		uint32_t k = (uint32_t)RH_MIN(to - i, (size_t)RH_PROTO_SUMS_MAX);
		size_t hl = rh_proto_put_list_hdr(fbuf, RH_FRAME_BUF_SIZE, RH_MSG_SUMS, disk, k);

		for (uint32_t j = 0; j < k; j++) {
			uint8_t *e = fbuf + hl + (size_t)j * RH_PROTO_SUM_SIZE;

			rh_be64enc(e, sums->idx[i + j]);
			memcpy(e + 8, sums->hash[i + j], RH_SYNC_HASH_LEN);
		}
		rc = rh_tls_write(c, fbuf, hl + (size_t)k * RH_PROTO_SUM_SIZE);
		if (rc < 0)
			return rc;
		i += k;
	}
	return 0;
}

/* Hash the disk's chunks in batches and send each batch at once, so the
 * target hashes its copy of batch k while we hash batch k + 1. */
#define HASH_BATCH 4096u /* chunks: 256 MiB */
/* Progress is sampled between steps this small, so that a slow disk still
 * yields a report every second or so (the agent's must come every 5 s). */
#define HASH_STEP 256u   /* chunks: 16 MiB */

static int hash_and_send(struct sender *s, struct rh_tls_conn *c, uint8_t *fbuf, uint32_t disk)
{
	struct repl_sums *sums = &s->sums[disk];
	uint8_t end[RH_PROTO_HDR_SIZE + RH_PROTO_POS_SIZE];
	struct rh_position p = { .disk = disk, .offset = sums->n };
	int rc;

	for (size_t from = 0; from < sums->n; from += HASH_BATCH) {
		size_t to = RH_MIN(sums->n, from + HASH_BATCH);
		struct repl_sums view = { sums->idx + from, sums->hash + from, to - from };

		for (size_t k = 0; k < view.n; k += HASH_STEP) {
			struct repl_sums step = { view.idx + k, view.hash + k,
						  RH_MIN(view.n - k, (size_t)HASH_STEP) };
			uint64_t got = 0;

			rc = repl_sums_hash(s->fds[disk], s->sizes[disk], &step, &got);
			s->st->hashed_bytes += got;
			s->hash_done += got;
			if (rc < 0)
				return rh_seterr(rc, "hashing %s: %s", s->o->disks[disk], rh_lasterr());
			sender_report_hash(s, false);
		}
		rc = send_sums(c, fbuf, disk, sums, from, to);
		if (rc < 0)
			return rc;
	}
	return rh_tls_write(c, end, rh_proto_put_pos(end, sizeof end, RH_MSG_SUMS_END, &p));
}

/* Receive NEED frames for disk until NEED_END; the chunks become the new
 * plan (sync) or the mismatch report (verify). */
static int recv_need(struct sender *s, struct rh_tls_conn *c, uint8_t *fbuf, uint32_t disk)
{
	struct rh_migrate_stats *st = s->st;
	struct repl_plan *plan = &s->plans[disk];
	uint64_t size = s->sizes[disk], last = 0;
	bool any = false;
	size_t cap = 0;
	struct rh_frame f;
	int rc;

	repl_plan_release(plan);
	plan->bytes = 0;
	for (;;) {
		rc = rh_frame_recv(c, fbuf, false, &f);
		if (rc < 0)
			return rc;
		if (f.type == RH_MSG_NEED_END && f.u.pos.disk == disk)
			break;
		if (f.type != RH_MSG_NEED || f.u.need.disk != disk)
			return rh_seterr(RH_ERR_PROTO, "unexpected %s while comparing disk %u",
					 rh_proto_msg_name(f.type), disk);
		for (uint32_t i = 0; i < f.u.need.count; i++) {
			uint64_t idx = rh_be64dec(f.u.need.index + 8 * (size_t)i), off, len;

			/* Only chunks we asked about, in increasing order. */
			if ((any && idx <= last) || repl_sums_find(&s->sums[disk], idx) == NULL)
				return rh_seterr(RH_ERR_PROTO, "target asked for chunk %" PRIu64
						 " it was not offered", idx);
			any = true;
			last = idx;
			off = idx * RH_SYNC_CHUNK;
			len = RH_MIN((uint64_t)RH_SYNC_CHUNK, size - off);
			if (st->chunks_differ < RH_ARRAY_SIZE(st->first_mismatch)) {
				st->first_mismatch[st->chunks_differ] = off;
				st->first_mismatch_disk[st->chunks_differ] = disk;
			}
			st->chunks_differ++;
			if (plan->n > 0 && plan->r[plan->n - 1].off + plan->r[plan->n - 1].len == off) {
				plan->r[plan->n - 1].len += len;
			} else {
				if (plan->n == cap) {
					size_t ncap = cap ? cap * 2 : 256;
					struct repl_range *nr = realloc(plan->r, ncap * sizeof *nr);

					if (nr == NULL)
						return RH_ERR_NOMEM;
					plan->r = nr;
					cap = ncap;
				}
				plan->r[plan->n++] = (struct repl_range){ off, len };
			}
			plan->bytes += len;
		}
	}
	if (f.u.pos.bytes == UINT64_MAX)
		st->target_changed = UINT64_MAX;
	else if (st->target_changed != UINT64_MAX)
		st->target_changed += f.u.pos.bytes;
	return 0;
}

/* The bytes repl_sums_hash reads for sums: whole chunks, the last one of
 * the disk cut at its end. */
static uint64_t sums_bytes(const struct repl_sums *sums, uint64_t disk_size)
{
	uint64_t n = 0;

	for (size_t k = 0; k < sums->n; k++) {
		uint64_t off = sums->idx[k] * RH_SYNC_CHUNK;

		if (off < disk_size)
			n += RH_MIN((uint64_t)RH_SYNC_CHUNK, disk_size - off);
	}
	return n;
}

static int compare_disks(struct sender *s, struct rh_tls_conn *c, uint8_t *fbuf, const char *job_id)
{
	const struct rh_migrate_opts *o = s->o;
	struct rh_migrate_stats *st = s->st;
	int rc;

	st->total_bytes = 0;
	st->skipped_resume = 0;
	/* Every disk's chunk list first: progress needs the bytes to hash. */
	for (size_t i = 0; i < o->ndisks; i++) {
		rc = repl_sums_from_plan(&s->plans[i], s->sizes[i], &s->sums[i]);
		if (rc < 0)
			return rc;
		s->hash_total += sums_bytes(&s->sums[i], s->sizes[i]);
	}
	for (size_t i = 0; i < o->ndisks; i++) {
		struct repl_sums *sums = &s->sums[i], old = { 0 };
		uint64_t changed = 0, before = st->chunks_differ;
		char name[96];
		double t0 = sender_now();

		rc = hash_and_send(s, c, fbuf, (uint32_t)i);
		if (rc < 0)
			return rc;
		st->chunks_compared += sums->n;
		sums_name(job_id, i, name, sizeof name);
		if (repl_sums_load(o->state_dir, name, s->sizes[i] / RH_SYNC_CHUNK + 1, &old) == 0) {
			for (size_t k = 0; k < sums->n; k++) {
				const uint8_t *h = repl_sums_find(&old, sums->idx[k]);

				changed += h == NULL || memcmp(h, sums->hash[k], RH_SYNC_HASH_LEN) != 0;
			}
			if (st->source_changed != UINT64_MAX)
				st->source_changed += changed;
		} else {
			st->source_changed = UINT64_MAX;
		}
		repl_sums_release(&old);
		rc = recv_need(s, c, fbuf, (uint32_t)i);
		if (rc < 0)
			return rc;
		st->total_bytes += s->plans[i].bytes;
		rh_log_info("disk %zu: %s: %zu used chunks of %u KiB hashed in %.2f s, %" PRIu64
			    " differ on the target (%" PRIu64 " bytes)", i, o->disks[i], sums->n,
			    RH_SYNC_CHUNK >> 10, sender_now() - t0, st->chunks_differ - before,
			    s->plans[i].bytes);
		/* The pipeline sends the plan from offset 0 of a partial disk. */
		s->ok.disks[i].state = RH_DISK_PARTIAL;
		s->ok.disks[i].resume_offset = 0;
		s->ok.disks[i].recv_bytes = 0;
		s->ok.disks[i].recv_sum = 0;
	}
	return 0;
}

int sender_compare(struct sender *s, struct rh_tls_conn *c, uint8_t *fbuf, const char *job_id)
{
	int rc;

	s->hash_prog = (struct repl_progress){ 0 };
	s->hash_t0 = sender_now();
	s->hash_total = 0;
	s->hash_done = 0;
	rc = compare_disks(s, c, fbuf, job_id);
	/* Ends the phase, successfully or not, as the copy's final call does;
	 * a run that failed before its first sample reported nothing to end. */
	if (rc == 0 || s->hash_prog.nhist > 0)
		sender_report_hash(s, true);
	return rc;
}

int sender_save_sums(struct sender *s, const char *job_id)
{
	for (size_t i = 0; i < s->o->ndisks; i++) {
		char name[96];
		int rc;

		sums_name(job_id, i, name, sizeof name);
		rc = repl_sums_save(s->o->state_dir, name, &s->sums[i]);
		if (rc < 0)
			return rc;
	}
	return 0;
}
