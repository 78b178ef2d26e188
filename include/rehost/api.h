/*
 * Client of the control-plane REST API (`rehost ctl`, tests, and later the
 * agent): HTTPS with libcurl, every request signed with rehost/auth.h.
 *
 * A client keeps one connection alive between calls; it is not thread
 * safe (use one client per thread).
 */
#ifndef REHOST_API_H
#define REHOST_API_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>

struct rh_api_client;

struct rh_api_opts {
	const char *url;     /* "https://host:port" (a path prefix is allowed) */
	const char *ak, *sk; /* access key pair; NULL sends unsigned requests */
	const char *ca_file; /* PEM file of trusted certificates, NULL = system store */
	bool insecure;       /* do not verify the server certificate (seed: servercheck = False) */
	long timeout_s;      /* per request; 0 = 60 */
};

/* Largest response body accepted. */
#define RH_API_MAX_RESPONSE (64u << 20)

/* Strings in opts are copied. Returns 0, RH_ERR_INVAL (bad url) or
 * RH_ERR_NOMEM. Caller frees with rh_api_client_free. */
int rh_api_client_new(const struct rh_api_opts *opts, struct rh_api_client **out);
void rh_api_client_free(struct rh_api_client *c);

/* For tests of the server's checks: sign with the clock moved by
 * skew_s seconds, and/or with this fixed nonce (NULL = random). */
void rh_api_client_set_skew(struct rh_api_client *c, long skew_s);
void rh_api_client_set_nonce(struct rh_api_client *c, const char *nonce);
/* Sign with this secret instead of the real one (forgery tests). */
void rh_api_client_set_forged_sk(struct rh_api_client *c, const char *sk);

/* Send one request; path_query is e.g. "/v1/sources?limit=10". body may
 * be NULL. On return 0 a response arrived: *status is its HTTP status and
 * *resp its body (NUL-terminated, caller frees). Returns RH_ERR_CONNECT /
 * RH_ERR_TIMEOUT / RH_ERR_AUTH (TLS verification) / RH_ERR_TOOBIG
 * otherwise, with a detail. */
int rh_api_request(struct rh_api_client *c, const char *method, const char *path_query,
		   const char *body, size_t body_len, long *status, char **resp);

/* JSON call: body (borrowed, may be NULL) is sent as JSON; a 2xx answer's
 * JSON is returned in *out (new reference, NULL for 204). An error answer
 * returns the RH_ERR_* matching its status (400 INVAL, 401 AUTH or CLOCK,
 * 403 PERM, 404 NOTFOUND, 409 STATE, 413 TOOBIG, 503 BUSY, ...) with the
 * server's message, SMS code and hint recorded (rh_lasterr, rh_lasterr_sms)
 * and its JSON in *out when it has one. */
int rh_api_call(struct rh_api_client *c, const char *method, const char *path,
		const json_t *body, json_t **out);

#endif
