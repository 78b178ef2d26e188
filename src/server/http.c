/*
 * HTTP(S) front end on libmicrohttpd: one thread per connection (so that
 * agents' long polls simply block), bounded request bodies, request
 * signature checks, and the hand-off to the routes in api.c.
 */
#define RH_LOG_COMPONENT "server"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <microhttpd.h>

#include "rehost/auth.h"
#include "rehost/buf.h"
#include "rehost/err.h"
#include "rehost/errcat.h"
#include "rehost/log.h"
#include "server/server.h"

#define MAX_BODY (8u << 20)
#define MAX_HEADERS 64

struct http_server {
	struct MHD_Daemon *d;
	struct server *srv;
};

struct req_state {
	struct rh_buf *body;
	bool too_big;
	struct timespec start;
	char method[8];
	const char *route;
	unsigned status;
};

struct pairs {
	struct rh_auth_pair v[MAX_HEADERS];
	size_t n;
	bool overflow;
};

static enum MHD_Result collect(void *cls, enum MHD_ValueKind kind, const char *key,
			       const char *value)
{
	struct pairs *p = cls;

	(void)kind;
	if (p->n >= MAX_HEADERS) {
		p->overflow = true;
		return MHD_NO;
	}
	p->v[p->n].name = key;
	p->v[p->n].value = value ? value : "";
	p->n++;
	return MHD_YES;
}

/* Check the request's signature; on success *tenant / *ak are set
 * (owned, caller frees). On failure out holds the 401. */
static bool read_only(const char *method)
{
	return strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
}

static bool authenticate(struct server *srv, struct MHD_Connection *conn, const char *method,
			 const char *url, const char *body, size_t body_len, char **tenant,
			 char **ak_out, struct api_resp *out)
{
	const char *authz = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
	struct rh_auth_parsed auth;
	struct rh_store_key key = { 0 };
	struct pairs headers = { 0 }, query = { 0 };
	struct rh_auth_request req;
	const char *nonce;
	char *sk = NULL, sig_nonce[sizeof auth.signature + 4];
	const char *reason = "bad-signature";
	int rc;
	bool ok = false;

	*tenant = NULL;
	*ak_out = NULL;
	rc = rh_auth_parse_authorization(authz, &auth);
	if (rc < 0) {
		reason = authz ? "malformed" : "unsigned";
		api_error(out, 401, "auth-failed", "SMS.0202", NULL, "%s", rh_lasterr());
		goto out;
	}
	rc = rh_store_key_get(srv->store, auth.ak, &key);
	if (rc < 0) {
		reason = "unknown-key";
		if (rc == RH_ERR_NOTFOUND)
			api_error(out, 401, "auth-failed", "SMS.0202", NULL, "unknown access key %s",
				  auth.ak);
		else
			api_store_error(out, rc);
		goto out;
	}
	if (!key.enabled) {
		reason = "disabled-key";
		api_error(out, 401, "auth-failed", "SMS.0202", NULL, "access key %s is disabled",
			  auth.ak);
		goto out;
	}
	rc = rh_auth_unseal(srv->master_key, key.ak, key.secret_enc, &sk);
	if (rc < 0) {
		reason = "secret-undecryptable";
		rh_log_error("cannot decrypt the secret of access key %s: %s", key.ak, rh_lasterr());
		api_error(out, 500, "internal", NULL, NULL, "cannot check the access key");
		goto out;
	}
	MHD_get_connection_values(conn, MHD_HEADER_KIND, collect, &headers);
	MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, collect, &query);
	if (headers.overflow || query.overflow) {
		reason = "too-many-fields";
		api_error(out, 401, "auth-failed", "SMS.0202", NULL,
			  "more than %d headers or query parameters", MAX_HEADERS);
		goto out;
	}
	req = (struct rh_auth_request){ .method = method, .path = url, .query = query.v,
					.nquery = query.n, .headers = headers.v,
					.nheaders = headers.n, .body = body, .body_len = body_len,
					.path_decoded = true };
	rc = rh_auth_verify(&req, &auth, sk, time(NULL));
	if (rc == RH_ERR_CLOCK) {
		reason = "clock-skew";
		api_error(out, 401, "clock-skew", "SMS.0205", NULL, "%s", rh_lasterr());
		goto out;
	}
	if (rc < 0) {
		api_error(out, 401, "auth-failed", "SMS.0202", NULL, "%s", rh_lasterr());
		goto out;
	}
	/* Replays: a nonce, when sent, is used once. Without one (curl and the
	 * AWS signers send none), a state-changing request's signature is the
	 * nonce: the same signed change cannot be applied twice, while reads
	 * stay retryable. */
	nonce = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, RH_AUTH_HDR_NONCE);
	if (nonce == NULL && !read_only(method)) {
		snprintf(sig_nonce, sizeof sig_nonce, "sig:%s", auth.signature);
		nonce = sig_nonce;
	}
	rc = nonce != NULL ? rh_store_nonce_use(srv->store, key.ak, nonce,
						time(NULL) + RH_AUTH_NONCE_TTL)
			   : 0;
	if (rc == RH_ERR_EXISTS) {
		reason = "replayed";
		api_error(out, 401, "replayed", NULL, NULL,
			  "request refused: it was already received (a replayed request); sign "
			  "every request anew, with a fresh %s when it may repeat within a second",
			  RH_AUTH_HDR_NONCE);
		goto out;
	}
	if (rc < 0) {
		api_store_error(out, rc);
		goto out;
	}
	*tenant = key.tenant;
	*ak_out = key.ak;
	key.tenant = key.ak = NULL;
	ok = true;
