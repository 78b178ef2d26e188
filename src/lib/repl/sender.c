/*
 * Agent side of block replication. A reader thread fills the 6 buffer
 * nodes in order, up to 3 worker threads compress them, and the calling
 * thread sends them in order through the rate limiter, reading the
 * target's DURABLE/DISK_DONE replies between frames (one thread owns the
 * TLS connection). Node n holds frame sequence numbers n, n+6, n+12...
 */
#define RH_LOG_COMPONENT "migrate"
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zstd.h>

#include "sender-internal.h"
#include "rehost/checked.h"
#include "rehost/crc64.h"
#include "rehost/dirs.h"
#include "rehost/err.h"
#include "rehost/io.h"
#include "rehost/json.h"
#include "rehost/log.h"
#include "rehost/net.h"
#include "rehost/ratelimit.h"
#include "rehost/repl.h"

#define JOB_FILE "rehost-agent-job.json"

double sender_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static bool all_zero(const uint8_t *p, size_t n)
{
	return n == 0 || (p[0] == 0 && memcmp(p, p + 1, n - 1) == 0);
}

/* Compression threads for "auto" (INVENTORY §2.3): the idle cores at
 * start, capped at 3; none on a single core. */
static int auto_threads(void)
{
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	double load[1] = { 0 };
	double idle;

	if (cores <= 1)
		return 0;
	if (cores >= 32)
		return 3;
	getloadavg(load, 1);
	idle = (double)cores - load[0];
	if (idle < 1)
		return 0;
	/* One core stays with the server's own work: 2 cores give at most
	 * one thread, as in the seed's table. */
	if (idle > (double)(cores - 1))
		idle = (double)(cores - 1);
	return idle >= 3 ? 3 : (int)idle;
}

static uint64_t mbit_to_bps(uint64_t mbit)
{
	return mbit * 1000000 / 8;
}

/* ---- reader ---- */

static struct node *wait_free(struct sender *s, uint64_t seq)
{
	struct node *n = &s->nodes[seq % NNODES];

	while (n->state != N_FREE && !s->stop)
		pthread_cond_wait(&s->cv, &s->mu);
	return s->stop ? NULL : n;
}

