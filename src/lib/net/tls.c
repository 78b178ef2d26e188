/* TLS 1.3 with a private CA: key generation, contexts, handshake, I/O. */
#define RH_LOG_COMPONENT "tls"
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "rehost/dirs.h"
#include "rehost/err.h"
#include "rehost/log.h"
#include "rehost/tls.h"

#define CERT_DAYS 3650

struct rh_tls_ctx {
	SSL_CTX *ssl;
	enum rh_tls_role role;
};

struct rh_tls_conn {
	SSL *ssl;
	int fd;
	char peer[256];
};

/* The newest OpenSSL error as text, for details; clears the queue. */
static const char *ssl_errstr(void)
{
	static __thread char buf[256];
	unsigned long e = ERR_peek_last_error();

	if (e == 0)
		return "unknown TLS error";
	ERR_error_string_n(e, buf, sizeof buf);
	ERR_clear_error();
	return buf;
}

/* Does the pending OpenSSL error mean "the peer's certificate (or ours, in
 * the peer's eyes) is not trusted"? Those are authentication failures. */
static int ssl_err_is_auth(void)
{
	unsigned long e = ERR_peek_last_error();

	if (ERR_GET_LIB(e) != ERR_LIB_SSL)
		return 0;
	switch (ERR_GET_REASON(e)) {
	case SSL_R_CERTIFICATE_VERIFY_FAILED:
	case SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE:
	case SSL_R_TLSV1_ALERT_UNKNOWN_CA:
	case SSL_R_SSLV3_ALERT_BAD_CERTIFICATE:
	case SSL_R_SSLV3_ALERT_UNSUPPORTED_CERTIFICATE:
	case SSL_R_SSLV3_ALERT_CERTIFICATE_UNKNOWN:
	case SSL_R_TLSV13_ALERT_CERTIFICATE_REQUIRED:
	case SSL_R_TLSV1_ALERT_ACCESS_DENIED:
	case SSL_R_TLSV1_ALERT_DECRYPT_ERROR:
		return 1;
	default:
		return 0;
	}
}

/* ---- key generation ---- */

static int add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX v3;
	X509_EXTENSION *ext;
	int ok;

	X509V3_set_ctx(&v3, issuer, cert, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &v3, nid, value);
	if (ext == NULL)
		return 0;
	ok = X509_add_ext(cert, ext, -1);
	X509_EXTENSION_free(ext);
	return ok;
}

/* Make a certificate for key with subject CN cn, signed by (issuer,
 * issuer_key), or self-signed when issuer is NULL. eku is NULL for the CA. */
static X509 *make_cert(EVP_PKEY *key, const char *cn, X509 *issuer,
		       EVP_PKEY *issuer_key, const char *eku)
{
	X509 *x = X509_new();
	BIGNUM *serial = BN_new();
	int ok = 0;

	if (x == NULL || serial == NULL)
		goto out;
	/* Random 127-bit serials, as RFC 5280 recommends unpredictable ones. */
	if (!BN_rand(serial, 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) ||
	    !BN_to_ASN1_INTEGER(serial, X509_get_serialNumber(x)) ||
	    !X509_set_version(x, 2) ||
	    !X509_gmtime_adj(X509_getm_notBefore(x), -3600) ||
	    !X509_time_adj_ex(X509_getm_notAfter(x), CERT_DAYS, 0, NULL) ||
	    !X509_set_pubkey(x, key) ||
	    !X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
					(const unsigned char *)cn, -1, -1, 0) ||
	    !X509_set_issuer_name(x, X509_get_subject_name(issuer ? issuer : x)))
		goto out;
	if (!add_ext(x, issuer ? issuer : x, NID_subject_key_identifier, "hash") ||
	    !add_ext(x, issuer ? issuer : x, NID_authority_key_identifier, "keyid:always"))
		goto out;
	if (eku == NULL) {
		if (!add_ext(x, x, NID_basic_constraints, "critical,CA:TRUE,pathlen:0") ||
		    !add_ext(x, x, NID_key_usage, "critical,keyCertSign,cRLSign"))
			goto out;
	} else {
		if (!add_ext(x, issuer, NID_basic_constraints, "critical,CA:FALSE") ||
		    !add_ext(x, issuer, NID_key_usage, "critical,digitalSignature") ||
		    !add_ext(x, issuer, NID_ext_key_usage, eku))
			goto out;
	}
	if (!X509_sign(x, issuer_key ? issuer_key : key, EVP_sha256()))
		goto out;
	ok = 1;
out:
	BN_free(serial);
	if (!ok) {
		X509_free(x);
		return NULL;
	}
	return x;
}

