/* Request signing: AWS Signature Version 4 (canonical request, credential
 * scope, derived signing key, Authorization header). */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "rehost/auth.h"
#include "rehost/buf.h"
#include "rehost/checked.h"
#include "rehost/err.h"

#define CANON_MAX (8u << 20)
#define MAX_QUERY 256

static const char hexdig[] = "0123456789abcdef";

static void to_hex(const unsigned char *d, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hexdig[d[i] >> 4];
		out[2 * i + 1] = hexdig[d[i] & 15];
	}
	out[2 * n] = '\0';
}

void rh_auth_sha256_hex(const void *data, size_t len, char hex[65])
{
	unsigned char md[SHA256_DIGEST_LENGTH];

	SHA256(data != NULL ? data : (const void *)"", len, md);
	to_hex(md, sizeof md, hex);
}

/* out may be the key's own buffer: the chain below feeds each result back. */
static int hmac256(const void *key, size_t klen, const char *msg, unsigned char out[32])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	if (HMAC(EVP_sha256(), key, (int)klen, (const unsigned char *)msg, strlen(msg), md,
		 &mdlen) == NULL || mdlen != 32)
		return rh_seterr(RH_ERR_INTERNAL, "HMAC-SHA256 failed");
	memcpy(out, md, 32);
	OPENSSL_cleanse(md, sizeof md);
	return 0;
}

int rh_auth_signature_hex(const char *sk, const struct rh_auth_scope *scope, const char *sts,
			  char hex[65])
{
	unsigned char k[32], md[32];
	char *secret = NULL;
	int rc;

	/* kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" SK, date), region), service),
	 * "aws4_request"): the secret itself never signs a request. */
	if (asprintf(&secret, "AWS4%s", sk) < 0)
		return rh_seterr(RH_ERR_NOMEM, "signing key");
	rc = hmac256(secret, strlen(secret), scope->date, k);
	if (rc == 0)
		rc = hmac256(k, sizeof k, scope->region, k);
	if (rc == 0)
		rc = hmac256(k, sizeof k, scope->service, k);
	if (rc == 0)
		rc = hmac256(k, sizeof k, RH_AUTH_TERMINATOR, k);
	if (rc == 0)
		rc = hmac256(k, sizeof k, sts, md);
	if (rc == 0)
		to_hex(md, sizeof md, hex);
	OPENSSL_cleanse(k, sizeof k);
	OPENSSL_cleanse(secret, strlen(secret));
	free(secret);
	return rc;
}

