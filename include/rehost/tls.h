/*
 * TLS 1.3 channel with mutual authentication (OpenSSL 3).
 *
 * Trust model: `rehost keygen DIR` creates a private CA and two leaf
 * certificates signed by it: target.pem (extended key usage serverAuth) for
 * `rehost target`, agent.pem (clientAuth) for the agent side. Each side
 * loads its own certificate and key plus ca.pem, requires the peer to
 * present a certificate chaining to that CA with the other role's key
 * usage, and refuses anything else (no certificate, another CA, wrong role,
 * TLS < 1.3). Host names are not checked: targets are often addressed by
 * IP, and possession of a CA-signed key is what authenticates them.
 */
#ifndef REHOST_TLS_H
#define REHOST_TLS_H

#include <stdbool.h>
#include <stddef.h>

enum rh_tls_role {
	RH_TLS_TARGET, /* accepts connections; presents target.pem */
	RH_TLS_AGENT,  /* connects; presents agent.pem */
};

struct rh_tls_ctx;
struct rh_tls_conn;

/* Create the key directory: ca.pem, ca.key, target.pem, target.key,
 * agent.pem, agent.key (EC P-256, 10 years). Keys are written 0600. The
 * directory is created 0700 if missing; existing files are never
 * overwritten (RH_ERR_EXISTS). */
int rh_tls_keygen(const char *dir);

/* Load the role's certificate and key and the CA from dir. Key files that
 * group or others can read are refused (RH_ERR_PERM), like ssh does.
 * Caller frees with rh_tls_ctx_free. */
int rh_tls_ctx_new(enum rh_tls_role role, const char *dir, struct rh_tls_ctx **out);
void rh_tls_ctx_free(struct rh_tls_ctx *ctx);

/* Run the handshake on a connected socket fd as the ctx's role, verifying
 * the peer. On success the connection owns fd. On failure fd is left open
 * for the caller and the error is RH_ERR_AUTH (peer not trusted) or
 * RH_ERR_PROTO / RH_ERR_IO / RH_ERR_TIMEOUT, with a detail. */
int rh_tls_handshake(struct rh_tls_ctx *ctx, int fd, struct rh_tls_conn **out);

/* Non-blocking server handshake, driven by the caller's poll loop (the
 * target's handshake gate, rehost/gate.h), so a slow or silent peer holds
 * only its own slot. rh_tls_accept_begin takes a non-blocking connected
 * socket and, on success, owns it (rh_tls_close closes it); on failure fd
 * is left to the caller. */
int rh_tls_accept_begin(struct rh_tls_ctx *ctx, int fd, struct rh_tls_conn **out);

/* What rh_tls_accept_step wants before it can go on. */
enum {
	RH_TLS_WANT_READ = 1,  /* poll for POLLIN, then step again */
	RH_TLS_WANT_WRITE = 2, /* poll for POLLOUT, then step again */
};

/* Advance the handshake as far as the socket allows. Returns 0 when it is
 * complete and the peer verified, RH_TLS_WANT_READ/WRITE, or an error as
 * for rh_tls_handshake (RH_ERR_AUTH for an untrusted peer). */
int rh_tls_accept_step(struct rh_tls_conn *c);

/* The connection's socket. Borrowed: valid until rh_tls_close. */
int rh_tls_fd(const struct rh_tls_conn *c);

/* Connect to addr and run the agent's handshake. A handshake the target
 * dropped (closed or reset: its table was full, or the deadline passed
 * under a flood of other connections; RH_ERR_PROTO) is retried with
 * growing pauses, up to attempts times in all; a refused TCP connection, a
 * rejected certificate or a handshake timeout fails at once. connect_ms bounds each TCP connect.
 * Caller frees *out with rh_tls_close. Errors as for rh_net_connect and
 * rh_tls_handshake. */
int rh_tls_dial(struct rh_tls_ctx *ctx, const char *addr, int default_port, int connect_ms,
		int attempts, struct rh_tls_conn **out);

/* Read exactly n bytes. RH_ERR_PROTO with detail "connection closed" on a
 * clean EOF, RH_ERR_CONNECT on a reset, RH_ERR_TIMEOUT on SO_RCVTIMEO. */
int rh_tls_read(struct rh_tls_conn *c, void *buf, size_t n);

/* Write exactly n bytes. */
int rh_tls_write(struct rh_tls_conn *c, const void *buf, size_t n);

/* True when a read would not block: decrypted bytes are buffered or the
 * socket is readable. Lets one thread interleave sending with reading the
 * peer's occasional replies (OpenSSL objects are not shared by threads). */
bool rh_tls_readable(struct rh_tls_conn *c);

/* After sending a final ERROR: send close_notify and read and discard
 * what the peer still sends, for at most timeout_ms, so that closing does
 * not reset the connection (a reset would destroy the ERROR frame before
 * the peer reads it). */
void rh_tls_drain(struct rh_tls_conn *c, int timeout_ms);

/* Subject CN of the verified peer certificate. Borrowed. */
const char *rh_tls_peer_name(const struct rh_tls_conn *c);

/* Send close_notify (best effort), close the socket and free. NULL ok. */
void rh_tls_close(struct rh_tls_conn *c);

#endif
