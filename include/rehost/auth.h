/*
 * Control-plane request authentication: access keys (AK/SK), request
 * signing with AWS Signature Version 4, and encryption of the stored
 * secrets. The scheme, and where rehost narrows it, is in docs/api.md
 * ("Signing requests") with a worked example that tests/unit/test-auth.c
 * checks; `curl --aws-sigv4 aws:amz:REGION:rehost --user AK:SK` speaks it.
 *
 * Canonical request (lines joined by "\n"):
 *   METHOD                  upper case, e.g. POST
 *   CANONICAL_URI           the decoded path, each byte outside
 *                           A-Z a-z 0-9 - . _ ~ / percent-encoded
 *                           (upper-case hex), then encoded once more
 *                           (SigV4's rule for services other than S3)
 *   CANONICAL_QUERY         name=value pairs, each encoded like the path
 *                           (and '/' too), sorted by name then value, joined
 *                           by '&'; empty when there is no query
 *   CANONICAL_HEADERS       "name:value\n" per signed header, names lower
 *                           case and sorted, values trimmed with inner runs
 *                           of blanks collapsed to one space
 *   SIGNED_HEADERS          the names joined by ';'
 *   HEX(SHA256(body))       of the exact body bytes (empty body too)
 * Scope: YYYYMMDD/REGION/rehost/aws4_request (any region name).
 * String to sign: "AWS4-HMAC-SHA256\n" DATE "\n" SCOPE "\n"
 * HEX(SHA256(canonical)).
 * Signing key: HMAC chain "AWS4" SK -> date -> region -> service ->
 * "aws4_request". Signature: HEX(HMAC-SHA256(signing key, string to sign)).
 *
 * Headers: X-Amz-Date (YYYYMMDDTHHMMSSZ, UTC), optionally X-Rehost-Nonce
 * (16-64 of A-Z a-z 0-9 _ -; signed when sent), and
 *   Authorization: AWS4-HMAC-SHA256 Credential=AK/SCOPE,
 *                  SignedHeaders=h1;h2, Signature=HEX
 * host and x-amz-date must be signed.
 */
#ifndef REHOST_AUTH_H
#define REHOST_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define RH_AUTH_ALGORITHM "AWS4-HMAC-SHA256"
#define RH_AUTH_TERMINATOR "aws4_request"
#define RH_AUTH_SERVICE "rehost"          /* the scope's service name */
#define RH_AUTH_DEFAULT_REGION "default"  /* region rehost's own clients sign for */
#define RH_AUTH_HDR_DATE "X-Amz-Date"
#define RH_AUTH_HDR_NONCE "X-Rehost-Nonce"
#define RH_AUTH_HDR_CONTENT_SHA256 "X-Amz-Content-Sha256"
/* Largest clock difference accepted (seed: 15 minutes, SMS.0205). */
#define RH_AUTH_MAX_SKEW 900
/* How long a nonce is remembered: any request it could replay has a date
 * within the skew window on either side. */
#define RH_AUTH_NONCE_TTL (2 * RH_AUTH_MAX_SKEW + 60)
#define RH_AUTH_MAX_HEADER 2048u   /* longest Authorization value accepted */
#define RH_AUTH_MAX_SIGNED 16u     /* most signed headers */
#define RH_AUTH_AK_LEN 20          /* "RHAK" + 16 base32 characters */
#define RH_AUTH_SK_LEN 40          /* base64url characters */

/* A header or a decoded query parameter. Strings are borrowed. */
struct rh_auth_pair {
	const char *name;
	const char *value;
};

/* A request as both sides see it. path is as sent (it is percent-decoded
 * before encoding; '+' stays '+'), or already decoded when path_decoded is
 * set (an HTTP server library hands over decoded paths); query holds
 * decoded pairs. New members only at the end. */
struct rh_auth_request {
	const char *method;
	const char *path;
	const struct rh_auth_pair *query;
	size_t nquery;
	const struct rh_auth_pair *headers; /* looked up case-insensitively */
	size_t nheaders;
	const void *body;
	size_t body_len;
	bool path_decoded;
};

/* The credential scope: YYYYMMDD/REGION/SERVICE/aws4_request. */
struct rh_auth_scope {
	char date[9];     /* YYYYMMDD */
	char region[33];  /* [a-z0-9_-]{1,32} */
	char service[33]; /* RH_AUTH_SERVICE once parsed */
};

/* Parsed Authorization header. */
struct rh_auth_parsed {
	char ak[64];
	struct rh_auth_scope scope;
	char signed_headers[512];
	char signature[65];
};

/* The canonical request for signed_headers ("host;x-amz-date;..."). On
 * success *out is a NUL-terminated string the caller frees. Returns 0,
 * RH_ERR_AUTH (a signed header is missing, the list is malformed, or an
 * X-Amz-Content-Sha256 header is not the body's hash) or RH_ERR_NOMEM. */
