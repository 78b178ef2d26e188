/* Store: opening, connection pool, helpers, metadata, access keys, nonces. */
#define RH_LOG_COMPONENT "store"
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <openssl/rand.h>

#include "rehost/checked.h"
#include "rehost/err.h"
#include "rehost/log.h"
#include "rehost/num.h"
#include "store-internal.h"

int64_t st_now(struct rh_store *st)
{
	return st->clock != NULL ? st->clock() : (int64_t)time(NULL);
}

void rh_store_set_clock(struct rh_store *st, int64_t (*now)(void))
{
	st->clock = now;
}

void rh_store_set_heartbeat_timeout(struct rh_store *st, int64_t seconds)
{
	st->heartbeat_timeout = seconds > 0 ? seconds : 90;
}

void rh_store_set_command_hook(struct rh_store *st, void (*hook)(void *, const char *), void *arg)
{
	pthread_mutex_lock(&st->lock);
	st->cmd_hook = hook;
	st->cmd_hook_arg = arg;
	pthread_mutex_unlock(&st->lock);
}

const char *rh_store_backend(const struct rh_store *st)
{
	return st->ops->name;
}

char *rh_store_time(int64_t t, char *buf, size_t len)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (gmtime_r(&tt, &tm) == NULL || strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(buf, len, "%" PRId64, t);
	return buf;
}

json_t *st_jtime(int64_t t)
{
	char buf[32];

	return t > 0 ? json_string(rh_store_time(t, buf, sizeof buf)) : json_null();
}

json_t *st_jstr(const char *s)
{
	return s != NULL ? json_string(s) : json_null();
}

json_t *st_jdoc(const char *text)
{
	json_t *j;

	if (text == NULL)
		return json_null();
	j = json_loads(text, JSON_DECODE_ANY, NULL);
	return j != NULL ? j : json_null();
}

char *st_dump(const json_t *j)
{
	return json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(12));
}

int st_new_id(const char *prefix, char *buf, size_t len)
{
	unsigned char r[8];
	int n;

	if (RAND_bytes(r, sizeof r) != 1)
		return rh_seterr(RH_ERR_INTERNAL, "random generator failed");
	n = snprintf(buf, len, "%s-%02x%02x%02x%02x%02x%02x%02x%02x", prefix, r[0], r[1], r[2],
		     r[3], r[4], r[5], r[6], r[7]);
	return n > 0 && (size_t)n < len ? 0 : rh_seterr(RH_ERR_INTERNAL, "id buffer too small");
}

void st_rows_free(struct st_rows *r)
{
	if (r == NULL)
		return;
	for (size_t i = 0; r->cell != NULL && i < r->nrows * r->ncols; i++)
		free(r->cell[i]);
	free(r->cell);
	memset(r, 0, sizeof *r);
}

const char *st_cell(const struct st_rows *r, size_t row, size_t col)
{
	if (row >= r->nrows || col >= r->ncols)
		return NULL;
	return r->cell[row * r->ncols + col];
}

int64_t st_int(const struct st_rows *r, size_t row, size_t col)
{
	const char *s = st_cell(r, row, col);
	int64_t v;

	if (s == NULL || rh_parse_i64(s, INT64_MIN, INT64_MAX, &v) < 0)
		return 0;
	return v;
}

/* ---- pool ---- */

int st_acquire(struct rh_store *st, struct st_conn **out)
{
	struct st_conn *c = NULL;
	int rc = 0;

	*out = NULL;
	pthread_mutex_lock(&st->lock);
	for (;;) {
		for (unsigned i = 0; i < st->npool; i++)
			if (!st->pool[i].busy) {
				c = &st->pool[i];
				break;
			}
		if (c != NULL)
			break;
		pthread_cond_wait(&st->cond, &st->lock);
	}
	c->busy = true;
	pthread_mutex_unlock(&st->lock);
	if (c->db == NULL || c->broken) {
		if (c->db != NULL)
			st->ops->disconnect(c->db);
		c->db = NULL;
		c->broken = false;
		rc = st->ops->connect(st->target, &c->db);
		if (rc < 0) {
			st_release(st, c, 0);
			return rc;
		}
	}
	*out = c;
	return 0;
}