static int unhex(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Decode %XX in place (and '+' when plus); returns the new length or -1. */
static long pct_decode(char *s, bool plus)
{
	char *w = s;

	for (const char *r = s; *r; r++) {
		if (*r == '%') {
			int h = unhex((unsigned char)r[1]), l = h >= 0 ? unhex((unsigned char)r[2]) : -1;

			if (h < 0 || l < 0)
				return -1;
			*w++ = (char)(h * 16 + l);
			r += 2;
		} else if (*r == '+' && plus) {
			*w++ = ' ';
		} else {
			*w++ = *r;
		}
	}
	*w = '\0';
	return w - s;
}

static int encode(struct rh_buf *b, const char *s, size_t n, bool keep_slash)
{
	int rc = 0;

	for (size_t i = 0; i < n && rc == 0; i++) {
		unsigned char c = (unsigned char)s[i];

		if (isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~' || (keep_slash && c == '/'))
			rc = rh_buf_put_u8(b, c);
		else
			rc = rh_buf_putf(b, "%%%02X", c);
	}
	return rc;
}

int rh_auth_query_parse(const char *query, struct rh_auth_pair **pairs, size_t *n, char **storage)
{
	struct rh_auth_pair *p = NULL;
	char *s = NULL, *save = NULL, *tok;
	size_t cnt = 0;

	*pairs = NULL;
	*n = 0;
	*storage = NULL;
	if (query == NULL || *query == '\0')
		return 0;
	s = strdup(query);
	p = calloc(MAX_QUERY, sizeof *p);
	if (s == NULL || p == NULL) {
		free(s);
		free(p);
		return rh_seterr(RH_ERR_NOMEM, "query");
	}
	for (tok = strtok_r(s, "&", &save); tok != NULL; tok = strtok_r(NULL, "&", &save)) {
		char *eq = strchr(tok, '=');

		if (cnt >= MAX_QUERY) {
			free(s);
			free(p);
			return rh_seterr(RH_ERR_PARSE, "more than %d query parameters", MAX_QUERY);
		}
		if (eq != NULL)
			*eq = '\0';
		if (pct_decode(tok, true) < 0 || (eq != NULL && pct_decode(eq + 1, true) < 0)) {
			free(s);
			free(p);
			return rh_seterr(RH_ERR_PARSE, "bad percent-encoding in the query");
		}
		p[cnt].name = tok;
		p[cnt].value = eq != NULL ? eq + 1 : "";
		cnt++;
	}
	*pairs = p;
	*n = cnt;
	*storage = s;
	return 0;
}

static const char *find_header(const struct rh_auth_request *req, const char *name)
{
	for (size_t i = 0; i < req->nheaders; i++)
		if (req->headers[i].name != NULL && strcasecmp(req->headers[i].name, name) == 0)
			return req->headers[i].value;
	return NULL;
}

struct qent {
	char *name, *value; /* encoded */
};

static int qcmp(const void *a, const void *b)
{
	const struct qent *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	return c != 0 ? c : strcmp(x->value, y->value);
}

static char *enc_dup(const char *s, bool keep_slash)
{
	struct rh_buf *b = NULL;
	char *out = NULL;

	if (rh_buf_new(CANON_MAX, &b) == 0 && encode(b, s, strlen(s), keep_slash) == 0)
		out = strdup(rh_buf_str(b));
	rh_buf_free(b);
	return out;
}

/* Check "a;b;c": lower case, sorted, unique, at most RH_AUTH_MAX_SIGNED. */
static int check_signed_list(const char *list)
{
	const char *p = list, *prev = NULL;
	size_t prevlen = 0, n = 0;

	if (list == NULL || *list == '\0')
		return rh_seterr(RH_ERR_AUTH, "SignedHeaders is empty");
	while (*p) {
		const char *end = strchr(p, ';');
		size_t len = end ? (size_t)(end - p) : strlen(p);

		if (len == 0 || ++n > RH_AUTH_MAX_SIGNED)
			return rh_seterr(RH_ERR_AUTH, "SignedHeaders is malformed");
		for (size_t i = 0; i < len; i++)
			if (!(islower((unsigned char)p[i]) || isdigit((unsigned char)p[i]) || p[i] == '-'))
				return rh_seterr(RH_ERR_AUTH, "SignedHeaders must be lower-case names");
		if (prev != NULL) {
			int c = strncmp(prev, p, RH_MIN(prevlen, len));

			if (c > 0 || (c == 0 && prevlen >= len))
				return rh_seterr(RH_ERR_AUTH, "SignedHeaders must be sorted and unique");
		}
		prev = p;
		prevlen = len;
		p += len;
		if (*p == ';')
			p++;
		if (*p == '\0' && p[-1] == ';')
			return rh_seterr(RH_ERR_AUTH, "SignedHeaders is malformed");
	}
	return 0;
}

int rh_auth_canonical(const struct rh_auth_request *req, const char *signed_headers, char **out)
{
	struct rh_buf *b = NULL;
	struct qent *q = NULL;
	char *path = NULL, *list = NULL, *save = NULL, hash[65];
	int rc;

	*out = NULL;
	rc = check_signed_list(signed_headers);
	if (rc < 0)
		return rc;
	if (req->nquery > MAX_QUERY)
		return rh_seterr(RH_ERR_AUTH, "more than %d query parameters", MAX_QUERY);
	rc = rh_buf_new(CANON_MAX, &b);
	if (rc < 0)
		return rc;
	/* method and path */
	path = strdup(req->path ? req->path : "/");
	if (path == NULL || (!req->path_decoded && pct_decode(path, false) < 0)) {
		rc = path ? rh_seterr(RH_ERR_AUTH, "bad percent-encoding in the path")
			  : rh_seterr(RH_ERR_NOMEM, "path");
		goto out;
	}
	rc = rh_buf_putf(b, "%s\n", req->method);
	/* SigV4 for every service but S3 encodes the path twice: once as it
	 * travels, once more in the canonical request. The API's paths are
	 * made of unreserved characters only, where both are the identity. */
	if (rc == 0) {
		char *once = enc_dup(path, true);

		rc = once != NULL ? encode(b, once, strlen(once), true)
				  : rh_seterr(RH_ERR_NOMEM, "path");
		free(once);
	}
	if (rc == 0)
		rc = rh_buf_put_u8(b, '\n');
	/* query */
	if (rc == 0 && req->nquery > 0) {
		q = calloc(req->nquery, sizeof *q);
		if (q == NULL) {
			rc = rh_seterr(RH_ERR_NOMEM, "query");
			goto out;
		}
		for (size_t i = 0; i < req->nquery; i++) {
			q[i].name = enc_dup(req->query[i].name, false);
			q[i].value = enc_dup(req->query[i].value ? req->query[i].value : "", false);
			if (q[i].name == NULL || q[i].value == NULL) {
				rc = rh_seterr(RH_ERR_NOMEM, "query");
				goto out;
			}
		}
		qsort(q, req->nquery, sizeof *q, qcmp);
		for (size_t i = 0; i < req->nquery && rc == 0; i++)
			rc = rh_buf_putf(b, "%s%s=%s", i ? "&" : "", q[i].name, q[i].value);
	}
	if (rc == 0)
		rc = rh_buf_put_u8(b, '\n');
	/* headers */
	list = strdup(signed_headers);
	if (list == NULL) {
		rc = rh_seterr(RH_ERR_NOMEM, "headers");
		goto out;
	}
	for (char *h = strtok_r(list, ";", &save); h != NULL && rc == 0; h = strtok_r(NULL, ";", &save)) {
		const char *v = find_header(req, h);
		bool space = false, any = false;

		if (v == NULL) {
			rc = rh_seterr(RH_ERR_AUTH, "signed header '%s' is missing from the request", h);
			goto out;
		}
		rc = rh_buf_putf(b, "%s:", h);
		for (const char *p = v; *p && rc == 0; p++) {
			if (*p == ' ' || *p == '\t') {
				space = any;
				continue;
			}
			if (space)
				rc = rh_buf_put_u8(b, ' ');
			space = false;
			any = true;
			if (rc == 0)
				rc = rh_buf_put_u8(b, (uint8_t)*p);
		}
		if (rc == 0)
			rc = rh_buf_put_u8(b, '\n');
	}
	rh_auth_sha256_hex(req->body, req->body_len, hash);
	if (rc == 0) {
		/* A client may state the payload hash; rehost always signs the
		 * payload, so UNSIGNED-PAYLOAD and a wrong hash are refused by
		 * name rather than as a mysterious signature mismatch. */
		const char *stated = find_header(req, RH_AUTH_HDR_CONTENT_SHA256);

		if (stated != NULL && strcmp(stated, hash) != 0) {
			rc = rh_seterr(RH_ERR_AUTH, "%s is '%.64s', not the SHA-256 of the body "
				       "(rehost needs signed payloads)", RH_AUTH_HDR_CONTENT_SHA256,
				       stated);
			goto out;
		}
		/* The header block ends with its own "\n" and is then a line
		 * of the request like the others: a blank line follows it. */
		rc = rh_buf_putf(b, "\n%s\n%s", signed_headers, hash);
	}
	if (rc == 0 && (*out = strdup(rh_buf_str(b))) == NULL)
		rc = rh_seterr(RH_ERR_NOMEM, "canonical request");
out:
	for (size_t i = 0; q != NULL && i < req->nquery; i++) {
		free(q[i].name);
		free(q[i].value);
	}
	free(q);
	free(list);
	free(path);
	rh_buf_free(b);
	if (rc == RH_ERR_TOOBIG)
		rc = rh_seterr(RH_ERR_AUTH, "request too large to sign");
	return rc;
}

int rh_auth_string_to_sign(const char *date, const struct rh_auth_scope *scope,
			   const char *canonical, char **out)
{
	char hash[65];

	rh_auth_sha256_hex(canonical, strlen(canonical), hash);
	if (asprintf(out, "%s\n%s\n%s/%s/%s/%s\n%s", RH_AUTH_ALGORITHM, date, scope->date,
		     scope->region, scope->service, RH_AUTH_TERMINATOR, hash) < 0) {
		*out = NULL;
		return rh_seterr(RH_ERR_NOMEM, "string to sign");
	}
	return 0;
}

int rh_auth_parse_date(const char *s, time_t *out)
{
	struct tm tm = { 0 };
	const char *end;

	*out = 0;
	if (s == NULL || strlen(s) != 16 || s[8] != 'T' || s[15] != 'Z')
		return rh_seterr(RH_ERR_PARSE, "date must be YYYYMMDDTHHMMSSZ");
	for (int i = 0; i < 15; i++)
		if (i != 8 && !isdigit((unsigned char)s[i]))
			return rh_seterr(RH_ERR_PARSE, "date must be YYYYMMDDTHHMMSSZ");
	end = strptime(s, "%Y%m%dT%H%M%SZ", &tm);
	if (end == NULL || *end != '\0')
		return rh_seterr(RH_ERR_PARSE, "date must be YYYYMMDDTHHMMSSZ");
	*out = timegm(&tm);
	return 0;
}

char *rh_auth_format_date(time_t t, char *buf, size_t len)
{
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL || strftime(buf, len, "%Y%m%dT%H%M%SZ", &tm) == 0)
		snprintf(buf, len, "19700101T000000Z");
	return buf;
}

/* Copy the value of "key=" at *p up to ',' or end into out (cap bytes). */
static int auth_field(const char **p, const char *key, char *out, size_t cap)
{
	size_t klen = strlen(key), n;
	const char *s = *p;

	while (*s == ' ')
		s++;
	if (strncmp(s, key, klen) != 0 || s[klen] != '=')
		return rh_seterr(RH_ERR_AUTH, "Authorization: expected %s=", key);
	s += klen + 1;
	n = strcspn(s, ", ");
	if (n == 0 || n >= cap)
		return rh_seterr(RH_ERR_AUTH, "Authorization: %s is empty or too long", key);
	memcpy(out, s, n);
	out[n] = '\0';
	s += n;
	while (*s == ' ')
		s++;
	if (*s == ',')
		s++;
	*p = s;
	return 0;
}

/* Copy the next '/'-separated part of *p (1..cap-1 characters of ok) to out. */
static int credential_part(const char **p, const char *what, bool (*ok)(int c), char *out,
			   size_t cap, bool last)
{
	size_t n = strcspn(*p, "/");

	if (n == 0 || n >= cap || (last ? (*p)[n] != '\0' : (*p)[n] != '/'))
		return rh_seterr(RH_ERR_AUTH, "Authorization: Credential must be "
				 "AK/YYYYMMDD/REGION/SERVICE/" RH_AUTH_TERMINATOR " (bad %s)", what);
	for (size_t i = 0; i < n; i++)
		if (!ok((unsigned char)(*p)[i]))
			return rh_seterr(RH_ERR_AUTH, "Authorization: bad character in the "
					 "credential's %s", what);
	memcpy(out, *p, n);
	out[n] = '\0';
	*p += last ? n : n + 1;
	return 0;
}

static bool ak_char(int c)
{
	return isalnum(c) || c == '_' || c == '-';
}

static bool digit_char(int c)
{
	return isdigit(c);
}

static bool scope_char(int c)
{
	return islower(c) || isdigit(c) || c == '-' || c == '_';
}

static int parse_credential(const char *cred, struct rh_auth_parsed *out)
{
	const char *p = cred;
	char term[sizeof RH_AUTH_TERMINATOR];
	int rc;

	if ((rc = credential_part(&p, "access key", ak_char, out->ak, sizeof out->ak, false)) < 0 ||
	    (rc = credential_part(&p, "date", digit_char, out->scope.date, sizeof out->scope.date,
				  false)) < 0 ||
	    (rc = credential_part(&p, "region", scope_char, out->scope.region,
				  sizeof out->scope.region, false)) < 0 ||
	    (rc = credential_part(&p, "service", scope_char, out->scope.service,
				  sizeof out->scope.service, false)) < 0 ||
	    (rc = credential_part(&p, "terminator", scope_char, term, sizeof term, true)) < 0)
		return rc;
	if (strlen(out->scope.date) != 8 || strcmp(term, RH_AUTH_TERMINATOR) != 0)
		return rh_seterr(RH_ERR_AUTH, "Authorization: Credential must be "
				 "AK/YYYYMMDD/REGION/SERVICE/" RH_AUTH_TERMINATOR);
	if (strcmp(out->scope.service, RH_AUTH_SERVICE) != 0)
		return rh_seterr(RH_ERR_AUTH, "Authorization: the credential's service is '%s'; "
				 "sign for service '%s' (curl: --aws-sigv4 aws:amz:REGION:%s)",
				 out->scope.service, RH_AUTH_SERVICE, RH_AUTH_SERVICE);
	return 0;
}

int rh_auth_parse_authorization(const char *value, struct rh_auth_parsed *out)
{
	size_t alen = strlen(RH_AUTH_ALGORITHM);
	char cred[256];
	const char *p;
	int rc;

	memset(out, 0, sizeof *out);
	if (value == NULL)
		return rh_seterr(RH_ERR_AUTH, "the request is not signed (no Authorization header)");
	if (strlen(value) > RH_AUTH_MAX_HEADER)
		return rh_seterr(RH_ERR_AUTH, "Authorization header too long");
	if (strncmp(value, RH_AUTH_ALGORITHM, alen) != 0 || value[alen] != ' ')
		return rh_seterr(RH_ERR_AUTH, "Authorization must start with %s", RH_AUTH_ALGORITHM);
	p = value + alen;
	if ((rc = auth_field(&p, "Credential", cred, sizeof cred)) < 0 ||
	    (rc = auth_field(&p, "SignedHeaders", out->signed_headers, sizeof out->signed_headers)) < 0 ||
	    (rc = auth_field(&p, "Signature", out->signature, sizeof out->signature)) < 0)
		return rc;
	if ((rc = parse_credential(cred, out)) < 0)
		return rc;
	while (*p == ' ')
		p++;
	if (*p != '\0')
		return rh_seterr(RH_ERR_AUTH, "Authorization: unexpected text after Signature");
	if (strlen(out->signature) != 64 || strspn(out->signature, hexdig) != 64)
		return rh_seterr(RH_ERR_AUTH, "Authorization: Signature must be 64 lower-case hex digits");
	return check_signed_list(out->signed_headers);
}

static bool list_has(const char *list, const char *name)
{
	size_t n = strlen(name);

	for (const char *p = list; p != NULL && *p; p = strchr(p, ';') ? strchr(p, ';') + 1 : NULL)
		if (strncmp(p, name, n) == 0 && (p[n] == ';' || p[n] == '\0'))
			return true;
	return false;
}

static bool nonce_ok(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	if (n < 16 || n > 64)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '_' && s[i] != '-')
			return false;
	return true;
}