int rh_auth_canonical(const struct rh_auth_request *req, const char *signed_headers, char **out);

/* The string to sign for a canonical request (date is the X-Amz-Date
 * value); caller frees *out. */
int rh_auth_string_to_sign(const char *date, const struct rh_auth_scope *scope,
			   const char *canonical, char **out);

/* hex = the signature of sts: HMAC-SHA256 under the key derived from sk
 * and scope; 64 characters + NUL. */
int rh_auth_signature_hex(const char *sk, const struct rh_auth_scope *scope, const char *sts,
			  char hex[65]);

/* hex = HEX(SHA256(data)). */
void rh_auth_sha256_hex(const void *data, size_t len, char hex[65]);

/* Parse "YYYYMMDDTHHMMSSZ". Returns 0 or RH_ERR_PARSE. */
int rh_auth_parse_date(const char *s, time_t *out);
/* Format t the same way into buf (>= 17 bytes). */
char *rh_auth_format_date(time_t t, char *buf, size_t len);

/* Split a raw query string ("a=1&b=%20x", no '?') into decoded pairs
 * ('+' decodes to a space). *pairs and *storage are allocated; the caller
 * frees both with free(). At most 256 pairs. Returns 0, RH_ERR_PARSE or
 * RH_ERR_NOMEM. */
int rh_auth_query_parse(const char *query, struct rh_auth_pair **pairs, size_t *n,
			char **storage);

/* Parse an Authorization value, its credential scope included (the
 * service must be RH_AUTH_SERVICE). Returns 0 or RH_ERR_AUTH with a
 * detail. */
int rh_auth_parse_authorization(const char *value, struct rh_auth_parsed *out);

/* Check a request signed with sk: the signed headers must include host and
 * x-amz-date (and x-rehost-nonce when that header is sent), the scope's
 * date must be X-Amz-Date's day, the signature must match (RH_ERR_AUTH,
 * SMS.0202), then the date must be within RH_AUTH_MAX_SKEW of now
 * (RH_ERR_CLOCK, SMS.0205). Replays are not checked here (see
 * rh_store_nonce_use). */
int rh_auth_verify(const struct rh_auth_request *req, const struct rh_auth_parsed *auth,
		   const char *sk, time_t now);

/* Headers a client sends with a signed request. */
struct rh_auth_signed {
	char date[17];
	char nonce[65];
	char authorization[RH_AUTH_MAX_HEADER];
};

/* Sign a request for region (NULL: RH_AUTH_DEFAULT_REGION): method, path
 * with optional "?query" (raw, as sent), the Host header value, and the
 * body. Signs host, x-amz-date and x-rehost-nonce; nonce NULL = 32 random
 * hex characters. Returns 0, RH_ERR_PARSE (bad query), RH_ERR_INVAL or
 * RH_ERR_NOMEM. */
int rh_auth_sign(const char *ak, const char *sk, const char *region, const char *method,
		 const char *path_query, const char *host, const void *body, size_t body_len,
		 time_t now, const char *nonce, struct rh_auth_signed *out);

/* A new access key pair: ak is RH_AUTH_AK_LEN characters, sk
 * RH_AUTH_SK_LEN (both NUL-terminated). */
int rh_auth_new_key(char ak[RH_AUTH_AK_LEN + 1], char sk[RH_AUTH_SK_LEN + 1]);

/* ---- secrets at rest (AES-256-GCM under a master key) ---- */

#define RH_AUTH_MASTER_KEY_LEN 32

/* Load the master key from path (64 hex characters). With create, a
 * missing file is created with a random key, mode 0600 (*created set).
 * A file that group or others can access is refused (RH_ERR_PERM).
 * Returns 0, RH_ERR_NOTFOUND, RH_ERR_PERM, RH_ERR_PARSE or RH_ERR_IO. */
int rh_auth_master_key_load(const char *path, bool create, bool *created,
			    unsigned char key[RH_AUTH_MASTER_KEY_LEN]);

/* Encrypt plaintext; aad binds it to its context (e.g. the access key id).
 * *out = "v1." base64(iv | ciphertext | tag), caller frees. */
int rh_auth_seal(const unsigned char key[RH_AUTH_MASTER_KEY_LEN], const char *aad,
		 const char *plaintext, char **out);

/* Decrypt what rh_auth_seal wrote with the same key and aad. Returns 0,
 * RH_ERR_PARSE (not a sealed value) or RH_ERR_AUTH (wrong key, wrong aad or
 * tampered). *out is a NUL-terminated string the caller frees. */
int rh_auth_unseal(const unsigned char key[RH_AUTH_MASTER_KEY_LEN], const char *aad,
		   const char *sealed, char **out);

#endif
