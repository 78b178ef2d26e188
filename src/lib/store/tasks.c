/*
 * Tasks: creation, settings, operator actions, agent results and progress.
 * Every state change goes through rh_task_transition() (lifecycle.c) and
 * an optimistic version check, so two replicas acting on one task at the
 * same moment cannot both win.
 */
#define RH_LOG_COMPONENT "store"
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rehost/checked.h"
#include "rehost/err.h"
#include "rehost/errcat.h"
#include "rehost/log.h"
#include "store-internal.h"

#define ACTION_RETRIES 8

const char task_columns[] =
	"id, source_id, name, state, phase, mode, config, version, current_cmd, progress_centi,"
	" total_bytes, migrated_bytes, rate_bps, error_code, error_message, error_hint,"
	" created_at, updated_at, started_at, finished_at, round_started_at, sample_ms, sample_bytes";
enum { C_ID, C_SOURCE, C_NAME, C_STATE, C_PHASE, C_MODE, C_CONFIG, C_VERSION, C_CMD,
       C_PROGRESS, C_TOTAL, C_MIGRATED, C_RATE, C_ECODE, C_EMSG, C_EHINT, C_CREATED,
       C_UPDATED, C_STARTED, C_FINISHED, C_ROUND, C_SAMPLE_MS, C_SAMPLE_BYTES };