int rh_auth_verify(const struct rh_auth_request *req, const struct rh_auth_parsed *auth,
		   const char *sk, time_t now)
{
	const char *date = find_header(req, RH_AUTH_HDR_DATE);
	const char *nonce = find_header(req, RH_AUTH_HDR_NONCE);
	char *canon = NULL, *sts = NULL, hex[65];
	time_t t;
	int rc;

	if (!list_has(auth->signed_headers, "host") || !list_has(auth->signed_headers, "x-amz-date"))
		return rh_seterr(RH_ERR_AUTH, "SignedHeaders must include host and x-amz-date");
	if (rh_auth_parse_date(date, &t) < 0)
		return rh_seterr(RH_ERR_AUTH, "%s must be YYYYMMDDTHHMMSSZ (UTC)", RH_AUTH_HDR_DATE);
	if (strncmp(date, auth->scope.date, 8) != 0)
		return rh_seterr(RH_ERR_AUTH, "the credential's date %s is not the day of %s %s",
				 auth->scope.date, RH_AUTH_HDR_DATE, date);
	/* The nonce is optional (curl does not make one), but one that is
	 * sent must be well formed and signed, or it could be swapped. */
	if (nonce != NULL && !nonce_ok(nonce))
		return rh_seterr(RH_ERR_AUTH, "%s must be 16 to 64 characters of A-Z a-z 0-9 _ -",
				 RH_AUTH_HDR_NONCE);
	if (nonce != NULL && !list_has(auth->signed_headers, "x-rehost-nonce"))
		return rh_seterr(RH_ERR_AUTH, "%s is sent but not signed (add it to SignedHeaders)",
				 RH_AUTH_HDR_NONCE);
	rc = rh_auth_canonical(req, auth->signed_headers, &canon);
	if (rc == 0)
		rc = rh_auth_string_to_sign(date, &auth->scope, canon, &sts);
	if (rc == 0)
		rc = rh_auth_signature_hex(sk, &auth->scope, sts, hex);
	if (rc == 0 && CRYPTO_memcmp(hex, auth->signature, 64) != 0)
		rc = rh_seterr(RH_ERR_AUTH, "signature does not match: check the secret key and "
			       "how the request is canonicalised (docs/api.md)");
	if (rc == 0 && (t > now + RH_AUTH_MAX_SKEW || t < now - RH_AUTH_MAX_SKEW))
		rc = rh_seterr(RH_ERR_CLOCK, "request time %s differs from the server's by %lld s "
			       "(more than %d s)", date, (long long)(t > now ? t - now : now - t),
			       RH_AUTH_MAX_SKEW);
	free(canon);
	free(sts);
	return rc;
}