out:
	if (!ok && out->status == 401)
		metrics_auth_failure(reason);
	if (!ok)
		rh_log_debug("refused %s %s: %s", method, url, reason);
	if (sk != NULL) {
		memset(sk, 0, strlen(sk));
		free(sk);
	}
	rh_store_key_release(&key);
	return ok;
}

static enum MHD_Result send_resp(struct MHD_Connection *conn, struct req_state *rs,
				 struct api_resp *r)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;
	char *text = r->text;
	size_t len;

	if (text == NULL) {
		text = r->json ? json_dumps(r->json, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(12)) : strdup("");
		if (text != NULL && r->json != NULL) {
			/* One line per document, easy to read with curl. */
			char *t2;

			if (asprintf(&t2, "%s\n", text) >= 0) {
				free(text);
				text = t2;
			}
		}
	}
	r->text = NULL;
	if (text == NULL) {
		r->status = 500;
		text = strdup("{\"error\":{\"status\":500,\"reason\":\"internal\",\"message\":\"out of memory\"}}\n");
		if (text == NULL)
			return MHD_NO;
	}
	len = strlen(text);
	resp = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
	if (resp == NULL) {
		free(text);
		return MHD_NO;
	}
	MHD_add_response_header(resp, "Content-Type",
				r->content_type ? r->content_type : "application/json");
	MHD_add_response_header(resp, "Cache-Control", "no-store");
	rs->status = r->status;
	ret = MHD_queue_response(conn, r->status, resp);
	MHD_destroy_response(resp);
	json_decref(r->json);
	r->json = NULL;
	return ret;
}

static bool open_route(const char *method, const char *url)
{
	return strcmp(method, "GET") == 0 &&
	       (strcmp(url, "/healthz") == 0 || strcmp(url, "/metrics") == 0 ||
		strcmp(url, "/v1/openapi.json") == 0);
}

