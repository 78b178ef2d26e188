/*
 * REST API routes (/v1, /v1/openapi.json, /healthz, /metrics). Each handler parses its
 * input, calls the store, and shapes the answer; docs/api.md documents
 * every route with its request and response.
 */
#define RH_LOG_COMPONENT "server"
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <microhttpd.h>

#include "rehost-version.h"
#include "rehost/err.h"
#include "rehost/errcat.h"
#include "rehost/json.h"
#include "rehost/log.h"
#include "rehost/num.h"
#include "server/server.h"

#define MAX_POLL_WAIT 60
#define MAX_SEGS 8

void api_error(struct api_resp *out, unsigned status, const char *reason, const char *code,
	       json_t *details, const char *fmt, ...)
{
	const struct rh_errcat_entry *e = code ? rh_errcat_find(rh_errcat_builtin(), code) : NULL;
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	json_decref(out->json);
	out->status = status;
	out->json = json_pack("{s:{s:i, s:o, s:s, s:s, s:o, s:o}}", "error", "status", (int)status,
			      "code", code ? json_string(code) : json_null(), "reason", reason,
			      "message", msg, "hint", e ? json_string(e->action) : json_null(),
			      "details", details ? details : json_array());
}

void api_store_error(struct api_resp *out, int rc)
{
	const char *detail = rh_lasterr_code() == rc ? rh_lasterr() : rh_strerror(rc);
	const char *sms = rh_lasterr_code() == rc ? rh_lasterr_sms() : NULL;

	switch (rc) {
	case RH_ERR_NOTFOUND:
		api_error(out, 404, "not-found", NULL, NULL, "%s", detail);
		break;
	case RH_ERR_INVAL: case RH_ERR_PARSE: case RH_ERR_RANGE:
		api_error(out, 400, "invalid", NULL, NULL, "%s", detail);
		break;
	case RH_ERR_STATE:
		api_error(out, 409, "invalid-state", NULL, NULL, "%s", detail);
		break;
	case RH_ERR_CONNECT:
		api_error(out, 409, "source-disconnected", NULL, NULL, "%s", detail);
		break;
	case RH_ERR_TOOBIG:
		api_error(out, 409, "limit-reached", NULL, NULL, "%s", detail);
		break;
	case RH_ERR_EXISTS:
		api_error(out, 409, "exists", NULL, NULL, "%s", detail);
		break;
	case RH_ERR_BUSY:
		api_error(out, 503, "busy", NULL, NULL, "%s", detail);
		break;
	default:
		rh_log_error("request failed: %s", detail);
		api_error(out, 500, "internal", sms, NULL, "%s", detail);
	}
}

const char *api_query(struct api_req *r, const char *name)
{
	return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
}

static bool query_int(struct api_req *r, struct api_resp *out, const char *name, int64_t min,
		      int64_t max, int64_t def, int64_t *v)
{
	const char *s = api_query(r, name);

	*v = def;
	if (s == NULL)
		return true;
	if (rh_parse_i64(s, min, max, v) < 0) {
		api_error(out, 400, "invalid", NULL, NULL, "query parameter %s must be an integer "
			  "from %lld to %lld", name, (long long)min, (long long)max);
		return false;
	}
	return true;
}

static json_t *body_json(struct api_req *r, struct api_resp *out, bool required)
{
	json_t *j = NULL;

	if (r->body_len == 0 && !required)
		return json_object();
	if (rh_json_load(r->body, r->body_len, 8u << 20, &j) < 0 || !json_is_object(j)) {
		api_error(out, 400, "invalid-json", NULL, NULL, "the request body must be a JSON "
			  "object: %s", j ? "got another JSON type" : rh_lasterr());
		json_decref(j);
		return NULL;
	}
	return j;
}

static void ok(struct api_resp *out, unsigned status, json_t *j)
{
	out->status = status;
	out->json = j;
}

/* ---- open routes ---- */

static void route_healthz(struct api_req *r, struct api_resp *out)
{
	int64_t v = 0;
	int rc = rh_store_schema_version(r->srv->store, &v);

	if (rc < 0) {
		api_error(out, 503, "store-unavailable", NULL, NULL, "database: %s", rh_lasterr());
		return;
	}
	ok(out, 200, json_pack("{s:s, s:s, s:s, s:I, s:I}", "status", "ok", "version", REHOST_VERSION,
			       "backend", rh_store_backend(r->srv->store), "schema_version",
			       (json_int_t)v, "uptime_seconds",
			       (json_int_t)(time(NULL) - r->srv->started_at)));
}

