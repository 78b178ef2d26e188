/*
 * Background durability for the target. fdatasync of tens of MiB takes
 * long enough that doing it inline stalls the connection; the syncer thread
 * does it (and the checkpoint that follows) while the main thread keeps
 * receiving. A round covers what was written when it was requested, so the
 * checkpoint never claims more than is on stable storage. The main thread
 * waits only when a round is still running and another interval's worth of
 * data has arrived, which bounds what a crash can make us re-send to about
 * two checkpoint intervals.
 */
#define RH_LOG_COMPONENT "target"
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "receiver-internal.h"
#include "rehost/err.h"
#include "rehost/log.h"


static void *syncer_main(void *arg)
{
	struct receiver *r = arg;
	struct rpos upto[RH_PROTO_MAX_DISKS], durables[RH_PROTO_MAX_DISKS];
	uint32_t states[RH_PROTO_MAX_DISKS];
	bool failed[RH_PROTO_MAX_DISKS];

	pthread_mutex_lock(&r->smu);
	for (;;) {
		json_t *j;
		int rc = 0;

		while (!r->req && !r->stop)
			pthread_cond_wait(&r->scv, &r->smu);
		if (!r->req)
			break;
		memcpy(upto, r->req_written, sizeof upto);
		memcpy(states, r->req_state, sizeof states);
		r->req = false;
		r->busy = true;
		pthread_mutex_unlock(&r->smu);

		memset(failed, 0, sizeof failed);
		for (uint32_t i = 0; i < r->ndisks && rc == 0; i++) {
			if (r->disks[i].fd >= 0 && fdatasync(r->disks[i].fd) < 0) {
				failed[i] = true;
				rc = errno == ENOSPC || errno == EDQUOT
					     ? rh_seterr_sms(RH_ERR_NOSPACE, "SMS.0805",
							     "target %s is full syncing it; free space on the target and run the same command again",
							     r->disks[i].path)
					     : rh_seterr_errno(errno, "cannot sync %s", r->disks[i].path);
			}
		}

		pthread_mutex_lock(&r->smu);
		for (uint32_t i = 0; i < r->ndisks; i++) {
			/* A failed fdatasync may have dropped pages (see
			 * receiver_make_durable): that disk's durable stays. */
			if (rc < 0 && failed[i])
				r->disks[i].sync_failed = true;
			if (rc == 0 && upto[i].off > r->disks[i].durable.off &&
			    !r->disks[i].sync_failed)
				r->disks[i].durable = upto[i];
			durables[i] = r->disks[i].durable;
		}
		pthread_mutex_unlock(&r->smu);
		if (rc == 0) {
			j = receiver_state_json(r, states, durables);
			rc = j ? repl_state_save(r->state_dir, STATE_FILE, j) : RH_ERR_NOMEM;
			json_decref(j);
		}
		pthread_mutex_lock(&r->smu);
		r->busy = false;
		if (rc < 0 && r->syncer_err == 0) {
			r->syncer_err = rc;
			rh_err_save(&r->syncer_saved);
		} else if (rc == 0) {
			r->done = true;
		}
		pthread_cond_broadcast(&r->scv);
	}
	pthread_mutex_unlock(&r->smu);
	return NULL;
}

int receiver_syncer_start(struct receiver *r)
{
	if (r->syncer_running)
		return 0;
	if (pthread_create(&r->syncer, NULL, syncer_main, r) != 0)
		return rh_seterr(RH_ERR_NOMEM, "cannot start the sync thread");
	r->syncer_running = true;
	return 0;
}

void receiver_syncer_stop(struct receiver *r)
{
	if (!r->syncer_running)
		return;
	pthread_mutex_lock(&r->smu);
	r->stop = true;
	pthread_cond_broadcast(&r->scv);
	pthread_mutex_unlock(&r->smu);
	pthread_join(r->syncer, NULL);
	r->syncer_running = false;
}

static int take_error(struct receiver *r)
{
	int rc = r->syncer_err;

	if (rc < 0) {
		r->syncer_err = 0;
		rh_err_restore(&r->syncer_saved);
	}
	return rc;
}

int receiver_syncer_kick(struct receiver *r, bool backlogged)
{
	int rc;

	if (!r->syncer_running)
		return receiver_make_durable(r);
	pthread_mutex_lock(&r->smu);
	while (backlogged && (r->busy || r->req) && r->syncer_err == 0)
		pthread_cond_wait(&r->scv, &r->smu);
	for (uint32_t i = 0; i < r->ndisks; i++) {
		r->req_written[i] = r->disks[i].written;
		r->req_state[i] = r->disks[i].state;
	}
	r->req = true;
	pthread_cond_broadcast(&r->scv);
	rc = take_error(r);
	pthread_mutex_unlock(&r->smu);
	return rc;
}

int receiver_syncer_wait(struct receiver *r)
{
	int rc;

	if (!r->syncer_running)
		return 0;
	pthread_mutex_lock(&r->smu);
	while ((r->busy || r->req) && r->syncer_err == 0)
		pthread_cond_wait(&r->scv, &r->smu);
	rc = take_error(r);
	pthread_mutex_unlock(&r->smu);
	return rc;
}

int receiver_syncer_poll(struct receiver *r)
{
	int rc;

	if (!r->syncer_running)
		return 0;
	pthread_mutex_lock(&r->smu);
	rc = take_error(r);
	if (rc == 0 && r->done) {
		r->done = false;
		rc = 1;
	}
	pthread_mutex_unlock(&r->smu);
	return rc;
}