static enum MHD_Result refuse_too_big(struct MHD_Connection *conn, struct req_state *rs,
				      struct api_resp *resp)
{
	api_error(resp, 413, "too-large", NULL, NULL, "request body larger than %u bytes",
		  MAX_BODY);
	return send_resp(conn, rs, resp);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version,
				  const char *upload_data, size_t *upload_data_size, void **con_cls)
{
	struct http_server *h = cls;
	struct req_state *rs = *con_cls;
	struct api_resp resp = { .status = 200 };
	struct api_req req = { 0 };
	char *tenant = NULL, *ak = NULL;
	enum MHD_Result ret;

	(void)version;
	if (rs == NULL) {
		const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");

		rs = calloc(1, sizeof *rs);
		if (rs == NULL || rh_buf_new(MAX_BODY, &rs->body) < 0) {
			free(rs);
			return MHD_NO;
		}
		clock_gettime(CLOCK_MONOTONIC, &rs->start);
		snprintf(rs->method, sizeof rs->method, "%s", method);
		rs->route = "other";
		*con_cls = rs;
		/* A declared length over the limit is refused before any of the
		 * body is read: the client learns at once, and the server does
		 * not spend a connection thread draining megabytes it will drop.
		 * MHD closes the connection after this response, as the body was
		 * not consumed. */
		if (cl != NULL && strtoull(cl, NULL, 10) > MAX_BODY) {
			rs->too_big = true;
			return refuse_too_big(conn, rs, &resp);
		}
		return MHD_YES;
	}
	if (*upload_data_size > 0) {
		if (!rs->too_big && rh_buf_put(rs->body, upload_data, *upload_data_size) < 0)
			rs->too_big = true;
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (rs->too_big)
		return refuse_too_big(conn, rs, &resp);
	req.srv = h->srv;
	req.method = method;
	req.path = url;
	req.body = rh_buf_str(rs->body);
	req.body_len = rh_buf_len(rs->body);
	req.conn = conn;
	req.route = "other";
	if (!open_route(method, url)) {
		if (!authenticate(h->srv, conn, method, url, req.body, req.body_len, &tenant, &ak,
				  &resp)) {
			rs->route = "auth";
			return send_resp(conn, rs, &resp);
		}
		req.tenant = tenant;
		req.ak = ak;
	}
	rh_clearerr();
	api_dispatch(&req, &resp);
	rs->route = req.route;
	ret = send_resp(conn, rs, &resp);
	free(tenant);
	free(ak);
	return ret;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct req_state *rs = *con_cls;
	struct timespec now;

	(void)cls;
	(void)conn;
	(void)toe;
	if (rs == NULL)
		return;
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (rs->status != 0)
		metrics_request(rs->method, rs->route, rs->status,
				(double)(now.tv_sec - rs->start.tv_sec) +
				(now.tv_nsec - rs->start.tv_nsec) / 1e9);
	rh_buf_free(rs->body);
	free(rs);
	*con_cls = NULL;
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	char buf[512];
	size_t n;

	(void)cls;
	vsnprintf(buf, sizeof buf, fmt, ap);
	n = strlen(buf);
	while (n > 0 && buf[n - 1] == '\n')
		buf[--n] = '\0';
	rh_log_debug("microhttpd: %s", buf);
}

int http_start(struct server *srv, const struct http_opts *o, struct http_server **out)
{
	struct http_server *h;
	unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
			 MHD_USE_POLL | MHD_USE_ERROR_LOG;
	size_t stack = 512u << 10;

#if defined(__SANITIZE_ADDRESS__)
	stack = 0; /* sanitizers need the default stacks */
#endif
	*out = NULL;
	h = calloc(1, sizeof *h);
	if (h == NULL)
		return rh_seterr(RH_ERR_NOMEM, "http server");
	h->srv = srv;
	if (o->tls)
		flags |= MHD_USE_TLS;
	if (o->tls)
		h->d = MHD_start_daemon(flags, 0, NULL, NULL, on_request, h,
					MHD_OPTION_LISTEN_SOCKET, o->listen_fd,
					MHD_OPTION_NOTIFY_COMPLETED, on_completed, h,
					MHD_OPTION_CONNECTION_LIMIT, 8192u,
					MHD_OPTION_CONNECTION_TIMEOUT, 300u,
					MHD_OPTION_THREAD_STACK_SIZE, stack,
					MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, NULL,
					MHD_OPTION_HTTPS_MEM_KEY, o->key_pem,
					MHD_OPTION_HTTPS_MEM_CERT, o->cert_pem,
					MHD_OPTION_END);
	else
		h->d = MHD_start_daemon(flags, 0, NULL, NULL, on_request, h,
					MHD_OPTION_LISTEN_SOCKET, o->listen_fd,
					MHD_OPTION_NOTIFY_COMPLETED, on_completed, h,
					MHD_OPTION_CONNECTION_LIMIT, 8192u,
					MHD_OPTION_CONNECTION_TIMEOUT, 300u,
					MHD_OPTION_THREAD_STACK_SIZE, stack,
					MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, NULL,
					MHD_OPTION_END);
	if (h->d == NULL) {
		free(h);
		return rh_seterr(RH_ERR_IO, "cannot start the HTTP%s server (bad certificate or key?)",
				 o->tls ? "S" : "");
	}
	*out = h;
	return 0;
}

void http_stop(struct http_server *h)
{
	if (h == NULL)
		return;
	MHD_stop_daemon(h->d);
	free(h);
}
