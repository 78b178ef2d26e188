/* Target side of block replication: checks the agent's disks against the
 * target's, writes chunks, and keeps a durable checkpoint so that a new
 * connection resumes where the last one stopped. */
#define RH_LOG_COMPONENT "target"
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zstd.h>

#include "receiver-internal.h"
#include "rehost/checked.h"
#include "rehost/crc64.h"
#include "rehost/err.h"
#include "rehost/json.h"
#include "rehost/log.h"
#include "rehost/repl.h"

/* Durable at least this often, so a crash re-sends at most this much. */
#define DEFAULT_SYNC_BYTES (24u << 20)
#define SYNC_SECONDS 2

json_t *receiver_state_json(const struct receiver *r, const uint32_t *states,
			    const struct rpos *durables)
{
	json_t *j = json_pack("{s:i, s:s, s:[]}", "version", 2, "job_id", r->job_id, "disks");
	char hex[17];

	if (j == NULL)
		return NULL;
	for (uint32_t i = 0; i < r->ndisks; i++) {
		const struct tdisk *d = &r->disks[i];

		repl_hex64(d->layout, hex);
		json_array_append_new(json_object_get(j, "disks"),
				      json_pack("{s:s, s:I, s:s, s:i, s:I, s:I, s:I}", "path", d->path,
						"size", (json_int_t)d->size, "layout", hex,
						"state", (int)states[i], "durable",
						(json_int_t)durables[i].off, "recv_bytes",
						(json_int_t)durables[i].bytes, "recv_sum",
						(json_int_t)durables[i].sum));
	}
	return j;
}

/* Main thread, with the syncer idle. */
int receiver_state_save(struct receiver *r)
{
	uint32_t states[RH_PROTO_MAX_DISKS];
	struct rpos durables[RH_PROTO_MAX_DISKS];
	json_t *j;
	int rc;

	for (uint32_t i = 0; i < r->ndisks; i++) {
		states[i] = r->disks[i].state;
		durables[i] = r->disks[i].durable;
	}
	j = receiver_state_json(r, states, durables);
	if (j == NULL)
		return RH_ERR_NOMEM;
	rc = repl_state_save(r->state_dir, STATE_FILE, j);
	json_decref(j);
	return rc;
}

/* What a checkpoint disk says was received below its durable offset. A
 * checkpoint written before protocol 2 does not say: a partial disk then
 * starts over, since nothing could prove its copy complete. */
static int load_received(json_t *d, uint32_t i, struct tdisk *t)
{
	int64_t bytes, sum;

	if (json_object_get(d, "recv_bytes") == NULL && json_object_get(d, "recv_sum") == NULL) {
		if (t->state == RH_DISK_PARTIAL && t->durable.off > 0)
			rh_log_warn("disk %u: the checkpoint predates completion checks; copying it again from the start",
				    i);
		if (t->state != RH_DISK_COMPLETE)
			t->state = RH_DISK_NEW;
		t->durable = (struct rpos){ t->state == RH_DISK_COMPLETE ? t->size : 0, 0, 0 };
		return 0;
	}
	if (rh_json_get_int(d, "recv_bytes", 0, INT64_MAX, &bytes) < 0 ||
	    rh_json_get_int(d, "recv_sum", 0, (int64_t)RH_SUM_MOD - 1, &sum) < 0 ||
	    (uint64_t)bytes > t->durable.off)
		return rh_seterr(RH_ERR_CORRUPT, "checkpoint disk %u has malformed received figures", i);
	t->durable.bytes = (uint64_t)bytes;
	t->durable.sum = (uint64_t)sum;
	return 0;
}