void st_release(struct rh_store *st, struct st_conn *c, int rc)
{
	if (c == NULL)
		return;
	if (c->holds_wlock) { /* an error path left the transaction open */
		st->ops->exec(c->db, "ROLLBACK", NULL, 0, NULL);
		c->holds_wlock = false;
		pthread_mutex_unlock(&st->wlock);
	}
	if (rc == RH_ERR_CONNECT)
		c->broken = true;
	pthread_mutex_lock(&st->lock);
	c->busy = false;
	pthread_cond_signal(&st->cond);
	pthread_mutex_unlock(&st->lock);
}

static bool is_write(const char *sql)
{
	static const char *const verbs[] = { "INSERT", "UPDATE", "DELETE", "CREATE", "DROP", "ALTER" };

	while (*sql == ' ')
		sql++;
	for (size_t i = 0; i < RH_ARRAY_SIZE(verbs); i++)
		if (strncasecmp(sql, verbs[i], strlen(verbs[i])) == 0)
			return true;
	return false;
}

void rh_store_fail_after(struct rh_store *st, unsigned n, int err)
{
	pthread_mutex_lock(&st->lock);
	st->fail_countdown = n;
	st->fail_err = err;
	pthread_mutex_unlock(&st->lock);
}

static bool injected(struct rh_store *st, const char *sql)
{
	bool fail = false;

	if (strcmp(sql, "ROLLBACK") == 0)
		return false;
	pthread_mutex_lock(&st->lock);
	if (st->fail_countdown > 0 && --st->fail_countdown == 0)
		fail = true;
	pthread_mutex_unlock(&st->lock);
	return fail;
}

int st_exec(struct rh_store *st, struct st_conn *c, const char *sql, const struct sv *p,
	    size_t n, struct st_rows *rows)
{
	bool lock = st->serialize_writes && !c->holds_wlock && is_write(sql);
	int rc;

	if (injected(st, sql)) {
		if (rows != NULL)
			memset(rows, 0, sizeof *rows);
		return rh_seterr(st->fail_err, "injected fault in: %.60s", sql);
	}
	if (lock)
		pthread_mutex_lock(&st->wlock);
	rc = st->ops->exec(c->db, sql, p, n, rows);
	if (lock)
		pthread_mutex_unlock(&st->wlock);
	if (rc == RH_ERR_CONNECT)
		c->broken = true;
	return rc;
}

int st_begin(struct rh_store *st, struct st_conn *c)
{
	int rc;

	if (st->serialize_writes && !c->holds_wlock) {
		pthread_mutex_lock(&st->wlock);
		c->holds_wlock = true;
	}
	rc = st_exec(st, c, st->ops->begin_write, NULL, 0, NULL);
	if (rc < 0 && c->holds_wlock) {
		c->holds_wlock = false;
		pthread_mutex_unlock(&st->wlock);
	}
	return rc;
}

static void end_tx(struct rh_store *st, struct st_conn *c)
{
	if (c->holds_wlock) {
		c->holds_wlock = false;
		pthread_mutex_unlock(&st->wlock);
	}
}

int st_commit(struct rh_store *st, struct st_conn *c)
{
	int rc = st_exec(st, c, "COMMIT", NULL, 0, NULL);

	if (rc < 0) /* the transaction is still open: roll it back */
		st->ops->exec(c->db, "ROLLBACK", NULL, 0, NULL);
	end_tx(st, c);
	return rc;
}

void st_rollback(struct rh_store *st, struct st_conn *c)
{
	struct rh_err_saved saved;

	/* Keep the error that made us roll back; with none recorded, a failed
	 * ROLLBACK's own error is the better report. */
	rh_err_save(&saved);
	st_exec(st, c, "ROLLBACK", NULL, 0, NULL);
	end_tx(st, c);
	if (saved.code != 0)
		rh_err_restore(&saved);
}

/* ---- open ---- */

