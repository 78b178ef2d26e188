/* Unit tests for the control-plane store on SQLite: migrations, keys,
 * nonces, sources, task validation, actions, agent results and progress.
 * (PostgreSQL runs the same code in tests/integration/t-server-pg.sh.) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <unistd.h>
#include <cmocka.h>
#include <sqlite3.h>

#include "rehost/err.h"
#include "rehost/json.h"
#include "rehost/store.h"

static char dir[256];
static char url[300];
static int64_t fake_time = 1790000000;

static int64_t fake_now(void)
{
	return fake_time;
}

static json_t *inventory(void)
{
	const char *src = getenv("REHOST_SRCDIR");
	char path[512];
	json_t *j;

	snprintf(path, sizeof path, "%s/tests/data/api/inventory-web01.json", src ? src : ".");
	j = json_load_file(path, 0, NULL);
	assert_non_null(j);
	return j;
}

static struct rh_store *open_store(void)
{
	struct rh_store *st = NULL;

	assert_int_equal(rh_store_open(url, 2, &st), 0);
	rh_store_set_clock(st, fake_now);
	return st;
}

static int setup(void **state)
{
	snprintf(dir, sizeof dir, "%s/rehost-test-store.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	assert_non_null(mkdtemp(dir));
	snprintf(url, sizeof url, "sqlite:%s/db", dir);
	*state = open_store();
	return 0;
}

static int teardown(void **state)
{
	char cmd[400];

	rh_store_free(*state);
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
	return 0;
}

static void test_open_migrations(void **state)
{
	struct rh_store *st = *state, *st2 = NULL;
	int64_t v = 0;
	sqlite3 *db;
	char path[300];

	assert_int_equal(rh_store_schema_version(st, &v), 0);
	assert_int_equal(v, RH_STORE_SCHEMA_VERSION);
	assert_string_equal(rh_store_backend(st), "sqlite");
	/* Opening again applies nothing and keeps the version. */
	st2 = open_store();
	assert_int_equal(rh_store_schema_version(st2, &v), 0);
	assert_int_equal(v, RH_STORE_SCHEMA_VERSION);
	rh_store_free(st2);
	/* A database from a newer rehost is refused. */
	snprintf(path, sizeof path, "%s/db", dir);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "INSERT INTO schema_migrations VALUES (99, 'future', 0)",
				      NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(rh_store_open(url, 1, &st2), RH_ERR_UNSUPPORTED);
	assert_non_null(strstr(rh_lasterr(), "newer"));
	assert_null(st2);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "DELETE FROM schema_migrations WHERE version = 99", NULL,
				      NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	/* Bad urls. */
	assert_int_equal(rh_store_open("mysql://x", 1, &st2), RH_ERR_INVAL);
	assert_int_equal(rh_store_open("sqlite:", 1, &st2), RH_ERR_INVAL);
	assert_int_equal(rh_store_open("sqlite:/nonexistent-dir/x/db", 1, &st2), RH_ERR_IO);
}

static void test_keys_nonces(void **state)
{
	struct rh_store *st = *state;
	struct rh_store_key k = { .ak = "RHAKTEST", .tenant = "acme", .secret_enc = "v1.xyz",
				  .description = "ops", .enabled = true, .created_at = 5 }, g;
	json_t *list;

	assert_int_equal(rh_store_key_add(st, &k), 0);
	assert_int_equal(rh_store_key_add(st, &k), RH_ERR_EXISTS);
	assert_int_equal(rh_store_key_get(st, "RHAKTEST", &g), 0);
	assert_string_equal(g.tenant, "acme");
	assert_string_equal(g.secret_enc, "v1.xyz");
	assert_true(g.enabled);
	rh_store_key_release(&g);
	assert_int_equal(rh_store_key_get(st, "NOPE", &g), RH_ERR_NOTFOUND);
	assert_int_equal(rh_store_key_set_enabled(st, "RHAKTEST", false), 0);
	assert_int_equal(rh_store_key_get(st, "RHAKTEST", &g), 0);
	assert_false(g.enabled);
	assert_true(g.disabled_at > 0);
	rh_store_key_release(&g);
	assert_int_equal(rh_store_key_set_enabled(st, "NOPE", true), RH_ERR_NOTFOUND);
	assert_int_equal(rh_store_key_list(st, &list), 0);
	assert_int_equal(json_array_size(list), 1);
	assert_string_equal(json_string_value(json_object_get(json_array_get(list, 0), "state")),
			    "disabled");
	assert_null(json_object_get(json_array_get(list, 0), "secret_enc"));
	json_decref(list);

	assert_int_equal(rh_store_nonce_use(st, "RHAKTEST", "n1", fake_time + 100), 0);
	assert_int_equal(rh_store_nonce_use(st, "RHAKTEST", "n1", fake_time + 100), RH_ERR_EXISTS);
	assert_int_equal(rh_store_nonce_use(st, "OTHER", "n1", fake_time + 100), 0);
	/* After it expired the nonce may be used again. */
	fake_time += 200;
	assert_int_equal(rh_store_nonce_use(st, "RHAKTEST", "n1", fake_time + 100), 0);
	assert_int_equal(rh_store_nonce_use(st, "RHAKTEST", "n1", fake_time + 100), RH_ERR_EXISTS);
}

