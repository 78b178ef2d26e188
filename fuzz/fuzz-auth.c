/* Fuzz the request-signature parsers: the Authorization header, the query
 * splitter and the canonical request. Invariants: a parsed header has a
 * credential and 64 hex digits of signature; a request signed by
 * rh_auth_sign verifies, and stops verifying when its body changes.
 *
 * Input: lines "AUTH\nMETHOD\nPATH?QUERY\nBODY..." (missing lines are empty). */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rehost/auth.h"
#include "rehost/err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char *take_line(const char **p, const char *end)
{
	const char *nl = memchr(*p, '\n', (size_t)(end - *p));
	const char *stop = nl ? nl : end;
	size_t n = (size_t)(stop - *p);
	/* Not strndup: the input has no terminating NUL, and strict string
	 * checking (make check's ASAN_OPTIONS) rightly flags reading it as a
	 * string. */
	char *s = malloc(n + 1);

	if (s != NULL) {
		memcpy(s, *p, n);
		s[n] = '\0';
	}
	*p = nl ? nl + 1 : end;
	return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data, *end = p + size;
	char *auth = take_line(&p, end), *method = take_line(&p, end), *pq = take_line(&p, end);
	const char *body = p;
	size_t body_len = (size_t)(end - p);
	struct rh_auth_parsed parsed;
	struct rh_auth_pair *q = NULL;
	char *storage = NULL, *qm, *canon = NULL;
	size_t nq = 0;
	int rc;

	if (auth == NULL || method == NULL || pq == NULL)
		goto out;
	rc = rh_auth_parse_authorization(auth, &parsed);
	assert(rc == 0 || rc == RH_ERR_AUTH);
	if (rc == 0) {
		assert(parsed.ak[0] != '\0');
		assert(strlen(parsed.signature) == 64);
		assert(strspn(parsed.signature, "0123456789abcdef") == 64);
	}
	qm = strchr(pq, '?');
	rc = rh_auth_query_parse(qm ? qm + 1 : NULL, &q, &nq, &storage);
	assert(rc == 0 || rc == RH_ERR_PARSE || rc == RH_ERR_NOMEM);
	if (rc == 0 && *method != '\0' && strlen(method) < 16 && strchr(method, '\n') == NULL) {
		struct rh_auth_pair h[3];
		struct rh_auth_signed s;
		struct rh_auth_parsed back;
		struct rh_auth_request req;
		time_t now = 1790000000;

		if (qm != NULL)
			*qm = '\0';
		/* Round trip: what the client signs, the server accepts. */
		if (qm != NULL)
			*qm = '?';
		rc = rh_auth_sign("RHAKFUZZFUZZFUZZFUZZ", "fuzzsecretfuzzsecretfuzzsecretfuzzsecret", NULL,
				  method, pq, "host.example:8443", body, body_len, now, NULL, &s);
		if (qm != NULL)
			*qm = '\0';
		if (rc == 0) {
			assert(rh_auth_parse_authorization(s.authorization, &back) == 0);
			h[0] = (struct rh_auth_pair){ "host", "host.example:8443" };
			h[1] = (struct rh_auth_pair){ RH_AUTH_HDR_DATE, s.date };
			h[2] = (struct rh_auth_pair){ RH_AUTH_HDR_NONCE, s.nonce };
			req = (struct rh_auth_request){ method, pq, q, nq, h, 3, body, body_len, false };
			rc = rh_auth_verify(&req, &back, "fuzzsecretfuzzsecretfuzzsecretfuzzsecret", now);
			/* A path with a bad %-escape cannot be canonicalised. */
			assert(rc == 0 || rc == RH_ERR_AUTH);
			if (rc == 0) {
				/* Any other body breaks the signature. */
				char *other = malloc(body_len + 1);

				assert(other != NULL);
				memcpy(other, body, body_len);
				other[body_len] = 'x';
				req.body = other;
				req.body_len = body_len + 1;
				assert(rh_auth_verify(&req, &back, "fuzzsecretfuzzsecretfuzzsecretfuzzsecret",
						      now) == RH_ERR_AUTH);
				free(other);
				req.body = body;
				req.body_len = body_len;
				assert(rh_auth_canonical(&req, "host;x-amz-date;x-rehost-nonce", &canon) == 0);
				assert(strncmp(canon, method, strlen(method)) == 0);
			}
		}
	}
out:
	free(canon);
	free(q);
	free(storage);
	free(auth);
	free(method);
	free(pq);
	return 0;
}