int rh_store_open(const char *url, unsigned pool, struct rh_store **out)
{
	struct rh_store *st = NULL;
	struct st_conn *c = NULL;
	int rc;

	*out = NULL;
	if (url == NULL)
		return rh_seterr(RH_ERR_INVAL, "no database given");
	st = calloc(1, sizeof *st);
	if (st == NULL)
		return rh_seterr(RH_ERR_NOMEM, "store");
	pthread_mutex_init(&st->lock, NULL);
	pthread_mutex_init(&st->wlock, NULL);
	pthread_cond_init(&st->cond, NULL);
	st->heartbeat_timeout = 90;
	if (strncmp(url, "sqlite:", 7) == 0) {
		st->ops = &store_sqlite_ops;
		st->target = strdup(url + 7);
		if (st->target != NULL && st->target[0] == '\0') {
			rc = rh_seterr(RH_ERR_INVAL, "database '%s': sqlite: needs a file name", url);
			goto fail;
		}
	} else if (strncmp(url, "postgresql://", 13) == 0 || strncmp(url, "postgres://", 11) == 0) {
		st->ops = &store_pg_ops;
		st->target = strdup(url);
	} else {
		rc = rh_seterr(RH_ERR_INVAL,
			       "database '%s': expected sqlite:PATH or postgresql://...", url);
		goto fail;
	}
	if (st->target == NULL) {
		rc = rh_seterr(RH_ERR_NOMEM, "store");
		goto fail;
	}
	st->npool = pool == 0 ? 8 : pool > STORE_MAX_POOL ? STORE_MAX_POOL : pool;
	if (st->ops == &store_sqlite_ops && strcmp(st->target, ":memory:") == 0)
		st->npool = 1; /* each connection would see its own database */
	st->serialize_writes = st->ops == &store_sqlite_ops;
	/* Connect once now so a bad url fails at start-up, not on first use. */
	rc = st_acquire(st, &c);
	if (rc < 0)
		goto fail;
	st_release(st, c, 0);
	rc = store_migrate(st);
	if (rc < 0)
		goto fail;
	*out = st;
	return 0;
fail:
	rh_store_free(st);
	return rc;
}

void rh_store_free(struct rh_store *st)
{
	if (st == NULL)
		return;
	for (unsigned i = 0; i < st->npool; i++)
		if (st->pool[i].db != NULL)
			st->ops->disconnect(st->pool[i].db);
	pthread_mutex_destroy(&st->lock);
	pthread_mutex_destroy(&st->wlock);
	pthread_cond_destroy(&st->cond);
	free(st->target);
	free(st);
}

/* ---- metadata ---- */

int rh_store_meta_get(struct rh_store *st, const char *key, char **out)
{
	struct st_conn *c;
	struct st_rows r;
	struct sv p[] = { SVS(key) };
	int rc;

	*out = NULL;
	rc = st_acquire(st, &c);
	if (rc < 0)
		return rc;
	rc = st_exec(st, c, "SELECT value FROM meta WHERE key = $1", p, 1, &r);
	st_release(st, c, rc);
	if (rc < 0)
		return rc;
	if (r.nrows == 0 || st_cell(&r, 0, 0) == NULL) {
		st_rows_free(&r);
		return rh_seterr(RH_ERR_NOTFOUND, "no metadata '%s'", key);
	}
	*out = strdup(st_cell(&r, 0, 0));
	st_rows_free(&r);
	return *out ? 0 : rh_seterr(RH_ERR_NOMEM, "metadata");
}

int rh_store_meta_add(struct rh_store *st, const char *key, const char *value)
{
	struct st_conn *c;
	struct sv p[] = { SVS(key), SVS(value) };
	int rc;

	rc = st_acquire(st, &c);
	if (rc < 0)
		return rc;
	rc = st_exec(st, c, "INSERT INTO meta (key, value) VALUES ($1, $2)", p, 2, NULL);
	st_release(st, c, rc);
	return rc;
}

int rh_store_schema_version(struct rh_store *st, int64_t *out)
{
	struct st_conn *c;
	struct st_rows r;
	int rc;

	*out = 0;
	rc = st_acquire(st, &c);
	if (rc < 0)
		return rc;
	rc = st_exec(st, c, "SELECT MAX(version) FROM schema_migrations", NULL, 0, &r);
	st_release(st, c, rc);
	if (rc < 0)
		return rc;
	*out = st_int(&r, 0, 0);
	st_rows_free(&r);
	return 0;
}