/* docs/openapi.json, embedded by CMakeLists.txt (cmake/embed.cmake). */
extern const unsigned char rh_data_openapi[];
extern const size_t rh_data_openapi_len;

static void route_openapi(struct api_resp *out)
{
	out->status = 200;
	out->text = strndup((const char *)rh_data_openapi, rh_data_openapi_len);
	out->content_type = "application/json";
	if (out->text == NULL)
		api_error(out, 500, "internal", NULL, NULL, "out of memory");
}

static void route_metrics(struct api_req *r, struct api_resp *out)
{
	out->status = 200;
	out->text = metrics_render(r->srv);
	out->content_type = "text/plain; version=0.0.4; charset=utf-8";
	if (out->text == NULL)
		api_error(out, 500, "internal", NULL, NULL, "cannot render metrics");
}

/* ---- sources ---- */

static void route_sources_list(struct api_req *r, struct api_resp *out)
{
	struct rh_source_filter f = { 0 };
	const char *conn = api_query(r, "connection");
	int64_t limit, offset;
	json_t *j;
	int rc;

	if (!query_int(r, out, "limit", 1, RH_STORE_MAX_PAGE, 50, &limit) ||
	    !query_int(r, out, "offset", 0, INT32_MAX, 0, &offset))
		return;
	if (conn != NULL && strcmp(conn, "connected") == 0)
		f.connection = RH_CONN_CONNECTED;
	else if (conn != NULL && strcmp(conn, "disconnected") == 0)
		f.connection = RH_CONN_DISCONNECTED;
	else if (conn != NULL) {
		api_error(out, 400, "invalid", NULL, NULL,
			  "connection must be \"connected\" or \"disconnected\"");
		return;
	}
	f.name = api_query(r, "name");
	f.os_type = api_query(r, "os_type");
	rc = rh_store_source_list(r->srv->store, r->tenant, &f, limit, offset, &j);
	if (rc < 0)
		api_store_error(out, rc);
	else
		ok(out, 200, j);
}

static void route_source(struct api_req *r, struct api_resp *out, const char *id)
{
	json_t *j;
	int rc;

	if (strcmp(r->method, "GET") == 0) {
		const char *inv = api_query(r, "inventory");

		rc = rh_store_source_get(r->srv->store, r->tenant, id,
					 inv == NULL || strcmp(inv, "false") != 0, &j);
		if (rc < 0)
			api_store_error(out, rc);
		else
			ok(out, 200, j);
	} else if (strcmp(r->method, "DELETE") == 0) {
		rc = rh_store_source_delete(r->srv->store, r->tenant, id);
		if (rc < 0)
			api_store_error(out, rc);
		else
			ok(out, 200, json_pack("{s:s, s:b}", "id", id, "deleted", true));
	} else {
		api_error(out, 405, "method-not-allowed", NULL, NULL, "use GET or DELETE");
	}
}

static void route_source_estimate(struct api_req *r, struct api_resp *out, const char *id)
{
	const char *bw = api_query(r, "bandwidth_mbit_per_s"), *u = api_query(r, "utilisation");
	const char *mode = api_query(r, "mode");
	double s, util = 0.7;
	char *end = NULL;
	json_t *src = NULL, *inv;
	uint64_t bytes;
	int rc;

	s = bw ? strtod(bw, &end) : 0;
	if (bw == NULL || *end != '\0' || !(s > 0) || s > 1e6) {
		api_error(out, 400, "invalid", NULL, NULL,
			  "bandwidth_mbit_per_s (the measured TCP speed S in Mbit/s) is required");
		return;
	}
	if (u != NULL) {
		util = strtod(u, &end);
		if (*end != '\0' || !(util > 0) || util > 1) {
			api_error(out, 400, "invalid", NULL, NULL, "utilisation must be in (0, 1]");
			return;
		}
	}
	rc = rh_store_source_get(r->srv->store, r->tenant, id, true, &src);
	if (rc < 0) {
		api_store_error(out, rc);
		return;
	}
	inv = json_object_get(src, "inventory");
	if (mode == NULL)
		mode = json_string_value(json_object_get(src, "recommended_mode")) ?: "block";
	bytes = rh_taskcfg_data_bytes(inv, mode);
	s = rh_estimate_seconds(bytes, strtod(bw, NULL), util);
	ok(out, 200, json_pack("{s:s, s:s, s:I, s:f, s:f, s:I, s:f}", "source_id", id, "mode", mode,
			       "data_bytes", (json_int_t)bytes, "bandwidth_mbit_per_s",
			       strtod(bw, NULL), "utilisation", util,
			       "premigration_seconds", (json_int_t)llround(s),
			       "premigration_hours", round(s / 36.0) / 100.0));
	json_decref(src);
}

