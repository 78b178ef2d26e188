/* Store backend: PostgreSQL through libpq, for several server replicas. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libpq-fe.h>

#include "rehost/err.h"
#include "store-internal.h"

#define PG_MAX_PARAMS 32

static void pg_notice(void *arg, const char *msg)
{
	(void)arg;
	(void)msg; /* "relation already exists, skipping" and the like */
}

static int pg_connect(const char *target, void **conn)
{
	PGconn *pg;
	int rc;

	*conn = NULL;
	pg = PQconnectdb(target);
	if (pg == NULL)
		return rh_seterr(RH_ERR_NOMEM, "PostgreSQL connection");
	if (PQstatus(pg) != CONNECTION_OK) {
		char msg[512];

		snprintf(msg, sizeof msg, "%s", PQerrorMessage(pg));
		msg[strcspn(msg, "\n")] = '\0';
		PQfinish(pg);
		return rh_seterr(RH_ERR_CONNECT, "cannot connect to PostgreSQL: %s", msg);
	}
	PQsetNoticeProcessor(pg, pg_notice, NULL);
	*conn = pg;
	rc = 0;
	return rc;
}

static void pg_disconnect(void *conn)
{
	PQfinish(conn);
}

static int pg_exec(void *conn, const char *sql, const struct sv *p, size_t n,
		   struct st_rows *rows)
{
	PGconn *pg = conn;
	PGresult *res;
	const char *values[PG_MAX_PARAMS];
	Oid types[PG_MAX_PARAMS];
	char ints[PG_MAX_PARAMS][24];
	ExecStatusType status;
	int ret = 0;

	if (rows != NULL)
		memset(rows, 0, sizeof *rows);
	if (n > PG_MAX_PARAMS)
		return rh_seterr(RH_ERR_INTERNAL, "too many SQL parameters (%zu)", n);
	for (size_t i = 0; i < n; i++) {
		/* Typed parameters: PostgreSQL cannot infer the type of one a
		 * statement does not use, and the store passes one parameter
		 * array to several statements. NULLs stay untyped. */
		if (p[i].type == SV_TEXT) {
			values[i] = p[i].s;
			types[i] = 25; /* TEXTOID */
		} else if (p[i].type == SV_INT) {
			snprintf(ints[i], sizeof ints[i], "%" PRId64, p[i].i);
			values[i] = ints[i];
			types[i] = 20; /* INT8OID */
		} else {
			values[i] = NULL;
			types[i] = 0;
		}
	}
	res = PQexecParams(pg, sql, (int)n, n ? types : NULL, values, NULL, NULL, 0);
	status = PQresultStatus(res);
	if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
		const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
		char msg[512];

		snprintf(msg, sizeof msg, "%s", PQerrorMessage(pg));
		msg[strcspn(msg, "\n")] = '\0';
		if (PQstatus(pg) != CONNECTION_OK)
			ret = rh_seterr(RH_ERR_CONNECT, "PostgreSQL connection lost: %s", msg);
		else if (state != NULL && strcmp(state, "23505") == 0)
			ret = rh_seterr(RH_ERR_EXISTS, "%s", msg);
		else if (state != NULL && (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0 ||
					   strcmp(state, "55P03") == 0))
			ret = rh_seterr(RH_ERR_BUSY, "%s", msg);
		else if (state != NULL && strncmp(state, "23", 2) == 0)
			ret = rh_seterr(RH_ERR_INVAL, "%s", msg);
		else
			ret = rh_seterr(RH_ERR_IO, "PostgreSQL: %s", msg);
		goto out;
	}
	if (rows == NULL)
		goto out;
	rows->changes = 0;
	if (*PQcmdTuples(res) != '\0')
		rows->changes = strtoll(PQcmdTuples(res), NULL, 10);
	if (status == PGRES_TUPLES_OK) {
		size_t nr = (size_t)PQntuples(res), nc = (size_t)PQnfields(res);

		rows->ncols = nc;
		if (nr > 0 && nc > 0) {
			rows->cell = calloc(nr * nc, sizeof *rows->cell);
			if (rows->cell == NULL) {
				ret = rh_seterr(RH_ERR_NOMEM, "query result");
				goto out;
			}
			rows->nrows = nr;
			for (size_t r = 0; r < nr; r++)
				for (size_t c = 0; c < nc; c++) {
					if (PQgetisnull(res, (int)r, (int)c))
						continue;
					rows->cell[r * nc + c] = strdup(PQgetvalue(res, (int)r, (int)c));
					if (rows->cell[r * nc + c] == NULL) {
						ret = rh_seterr(RH_ERR_NOMEM, "query result");
						goto out;
					}
				}
		}
	}
out:
	PQclear(res);
	if (ret < 0 && rows != NULL)
		st_rows_free(rows);
	return ret;
}

static int pg_lock_schema(void *conn)
{
	/* Transaction-scoped advisory lock: replicas starting together apply
	 * the migrations one after the other; the later ones find nothing to do. */
	return pg_exec(conn, "SELECT pg_advisory_xact_lock(7236601)", NULL, 0, NULL);
}

const struct store_ops store_pg_ops = {
	.struct_size = sizeof(struct store_ops),
	.name = "postgresql",
	.begin_write = "BEGIN",
	.for_update = " FOR UPDATE",
	.connect = pg_connect,
	.disconnect = pg_disconnect,
	.exec = pg_exec,
	.lock_schema = pg_lock_schema,
};
