/* Unit tests for the rehost.conf parser and schema. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "rehost/config.h"
#include "rehost/err.h"

static struct rh_config *new_cfg(void)
{
	struct rh_config *cfg = NULL;

	assert_int_equal(rh_config_new(&cfg), 0);
	return cfg;
}

static int load(struct rh_config *cfg, const char *text)
{
	return rh_config_load_buffer(cfg, "rehost.conf", text, strlen(text));
}

static void test_defaults(void **state)
{
	struct rh_config *cfg = new_cfg();
	size_t n;
	const char *const *fs;

	assert_int_equal(rh_config_int(cfg, "replication", "buffer_node_mb"), 4);
	assert_int_equal(rh_config_int(cfg, "replication", "compress_threads"), -1);
	assert_int_equal(rh_config_int(cfg, "replication", "port"), 8900);
	assert_int_equal(rh_config_int(cfg, "limits", "cpu_percent"), 0);
	assert_true(rh_config_bool(cfg, "agent", "tls_verify"));
	assert_string_equal(rh_config_str(cfg, "log", "level"), "info");
	fs = rh_config_list(cfg, "linux", "support_filesystem", &n);
	assert_int_equal(n, 6);
	assert_string_equal(fs[0], "ext2");
	assert_string_equal(fs[5], "btrfs");
	assert_null(fs[6]);
	rh_config_free(cfg);
}

static void test_valid_file(void **state)
{
	struct rh_config *cfg = new_cfg();
	const char *origin;

	assert_int_equal(load(cfg,
			      "# comment\n"
			      "; another\n"
			      "\n"
			      "[replication]\n"
			      "  compress_threads = 2  \n"
			      "buffer_node_mb=8\n"
			      "[limits]\r\n"
			      "cpu_percent = 100\r\n"
			      "memory_mb = 200\n"
			      "disk_mbps =\n"
			      "[agent]\n"
			      "tls_verify = no\n"
			      "[log]\n"
			      "level = debug2\n"),
			 0);
	assert_int_equal(rh_config_int(cfg, "replication", "compress_threads"), 2);
	assert_int_equal(rh_config_int(cfg, "replication", "buffer_node_mb"), 8);
	assert_int_equal(rh_config_int(cfg, "limits", "cpu_percent"), 100);
	assert_int_equal(rh_config_int(cfg, "limits", "memory_mb"), 200);
	assert_int_equal(rh_config_int(cfg, "limits", "disk_mbps"), 0);
	assert_false(rh_config_bool(cfg, "agent", "tls_verify"));
	assert_string_equal(rh_config_str(cfg, "log", "level"), "debug2");
	assert_string_equal(rh_config_text(cfg, "replication", "buffer_node_mb", &origin), "8");
	assert_string_equal(origin, "rehost.conf:6");
	rh_config_free(cfg);
}

static void test_keywords(void **state)
{
	struct rh_config *cfg = new_cfg();

	assert_int_equal(load(cfg, "[replication]\ncompress_threads = off\n"), 0);
	assert_int_equal(rh_config_int(cfg, "replication", "compress_threads"), 0);
	assert_int_equal(rh_config_set(cfg, "replication", "compress_threads", "AUTO", "--compress"), 0);
	assert_int_equal(rh_config_int(cfg, "replication", "compress_threads"), -1);
	rh_config_free(cfg);
}

/* Each bad value must be rejected with a message naming the file, line,
 * key, value and the allowed range - and leave the config unchanged. */
struct bad_case {
	const char *text;
	int err;
	const char *expect; /* substring of rh_lasterr() */
};

