/* Self-signed server certificate, generated on first start. */
#define RH_LOG_COMPONENT "server"
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <stdbool.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "rehost/err.h"
#include "server/server.h"

static int add_ext(X509 *x, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ex;

	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
	ex = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	if (ex == NULL)
		return -1;
	X509_add_ext(x, ex, -1);
	X509_EXTENSION_free(ex);
	return 0;
}

static int write_pem(const char *path, mode_t mode, EVP_PKEY *key, X509 *cert)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	FILE *f;
	int ok;

	if (fd < 0)
		return rh_seterr_errno(errno, "cannot create %s", path);
	f = fdopen(fd, "w");
	if (f == NULL) {
		close(fd);
		return rh_seterr_errno(errno, "cannot create %s", path);
	}
	ok = key ? PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL) : PEM_write_X509(f, cert);
	if (fclose(f) != 0 || !ok)
		return rh_seterr(RH_ERR_IO, "cannot write %s", path);
	return 0;
}

int tlsgen_self_signed(const char *cert_path, const char *key_path, const char *const *names,
		       size_t n)
{
	EVP_PKEY *key = NULL;
	X509 *x = NULL;
	X509_NAME *subj;
	char san[2048] = "";
	size_t used = 0;
	int rc = 0;

	key = EVP_EC_gen("P-256");
	x = X509_new();
	if (key == NULL || x == NULL) {
		rc = rh_seterr(RH_ERR_INTERNAL, "cannot generate a key");
		goto out;
	}
	X509_set_version(x, 2);
	{
		unsigned char serial[16];
		BIGNUM *bn;

		RAND_bytes(serial, sizeof serial);
		serial[0] &= 0x7f;
		bn = BN_bin2bn(serial, sizeof serial, NULL);
		BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x));
		BN_free(bn);
	}
	X509_gmtime_adj(X509_getm_notBefore(x), -3600);
	X509_gmtime_adj(X509_getm_notAfter(x), 10L * 365 * 24 * 3600);
	X509_set_pubkey(x, key);
	subj = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(subj, "O", MBSTRING_ASC, (const unsigned char *)"rehost", -1, -1, 0);
	X509_NAME_add_entry_by_txt(subj, "CN", MBSTRING_ASC,
				   (const unsigned char *)(n > 0 ? names[0] : "localhost"), -1, -1, 0);
	X509_set_issuer_name(x, subj);
	for (size_t i = 0; i < n && used < sizeof san; i++) {
		unsigned char buf[16];
		bool ip = inet_pton(AF_INET, names[i], buf) == 1 || inet_pton(AF_INET6, names[i], buf) == 1;

		used += (size_t)snprintf(san + used, sizeof san - used, "%s%s:%s", used ? "," : "",
					 ip ? "IP" : "DNS", names[i]);
	}
	if (add_ext(x, NID_subject_alt_name, san) < 0 ||
	    add_ext(x, NID_basic_constraints, "critical,CA:TRUE") < 0 ||
	    add_ext(x, NID_key_usage, "critical,digitalSignature,keyCertSign") < 0 ||
	    add_ext(x, NID_ext_key_usage, "serverAuth") < 0 ||
	    X509_sign(x, key, EVP_sha256()) == 0) {
		rc = rh_seterr(RH_ERR_INTERNAL, "cannot build the certificate (names: %s)", san);
		goto out;
	}
	rc = write_pem(key_path, 0600, key, NULL);
	if (rc == 0)
		rc = write_pem(cert_path, 0644, NULL, x);
out:
	X509_free(x);
	EVP_PKEY_free(key);
	return rc;
}