/* Load the checkpoint if it belongs to this job; returns 1 if it did. */
static int state_load(struct receiver *r, const struct rh_hello *h)
{
	json_t *j = NULL, *disks;
	const char *job = NULL;
	int rc;

	rc = repl_state_load(r->state_dir, STATE_FILE, &j);
	if (rc == RH_ERR_NOTFOUND)
		return 0;
	if (rc < 0)
		return rc;
	rc = rh_json_get_str(j, "job_id", &job);
	disks = json_object_get(j, "disks");
	if (rc < 0 || !json_is_array(disks)) {
		rc = rh_seterr(RH_ERR_CORRUPT, "checkpoint in %s is malformed", r->state_dir);
		goto out;
	}
	if (strcmp(job, h->job_id) != 0) {
		if (!r->o->replace) {
			rc = rh_seterr(RH_ERR_EXISTS,
				       "the target holds disks of another migration job (%s); start the target with --replace to overwrite them, or use another --disk-dir",
				       job);
			goto out;
		}
		rh_log_warn("replacing the disks of job %s with job %s", job, h->job_id);
		rc = 0;
		goto out;
	}
	if (json_array_size(disks) != h->ndisks) {
		rc = rh_seterr_sms(RH_ERR_STATE, "SMS.0515",
				   "the source now has %u disks, the checkpoint %zu; delete the job and migrate again (rehost migrate --new-job)",
				   h->ndisks, json_array_size(disks));
		goto out;
	}
	for (uint32_t i = 0; i < h->ndisks; i++) {
		json_t *d = json_array_get(disks, i);
		const char *layout = NULL;
		int64_t size, state, durable;
		char hex[17];

		if (rh_json_get_int(d, "size", 1, INT64_MAX, &size) < 0 ||
		    rh_json_get_str(d, "layout", &layout) < 0 ||
		    rh_json_get_int(d, "state", 0, RH_DISK_COMPLETE, &state) < 0 ||
		    rh_json_get_int(d, "durable", 0, INT64_MAX, &durable) < 0) {
			rc = rh_seterr(RH_ERR_CORRUPT, "checkpoint disk %u is malformed: %s", i, rh_lasterr());
			goto out;
		}
		repl_hex64(h->disks[i].layout, hex);
		if ((uint64_t)size != h->disks[i].size || strcmp(layout, hex) != 0) {
			rc = rh_seterr_sms(RH_ERR_STATE, "SMS.0515",
					   "source disk %u changed since the last run (size or partition table); delete the job and migrate again (rehost migrate --new-job)",
					   i);
			goto out;
		}
		r->disks[i].size = (uint64_t)size;
		r->disks[i].state = (uint32_t)state;
		r->disks[i].durable.off = (uint64_t)durable;
		if (load_received(d, i, &r->disks[i]) < 0) {
			rc = RH_ERR_CORRUPT;
			goto out;
		}
		r->disks[i].written = r->disks[i].durable;
	}
	rc = 1;
out:
	json_decref(j);
	return rc;
}