static json_t *register_source(struct rh_store *st, const char *tenant, const char *agent)
{
	json_t *inv = inventory(), *src = NULL;
	bool created;

	assert_int_equal(rh_store_source_register(st, tenant, agent, "0.1.0", inv, &created, &src), 0);
	json_decref(inv);
	return src;
}

static void test_sources(void **state)
{
	struct rh_store *st = *state;
	json_t *src, *again, *list, *inv = inventory();
	struct rh_source_filter f = { 0 };
	bool created;
	char id[64];

	src = register_source(st, "acme", "agent-1");
	snprintf(id, sizeof id, "%s", json_string_value(json_object_get(src, "id")));
	assert_string_equal(json_string_value(json_object_get(src, "name")), "web01");
	assert_string_equal(json_string_value(json_object_get(src, "connection")), "connected");
	assert_string_equal(json_string_value(json_object_get(src, "firmware")), "bios");
	assert_int_equal(json_integer_value(json_object_get(src, "disk_count")), 2);
	assert_int_equal(json_integer_value(json_object_get(src, "disk_bytes")), 150323855360LL);
	assert_int_equal(json_integer_value(json_object_get(src, "used_bytes")), 26948403200LL);
	json_decref(src);
	/* Same agent: same source, updated. */
	json_object_set_new(json_object_get(inv, "host"), "hostname", json_string("web01b"));
	assert_int_equal(rh_store_source_register(st, "acme", "agent-1", "0.2", inv, &created, &again), 0);
	assert_false(created);
	assert_string_equal(json_string_value(json_object_get(again, "id")), id);
	assert_string_equal(json_string_value(json_object_get(again, "name")), "web01b");
	json_decref(again);
	/* Another tenant does not see it. */
	assert_int_equal(rh_store_source_get(st, "other", id, false, &again), RH_ERR_NOTFOUND);
	assert_int_equal(rh_store_source_get(st, "acme", id, true, &again), 0);
	assert_true(json_is_object(json_object_get(again, "inventory")));
	json_decref(again);
	/* Bad inventories. */
	json_object_set_new(json_object_get(inv, "host"), "firmware", json_string("coreboot"));
	assert_int_equal(rh_store_source_register(st, "acme", "agent-2", NULL, inv, &created, &again),
			 RH_ERR_INVAL);
	assert_non_null(strstr(rh_lasterr(), "firmware"));
	json_object_set_new(inv, "disks", json_string("x"));
	assert_int_equal(rh_store_source_register(st, "acme", "agent-2", NULL, inv, &created, &again),
			 RH_ERR_INVAL);
	assert_int_equal(rh_store_source_register(st, "acme", "", NULL, inv, &created, &again),
			 RH_ERR_INVAL);
	json_decref(inv);
	/* Connection state follows heartbeats. */
	fake_time += 1000;
	f.connection = RH_CONN_DISCONNECTED;
	assert_int_equal(rh_store_source_list(st, "acme", &f, 10, 0, &list), 0);
	assert_int_equal(json_integer_value(json_object_get(list, "total")), 1);
	json_decref(list);
	assert_int_equal(rh_store_source_heartbeat(st, "acme", id), 0);
	assert_int_equal(rh_store_source_list(st, "acme", &f, 10, 0, &list), 0);
	assert_int_equal(json_integer_value(json_object_get(list, "total")), 0);
	json_decref(list);
	assert_int_equal(rh_store_source_heartbeat(st, "acme", "src-none"), RH_ERR_NOTFOUND);
	f.connection = RH_CONN_ANY;
	f.name = "web";
	assert_int_equal(rh_store_source_list(st, "acme", &f, 10, 0, &list), 0);
	assert_int_equal(json_array_size(json_object_get(list, "items")), 1);
	json_decref(list);
	f.name = "db";
	assert_int_equal(rh_store_source_list(st, "acme", &f, 10, 0, &list), 0);
	assert_int_equal(json_array_size(json_object_get(list, "items")), 0);
	json_decref(list);
	assert_int_equal(rh_store_source_list(st, "acme", NULL, 0, 0, &list), RH_ERR_RANGE);
	assert_int_equal(rh_store_source_delete(st, "acme", id), 0);
	assert_int_equal(rh_store_source_delete(st, "acme", id), RH_ERR_NOTFOUND);
}

