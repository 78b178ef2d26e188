/*
 * The listener's authenticated sessions: one thread each, so that agents
 * are served concurrently and a slow or stalled session never delays
 * another (handshakes are not here: the gate runs them in the main thread,
 * rehost/gate.h).
 *
 * Thread per session because a session is long blocking work (disk writes,
 * fdatasync, the receiver's own syncer thread) that already lives in
 * rh_receiver_serve; the receiver keeps all of its state in its own struct,
 * errors are per thread (rh_seterr) and the log writes each line in one
 * locked write(2). Two sessions aimed at the same disks cannot both write:
 * the receiver takes the target lock (an flock per open file, so it also
 * excludes a second session of this process) before touching anything,
 * and the second agent gets RH_ERR_BUSY naming the holder.
 *
 * Counts are bounded: at most max sessions serve; an agent beyond that is
 * told so with an ERROR frame (RH_ERR_BUSY) by a short-lived refusal
 * thread, of which at most REFUSERS run (beyond that, the connection is
 * just closed, because a refusal waits for the peer to read it).
 */
#define RH_LOG_COMPONENT "target"
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "rehost/err.h"
#include "rehost/log.h"
#include "rehost/repl.h"
#include "target/target.h"

/* Refusal threads at most: each lives for at most DRAIN_MS. */
#define REFUSERS 4
/* How long a refusal (or a failed session) waits for the agent to read
 * its ERROR frame before closing. */
#define DRAIN_MS 3000

struct session {
	struct target_sessions *owner;
	pthread_t tid;
	bool used;                 /* slot taken: a thread runs or awaits joining */
	bool refuse;               /* only tell the agent the target is full */
	bool finished;             /* thread done; join it */
	bool counts;               /* a job ran (for --once): not a refusal */
	int rc;                    /* the job's result */
	struct rh_tls_conn *c;     /* NULL once the thread closes it; under mu */
	struct rh_receiver_opts ro; /* this session's disks */
};

struct target_sessions {
	pthread_mutex_t mu;        /* protects the slots' finished, rc, c */
	const struct rh_receiver_opts *ro;
	const struct rh_snap_target *snapt;
	unsigned max, serving, refusing;
	int wake_fd;               /* written when a session finishes */
	struct session *s;         /* max + REFUSERS slots */
};

int target_sessions_new(const struct rh_receiver_opts *ro, const struct rh_snap_target *snapt,
			unsigned max, int wake_fd, struct target_sessions **out)
{
	struct target_sessions *t = calloc(1, sizeof *t);

	*out = NULL;
	if (t == NULL)
		return RH_ERR_NOMEM;
	t->s = calloc(max + REFUSERS, sizeof *t->s);
	if (t->s == NULL) {
		free(t);
		return RH_ERR_NOMEM;
	}
	pthread_mutex_init(&t->mu, NULL);
	t->ro = ro;
	t->snapt = snapt;
	t->max = max;
	t->wake_fd = wake_fd;
	*out = t;
	return 0;
}

unsigned target_sessions_serving(const struct target_sessions *t)
{
	return t->serving;
}

/* Send the thread's last error as an ERROR frame and let the agent read
 * it before the connection closes. */
static void tell_agent(struct rh_tls_conn *c, int rc)
{
	rh_frame_send_error(c, rc);
	rh_tls_drain(c, DRAIN_MS);
}

static int serve(struct session *s, const char *peer)
{
	int rc;

	rh_log_info("agent %s connected", peer);
	/* Disks configured at cutover no longer match the source: the next
	 * job starts from the sync snapshot (the seed's purpose for it). */
	rc = target_unconfigure(s->owner->snapt);
	if (rc < 0) {
		rh_log_error("refusing the job of %s: %s", peer, rh_lasterr());
		tell_agent(s->c, rc);
		return rc;
	}
	s->counts = true;
	rc = rh_receiver_serve(s->c, &s->ro);
	if (rc == 0) {
		/* The wording operators and docs know, then whose job it was
		 * (several agents' sessions now share one log). */
		rh_log_info("job finished; all disks on stable storage (agent %s)", peer);
	} else {
		const char *sms = rh_lasterr_sms();

		rh_log_error("job stopped: %s%s%s%s (agent %s)", rh_lasterr(), sms ? " [" : "",
			     sms ? sms : "", sms ? "]" : "", peer);
	}
	return rc;
}