static int open_disks(struct receiver *r, const struct rh_hello *h, bool resuming)
{
	const struct rh_receiver_opts *o = r->o;

	if (o->disk_dir == NULL && o->ndevices < h->ndisks)
		return rh_seterr_sms(RH_ERR_INVAL, "MSG.target-disk-count",
				     "the target has %zu disks but the source migrates %u; attach more disks to the target",
				     o->ndevices, h->ndisks);
	for (uint32_t i = 0; i < h->ndisks; i++) {
		struct tdisk *d = &r->disks[i];
		struct stat st;

		d->size = h->disks[i].size;
		d->layout = h->disks[i].layout;
		if (o->disk_dir != NULL) {
			int flags = O_RDWR | O_CREAT | O_CLOEXEC | (resuming ? 0 : O_TRUNC);

			snprintf(d->path, sizeof d->path, "%s/disk%u.raw", o->disk_dir, i);
			/* Without a checkpoint of ours, an existing image is someone
			 * else's data: never truncate it unasked. */
			if (!resuming && !o->replace && access(d->path, F_OK) == 0)
				return rh_seterr(RH_ERR_EXISTS,
						 "%s exists and no rehost checkpoint describes it; move it away or start the target with --replace",
						 d->path);
			d->fd = open(d->path, flags, 0600);
			if (d->fd < 0)
				return rh_seterr_errno(errno, "cannot create %s", d->path);
			/* An image grown after the copy (rehost target grow) holds
			 * a partition table and filesystems the source does not
			 * have; cutting it back would destroy them, and syncing
			 * into it would mix both layouts. */
			if (resuming && fstat(d->fd, &st) == 0 && (uint64_t)st.st_size > d->size)
				return rh_seterr(RH_ERR_STATE,
						 "%s has %lld bytes, more than source disk %u (%" PRIu64 " bytes): it was grown after the copy; roll it back first (rehost target rollback --disk-dir %s --to sync), then sync",
						 d->path, (long long)st.st_size, i, d->size, o->disk_dir);
			/* A sparse file: what is never written reads as zeros. */
			if (ftruncate(d->fd, (off_t)d->size) < 0)
				return rh_seterr_errno(errno, "cannot size %s to %" PRIu64 " bytes",
						       d->path, d->size);
		} else {
			uint64_t have = 0;

			snprintf(d->path, sizeof d->path, "%s", o->devices[i]);
			d->fd = open(d->path, O_RDWR | O_CLOEXEC);
			if (d->fd < 0)
				return rh_seterr_errno(errno, "cannot open target disk %s", d->path);
			if (fstat(d->fd, &st) == 0 && S_ISBLK(st.st_mode))
				ioctl(d->fd, BLKGETSIZE64, &have);
			else if (fstat(d->fd, &st) == 0)
				have = (uint64_t)st.st_size;
			if (have < d->size)
				return rh_seterr_sms(RH_ERR_INVAL, "MSG.target-disk-size",
						     "target disk %s has %" PRIu64 " bytes, smaller than source disk %u (%" PRIu64 " bytes); use a larger target disk",
						     d->path, have, i, d->size);
		}
		if (fstat(d->fd, &st) == 0)
			d->is_file = S_ISREG(st.st_mode);
	}
	return 0;
}

int receiver_make_durable(struct receiver *r)
{
	int rc = receiver_syncer_wait(r), first = 0;

	if (rc < 0)
		return rc;
	/* Every disk is tried, so that one failing disk does not keep the
	 * others' progress out of the checkpoint. */
	for (uint32_t i = 0; i < r->ndisks; i++) {
		struct tdisk *d = &r->disks[i];

		if (d->fd < 0 ||
		    (!r->sync && d->written.off == d->durable.off && d->state != RH_DISK_PARTIAL))
			continue;
		if (fdatasync(d->fd) < 0) {
			int e = errno;

			/* Linux may drop the pages a failed fdatasync could not
			 * write and report success next time: never trust this
			 * file's later data to be durable in this session. */
			d->sync_failed = true;
			if (first == 0)
				first = e == ENOSPC || e == EDQUOT
						? rh_seterr_sms(RH_ERR_NOSPACE, "SMS.0805",
								"target %s is full syncing it; free space on the target and run the same command again",
								d->path)
						: rh_seterr_errno(e, "cannot sync %s", d->path);
			continue;
		}
		if (!r->sync && !d->sync_failed) {
			pthread_mutex_lock(&r->smu);
			d->durable = d->written;
			pthread_mutex_unlock(&r->smu);
		}
	}
	r->unsynced = 0;
	clock_gettime(CLOCK_MONOTONIC, &r->last_sync);
	rc = receiver_state_save(r);
	return first < 0 ? first : rc;
}

int receiver_send_pos(struct receiver *r, uint16_t type, uint32_t disk)
{
	uint8_t buf[RH_PROTO_HDR_SIZE + RH_PROTO_POS_SIZE];
	struct rh_position p = { .disk = disk };

	pthread_mutex_lock(&r->smu);
	p.offset = r->disks[disk].durable.off;
	pthread_mutex_unlock(&r->smu);
	return rh_tls_write(r->c, buf, rh_proto_put_pos(buf, sizeof buf, type, &p));
}

