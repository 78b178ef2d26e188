/* Unit tests for the task settings table (taskcfg-settings.c): defaults,
 * inventory defaults, and each kind of row's error text, in table order.
 * The expected texts are what the API documents and the seed printed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <jansson.h>

#include "rehost/err.h"
#include "rehost/store.h"

#define TARGET "\"target\": {\"address\": \"h\", \"disks\": [{\"size_bytes\": 1048576}]}"

/* Validate text (with inventory text inv, or none); returns the compact
 * normalised configuration, or the errors as "field: message" lines. */
static char *validate(const char *text, const char *inv_text)
{
	json_t *body = json_loads(text, 0, NULL), *inv = NULL, *out = NULL, *errors = NULL, *e;
	char *res;
	size_t i;
	int rc;

	assert_non_null(body);
	if (inv_text != NULL)
		assert_non_null(inv = json_loads(inv_text, 0, NULL));
	rc = rh_taskcfg_validate(body, inv, &out, &errors);
	if (rc == 0) {
		assert_null(errors);
		res = json_dumps(out, JSON_COMPACT);
	} else {
		size_t len = 0;
		FILE *f = open_memstream(&res, &len);

		assert_int_equal(rc, RH_ERR_INVAL);
		assert_null(out);
		json_array_foreach(errors, i, e)
			fprintf(f, "%s: %s\n", json_string_value(json_object_get(e, "field")),
				json_string_value(json_object_get(e, "message")));
		fclose(f);
	}
	json_decref(body);
	json_decref(inv);
	json_decref(out);
	json_decref(errors);
	return res;
}

static void expect(const char *text, const char *inv, const char *want)
{
	char *got = validate(text, inv);

	assert_string_equal(got, want);
	free(got);
}

static void test_defaults(void **state)
{
	(void)state;
	expect("{\"source_id\": \"s\", " TARGET "}", NULL,
	       "{\"name\":\"\",\"mode\":\"block\",\"target\":{\"address\":\"h\",\"os_type\":\"linux\","
	       "\"firmware\":null,\"disks\":[{\"size_bytes\":1048576}]},\"continuous_sync\":true,"
	       "\"auto_cutover\":false,\"power_on_after_cutover\":true,\"network_check\":false,"
	       "\"compress_threads\":\"auto\",\"buffer_node_bytes\":4194304,"
	       "\"migrate_processes\":1,\"sync_processes\":1,\"exclude_paths\":[],"
	       "\"sync_only_paths\":[],\"sync_exclude_paths\":[],\"rate_limit\":[],\"limits\":{}}");
	/* A one-shot migration cuts over by itself; optional members appear
	 * only when given. */
	expect("{\"name\": \"n\", \"mode\": \"file\", \"continuous_sync\": false, "
	       "\"compress_threads\": 2, \"limits\": {\"cpu_percent\": 50}, "
	       "\"target\": {\"address\": \"h:1\", \"name\": \"t\", \"firmware\": \"uefi\", "
	       "\"memory_bytes\": 0, \"disks\": [{\"size_bytes\": 1048576, \"source\": \"sda\"}]}}",
	       NULL,
	       "{\"name\":\"n\",\"mode\":\"file\",\"target\":{\"address\":\"h:1\",\"name\":\"t\","
	       "\"os_type\":\"linux\",\"firmware\":\"uefi\",\"disks\":[{\"size_bytes\":1048576,"
	       "\"source\":\"sda\"}]},\"continuous_sync\":false,\"auto_cutover\":true,"
	       "\"power_on_after_cutover\":true,\"network_check\":false,\"compress_threads\":2,"
	       "\"buffer_node_bytes\":4194304,\"migrate_processes\":1,\"sync_processes\":1,"
	       "\"exclude_paths\":[],\"sync_only_paths\":[],\"sync_exclude_paths\":[],"
	       "\"rate_limit\":[],\"limits\":{\"cpu_percent\":50}}");
}

