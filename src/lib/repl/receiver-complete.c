/*
 * When the target calls a disk or a job complete. The agent's word is not
 * enough: before its first DATA for a disk the agent declares in a PLAN
 * frame what it will send (bytes and range sum, rehost/proto.h), the target
 * counts what it receives (in its checkpoint, across resumed sessions), and
 * DISK_END, which says what the agent sent, is answered DISK_DONE only when
 * the plan, the target's count and the agent's claim agree. A BYE before
 * every disk is complete is an error, not the end of a job.
 */
#define RH_LOG_COMPONENT "target"
#include <inttypes.h>
#include <stdio.h>

#include "receiver-internal.h"
#include "rehost/err.h"
#include "rehost/log.h"

void receiver_pos_add(struct rpos *p, uint64_t off, uint64_t len)
{
	p->off = off + len;
	p->bytes += len;
	p->sum = rh_proto_sum_add(p->sum, rh_proto_range_sum(off, len));
}

/* The catalogue code of a failed copy or sync of a disk. */
static const char *fail_code(const struct receiver *r)
{
	return r->sync ? "SMS.0806" : "SMS.0805";
}

int receiver_plan(struct receiver *r, const struct rh_plan *p)
{
	struct tdisk *d;
	uint64_t below_bytes, below_sum;

	if (r->sync || p->disk >= r->ndisks)
		return rh_seterr(RH_ERR_PROTO, "PLAN for disk %u outside a copy session", p->disk);
	d = &r->disks[p->disk];
	if (d->state == RH_DISK_COMPLETE || d->planned)
		return rh_seterr(RH_ERR_PROTO, "PLAN for disk %u, which is %s", p->disk,
				 d->planned ? "already planned" : "complete");
	if (p->from != d->durable.off || d->written.off != d->durable.off)
		return rh_seterr(RH_ERR_PROTO, "PLAN for disk %u from %" PRIu64 ", but it resumes at %" PRIu64,
				 p->disk, p->from, d->durable.off);
	d->planned = true;
	d->exp_bytes = d->durable.bytes + p->bytes;
	d->exp_sum = rh_proto_sum_add(d->durable.sum, p->sum);
	/* Below the resume point the target holds what earlier sessions
	 * received; if the source's used blocks there changed since (a
	 * mounted source), the new ones are not copied by this run. That is
	 * no reason to copy the disk again, but it must be said. */
	below_bytes = p->total_bytes - p->bytes;
	below_sum = rh_proto_sum_sub(p->total_sum, p->sum);
	if (p->from > 0 && (below_bytes != d->durable.bytes || below_sum != d->durable.sum))
		rh_log_warn("disk %u: the source's used blocks below %" PRIu64 " changed since the copy started (%" PRIu64
			    " bytes planned there now, %" PRIu64 " received); run rehost sync after the migration",
			    p->disk, p->from, below_bytes, d->durable.bytes);
	rh_log_info("disk %u: plan %" PRIu64 " bytes from %" PRIu64 " (%" PRIu64 " of the disk's plan)",
		    p->disk, p->bytes, p->from, p->total_bytes);
	return 0;
}

int receiver_check_received(struct receiver *r, const struct rh_disk_end *e, const char *what)
{
	const struct tdisk *d = &r->disks[e->disk];

	if (!d->planned)
		return rh_seterr_sms(RH_ERR_STATE, fail_code(r),
				     "disk %u: the agent ended the %s without saying what it would send (no %s); the disk is not complete",
				     e->disk, what, r->sync ? "SUMS" : "PLAN");
	if (d->written.bytes != d->exp_bytes || d->written.sum != d->exp_sum)
		return rh_seterr_sms(RH_ERR_CORRUPT, fail_code(r),
				     "disk %u: %" PRIu64 " bytes were planned but the target received %" PRIu64
				     "%s; the disk is not complete",
				     e->disk, d->exp_bytes, d->written.bytes,
				     d->written.bytes == d->exp_bytes ? " at other offsets" : "");
	if (e->bytes != d->written.bytes || e->sum != d->written.sum)
		return rh_seterr_sms(RH_ERR_CORRUPT, fail_code(r),
				     "disk %u: the agent says it sent %" PRIu64 " bytes but the target received %" PRIu64
				     "%s; the disk is not complete",
				     e->disk, e->bytes, d->written.bytes,
				     e->bytes == d->written.bytes ? " at other offsets" : "");
	return 0;
}

