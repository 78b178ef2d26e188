/*
 * The control plane's model and store (`rehost server`).
 *
 * A store is a database behind one ops interface (src/lib/store/): SQLite in
 * WAL mode ("sqlite:PATH", the embedded default) or PostgreSQL through libpq
 * ("postgresql://..." / "postgres://..."), so that several server replicas
 * can share one database. Opening a store applies the versioned schema
 * migrations (src/lib/store/migrate.c) under a lock, so replicas starting
 * together migrate once.
 *
 * Every row belongs to a tenant (the tenant of the access key that made the
 * request) and every call takes that tenant: one tenant never sees
 * another's sources or tasks.
 *
 * Objects cross this interface as jansson documents in the REST API's
 * shape (docs/api.md), so the HTTP layer passes them through unchanged.
 * Units are fixed: sizes in bytes, durations in seconds, rates in Mbit/s;
 * times are RFC 3339 UTC strings ("2026-11-22T21:30:01Z") in documents and
 * Unix seconds in arguments.
 *
 * The task lifecycle (states, actions, agent events, edit windows) lives in
 * one place, src/lib/store/lifecycle.c, documented in docs/lifecycle.md.
 *
 * Thread safety: a store may be used by many threads at once; it keeps a
 * pool of database connections.
 */
#ifndef REHOST_STORE_H
#define REHOST_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

struct rh_store;

/* Schema version this build writes; a database with a newer version is
 * refused (RH_ERR_UNSUPPORTED) so an old binary never corrupts it. */
#define RH_STORE_SCHEMA_VERSION 2

/* At most this many sources per tenant (seed: 1000 per user). */
#define RH_STORE_MAX_SOURCES 1000
/* Largest page a list call returns. */
#define RH_STORE_MAX_PAGE 1000
/* Bounds on stored documents. */
#define RH_STORE_MAX_INVENTORY (4u << 20)
#define RH_STORE_MAX_NAME 255u

/* Open the store at url ("sqlite:PATH", "sqlite::memory:" for tests,
 * "postgresql://..." or "postgres://..."), with up to pool connections
 * (1..64; 0 = 8), and bring its schema up to date. On success *out is a
 * new store freed with rh_store_free. Returns 0, RH_ERR_INVAL (bad url),
 * RH_ERR_CONNECT (database unreachable), RH_ERR_IO, RH_ERR_UNSUPPORTED
 * (schema newer than this build) or RH_ERR_NOMEM, with a detail. */
int rh_store_open(const char *url, unsigned pool, struct rh_store **out);
void rh_store_free(struct rh_store *st);

/* "sqlite" or "postgresql". Static string. */
const char *rh_store_backend(const struct rh_store *st);

/* Schema version of the open database. */
int rh_store_schema_version(struct rh_store *st, int64_t *out);

/* Seconds without a heartbeat after which a source counts as
 * "disconnected" (default 90). */
void rh_store_set_heartbeat_timeout(struct rh_store *st, int64_t seconds);

/* Time source for tests: when set, used instead of time(NULL). */
void rh_store_set_clock(struct rh_store *st, int64_t (*now)(void));

/* Fault injection for tests (SQLite FAULTSIM style): the n-th SQL
 * statement from now (1 = the next) fails with err, e.g. RH_ERR_BUSY,
 * RH_ERR_IO or RH_ERR_NOMEM; ROLLBACK never fails. n = 0 disables. */
void rh_store_fail_after(struct rh_store *st, unsigned n, int err);

/* Format Unix seconds as "YYYY-MM-DDTHH:MM:SSZ" into buf (>= 21 bytes). */
char *rh_store_time(int64_t t, char *buf, size_t len);

/* ---- server metadata (key/value) ---- */

/* *out is a copy the caller frees with free(), or NULL with RH_ERR_NOTFOUND. */
int rh_store_meta_get(struct rh_store *st, const char *key, char **out);
/* Insert key = value unless the key exists (RH_ERR_EXISTS then). */
int rh_store_meta_add(struct rh_store *st, const char *key, const char *value);