static void test_source_limit(void **state)
{
	struct rh_store *st = *state;
	json_t *inv = inventory(), *src, *list;
	bool created;
	char agent[32];

	for (int i = 0; i < RH_STORE_MAX_SOURCES; i++) {
		snprintf(agent, sizeof agent, "agent-%04d", i);
		json_object_set_new(json_object_get(inv, "host"), "hostname", json_string(agent));
		assert_int_equal(rh_store_source_register(st, "big", agent, NULL, inv, &created, &src), 0);
		json_decref(src);
	}
	assert_int_equal(rh_store_source_register(st, "big", "one-more", NULL, inv, &created, &src),
			 RH_ERR_TOOBIG);
	assert_non_null(strstr(rh_lasterr(), "1000"));
	/* Re-registering an existing one still works; other tenants are separate. */
	assert_int_equal(rh_store_source_register(st, "big", "agent-0007", NULL, inv, &created, &src), 0);
	json_decref(src);
	assert_int_equal(rh_store_source_register(st, "small", "one-more", NULL, inv, &created, &src), 0);
	json_decref(src);
	/* Pages are disjoint and ordered. */
	assert_int_equal(rh_store_source_list(st, "big", NULL, 1000, 0, &list), 0);
	assert_int_equal(json_array_size(json_object_get(list, "items")), 1000);
	json_decref(list);
	assert_int_equal(rh_store_source_list(st, "big", NULL, 7, 994, &list), 0);
	assert_int_equal(json_array_size(json_object_get(list, "items")), 6);
	assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(list, "items"),
									       5), "name")), "agent-0999");
	json_decref(list);
	json_decref(inv);
}

static json_t *task_body(const char *source_id, const char *extra)
{
	char text[2048];
	json_t *j;

	snprintf(text, sizeof text,
		 "{\"source_id\": \"%s\", \"target\": {\"address\": \"10.0.0.9:8900\", "
		 "\"disks\": [{\"size_bytes\": 42949672960}, {\"size_bytes\": 108447924224}]}%s%s}",
		 source_id, extra ? ", " : "", extra ? extra : "");
	j = json_loads(text, 0, NULL);
	assert_non_null(j);
	return j;
}

static const char *first_code(json_t *errors)
{
	return json_string_value(json_object_get(json_array_get(errors, 0), "code"));
}

static void expect_invalid(struct rh_store *st, const char *sid, const char *extra,
			   const char *target, const char *code, const char *msg)
{
	char text[2048];
	json_t *body, *task = NULL, *errors = NULL;

	if (target != NULL) {
		snprintf(text, sizeof text, "{\"source_id\": \"%s\", \"target\": %s%s%s}", sid, target,
			 extra ? ", " : "", extra ? extra : "");
		body = json_loads(text, 0, NULL);
	} else {
		body = task_body(sid, extra);
	}
	assert_non_null(body);
	assert_int_equal(rh_store_task_create(st, "acme", body, &task, &errors), RH_ERR_INVAL);
	assert_null(task);
	assert_non_null(errors);
	if (code != NULL)
		assert_string_equal(first_code(errors), code);
	else
		assert_null(first_code(errors));
	if (strstr(json_string_value(json_object_get(json_array_get(errors, 0), "message")), msg) == NULL)
		fail_msg("message '%s' lacks '%s'",
			 json_string_value(json_object_get(json_array_get(errors, 0), "message")), msg);
	json_decref(body);
	json_decref(errors);
}