/* ---- access keys ---- */

int rh_store_key_add(struct rh_store *st, const struct rh_store_key *k)
{
	struct st_conn *c;
	struct sv p[] = { SVS(k->ak), SVS(k->tenant), SVS(k->secret_enc),
			  SVS(k->description ? k->description : ""), SVI(k->enabled ? 1 : 0),
			  SVI(k->created_at ? k->created_at : st_now(st)) };
	int rc;

	rc = st_acquire(st, &c);
	if (rc < 0)
		return rc;
	rc = st_begin(st, c);
	if (rc == 0)
		rc = st_exec(st, c,
			     "INSERT INTO tenants (name, created_at) VALUES ($2, $6) "
			     "ON CONFLICT (name) DO NOTHING", p, RH_ARRAY_SIZE(p), NULL);
	if (rc == 0)
		rc = st_exec(st, c,
			     "INSERT INTO access_keys (ak, tenant, secret_enc, description, enabled, "
			     "created_at) VALUES ($1, $2, $3, $4, $5, $6)", p, RH_ARRAY_SIZE(p), NULL);
	if (rc == 0)
		rc = st_commit(st, c);
	else
		st_rollback(st, c);
	st_release(st, c, rc);
	if (rc == RH_ERR_EXISTS)
		return rh_seterr(RH_ERR_EXISTS, "access key %s already exists", k->ak);
	return rc;
}

void rh_store_key_release(struct rh_store_key *k)
{
	if (k == NULL)
		return;
	free(k->ak);
	free(k->tenant);
	if (k->secret_enc != NULL)
		memset(k->secret_enc, 0, strlen(k->secret_enc));
	free(k->secret_enc);
	free(k->description);
	memset(k, 0, sizeof *k);
}

int rh_store_key_get(struct rh_store *st, const char *ak, struct rh_store_key *out)
{
	struct st_conn *c;
	struct st_rows r;
	struct sv p[] = { SVS(ak) };
	int rc;

	memset(out, 0, sizeof *out);
	rc = st_acquire(st, &c);
	if (rc < 0)
		return rc;
	rc = st_exec(st, c,
		     "SELECT ak, tenant, secret_enc, description, enabled, created_at, disabled_at "
		     "FROM access_keys WHERE ak = $1", p, 1, &r);
	st_release(st, c, rc);
	if (rc < 0)
		return rc;
	if (r.nrows == 0) {
		st_rows_free(&r);
		return rh_seterr(RH_ERR_NOTFOUND, "no access key %s", ak);
	}
	out->ak = strdup(st_cell(&r, 0, 0));
	out->tenant = strdup(st_cell(&r, 0, 1));
	out->secret_enc = strdup(st_cell(&r, 0, 2));
	out->description = strdup(st_cell(&r, 0, 3) ? st_cell(&r, 0, 3) : "");
	out->enabled = st_int(&r, 0, 4) != 0;
	out->created_at = st_int(&r, 0, 5);
	out->disabled_at = st_int(&r, 0, 6);
	st_rows_free(&r);
	if (!out->ak || !out->tenant || !out->secret_enc || !out->description) {
		rh_store_key_release(out);
		return rh_seterr(RH_ERR_NOMEM, "access key");
	}
	return 0;
}

int rh_store_key_list(struct rh_store *st, json_t **out)
{
	struct st_conn *c;
	struct st_rows r;
	json_t *a;
	int rc;

	*out = NULL;
	rc = st_acquire(st, &c);
	if (rc < 0)
		return rc;
	rc = st_exec(st, c,
		     "SELECT ak, tenant, description, enabled, created_at, disabled_at "
		     "FROM access_keys ORDER BY created_at, ak", NULL, 0, &r);
	st_release(st, c, rc);
	if (rc < 0)
		return rc;
	a = json_array();
	for (size_t i = 0; a != NULL && i < r.nrows; i++)
		json_array_append_new(a, json_pack("{s:s, s:s, s:s, s:s, s:o, s:o}",
						   "access_key", st_cell(&r, i, 0),
						   "tenant", st_cell(&r, i, 1),
						   "description", st_cell(&r, i, 2) ? st_cell(&r, i, 2) : "",
						   "state", st_int(&r, i, 3) ? "enabled" : "disabled",
						   "created_at", st_jtime(st_int(&r, i, 4)),
						   "disabled_at", st_jtime(st_int(&r, i, 5))));
	st_rows_free(&r);
	if (a == NULL)
		return rh_seterr(RH_ERR_NOMEM, "key list");
	*out = a;
	return 0;
}