/* Create dir/name exclusively with mode and write a PEM object into it. */
static int write_pem(const char *dir, const char *name, mode_t mode,
		     EVP_PKEY *key, X509 *cert)
{
	char path[4096];
	FILE *f;
	int fd, ok;

	snprintf(path, sizeof path, "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	if (fd < 0)
		return rh_seterr_errno(errno, "cannot create %s", path);
	f = fdopen(fd, "w");
	if (f == NULL) {
		close(fd);
		return rh_seterr_errno(errno, "cannot create %s", path);
	}
	ok = key ? PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL)
		 : PEM_write_X509(f, cert);
	ok = (fflush(f) == 0 && fsync(fileno(f)) == 0) && ok;
	if (fclose(f) != 0 || !ok)
		return rh_seterr(RH_ERR_IO, "cannot write %s", path);
	return 0;
}

int rh_tls_keygen(const char *dir)
{
	static const char *const files[] = {
		"ca.pem", "ca.key", "target.pem", "target.key", "agent.pem", "agent.key",
	};
	static const struct { const char *name, *cn, *eku; } leaves[] = {
		{ "target", "rehost-target", "serverAuth" },
		{ "agent", "rehost-agent", "clientAuth" },
	};
	EVP_PKEY *ca_key = NULL, *key = NULL;
	X509 *ca = NULL, *cert = NULL;
	char path[4096], name[64];
	int rc;

	if ((rc = rh_mkdir_parents(dir, 0700, "key directory")) < 0)
		return rc;
	for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
		snprintf(path, sizeof path, "%s/%s", dir, files[i]);
		if (access(path, F_OK) == 0)
			return rh_seterr(RH_ERR_EXISTS,
					 "%s already exists; refusing to overwrite keys (remove the directory's rehost files first)",
					 path);
	}
	ca_key = EVP_EC_gen("P-256");
	if (ca_key == NULL || (ca = make_cert(ca_key, "rehost-ca", NULL, NULL, NULL)) == NULL) {
		rc = rh_seterr(RH_ERR_INTERNAL, "CA generation failed: %s", ssl_errstr());
		goto out;
	}
	if ((rc = write_pem(dir, "ca.key", 0600, ca_key, NULL)) < 0 ||
	    (rc = write_pem(dir, "ca.pem", 0644, NULL, ca)) < 0)
		goto out;
	for (size_t i = 0; i < 2; i++) {
		key = EVP_EC_gen("P-256");
		if (key == NULL ||
		    (cert = make_cert(key, leaves[i].cn, ca, ca_key, leaves[i].eku)) == NULL) {
			rc = rh_seterr(RH_ERR_INTERNAL, "certificate generation failed: %s",
				       ssl_errstr());
			goto out;
		}
		snprintf(name, sizeof name, "%s.key", leaves[i].name);
		if ((rc = write_pem(dir, name, 0600, key, NULL)) < 0)
			goto out;
		snprintf(name, sizeof name, "%s.pem", leaves[i].name);
		if ((rc = write_pem(dir, name, 0644, NULL, cert)) < 0)
			goto out;
		EVP_PKEY_free(key);
		X509_free(cert);
		key = NULL;
		cert = NULL;
	}
	rc = 0;
out:
	EVP_PKEY_free(key);
	X509_free(cert);
	EVP_PKEY_free(ca_key);
	X509_free(ca);
	return rc;
}

/* ---- contexts ---- */

static int check_key_perms(const char *path)
{
	struct stat st;

	if (stat(path, &st) < 0)
		return rh_seterr_errno(errno, "cannot read key %s", path);
	if ((st.st_mode & 077) != 0)
		return rh_seterr(RH_ERR_PERM,
				 "key file %s is accessible by group or others (mode %04o); run: chmod 600 %s",
				 path, (unsigned)(st.st_mode & 07777), path);
	return 0;
}

void rh_tls_ctx_free(struct rh_tls_ctx *ctx)
{
	if (ctx == NULL)
		return;
	SSL_CTX_free(ctx->ssl);
	free(ctx);
}