static void test_task_validation(void **state)
{
	struct rh_store *st = *state;
	json_t *src = register_source(st, "acme", "agent-v");
	const char *sid = json_string_value(json_object_get(src, "id"));
	json_t *body, *task = NULL, *errors = NULL;

	expect_invalid(st, sid, NULL, "{\"address\": \"t:8900\", \"disks\": [{\"size_bytes\": 42949672960}]}",
		       "MSG.target-disk-count", "number of target disks");
	expect_invalid(st, sid, NULL, "{\"address\": \"t\", \"disks\": [{\"size_bytes\": 42949672960}, "
		       "{\"size_bytes\": 10737418240}]}", "MSG.target-disk-size", "smaller than");
	expect_invalid(st, sid, NULL, "{\"address\": \"t\", \"firmware\": \"uefi\", \"disks\": "
		       "[{\"size_bytes\": 42949672960}, {\"size_bytes\": 108447924224}]}",
		       "MSG.firmware-mismatch", "source BIOS, target UEFI");
	expect_invalid(st, sid, NULL, "{\"address\": \"t\", \"os_type\": \"windows\", \"disks\": "
		       "[{\"size_bytes\": 42949672960}, {\"size_bytes\": 108447924224}]}",
		       NULL, "OS type");
	expect_invalid(st, sid, NULL, "{\"address\": \"t\", \"disks\": [{\"size_bytes\": 1200000000000},"
		       " {\"size_bytes\": 108447924224}]}", "SMS.6537", "larger than 1 TB");
	expect_invalid(st, sid, "\"buffer_node_bytes\": 16777216", NULL, NULL, "buffer_node_bytes");
	expect_invalid(st, sid, "\"compress_threads\": 4", NULL, NULL, "compress_threads");
	expect_invalid(st, sid, "\"limits\": {\"memory_bytes\": 1}", NULL, NULL, "200 to 1000 MiB");
	expect_invalid(st, sid, "\"mode\": \"file\", \"exclude_paths\": [\"relative\"]", NULL, NULL,
		       "absolute");
	expect_invalid(st, sid, "\"exclude_paths\": [\"/tmp\"]", NULL, NULL, "file-level");
	expect_invalid(st, sid, "\"rate_limit\": [{\"from\": \"25:00\", \"mbit_per_s\": 5}]", NULL,
		       NULL, "HH:MM");
	expect_invalid(st, sid, "\"bogus\": 1", NULL, NULL, "unknown member");
	expect_invalid(st, sid, "\"limits\": {\"cpu_percent\": 4}", NULL, NULL, "0.2 core");
	/* A valid one, with defaults filled in. */
	body = task_body(sid, "\"mode\": \"file\", \"rate_limit\": [{\"from\": \"08:00\", \"to\": "
			 "\"18:00\", \"mbit_per_s\": 100}], \"estimate\": {\"bandwidth_mbit_per_s\": 100}");
	assert_int_equal(rh_store_task_create(st, "acme", body, &task, &errors), 0);
	assert_null(errors);
	assert_string_equal(json_string_value(json_object_get(task, "state")), "configured");
	assert_string_equal(json_string_value(json_object_get(task, "name")), "web01");
	assert_int_equal(json_integer_value(json_object_get(json_object_get(task, "config"),
							    "buffer_node_bytes")), 4194304);
	assert_string_equal(json_string_value(json_object_get(json_object_get(task, "config"),
							      "compress_threads")), "auto");
	/* File level: used bytes of the filesystems (26.9 GB) at 100 Mbit/s, U 0.7. */
	assert_int_equal(json_integer_value(json_object_get(json_object_get(task, "progress"),
							    "total_bytes")), 26948403200LL);
	assert_true(json_real_value(json_object_get(json_object_get(task, "estimate"),
						    "premigration_hours")) == 0.86);
	json_decref(task);
	json_decref(body);
	json_decref(src);
}