int rh_store_key_set_enabled(struct rh_store *st, const char *ak, bool enabled)
{
	struct st_conn *c;
	struct st_rows r;
	struct sv p[] = { SVS(ak), SVI(enabled ? 1 : 0), enabled ? SVN : SVI(st_now(st)) };
	int rc;

	rc = st_acquire(st, &c);
	if (rc < 0)
		return rc;
	rc = st_exec(st, c, "UPDATE access_keys SET enabled = $2, disabled_at = $3 WHERE ak = $1",
		     p, 3, &r);
	st_release(st, c, rc);
	if (rc < 0)
		return rc;
	rc = r.changes == 0 ? rh_seterr(RH_ERR_NOTFOUND, "no access key %s", ak) : 0;
	st_rows_free(&r);
	return rc;
}

int rh_store_nonce_use(struct rh_store *st, const char *ak, const char *nonce, int64_t expires_at)
{
	struct st_conn *c;
	int64_t now = st_now(st);
	struct sv p[] = { SVS(ak), SVS(nonce), SVI(expires_at), SVI(now) };
	bool purge;
	int rc;

	pthread_mutex_lock(&st->lock);
	purge = (++st->nonce_calls % 256) == 1;
	pthread_mutex_unlock(&st->lock);
	rc = st_acquire(st, &c);
	if (rc < 0)
		return rc;
	if (purge)
		st_exec(st, c, "DELETE FROM nonces WHERE expires_at < $4", p, 4, NULL);
	rc = st_exec(st, c, "INSERT INTO nonces (ak, nonce, expires_at) VALUES ($1, $2, $3)",
		     p, 4, NULL);
	if (rc == RH_ERR_EXISTS) {
		/* An expired entry that was not purged yet does not count. */
		struct st_rows r;

		rc = st_exec(st, c,
			     "UPDATE nonces SET expires_at = $3 WHERE ak = $1 AND nonce = $2 "
			     "AND expires_at < $4", p, 4, &r);
		if (rc == 0 && r.changes == 0)
			rc = rh_seterr(RH_ERR_EXISTS, "request nonce already used (replayed request)");
		st_rows_free(&r);
	}
	st_release(st, c, rc);
	return rc;
}

int st_list_page(struct rh_store *st, const char *columns, const char *cond, const char *tail,
		 const struct sv *p, size_t np, int64_t limit, int64_t offset, st_doc_fn doc,
		 const char *what, json_t **out)
{
	struct st_conn *c;
	struct st_rows r = { 0 }, cnt = { 0 };
	char sql[2048];
	json_t *items;
	int rc;

	*out = NULL;
	rc = st_acquire(st, &c);
	if (rc < 0)
		return rc;
	snprintf(sql, sizeof sql, "SELECT COUNT(*)%s", cond);
	rc = st_exec(st, c, sql, p, np, &cnt);
	if (rc == 0) {
		snprintf(sql, sizeof sql, "SELECT %s%s%s", columns, cond, tail);
		rc = st_exec(st, c, sql, p, np, &r);
	}
	st_release(st, c, rc);
	if (rc < 0)
		goto out;
	items = json_array();
	for (size_t i = 0; items != NULL && i < r.nrows; i++)
		json_array_append_new(items, doc(st, &r, i));
	*out = json_pack("{s:o, s:I, s:I, s:I}", "items", items, "total",
			 (json_int_t)st_int(&cnt, 0, 0), "limit", (json_int_t)limit,
			 "offset", (json_int_t)offset);
	if (*out == NULL)
		rc = rh_seterr(RH_ERR_NOMEM, "%s", what);
out:
	st_rows_free(&r);
	st_rows_free(&cnt);
	return rc;
}