static void test_bad_values(void **state)
{
	static const struct bad_case cases[] = {
		{ "[replication]\nbuffer_node_mb = 9\n", RH_ERR_RANGE,
		  "rehost.conf:2: [replication] buffer_node_mb = 9: out of range (allowed: 1 to 8 MiB)" },
		{ "[replication]\nbuffer_node_mb = 0\n", RH_ERR_RANGE, "allowed: 1 to 8 MiB" },
		{ "[replication]\ncompress_threads = 4\n", RH_ERR_RANGE,
		  "compress_threads = 4: out of range (allowed: 0 to 3 threads, or auto, or off)" },
		{ "[limits]\ncpu_percent = 101\n", RH_ERR_RANGE,
		  "rehost.conf:2: [limits] cpu_percent = 101: out of range (allowed: 1 to 100 %, or empty for unlimited)" },
		{ "[limits]\ncpu_percent = 0\n", RH_ERR_RANGE, "cpu_percent = 0" },
		{ "[limits]\nmemory_mb = 199\n", RH_ERR_RANGE, "allowed: 200 to 1000 MB" },
		{ "[limits]\nmemory_mb = 1001\n", RH_ERR_RANGE, "memory_mb = 1001" },
		{ "[limits]\ndisk_mbps = 9\n", RH_ERR_RANGE, "allowed: 10 to 1000 MB/s" },
		{ "[limits]\n\n\ndisk_mbps = 5000\n", RH_ERR_RANGE, "rehost.conf:4:" },
		{ "[limits]\ncpu_percent = 50%\n", RH_ERR_INVAL, "cpu_percent = 50%: not a number" },
		{ "[limits]\ncpu_percent = -5\n", RH_ERR_RANGE, "cpu_percent = -5" },
		{ "[limits]\ncpu_percent = 99999999999999999999999\n", RH_ERR_RANGE, "out of range" },
		{ "[replication]\nport = 0x20\n", RH_ERR_INVAL, "not a number" },
		{ "[agent]\ntls_verify = maybe\n", RH_ERR_INVAL, "tls_verify = maybe: not a boolean" },
		{ "[log]\nlevel = loud\n", RH_ERR_INVAL, "level = loud: not allowed (allowed: one of fatal," },
		{ "[replication]\nrate_windows = 08:00-18:00=100, 25:00-01:00=5\n", RH_ERR_PARSE,
		  "rehost.conf:2: [replication] rate_windows = 08:00-18:00=100, 25:00-01:00=5: rate window '25:00-01:00=5': expected HH:MM-HH:MM=MBIT" },
		{ "[nosuch]\n", RH_ERR_PARSE, "rehost.conf:1: unknown section [nosuch]" },
		{ "[limits]\ncpu = 5\n", RH_ERR_PARSE, "rehost.conf:2: unknown key 'cpu' in [limits]" },
		{ "cpu_percent = 5\n", RH_ERR_PARSE, "before any [section]" },
		{ "[limits\n", RH_ERR_PARSE, "malformed section header" },
		{ "[limits]\ncpu_percent\n", RH_ERR_PARSE, "expected 'key = value'" },
		{ "[limits]\ncpu_percent = 5\ncpu_percent = 6\n", RH_ERR_PARSE,
		  "rehost.conf:3: [limits] cpu_percent is already set on line 2" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct rh_config *cfg = new_cfg();
		int rc = load(cfg, cases[i].text);

		if (rc != cases[i].err || strstr(rh_lasterr(), cases[i].expect) == NULL)
			fail_msg("case %zu: rc %d (want %d), message '%s' lacks '%s'", i, rc,
				 cases[i].err, rh_lasterr(), cases[i].expect);
		/* Failed loads change nothing, even keys before the bad line. */
		assert_int_equal(rh_config_int(cfg, "limits", "cpu_percent"), 0);
		assert_int_equal(rh_config_int(cfg, "replication", "buffer_node_mb"), 4);
		rh_config_free(cfg);
	}
}

static void test_atomic_on_error(void **state)
{
	struct rh_config *cfg = new_cfg();

	assert_int_equal(load(cfg, "[replication]\nbuffer_node_mb = 2\n[limits]\nmemory_mb = 5\n"),
			 RH_ERR_RANGE);
	assert_int_equal(rh_config_int(cfg, "replication", "buffer_node_mb"), 4);
	rh_config_free(cfg);
}

static void test_limits(void **state)
{
	struct rh_config *cfg = new_cfg();
	char *big = malloc(RH_CONFIG_MAX_BYTES + 2);
	char line[RH_CONFIG_MAX_LINE + 32];

	assert_non_null(big);
	memset(big, '#', RH_CONFIG_MAX_BYTES + 1);
	assert_int_equal(rh_config_load_buffer(cfg, "big", big, RH_CONFIG_MAX_BYTES + 1),
			 RH_ERR_TOOBIG);
	free(big);
	memset(line, 'x', sizeof line - 1);
	line[sizeof line - 1] = '\0';
	assert_int_equal(load(cfg, line), RH_ERR_PARSE);
	assert_non_null(strstr(rh_lasterr(), "line longer than"));
	assert_int_equal(rh_config_load_buffer(cfg, "nul", "[log]\0x", 7), RH_ERR_PARSE);
	assert_int_equal(rh_config_load_file(cfg, "/nonexistent/rehost.conf"), RH_ERR_NOTFOUND);
	rh_config_free(cfg);
}

static void test_lists(void **state)
{
	struct rh_config *cfg = new_cfg();
	const char *const *items;
	size_t n;

	assert_int_equal(load(cfg, "[linux]\nsupport_filesystem = ext4 , ,xfs,\n"), 0);
	items = rh_config_list(cfg, "linux", "support_filesystem", &n);
	assert_int_equal(n, 2);
	assert_string_equal(items[0], "ext4");
	assert_string_equal(items[1], "xfs");
	assert_int_equal(load(cfg, "[linux]\nfstab_keep_mount_path =\n"), 0);
	items = rh_config_list(cfg, "linux", "fstab_keep_mount_path", &n);
	assert_int_equal(n, 0);
	assert_null(items[0]);
	rh_config_free(cfg);
}

/* Every schema key is documented in docs/config.md (curl test1119 style),
 * so the docs cannot fall behind the code. */
static void test_documented(void **state)
{
	const char *src = getenv("REHOST_SRCDIR");
	const struct rh_cfg_key *schema;
	char path[4096], *doc;
	size_t n, len;
	FILE *f;

	if (src == NULL)
		src = ".";
	snprintf(path, sizeof path, "%s/docs/config.md", src);
	f = fopen(path, "r");
	if (f == NULL)
		fail_msg("cannot open %s (set REHOST_SRCDIR)", path);
	doc = calloc(1, 1 << 20);
	assert_non_null(doc);
	len = fread(doc, 1, (1 << 20) - 1, f);
	fclose(f);
	doc[len] = '\0';
	schema = rh_config_schema(&n);
	for (size_t i = 0; i < n; i++) {
		char needle[256], sect[128];

		snprintf(sect, sizeof sect, "[%s]", schema[i].section);
		snprintf(needle, sizeof needle, "`%s`", schema[i].key);
		if (strstr(doc, sect) == NULL || strstr(doc, needle) == NULL)
			fail_msg("docs/config.md does not document [%s] %s", schema[i].section,
				 schema[i].key);
	}
	free(doc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_valid_file),
		cmocka_unit_test(test_keywords),
		cmocka_unit_test(test_bad_values),
		cmocka_unit_test(test_atomic_on_error),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_lists),
		cmocka_unit_test(test_documented),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