/* ---- access keys ---- */

struct rh_store_key {
	char *ak;          /* access key id */
	char *tenant;
	char *secret_enc;  /* secret, encrypted with the master key (auth.h) */
	char *description;
	bool enabled;
	int64_t created_at;  /* Unix seconds */
	int64_t disabled_at; /* Unix seconds, 0 = never */
};

/* Add a key. Returns 0, RH_ERR_EXISTS or a database error. */
int rh_store_key_add(struct rh_store *st, const struct rh_store_key *key);

/* Look a key up; fields of *out are owned by the caller, released with
 * rh_store_key_release. Returns 0 or RH_ERR_NOTFOUND. */
int rh_store_key_get(struct rh_store *st, const char *ak, struct rh_store_key *out);
void rh_store_key_release(struct rh_store_key *key);

/* All keys (without secrets) as a JSON array, oldest first. */
int rh_store_key_list(struct rh_store *st, json_t **out);

/* Enable or disable a key. Returns 0 or RH_ERR_NOTFOUND. */
int rh_store_key_set_enabled(struct rh_store *st, const char *ak, bool enabled);

/* Record a request nonce, valid until expires_at. Returns 0, or
 * RH_ERR_EXISTS when (ak, nonce) was already used (a replay). Expired
 * nonces are purged from time to time. */
int rh_store_nonce_use(struct rh_store *st, const char *ak, const char *nonce,
		       int64_t expires_at);

/* ---- sources ---- */

enum rh_source_filter_conn { RH_CONN_ANY, RH_CONN_CONNECTED, RH_CONN_DISCONNECTED };

struct rh_source_filter {
	enum rh_source_filter_conn connection;
	const char *name;   /* name prefix, or NULL */
	const char *os_type; /* "linux"/"windows", or NULL */
};

/* Register a source (or update the one with the same agent_id) with the
 * agent's inventory (borrowed; an object, see docs/inventory.md). Counts as
 * a heartbeat. *out receives the source document (new reference).
 * Returns 0, RH_ERR_INVAL (inventory unusable, detail names the member),
 * RH_ERR_TOOBIG (tenant already has RH_STORE_MAX_SOURCES sources) or a
 * database error. *created tells whether the source is new. */
int rh_store_source_register(struct rh_store *st, const char *tenant, const char *agent_id,
			     const char *agent_version, const json_t *inventory,
			     bool *created, json_t **out);

/* Record a heartbeat. Returns 0 or RH_ERR_NOTFOUND. */
int rh_store_source_heartbeat(struct rh_store *st, const char *tenant, const char *id);

/* Source document; with_inventory adds the full inventory. */
int rh_store_source_get(struct rh_store *st, const char *tenant, const char *id,
			bool with_inventory, json_t **out);

/* A page of sources ordered by name then id: {"items": [...], "total": N,
 * "limit": L, "offset": O}. limit 1..RH_STORE_MAX_PAGE. */
int rh_store_source_list(struct rh_store *st, const char *tenant,
			 const struct rh_source_filter *f, int64_t limit, int64_t offset,
			 json_t **out);

/* Delete a source and its tasks. Refused with RH_ERR_STATE while one of its
 * tasks is in a state that cannot be deleted (detail says which). */
int rh_store_source_delete(struct rh_store *st, const char *tenant, const char *id);

/* Counts for /metrics: sources (total, connected) and tasks per state
 * over all tenants, as {"sources":N,"connected":N,"tasks":{"state":N}}. */
int rh_store_stats(struct rh_store *st, json_t **out);

/* ---- tasks ---- */

/* Create a task from a request body (borrowed): validated against the
 * source's inventory (rh_taskcfg_validate). On validation failure returns
 * RH_ERR_INVAL and sets *errors to a JSON array of {field, code, message}
 * (new reference). *out is the task document. */
int rh_store_task_create(struct rh_store *st, const char *tenant, const json_t *body,
			 json_t **out, json_t **errors);

int rh_store_task_get(struct rh_store *st, const char *tenant, const char *id, json_t **out);

