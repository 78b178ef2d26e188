/*
 * `rehost server` internals: the REST API over libmicrohttpd (http.c),
 * routes (api.c), metrics (metrics.c) and the self-signed certificate
 * (tlsgen.c). The command itself is in cmd-server.c.
 */
#ifndef REHOST_SERVER_H
#define REHOST_SERVER_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "rehost/auth.h"
#include "rehost/store.h"

struct server {
	struct rh_store *store;
	unsigned char master_key[RH_AUTH_MASTER_KEY_LEN];
	int64_t heartbeat_interval; /* s, told to agents */
	int64_t heartbeat_timeout;  /* s */
	pthread_mutex_t lock;       /* long-poll wake-ups */
	pthread_cond_t cond;
	uint64_t cmd_generation;    /* bumped when this process queues a command */
	volatile int stopping;
	int64_t started_at;
};

/* A request after routing: what a route handler gets. */
struct api_req {
	struct server *srv;
	const char *method;
	const char *path;
	const char *tenant;    /* of the authenticated key; NULL for open routes */
	const char *ak;
	const char *body;      /* NUL-terminated */
	size_t body_len;
	void *conn;            /* struct MHD_Connection * */
	const char *route;     /* route pattern, for metrics */
};

/* A response. */
struct api_resp {
	unsigned status;
	json_t *json;          /* owned; NULL with text */
	char *text;            /* owned; plain text (metrics) */
	const char *content_type;
};

/* api.c */
void api_dispatch(struct api_req *r, struct api_resp *out);
/* Query parameter, or NULL. */
const char *api_query(struct api_req *r, const char *name);
/* Fill out with an error document:
 *   {"error": {"status", "code", "reason", "message", "hint", "details"}}
 * code is the SMS/MSG catalogue code or NULL; details (stolen) may be NULL. */
void api_error(struct api_resp *out, unsigned status, const char *reason, const char *code,
	       json_t *details, const char *fmt, ...) __attribute__((format(printf, 6, 7)));
/* Map a store error (rc with rh_lasterr) to a response. */
void api_store_error(struct api_resp *out, int rc);

/* http.c */
struct http_server;
struct http_opts {
	int listen_fd;
	bool tls;
	char *cert_pem, *key_pem; /* borrowed for the call */
};
int http_start(struct server *srv, const struct http_opts *o, struct http_server **out);
void http_stop(struct http_server *h);

/* metrics.c */
void metrics_request(const char *method, const char *route, unsigned status, double seconds);
void metrics_auth_failure(const char *reason);
/* Prometheus text of everything, with the store's counts. Caller frees. */
char *metrics_render(struct server *srv);

/* tlsgen.c: a self-signed certificate for the given names (EC P-256, 10
 * years), written to cert (0644) and key (0600). */
int tlsgen_self_signed(const char *cert, const char *key, const char *const *names, size_t n);

#endif