/* ---- tasks ---- */

static void validation_error(struct api_resp *out, int rc, json_t *errors)
{
	if (rc == RH_ERR_INVAL && errors != NULL) {
		json_t *first = json_array_get(errors, 0);

		api_error(out, 400, "validation-failed",
			  json_string_value(json_object_get(first, "code")), errors,
			  "%s", json_string_value(json_object_get(first, "message")));
	} else {
		json_decref(errors);
		api_store_error(out, rc);
	}
}

static void route_tasks(struct api_req *r, struct api_resp *out)
{
	json_t *j = NULL, *body, *errors = NULL;
	int64_t limit, offset;
	int rc;

	if (strcmp(r->method, "GET") == 0) {
		if (!query_int(r, out, "limit", 1, RH_STORE_MAX_PAGE, 50, &limit) ||
		    !query_int(r, out, "offset", 0, INT32_MAX, 0, &offset))
			return;
		rc = rh_store_task_list(r->srv->store, r->tenant, api_query(r, "state"),
					api_query(r, "source_id"), limit, offset, &j);
		if (rc < 0)
			api_store_error(out, rc);
		else
			ok(out, 200, j);
	} else if (strcmp(r->method, "POST") == 0) {
		body = body_json(r, out, true);
		if (body == NULL)
			return;
		rc = rh_store_task_create(r->srv->store, r->tenant, body, &j, &errors);
		json_decref(body);
		if (rc < 0)
			validation_error(out, rc, errors);
		else
			ok(out, 201, j);
	} else {
		api_error(out, 405, "method-not-allowed", NULL, NULL, "use GET or POST");
	}
}

static void run_action(struct api_req *r, struct api_resp *out, const char *id, const char *action)
{
	json_t *j = NULL, *body;
	enum rh_task_event ev;
	int rc;

	if (rh_task_event_parse(action, &ev) < 0 || !rh_task_event_is_action(ev)) {
		api_error(out, 404, "unknown-action", NULL, NULL, "unknown action '%s' (start, pause, "
			  "resume, sync, cutover, test, delete, clear)", action);
		return;
	}
	body = body_json(r, out, false);
	if (body == NULL)
		return;
	rc = rh_store_task_action(r->srv->store, r->tenant, id, action, body, &j);
	json_decref(body);
	if (rc == RH_ERR_STATE)
		api_error(out, 409, "invalid-transition", NULL, NULL, "%s", rh_lasterr());
	else if (rc < 0)
		api_store_error(out, rc);
	else if (j == NULL)
		ok(out, 200, json_pack("{s:s, s:b}", "id", id, "deleted", true));
	else
		ok(out, 200, j);
}

static void route_task(struct api_req *r, struct api_resp *out, const char *id)
{
	json_t *j = NULL, *body, *errors = NULL;
	int rc;

	if (strcmp(r->method, "GET") == 0) {
		rc = rh_store_task_get(r->srv->store, r->tenant, id, &j);
		if (rc < 0)
			api_store_error(out, rc);
		else
			ok(out, 200, j);
	} else if (strcmp(r->method, "PATCH") == 0) {
		body = body_json(r, out, true);
		if (body == NULL)
			return;
		rc = rh_store_task_update(r->srv->store, r->tenant, id, body, &j, &errors);
		json_decref(body);
		if (rc == RH_ERR_STATE)
			api_error(out, 409, "not-editable", NULL, NULL, "%s", rh_lasterr());
		else if (rc < 0)
			validation_error(out, rc, errors);
		else
			ok(out, 200, j);
	} else if (strcmp(r->method, "DELETE") == 0) {
		run_action(r, out, id, "delete");
	} else {
		api_error(out, 405, "method-not-allowed", NULL, NULL, "use GET, PATCH or DELETE");
	}
}

/* ---- agent channel ---- */

static const char *body_str(json_t *body, const char *key)
{
	return json_string_value(json_object_get(body, key));
}

static void route_agent_register(struct api_req *r, struct api_resp *out)
{
	json_t *body = body_json(r, out, true), *src = NULL;
	bool created = false;
	int rc;

	if (body == NULL)
		return;
	rc = rh_store_source_register(r->srv->store, r->tenant, body_str(body, "agent_id"),
				      body_str(body, "agent_version"),
				      json_object_get(body, "inventory"), &created, &src);
	json_decref(body);
	if (rc < 0) {
		api_store_error(out, rc);
		return;
	}
	ok(out, created ? 201 : 200,
	   json_pack("{s:o, s:b, s:I, s:I, s:I}", "source", src, "created", created,
		     "heartbeat_interval_seconds", (json_int_t)r->srv->heartbeat_interval,
		     "heartbeat_timeout_seconds", (json_int_t)r->srv->heartbeat_timeout,
		     "poll_wait_seconds", (json_int_t)25));
}