int rh_tls_ctx_new(enum rh_tls_role role, const char *dir, struct rh_tls_ctx **out)
{
	const char *who = role == RH_TLS_TARGET ? "target" : "agent";
	char cert[4096], key[4096], ca[4096];
	struct rh_tls_ctx *ctx;
	int rc;

	*out = NULL;
	snprintf(cert, sizeof cert, "%s/%s.pem", dir, who);
	snprintf(key, sizeof key, "%s/%s.key", dir, who);
	snprintf(ca, sizeof ca, "%s/ca.pem", dir);
	rc = check_key_perms(key);
	if (rc < 0)
		return rc;
	ctx = calloc(1, sizeof *ctx);
	if (ctx == NULL)
		return RH_ERR_NOMEM;
	ctx->role = role;
	ctx->ssl = SSL_CTX_new(role == RH_TLS_TARGET ? TLS_server_method() : TLS_client_method());
	if (ctx->ssl == NULL) {
		rc = rh_seterr(RH_ERR_NOMEM, "SSL_CTX_new: %s", ssl_errstr());
		goto out;
	}
	SSL_CTX_set_min_proto_version(ctx->ssl, TLS1_3_VERSION);
	if (SSL_CTX_use_certificate_file(ctx->ssl, cert, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx->ssl, key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx->ssl) != 1) {
		rc = rh_seterr(RH_ERR_AUTH, "cannot load %s / %s: %s (create them with rehost keygen)",
			       cert, key, ssl_errstr());
		goto out;
	}
	if (SSL_CTX_load_verify_locations(ctx->ssl, ca, NULL) != 1) {
		rc = rh_seterr(RH_ERR_AUTH, "cannot load CA %s: %s", ca, ssl_errstr());
		goto out;
	}
	SSL_CTX_set_verify(ctx->ssl, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	/* The peer must hold the other role's certificate: a stolen agent key
	 * cannot impersonate a target, nor the reverse. */
	X509_VERIFY_PARAM_set_purpose(SSL_CTX_get0_param(ctx->ssl),
				      role == RH_TLS_TARGET ? X509_PURPOSE_SSL_CLIENT
							    : X509_PURPOSE_SSL_SERVER);
	*out = ctx;
	ctx = NULL;
	rc = 0;
out:
	rh_tls_ctx_free(ctx);
	return rc;
}

/* ---- connections ---- */

void rh_tls_close(struct rh_tls_conn *c)
{
	if (c == NULL)
		return;
	if (c->ssl != NULL) {
		/* close_notify only after a finished handshake: an abandoned
		 * one (deadline, eviction) has nothing to close politely. */
		if (SSL_is_init_finished(c->ssl))
			SSL_shutdown(c->ssl);
		SSL_free(c->ssl);
	}
	ERR_clear_error();
	if (c->fd >= 0)
		close(c->fd);
	free(c);
}

/* The error of a failed SSL_accept/SSL_connect that returned r, classified:
 * an untrusted peer is RH_ERR_AUTH, a receive timeout RH_ERR_TIMEOUT. */
static int handshake_error(struct rh_tls_conn *c, int r)
{
	long vr = SSL_get_verify_result(c->ssl);
	int e = SSL_get_error(c->ssl, r), saved = errno;

	if (vr != X509_V_OK)
		return rh_seterr(RH_ERR_AUTH, "peer certificate rejected: %s",
				 X509_verify_cert_error_string(vr));
	if (ssl_err_is_auth())
		return rh_seterr(RH_ERR_AUTH, "TLS authentication failed: %s", ssl_errstr());
	if (e == SSL_ERROR_SYSCALL && (saved == EAGAIN || saved == EWOULDBLOCK))
		return rh_seterr(RH_ERR_TIMEOUT, "TLS handshake timed out");
	if (e == SSL_ERROR_SYSCALL && ERR_peek_last_error() == 0)
		return rh_seterr(RH_ERR_PROTO, "TLS handshake failed: %s",
				 saved ? strerror(saved) : "connection closed by peer");
	return rh_seterr(RH_ERR_PROTO, "TLS handshake failed: %s", ssl_errstr());
}

/* After a successful handshake: record the verified peer's name. */
static int handshake_done(struct rh_tls_conn *c)
{
	X509 *peer = SSL_get1_peer_certificate(c->ssl);

	if (peer == NULL)
		return rh_seterr(RH_ERR_AUTH, "peer presented no certificate");
	X509_NAME_get_text_by_NID(X509_get_subject_name(peer), NID_commonName, c->peer,
				  sizeof c->peer);
	X509_free(peer);
	return 0;
}

/* A connection object on fd with its SSL, no handshake yet. fd stays the
 * caller's until the handshake succeeds (c->fd is -1 until then). */
static int conn_new(struct rh_tls_ctx *ctx, int fd, struct rh_tls_conn **out)
{
	struct rh_tls_conn *c = calloc(1, sizeof *c);
	int rc;

	*out = NULL;
	if (c == NULL)
		return RH_ERR_NOMEM;
	c->fd = -1;
	c->ssl = SSL_new(ctx->ssl);
	if (c->ssl == NULL || SSL_set_fd(c->ssl, fd) != 1) {
		rc = rh_seterr(RH_ERR_NOMEM, "SSL_new: %s", ssl_errstr());
		SSL_free(c->ssl);
		free(c);
		return rc;
	}
	*out = c;
	return 0;
}

int rh_tls_handshake(struct rh_tls_ctx *ctx, int fd, struct rh_tls_conn **out)
{
	struct rh_tls_conn *c;
	int r, rc;

	*out = NULL;
	if ((rc = conn_new(ctx, fd, &c)) < 0)
		return rc;
	ERR_clear_error();
	errno = 0;
	r = ctx->role == RH_TLS_TARGET ? SSL_accept(c->ssl) : SSL_connect(c->ssl);
	if (r != 1) {
		rc = handshake_error(c, r);
		goto out;
	}
	rc = handshake_done(c);
	if (rc < 0)
		goto out;
	c->fd = fd;
	*out = c;
	return 0;
out:
	if (c->ssl != NULL)
		SSL_free(c->ssl);
	ERR_clear_error();
	free(c);
	return rc;
}

int rh_tls_accept_begin(struct rh_tls_ctx *ctx, int fd, struct rh_tls_conn **out)
{
	struct rh_tls_conn *c;

	int rc;

	*out = NULL;
	if (ctx->role != RH_TLS_TARGET)
		return rh_seterr(RH_ERR_INVAL, "only a target accepts TLS connections");
	if ((rc = conn_new(ctx, fd, &c)) < 0)
		return rc;
	SSL_set_accept_state(c->ssl);
	c->fd = fd;
	*out = c;
	return 0;
}

int rh_tls_accept_step(struct rh_tls_conn *c)
{
	int r;

	ERR_clear_error();
	errno = 0;
	r = SSL_do_handshake(c->ssl);
	if (r == 1)
		return handshake_done(c);
	switch (SSL_get_error(c->ssl, r)) {
	case SSL_ERROR_WANT_READ:
		return RH_TLS_WANT_READ;
	case SSL_ERROR_WANT_WRITE:
		return RH_TLS_WANT_WRITE;
	default:
		return handshake_error(c, r);
	}
}

int rh_tls_fd(const struct rh_tls_conn *c)
{
	return c->fd;
}

static int io_error(struct rh_tls_conn *c, int r, const char *op)
{
	int e = SSL_get_error(c->ssl, r);

	if (e == SSL_ERROR_ZERO_RETURN)
		return rh_seterr(RH_ERR_PROTO, "connection closed by peer during %s", op);
	if (ssl_err_is_auth())
		return rh_seterr(RH_ERR_AUTH, "peer refused our certificate: %s", ssl_errstr());
	if (e == SSL_ERROR_SYSCALL) {
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return rh_seterr(RH_ERR_TIMEOUT, "%s timed out", op);
		if (errno == 0)
			return rh_seterr(RH_ERR_PROTO, "connection closed by peer during %s", op);
		return rh_seterr_errno(errno, "%s", op);
	}
	return rh_seterr(RH_ERR_PROTO, "TLS %s failed: %s", op, ssl_errstr());
}

int rh_tls_read(struct rh_tls_conn *c, void *buf, size_t n)
{
	size_t got;

	while (n > 0) {
		int r;

		ERR_clear_error();
		r = SSL_read_ex(c->ssl, buf, n, &got);
		if (r != 1)
			return io_error(c, r, "read");
		buf = (char *)buf + got;
		n -= got;
	}
	return 0;
}

int rh_tls_write(struct rh_tls_conn *c, const void *buf, size_t n)
{
	size_t put;

	while (n > 0) {
		int r;

		ERR_clear_error();
		r = SSL_write_ex(c->ssl, buf, n, &put);
		if (r != 1)
			return io_error(c, r, "write");
		buf = (const char *)buf + put;
		n -= put;
	}
	return 0;
}

const char *rh_tls_peer_name(const struct rh_tls_conn *c)
{
	return c->peer;
}

bool rh_tls_readable(struct rh_tls_conn *c)
{
	struct pollfd pfd = { .fd = c->fd, .events = POLLIN };

	return SSL_pending(c->ssl) > 0 || poll(&pfd, 1, 0) > 0;
}

void rh_tls_drain(struct rh_tls_conn *c, int timeout_ms)
{
	struct timespec start, now;
	char scratch[16384];

	SSL_shutdown(c->ssl);
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		struct pollfd pfd = { .fd = c->fd, .events = POLLIN };
		long left;
		size_t got;

		clock_gettime(CLOCK_MONOTONIC, &now);
		left = timeout_ms - ((now.tv_sec - start.tv_sec) * 1000 +
				     (now.tv_nsec - start.tv_nsec) / 1000000);
		if (left <= 0)
			return;
		if (SSL_pending(c->ssl) == 0 && poll(&pfd, 1, (int)left) <= 0)
			return;
		ERR_clear_error();
		if (SSL_read_ex(c->ssl, scratch, sizeof scratch, &got) != 1)
			return; /* peer closed or failed: nothing left to protect */
	}
}