static void test_estimates(void **state)
{
	(void)state;
	/* Table 5-1 (U = 70 %). */
	assert_true(fabs(rh_estimate_seconds(100000000000ULL, 100, 0.7) / 3600 - 3.17) < 0.005);
	assert_true(fabs(rh_estimate_seconds(10000000000ULL, 5, 0.7) / 3600 - 6.35) < 0.005);
	assert_true(fabs(rh_estimate_seconds(500000000000ULL, 1000, 0.7) / 3600 - 1.59) < 0.005);
	assert_true(fabs(rh_estimate_seconds(30000000000ULL, 10, 0.7) / 3600 - 9.52) < 0.005);
	assert_true(rh_estimate_seconds(1, 0, 0.7) == 0);
	/* §5.2 example: 100 GB, P = 70 %, S = 100 Mbit/s -> 0.37 h. */
	assert_true(fabs(rh_estimate_remaining_seconds(100000000000ULL, 70, 100) / 3600 - 0.37) < 0.005);
	assert_true(rh_estimate_remaining_seconds(1, 85, 100) == 0);
}

static json_t *take(struct rh_store *st, const char *sid, size_t want)
{
	json_t *j = NULL;

	assert_int_equal(rh_store_commands_take(st, "acme", sid, 16, &j), 0);
	assert_int_equal(json_array_size(json_object_get(j, "commands")), want);
	return j;
}

static void result(struct rh_store *st, const char *sid, json_t *cmds, size_t i, const char *text)
{
	json_t *body = json_loads(text, 0, NULL);
	const char *id = json_string_value(json_object_get(json_array_get(json_object_get(cmds, "commands"), i), "id"));

	assert_int_equal(rh_store_command_result(st, "acme", sid, id, body), 0);
	assert_int_equal(rh_store_command_result(st, "acme", sid, id, body), RH_ERR_STATE);
	json_decref(body);
}

static const char *task_state(struct rh_store *st, const char *tid)
{
	static char buf[64];
	json_t *t;

	assert_int_equal(rh_store_task_get(st, "acme", tid, &t), 0);
	snprintf(buf, sizeof buf, "%s", json_string_value(json_object_get(t, "state")));
	json_decref(t);
	return buf;
}