/* A page of tasks, newest first, filtered by state and/or source (NULL =
 * any). Same shape as rh_store_source_list. */
int rh_store_task_list(struct rh_store *st, const char *tenant, const char *state,
		       const char *source_id, int64_t limit, int64_t offset, json_t **out);

/* The task's history, oldest first: {"items": [{"at", "event", "from",
 * "to", "detail"}]} (at most the last 1000 events). */
int rh_store_task_events(struct rh_store *st, const char *tenant, const char *id, json_t **out);

/* Change settings (a partial configuration, borrowed). Each setting may be
 * changed only in the states docs/lifecycle.md lists: RH_ERR_STATE with a
 * detail naming the setting otherwise; RH_ERR_INVAL with *errors on a
 * validation failure. Settings of a running task are sent to its agent. */
int rh_store_task_update(struct rh_store *st, const char *tenant, const char *id,
			 const json_t *patch, json_t **out, json_t **errors);

/* Run an operator action ("start", "pause", "resume", "sync", "cutover",
 * "test", "delete", "clear"). Returns RH_ERR_INVAL for an unknown action,
 * RH_ERR_STATE for one not allowed now (detail: what is allowed),
 * RH_ERR_CONNECT when the task's source is disconnected, RH_ERR_BUSY when
 * another replica changed the task at the same moment too often. *out is
 * the task afterwards (NULL after delete). */
int rh_store_task_action(struct rh_store *st, const char *tenant, const char *id,
			 const char *action, const json_t *args, json_t **out);

/* ---- agent channel ---- */

/* Pending commands of a source, oldest first (at most max), marked
 * delivered: {"commands": [...]} (new reference). */
int rh_store_commands_take(struct rh_store *st, const char *tenant, const char *source_id,
			   size_t max, json_t **out);

/* Whether the source has undelivered commands (cheap check for polls). */
int rh_store_commands_pending(struct rh_store *st, const char *tenant,
			      const char *source_id, int64_t *count);

/* The agent's result for a command: body {"status": "done"|"failed",
 * "error": {"code", "message"}} (borrowed). Moves the task on when the
 * command is still the task's current one. Returns 0, RH_ERR_NOTFOUND,
 * RH_ERR_INVAL (bad body) or RH_ERR_STATE (result already recorded). */
int rh_store_command_result(struct rh_store *st, const char *tenant, const char *source_id,
			    const char *cmd_id, const json_t *body);

/* A progress report (borrowed body, docs/api.md): percent, total and
 * migrated bytes, subtask updates. Computes the 5-second rate and the
 * remaining time. Returns 0, RH_ERR_NOTFOUND, RH_ERR_INVAL or RH_ERR_STATE
 * (task not in a running phase). */
int rh_store_task_progress(struct rh_store *st, const char *tenant, const char *source_id,
			   const json_t *body);

/* Called whenever this process queues a command (for long-poll wake-ups).
 * NULL to unset. */
void rh_store_set_command_hook(struct rh_store *st, void (*hook)(void *arg, const char *source_id),
			       void *arg);

/* ---- lifecycle (src/lib/store/lifecycle.c) ---- */

enum rh_task_state {
	RH_TASK_CONFIGURED = 0, /* target configured, not started */
	RH_TASK_RUNNING,        /* full migration in progress */
	RH_TASK_PAUSED,
	RH_TASK_FAILED,
	RH_TASK_AWAITING_SYNC,  /* migration complete, awaiting sync */
	RH_TASK_SYNCING,        /* one incremental sync in progress */
	RH_TASK_CONTINUOUS_SYNC,
	RH_TASK_CUTTING_OVER,   /* final sync + configuration + start target */
	RH_TASK_TESTING,        /* test boot of the target */
	RH_TASK_COMPLETED,
	RH_TASK_STATE_COUNT
};