/* A copy that failed its check proves nothing about what is below the
 * resume point either: forget it, so the next run copies the disk again. */
static void forget_disk(struct receiver *r, uint32_t disk)
{
	struct tdisk *d = &r->disks[disk];

	pthread_mutex_lock(&r->smu);
	d->durable = (struct rpos){ 0 };
	d->written = (struct rpos){ 0 };
	d->state = RH_DISK_NEW;
	pthread_mutex_unlock(&r->smu);
	rh_log_warn("disk %u: its checkpoint is reset; the next run copies it from the start", disk);
}

int receiver_disk_end(struct receiver *r, const struct rh_disk_end *e)
{
	struct tdisk *d;
	int rc;

	if (e->disk >= r->ndisks)
		return rh_seterr(RH_ERR_PROTO, "DISK_END for disk %u of %u", e->disk, r->ndisks);
	d = &r->disks[e->disk];
	if (d->state == RH_DISK_COMPLETE)
		return rh_seterr(RH_ERR_PROTO, "DISK_END for completed disk %u", e->disk);
	/* Everything received goes to stable storage first: the comparison
	 * is about what the target holds, not what is in its page cache. */
	rc = receiver_make_durable(r);
	if (rc < 0)
		return rc;
	rc = receiver_check_received(r, e, "copy");
	if (rc < 0) {
		struct rh_err_saved saved;

		rh_err_save(&saved);
		if (d->planned)
			forget_disk(r, e->disk);
		if (receiver_state_save(r) < 0)
			rh_log_warn("cannot reset the checkpoint: %s", rh_lasterr());
		rh_err_restore(&saved);
		return rh_seterr_sms(rc, fail_code(r), "%s", rh_lasterr());
	}
	/* Complete only once the data is on stable storage. */
	d->written.off = d->size;
	d->durable.off = d->size;
	d->state = RH_DISK_COMPLETE;
	d->finished = true;
	rc = receiver_state_save(r);
	if (rc < 0)
		return rc;
	rh_log_info("disk %u complete: %s, %" PRIu64 " bytes received", e->disk, d->path,
		    d->written.bytes);
	return receiver_send_pos(r, RH_MSG_DISK_DONE, e->disk);
}

int receiver_bye(struct receiver *r)
{
	for (uint32_t i = 0; i < r->ndisks; i++) {
		const struct tdisk *d = &r->disks[i];

		if (r->sync ? d->finished : d->state == RH_DISK_COMPLETE)
			continue;
		if (r->verify)
			return rh_seterr(RH_ERR_STATE,
					 "the agent ended the verify session before disk %u was compared",
					 i);
		if (r->sync && !d->planned)
			return rh_seterr_sms(RH_ERR_STATE, fail_code(r),
					     "the agent ended the sync (BYE) before disk %u was synced (not compared); the sync is not finished",
					     i);
		if (r->sync)
			return rh_seterr_sms(RH_ERR_STATE, fail_code(r),
					     "the agent ended the sync (BYE) before disk %u was synced (%" PRIu64
					     " of %" PRIu64 " bytes received); the sync is not finished",
					     i, d->written.bytes, d->exp_bytes);
		return rh_seterr_sms(RH_ERR_STATE, fail_code(r),
				     "the agent ended the job (BYE) before disk %u was complete (%" PRIu64
				     " bytes received%s); the job is not finished",
				     i, d->written.bytes, d->planned ? "" : ", nothing planned");
	}
	return receiver_make_durable(r);
}