static int64_t now_ms(struct rh_store *st)
{
	struct timespec ts;

	if (st->clock != NULL)
		return st->clock() * 1000;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static json_t *subtasks_doc(struct rh_store *st, struct st_conn *c, const char *task_id)
{
	struct sv p[] = { SVS(task_id) };
	struct st_rows r;
	json_t *a;

	if (st_exec(st, c, "SELECT name, state, progress_centi, started_at, finished_at FROM subtasks"
		    " WHERE task_id = $1 ORDER BY seq", p, 1, &r) < 0)
		return json_array();
	a = json_array();
	for (size_t i = 0; a != NULL && i < r.nrows; i++)
		json_array_append_new(a, json_pack("{s:s, s:s, s:f, s:o, s:o}",
						   "name", st_cell(&r, i, 0),
						   "state", st_cell(&r, i, 1),
						   "progress_percent", st_int(&r, i, 2) / 100.0,
						   "started_at", st_jtime(st_int(&r, i, 3)),
						   "finished_at", st_jtime(st_int(&r, i, 4))));
	st_rows_free(&r);
	return a;
}

json_t *task_doc(struct rh_store *st, struct st_conn *c, const struct st_rows *r, size_t i)
{
	enum rh_task_state state;
	json_t *cfg = st_jdoc(st_cell(r, i, C_CONFIG)), *o, *progress, *err = json_null(), *est;
	int64_t total = st_int(r, i, C_TOTAL), migrated = st_int(r, i, C_MIGRATED);
	int64_t rate = st_int(r, i, C_RATE), started = st_int(r, i, C_STARTED);
	int64_t finished = st_int(r, i, C_FINISHED);
	bool working;

	rh_task_state_parse(st_cell(r, i, C_STATE), &state);
	working = state == RH_TASK_RUNNING || state == RH_TASK_SYNCING ||
		  state == RH_TASK_CONTINUOUS_SYNC || state == RH_TASK_CUTTING_OVER ||
		  state == RH_TASK_TESTING;
	progress = json_pack("{s:f, s:I, s:I, s:f, s:o, s:o}",
			     "percent", st_int(r, i, C_PROGRESS) / 100.0,
			     "total_bytes", (json_int_t)total, "migrated_bytes", (json_int_t)migrated,
			     "rate_mbit_per_s", round(rate / 10000.0) / 100.0,
			     /* §3.4: remaining = (total - migrated) / rate */
			     "remaining_seconds", working && rate > 0 && total > migrated
			     ? json_integer((json_int_t)((total - migrated) * 8 / rate)) : json_null(),
			     "elapsed_seconds", started > 0
			     ? json_integer((json_int_t)((finished > 0 ? finished : st_now(st)) - started))
			     : json_null());
	if (st_cell(r, i, C_ECODE) != NULL || st_cell(r, i, C_EMSG) != NULL)
		err = json_pack("{s:o, s:o, s:o}", "code", st_jstr(st_cell(r, i, C_ECODE)),
				"message", st_jstr(st_cell(r, i, C_EMSG)),
				"hint", st_jstr(st_cell(r, i, C_EHINT)));
	est = json_object_get(cfg, "estimate");
	if (json_is_object(est)) {
		double s = rh_estimate_seconds((uint64_t)total,
			json_number_value(json_object_get(est, "bandwidth_mbit_per_s")),
			json_number_value(json_object_get(est, "utilisation")));

		est = json_pack("{s:I, s:O, s:O, s:I, s:f}", "data_bytes", (json_int_t)total,
				"bandwidth_mbit_per_s", json_object_get(est, "bandwidth_mbit_per_s"),
				"utilisation", json_object_get(est, "utilisation"),
				"premigration_seconds", (json_int_t)llround(s),
				"premigration_hours", round(s / 36.0) / 100.0);
	} else {
		est = json_null();
	}
	o = json_pack("{s:s, s:s, s:s, s:s, s:o, s:s, s:I, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o,"
		      " s:o}",
		      "id", st_cell(r, i, C_ID), "source_id", st_cell(r, i, C_SOURCE),
		      "name", st_cell(r, i, C_NAME), "state", st_cell(r, i, C_STATE),
		      "phase", state == RH_TASK_PAUSED || state == RH_TASK_FAILED
		      ? json_string(st_cell(r, i, C_PHASE)) : json_null(),
		      "mode", st_cell(r, i, C_MODE), "version", (json_int_t)st_int(r, i, C_VERSION),
		      "config", cfg, "progress", progress, "estimate", est, "error", err,
		      "allowed_actions", rh_task_allowed_actions(state),
		      "created_at", st_jtime(st_int(r, i, C_CREATED)),
		      "updated_at", st_jtime(st_int(r, i, C_UPDATED)),
		      "started_at", st_jtime(started), "finished_at", st_jtime(finished));
	if (o != NULL && c != NULL)
		json_object_set_new(o, "subtasks", subtasks_doc(st, c, st_cell(r, i, C_ID)));
	return o;
}

/* Select one task row (locked for update when lock). */
static int task_row(struct rh_store *st, struct st_conn *c, const char *tenant, const char *id,
		    bool lock, struct st_rows *r)
{
	char sql[768];
	struct sv p[] = { SVS(tenant), SVS(id) };
	int rc;

	snprintf(sql, sizeof sql, "SELECT %s FROM tasks WHERE tenant = $1 AND id = $2%s",
		 task_columns, lock ? st->ops->for_update : "");
	rc = st_exec(st, c, sql, p, 2, r);
	if (rc == 0 && r->nrows == 0) {
		st_rows_free(r);
		rc = rh_seterr(RH_ERR_NOTFOUND, "no task %s", id);
	}
	return rc;
}

static int task_fetch_doc(struct rh_store *st, struct st_conn *c, const char *tenant,
			  const char *id, json_t **out)
{
	struct st_rows r;
	int rc;

	*out = NULL;
	rc = task_row(st, c, tenant, id, false, &r);
	if (rc < 0)
		return rc;
	*out = task_doc(st, c, &r, 0);
	st_rows_free(&r);
	return *out ? 0 : rh_seterr(RH_ERR_NOMEM, "task");
}

static int add_event(struct rh_store *st, struct st_conn *c, const char *task_id,
		     const char *event, const char *from, const char *to, const char *detail)
{
	struct sv p[] = { SVS(task_id), SVI(now_ms(st)), SVS(event), SVS(from), SVS(to),
			  SVS(detail) };

	return st_exec(st, c, "INSERT INTO task_events (task_id, at_ms, event, from_state, to_state,"
		       " detail) VALUES ($1, $2, $3, $4, $5, $6)", p, RH_ARRAY_SIZE(p), NULL);
}

/* Subtasks of a round of work (S1 §3.2; Linux names inferred there). */
static int plan_subtasks(struct rh_store *st, struct st_conn *c, const char *task_id,
			 const char *command, const json_t *cfg, const char *mode)
{
	const char *os = strcmp(json_string_value(json_object_get(json_object_get(cfg, "target"),
								  "os_type")) ?: "linux",
				"windows") == 0 ? "Windows" : "Linux";
	const char *level = strcmp(mode, "file") == 0 ? "file-level" : "block-level";
	char names[6][96];
	size_t n = 0;
	struct st_rows r;
	struct sv q[] = { SVS(task_id) };
	int64_t seq;
	int rc;

	if (strcmp(command, "start") == 0) {
		snprintf(names[n++], sizeof names[0], "create secure transmission channel");
		if (json_is_true(json_object_get(cfg, "network_check")))
			snprintf(names[n++], sizeof names[0], "migration network quality evaluation");
		snprintf(names[n++], sizeof names[0], "%s partition formatting", os);
		snprintf(names[n++], sizeof names[0], "%s %s data migration", os, level);
	} else if (strcmp(command, "sync") == 0) {
		snprintf(names[n++], sizeof names[0], "%s %s data sync", os, level);
	} else if (strcmp(command, "cutover") == 0) {
		snprintf(names[n++], sizeof names[0], "%s %s data sync", os, level);
		snprintf(names[n++], sizeof names[0], "%s configuration modification", os);
		snprintf(names[n++], sizeof names[0], "create cutover snapshot");
		snprintf(names[n++], sizeof names[0], "start target");
	} else if (strcmp(command, "test") == 0) {
		snprintf(names[n++], sizeof names[0], "test boot of the target");
	}
	if (n == 0)
		return 0;
	rc = st_exec(st, c, "SELECT COALESCE(MAX(seq), 0) FROM subtasks WHERE task_id = $1", q, 1, &r);
	if (rc < 0)
		return rc;
	seq = st_int(&r, 0, 0);
	st_rows_free(&r);
	for (size_t i = 0; i < n && rc == 0; i++) {
		struct sv p[] = { SVS(task_id), SVI(seq + 1 + (int64_t)i), SVS(names[i]) };

		rc = st_exec(st, c, "INSERT INTO subtasks (task_id, seq, name, state) "
			     "VALUES ($1, $2, $3, 'pending')", p, 3, NULL);
	}
	return rc;
}

int task_queue_command(struct rh_store *st, struct st_conn *c, const char *tenant,
		       const char *source_id, const char *task_id, const char *type,
		       const json_t *payload, char *id_out, size_t id_len)
{
	char id[40], *text;
	int64_t ms;
	int rc;

	rc = st_new_id("cmd", id, sizeof id);
	if (rc < 0)
		return rc;
	/* Commands are delivered in created_ms order: make it strictly
	 * increasing per source even when two land in the same millisecond. */
	{
		struct sv p[] = { SVS(source_id) };
		struct st_rows r;

		rc = st_exec(st, c, "SELECT COALESCE(MAX(created_ms), 0) FROM commands WHERE source_id = $1",
			     p, 1, &r);
		if (rc < 0)
			return rc;
		ms = st_int(&r, 0, 0) + 1;
		st_rows_free(&r);
		if (now_ms(st) > ms)
			ms = now_ms(st);
	}
	text = st_dump(payload);
	if (text == NULL)
		return rh_seterr(RH_ERR_NOMEM, "command");
	{
		struct sv p[] = { SVS(id), SVS(tenant), SVS(source_id), SVS(task_id), SVS(type),
				  SVS(text), SVI(ms) };

		rc = st_exec(st, c, "INSERT INTO commands (id, tenant, source_id, task_id, type, payload,"
			     " state, created_ms) VALUES ($1, $2, $3, $4, $5, $6, 'pending', $7)",
			     p, RH_ARRAY_SIZE(p), NULL);
	}
	free(text);
	if (rc == 0 && id_out != NULL)
		snprintf(id_out, id_len, "%s", id);
	return rc;
}

static void notify(struct rh_store *st, const char *source_id)
{
	void (*hook)(void *, const char *);
	void *arg;

	pthread_mutex_lock(&st->lock);
	hook = st->cmd_hook;
	arg = st->cmd_hook_arg;
	pthread_mutex_unlock(&st->lock);
	if (hook != NULL)
		hook(arg, source_id);
}

/* ---- create, get, list ---- */

int rh_store_task_create(struct rh_store *st, const char *tenant, const json_t *body,
			 json_t **out, json_t **errors)
{
	const char *source_id = json_string_value(json_object_get(body, "source_id"));
	struct st_conn *c = NULL;
	struct st_rows r = { 0 };
	json_t *inv = NULL, *cfg = NULL;
	char id[40], *text = NULL;
	const char *name, *mode;
	int64_t now = st_now(st);
	int rc;

	*out = NULL;
	*errors = NULL;
	if (source_id == NULL) {
		*errors = json_pack("[{s:s, s:n, s:s}]", "field", "source_id", "code", "message",
				    "source_id is required");
		return rh_seterr(RH_ERR_INVAL, "invalid task configuration: source_id is required");
	}
	rc = st_acquire(st, &c);
	if (rc < 0)
		return rc;
	{
		struct sv p[] = { SVS(tenant), SVS(source_id) };

		rc = st_exec(st, c, "SELECT inventory, name FROM sources WHERE tenant = $1 AND id = $2",
			     p, 2, &r);
	}
	if (rc == 0 && r.nrows == 0)
		rc = rh_seterr(RH_ERR_NOTFOUND, "no source %s", source_id);
	if (rc < 0)
		goto out;
	inv = st_jdoc(st_cell(&r, 0, 0));
	rc = rh_taskcfg_validate(body, inv, &cfg, errors);
	if (rc < 0)
		goto out;
	name = json_string_value(json_object_get(cfg, "name"));
	if (name == NULL || *name == '\0') {
		json_object_set_new(cfg, "name", json_string(st_cell(&r, 0, 1)));
		name = json_string_value(json_object_get(cfg, "name"));
	}
	mode = json_string_value(json_object_get(cfg, "mode"));
	text = st_dump(cfg);
	rc = text ? st_new_id("task", id, sizeof id) : rh_seterr(RH_ERR_NOMEM, "task");
	if (rc < 0)
		goto out;
	{
		struct sv p[] = { SVS(id), SVS(tenant), SVS(source_id), SVS(name), SVS(mode),
				  SVS(text), SVI(now), SVI((int64_t)rh_taskcfg_data_bytes(inv, mode)) };

		rc = st_begin(st, c);
		if (rc == 0)
			rc = st_exec(st, c,
				     "INSERT INTO tasks (id, tenant, source_id, name, state, phase, mode,"
				     " config, version, total_bytes, created_at, updated_at) VALUES ($1,"
				     " $2, $3, $4, 'configured', 'configured', $5, $6, 1, $8, $7, $7)",
				     p, RH_ARRAY_SIZE(p), NULL);
		if (rc == 0)
			rc = add_event(st, c, id, "create", "", "configured", NULL);
		if (rc == 0)
			rc = task_fetch_doc(st, c, tenant, id, out);
		if (rc == 0)
			rc = st_commit(st, c);
		else
			st_rollback(st, c);
		if (rc < 0) {
			json_decref(*out);
			*out = NULL;
		}
	}
out:
	st_release(st, c, rc);
	st_rows_free(&r);
	json_decref(inv);
	json_decref(cfg);
	free(text);
	return rc;
}

int rh_store_task_get(struct rh_store *st, const char *tenant, const char *id, json_t **out)
{
	struct st_conn *c;
	int rc;

	rc = st_acquire(st, &c);
	if (rc < 0)
		return rc;
	rc = task_fetch_doc(st, c, tenant, id, out);
	st_release(st, c, rc);
	return rc;
}

int rh_store_task_events(struct rh_store *st, const char *tenant, const char *id, json_t **out)
{
	struct sv p[] = { SVS(tenant), SVS(id) };
	struct st_conn *c;
	struct st_rows r = { 0 };
	json_t *items;
	int rc;

	*out = NULL;
	rc = st_acquire(st, &c);
	if (rc < 0)
		return rc;
	rc = st_exec(st, c, "SELECT id FROM tasks WHERE tenant = $1 AND id = $2", p, 2, &r);
	if (rc == 0 && r.nrows == 0)
		rc = rh_seterr(RH_ERR_NOTFOUND, "no task %s", id);
	st_rows_free(&r);
	if (rc == 0)
		rc = st_exec(st, c, "SELECT at_ms, event, from_state, to_state, detail FROM"
			     " (SELECT * FROM task_events WHERE task_id = $2 ORDER BY at_ms DESC LIMIT 1000)"
			     " AS recent ORDER BY at_ms", p, 2, &r);
	st_release(st, c, rc);
	if (rc < 0)
		return rc;
	items = json_array();
	for (size_t i = 0; items != NULL && i < r.nrows; i++)
		json_array_append_new(items, json_pack("{s:o, s:s, s:s, s:s, s:o}",
						       "at", st_jtime(st_int(&r, i, 0) / 1000),
						       "event", st_cell(&r, i, 1),
						       "from", st_cell(&r, i, 2), "to", st_cell(&r, i, 3),
						       "detail", st_jstr(st_cell(&r, i, 4))));
	st_rows_free(&r);
	*out = json_pack("{s:o}", "items", items);
	return *out ? 0 : rh_seterr(RH_ERR_NOMEM, "events");
}

static json_t *task_list_doc(struct rh_store *st, const struct st_rows *r, size_t row)
{
	return task_doc(st, NULL, r, row);
}

int rh_store_task_list(struct rh_store *st, const char *tenant, const char *state,
		       const char *source_id, int64_t limit, int64_t offset, json_t **out)
{
	static const char cond[] = " FROM tasks WHERE tenant = $1 AND ($2 = '' OR state = $2)"
				   " AND ($3 = '' OR source_id = $3)";
	struct sv p[] = { SVS(tenant), SVS(state ? state : ""), SVS(source_id ? source_id : ""),
			  SVI(limit), SVI(offset) };
	int rc;

	*out = NULL;
	if (limit < 1 || limit > RH_STORE_MAX_PAGE || offset < 0)
		return rh_seterr(RH_ERR_RANGE, "limit must be 1 to %d and offset >= 0",
				 RH_STORE_MAX_PAGE);
	if (state != NULL && *state != '\0') {
		enum rh_task_state s;

		rc = rh_task_state_parse(state, &s);
		if (rc < 0)
			return rc;
	}
	return st_list_page(st, task_columns, cond, " ORDER BY created_at DESC, id LIMIT $4 OFFSET $5",
			    p, RH_ARRAY_SIZE(p), limit, offset, task_list_doc, "task list", out);
}

/* ---- state changes ---- */

/* 0 when the source has a recent heartbeat, 1 when not, or a database
 * error. */
static int source_disconnected(struct rh_store *st, struct st_conn *c, const char *source_id)
{
	struct sv p[] = { SVS(source_id) };
	struct st_rows r;
	int rc;

	rc = st_exec(st, c, "SELECT heartbeat_at FROM sources WHERE id = $1", p, 1, &r);
	if (rc < 0)
		return rc;
	rc = r.nrows > 0 && st_int(&r, 0, 0) >= st_now(st) - st->heartbeat_timeout ? 0 : 1;
	st_rows_free(&r);
	return rc;
}

/* Apply one transition to the locked task row r. cmd_args: extra payload for
 * the command (borrowed, may be NULL). error: for RH_EV_FAILED. Writes the
 * new row, the command, subtasks and the event. *queued says whether a
 * command was queued. Returns RH_ERR_BUSY when the version moved on. */
static int task_transition_row(struct rh_store *st, struct st_conn *c, const char *tenant,
			      const struct st_rows *r, enum rh_task_event ev, const json_t *cmd_args,
			      const json_t *error, bool check_connected, bool *queued,
			      bool *deleted)
{
	enum rh_task_state state, phase;
	struct rh_task_step step;
	json_t *cfg = st_jdoc(st_cell(r, 0, C_CONFIG)), *payload = NULL;
	const char *id = st_cell(r, 0, C_ID), *source_id = st_cell(r, 0, C_SOURCE);
	char cmd_id[40] = "";
	const char *ecode = NULL, *emsg = NULL, *ehint = NULL;
	int64_t now = st_now(st);
	int rc;

	*queued = false;
	*deleted = false;
	rh_task_state_parse(st_cell(r, 0, C_STATE), &state);
	rh_task_state_parse(st_cell(r, 0, C_PHASE), &phase);
	rc = rh_task_transition(state, phase, ev, json_is_true(json_object_get(cfg, "continuous_sync")),
				json_is_true(json_object_get(cfg, "auto_cutover")), &step);
	if (rc < 0)
		goto out;
	if (check_connected && step.command != NULL &&
	    (rc = source_disconnected(st, c, source_id)) != 0) {
		if (rc < 0)
			goto out;
		rc = rh_seterr(RH_ERR_CONNECT, "the source %s is disconnected: its agent has not sent "
			       "a heartbeat for %" PRId64 " s; start or reconnect the agent, then retry",
			       source_id, st->heartbeat_timeout);
		goto out;
	}
	if (step.command != NULL) {
		payload = json_pack("{s:s, s:s, s:s, s:s, s:O}", "task_id", id,
				    "action", rh_task_event_name(ev), "state",
				    rh_task_state_name(step.next), "mode", st_cell(r, 0, C_MODE),
				    "config", cfg);
		if (payload != NULL && json_is_object(cmd_args))
			json_object_set(payload, "args", (json_t *)cmd_args);
		rc = payload ? task_queue_command(st, c, tenant, source_id, id, step.command, payload,
						  cmd_id, sizeof cmd_id)
			     : rh_seterr(RH_ERR_NOMEM, "command");
		if (rc < 0)
			goto out;
		*queued = true;
	}
	if (step.deleted) {
		struct sv p[] = { SVS(id), SVS(st_cell(r, 0, C_VERSION)) };
		struct st_rows d;

		rc = st_exec(st, c, "DELETE FROM tasks WHERE id = $1 AND version = CAST($2 AS BIGINT)",
			     p, 2, &d);
		if (rc == 0 && d.changes == 0)
			rc = RH_ERR_BUSY;
		st_rows_free(&d);
		*deleted = rc == 0;
		goto out;
	}
	if (ev == RH_EV_FAILED) {
		const struct rh_errcat_entry *e;

		ecode = json_string_value(json_object_get(error, "code"));
		emsg = json_string_value(json_object_get(error, "message"));
		ehint = json_string_value(json_object_get(error, "hint"));
		if (ehint == NULL && ecode != NULL &&
		    (e = rh_errcat_find(rh_errcat_builtin(), ecode)) != NULL)
			ehint = e->action;
		if (emsg == NULL && ecode != NULL &&
		    (e = rh_errcat_find(rh_errcat_builtin(), ecode)) != NULL)
			emsg = e->message_en;
		if (emsg == NULL)
			emsg = "the agent reported a failure without a message";
	}
	{
		/* The error columns record the last failure: a failure report
		 * writes them, a start, resume or reset ($9) clears them, and
		 * every other event leaves them as they are. */
		bool keep_err = ev == RH_EV_FAILED;
		struct sv p[] = {
			SVS(id), SVS(st_cell(r, 0, C_VERSION)), SVS(rh_task_state_name(step.next)),
			SVS(rh_task_state_name(step.phase)), SVI(now),
			*cmd_id ? SVS(cmd_id) : SVS(st_cell(r, 0, C_CMD)),
			SVI(step.reset ? 1 : 0), SVI(step.new_round || step.reset ? 1 : 0),
			SVI(ev == RH_EV_START || ev == RH_EV_RESUME || step.reset ? 1 : 0),
			SVI(step.next == RH_TASK_COMPLETED ? now : 0),
			SVS(keep_err ? ecode : NULL), SVS(keep_err ? emsg : NULL),
			SVS(keep_err ? ehint : NULL), SVI(keep_err ? 1 : 0),
		};
		struct st_rows u;

		rc = st_exec(st, c,
			     "UPDATE tasks SET state = $3, phase = $4, version = version + 1,"
			     " updated_at = $5, current_cmd = $6,"
			     " progress_centi = CASE WHEN $7 = 1 THEN 0 ELSE progress_centi END,"
			     " migrated_bytes = CASE WHEN $7 = 1 THEN 0 ELSE migrated_bytes END,"
			     " rate_bps = CASE WHEN $8 = 1 THEN 0 ELSE rate_bps END,"
			     " sample_ms = CASE WHEN $8 = 1 THEN 0 ELSE sample_ms END,"
			     " round_started_at = CASE WHEN $8 = 1 THEN $5 ELSE round_started_at END,"
			     " started_at = CASE WHEN $7 = 1 THEN NULL"
			     "   WHEN started_at IS NULL AND $3 = 'running' THEN $5 ELSE started_at END,"
			     " finished_at = CASE WHEN $10 > 0 THEN $10 WHEN $7 = 1 THEN NULL"
			     "   ELSE finished_at END,"
			     " error_code = CASE WHEN $14 = 1 THEN $11 WHEN $9 = 1 THEN NULL ELSE error_code END,"
			     " error_message = CASE WHEN $14 = 1 THEN $12 WHEN $9 = 1 THEN NULL"
			     "   ELSE error_message END,"
			     " error_hint = CASE WHEN $14 = 1 THEN $13 WHEN $9 = 1 THEN NULL ELSE error_hint END"
			     " WHERE id = $1 AND version = CAST($2 AS BIGINT)", p, RH_ARRAY_SIZE(p), &u);
		if (rc == 0 && u.changes == 0)
			rc = RH_ERR_BUSY;
		st_rows_free(&u);
		if (rc < 0)
			goto out;
	}
	if (step.reset) {
		struct sv p[] = { SVS(id) };

		rc = st_exec(st, c, "DELETE FROM subtasks WHERE task_id = $1", p, 1, NULL);
		if (rc < 0)
			goto out;
	}
	/* Work that finished: its subtasks are done. */
	if (ev == RH_EV_MIGRATED || ev == RH_EV_SYNCED || ev == RH_EV_CUTOVER_DONE ||
	    ev == RH_EV_TESTED || ev == RH_EV_FAILED) {
		struct sv p[] = { SVS(id), SVI(now), SVS(ev == RH_EV_FAILED ? "failed" : "done") };

		rc = st_exec(st, c, "UPDATE subtasks SET state = $3, finished_at = $2,"
			     " progress_centi = CASE WHEN $3 = 'done' THEN 10000 ELSE progress_centi END,"
			     " started_at = COALESCE(started_at, $2)"
			     " WHERE task_id = $1 AND state IN ('pending', 'running')", p, 3, NULL);
		if (rc < 0)
			goto out;
	}
	if (step.command != NULL) {
		rc = plan_subtasks(st, c, id, step.command, cfg, st_cell(r, 0, C_MODE));
		if (rc < 0)
			goto out;
	}
	rc = add_event(st, c, id, rh_task_event_name(ev), rh_task_state_name(state),
		       rh_task_state_name(step.next), ecode ? ecode : emsg);
out:
	json_decref(cfg);
	json_decref(payload);
	return rc;
}

int rh_store_task_action(struct rh_store *st, const char *tenant, const char *id,
			 const char *action, const json_t *args, json_t **out)
{
	enum rh_task_event ev;
	int rc = 0;

	*out = NULL;
	rc = rh_task_event_parse(action, &ev);
	if (rc < 0)
		return rc;
	if (!rh_task_event_is_action(ev))
		return rh_seterr(RH_ERR_INVAL, "'%s' is an agent report, not an action", action);
	for (int attempt = 0; attempt < ACTION_RETRIES; attempt++) {
		struct st_conn *c;
		struct st_rows r = { 0 };
		bool queued = false, deleted = false;
		char source_id[64] = "";

		rc = st_acquire(st, &c);
		if (rc < 0)
			return rc;
		rc = st_begin(st, c);
		if (rc == 0)
			rc = task_row(st, c, tenant, id, true, &r);
		if (rc == 0) {
			snprintf(source_id, sizeof source_id, "%s", st_cell(&r, 0, C_SOURCE));
			rc = task_transition_row(st, c, tenant, &r, ev, args, NULL,
						 ev != RH_EV_DELETE, &queued, &deleted);
		}
		st_rows_free(&r);
		/* The answer is read inside the transaction: a failure to read it
		 * undoes the action instead of reporting a done action as failed. */
		if (rc == 0 && !deleted)
			rc = task_fetch_doc(st, c, tenant, id, out);
		if (rc == 0)
			rc = st_commit(st, c);
		else
			st_rollback(st, c);
		if (rc < 0) {
			json_decref(*out);
			*out = NULL;
		}
		st_release(st, c, rc);
		if (rc == 0 && queued)
			notify(st, source_id);
		if (rc != RH_ERR_BUSY)
			return rc;
	}
	return rh_seterr(RH_ERR_BUSY, "task %s changed concurrently; retry", id);
}

int rh_store_task_update(struct rh_store *st, const char *tenant, const char *id,
			 const json_t *patch, json_t **out, json_t **errors)
{
	struct st_conn *c = NULL;
	struct st_rows r = { 0 }, s = { 0 };
	json_t *cfg = NULL, *merged = NULL, *norm = NULL, *inv = NULL, *v;
	enum rh_task_state state;
	const char *key;
	bool queued = false;
	char *text = NULL;
	int rc;

	*out = NULL;
	*errors = NULL;
	if (!json_is_object(patch) || json_object_size(patch) == 0)
		return rh_seterr(RH_ERR_INVAL, "the body must be a JSON object of settings to change");
	rc = st_acquire(st, &c);
	if (rc < 0)
		return rc;
	rc = st_begin(st, c);
	if (rc == 0)
		rc = task_row(st, c, tenant, id, true, &r);
	if (rc < 0)
		goto fail;
	rh_task_state_parse(st_cell(&r, 0, C_STATE), &state);
	json_object_foreach((json_t *)patch, key, v) {
		int cls = rh_taskcfg_setting_class(key);

		if (cls < 0) {
			rc = rh_seterr(RH_ERR_INVAL, "'%s' is not a task setting", key);
			goto fail;
		}
		if (!rh_task_setting_editable(state, (enum rh_setting_class)cls)) {
			rc = rh_seterr(RH_ERR_STATE, "the setting '%s' cannot be changed while the task "
				       "is %s; it can be changed when the task is %s", key,
				       rh_task_state_name(state),
				       rh_task_setting_states((enum rh_setting_class)cls));
			goto fail;
		}
	}
	cfg = st_jdoc(st_cell(&r, 0, C_CONFIG));
	merged = json_deep_copy(cfg);
	if (merged == NULL || json_object_update(merged, (json_t *)patch) < 0) {
		rc = rh_seterr(RH_ERR_NOMEM, "settings");
		goto fail;
	}
	/* auto_cutover follows continuous_sync unless it is set explicitly. */
	if (json_object_get(patch, "continuous_sync") != NULL &&
	    json_object_get(patch, "auto_cutover") == NULL)
		json_object_del(merged, "auto_cutover");
	{
		struct sv p[] = { SVS(st_cell(&r, 0, C_SOURCE)) };

		rc = st_exec(st, c, "SELECT inventory FROM sources WHERE id = $1", p, 1, &s);
	}
	if (rc < 0)
		goto fail;
	inv = st_jdoc(st_cell(&s, 0, 0));
	rc = rh_taskcfg_validate(merged, json_is_object(inv) ? inv : NULL, &norm, errors);
	if (rc < 0)
		goto fail;
	text = st_dump(norm);
	{
		struct sv p[] = { SVS(id), SVS(st_cell(&r, 0, C_VERSION)), SVS(text), SVI(st_now(st)),
				  SVS(json_string_value(json_object_get(norm, "name"))),
				  SVS(json_string_value(json_object_get(norm, "mode"))) };
		struct st_rows u;

		rc = st_exec(st, c, "UPDATE tasks SET config = $3, updated_at = $4, name = $5, mode = $6,"
			     " version = version + 1 WHERE id = $1 AND version = CAST($2 AS BIGINT)",
			     p, RH_ARRAY_SIZE(p), &u);
		if (rc == 0 && u.changes == 0)
			rc = rh_seterr(RH_ERR_BUSY, "task %s changed concurrently; retry", id);
		st_rows_free(&u);
	}
	if (rc < 0)
		goto fail;
	if (state != RH_TASK_CONFIGURED && state != RH_TASK_COMPLETED) {
		json_t *payload = json_pack("{s:s, s:O, s:O}", "task_id", id, "changed", patch,
					    "config", norm);

		rc = payload ? task_queue_command(st, c, tenant, st_cell(&r, 0, C_SOURCE), id,
						  "settings", payload, NULL, 0)
			     : rh_seterr(RH_ERR_NOMEM, "command");
		json_decref(payload);
		queued = rc == 0;
	}
	if (rc == 0)
		rc = add_event(st, c, id, "settings", st_cell(&r, 0, C_STATE), st_cell(&r, 0, C_STATE),
			       NULL);
	if (rc == 0)
		rc = task_fetch_doc(st, c, tenant, id, out);
	if (rc < 0)
		goto fail;
	rc = st_commit(st, c);
	if (rc < 0) {
		json_decref(*out);
		*out = NULL;
	}
	if (rc == 0 && queued)
		notify(st, st_cell(&r, 0, C_SOURCE));
	goto out;
fail:
	st_rollback(st, c);
out:
	st_release(st, c, rc);
	st_rows_free(&r);
	st_rows_free(&s);
	json_decref(cfg);
	json_decref(merged);
	json_decref(norm);
	json_decref(inv);
	free(text);
	return rc;
}

/* ---- agent channel ---- */

int rh_store_commands_pending(struct rh_store *st, const char *tenant, const char *source_id,
			      int64_t *count)
{
	struct st_conn *c;
	struct st_rows r;
	struct sv p[] = { SVS(tenant), SVS(source_id), SVI(st_now(st) - 300) };
	int rc;

	*count = 0;
	rc = st_acquire(st, &c);
	if (rc < 0)
		return rc;
	rc = st_exec(st, c, "SELECT COUNT(*) FROM commands WHERE tenant = $1 AND source_id = $2 AND"
		     " (state = 'pending' OR (state = 'delivered' AND delivered_at < $3))", p, 3, &r);
	st_release(st, c, rc);
	if (rc == 0)
		*count = st_int(&r, 0, 0);
	st_rows_free(&r);
	return rc;
}

int rh_store_commands_take(struct rh_store *st, const char *tenant, const char *source_id,
			   size_t max, json_t **out)
{
	struct st_conn *c;
	struct st_rows r = { 0 };
	int64_t now = st_now(st);
	/* Delivered but not answered within 5 minutes: deliver again (the
	 * agent may have restarted before it could answer). */
	struct sv p[] = { SVS(tenant), SVS(source_id), SVI(now - 300), SVI((int64_t)max) };
	json_t *a;
	int rc;

	*out = NULL;
	rc = st_acquire(st, &c);
	if (rc < 0)
		return rc;
	rc = st_exec(st, c, "SELECT id, type, task_id, payload, created_ms FROM commands"
		     " WHERE tenant = $1 AND source_id = $2 AND (state = 'pending' OR"
		     " (state = 'delivered' AND delivered_at < $3)) ORDER BY created_ms, id LIMIT $4",
		     p, 4, &r);
	a = json_array();
	for (size_t i = 0; rc == 0 && a != NULL && i < r.nrows; i++) {
		struct sv q[] = { SVS(st_cell(&r, i, 0)), SVI(now), SVI(now - 300) };
		struct st_rows u;

		rc = st_exec(st, c, "UPDATE commands SET state = 'delivered', delivered_at = $2"
			     " WHERE id = $1 AND (state = 'pending' OR (state = 'delivered' AND"
			     " delivered_at < $3))", q, 3, &u);
		if (rc == 0 && u.changes == 1)
			json_array_append_new(a, json_pack(
				"{s:s, s:s, s:o, s:o, s:o}", "id", st_cell(&r, i, 0),
				"type", st_cell(&r, i, 1), "task_id", st_jstr(st_cell(&r, i, 2)),
				"payload", st_jdoc(st_cell(&r, i, 3)),
				"created_at", st_jtime(st_int(&r, i, 4) / 1000)));
		st_rows_free(&u);
	}
	st_release(st, c, rc);
	st_rows_free(&r);
	if (rc < 0) {
		json_decref(a);
		return rc;
	}
	*out = json_pack("{s:o}", "commands", a);
	return *out ? 0 : rh_seterr(RH_ERR_NOMEM, "commands");
}

int task_apply_event(struct rh_store *st, struct st_conn *c, const char *tenant,
		     const char *task_id, enum rh_task_event ev, const json_t *error,
		     const char *cmd_id)
{
	struct st_rows r;
	bool queued, deleted;
	int rc;

	rc = task_row(st, c, tenant, task_id, true, &r);
	if (rc < 0)
		return rc;
	/* A result for a command the task has moved past (paused, resumed
	 * again) is history, not news. */
	if (cmd_id != NULL && (st_cell(&r, 0, C_CMD) == NULL ||
			       strcmp(st_cell(&r, 0, C_CMD), cmd_id) != 0)) {
		st_rows_free(&r);
		return 1;
	}
	rc = task_transition_row(st, c, tenant, &r, ev, NULL, error, false, &queued, &deleted);
	if (rc == 0 && queued)
		rc = 2;
	st_rows_free(&r);
	return rc;
}

int rh_store_command_result(struct rh_store *st, const char *tenant, const char *source_id,
			    const char *cmd_id, const json_t *body)
{
	const char *status = json_string_value(json_object_get(body, "status"));
	const json_t *error = json_object_get(body, "error");
	struct st_conn *c;
	struct st_rows r = { 0 };
	char *text = NULL;
	int rc;

	if (status == NULL || (strcmp(status, "done") != 0 && strcmp(status, "failed") != 0))
		return rh_seterr(RH_ERR_INVAL, "status must be \"done\" or \"failed\"");
	if (strcmp(status, "failed") == 0 &&
	    (!json_is_object(error) || (json_object_get(error, "code") != NULL &&
					!json_is_string(json_object_get(error, "code"))) ||
	     (json_object_get(error, "message") != NULL &&
	      !json_is_string(json_object_get(error, "message")))))
		return rh_seterr(RH_ERR_INVAL, "a failed result needs \"error\": {\"code\": "
				 "\"SMS.xxxx\", \"message\": \"...\"}");
	text = st_dump(body);
	if (text == NULL)
		return rh_seterr(RH_ERR_NOMEM, "result");
	for (int attempt = 0; attempt < ACTION_RETRIES; attempt++) {
		bool notify_needed = false;

		rc = st_acquire(st, &c);
		if (rc < 0)
			break;
		rc = st_begin(st, c);
		if (rc == 0) {
			struct sv p[] = { SVS(tenant), SVS(source_id), SVS(cmd_id) };
			char sql[256];

			snprintf(sql, sizeof sql, "SELECT type, task_id, state, payload FROM commands"
				 " WHERE tenant = $1 AND source_id = $2 AND id = $3%s", st->ops->for_update);
			rc = st_exec(st, c, sql, p, 3, &r);
			if (rc == 0 && r.nrows == 0)
				rc = rh_seterr(RH_ERR_NOTFOUND, "no command %s for this source", cmd_id);
			if (rc == 0 && (strcmp(st_cell(&r, 0, 2), "done") == 0 ||
					strcmp(st_cell(&r, 0, 2), "failed") == 0))
				rc = rh_seterr(RH_ERR_STATE, "command %s already has a result", cmd_id);
		}
		if (rc == 0) {
			struct sv p[] = { SVS(cmd_id), SVS(status), SVI(st_now(st)), SVS(text) };

			rc = st_exec(st, c, "UPDATE commands SET state = $2, finished_at = $3, result = $4"
				     " WHERE id = $1", p, 4, NULL);
		}
		if (rc == 0 && st_cell(&r, 0, 1) != NULL) {
			const char *type = st_cell(&r, 0, 0);
			json_t *payload = st_jdoc(st_cell(&r, 0, 3));
			const char *phase = json_string_value(json_object_get(payload, "state")) ?: "";
			int ev = -1;

			if (strcmp(type, "start") == 0 || strcmp(type, "resume") == 0 ||
			    strcmp(type, "sync") == 0 || strcmp(type, "cutover") == 0 ||
			    strcmp(type, "test") == 0) {
				if (strcmp(status, "failed") == 0)
					ev = RH_EV_FAILED;
				else if (strcmp(phase, "running") == 0)
					ev = RH_EV_MIGRATED;
				else if (strcmp(phase, "syncing") == 0 || strcmp(phase, "continuous_sync") == 0)
					ev = RH_EV_SYNCED;
				else if (strcmp(phase, "cutting_over") == 0)
					ev = RH_EV_CUTOVER_DONE;
				else if (strcmp(phase, "testing") == 0)
					ev = RH_EV_TESTED;
			}
			json_decref(payload);
			if (ev >= 0) {
				rc = task_apply_event(st, c, tenant, st_cell(&r, 0, 1),
						      (enum rh_task_event)ev, error, cmd_id);
				if (rc == RH_ERR_NOTFOUND)
					rc = 0; /* task deleted meanwhile */
				notify_needed = rc == 2;
				if (rc > 0)
					rc = 0;
			}
		}
		if (rc == 0)
			rc = st_commit(st, c);
		else
			st_rollback(st, c);
		st_rows_free(&r);
		st_release(st, c, rc);
		if (rc == 0 && notify_needed)
			notify(st, source_id);
		if (rc != RH_ERR_BUSY)
			break;
	}
	free(text);
	return rc;
}

int rh_store_task_progress(struct rh_store *st, const char *tenant, const char *source_id,
			   const json_t *body)
{
	const char *task_id = json_string_value(json_object_get(body, "task_id"));
	const json_t *pct = json_object_get(body, "percent");
	const json_t *tot = json_object_get(body, "total_bytes");
	const json_t *mig = json_object_get(body, "migrated_bytes");
	const json_t *subs = json_object_get(body, "subtasks"), *sub;
	struct st_conn *c = NULL;
	struct st_rows r = { 0 };
	enum rh_task_state state;
	int64_t ms = now_ms(st), total, migrated, sample_ms, rate, centi;
	size_t i;
	int rc;

	if (task_id == NULL)
		return rh_seterr(RH_ERR_INVAL, "task_id is required");
	if (pct != NULL && (!json_is_number(pct) || json_number_value(pct) < 0 ||
			    json_number_value(pct) > 100))
		return rh_seterr(RH_ERR_INVAL, "percent must be a number from 0 to 100");
	if ((tot != NULL && (!json_is_integer(tot) || json_integer_value(tot) < 0)) ||
	    (mig != NULL && (!json_is_integer(mig) || json_integer_value(mig) < 0)))
		return rh_seterr(RH_ERR_INVAL, "total_bytes and migrated_bytes must be integers >= 0");
	if (subs != NULL && (!json_is_array(subs) || json_array_size(subs) > 32))
		return rh_seterr(RH_ERR_INVAL, "subtasks must be an array of at most 32 updates");
	json_array_foreach(subs, i, sub) {
		const char *ss = json_string_value(json_object_get(sub, "state"));
		const json_t *sp = json_object_get(sub, "progress_percent");

		if (!json_is_string(json_object_get(sub, "name")) ||
		    (ss != NULL && strcmp(ss, "running") && strcmp(ss, "done") && strcmp(ss, "failed") &&
		     strcmp(ss, "pending")) ||
		    (json_object_get(sub, "state") != NULL && ss == NULL) ||
		    (sp != NULL && (!json_is_number(sp) || json_number_value(sp) < 0 ||
				    json_number_value(sp) > 100)))
			return rh_seterr(RH_ERR_INVAL, "subtasks[%zu] must be {\"name\": \"...\", "
					 "\"state\": \"pending|running|done|failed\", "
					 "\"progress_percent\": 0..100}", i);
	}
	rc = st_acquire(st, &c);
	if (rc < 0)
		return rc;
	rc = st_begin(st, c);
	if (rc == 0)
		rc = task_row(st, c, tenant, task_id, true, &r);
	if (rc < 0)
		goto fail;
	if (strcmp(st_cell(&r, 0, C_SOURCE), source_id) != 0) {
		rc = rh_seterr(RH_ERR_NOTFOUND, "task %s does not belong to source %s", task_id,
			       source_id);
		goto fail;
	}
	rh_task_state_parse(st_cell(&r, 0, C_STATE), &state);
	if (state != RH_TASK_RUNNING && state != RH_TASK_SYNCING && state != RH_TASK_CONTINUOUS_SYNC &&
	    state != RH_TASK_CUTTING_OVER && state != RH_TASK_TESTING) {
		rc = rh_seterr(RH_ERR_STATE, "task %s is %s: progress is not expected; stop working on it",
			       task_id, st_cell(&r, 0, C_STATE));
		goto fail;
	}
	total = tot ? json_integer_value(tot) : st_int(&r, 0, C_TOTAL);
	migrated = mig ? json_integer_value(mig) : st_int(&r, 0, C_MIGRATED);
	centi = pct ? llround(json_number_value(pct) * 100) : st_int(&r, 0, C_PROGRESS);
	sample_ms = st_int(&r, 0, C_SAMPLE_MS);
	rate = st_int(&r, 0, C_RATE);
	/* Rate over the last >= 5 s (§2.2): bits moved since the sample taken
	 * at least 5 s ago, then that becomes the new sample. */
	if (sample_ms == 0 || migrated < st_int(&r, 0, C_SAMPLE_BYTES) ||
	    ms - sample_ms >= 5000) {
		struct sv p[] = { SVS(task_id), SVI(ms), SVI(migrated) };

		if (sample_ms != 0 && ms - sample_ms >= 5000 &&
		    migrated >= st_int(&r, 0, C_SAMPLE_BYTES))
			rate = (migrated - st_int(&r, 0, C_SAMPLE_BYTES)) * 8 * 1000 / (ms - sample_ms);
		else if (sample_ms != 0)
			rate = 0; /* the count went backwards: a new round */
		rc = st_exec(st, c, "UPDATE tasks SET sample_ms = $2, sample_bytes = $3 WHERE id = $1",
			     p, 3, NULL);
	}
	if (rc == 0) {
		struct sv p[] = { SVS(task_id), SVI(centi), SVI(total), SVI(migrated), SVI(rate),
				  SVI(st_now(st)) };

		rc = st_exec(st, c, "UPDATE tasks SET progress_centi = $2, total_bytes = $3,"
			     " migrated_bytes = $4, rate_bps = $5, updated_at = $6 WHERE id = $1",
			     p, RH_ARRAY_SIZE(p), NULL);
	}
	json_array_foreach(subs, i, sub) {
		const json_t *sp = json_object_get(sub, "progress_percent");
		const char *ss = json_string_value(json_object_get(sub, "state"));
		struct sv p[] = { SVS(task_id), SVS(json_string_value(json_object_get(sub, "name"))),
				  SVS(ss ? ss : "running"),
				  SVI(sp ? llround(json_number_value(sp) * 100) : -1), SVI(st_now(st)) };
		struct st_rows u;

		if (rc < 0)
			break;
		rc = st_exec(st, c, "UPDATE subtasks SET state = $3,"
			     " progress_centi = CASE WHEN $4 >= 0 THEN $4 WHEN $3 = 'done' THEN 10000"
			     "   ELSE progress_centi END,"
			     " started_at = CASE WHEN $3 = 'pending' THEN started_at"
			     "   ELSE COALESCE(started_at, $5) END,"
			     " finished_at = CASE WHEN $3 IN ('done', 'failed') THEN $5 ELSE NULL END"
			     " WHERE task_id = $1 AND seq = (SELECT MAX(seq) FROM subtasks"
			     "   WHERE task_id = $1 AND name = $2)", p, RH_ARRAY_SIZE(p), &u);
		if (rc == 0 && u.changes == 0)
			rc = rh_seterr(RH_ERR_INVAL, "task %s has no subtask named '%s'", task_id,
				       json_string_value(json_object_get(sub, "name")));
		st_rows_free(&u);
	}
	if (rc < 0)
		goto fail;
	rc = st_commit(st, c);
	goto out;
fail:
	st_rollback(st, c);
out:
	st_rows_free(&r);
	st_release(st, c, rc);
	return rc;
}
