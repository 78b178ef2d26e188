/* Store backend: SQLite in WAL mode (the embedded default). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sqlite3.h>

#include "rehost/err.h"
#include "store-internal.h"

static int map_rc(sqlite3 *db, int rc, const char *what)
{
	int ext = sqlite3_extended_errcode(db);

	switch (rc & 0xff) {
	case SQLITE_CONSTRAINT:
		if (ext == SQLITE_CONSTRAINT_UNIQUE || ext == SQLITE_CONSTRAINT_PRIMARYKEY)
			return rh_seterr(RH_ERR_EXISTS, "%s: %s", what, sqlite3_errmsg(db));
		return rh_seterr(RH_ERR_INVAL, "%s: %s", what, sqlite3_errmsg(db));
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return rh_seterr(RH_ERR_BUSY, "%s: database is busy: %s", what, sqlite3_errmsg(db));
	case SQLITE_NOMEM:
		return rh_seterr(RH_ERR_NOMEM, "%s: out of memory", what);
	case SQLITE_FULL:
		return rh_seterr(RH_ERR_NOSPACE, "%s: database disk is full", what);
	default:
		return rh_seterr(RH_ERR_IO, "%s: %s", what, sqlite3_errmsg(db));
	}
}

static int sq_exec(void *conn, const char *sql, const struct sv *p, size_t n,
		   struct st_rows *rows)
{
	sqlite3 *db = conn;
	sqlite3_stmt *stmt = NULL;
	size_t cap = 0;
	int rc, ret = 0;

	if (rows != NULL)
		memset(rows, 0, sizeof *rows);
	rc = sqlite3_prepare_v2(db, sql, -1, &stmt, NULL);
	if (rc != SQLITE_OK)
		return map_rc(db, rc, "prepare");
	for (size_t i = 0; i < n; i++) {
		char name[24];
		int idx;

		snprintf(name, sizeof name, "$%zu", i + 1);
		idx = sqlite3_bind_parameter_index(stmt, name);
		if (idx == 0)
			continue; /* parameter not used by this statement */
		if (p[i].type == SV_TEXT)
			rc = sqlite3_bind_text(stmt, idx, p[i].s, -1, SQLITE_STATIC);
		else if (p[i].type == SV_INT)
			rc = sqlite3_bind_int64(stmt, idx, p[i].i);
		else
			rc = sqlite3_bind_null(stmt, idx);
		if (rc != SQLITE_OK) {
			ret = map_rc(db, rc, "bind");
			goto out;
		}
	}
	if (rows != NULL)
		rows->ncols = (size_t)sqlite3_column_count(stmt);
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		if (rows == NULL || rows->ncols == 0)
			continue;
		if (rows->nrows * rows->ncols + rows->ncols > cap) {
			size_t ncap = cap ? cap * 2 : rows->ncols * 16;
			char **nc = realloc(rows->cell, ncap * sizeof *nc);

			if (nc == NULL) {
				ret = rh_seterr(RH_ERR_NOMEM, "query result");
				goto out;
			}
			memset(nc + cap, 0, (ncap - cap) * sizeof *nc);
			rows->cell = nc;
			cap = ncap;
		}
		/* Count the row first so that st_rows_free sees every cell. */
		rows->nrows++;
		for (size_t c = 0; c < rows->ncols; c++) {
			const unsigned char *t = sqlite3_column_text(stmt, (int)c);

			if (t != NULL &&
			    (rows->cell[(rows->nrows - 1) * rows->ncols + c] = strdup((const char *)t)) == NULL) {
				ret = rh_seterr(RH_ERR_NOMEM, "query result");
				goto out;
			}
		}
	}
	if (rc != SQLITE_DONE) {
		ret = map_rc(db, rc, "query");
		goto out;
	}
	if (rows != NULL)
		rows->changes = sqlite3_changes64(db);
out:
	sqlite3_finalize(stmt);
	if (ret < 0 && rows != NULL)
		st_rows_free(rows);
	return ret;
}

static int sq_connect(const char *target, void **conn)
{
	sqlite3 *db = NULL;
	static const char *const pragmas[] = {
		"PRAGMA journal_mode=WAL",
		"PRAGMA synchronous=NORMAL",
		"PRAGMA foreign_keys=ON",
	};
	int rc;

	*conn = NULL;
	rc = sqlite3_open_v2(target, &db,
			     SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		rc = rh_seterr(RH_ERR_IO, "cannot open SQLite database %s: %s", target,
			       db ? sqlite3_errmsg(db) : "out of memory");
		sqlite3_close(db);
		return rc;
	}
	sqlite3_busy_timeout(db, 15000);
	for (size_t i = 0; i < sizeof pragmas / sizeof pragmas[0]; i++) {
		struct st_rows r;

		rc = sq_exec(db, pragmas[i], NULL, 0, &r);
		st_rows_free(&r);
		if (rc < 0) {
			sqlite3_close(db);
			return rc;
		}
	}
	*conn = db;
	return 0;
}

static void sq_disconnect(void *conn)
{
	sqlite3_close(conn);
}

static int sq_lock_schema(void *conn)
{
	(void)conn; /* BEGIN IMMEDIATE already holds the write lock */
	return 0;
}

const struct store_ops store_sqlite_ops = {
	.struct_size = sizeof(struct store_ops),
	.name = "sqlite",
	.begin_write = "BEGIN IMMEDIATE",
	.for_update = "",
	.connect = sq_connect,
	.disconnect = sq_disconnect,
	.exec = sq_exec,
	.lock_schema = sq_lock_schema,
};
