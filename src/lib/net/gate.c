/* The target's handshake gate (rehost/gate.h): one poll loop accepts
 * connections and steps their non-blocking TLS handshakes, with a total
 * deadline per handshake and a bounded table that evicts the oldest. */
#define RH_LOG_COMPONENT "target"
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "rehost/err.h"
#include "rehost/gate.h"
#include "rehost/log.h"

/* Detailed "refused connection" lines per interval; the rest are counted
 * and summed up in one line, so a flood cannot flood the log. */
#define LOG_INTERVAL_MS 10000
#define LOG_DETAILED 5
/* Accepts per poll round, so a burst of connections cannot starve the
 * handshakes already in progress. */
#define ACCEPT_BURST 64
/* Out of descriptors with nothing to evict: stop accepting this long
 * (the listening socket would otherwise wake poll at once, forever). */
#define ACCEPT_PAUSE_MS 100
/* Upper bound on max_pending: the pollfd array is sized by it. */
#define MAX_PENDING_LIMIT 65536

enum drop_reason { DROP_DEADLINE, DROP_EVICTED, DROP_FAILED, DROP_NREASONS };

struct pending {
	struct rh_tls_conn *c;
	uint64_t deadline;      /* CLOCK_MONOTONIC ms: dropped when reached */
	short events;           /* POLLIN or POLLOUT: what the handshake waits for */
	char addr[NI_MAXHOST + 8]; /* peer "host:port", for the log */
};

struct rh_gate {
	struct rh_tls_ctx *ctx;    /* borrowed */
	int lfd;                   /* borrowed listening socket */
	unsigned max, timeout_ms;
	struct pending *p;         /* max entries, oldest first */
	unsigned n;
	struct pollfd *pfd;        /* max + 2: listener, wake fd, pending */
	struct rh_tls_conn **ready; /* handshakes done, not yet handed out; max */
	unsigned nready;
	uint64_t accept_paused_until; /* ms; 0 when accepting */
	uint64_t log_start;        /* ms: start of the current log interval */
	unsigned logged;           /* detailed lines in this interval */
	unsigned suppressed[DROP_NREASONS]; /* drops counted, not logged, this interval */
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int rh_gate_new(struct rh_tls_ctx *ctx, int lfd, const struct rh_gate_opts *o,
		struct rh_gate **out)
{
	struct rh_gate *g;
	int fl;

	*out = NULL;
	g = calloc(1, sizeof *g);
	if (g == NULL)
		return RH_ERR_NOMEM;
	g->ctx = ctx;
	g->lfd = lfd;
	g->max = o && o->max_pending ? o->max_pending : RH_GATE_DEFAULT_PENDING;
	g->timeout_ms = o && o->timeout_ms ? o->timeout_ms : RH_GATE_DEFAULT_TIMEOUT_MS;
	if (g->max > MAX_PENDING_LIMIT) {
		free(g);
		return rh_seterr(RH_ERR_RANGE, "at most %d pending handshakes", MAX_PENDING_LIMIT);
	}
	g->p = calloc(g->max, sizeof *g->p);
	g->pfd = calloc(g->max + 2, sizeof *g->pfd);
	g->ready = calloc(g->max, sizeof *g->ready);
	if (g->p == NULL || g->pfd == NULL || g->ready == NULL) {
		rh_gate_free(g);
		return RH_ERR_NOMEM;
	}
	/* Accepting must never block the loop (a peer may reset between
	 * poll and accept). */
	fl = fcntl(lfd, F_GETFL);
	if (fl < 0 || fcntl(lfd, F_SETFL, fl | O_NONBLOCK) < 0) {
		int rc = rh_seterr_errno(errno, "cannot make the listening socket non-blocking");

		rh_gate_free(g);
		return rc;
	}
	g->log_start = now_ms();
	*out = g;
	return 0;
}

void rh_gate_free(struct rh_gate *g)
{
	if (g == NULL)
		return;
	for (unsigned i = 0; i < g->n; i++)
		rh_tls_close(g->p[i].c);
	for (unsigned i = 0; i < g->nready; i++)
		rh_tls_close(g->ready[i]);
	free(g->p);
	free(g->pfd);
	free(g->ready);
	free(g);
}

unsigned rh_gate_pending(const struct rh_gate *g)
{
	return g->n;
}

/* Log a refused connection in detail, or count it once this interval's
 * detailed lines are used up. */
static void note_drop(struct rh_gate *g, enum drop_reason why, const char *addr,
		      const char *detail)
{
	if (g->logged < LOG_DETAILED) {
		g->logged++;
		rh_log_warn("refused connection from %s: %s", addr, detail);
		return;
	}
	g->suppressed[why]++;
}

/* At the end of an interval: one line for what note_drop only counted. */
static void flush_log(struct rh_gate *g, uint64_t now)
{
	unsigned total = 0;

	if (now - g->log_start < LOG_INTERVAL_MS)
		return;
	for (int i = 0; i < DROP_NREASONS; i++)
		total += g->suppressed[i];
	if (total > 0)
		rh_log_warn("refused %u more unauthenticated connections in the last %llu s: %u past "
			    "the %g s handshake deadline, %u evicted from a full table of %u, %u "
			    "failed handshakes", total,
			    (unsigned long long)((now - g->log_start + 500) / 1000),
			    g->suppressed[DROP_DEADLINE], g->timeout_ms / 1000.0,
			    g->suppressed[DROP_EVICTED], g->max, g->suppressed[DROP_FAILED]);
	memset(g->suppressed, 0, sizeof g->suppressed);
	g->logged = 0;
	g->log_start = now;
}

/* Remove pending entry i, keeping the table in arrival order. */
static struct rh_tls_conn *take(struct rh_gate *g, unsigned i)
{
	struct rh_tls_conn *c = g->p[i].c;