static void test_inventory_defaults(void **state)
{
	static const char inv[] = "{\"host\": {\"os_type\": \"windows\", \"firmware\": \"uefi\", "
				  "\"cpus\": 4}, \"recommendation\": {\"mode\": \"file\"}}";
	char *got;

	(void)state;
	got = validate("{" TARGET "}", inv);
	assert_non_null(strstr(got, "\"mode\":\"file\""));
	assert_non_null(strstr(got, "\"os_type\":\"windows\",\"firmware\":\"uefi\""));
	free(got);
	/* A recommendation that is not a mode is reported like a bad value. */
	expect("{" TARGET "}", "{\"recommendation\": {\"mode\": \"auto\"}}",
	       "mode: mode must be \"block\" or \"file\"\n");
}

static void test_errors(void **state)
{
	(void)state;
	expect("{\"source_id\": \"s\", \"bogus\": 1, \"name\": 5, \"mode\": \"x\", "
	       "\"target\": {\"address\": \"a b\", \"os_type\": \"mac\", \"firmware\": 3, "
	       "\"memory_bytes\": -1, \"disks\": [{\"size_bytes\": 1}], \"x\": 1}, "
	       "\"continuous_sync\": \"yes\", \"compress_threads\": 9, "
	       "\"buffer_node_bytes\": 1572864, \"migrate_processes\": 0, "
	       "\"exclude_paths\": [\"rel\"], \"rate_limit\": [{\"mbit_per_s\": 0}], "
	       "\"limits\": {\"cpu_percent\": 0, \"memory_bytes\": 1, \"y\": 2}, "
	       "\"estimate\": {\"bandwidth_mbit_per_s\": 0}}", NULL,
	       "bogus: unknown member 'bogus'\n"
	       "name: name must be a string of at most 255 bytes\n"
	       "mode: mode must be \"block\" or \"file\"\n"
	       "target: unknown member 'target.x'\n"
	       "target.address: target.address must be HOST or HOST:PORT of the target's data listener\n"
	       "target.os_type: target.os_type must be \"linux\" or \"windows\"\n"
	       "target.firmware: target.firmware must be \"bios\" or \"uefi\"\n"
	       "target.memory_bytes: target.memory_bytes must be an integer from 0 to 9223372036854775807 bytes\n"
	       "target.disks[0].size_bytes: target.disks[0].size_bytes must be an integer number of bytes (at least 1 MiB)\n"
	       "continuous_sync: continuous_sync must be true or false\n"
	       "compress_threads: compress_threads must be \"auto\" or 0 (off) to 3 threads\n"
	       "buffer_node_bytes: buffer_node_bytes must be a whole number of MiB (1 to 8 MiB)\n"
	       "migrate_processes: migrate_processes must be an integer from 1 to 4 processes\n"
	       "exclude_paths: exclude_paths[0] must be an absolute path without ','\n"
	       "rate_limit[0]: rate_limit[0].mbit_per_s must be an integer from 1 to 100000 Mbit/s\n"
	       "limits: unknown member 'limits.y'\n"
	       "limits.cpu_percent: limits.cpu_percent must be an integer from 1 to 100 %\n"
	       "limits.memory_bytes: limits.memory_bytes must be an integer from 209715200 to 1048576000 bytes (200 to 1000 MiB)\n"
	       "estimate: estimate must be {\"bandwidth_mbit_per_s\": S > 0, \"utilisation\": U in (0, 1] (default 0.7)}\n");
	expect("{}", NULL, "target: target is required: {\"address\": \"HOST:PORT\", "
	       "\"disks\": [{\"size_bytes\": N}, ...]}\n");
	expect("[]", NULL, ": the task configuration must be a JSON object\n");
	/* null is "absent" except where a value is required. */
	expect("{\"mode\": null, " TARGET "}", NULL, "mode: mode must be \"block\" or \"file\"\n");
	expect("{\"mode\": \"block\", \"sync_only_paths\": [\"/a\"], " TARGET "}", NULL,
	       "exclude_paths: path filters apply to file-level migration only\n");
	expect("{\"limits\": [], \"target\": {\"address\": null, \"disks\": 5}}", NULL,
	       "target.address: target.address must be HOST or HOST:PORT of the target's data listener\n"
	       "target.disks: target.disks must list 1 to 64 disks [{\"size_bytes\": N}]\n"
	       "limits: limits must be an object\n");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_inventory_defaults),
		cmocka_unit_test(test_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
