/*
 * Versioned schema migrations. Each migration is a list of statements in
 * the SQL both backends accept; they run in one transaction under the
 * backend's schema lock and record themselves in schema_migrations.
 * Never edit a released migration: add a new one at the end.
 */
#define RH_LOG_COMPONENT "store"
#include <stdio.h>

#include "rehost/checked.h"
#include "rehost/err.h"
#include "rehost/log.h"
#include "store-internal.h"

static const char *const v1[] = {
	"CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
	"CREATE TABLE tenants (name TEXT PRIMARY KEY, created_at BIGINT NOT NULL)",
	"CREATE TABLE access_keys ("
	" ak TEXT PRIMARY KEY,"
	" tenant TEXT NOT NULL REFERENCES tenants(name),"
	" secret_enc TEXT NOT NULL,"
	" description TEXT NOT NULL,"
	" enabled BIGINT NOT NULL,"
	" created_at BIGINT NOT NULL,"
	" disabled_at BIGINT)",
	"CREATE TABLE nonces ("
	" ak TEXT NOT NULL, nonce TEXT NOT NULL, expires_at BIGINT NOT NULL,"
	" PRIMARY KEY (ak, nonce))",
	"CREATE INDEX nonces_expires ON nonces (expires_at)",
	"CREATE TABLE sources ("
	" id TEXT PRIMARY KEY,"
	" tenant TEXT NOT NULL,"
	" agent_id TEXT NOT NULL,"
	" name TEXT NOT NULL,"
	" os_type TEXT, os_name TEXT, firmware TEXT, arch TEXT,"
	" cpus BIGINT, memory_bytes BIGINT, ip TEXT, agent_version TEXT,"
	" disk_count BIGINT, disk_bytes BIGINT, used_bytes BIGINT,"
	" migratable BIGINT, recommended_mode TEXT,"
	" inventory TEXT NOT NULL,"
	" registered_at BIGINT NOT NULL, updated_at BIGINT NOT NULL, heartbeat_at BIGINT,"
	" UNIQUE (tenant, agent_id))",
	"CREATE INDEX sources_tenant_name ON sources (tenant, name, id)",
	"CREATE TABLE tasks ("
	" id TEXT PRIMARY KEY,"
	" tenant TEXT NOT NULL,"
	" source_id TEXT NOT NULL REFERENCES sources(id) ON DELETE CASCADE,"
	" name TEXT NOT NULL,"
	" state TEXT NOT NULL, phase TEXT NOT NULL, mode TEXT NOT NULL,"
	" config TEXT NOT NULL,"
	" version BIGINT NOT NULL,"
	" current_cmd TEXT,"
	" progress_centi BIGINT NOT NULL DEFAULT 0,"
	" total_bytes BIGINT NOT NULL DEFAULT 0,"
	" migrated_bytes BIGINT NOT NULL DEFAULT 0,"
	" rate_bps BIGINT NOT NULL DEFAULT 0,"
	" sample_ms BIGINT NOT NULL DEFAULT 0,"
	" sample_bytes BIGINT NOT NULL DEFAULT 0,"
	" error_code TEXT, error_message TEXT, error_hint TEXT,"
	" created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL,"
	" started_at BIGINT, finished_at BIGINT, round_started_at BIGINT)",
	"CREATE INDEX tasks_tenant_created ON tasks (tenant, created_at)",
	"CREATE INDEX tasks_source ON tasks (source_id)",
	"CREATE TABLE subtasks ("
	" task_id TEXT NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,"
	" seq BIGINT NOT NULL,"
	" name TEXT NOT NULL,"
	" state TEXT NOT NULL,"
	" progress_centi BIGINT NOT NULL DEFAULT 0,"
	" started_at BIGINT, finished_at BIGINT,"
	" PRIMARY KEY (task_id, seq))",
	"CREATE TABLE commands ("
	" id TEXT PRIMARY KEY,"
	" tenant TEXT NOT NULL,"
	" source_id TEXT NOT NULL REFERENCES sources(id) ON DELETE CASCADE,"
	" task_id TEXT,"
	" type TEXT NOT NULL,"
	" payload TEXT NOT NULL,"
	" state TEXT NOT NULL,"
	" created_ms BIGINT NOT NULL,"
	" delivered_at BIGINT, finished_at BIGINT,"
	" result TEXT)",
	"CREATE INDEX commands_source_state ON commands (source_id, state, created_ms)",
	NULL,
};

static const char *const v2[] = {
	"CREATE TABLE task_events ("
	" task_id TEXT NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,"
	" at_ms BIGINT NOT NULL,"
	" event TEXT NOT NULL,"
	" from_state TEXT NOT NULL,"
	" to_state TEXT NOT NULL,"
	" detail TEXT)",
	"CREATE INDEX task_events_task ON task_events (task_id, at_ms)",
	NULL,
};

static const struct migration {
	int64_t version;
	const char *description;
	const char *const *stmts;
} migrations[] = {
	{ 1, "initial schema: keys, nonces, sources, tasks, subtasks, commands", v1 },
	{ 2, "task event history", v2 },
};

_Static_assert(RH_ARRAY_SIZE(migrations) == RH_STORE_SCHEMA_VERSION,
	       "RH_STORE_SCHEMA_VERSION must equal the number of migrations");

int store_migrate(struct rh_store *st)
{
	struct st_conn *c = NULL;
	struct st_rows r = { 0 };
	int64_t have;
	int rc;

	rc = st_acquire(st, &c);
	if (rc < 0)
		return rc;
	rc = st_begin(st, c);
	if (rc < 0)
		goto out;
	rc = st->ops->lock_schema(c->db);
	if (rc == 0)
		rc = st_exec(st, c,
			     "CREATE TABLE IF NOT EXISTS schema_migrations ("
			     " version BIGINT PRIMARY KEY, description TEXT NOT NULL,"
			     " applied_at BIGINT NOT NULL)", NULL, 0, NULL);
	if (rc == 0)
		rc = st_exec(st, c, "SELECT MAX(version) FROM schema_migrations", NULL, 0, &r);
	if (rc < 0)
		goto fail;
	have = st_int(&r, 0, 0);
	st_rows_free(&r);
	if (have > RH_STORE_SCHEMA_VERSION) {
		rc = rh_seterr(RH_ERR_UNSUPPORTED,
			       "database schema version %lld is newer than this rehost knows (%d); "
			       "upgrade rehost", (long long)have, RH_STORE_SCHEMA_VERSION);
		goto fail;
	}
	for (size_t m = 0; m < RH_ARRAY_SIZE(migrations); m++) {
		const struct migration *mg = &migrations[m];
		struct sv p[] = { SVI(mg->version), SVS(mg->description), SVI(st_now(st)) };

		if (mg->version <= have)
			continue;
		for (const char *const *s = mg->stmts; *s != NULL; s++) {
			rc = st_exec(st, c, *s, NULL, 0, NULL);
			if (rc < 0) {
				rh_seterr(rc, "schema migration %lld: %s", (long long)mg->version,
					  rh_lasterr());
				goto fail;
			}
		}
		rc = st_exec(st, c,
			     "INSERT INTO schema_migrations (version, description, applied_at) "
			     "VALUES ($1, $2, $3)", p, 3, NULL);
		if (rc < 0)
			goto fail;
		rh_log_info("database schema migrated to version %lld (%s)",
			    (long long)mg->version, mg->description);
	}
	rc = st_commit(st, c);
	goto out;
fail:
	st_rollback(st, c);
out:
	st_release(st, c, rc);
	return rc;
}