static int zero_range(struct tdisk *d, uint64_t off, uint32_t len, uint8_t *scratch)
{
	uint64_t range[2] = { off, len };

	/* Files: punch a hole, which also keeps the image sparse. Devices:
	 * let the device zero it; else write zeros. */
	if (d->is_file &&
	    fallocate(d->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)off, len) == 0)
		return 0;
	if (!d->is_file && ioctl(d->fd, BLKZEROOUT, range) == 0)
		return 0;
	memset(scratch, 0, len);
	if (pwrite(d->fd, scratch, len, (off_t)off) != (ssize_t)len)
		return rh_seterr_errno(errno ? errno : EIO, "cannot write %s", d->path);
	return 0;
}

static int handle_data(struct receiver *r, const struct rh_data *dt)
{
	struct tdisk *d;
	const uint8_t *bytes = dt->payload;
	uint64_t end;
	ssize_t w;

	if (dt->disk >= r->ndisks)
		return rh_seterr(RH_ERR_PROTO, "DATA for disk %u of %u", dt->disk, r->ndisks);
	d = &r->disks[dt->disk];
	if (RH_ADD_OVERFLOW(dt->offset, (uint64_t)dt->length, &end) || end > d->size)
		return rh_seterr(RH_ERR_PROTO, "DATA [%" PRIu64 ", +%u) beyond disk %u size %" PRIu64,
				 dt->offset, dt->length, dt->disk, d->size);
	/* In-order delivery is what makes "durable below X" meaningful. */
	if (dt->offset < d->written.off)
		return rh_seterr(RH_ERR_PROTO, "DATA at %" PRIu64 " behind position %" PRIu64 " of disk %u",
				 dt->offset, d->written.off, dt->disk);
	if (d->state == RH_DISK_COMPLETE && !(r->sync && !r->verify))
		return rh_seterr(RH_ERR_PROTO, "DATA for completed disk %u", dt->disk);
	/* Without a plan, nothing could tell the disk complete later. */
	if (!r->sync && !d->planned)
		return rh_seterr(RH_ERR_PROTO, "DATA for disk %u before its PLAN", dt->disk);

	if (dt->flags & RH_DATA_ZERO) {
		int rc = zero_range(d, dt->offset, dt->length, r->raw);

		if (rc < 0)
			return rc;
	} else {
		if (dt->flags & RH_DATA_ZSTD) {
			size_t n = ZSTD_decompressDCtx(r->dctx, r->raw, RH_PROTO_MAX_CHUNK,
						       dt->payload, dt->payload_len);

			if (ZSTD_isError(n) || n != dt->length)
				return rh_seterr(RH_ERR_CORRUPT,
						 "chunk at %" PRIu64 " of disk %u does not decompress to %u bytes: %s",
						 dt->offset, dt->disk, dt->length,
						 ZSTD_isError(n) ? ZSTD_getErrorName(n) : "wrong size");
			bytes = r->raw;
		}
		if (rh_crc64_update(0, bytes, dt->length) != dt->crc64)
			return rh_seterr(RH_ERR_CORRUPT,
					 "chunk at %" PRIu64 " of disk %u fails its CRC-64 check",
					 dt->offset, dt->disk);
		w = pwrite(d->fd, bytes, dt->length, (off_t)dt->offset);
		if (w != (ssize_t)dt->length) {
			int e = w < 0 ? errno : ENOSPC;

			if (e == ENOSPC || e == EDQUOT)
				return rh_seterr_sms(RH_ERR_NOSPACE, "SMS.0805",
						     "target %s is full writing %u bytes at %" PRIu64 "; free space on the target and run the same command again",
						     d->path, dt->length, dt->offset);
			return rh_seterr_errno(e, "cannot write %s at %" PRIu64, d->path, dt->offset);
		}
	}
	/* Start writeback now, without waiting, so that the periodic
	 * fdatasync finds little left to write (it halves the copy time here);
	 * a failure only loses that head start. */
	if (!(dt->flags & RH_DATA_ZERO))
		(void)sync_file_range(d->fd, (off_t)dt->offset, dt->length, SYNC_FILE_RANGE_WRITE);
	receiver_pos_add(&d->written, dt->offset, dt->length);
	if (!r->sync)
		d->state = RH_DISK_PARTIAL;
	r->unsynced += dt->length;
	return 0;
}