static void *session_main(void *arg)
{
	struct session *s = arg;
	struct target_sessions *t = s->owner;
	struct rh_tls_conn *c;
	char peer[256];
	int rc;

	snprintf(peer, sizeof peer, "%s", rh_tls_peer_name(s->c));
	if (s->refuse) {
		rc = rh_seterr(RH_ERR_BUSY,
			       "the target already serves %u session%s, its maximum (rehost target --max-sessions N, one with --once); run the same command again when one has finished",
			       t->max, t->max == 1 ? "" : "s");
		rh_log_warn("refusing agent %s: %s", peer, rh_lasterr());
		tell_agent(s->c, rc);
	} else {
		rc = serve(s, peer);
	}
	pthread_mutex_lock(&t->mu);
	c = s->c;
	s->c = NULL; /* from here target_sessions_abort leaves the socket alone */
	pthread_mutex_unlock(&t->mu);
	rh_tls_close(c);
	pthread_mutex_lock(&t->mu);
	s->rc = rc;
	s->finished = true;
	pthread_mutex_unlock(&t->mu);
	/* A full pipe already means "wake up": never block on it. */
	(void)!write(t->wake_fd, "s", 1);
	return NULL;
}

int target_sessions_start(struct target_sessions *t, struct rh_tls_conn *c)
{
	struct session *s = NULL;
	bool refuse = t->serving >= t->max;
	sigset_t block, old;
	int e;

	if (refuse && t->refusing >= REFUSERS) {
		rh_log_warn("refusing agent %s: the target serves its maximum of %u sessions",
			    rh_tls_peer_name(c), t->max);
		rh_tls_close(c);
		return 0;
	}
	for (unsigned i = 0; i < t->max + REFUSERS && s == NULL; i++)
		if (!t->s[i].used)
			s = &t->s[i];
	if (s == NULL) { /* cannot happen: serving + refusing bound the slots */
		rh_tls_close(c);
		return rh_seterr(RH_ERR_INTERNAL, "no free session slot");
	}
	*s = (struct session){ .owner = t, .used = true, .refuse = refuse, .c = c, .ro = *t->ro };
	/* A per-source disk directory would be chosen here, from the agent's
	 * identity (rh_tls_peer_name); today every session gets --disk-dir. */
	/* Signals go to the main thread, which stops the sessions. */
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &block, &old);
	e = pthread_create(&s->tid, NULL, session_main, s);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (e != 0) {
		s->used = false;
		rh_tls_close(c);
		return rh_seterr(RH_ERR_NOMEM, "cannot start a session thread: %s", strerror(e));
	}
	if (refuse)
		t->refusing++;
	else
		t->serving++;
	return 0;
}

int target_sessions_reap(struct target_sessions *t, int *job_rc)
{
	int jobs = 0;

	for (unsigned i = 0; i < t->max + REFUSERS; i++) {
		struct session *s = &t->s[i];
		bool done;

		if (!s->used)
			continue;
		pthread_mutex_lock(&t->mu);
		done = s->finished;
		pthread_mutex_unlock(&t->mu);
		if (!done)
			continue;
		pthread_join(s->tid, NULL);
		s->used = false;
		if (s->refuse) {
			t->refusing--;
			continue;
		}
		t->serving--;
		if (s->counts) {
			jobs++;
			*job_rc = s->rc;
		}
	}
	return jobs;
}

void target_sessions_abort(struct target_sessions *t)
{
	pthread_mutex_lock(&t->mu);
	for (unsigned i = 0; i < t->max + REFUSERS; i++)
		/* Shut the socket down, not close it: the session's blocked read
		 * or write fails at once, the receiver makes what it wrote
		 * durable and returns, and its thread still owns the descriptor. */
		if (t->s[i].used && t->s[i].c != NULL)
			shutdown(rh_tls_fd(t->s[i].c), SHUT_RDWR);
	pthread_mutex_unlock(&t->mu);
}

void target_sessions_free(struct target_sessions *t)
{
	if (t == NULL)
		return;
	target_sessions_abort(t);
	for (unsigned i = 0; i < t->max + REFUSERS; i++)
		if (t->s[i].used)
			pthread_join(t->s[i].tid, NULL);
	pthread_mutex_destroy(&t->mu);
	free(t->s);
	free(t);
}
