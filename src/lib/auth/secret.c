/* Secrets at rest: the server master key file and AES-256-GCM sealing. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "rehost/auth.h"
#include "rehost/err.h"

#define IV_LEN 12
#define TAG_LEN 16
#define MAX_PLAIN 4096

static int write_new_key(const char *path, unsigned char key[RH_AUTH_MASTER_KEY_LEN])
{
	char hex[2 * RH_AUTH_MASTER_KEY_LEN + 2];
	int fd, rc = 0;

	if (RAND_bytes(key, RH_AUTH_MASTER_KEY_LEN) != 1)
		return rh_seterr(RH_ERR_INTERNAL, "random generator failed");
	for (int i = 0; i < RH_AUTH_MASTER_KEY_LEN; i++)
		snprintf(hex + 2 * i, 3, "%02x", key[i]);
	hex[2 * RH_AUTH_MASTER_KEY_LEN] = '\n';
	hex[2 * RH_AUTH_MASTER_KEY_LEN + 1] = '\0';
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return rh_seterr_errno(errno, "cannot create master key %s", path);
	if (write(fd, hex, strlen(hex)) != (ssize_t)strlen(hex) || fsync(fd) < 0)
		rc = rh_seterr_errno(errno, "cannot write master key %s", path);
	close(fd);
	OPENSSL_cleanse(hex, sizeof hex);
	if (rc < 0)
		unlink(path);
	return rc;
}

int rh_auth_master_key_load(const char *path, bool create, bool *created,
			    unsigned char key[RH_AUTH_MASTER_KEY_LEN])
{
	char buf[2 * RH_AUTH_MASTER_KEY_LEN + 8];
	struct stat stb;
	ssize_t n;
	int fd, rc = 0;

	if (created != NULL)
		*created = false;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0 && errno == ENOENT && create) {
		rc = write_new_key(path, key);
		if (rc == 0 && created != NULL)
			*created = true;
		if (rc != RH_ERR_EXISTS)
			return rc;
		fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW); /* another replica won */
	}
	if (fd < 0)
		return rh_seterr_errno(errno, "cannot open master key %s", path);
	if (fstat(fd, &stb) < 0) {
		rc = rh_seterr_errno(errno, "cannot stat master key %s", path);
		goto out;
	}
	if ((stb.st_mode & 077) != 0) {
		rc = rh_seterr(RH_ERR_PERM, "master key %s is accessible by group or others "
			       "(mode %03o); chmod 600 it", path, (unsigned)(stb.st_mode & 0777));
		goto out;
	}
	n = read(fd, buf, sizeof buf - 1);
	if (n < 0) {
		rc = rh_seterr_errno(errno, "cannot read master key %s", path);
		goto out;
	}
	buf[n] = '\0';
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		buf[--n] = '\0';
	if (n != 2 * RH_AUTH_MASTER_KEY_LEN) {
		rc = rh_seterr(RH_ERR_PARSE, "master key %s must hold 64 hex digits", path);
		goto out;
	}
	for (int i = 0; i < RH_AUTH_MASTER_KEY_LEN; i++) {
		unsigned v;

		if (sscanf(buf + 2 * i, "%2x", &v) != 1) {
			rc = rh_seterr(RH_ERR_PARSE, "master key %s must hold 64 hex digits", path);
			goto out;
		}
		key[i] = (unsigned char)v;
	}
out:
	OPENSSL_cleanse(buf, sizeof buf);
	close(fd);
	return rc;
}

