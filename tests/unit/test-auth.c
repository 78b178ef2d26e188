/* Unit tests for request signing (AWS Signature Version 4: the AWS test
 * suite's get-vanilla vector and the worked example of docs/api.md),
 * signature checks, Authorization parsing, and sealed secrets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "rehost/auth.h"
#include "rehost/err.h"

#define AK "RHAKEXAMPLE7Q2M4XZPA"
#define SK "wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEY01"
#define HOST "rehost.example:8443"
#define DATE "20261122T213001Z"
#define NONCE "3f2a9c1e7b5d4f60a1b2c3d4e5f60718"

static time_t example_time(void)
{
	time_t t;

	assert_int_equal(rh_auth_parse_date(DATE, &t), 0);
	return t;
}

/* "get-vanilla" of AWS's Signature Version 4 test suite: the derivation
 * and the string to sign are SigV4's, not merely self-consistent. */
static void test_aws_vector(void **state)
{
	struct rh_auth_pair h[] = { { "Host", "example.amazonaws.com" },
				    { "X-Amz-Date", "20150830T123600Z" } };
	struct rh_auth_request req = { "GET", "/", NULL, 0, h, 2, NULL, 0, false };
	struct rh_auth_scope scope = { "20150830", "us-east-1", "service" };
	char *canon = NULL, *sts = NULL, hex[65];

	assert_int_equal(rh_auth_canonical(&req, "host;x-amz-date", &canon), 0);
	assert_int_equal(rh_auth_string_to_sign("20150830T123600Z", &scope, canon, &sts), 0);
	assert_string_equal(sts, "AWS4-HMAC-SHA256\n20150830T123600Z\n"
			    "20150830/us-east-1/service/aws4_request\n"
			    "bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63");
	assert_int_equal(rh_auth_signature_hex("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", &scope,
					       sts, hex), 0);
	assert_string_equal(hex, "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
	free(canon);
	free(sts);
}

/* The values printed in docs/api.md (also made by signclient.py). */
static void test_worked_example(void **state)
{
	struct rh_auth_signed s;
	struct rh_auth_pair q[] = { { "name", "web" }, { "limit", "10" }, { "connection", "connected" } };
	struct rh_auth_pair h[] = { { "Host", HOST }, { "X-Amz-Date", DATE },
				    { "X-Rehost-Nonce", NONCE } };
	struct rh_auth_request req = { "GET", "/v1/sources", q, 3, h, 3, NULL, 0, false };
	struct rh_auth_scope scope = { "20261122", "default", "rehost" };
	char *canon = NULL, *sts = NULL, hex[65];

	assert_int_equal(rh_auth_canonical(&req, "host;x-amz-date;x-rehost-nonce", &canon), 0);
	assert_string_equal(canon,
			    "GET\n"
			    "/v1/sources\n"
			    "connection=connected&limit=10&name=web\n"
			    "host:rehost.example:8443\n"
			    "x-amz-date:20261122T213001Z\n"
			    "x-rehost-nonce:3f2a9c1e7b5d4f60a1b2c3d4e5f60718\n"
			    "\n"
			    "host;x-amz-date;x-rehost-nonce\n"
			    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	assert_int_equal(rh_auth_string_to_sign(DATE, &scope, canon, &sts), 0);
	assert_string_equal(sts, "AWS4-HMAC-SHA256\n20261122T213001Z\n"
			    "20261122/default/rehost/aws4_request\n"
			    "3e9c16ceac6a51693a73a346aca7d9e2d373adeb2b3b5ed90456beab6368fddb");
	assert_int_equal(rh_auth_signature_hex(SK, &scope, sts, hex), 0);
	assert_string_equal(hex, "8a7462066854ed2e0af3717aa6256caff633a8297707b9597fdec2d9720455e8");
	free(canon);
	free(sts);

	assert_int_equal(rh_auth_sign(AK, SK, NULL, "GET",
				      "/v1/sources?name=web&limit=10&connection=connected", HOST, NULL,
				      0, example_time(), NONCE, &s), 0);
	assert_string_equal(s.date, DATE);
	assert_string_equal(s.authorization,
			    "AWS4-HMAC-SHA256 Credential=RHAKEXAMPLE7Q2M4XZPA/20261122/default/rehost/"
			    "aws4_request, SignedHeaders=host;x-amz-date;x-rehost-nonce, "
			    "Signature=8a7462066854ed2e0af3717aa6256caff633a8297707b9597fdec2d9720455e8");
	/* With a body. */
	assert_int_equal(rh_auth_sign(AK, SK, NULL, "POST",
				      "/v1/tasks/task-0123456789abcdef/actions/start", HOST,
				      "{\"note\":\"go\"}", 13, example_time(), NONCE, &s), 0);
	assert_non_null(strstr(s.authorization,
			       "Signature=3177118477233275400aaae1f09e715efbbd78554e16c6ef0c4fa0a89f6b015b"));
}

static void test_canonical_rules(void **state)
{
	struct rh_auth_pair h[] = { { "host", "  a   b  " }, { "x-amz-date", DATE },
				    { "x-rehost-nonce", NONCE }, { "X-Amz-Content-Sha256", "" } };
	struct rh_auth_pair q[] = { { "b", "x y/z" }, { "a", "2" }, { "a", "1" }, { "é", "" } };
	struct rh_auth_request req = { "GET", "/v1/a%20b/c", q, 4, h, 3, NULL, 0, false };
	char *canon = NULL;

	/* The path is encoded twice (SigV4 outside S3): %20 becomes %2520. */
	assert_int_equal(rh_auth_canonical(&req, "host;x-amz-date;x-rehost-nonce", &canon), 0);
	assert_non_null(strstr(canon, "GET\n/v1/a%2520b/c\n%C3%A9=&a=1&a=2&b=x%20y%2Fz\nhost:a b\n"));
	free(canon);
	/* A stated payload hash must be the body's (UNSIGNED-PAYLOAD is refused). */
	req.nheaders = 4;
	h[3].value = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
	assert_int_equal(rh_auth_canonical(&req, "host;x-amz-date", &canon), 0);
	free(canon);
	h[3].value = "UNSIGNED-PAYLOAD";
	assert_int_equal(rh_auth_canonical(&req, "host;x-amz-date", &canon), RH_ERR_AUTH);
	assert_null(canon);
	req.nheaders = 3;
	/* Signed header lists must be sorted, unique, lower case, present. */
	assert_int_equal(rh_auth_canonical(&req, "x-amz-date;host", &canon), RH_ERR_AUTH);
	assert_int_equal(rh_auth_canonical(&req, "host;host", &canon), RH_ERR_AUTH);
	assert_int_equal(rh_auth_canonical(&req, "Host", &canon), RH_ERR_AUTH);
	assert_int_equal(rh_auth_canonical(&req, "host;", &canon), RH_ERR_AUTH);
	assert_int_equal(rh_auth_canonical(&req, "", &canon), RH_ERR_AUTH);
	assert_int_equal(rh_auth_canonical(&req, "host;x-missing", &canon), RH_ERR_AUTH);
	assert_null(canon);
}

static void test_parse_authorization(void **state)
{
	struct rh_auth_parsed p;
#define SIG "75c89fe4970ae1efcbf1c9137d490ce14681b9aeabba0f4a66fd9a81298ba3eb"
#define CRED "Credential=" AK "/20261122/default/rehost/aws4_request"
	static const char *const bad[] = {
		"",
		"Basic abc",
		"AWS4-HMAC-SHA256",
		"AWS4-HMAC-SHA256 " CRED,
		"AWS4-HMAC-SHA256 " CRED ", SignedHeaders=host, Signature=zz",
		"AWS4-HMAC-SHA256 " CRED ", SignedHeaders=host, Signature=" SIG " junk",
		"AWS4-HMAC-SHA256 Signature=" SIG,
		"AWS4-HMAC-SHA256 " CRED ", SignedHeaders=b;a, Signature=" SIG,
		/* The credential scope: every part, the service, the terminator. */
		"AWS4-HMAC-SHA256 Credential=" AK ", SignedHeaders=host, Signature=" SIG,
		"AWS4-HMAC-SHA256 Credential=" AK "/2026112/default/rehost/aws4_request, "
		"SignedHeaders=host, Signature=" SIG,
		"AWS4-HMAC-SHA256 Credential=" AK "/20261122/default/s3/aws4_request, "
		"SignedHeaders=host, Signature=" SIG,
		"AWS4-HMAC-SHA256 Credential=" AK "/20261122/default/rehost/aws4_reques, "
		"SignedHeaders=host, Signature=" SIG,
		"AWS4-HMAC-SHA256 Credential=" AK "/20261122//rehost/aws4_request, "
		"SignedHeaders=host, Signature=" SIG,
		"AWS4-HMAC-SHA256 Credential=" AK "/20261122/Default/rehost/aws4_request, "
		"SignedHeaders=host, Signature=" SIG,
		"AWS4-HMAC-SHA256 Credential=" AK "/20261122/default/rehost/aws4_request/x, "
		"SignedHeaders=host, Signature=" SIG,
		"REHOST-HMAC-SHA256 Credential=" AK ", SignedHeaders=host, Signature=" SIG,
	};

	assert_int_equal(rh_auth_parse_authorization(
		"AWS4-HMAC-SHA256 " CRED ", SignedHeaders=host;x-amz-date;x-rehost-nonce, "
		"Signature=" SIG, &p), 0);
	assert_string_equal(p.ak, AK);
	assert_string_equal(p.scope.date, "20261122");
	assert_string_equal(p.scope.region, "default");
	assert_string_equal(p.scope.service, "rehost");
	assert_string_equal(p.signed_headers, "host;x-amz-date;x-rehost-nonce");
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		assert_int_equal(rh_auth_parse_authorization(bad[i], &p), RH_ERR_AUTH);
	assert_int_equal(rh_auth_parse_authorization(NULL, &p), RH_ERR_AUTH);
}

static int verify(const char *method, const char *path, const char *query_signed,
		  const struct rh_auth_pair *q, size_t nq, const char *body, const char *sk_sign,
		  time_t sign_time, time_t now)
{
	struct rh_auth_signed s;
	struct rh_auth_parsed p;
	struct rh_auth_pair h[3];
	struct rh_auth_request req;
	char pq[256];

	snprintf(pq, sizeof pq, "%s%s%s", path, query_signed ? "?" : "", query_signed ? query_signed : "");
	assert_int_equal(rh_auth_sign(AK, sk_sign, "eu-1", method, pq, HOST, body,
				      body ? strlen(body) : 0, sign_time, NULL, &s), 0);
	assert_int_equal(rh_auth_parse_authorization(s.authorization, &p), 0);
	h[0] = (struct rh_auth_pair){ "Host", HOST };
	h[1] = (struct rh_auth_pair){ "X-Amz-Date", s.date };
	h[2] = (struct rh_auth_pair){ "X-Rehost-Nonce", s.nonce };
	req = (struct rh_auth_request){ method, path, q, nq, h, 3, body, body ? strlen(body) : 0, false };
	return rh_auth_verify(&req, &p, SK, now);
}

static void test_verify(void **state)
{
	struct rh_auth_pair q[] = { { "limit", "10" }, { "name", "a b" } };
	time_t t = example_time();

	/* The server sees decoded pairs in any order; the client signed the raw query. */
	assert_int_equal(verify("GET", "/v1/sources", "name=a+b&limit=10", q, 2, NULL, SK, t, t), 0);
	assert_int_equal(verify("GET", "/v1/sources", "name=a%20b&limit=10", q, 2, NULL, SK, t, t), 0);
	assert_int_equal(verify("POST", "/v1/tasks", NULL, NULL, 0, "{}", SK, t, t), 0);
	/* Forged: another secret, a changed query, a changed body. */
	assert_int_equal(verify("GET", "/v1/sources", "name=a+b&limit=10", q, 2, NULL,
				"forgedforgedforgedforgedforgedforgedforg", t, t), RH_ERR_AUTH);
	assert_string_equal(rh_lasterr_sms(), "SMS.0202");
	assert_int_equal(verify("GET", "/v1/sources", "name=a+b&limit=11", q, 2, NULL, SK, t, t),
			 RH_ERR_AUTH);
	{
		struct rh_auth_signed s;
		struct rh_auth_parsed p;
		struct rh_auth_pair h[] = { { "Host", HOST }, { "X-Amz-Date", NULL },
					    { "X-Rehost-Nonce", NULL } };
		struct rh_auth_request req = { "POST", "/v1/tasks", NULL, 0, h, 3, "{\"a\":2}", 7, false };

		assert_int_equal(rh_auth_sign(AK, SK, NULL, "POST", "/v1/tasks", HOST, "{\"a\":1}", 7, t,
					      NULL, &s), 0);
		h[1].value = s.date;
		h[2].value = s.nonce;
		assert_int_equal(rh_auth_parse_authorization(s.authorization, &p), 0);
		assert_int_equal(rh_auth_verify(&req, &p, SK, t), RH_ERR_AUTH);
		req.body = "{\"a\":1}";
		assert_int_equal(rh_auth_verify(&req, &p, SK, t), 0);
		/* A signed nonce that is missing, or a malformed one. */
		h[2].name = "X-Other";
		assert_int_equal(rh_auth_verify(&req, &p, SK, t), RH_ERR_AUTH);
		h[2].name = "X-Rehost-Nonce";
		h[2].value = "short";
		assert_int_equal(rh_auth_verify(&req, &p, SK, t), RH_ERR_AUTH);
		/* The scope's day must be X-Amz-Date's. */
		h[2].value = s.nonce;
		memcpy(p.scope.date, "20261123", 8);
		assert_int_equal(rh_auth_verify(&req, &p, SK, t), RH_ERR_AUTH);
	}
	{
		/* No nonce at all (curl's way): host and x-amz-date signed. */
		struct rh_auth_pair h[] = { { "Host", HOST }, { "X-Amz-Date", DATE } };
		struct rh_auth_request req = { "GET", "/v1/sources", NULL, 0, h, 2, NULL, 0, false };
		struct rh_auth_scope scope = { "20261122", "default", "rehost" };
		struct rh_auth_parsed p = { .scope = scope };
		char *canon = NULL, *sts = NULL;

		snprintf(p.ak, sizeof p.ak, "%s", AK);
		snprintf(p.signed_headers, sizeof p.signed_headers, "host;x-amz-date");
		assert_int_equal(rh_auth_canonical(&req, p.signed_headers, &canon), 0);
		assert_int_equal(rh_auth_string_to_sign(DATE, &scope, canon, &sts), 0);
		assert_int_equal(rh_auth_signature_hex(SK, &scope, sts, p.signature), 0);
		assert_int_equal(rh_auth_verify(&req, &p, SK, t), 0);
		/* An unsigned nonce header is refused: it could be swapped. */
		{
			struct rh_auth_pair h3[] = { { "Host", HOST }, { "X-Amz-Date", DATE },
						     { "X-Rehost-Nonce", NONCE } };

			req.headers = h3;
			req.nheaders = 3;
			assert_int_equal(rh_auth_verify(&req, &p, SK, t), RH_ERR_AUTH);
		}
		free(canon);
		free(sts);
	}
	/* Clock skew: 15 minutes is fine, more is SMS.0205. */
	assert_int_equal(verify("POST", "/v1/tasks", NULL, NULL, 0, "{}", SK, t - 900, t), 0);
	assert_int_equal(verify("POST", "/v1/tasks", NULL, NULL, 0, "{}", SK, t + 900, t), 0);
	assert_int_equal(verify("POST", "/v1/tasks", NULL, NULL, 0, "{}", SK, t - 901, t), RH_ERR_CLOCK);
	assert_string_equal(rh_lasterr_sms(), "SMS.0205");
	assert_int_equal(verify("POST", "/v1/tasks", NULL, NULL, 0, "{}", SK, t + 3600, t), RH_ERR_CLOCK);
}

static void test_dates_keys(void **state)
{
	char buf[20], ak[RH_AUTH_AK_LEN + 1], sk[RH_AUTH_SK_LEN + 1], ak2[RH_AUTH_AK_LEN + 1];
	time_t t;

	assert_string_equal(rh_auth_format_date(example_time(), buf, sizeof buf), DATE);
	assert_int_equal(rh_auth_parse_date("2026-11-22T21:30:01Z", &t), RH_ERR_PARSE);
	assert_int_equal(rh_auth_parse_date("20261122T213001", &t), RH_ERR_PARSE);
	assert_int_equal(rh_auth_parse_date("20261322T213001Z", &t), RH_ERR_PARSE);
	assert_int_equal(rh_auth_new_key(ak, sk), 0);
	assert_int_equal(strlen(ak), RH_AUTH_AK_LEN);
	assert_int_equal(strlen(sk), RH_AUTH_SK_LEN);
	assert_memory_equal(ak, "RHAK", 4);
	assert_int_equal(rh_auth_new_key(ak2, sk), 0);
	assert_string_not_equal(ak, ak2);
}

static void test_seal(void **state)
{
	unsigned char k1[32] = { 1 }, k2[32] = { 2 };
	char *sealed = NULL, *plain = NULL;

	assert_int_equal(rh_auth_seal(k1, AK, SK, &sealed), 0);
	assert_null(strstr(sealed, SK));
	assert_int_equal(rh_auth_unseal(k1, AK, sealed, &plain), 0);
	assert_string_equal(plain, SK);
	free(plain);
	assert_int_equal(rh_auth_unseal(k2, AK, sealed, &plain), RH_ERR_AUTH);
	assert_int_equal(rh_auth_unseal(k1, "RHAKOTHER", sealed, &plain), RH_ERR_AUTH);
	sealed[10] = sealed[10] == 'A' ? 'B' : 'A';
	assert_int_equal(rh_auth_unseal(k1, AK, sealed, &plain), RH_ERR_AUTH);
	assert_null(plain);
	free(sealed);
	assert_int_equal(rh_auth_unseal(k1, AK, "plain", &plain), RH_ERR_PARSE);
	assert_int_equal(rh_auth_unseal(k1, AK, "v1.@@@@", &plain), RH_ERR_PARSE);
	assert_int_equal(rh_auth_unseal(k1, AK, "v1.", &plain), RH_ERR_PARSE);
}

static void test_master_key(void **state)
{
	char dir[] = "/tmp/rehost-test-auth.XXXXXX", path[64];
	unsigned char k[32], k2[32];
	struct stat stb;
	bool created = false;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/master.key", dir);
	assert_int_equal(rh_auth_master_key_load(path, false, &created, k), RH_ERR_NOTFOUND);
	assert_int_equal(rh_auth_master_key_load(path, true, &created, k), 0);
	assert_true(created);
	assert_int_equal(stat(path, &stb), 0);
	assert_int_equal(stb.st_mode & 0777, 0600);
	assert_int_equal(rh_auth_master_key_load(path, true, &created, k2), 0);
	assert_false(created);
	assert_memory_equal(k, k2, 32);
	assert_int_equal(chmod(path, 0640), 0);
	assert_int_equal(rh_auth_master_key_load(path, true, &created, k2), RH_ERR_PERM);
	unlink(path);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_aws_vector),
		cmocka_unit_test(test_worked_example),
		cmocka_unit_test(test_canonical_rules),
		cmocka_unit_test(test_parse_authorization),
		cmocka_unit_test(test_verify),
		cmocka_unit_test(test_dates_keys),
		cmocka_unit_test(test_seal),
		cmocka_unit_test(test_master_key),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