enum rh_task_event {
	/* operator actions */
	RH_EV_START = 0, RH_EV_PAUSE, RH_EV_RESUME, RH_EV_SYNC, RH_EV_CUTOVER, RH_EV_TEST,
	RH_EV_DELETE, RH_EV_CLEAR,
	/* agent reports */
	RH_EV_MIGRATED, RH_EV_SYNCED, RH_EV_CUTOVER_DONE, RH_EV_TESTED, RH_EV_FAILED,
	RH_EV_COUNT
};

/* What a transition does. */
struct rh_task_step {
	enum rh_task_state next;  /* new state */
	enum rh_task_state phase; /* phase to resume after pause/failure */
	const char *command;      /* command type for the agent, or NULL */
	bool deleted;             /* the task is removed */
	bool reset;               /* progress and subtasks start over */
	bool new_round;           /* a new round of work: rate/progress restart */
};

const char *rh_task_state_name(enum rh_task_state s);
int rh_task_state_parse(const char *s, enum rh_task_state *out);
const char *rh_task_event_name(enum rh_task_event e);
int rh_task_event_parse(const char *s, enum rh_task_event *out);
/* Whether the event is an operator action (as opposed to an agent report). */
bool rh_task_event_is_action(enum rh_task_event e);

/* Apply event ev to a task in state `state` whose phase (state to return
 * to after pause/failure) is `phase`. continuous_sync and auto_cutover are
 * the task's settings. Returns 0 with *out filled, or RH_ERR_STATE with a
 * detail such as "cannot pause a task that is completed (pause is allowed
 * when running, syncing, continuous_sync or cutting_over)". */
int rh_task_transition(enum rh_task_state state, enum rh_task_state phase,
		       enum rh_task_event ev, bool continuous_sync, bool auto_cutover,
		       struct rh_task_step *out);

/* Operator actions allowed in a state, as a JSON array of names. */
json_t *rh_task_allowed_actions(enum rh_task_state state);

/* Setting classes and their edit windows. */
enum rh_setting_class {
	RH_SET_ANYTIME = 0, /* name, rate limit */
	RH_SET_SPECIAL,     /* compression, buffers, paths, resource limits, processes */
	RH_SET_TARGET,      /* mode, target address, disks, firmware, OS type */
};
bool rh_task_setting_editable(enum rh_task_state state, enum rh_setting_class cls);
/* Human list of the states a class is editable in, e.g. "configured,
 * paused or awaiting_sync". Static string. */
const char *rh_task_setting_states(enum rh_setting_class cls);

/* ---- task configuration (src/lib/store/taskcfg.c) ---- */

/* Normalise a task configuration (borrowed body; the same members as a
 * create request) into *out (new reference): defaults filled in, units
 * checked. Validation against the inventory (borrowed; NULL skips it):
 * disk count (MSG.target-disk-count), disk sizes (MSG.target-disk-size),
 * firmware (MSG.firmware-mismatch), OS type, system disk <= 1 TiB
 * (SMS.6537), block eligibility (SMS.6616/6617), CPU limit >= 0.2 core,
 * Windows target memory >= 2 GiB. Returns 0, or RH_ERR_INVAL with *errors
 * a JSON array of {"field", "code", "message"} (new reference). */
int rh_taskcfg_validate(const json_t *body, const json_t *inventory, json_t **out,
			json_t **errors);

/* Class of a configuration member, or -1 when it is not a setting. */
int rh_taskcfg_setting_class(const char *member);

/* Data to copy for the estimate, in bytes: used bytes (file level) or
 * partition sizes (block level) of the inventory's disks (§2.2). */
uint64_t rh_taskcfg_data_bytes(const json_t *inventory, const char *mode);

/* Pre-migration time estimate (S1 §5.1): T[h] = C[GB]*1000*8 /
 * (S[Mbit/s]*3600*U), returned in seconds. 0 when S or U is 0. */
double rh_estimate_seconds(uint64_t bytes, double mbit_per_s, double utilisation);

/* In-migration estimate (S1 §5.2): C*1000*8*(80% - P)/60%/S/3600 hours,
 * in seconds; P in percent (0..100). 0 when P >= 80 or S is 0. */
double rh_estimate_remaining_seconds(uint64_t bytes, double percent, double mbit_per_s);

#endif