static void route_agent_heartbeat(struct api_req *r, struct api_resp *out)
{
	json_t *body = body_json(r, out, true);
	const char *id;
	int64_t pending = 0;
	char now[32];
	int rc;

	if (body == NULL)
		return;
	id = body_str(body, "source_id");
	if (id == NULL) {
		api_error(out, 400, "invalid", NULL, NULL, "source_id is required");
	} else if ((rc = rh_store_source_heartbeat(r->srv->store, r->tenant, id)) < 0 ||
		   (rc = rh_store_commands_pending(r->srv->store, r->tenant, id, &pending)) < 0) {
		api_store_error(out, rc);
	} else {
		ok(out, 200, json_pack("{s:s, s:s, s:I, s:I}", "source_id", id, "server_time",
				       rh_store_time(time(NULL), now, sizeof now), "pending_commands",
				       (json_int_t)pending, "heartbeat_interval_seconds",
				       (json_int_t)r->srv->heartbeat_interval));
	}
	json_decref(body);
}

static void route_agent_commands(struct api_req *r, struct api_resp *out)
{
	const char *id = api_query(r, "source_id");
	struct timespec deadline;
	int64_t wait;
	json_t *j = NULL;
	int rc;

	if (id == NULL) {
		api_error(out, 400, "invalid", NULL, NULL, "source_id is required");
		return;
	}
	if (!query_int(r, out, "wait", 0, MAX_POLL_WAIT, 0, &wait))
		return;
	rc = rh_store_source_heartbeat(r->srv->store, r->tenant, id);
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += wait;
	for (;;) {
		struct timespec now, until;
		uint64_t gen;

		pthread_mutex_lock(&r->srv->lock);
		gen = r->srv->cmd_generation;
		pthread_mutex_unlock(&r->srv->lock);
		if (rc == 0)
			rc = rh_store_commands_take(r->srv->store, r->tenant, id, 16, &j);
		if (rc < 0) {
			api_store_error(out, rc);
			return;
		}
		clock_gettime(CLOCK_REALTIME, &now);
		if (json_array_size(json_object_get(j, "commands")) > 0 || r->srv->stopping ||
		    now.tv_sec > deadline.tv_sec ||
		    (now.tv_sec == deadline.tv_sec && now.tv_nsec >= deadline.tv_nsec))
			break;
		json_decref(j);
		j = NULL;
		/* Wake up when this process queues a command, and at least once
		 * a second for commands queued by another replica. */
		until = now;
		until.tv_sec += 1;
		if (until.tv_sec > deadline.tv_sec ||
		    (until.tv_sec == deadline.tv_sec && until.tv_nsec > deadline.tv_nsec))
			until = deadline;
		pthread_mutex_lock(&r->srv->lock);
		while (r->srv->cmd_generation == gen && !r->srv->stopping) {
			if (pthread_cond_timedwait(&r->srv->cond, &r->srv->lock, &until) != 0)
				break;
		}
		pthread_mutex_unlock(&r->srv->lock);
	}
	ok(out, 200, j);
}

static void route_agent_result(struct api_req *r, struct api_resp *out, const char *cmd_id)
{
	json_t *body = body_json(r, out, true);
	int rc;

	if (body == NULL)
		return;
	if (body_str(body, "source_id") == NULL) {
		api_error(out, 400, "invalid", NULL, NULL, "source_id is required");
	} else if ((rc = rh_store_command_result(r->srv->store, r->tenant, body_str(body, "source_id"),
						 cmd_id, body)) < 0) {
		api_store_error(out, rc);
	} else {
		ok(out, 200, json_pack("{s:s, s:b}", "id", cmd_id, "recorded", true));
	}
	json_decref(body);
}

static void route_agent_progress(struct api_req *r, struct api_resp *out)
{
	json_t *body = body_json(r, out, true);
	int rc;

	if (body == NULL)
		return;
	if (body_str(body, "source_id") == NULL)
		api_error(out, 400, "invalid", NULL, NULL, "source_id is required");
	else if ((rc = rh_store_task_progress(r->srv->store, r->tenant, body_str(body, "source_id"),
					      body)) < 0)
		api_store_error(out, rc);
	else
		ok(out, 200, json_pack("{s:b}", "recorded", true));
	json_decref(body);
}

