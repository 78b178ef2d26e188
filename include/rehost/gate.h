/*
 * The target's handshake gate: accepts TCP connections and runs their TLS
 * handshakes, all of them at once, in the caller's thread, without blocking
 * on any one peer, and hands out only authenticated connections.
 *
 * Why one poll loop and not a thread per connection: an unauthenticated
 * peer costs a socket and an SSL object here, never a thread (stack, and a
 * thread is what a flood would exhaust first), and the loop can enforce a
 * deadline on the whole handshake and evict handshakes when the table is
 * full, which a thread blocked in SSL_accept cannot do.
 *
 * Limits, against a peer that trickles a ClientHello or sends nothing:
 *  - each handshake must finish within timeout_ms of its accept, in total
 *    (not per read);
 *  - at most max_pending handshakes are in progress; a new connection
 *    beyond that evicts the OLDEST pending one. A real agent finishes its
 *    handshake in a few round trips, so the oldest is the likeliest
 *    staller, and a fresh agent survives the next max_pending arrivals
 *    whatever the attacker does (random early drop would evict it with a
 *    probability at every arrival). There is deliberately no per-address
 *    limit: agents and attackers may share a NAT address.
 * Drops are logged rate-limited: a few lines with details per interval,
 * then one summary line with counts.
 */
#ifndef REHOST_GATE_H
#define REHOST_GATE_H

#include "rehost/tls.h"

#define RH_GATE_DEFAULT_PENDING 64
#define RH_GATE_DEFAULT_TIMEOUT_MS 10000

struct rh_gate;

struct rh_gate_opts {
	unsigned max_pending; /* handshakes in progress at most; 0 = default */
	unsigned timeout_ms;  /* deadline of a whole handshake; 0 = default */
};

/* A gate on the listening socket lfd (made non-blocking here) for TLS
 * context ctx (RH_TLS_TARGET). Both are borrowed and must outlive the gate.
 * Caller frees with rh_gate_free. Returns 0 or RH_ERR_NOMEM / RH_ERR_INVAL. */
int rh_gate_new(struct rh_tls_ctx *ctx, int lfd, const struct rh_gate_opts *o,
		struct rh_gate **out);

/* Drop every pending handshake and free. NULL ok. lfd stays open. */
void rh_gate_free(struct rh_gate *g);

/* Accept and advance handshakes until one is complete, wake_fd (-1 for
 * none) is readable, a signal interrupts, or timeout_ms passes (-1:
 * no limit). Returns 1 with a verified connection in *out (blocking socket;
 * caller frees with rh_tls_close), 0 for the other cases, or a negative
 * RH_ERR_* when polling itself fails. */
int rh_gate_wait(struct rh_gate *g, int wake_fd, int timeout_ms, struct rh_tls_conn **out);

/* Handshakes in progress now. */
unsigned rh_gate_pending(const struct rh_gate *g);

#endif