	memmove(&g->p[i], &g->p[i + 1], (g->n - i - 1) * sizeof *g->p);
	g->n--;
	return c;
}

static void drop(struct rh_gate *g, unsigned i, enum drop_reason why, const char *detail)
{
	note_drop(g, why, g->p[i].addr, detail);
	rh_tls_close(take(g, i));
}

/* Step pending handshake i: done ones move to the ready list. */
static void step(struct rh_gate *g, unsigned i)
{
	int rc = rh_tls_accept_step(g->p[i].c);

	if (rc == RH_TLS_WANT_READ || rc == RH_TLS_WANT_WRITE) {
		g->p[i].events = rc == RH_TLS_WANT_READ ? POLLIN : POLLOUT;
		return;
	}
	if (rc < 0) {
		drop(g, i, DROP_FAILED, rh_lasterr());
		return;
	}
	g->ready[g->nready++] = take(g, i);
}

static void format_addr(const struct sockaddr_storage *ss, socklen_t len, char *out, size_t cap)
{
	char host[NI_MAXHOST], serv[NI_MAXSERV];

	if (getnameinfo((const struct sockaddr *)ss, len, host, sizeof host, serv, sizeof serv,
			NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
		snprintf(out, cap, "an unknown address");
		return;
	}
	snprintf(out, cap, ss->ss_family == AF_INET6 ? "[%s]:%s" : "%s:%s", host, serv);
}

/* Take a new connection into the table, evicting the oldest if it is full. */
static void admit(struct rh_gate *g, int fd, const struct sockaddr_storage *ss, socklen_t len,
		  uint64_t now)
{
	struct pending *p;
	char detail[96];
	int rc;

	if (g->n == g->max) {
		snprintf(detail, sizeof detail, "evicted, oldest of %u pending handshakes", g->max);
		drop(g, 0, DROP_EVICTED, detail);
	}
	p = &g->p[g->n];
	memset(p, 0, sizeof *p);
	format_addr(ss, len, p->addr, sizeof p->addr);
	rc = rh_tls_accept_begin(g->ctx, fd, &p->c);
	if (rc < 0) {
		note_drop(g, DROP_FAILED, p->addr, rh_lasterr());
		close(fd);
		return;
	}
	p->deadline = now + g->timeout_ms;
	p->events = POLLIN;
	g->n++;
	/* The ClientHello may already be here. */
	step(g, g->n - 1);
}

static void accept_some(struct rh_gate *g, uint64_t now)
{
	for (int k = 0; k < ACCEPT_BURST; k++) {
		struct sockaddr_storage ss;
		socklen_t len = sizeof ss;
		int fd = accept4(g->lfd, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd >= 0) {
			admit(g, fd, &ss, len, now);
			continue;
		}
		switch (errno) {
		case EINTR:
		case ECONNABORTED:
		case EPROTO:
			continue;
		case EMFILE:
		case ENFILE:
		case ENOBUFS:
		case ENOMEM:
			/* Free a descriptor by dropping the likeliest staller;
			 * with none pending, sessions hold them all: wait. */
			if (g->n > 0) {
				drop(g, 0, DROP_EVICTED, "evicted: out of file descriptors");
				continue;
			}
			if (g->logged < LOG_DETAILED) {
				g->logged++;
				rh_log_error("accept: %s; not accepting for %d ms", strerror(errno),
					     ACCEPT_PAUSE_MS);
			}
			g->accept_paused_until = now + ACCEPT_PAUSE_MS;
			return;
		default: /* EAGAIN: accepted everything waiting */
			return;
		}
	}
}

int rh_gate_wait(struct rh_gate *g, int wake_fd, int timeout_ms, struct rh_tls_conn **out)
{
	uint64_t now = now_ms();
	uint64_t end = timeout_ms < 0 ? UINT64_MAX : now + (uint64_t)timeout_ms;
	bool woken = false;

	*out = NULL;
	for (;;) {
		uint64_t wake_at = end;
		int r, fl;

		flush_log(g, now);
		if (g->nready > 0) {
			*out = g->ready[0];
			memmove(&g->ready[0], &g->ready[1], (g->nready - 1) * sizeof *g->ready);
			g->nready--;
			/* The session runs blocking I/O with SO_RCVTIMEO. */
			fl = fcntl(rh_tls_fd(*out), F_GETFL);
			if (fl >= 0)
				fcntl(rh_tls_fd(*out), F_SETFL, fl & ~O_NONBLOCK);
			return 1;
		}
		if (woken || now >= end)
			return 0;
		if (g->accept_paused_until != 0 && now >= g->accept_paused_until)
			g->accept_paused_until = 0;
		if (g->accept_paused_until != 0 && g->accept_paused_until < wake_at)
			wake_at = g->accept_paused_until;
		/* The table is in arrival order with one timeout, so the first
		 * entry has the earliest deadline. */
		if (g->n > 0 && g->p[0].deadline < wake_at)
			wake_at = g->p[0].deadline;
		/* Also wake for the end of the log interval, so that the summary
		 * of a flood appears when it ends, not with the next connection. */
		if (g->log_start + LOG_INTERVAL_MS < wake_at)
			wake_at = g->log_start + LOG_INTERVAL_MS;

		g->pfd[0] = (struct pollfd){ .fd = g->accept_paused_until ? -1 : g->lfd, .events = POLLIN };
		g->pfd[1] = (struct pollfd){ .fd = wake_fd, .events = POLLIN };
		for (unsigned i = 0; i < g->n; i++)
			g->pfd[i + 2] = (struct pollfd){ .fd = rh_tls_fd(g->p[i].c),
							 .events = g->p[i].events };
		r = poll(g->pfd, g->n + 2,
			 wake_at == UINT64_MAX ? -1 : wake_at <= now ? 0 : (int)(wake_at - now));
		if (r < 0) {
			if (errno == EINTR)
				return 0;
			return rh_seterr_errno(errno, "poll");
		}
		now = now_ms();
		woken = wake_fd >= 0 && (g->pfd[1].revents & (POLLIN | POLLHUP | POLLERR));
		/* Backwards: taking entry i moves only those after it, which are
		 * already done. */
		for (unsigned i = g->n; i-- > 0;)
			if (g->pfd[i + 2].revents != 0)
				step(g, i);
		for (unsigned i = g->n; i-- > 0;) {
			if (g->p[i].deadline <= now) {
				char detail[96];

				snprintf(detail, sizeof detail, "no TLS handshake within %g s",
					 g->timeout_ms / 1000.0);
				drop(g, i, DROP_DEADLINE, detail);
			}
		}
		if (g->pfd[0].revents & POLLIN)
			accept_some(g, now);
	}
}