int rh_auth_sign(const char *ak, const char *sk, const char *region, const char *method,
		 const char *path_query, const char *host, const void *body, size_t body_len,
		 time_t now, const char *nonce, struct rh_auth_signed *out)
{
	static const char signed_headers[] = "host;x-amz-date;x-rehost-nonce";
	struct rh_auth_scope scope = { .service = RH_AUTH_SERVICE };
	struct rh_auth_pair *q = NULL, headers[3];
	struct rh_auth_request req = { 0 };
	const char *qm = strchr(path_query, '?');
	char *storage = NULL, *path = NULL, *canon = NULL, *sts = NULL, sig[65];
	size_t nq = 0;
	int rc, n;

	memset(out, 0, sizeof *out);
	rh_auth_format_date(now, out->date, sizeof out->date);
	memcpy(scope.date, out->date, 8);
	if (region == NULL)
		region = RH_AUTH_DEFAULT_REGION;
	if (strlen(region) >= sizeof scope.region)
		return rh_seterr(RH_ERR_INVAL, "region '%s' too long", region);
	snprintf(scope.region, sizeof scope.region, "%s", region);
	if (nonce != NULL) {
		snprintf(out->nonce, sizeof out->nonce, "%s", nonce);
	} else {
		unsigned char r[16];

		if (RAND_bytes(r, sizeof r) != 1)
			return rh_seterr(RH_ERR_INTERNAL, "random generator failed");
		to_hex(r, sizeof r, out->nonce);
	}
	path = qm ? strndup(path_query, (size_t)(qm - path_query)) : strdup(path_query);
	if (path == NULL)
		return rh_seterr(RH_ERR_NOMEM, "path");
	rc = rh_auth_query_parse(qm ? qm + 1 : NULL, &q, &nq, &storage);
	if (rc < 0)
		goto out;
	headers[0] = (struct rh_auth_pair){ "host", host };
	headers[1] = (struct rh_auth_pair){ RH_AUTH_HDR_DATE, out->date };
	headers[2] = (struct rh_auth_pair){ RH_AUTH_HDR_NONCE, out->nonce };
	req = (struct rh_auth_request){ .method = method, .path = path, .query = q, .nquery = nq,
					.headers = headers, .nheaders = 3, .body = body,
					.body_len = body_len };
	rc = rh_auth_canonical(&req, signed_headers, &canon);
	if (rc == 0)
		rc = rh_auth_string_to_sign(out->date, &scope, canon, &sts);
	if (rc == 0)
		rc = rh_auth_signature_hex(sk, &scope, sts, sig);
	if (rc == 0) {
		n = snprintf(out->authorization, sizeof out->authorization,
			     "%s Credential=%s/%s/%s/%s/%s, SignedHeaders=%s, Signature=%s",
			     RH_AUTH_ALGORITHM, ak, scope.date, scope.region, scope.service,
			     RH_AUTH_TERMINATOR, signed_headers, sig);
		if (n < 0 || (size_t)n >= sizeof out->authorization)
			rc = rh_seterr(RH_ERR_INVAL, "access key too long");
	}
out:
	free(path);
	free(q);
	free(storage);
	free(canon);
	free(sts);
	return rc;
}

int rh_auth_new_key(char ak[RH_AUTH_AK_LEN + 1], char sk[RH_AUTH_SK_LEN + 1])
{
	static const char b32[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
	static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	unsigned char r[RH_AUTH_SK_LEN];

	if (RAND_bytes(r, sizeof r) != 1)
		return rh_seterr(RH_ERR_INTERNAL, "random generator failed");
	memcpy(ak, "RHAK", 4);
	for (int i = 4; i < RH_AUTH_AK_LEN; i++)
		ak[i] = b32[r[i] & 31];
	ak[RH_AUTH_AK_LEN] = '\0';
	if (RAND_bytes(r, sizeof r) != 1)
		return rh_seterr(RH_ERR_INTERNAL, "random generator failed");
	for (int i = 0; i < RH_AUTH_SK_LEN; i++)
		sk[i] = b64[r[i] & 63];
	sk[RH_AUTH_SK_LEN] = '\0';
	OPENSSL_cleanse(r, sizeof r);
	return 0;
}