static void test_task_flow(void **state)
{
	struct rh_store *st = *state;
	json_t *src = register_source(st, "acme", "agent-f");
	char sid[64], tid[64];
	json_t *body, *task, *errors = NULL, *cmds, *patch, *prog;

	snprintf(sid, sizeof sid, "%s", json_string_value(json_object_get(src, "id")));
	json_decref(src);
	body = task_body(sid, NULL);
	assert_int_equal(rh_store_task_create(st, "acme", body, &task, &errors), 0);
	json_decref(body);
	snprintf(tid, sizeof tid, "%s", json_string_value(json_object_get(task, "id")));
	json_decref(task);

	/* Invalid transitions are refused with what is allowed. */
	assert_int_equal(rh_store_task_action(st, "acme", tid, "pause", NULL, &task), RH_ERR_STATE);
	assert_non_null(strstr(rh_lasterr(), "cannot pause a task that is configured"));
	assert_int_equal(rh_store_task_action(st, "acme", tid, "fly", NULL, &task), RH_ERR_INVAL);
	assert_int_equal(rh_store_task_action(st, "acme", tid, "migrated", NULL, &task), RH_ERR_INVAL);
	assert_int_equal(rh_store_task_action(st, "other", tid, "start", NULL, &task), RH_ERR_NOTFOUND);

	/* A disconnected source blocks actions. */
	fake_time += 1000;
	assert_int_equal(rh_store_task_action(st, "acme", tid, "start", NULL, &task), RH_ERR_CONNECT);
	assert_int_equal(rh_store_source_heartbeat(st, "acme", sid), 0);
	assert_int_equal(rh_store_task_action(st, "acme", tid, "start", NULL, &task), 0);
	assert_string_equal(json_string_value(json_object_get(task, "state")), "running");
	assert_int_equal(json_array_size(json_object_get(task, "subtasks")), 3);
	json_decref(task);

	/* Settings: special ones not while running; the rate limit anytime. */
	patch = json_loads("{\"compress_threads\": 2}", 0, NULL);
	assert_int_equal(rh_store_task_update(st, "acme", tid, patch, &task, &errors), RH_ERR_STATE);
	assert_non_null(strstr(rh_lasterr(), "configured, paused or awaiting_sync"));
	json_decref(patch);
	patch = json_loads("{\"rate_limit\": [{\"mbit_per_s\": 50}]}", 0, NULL);
	assert_int_equal(rh_store_task_update(st, "acme", tid, patch, &task, &errors), 0);
	json_decref(task);
	json_decref(patch);

	cmds = take(st, sid, 2); /* start, settings */
	assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(cmds, "commands"), 0), "type")), "start");
	json_decref(take(st, sid, 0));

	/* Progress: the rate is measured over >= 5 s windows. */
	prog = json_pack("{s:s, s:f, s:I, s:I, s:[{s:s, s:s, s:i}]}", "task_id", tid, "percent", 10.0,
			 "total_bytes", (json_int_t)1000000000, "migrated_bytes", (json_int_t)0,
			 "subtasks", "name", "create secure transmission channel", "state", "done",
			 "progress_percent", 100);
	assert_int_equal(rh_store_task_progress(st, "acme", sid, prog), 0);
	json_decref(prog);
	fake_time += 5;
	prog = json_pack("{s:s, s:f, s:I}", "task_id", tid, "percent", 30.0, "migrated_bytes",
			 (json_int_t)250000000);
	assert_int_equal(rh_store_task_progress(st, "acme", sid, prog), 0);
	json_decref(prog);
	assert_int_equal(rh_store_task_get(st, "acme", tid, &task), 0);
	/* 250 MB in 5 s = 400 Mbit/s; 750 MB left -> 15 s. */
	assert_true(json_real_value(json_object_get(json_object_get(task, "progress"), "rate_mbit_per_s")) == 400.0);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(task, "progress"), "remaining_seconds")), 15);
	assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(task, "subtasks"), 0), "state")), "done");
	json_decref(task);
	prog = json_pack("{s:s, s:[{s:s}]}", "task_id", tid, "subtasks", "name", "no such");
	assert_int_equal(rh_store_task_progress(st, "acme", sid, prog), RH_ERR_INVAL);
	json_decref(prog);

	/* The full copy finished: continuous sync (the default). */
	result(st, sid, cmds, 0, "{\"status\": \"done\"}");
	json_decref(cmds);
	assert_string_equal(task_state(st, tid), "continuous_sync");
	/* Pause, then a failure of the resumed work, then resume again. */
	assert_int_equal(rh_store_task_action(st, "acme", tid, "pause", NULL, &task), 0);
	json_decref(task);
	assert_string_equal(task_state(st, tid), "paused");
	assert_int_equal(rh_store_task_action(st, "acme", tid, "resume", NULL, &task), 0);
	assert_string_equal(json_string_value(json_object_get(task, "state")), "continuous_sync");
	json_decref(task);
	cmds = take(st, sid, 2); /* pause, resume */
	result(st, sid, cmds, 1, "{\"status\": \"failed\", \"error\": {\"code\": \"SMS.1807\", "
	       "\"message\": \"Cannot connect target VM\"}}");
	assert_int_equal(rh_store_task_get(st, "acme", tid, &task), 0);
	assert_string_equal(json_string_value(json_object_get(task, "state")), "failed");
	assert_string_equal(json_string_value(json_object_get(task, "phase")), "continuous_sync");
	assert_string_equal(json_string_value(json_object_get(json_object_get(task, "error"), "code")), "SMS.1807");
	assert_non_null(json_string_value(json_object_get(json_object_get(task, "error"), "hint")));
	json_decref(task);
	/* A stale result (the pause) changes nothing. */
	result(st, sid, cmds, 0, "{\"status\": \"done\"}");
	json_decref(cmds);
	assert_string_equal(task_state(st, tid), "failed");
	assert_int_equal(rh_store_task_action(st, "acme", tid, "start", NULL, &task), 0);
	assert_string_equal(json_string_value(json_object_get(task, "state")), "continuous_sync");
	assert_true(json_is_null(json_object_get(task, "error")));
	json_decref(task);
	/* Cutover. */
	assert_int_equal(rh_store_task_action(st, "acme", tid, "cutover", NULL, &task), 0);
	json_decref(task);
	cmds = take(st, sid, 2); /* resume, cutover */
	result(st, sid, cmds, 1, "{\"status\": \"done\"}");
	json_decref(cmds);
	assert_int_equal(rh_store_task_get(st, "acme", tid, &task), 0);
	assert_string_equal(json_string_value(json_object_get(task, "state")), "completed");
	assert_false(json_is_null(json_object_get(task, "finished_at")));
	json_decref(task);
	/* A running task's source cannot be deleted; a completed one's can. */
	assert_int_equal(rh_store_task_action(st, "acme", tid, "delete", NULL, &task), 0);
	assert_null(task);
	assert_int_equal(rh_store_task_get(st, "acme", tid, &task), RH_ERR_NOTFOUND);
}