static uint64_t sync_bytes(const struct receiver *r)
{
	return r->o->sync_bytes ? r->o->sync_bytes : DEFAULT_SYNC_BYTES;
}

static bool sync_due(struct receiver *r)
{
	struct timespec now;

	if (r->unsynced >= sync_bytes(r))
		return true;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return r->unsynced > 0 && now.tv_sec - r->last_sync.tv_sec >= SYNC_SECONDS;
}

static int hello(struct receiver *r, const struct rh_hello *h, uint16_t flags)
{
	uint8_t buf[RH_PROTO_HDR_SIZE + RH_PROTO_HELLO_OK_SIZE(RH_PROTO_MAX_DISKS)];
	struct rh_hello_ok ok = { .version = RH_PROTO_VERSION, .ndisks = h->ndisks };
	int resuming, rc;

	/* Snapshot, rollback and grow must not run while we write. */
	rc = rh_target_lock(r->state_dir, "a replication session", &r->lock_fd);
	if (rc < 0)
		return rc;
	memcpy(r->job_id, h->job_id, sizeof r->job_id);
	r->ndisks = h->ndisks;
	resuming = state_load(r, h);
	if (resuming < 0)
		return resuming;
	r->sync = (flags & RH_HELLO_SYNC) != 0;
	r->verify = (flags & RH_HELLO_VERIFY) != 0;
	if (r->sync) {
		for (uint32_t i = 0; i < r->ndisks; i++)
			if (resuming != 1 || r->disks[i].state != RH_DISK_COMPLETE)
				return rh_seterr(RH_ERR_STATE,
						 "%s needs a completed migration of this job on the target (disk %u is not complete); run rehost migrate first",
						 r->verify ? "verify" : "sync", i);
	}
	rc = open_disks(r, h, resuming == 1);
	if (rc < 0)
		return rc;
	if (!r->verify)
		receiver_reserve(r);
	rc = receiver_state_save(r);
	if (rc < 0)
		return rc;
	for (uint32_t i = 0; i < r->ndisks; i++) {
		const struct tdisk *d = &r->disks[i];

		ok.disks[i].state = d->state;
		ok.disks[i].resume_offset = d->durable.off;
		ok.disks[i].recv_bytes = d->durable.bytes;
		ok.disks[i].recv_sum = d->durable.sum;
		rh_log_info("disk %u: %s, %" PRIu64 " bytes, %s at %" PRIu64, i, d->path, d->size,
			    d->state == RH_DISK_COMPLETE ? "complete"
			    : d->durable.off > 0 ? "resuming" : "new", d->durable.off);
	}
	return rh_tls_write(r->c, buf, rh_proto_put_hello_ok(buf, sizeof buf, &ok));
}

