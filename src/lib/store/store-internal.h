/*
 * Store internals: the backend ops interface (one per database), the
 * connection pool and small helpers shared by the model files.
 *
 * SQL is written once, in the subset both SQLite and PostgreSQL accept:
 * parameters are $1..$N (SQLite binds them by name), types are TEXT and
 * BIGINT, upserts use ON CONFLICT, and times are Unix seconds passed in by
 * the caller so replicas and backends agree. Results are returned as text
 * cells, NULL for SQL NULL.
 */
#ifndef REHOST_STORE_INTERNAL_H
#define REHOST_STORE_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "rehost/store.h"

/* One parameter. */
enum sv_type { SV_NULL, SV_TEXT, SV_INT };
struct sv {
	enum sv_type type;
	const char *s; /* SV_TEXT; borrowed */
	int64_t i;     /* SV_INT */
};
#define SVS(x) ((struct sv){ .type = (x) != NULL ? SV_TEXT : SV_NULL, .s = (x) })
#define SVI(x) ((struct sv){ .type = SV_INT, .i = (int64_t)(x) })
#define SVN ((struct sv){ .type = SV_NULL })

/* A result set: nrows x ncols text cells (NULL = SQL NULL), owned. */
struct st_rows {
	size_t nrows, ncols;
	char **cell;   /* row-major */
	int64_t changes; /* rows changed by INSERT/UPDATE/DELETE */
};

/* Backend ops. New members only at the end (struct_size says which). */
struct store_ops {
	size_t struct_size;
	const char *name;        /* "sqlite" / "postgresql" */
	const char *begin_write; /* SQL opening a transaction that will write */
	const char *for_update;  /* suffix locking selected rows, or "" */
	/* Connect to target (the url without its scheme for sqlite, the whole
	 * url for postgresql). *conn is backend-private. */
	int (*connect)(const char *target, void **conn);
	void (*disconnect)(void *conn);
	/* Run one statement with n parameters; when rows is not NULL it
	 * receives the result (caller frees with st_rows_free). Errors:
	 * RH_ERR_EXISTS (unique violation), RH_ERR_BUSY (locked/serialization),
	 * RH_ERR_IO, RH_ERR_CONNECT (connection lost), with a detail. */
	int (*exec)(void *conn, const char *sql, const struct sv *params, size_t n,
		    struct st_rows *rows);
	/* Serialise schema migrations among replicas, inside a transaction. */
	int (*lock_schema)(void *conn);
};

extern const struct store_ops store_sqlite_ops;
extern const struct store_ops store_pg_ops;

struct st_conn {
	void *db;
	bool busy;
	bool broken;     /* reconnect before next use */
	bool holds_wlock; /* inside a write transaction holding st->wlock */
};

#define STORE_MAX_POOL 64

struct rh_store {
	const struct store_ops *ops;
	char *target;
	unsigned npool;
	struct st_conn pool[STORE_MAX_POOL];
	pthread_mutex_t lock;
	pthread_cond_t cond;
	/* SQLite allows one writer: writers of this process queue on this
	 * mutex instead of in SQLite's busy handler, whose back-off sleeps
	 * (up to 100 ms) would dominate tail latency. */
	bool serialize_writes;
	pthread_mutex_t wlock;
	int64_t heartbeat_timeout;
	int64_t (*clock)(void);
	void (*cmd_hook)(void *arg, const char *source_id);
	void *cmd_hook_arg;
	unsigned nonce_calls;
	unsigned fail_countdown; /* rh_store_fail_after */
	int fail_err;
};

/* store.c */
int st_acquire(struct rh_store *st, struct st_conn **out);
void st_release(struct rh_store *st, struct st_conn *c, int rc);
int st_exec(struct rh_store *st, struct st_conn *c, const char *sql, const struct sv *p,
	    size_t n, struct st_rows *rows);
int st_begin(struct rh_store *st, struct st_conn *c);
int st_commit(struct rh_store *st, struct st_conn *c);
void st_rollback(struct rh_store *st, struct st_conn *c);
void st_rows_free(struct st_rows *r);
const char *st_cell(const struct st_rows *r, size_t row, size_t col);
int64_t st_int(const struct st_rows *r, size_t row, size_t col);
int64_t st_now(struct rh_store *st);
/* One page of a list: "SELECT COUNT(*)" + cond, then "SELECT columns" +
 * cond + tail (ORDER BY ... LIMIT/OFFSET, numbered after cond's params),
 * each row turned into a document by doc; *out is {items, total, limit,
 * offset}. what names the list in errors. */
typedef json_t *(*st_doc_fn)(struct rh_store *st, const struct st_rows *r, size_t row);
int st_list_page(struct rh_store *st, const char *columns, const char *cond, const char *tail,
		 const struct sv *p, size_t np, int64_t limit, int64_t offset, st_doc_fn doc,
		 const char *what, json_t **out);
int st_new_id(const char *prefix, char *buf, size_t len);
/* JSON helpers: time or null, text or null, parse stored JSON (or null). */
json_t *st_jtime(int64_t t);
json_t *st_jstr(const char *s);
json_t *st_jdoc(const char *text);
/* Encode j compactly; caller frees. NULL on NOMEM. */
char *st_dump(const json_t *j);

/* migrate.c */
int store_migrate(struct rh_store *st);

/* tasks.c */
json_t *task_doc(struct rh_store *st, struct st_conn *c, const struct st_rows *r, size_t row);
int task_queue_command(struct rh_store *st, struct st_conn *c, const char *tenant,
		       const char *source_id, const char *task_id, const char *type,
		       const json_t *payload, char *id_out, size_t id_len);
int task_apply_event(struct rh_store *st, struct st_conn *c, const char *tenant,
		     const char *task_id, enum rh_task_event ev, const json_t *error,
		     const char *cmd_id);
/* Column list selected for task documents. */
extern const char task_columns[];

/* taskcfg.c */
/* Validation errors so far: a JSON array of {"field", "code", "message"}. */
struct taskcfg_errors {
	json_t *errors;
};
/* Add an error; code is an SMS./MSG. code or NULL. */
void taskcfg_verr(struct taskcfg_errors *v, const char *field, const char *code,
		  const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* taskcfg-settings.c */
/* Normalise the settings of body (a JSON object) into cfg, in table order,
 * with the inventory's defaults when inv (borrowed) is not NULL. Each
 * unknown or invalid member adds an error to v; cfg is only meaningful
 * when none was added. */
void taskcfg_settings_read(struct taskcfg_errors *v, const json_t *body, const json_t *inv,
			   json_t *cfg);

/* sources.c */
extern const char source_columns[];
json_t *source_doc(struct rh_store *st, const struct st_rows *r, size_t row, bool with_inventory);

#endif