static void *reader_main(void *arg)
{
	struct sender *s = arg;
	uint64_t seq = 0;
	int rc = 0;

	for (uint32_t d = 0; d < s->o->ndisks && rc == 0; d++) {
		const struct repl_plan *p = &s->plans[d];
		uint64_t from = s->ok.disks[d].resume_offset;

		if (s->ok.disks[d].state == RH_DISK_COMPLETE)
			continue;
		for (size_t i = 0; i < p->n && rc == 0; i++) {
			uint64_t pos = RH_MAX(p->r[i].off, from), end = p->r[i].off + p->r[i].len;

			while (pos < end) {
				/* Chunks end on node-size boundaries so that runs
				 * with different resume points read the same chunks. */
				uint64_t boundary = (pos / s->o->node_size + 1) * s->o->node_size;
				uint32_t len = (uint32_t)(RH_MIN(end, boundary) - pos);
				struct node *n;

				pthread_mutex_lock(&s->mu);
				n = wait_free(s, seq);
				pthread_mutex_unlock(&s->mu);
				if (n == NULL)
					goto out;
				/* A source disk that ends inside a planned range is
				 * an error (RH_ERR_IO, "unexpected end of file"). */
				rc = rh_pread_full(s->fds[d], n->raw, len, pos, NULL);
				if (rc < 0) {
					rc = rh_seterr(rc, "cannot read source disk %s at %s",
						       s->o->disks[d], rh_lasterr());
					goto out;
				}
				n->disk = d;
				n->off = pos;
				n->len = len;
				n->disk_end = false;
				n->zero = all_zero(n->raw, len);
				n->crc = n->zero ? 0 : rh_crc64_update(0, n->raw, len);
				n->zlen = 0;
				pthread_mutex_lock(&s->mu);
				n->seq = seq++;
				n->state = (n->zero || s->threads == 0) ? N_READY : N_READ;
				pthread_cond_broadcast(&s->cv);
				pthread_mutex_unlock(&s->mu);
				pos += len;
			}
		}
		/* A marker node tells the sender the disk is fully queued. */
		pthread_mutex_lock(&s->mu);
		{
			struct node *n = wait_free(s, seq);

			if (n == NULL) {
				pthread_mutex_unlock(&s->mu);
				goto out;
			}
			n->disk_end = true;
			n->disk = d;
			n->len = 0;
			n->seq = seq++;
			n->state = N_READY;
			pthread_cond_broadcast(&s->cv);
		}
		pthread_mutex_unlock(&s->mu);
	}
out:
	pthread_mutex_lock(&s->mu);
	s->reader_done = true;
	s->reader_err = rc;
	if (rc < 0)
		rh_err_save(&s->reader_saved);
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

/* ---- compressors ---- */

static void *worker_main(void *arg)
{
	struct sender *s = arg;
	ZSTD_CCtx *cctx = ZSTD_createCCtx();

	pthread_mutex_lock(&s->mu);
	for (;;) {
		struct node *n = NULL;

		while (!s->stop) {
			for (int i = 0; i < NNODES; i++)
				if (s->nodes[i].state == N_READ)
					n = &s->nodes[i];
			if (n != NULL || s->reader_done)
				break;
			pthread_cond_wait(&s->cv, &s->mu);
		}
		if (n == NULL)
			break;
		n->state = N_BUSY;
		pthread_mutex_unlock(&s->mu);
		n->zlen = 0;
		if (cctx != NULL) {
			/* Level 1: the network, not the ratio, is the bottleneck. */
			size_t z = ZSTD_compressCCtx(cctx, n->z, n->zcap, n->raw, n->len, 1);

			if (!ZSTD_isError(z) && z < n->len)
				n->zlen = z; /* else send raw: it did not shrink */
		}
		pthread_mutex_lock(&s->mu);
		n->state = N_READY;
		pthread_cond_broadcast(&s->cv);
	}
	pthread_mutex_unlock(&s->mu);
	ZSTD_freeCCtx(cctx);
	return NULL;
}

/* ---- progress ---- */

static void deliver_progress(struct sender *s, const struct rh_repl_progress *p)
{
	struct rh_err_saved saved;
	bool failed;

	/* The callback may call the library (the agent's worker writes to a
	 * pipe): keep the error of a failed copy for our caller to report. */
	failed = rh_lasterr_code() != 0;
	rh_err_save(&saved);
	s->o->progress(p, s->o->progress_arg);
	if (failed)
		rh_err_restore(&saved);
}

/* Tell the caller how far the copy is: at most once a second, and now when
 * final. Runs on the sending thread, which alone updates the counters. */
static void report_progress(struct sender *s, bool final)
{
	struct rh_repl_progress p = {
		.elapsed_s = sender_now() - s->st->seconds,
		.total_bytes = s->st->total_bytes,
		.replicated_bytes = s->done_raw + s->st->skipped_resume,
		.durable_bytes = s->durable_bytes,
		.durable_disk = s->durable_disk,
		.disk = s->cur_disk,
		.wire_bytes = s->done_wire,
		.final = final,
	};

	if (s->o->progress == NULL || !repl_progress_sample(&s->prog, s->done_raw, final, &p))
		return;
	deliver_progress(s, &p);
}

void sender_report_hash(struct sender *s, bool final)
{
	struct rh_repl_progress p = {
		.phase = RH_PHASE_HASH,
		.elapsed_s = sender_now() - s->hash_t0,
		.total_bytes = s->hash_total,
		.replicated_bytes = s->hash_done,
		.final = final,
	};

	if (s->o->progress == NULL || !repl_progress_sample(&s->hash_prog, s->hash_done, final, &p))
		return;
	deliver_progress(s, &p);
}

/* ---- sending ---- */

static int handle_reply(struct sender *s, struct rh_tls_conn *c, uint8_t *fbuf,
			int want_done_disk)
{
	struct rh_frame f;
	int rc;

	for (;;) {
		if (want_done_disk < 0 && !rh_tls_readable(c))
			return 0;
		rc = rh_frame_recv(c, fbuf, false, &f);
		if (rc < 0)
			return rc;
		if (f.type == RH_MSG_DURABLE) {
			s->durable_bytes = f.u.pos.offset;
			s->durable_disk = f.u.pos.disk;
			continue;
		}
		if (f.type == RH_MSG_DISK_DONE && (int)f.u.pos.disk == want_done_disk)
			return 0;
		return rh_seterr(RH_ERR_PROTO, "unexpected %s from target", rh_proto_msg_name(f.type));
	}
}

static int send_node(struct sender *s, struct rh_tls_conn *c, struct rh_ratelimit *rl,
		     struct node *n, uint8_t *fbuf)
{
	uint8_t hdr[RH_PROTO_HDR_SIZE + RH_PROTO_DATA_PREFIX + RH_PROTO_POS_SIZE];
	struct rh_data d = { .disk = n->disk, .length = n->len, .offset = n->off, .crc64 = n->crc,
			     .seq = n->seq };
	const uint8_t *payload = NULL;
	size_t hl;
	int rc;

	s->cur_disk = n->disk;
	if (n->disk_end) {
		struct rh_disk_end e = { .disk = n->disk, .bytes = s->sent_bytes[n->disk],
					 .sum = s->sent_sum[n->disk] };

		rc = rh_tls_write(c, hdr, rh_proto_put_disk_end(hdr, sizeof hdr, &e));
		if (rc == 0)
			rc = handle_reply(s, c, fbuf, (int)n->disk);
		if (rc == 0)
			rh_log_info("disk %u (%s) complete on the target", n->disk, s->o->disks[n->disk]);
		return rc;
	}
	if (n->zero) {
		d.flags = RH_DATA_ZERO;
	} else if (n->zlen > 0) {
		d.flags = RH_DATA_ZSTD;
		d.payload_len = (uint32_t)n->zlen;
		payload = n->z;
	} else {
		d.payload_len = n->len;
		payload = n->raw;
	}
	hl = rh_proto_put_data_hdr(hdr, sizeof hdr, &d);
	if (rl != NULL && (rc = rh_ratelimit_take(rl, hl + d.payload_len)) < 0)
		return rc;
	rc = rh_tls_write(c, hdr, hl);
	if (rc == 0 && payload != NULL)
		rc = rh_tls_write(c, payload, d.payload_len);
	if (rc < 0)
		return rc;
	s->done_raw += n->len;
	s->done_wire += hl + d.payload_len;
	s->sent_bytes[n->disk] += n->len;
	s->sent_sum[n->disk] = rh_proto_sum_add(s->sent_sum[n->disk],
						rh_proto_range_sum(n->off, n->len));
	if (n->zero)
		s->st->zero_bytes += n->len;
	return handle_reply(s, c, fbuf, -1);
}

static int pump(struct sender *s, struct rh_tls_conn *c)
{
	struct rh_ratelimit *rl = NULL;
	uint8_t *fbuf = malloc(RH_FRAME_BUF_SIZE);
	pthread_t reader, workers[3];
	time_t rate_checked = 0;
	int nworkers = 0, rc = 0;

	if (fbuf == NULL)
		return RH_ERR_NOMEM;
	if ((s->o->rates.n > 0 || s->o->rates.default_mbit > 0) &&
	    (rc = rh_ratelimit_new(mbit_to_bps(rh_ratesched_mbit_at(&s->o->rates, time(NULL))), 0,
				   &rl)) < 0)
		goto out_free;
	if (pthread_create(&reader, NULL, reader_main, s) != 0) {
		rc = rh_seterr(RH_ERR_NOMEM, "cannot start reader thread");
		goto out_free;
	}
	for (int i = 0; i < s->threads; i++)
		if (pthread_create(&workers[nworkers], NULL, worker_main, s) == 0)
			nworkers++;
	/* The reader hands nodes to the workers (N_READ) when compression is
	 * on: with none running, nothing would ever become N_READY and the
	 * loop below would wait forever. Fewer workers than asked still work. */
	if (s->threads > 0 && nworkers == 0) {
		rc = rh_seterr(RH_ERR_NOMEM, "cannot start compression threads");
		goto out_stop;
	}

	for (uint64_t seq = 0;; seq++) {
		struct node *n = &s->nodes[seq % NNODES];

		pthread_mutex_lock(&s->mu);
		while (!(n->state == N_READY && n->seq == seq) && !(s->reader_done && n->state == N_FREE))
			pthread_cond_wait(&s->cv, &s->mu);
		if (n->state != N_READY) {
			/* Reader finished and nothing more is queued. */
			rc = s->reader_err;
			if (rc < 0)
				rh_err_restore(&s->reader_saved);
			pthread_mutex_unlock(&s->mu);
			break;
		}
		pthread_mutex_unlock(&s->mu);
		if (rl != NULL && s->o->rates.n > 0 && time(NULL) != rate_checked) {
			/* Time-of-day windows: re-evaluate the cap once a second. */
			rate_checked = time(NULL);
			rh_ratelimit_set_rate(rl, mbit_to_bps(rh_ratesched_mbit_at(&s->o->rates,
										    rate_checked)));
		}
		rc = send_node(s, c, rl, n, fbuf);
		pthread_mutex_lock(&s->mu);
		n->state = N_FREE;
		pthread_cond_broadcast(&s->cv);
		pthread_mutex_unlock(&s->mu);
		report_progress(s, false);
		if (rc < 0)
			break;
	}
out_stop:
	pthread_mutex_lock(&s->mu);
	s->stop = true;
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
	pthread_join(reader, NULL);
	for (int i = 0; i < nworkers; i++)
		pthread_join(workers[i], NULL);
out_free:
	rh_ratelimit_free(rl);
	free(fbuf);
	return rc;
}

/* Say what will be sent of each disk before sending it, so that the
 * target can tell a complete disk from one the agent merely calls complete;
 * and start the figures DISK_END will claim from what the target holds. */
static int send_plans(struct sender *s, struct rh_tls_conn *c, uint8_t *fbuf)
{
	for (uint32_t i = 0; i < s->o->ndisks; i++) {
		const struct rh_hello_ok_disk *t = &s->ok.disks[i];
		const struct repl_plan *p = &s->plans[i];
		struct rh_plan pl = { .disk = i, .from = t->resume_offset };
		int rc;

		s->sent_bytes[i] = t->recv_bytes;
		s->sent_sum[i] = t->recv_sum;
		/* Sync: the target knows what it asked for (NEED). */
		if (s->o->mode != RH_REPL_MIGRATE || t->state == RH_DISK_COMPLETE)
			continue;
		pl.bytes = repl_plan_bytes_from(p, pl.from);
		pl.sum = repl_plan_sum_from(p, pl.from);
		pl.total_bytes = p->bytes;
		pl.total_sum = repl_plan_sum_from(p, 0);
		rc = rh_tls_write(c, fbuf, rh_proto_put_plan(fbuf, RH_FRAME_BUF_SIZE, &pl));
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* ---- job identity ---- */

static int job_id_for(struct sender *s, char id[RH_PROTO_JOB_ID_LEN + 1])
{
	const struct rh_migrate_opts *o = s->o;
	json_t *j = NULL, *disks;
	const char *old = NULL;
	uint8_t rnd[RH_PROTO_JOB_ID_LEN / 2];
	int rc;

	if ((rc = rh_mkdir_parents(o->state_dir, 0700, "state directory")) < 0)
		return rc;
	rc = repl_state_load(o->state_dir, JOB_FILE, &j);
	/* The job is the set of source disks; the target address may change
	 * (a restarted target on another port): the target's own checkpoint
	 * decides whether it holds this job's data. */
	if (rc == 0 && !o->new_job && rh_json_get_str(j, "job_id", &old) == 0 &&
	    strlen(old) == RH_PROTO_JOB_ID_LEN &&
	    json_array_size(disks = json_object_get(j, "disks")) == o->ndisks) {
		bool same = true;

		for (size_t i = 0; i < o->ndisks; i++)
			same = same && json_is_string(json_array_get(disks, i)) &&
			       strcmp(json_string_value(json_array_get(disks, i)), o->disks[i]) == 0;
		if (same) {
			memcpy(id, old, RH_PROTO_JOB_ID_LEN + 1);
			json_decref(j);
			rh_log_info("resuming job %s", id);
			return 0;
		}
	}
	json_decref(j);
	if (rc < 0 && rc != RH_ERR_NOTFOUND)
		return rc;
	if (o->mode != RH_REPL_MIGRATE)
		return rh_seterr(RH_ERR_STATE,
				 "no migration job for these disks in %s; run rehost migrate with the same --disk list and --state-dir first",
				 o->state_dir);
	if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd)
		return rh_seterr_errno(errno, "getrandom");
	for (size_t i = 0; i < sizeof rnd; i++)
		snprintf(id + 2 * i, 3, "%02x", rnd[i]);
	j = json_pack("{s:s, s:s, s:[]}", "job_id", id, "target", o->target, "disks");
	if (j == NULL)
		return RH_ERR_NOMEM;
	for (size_t i = 0; i < o->ndisks; i++)
		json_array_append_new(json_object_get(j, "disks"), json_string(o->disks[i]));
	rc = repl_state_save(o->state_dir, JOB_FILE, j);
	json_decref(j);
	if (rc == 0)
		rh_log_info("new job %s", id);
	return rc;
}

/* ---- entry point ---- */

int rh_migrate_run(const struct rh_migrate_opts *o, struct rh_migrate_stats *st)
{
	struct sender *s;
	struct rh_tls_ctx *ctx = NULL;
	struct rh_tls_conn *c = NULL;
	struct rh_hello h = { .version = RH_PROTO_VERSION };
	struct rh_frame f;
	uint8_t *fbuf = NULL;
	int rc;

	memset(st, 0, sizeof *st);
	if (o->ndisks == 0 || o->ndisks > RH_PROTO_MAX_DISKS)
		return rh_seterr(RH_ERR_INVAL, "between 1 and %u disks", RH_PROTO_MAX_DISKS);
	if (o->node_size < (1u << 20) || o->node_size > RH_PROTO_MAX_CHUNK)
		return rh_seterr(RH_ERR_RANGE, "buffer node size %u outside 1 to 8 MiB", o->node_size);
	s = calloc(1, sizeof *s);
	if (s == NULL)
		return RH_ERR_NOMEM;
	s->o = o;
	s->st = st;
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->cv, NULL);
	for (size_t i = 0; i < RH_PROTO_MAX_DISKS; i++)
		s->fds[i] = -1;
	s->threads = o->compress_threads < 0 ? auto_threads() : RH_MIN(o->compress_threads, 3);
	for (int i = 0; i < NNODES; i++) {
		s->nodes[i].raw = malloc(o->node_size);
		s->nodes[i].zcap = ZSTD_compressBound(o->node_size);
		s->nodes[i].z = s->threads > 0 ? malloc(s->nodes[i].zcap) : NULL;
		if (s->nodes[i].raw == NULL || (s->threads > 0 && s->nodes[i].z == NULL)) {
			rc = RH_ERR_NOMEM;
			goto out;
		}
	}

	/* Open and fingerprint every disk before touching the network. */
	for (size_t i = 0; i < o->ndisks; i++) {
		s->fds[i] = open(o->disks[i], O_RDONLY | O_CLOEXEC);
		if (s->fds[i] < 0) {
			rc = rh_seterr_errno(errno, "cannot open source disk %s", o->disks[i]);
			goto out;
		}
		rc = repl_layout_fingerprint(s->fds[i], o->disks[i], &s->sizes[i], &s->layouts[i]);
		if (rc < 0)
			goto out;
		h.disks[i].size = s->sizes[i];
		h.disks[i].layout = s->layouts[i];
		st->disk_bytes += s->sizes[i];
	}
	h.ndisks = (uint32_t)o->ndisks;
	h.chunk_size = o->node_size;
	rc = job_id_for(s, h.job_id);
	if (rc < 0)
		goto out;

	rc = rh_tls_ctx_new(RH_TLS_AGENT, o->key_dir, &ctx);
	if (rc < 0)
		goto out;
	/* Retries a handshake the target dropped (flooded: rh_tls_dial). */
	rc = rh_tls_dial(ctx, o->target, RH_PROTO_DEFAULT_PORT, 10000, 5, &c);
	if (rc < 0)
		goto out;
	fbuf = malloc(RH_FRAME_BUF_SIZE);
	if (fbuf == NULL) {
		rc = RH_ERR_NOMEM;
		goto out;
	}
	rc = rh_tls_write(c, fbuf, rh_proto_put_hello_flags(fbuf, RH_FRAME_BUF_SIZE, &h,
				o->mode == RH_REPL_SYNC     ? RH_HELLO_SYNC
				: o->mode == RH_REPL_VERIFY ? RH_HELLO_SYNC | RH_HELLO_VERIFY
							    : 0));
	if (rc == 0)
		rc = rh_frame_recv(c, fbuf, false, &f);
	if (rc < 0)
		goto out;
	if (f.type != RH_MSG_HELLO_OK || f.u.hello_ok.ndisks != h.ndisks) {
		rc = rh_seterr(RH_ERR_PROTO, "target answered HELLO with %s", rh_proto_msg_name(f.type));
		goto out;
	}
	s->ok = f.u.hello_ok;

	for (size_t i = 0; i < o->ndisks; i++) {
		uint64_t from = s->ok.disks[i].resume_offset;

		if (from > s->sizes[i]) {
			rc = rh_seterr(RH_ERR_PROTO, "target resume point beyond disk %zu", i);
			goto out;
		}
		rc = repl_plan_build(s->fds[i], o->disks[i], s->sizes[i], o->mode == RH_REPL_MIGRATE,
				     &s->plans[i]);
		if (rc < 0)
			goto out;
		st->total_bytes += s->plans[i].bytes;
		st->part_bytes += s->plans[i].part_bytes;
		if (s->ok.disks[i].state == RH_DISK_COMPLETE)
			st->skipped_resume += s->plans[i].bytes;
		else
			st->skipped_resume += s->plans[i].bytes - repl_plan_bytes_from(&s->plans[i], from);
		if (o->mode == RH_REPL_MIGRATE)
			rh_log_info("disk %zu: %s, %" PRIu64 " bytes, partitions %" PRIu64 " bytes, %" PRIu64
				    " used bytes to copy, %s", i, o->disks[i], s->sizes[i],
				    s->plans[i].part_bytes, s->plans[i].bytes,
				    s->ok.disks[i].state == RH_DISK_COMPLETE ? "already complete"
				    : from > 0 ? "resuming" : "starting");
	}
	st->seconds = sender_now();
	if (o->mode != RH_REPL_MIGRATE) {
		/* Hash, compare, and turn each plan into the chunks that differ. */
		rc = sender_compare(s, c, fbuf, h.job_id);
		if (rc < 0)
			goto out;
		if (o->mode == RH_REPL_VERIFY) {
			st->seconds = sender_now() - st->seconds;
			rc = rh_tls_write(c, fbuf, rh_proto_put_bye(fbuf, RH_FRAME_BUF_SIZE));
			goto out;
		}
	}
	rh_log_info("compression: %s", s->threads ? "zstd" : "off");
	rc = send_plans(s, c, fbuf);
	if (rc < 0)
		goto out;
	rc = pump(s, c);
	if (rc == 0 && o->mode == RH_REPL_SYNC)
		rc = sender_save_sums(s, h.job_id);
	report_progress(s, true);
	st->seconds = sender_now() - st->seconds;
	st->sent_raw = s->done_raw;
	st->sent_wire = s->done_wire;
	if (rc == 0)
		rc = rh_tls_write(c, fbuf, rh_proto_put_bye(fbuf, RH_FRAME_BUF_SIZE));
	else if (rc != RH_ERR_PROTO && rc != RH_ERR_CONNECT)
		rh_frame_send_error(c, rc);
out:
	rh_tls_close(c);
	rh_tls_ctx_free(ctx);
	free(fbuf);
	for (size_t i = 0; i < RH_PROTO_MAX_DISKS; i++) {
		if (s->fds[i] >= 0)
			close(s->fds[i]);
		repl_plan_release(&s->plans[i]);
		repl_sums_release(&s->sums[i]);
	}
	for (int i = 0; i < NNODES; i++) {
		free(s->nodes[i].raw);
		free(s->nodes[i].z);
	}
	pthread_mutex_destroy(&s->mu);
	pthread_cond_destroy(&s->cv);
	free(s);
	return rc;
}