int rh_receiver_serve(struct rh_tls_conn *c, const struct rh_receiver_opts *o)
{
	struct receiver *r;
	struct rh_frame f;
	bool greeted = false;
	int rc;

	r = calloc(1, sizeof *r);
	if (r == NULL)
		return RH_ERR_NOMEM;
	for (size_t i = 0; i < RH_PROTO_MAX_DISKS; i++)
		r->disks[i].fd = -1;
	r->lock_fd = -1;
	r->reserve_fd = -1;
	pthread_mutex_init(&r->smu, NULL);
	pthread_cond_init(&r->scv, NULL);
	r->o = o;
	r->c = c;
	r->state_dir = o->disk_dir ? o->disk_dir : o->state_dir;
	r->frame = malloc(RH_FRAME_BUF_SIZE);
	r->raw = malloc(RH_PROTO_MAX_CHUNK);
	r->dctx = ZSTD_createDCtx();
	if (r->frame == NULL || r->raw == NULL || r->dctx == NULL) {
		rc = RH_ERR_NOMEM;
		goto out;
	}
	clock_gettime(CLOCK_MONOTONIC, &r->last_sync);
	for (;;) {
		rc = rh_frame_recv(c, r->frame, true, &f);
		if (rc < 0)
			goto out_err;
		if (!greeted && f.type != RH_MSG_HELLO) {
			rc = rh_seterr(RH_ERR_PROTO, "expected HELLO, got %s", rh_proto_msg_name(f.type));
			goto out_err;
		}
		switch (f.type) {
		case RH_MSG_HELLO:
			if (greeted) {
				rc = rh_seterr(RH_ERR_PROTO, "second HELLO");
				goto out_err;
			}
			rh_log_info("job %s from %s: %u disks, chunks up to %u bytes", f.u.hello.job_id,
				    rh_tls_peer_name(c), f.u.hello.ndisks, f.u.hello.chunk_size);
			rc = hello(r, &f.u.hello, f.flags);
			/* Only an accepted HELLO owns the checkpoint: a refused one
			 * (another job, changed layout) must not overwrite it. */
			greeted = rc == 0;
			if (greeted)
				rc = receiver_syncer_start(r);
			break;
		case RH_MSG_DATA:
			rc = handle_data(r, &f.u.data);
			/* Durability runs beside the receiving (receiver-durable.c);
			 * only a large backlog makes the receiver wait for it. */
			if (rc == 0 && !r->sync && sync_due(r)) {
				rc = receiver_syncer_kick(r, r->unsynced >= 2 * sync_bytes(r));
				r->unsynced = 0;
				clock_gettime(CLOCK_MONOTONIC, &r->last_sync);
			}
			if (rc == 0 && (rc = receiver_syncer_poll(r)) == 1)
				rc = receiver_send_pos(r, RH_MSG_DURABLE, f.u.data.disk);
			break;
		case RH_MSG_CHECKPOINT:
			if (f.u.pos.disk >= r->ndisks) {
				rc = rh_seterr(RH_ERR_PROTO, "CHECKPOINT for disk %u", f.u.pos.disk);
				break;
			}
			rc = receiver_make_durable(r);
			if (rc == 0)
				rc = receiver_send_pos(r, RH_MSG_DURABLE, f.u.pos.disk);
			break;
		case RH_MSG_SUMS:
			rc = receiver_sync_sums(r, &f.u.sums);
			break;
		case RH_MSG_SUMS_END:
			rc = receiver_sync_compare(r, f.u.pos.disk);
			break;
		case RH_MSG_PLAN:
			rc = receiver_plan(r, &f.u.plan);
			break;
		case RH_MSG_DISK_END:
			rc = r->sync ? receiver_sync_disk_end(r, &f.u.disk_end)
				     : receiver_disk_end(r, &f.u.disk_end);
			break;
		case RH_MSG_BYE:
			/* Only a job whose every disk proved complete is finished. */
			rc = receiver_bye(r);
			if (rc == 0) {
				rh_log_info("job %s: agent finished", r->job_id);
				goto out;
			}
			break;
		default:
			rc = rh_seterr(RH_ERR_PROTO, "unexpected %s", rh_proto_msg_name(f.type));
			break;
		}
		if (rc < 0)
			goto out_err;
	}
out_err:
	/* Keep what was written: durable and checkpointed before the error is
	 * reported, so a rerun resumes after it (a full disk included). */
	if (greeted)
		receiver_keep_written(r, rc);
	rh_frame_send_error(c, rc); /* best effort: the peer may be gone */
	rh_tls_drain(c, 3000);
out:
	receiver_syncer_stop(r);
	for (uint32_t i = 0; i < RH_PROTO_MAX_DISKS; i++)
		if (r->disks[i].fd >= 0)
			close(r->disks[i].fd);
	pthread_mutex_destroy(&r->smu);
	pthread_cond_destroy(&r->scv);
	ZSTD_freeDCtx(r->dctx);
	repl_sums_release(&r->pending);
	repl_sums_release(&r->mine);
	receiver_unreserve(r);
	rh_target_unlock(r->lock_fd);
	free(r->frame);
	free(r->raw);
	free(r);
	return rc;
}
