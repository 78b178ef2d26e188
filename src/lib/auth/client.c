/* Signed HTTPS client of the REST API (libcurl). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <curl/curl.h>

#include "rehost/api.h"
#include "rehost/auth.h"
#include "rehost/buf.h"
#include "rehost/err.h"
#include "rehost/json.h"

struct rh_api_client {
	CURL *curl;
	char *base;   /* scheme://authority, no trailing slash */
	char *prefix; /* path prefix of the url, "" or "/x" */
	char *host;   /* Host header value */
	char *ak, *sk, *forged_sk, *ca_file, *nonce;
	bool insecure;
	long timeout_s, skew;
	char errbuf[CURL_ERROR_SIZE];
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void curl_init_once(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

static char *dup_or_null(const char *s)
{
	return s != NULL ? strdup(s) : NULL;
}

void rh_api_client_free(struct rh_api_client *c)
{
	if (c == NULL)
		return;
	if (c->curl != NULL)
		curl_easy_cleanup(c->curl);
	free(c->base);
	free(c->prefix);
	free(c->host);
	free(c->ak);
	if (c->sk != NULL)
		memset(c->sk, 0, strlen(c->sk));
	free(c->sk);
	free(c->forged_sk);
	free(c->ca_file);
	free(c->nonce);
	free(c);
}

int rh_api_client_new(const struct rh_api_opts *o, struct rh_api_client **out)
{
	struct rh_api_client *c;
	const char *auth, *slash;

	*out = NULL;
	pthread_once(&curl_once, curl_init_once);
	if (o->url == NULL || (strncmp(o->url, "https://", 8) != 0 && strncmp(o->url, "http://", 7) != 0))
		return rh_seterr(RH_ERR_INVAL, "server URL '%s' must start with https://",
				 o->url ? o->url : "");
	c = calloc(1, sizeof *c);
	if (c == NULL)
		return rh_seterr(RH_ERR_NOMEM, "client");
	auth = strstr(o->url, "://") + 3;
	slash = strchr(auth, '/');
	c->base = slash ? strndup(o->url, (size_t)(slash - o->url)) : strdup(o->url);
	c->prefix = strdup(slash ? slash : "");
	c->host = slash ? strndup(auth, (size_t)(slash - auth)) : strdup(auth);
	if (c->host != NULL && strchr(c->host, '@') != NULL)
		memmove(c->host, strchr(c->host, '@') + 1, strlen(strchr(c->host, '@')));
	while (c->prefix != NULL && *c->prefix && c->prefix[strlen(c->prefix) - 1] == '/')
		c->prefix[strlen(c->prefix) - 1] = '\0';
	c->ak = dup_or_null(o->ak);
	c->sk = dup_or_null(o->sk);
	c->ca_file = dup_or_null(o->ca_file);
	c->insecure = o->insecure;
	c->timeout_s = o->timeout_s > 0 ? o->timeout_s : 60;
	c->curl = curl_easy_init();
	if (c->base == NULL || c->prefix == NULL || c->host == NULL || c->curl == NULL ||
	    (o->ak && !c->ak) || (o->sk && !c->sk) || (o->ca_file && !c->ca_file)) {
		rh_api_client_free(c);
		return rh_seterr(RH_ERR_NOMEM, "client");
	}
	*out = c;
	return 0;
}

void rh_api_client_set_skew(struct rh_api_client *c, long skew_s)
{
	c->skew = skew_s;
}

void rh_api_client_set_nonce(struct rh_api_client *c, const char *nonce)
{
	free(c->nonce);
	c->nonce = dup_or_null(nonce);
}

void rh_api_client_set_forged_sk(struct rh_api_client *c, const char *sk)
{
	free(c->forged_sk);
	c->forged_sk = dup_or_null(sk);
}

static size_t on_data(char *p, size_t size, size_t n, void *arg)
{
	struct rh_buf *b = arg;

	if (rh_buf_put(b, p, size * n) < 0)
		return 0;
	return size * n;
}

int rh_api_request(struct rh_api_client *c, const char *method, const char *path_query,
		   const char *body, size_t body_len, long *status, char **resp)
{
	struct curl_slist *hdrs = NULL;
	struct rh_api_signed_hdrs { char h[RH_AUTH_MAX_HEADER + 64]; } ah, dh, nh, hh;
	struct rh_auth_signed sig;
	struct rh_buf *b = NULL;
	char *url = NULL, *full = NULL;
	CURLcode cc;
	int rc;

	*status = 0;
	*resp = NULL;
	if (asprintf(&full, "%s%s", c->prefix, path_query) < 0 ||
	    asprintf(&url, "%s%s", c->base, full) < 0) {
		free(full);
		return rh_seterr(RH_ERR_NOMEM, "request");
	}
	rc = rh_buf_new(RH_API_MAX_RESPONSE, &b);
	if (rc < 0)
		goto out;
	snprintf(hh.h, sizeof hh.h, "Host: %s", c->host);
	hdrs = curl_slist_append(hdrs, hh.h);
	hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
	hdrs = curl_slist_append(hdrs, "Accept: application/json");
	hdrs = curl_slist_append(hdrs, "Expect:");
	if (c->ak != NULL && c->sk != NULL) {
		rc = rh_auth_sign(c->ak, c->forged_sk ? c->forged_sk : c->sk, NULL, method, full, c->host,
				  body, body ? body_len : 0, time(NULL) + c->skew, c->nonce, &sig);
		if (rc < 0)
			goto out;
		snprintf(ah.h, sizeof ah.h, "Authorization: %s", sig.authorization);
		snprintf(dh.h, sizeof dh.h, "%s: %s", RH_AUTH_HDR_DATE, sig.date);
		snprintf(nh.h, sizeof nh.h, "%s: %s", RH_AUTH_HDR_NONCE, sig.nonce);
		hdrs = curl_slist_append(hdrs, ah.h);
		hdrs = curl_slist_append(hdrs, dh.h);
		hdrs = curl_slist_append(hdrs, nh.h);
	}
	if (hdrs == NULL) {
		rc = rh_seterr(RH_ERR_NOMEM, "request headers");
		goto out;
	}
	curl_easy_reset(c->curl);
	curl_easy_setopt(c->curl, CURLOPT_URL, url);
	curl_easy_setopt(c->curl, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(c->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c->curl, CURLOPT_TIMEOUT, c->timeout_s);
	curl_easy_setopt(c->curl, CURLOPT_CONNECTTIMEOUT, 10L);
	curl_easy_setopt(c->curl, CURLOPT_ERRORBUFFER, c->errbuf);
	curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, b);
	curl_easy_setopt(c->curl, CURLOPT_PROTOCOLS_STR, "https,http");
	if (strcmp(method, "HEAD") == 0)
		curl_easy_setopt(c->curl, CURLOPT_NOBODY, 1L);
	if (body != NULL) {
		curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
	}
	if (c->ca_file != NULL)
		curl_easy_setopt(c->curl, CURLOPT_CAINFO, c->ca_file);
	if (c->insecure) {
		curl_easy_setopt(c->curl, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(c->curl, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	c->errbuf[0] = '\0';
	cc = curl_easy_perform(c->curl);
	if (cc != CURLE_OK) {
		const char *msg = c->errbuf[0] ? c->errbuf : curl_easy_strerror(cc);

		switch (cc) {
		case CURLE_OPERATION_TIMEDOUT:
			rc = rh_seterr(RH_ERR_TIMEOUT, "%s %s: %s", method, url, msg);
			break;
		case CURLE_PEER_FAILED_VERIFICATION:
		case CURLE_SSL_CACERT_BADFILE:
		case CURLE_SSL_CERTPROBLEM:
			rc = rh_seterr(RH_ERR_AUTH, "%s: server certificate not trusted: %s (give the "
				       "server's certificate with --cacert)", url, msg);
			break;
		case CURLE_WRITE_ERROR:
			rc = rh_seterr(RH_ERR_TOOBIG, "%s: response larger than %u bytes", url,
				       RH_API_MAX_RESPONSE);
			break;
		default:
			rc = rh_seterr_sms(RH_ERR_CONNECT, "SMS.0203", "cannot reach the server %s: %s",
					   c->base, msg);
		}
		goto out;
	}
	curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, status);
	*resp = strdup(rh_buf_str(b));
	if (*resp == NULL)
		rc = rh_seterr(RH_ERR_NOMEM, "response");
out:
	curl_slist_free_all(hdrs);
	rh_buf_free(b);
	free(url);
	free(full);
	return rc;
}

static int status_err(long status, const char *code)
{
	switch (status) {
	case 400: case 422: return RH_ERR_INVAL;
	case 401: return code != NULL && strcmp(code, "SMS.0205") == 0 ? RH_ERR_CLOCK : RH_ERR_AUTH;
	case 403: return RH_ERR_PERM;
	case 404: return RH_ERR_NOTFOUND;
	case 409: return RH_ERR_STATE;
	case 413: return RH_ERR_TOOBIG;
	case 429: case 503: return RH_ERR_BUSY;
	case 504: return RH_ERR_TIMEOUT;
	default: return status >= 500 ? RH_ERR_IO : RH_ERR_PROTO;
	}
}

int rh_api_call(struct rh_api_client *c, const char *method, const char *path,
		const json_t *body, json_t **out)
{
	char *text = NULL, *resp = NULL;
	json_t *j = NULL;
	long status;
	int rc;

	*out = NULL;
	if (body != NULL && (text = json_dumps(body, JSON_COMPACT)) == NULL)
		return rh_seterr(RH_ERR_NOMEM, "request body");
	rc = rh_api_request(c, method, path, text, text ? strlen(text) : 0, &status, &resp);
	free(text);
	if (rc < 0)
		return rc;
	if (*resp != '\0' && rh_json_load(resp, strlen(resp), RH_API_MAX_RESPONSE, &j) < 0)
		j = NULL;
	if (status >= 200 && status < 300) {
		if (j == NULL && *resp != '\0')
			rc = rh_seterr(RH_ERR_PROTO, "%s %s: the server's answer is not JSON", method, path);
		else
			*out = j, j = NULL;
	} else {
		const json_t *e = json_object_get(j, "error");
		const char *code = json_string_value(json_object_get(e, "code"));
		const char *msg = json_string_value(json_object_get(e, "message"));
		const json_t *details = json_object_get(e, "details");
		const char *d0 = json_string_value(json_object_get(json_array_get(details, 0), "message"));

		rc = status_err(status, code);
		rh_seterr_sms(rc, code, "%s (HTTP %ld)%s%s%s", msg ? msg : "the server refused the request",
			      status, d0 && msg && !strstr(msg, d0) ? ": " : "",
			      d0 && msg && !strstr(msg, d0) ? d0 : "",
			      json_array_size(details) > 1 ? " (and more: see --json)" : "");
		*out = j;
		j = NULL;
	}
	json_decref(j);
	free(resp);
	return rc;
}