/* Every statement of an operation failing in turn (busy, I/O error, out
 * of memory): the operation reports the error, leaves nothing half done,
 * and the store works afterwards. */
static void test_fault_injection(void **state)
{
	static const int errs[] = { RH_ERR_IO, RH_ERR_NOMEM };
	struct rh_store *st = *state;
	json_t *src = register_source(st, "acme", "agent-fi"), *body, *task = NULL, *errors = NULL;
	json_t *inv = inventory(), *list;
	char sid[64], tid[64];
	int64_t pending;
	bool created;

	snprintf(sid, sizeof sid, "%s", json_string_value(json_object_get(src, "id")));
	json_decref(src);
	body = task_body(sid, NULL);
	assert_int_equal(rh_store_task_create(st, "acme", body, &task, &errors), 0);
	snprintf(tid, sizeof tid, "%s", json_string_value(json_object_get(task, "id")));
	json_decref(task);
	for (size_t e = 0; e < sizeof errs / sizeof errs[0]; e++) {
		unsigned n;

		/* An action: state, command, subtasks and event in one transaction. */
		for (n = 1; n < 100; n++) {
			rh_store_fail_after(st, n, errs[e]);
			task = NULL;
			if (rh_store_task_action(st, "acme", tid, "start", NULL, &task) == 0)
				break;
			assert_null(task);
			rh_store_fail_after(st, 0, 0);
			assert_string_equal(task_state(st, tid), "configured");
			assert_int_equal(rh_store_commands_pending(st, "acme", sid, &pending), 0);
			assert_int_equal(pending, 0);
		}
		assert_true(n > 3 && n < 100);
		rh_store_fail_after(st, 0, 0);
		json_decref(task);
		assert_string_equal(task_state(st, tid), "running");
		/* Back to configured for the next error kind. */
		assert_int_equal(rh_store_task_action(st, "acme", tid, "pause", NULL, &task), 0);
		json_decref(task);
		assert_int_equal(rh_store_task_action(st, "acme", tid, "clear", NULL, &task), 0);
		json_decref(task);
		json_decref(take(st, sid, 3));

		/* A registration: the source count never moves on failure. */
		for (n = 1; n < 100; n++) {
			char agent[32];

			snprintf(agent, sizeof agent, "fi-%zu", e);
			rh_store_fail_after(st, n, errs[e]);
			src = NULL;
			if (rh_store_source_register(st, "acme", agent, NULL, inv, &created, &src) == 0)
				break;
			rh_store_fail_after(st, 0, 0);
			assert_null(src);
			assert_int_equal(rh_store_source_list(st, "acme", NULL, 100, 0, &list), 0);
			assert_int_equal(json_integer_value(json_object_get(list, "total")), 1 + e);
			json_decref(list);
		}
		rh_store_fail_after(st, 0, 0);
		assert_true(n > 3 && n < 100);
		json_decref(src);
	}
	/* A busy database inside an action is retried, invisibly. */
	for (unsigned n = 1; n < 12; n++) {
		rh_store_fail_after(st, n, RH_ERR_BUSY);
		assert_int_equal(rh_store_task_action(st, "acme", tid, "start", NULL, &task), 0);
		json_decref(task);
		rh_store_fail_after(st, 0, 0);
		assert_int_equal(rh_store_task_action(st, "acme", tid, "pause", NULL, &task), 0);
		json_decref(task);
		assert_int_equal(rh_store_task_action(st, "acme", tid, "clear", NULL, &task), 0);
		json_decref(task);
	}
	json_decref(body);
	json_decref(inv);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_open_migrations, setup, teardown),
		cmocka_unit_test_setup_teardown(test_keys_nonces, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sources, setup, teardown),
		cmocka_unit_test_setup_teardown(test_source_limit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_task_validation, setup, teardown),
		cmocka_unit_test(test_estimates),
		cmocka_unit_test_setup_teardown(test_task_flow, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fault_injection, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