/* ---- dispatch ---- */

static bool is_method(struct api_req *r, struct api_resp *out, const char *m)
{
	if (strcmp(r->method, m) == 0)
		return true;
	api_error(out, 405, "method-not-allowed", NULL, NULL, "use %s", m);
	return false;
}

void api_dispatch(struct api_req *r, struct api_resp *out)
{
	char path[512], *seg[MAX_SEGS], *save = NULL, *t;
	size_t n = 0;

	if (strlen(r->path) >= sizeof path) {
		api_error(out, 404, "not-found", NULL, NULL, "no such route");
		return;
	}
	snprintf(path, sizeof path, "%s", r->path);
	for (t = strtok_r(path, "/", &save); t != NULL; t = strtok_r(NULL, "/", &save)) {
		if (n == MAX_SEGS) {
			api_error(out, 404, "not-found", NULL, NULL, "no such route %s", r->path);
			return;
		}
		seg[n++] = t;
	}
#define IS(i, s) (n > (i) && strcmp(seg[i], s) == 0)
	if (n == 1 && IS(0, "healthz")) {
		r->route = "/healthz";
		route_healthz(r, out);
	} else if (n == 1 && IS(0, "metrics")) {
		r->route = "/metrics";
		route_metrics(r, out);
	} else if (!IS(0, "v1")) {
		api_error(out, 404, "not-found", NULL, NULL, "no such route %s", r->path);
	} else if (n == 1) {
		r->route = "/v1";
		if (is_method(r, out, "GET"))
			ok(out, 200, json_pack("{s:s, s:s, s:s}", "api", "v1", "version", REHOST_VERSION,
					       "tenant", r->tenant));
	} else if (n == 2 && IS(1, "openapi.json")) {
		r->route = "/v1/openapi.json";
		if (is_method(r, out, "GET"))
			route_openapi(out);
	} else if (n == 2 && IS(1, "sources")) {
		r->route = "/v1/sources";
		if (is_method(r, out, "GET"))
			route_sources_list(r, out);
	} else if (n == 3 && IS(1, "sources")) {
		r->route = "/v1/sources/{id}";
		route_source(r, out, seg[2]);
	} else if (n == 4 && IS(1, "sources") && IS(3, "estimate")) {
		r->route = "/v1/sources/{id}/estimate";
		if (is_method(r, out, "GET"))
			route_source_estimate(r, out, seg[2]);
	} else if (n == 2 && IS(1, "tasks")) {
		r->route = "/v1/tasks";
		route_tasks(r, out);
	} else if (n == 3 && IS(1, "tasks")) {
		r->route = "/v1/tasks/{id}";
		route_task(r, out, seg[2]);
	} else if (n == 4 && IS(1, "tasks") && IS(3, "events")) {
		json_t *j = NULL;
		int rc;

		r->route = "/v1/tasks/{id}/events";
		if (is_method(r, out, "GET")) {
			rc = rh_store_task_events(r->srv->store, r->tenant, seg[2], &j);
			if (rc < 0)
				api_store_error(out, rc);
			else
				ok(out, 200, j);
		}
	} else if (n == 5 && IS(1, "tasks") && IS(3, "actions")) {
		r->route = "/v1/tasks/{id}/actions/{action}";
		if (is_method(r, out, "POST"))
			run_action(r, out, seg[2], seg[4]);
	} else if (n == 3 && IS(1, "agent") && IS(2, "register")) {
		r->route = "/v1/agent/register";
		if (is_method(r, out, "POST"))
			route_agent_register(r, out);
	} else if (n == 3 && IS(1, "agent") && IS(2, "heartbeat")) {
		r->route = "/v1/agent/heartbeat";
		if (is_method(r, out, "POST"))
			route_agent_heartbeat(r, out);
	} else if (n == 3 && IS(1, "agent") && IS(2, "commands")) {
		r->route = "/v1/agent/commands";
		if (is_method(r, out, "GET"))
			route_agent_commands(r, out);
	} else if (n == 5 && IS(1, "agent") && IS(2, "commands") && IS(4, "result")) {
		r->route = "/v1/agent/commands/{id}/result";
		if (is_method(r, out, "POST"))
			route_agent_result(r, out, seg[3]);
	} else if (n == 3 && IS(1, "agent") && IS(2, "progress")) {
		r->route = "/v1/agent/progress";
		if (is_method(r, out, "POST"))
			route_agent_progress(r, out);
	} else {
		api_error(out, 404, "not-found", NULL, NULL, "no such route %s", r->path);
	}
#undef IS
}