int rh_auth_seal(const unsigned char key[RH_AUTH_MASTER_KEY_LEN], const char *aad,
		 const char *plaintext, char **out)
{
	size_t plen = strlen(plaintext);
	unsigned char raw[IV_LEN + MAX_PLAIN + TAG_LEN];
	EVP_CIPHER_CTX *ctx = NULL;
	int len, rc = 0;
	char *b64 = NULL;

	*out = NULL;
	if (plen > MAX_PLAIN)
		return rh_seterr(RH_ERR_TOOBIG, "secret too long");
	if (RAND_bytes(raw, IV_LEN) != 1)
		return rh_seterr(RH_ERR_INTERNAL, "random generator failed");
	ctx = EVP_CIPHER_CTX_new();
	if (ctx == NULL ||
	    EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, raw) != 1 ||
	    EVP_EncryptUpdate(ctx, NULL, &len, (const unsigned char *)aad, (int)strlen(aad)) != 1 ||
	    EVP_EncryptUpdate(ctx, raw + IV_LEN, &len, (const unsigned char *)plaintext, (int)plen) != 1 ||
	    EVP_EncryptFinal_ex(ctx, raw + IV_LEN + len, &len) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, TAG_LEN, raw + IV_LEN + plen) != 1) {
		rc = rh_seterr(RH_ERR_INTERNAL, "AES-256-GCM encryption failed");
		goto out;
	}
	b64 = malloc(3 + 4 * ((IV_LEN + plen + TAG_LEN + 2) / 3) + 1);
	if (b64 == NULL) {
		rc = rh_seterr(RH_ERR_NOMEM, "secret");
		goto out;
	}
	memcpy(b64, "v1.", 3);
	EVP_EncodeBlock((unsigned char *)b64 + 3, raw, (int)(IV_LEN + plen + TAG_LEN));
	*out = b64;
out:
	OPENSSL_cleanse(raw, sizeof raw);
	EVP_CIPHER_CTX_free(ctx);
	return rc;
}

int rh_auth_unseal(const unsigned char key[RH_AUTH_MASTER_KEY_LEN], const char *aad,
		   const char *sealed, char **out)
{
	unsigned char raw[IV_LEN + MAX_PLAIN + TAG_LEN + 8];
	size_t slen;
	int n, len, plen, rc = 0;
	EVP_CIPHER_CTX *ctx = NULL;
	char *plain = NULL;

	*out = NULL;
	if (sealed == NULL || strncmp(sealed, "v1.", 3) != 0)
		return rh_seterr(RH_ERR_PARSE, "not a sealed secret");
	slen = strlen(sealed + 3);
	if (slen % 4 != 0 || slen / 4 * 3 > sizeof raw)
		return rh_seterr(RH_ERR_PARSE, "not a sealed secret");
	n = EVP_DecodeBlock(raw, (const unsigned char *)sealed + 3, (int)slen);
	if (n < 0)
		return rh_seterr(RH_ERR_PARSE, "not a sealed secret");
	/* EVP_DecodeBlock counts '=' padding as zero bytes. */
	if (slen >= 1 && sealed[3 + slen - 1] == '=')
		n--;
	if (slen >= 2 && sealed[3 + slen - 2] == '=')
		n--;
	if (n < IV_LEN + TAG_LEN)
		return rh_seterr(RH_ERR_PARSE, "not a sealed secret");
	plen = n - IV_LEN - TAG_LEN;
	plain = malloc((size_t)plen + 1);
	ctx = EVP_CIPHER_CTX_new();
	if (plain == NULL || ctx == NULL) {
		rc = rh_seterr(RH_ERR_NOMEM, "secret");
		goto out;
	}
	if (EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, raw) != 1 ||
	    EVP_DecryptUpdate(ctx, NULL, &len, (const unsigned char *)aad, (int)strlen(aad)) != 1 ||
	    EVP_DecryptUpdate(ctx, (unsigned char *)plain, &len, raw + IV_LEN, plen) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, TAG_LEN, raw + IV_LEN + plen) != 1 ||
	    EVP_DecryptFinal_ex(ctx, (unsigned char *)plain + len, &len) != 1) {
		rc = rh_seterr(RH_ERR_AUTH, "cannot decrypt the secret: wrong master key or "
			       "tampered data");
		goto out;
	}
	plain[plen] = '\0';
	if (strlen(plain) != (size_t)plen) {
		rc = rh_seterr(RH_ERR_PARSE, "sealed secret holds a NUL byte");
		goto out;
	}
	*out = plain;
	plain = NULL;
out:
	OPENSSL_cleanse(raw, sizeof raw);
	if (plain != NULL) {
		OPENSSL_cleanse(plain, (size_t)plen + 1);
		free(plain);
	}
	EVP_CIPHER_CTX_free(ctx);
	return rc;
}
