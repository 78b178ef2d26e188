/* The agent's way in: TCP connect plus TLS handshake, retried when the
 * target drops the handshake (closes or resets the connection). A target under a connection flood evicts
 * pending handshakes to stay responsive (docs/replication.md, "Connection
 * handling"); a legitimate agent caught in that is not at fault, so it
 * tries again after a pause instead of failing the migration. */
#define RH_LOG_COMPONENT "agent"
#include <time.h>
#include <unistd.h>

#include "rehost/err.h"
#include "rehost/log.h"
#include "rehost/net.h"
#include "rehost/tls.h"

/* First pause between attempts; it doubles each time, up to PAUSE_MAX_MS. */
#define PAUSE_FIRST_MS 250
#define PAUSE_MAX_MS 4000

static void pause_ms(unsigned ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) != 0)
		;
}

int rh_tls_dial(struct rh_tls_ctx *ctx, const char *addr, int default_port, int connect_ms,
		int attempts, struct rh_tls_conn **out)
{
	unsigned pause = PAUSE_FIRST_MS;
	struct timespec now;
	int fd, rc = RH_ERR_INTERNAL;

	*out = NULL;
	for (int i = 1; i <= attempts; i++) {
		fd = rh_net_connect(addr, default_port, connect_ms);
		if (fd < 0)
			return fd;
		rc = rh_tls_handshake(ctx, fd, out);
		if (rc == 0)
			return 0;
		close(fd);
		/* A dropped handshake reads as a reset or an early close
		 * (RH_ERR_PROTO). Not retried: an untrusted peer (RH_ERR_AUTH),
		 * and a timeout, which means a target that does not answer at
		 * all, where retrying would only multiply the 60 s wait. */
		if (rc != RH_ERR_PROTO || i == attempts)
			break;
		/* Jitter from the clock's low bits (rand() is not thread-safe),
		 * so agents dropped together do not return together. */
		clock_gettime(CLOCK_MONOTONIC, &now);
		pause += (unsigned)(now.tv_nsec % (long)(pause / 2 + 1));
		rh_log_warn("TLS handshake with %s failed (%s); trying again in %.1f s (attempt %d of %d)",
			    addr, rh_lasterr(), pause / 1000.0, i + 1, attempts);
		pause_ms(pause);
		pause = pause * 2 > PAUSE_MAX_MS ? PAUSE_MAX_MS : pause * 2;
	}
	return rc;
}
