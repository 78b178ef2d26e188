/* Sources: registration with the agent's inventory, heartbeats, queries. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rehost/checked.h"
#include "rehost/err.h"
#include "rehost/json.h"
#include "store-internal.h"

#define MAX_INV_DISKS 256

const char source_columns[] =
	"id, agent_id, name, os_type, os_name, firmware, arch, cpus, memory_bytes, ip, "
	"agent_version, disk_count, disk_bytes, used_bytes, migratable, recommended_mode, "
	"registered_at, updated_at, heartbeat_at, inventory";

static json_t *jint_or_null(const struct st_rows *r, size_t row, size_t col)
{
	return st_cell(r, row, col) ? json_integer(st_int(r, row, col)) : json_null();
}

json_t *source_doc(struct rh_store *st, const struct st_rows *r, size_t i, bool with_inventory)
{
	int64_t hb = st_int(r, i, 18);
	bool connected = hb > 0 && hb >= st_now(st) - st->heartbeat_timeout;
	json_t *o;

	o = json_pack("{s:s, s:s, s:s, s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o,"
		      " s:o, s:o, s:o, s:o, s:o}",
		      "id", st_cell(r, i, 0), "agent_id", st_cell(r, i, 1), "name", st_cell(r, i, 2),
		      "connection", connected ? "connected" : "disconnected",
		      "os_type", st_jstr(st_cell(r, i, 3)), "os", st_jstr(st_cell(r, i, 4)),
		      "firmware", st_jstr(st_cell(r, i, 5)), "arch", st_jstr(st_cell(r, i, 6)),
		      "cpus", jint_or_null(r, i, 7), "memory_bytes", jint_or_null(r, i, 8),
		      "ip", st_jstr(st_cell(r, i, 9)), "agent_version", st_jstr(st_cell(r, i, 10)),
		      "disk_count", jint_or_null(r, i, 11), "disk_bytes", jint_or_null(r, i, 12),
		      "used_bytes", jint_or_null(r, i, 13),
		      "migratable", st_cell(r, i, 14) ? json_boolean(st_int(r, i, 14)) : json_null(),
		      "recommended_mode", st_jstr(st_cell(r, i, 15)),
		      "registered_at", st_jtime(st_int(r, i, 16)),
		      "updated_at", st_jtime(st_int(r, i, 17)),
		      "last_heartbeat_at", st_jtime(hb));
	if (o != NULL && with_inventory)
		json_object_set_new(o, "inventory", st_jdoc(st_cell(r, i, 19)));
	return o;
}

/* Facts the list views need, pulled out of the inventory once. */
struct inv_facts {
	const char *name, *os_type, *os_name, *firmware, *arch, *ip, *mode;
	int64_t cpus, memory, ndisks, disk_bytes, used_bytes;
	int migratable; /* -1 unknown */
};

static int opt_str(const json_t *o, const char *key, const char *path, const char **out)
{
	const json_t *j = json_object_get(o, key);

	*out = NULL;
	if (j == NULL || json_is_null(j))
		return 0;
	if (!json_is_string(j) || strlen(json_string_value(j)) > 1024)
		return rh_seterr(RH_ERR_INVAL, "inventory: %s must be a string", path);
	*out = json_string_value(j);
	return 0;
}

static int opt_int(const json_t *o, const char *key, const char *path, int64_t *out)
{
	const json_t *j = json_object_get(o, key);

	*out = -1;
	if (j == NULL || json_is_null(j))
		return 0;
	if (!json_is_integer(j) || json_integer_value(j) < 0)
		return rh_seterr(RH_ERR_INVAL, "inventory: %s must be a non-negative integer", path);
	*out = json_integer_value(j);
	return 0;
}

static int inv_extract(const json_t *inv, const char *agent_id, struct inv_facts *f)
{
	const json_t *host, *os, *disks, *d, *net, *sum, *reco;
	size_t i;
	int rc;

	memset(f, 0, sizeof *f);
	f->migratable = -1;
	if (!json_is_object(inv))
		return rh_seterr(RH_ERR_INVAL, "inventory must be a JSON object");
	host = json_object_get(inv, "host");
	if (host != NULL && !json_is_object(host))
		return rh_seterr(RH_ERR_INVAL, "inventory: host must be an object");
	os = json_object_get(host, "os");
	if (os != NULL && !json_is_object(os))
		return rh_seterr(RH_ERR_INVAL, "inventory: host.os must be an object");
	if ((rc = opt_str(host, "hostname", "host.hostname", &f->name)) < 0 ||
	    (rc = opt_str(host, "os_type", "host.os_type", &f->os_type)) < 0 ||
	    (rc = opt_str(os, "pretty_name", "host.os.pretty_name", &f->os_name)) < 0 ||
	    (rc = opt_str(host, "firmware", "host.firmware", &f->firmware)) < 0 ||
	    (rc = opt_str(host, "arch", "host.arch", &f->arch)) < 0 ||
	    (rc = opt_int(host, "cpus", "host.cpus", &f->cpus)) < 0 ||
	    (rc = opt_int(host, "memory_bytes", "host.memory_bytes", &f->memory)) < 0)
		return rc;
	if (f->firmware != NULL && strcmp(f->firmware, "bios") != 0 &&
	    strcmp(f->firmware, "uefi") != 0)
		return rh_seterr(RH_ERR_INVAL, "inventory: host.firmware must be \"bios\" or \"uefi\"");
	if (f->os_type == NULL)
		f->os_type = "linux";
	if (f->name == NULL || *f->name == '\0')
		f->name = agent_id;
	net = json_object_get(inv, "network");
	if (net != NULL && !json_is_object(net))
		return rh_seterr(RH_ERR_INVAL, "inventory: network must be an object");
	if ((rc = opt_str(net, "ipv4", "network.ipv4", &f->ip)) < 0)
		return rc;
	disks = json_object_get(inv, "disks");
	if (disks != NULL && (!json_is_array(disks) || json_array_size(disks) > MAX_INV_DISKS))
		return rh_seterr(RH_ERR_INVAL, "inventory: disks must be an array of at most %d disks",
				 MAX_INV_DISKS);
	json_array_foreach(disks, i, d) {
		int64_t size;
		const char *name;
		char path[48];

		snprintf(path, sizeof path, "disks[%zu].size_bytes", i);
		if (!json_is_object(d))
			return rh_seterr(RH_ERR_INVAL, "inventory: disks[%zu] must be an object", i);
		if ((rc = opt_int(d, "size_bytes", path, &size)) < 0)
			return rc;
		snprintf(path, sizeof path, "disks[%zu].name", i);
		if ((rc = opt_str(d, "name", path, &name)) < 0)
			return rc;
		if (size < 0)
			return rh_seterr(RH_ERR_INVAL, "inventory: %s is required", path);
		f->disk_bytes += size;
		f->ndisks++;
	}
	f->used_bytes = (int64_t)rh_taskcfg_data_bytes(inv, "file");
	sum = json_object_get(inv, "summary");
	if (json_is_boolean(json_object_get(sum, "migratable")))
		f->migratable = json_is_true(json_object_get(sum, "migratable"));
	reco = json_object_get(inv, "recommendation");
	if ((rc = opt_str(reco, "mode", "recommendation.mode", &f->mode)) < 0)
		return rc;
	return 0;
}

static struct sv int_or_null(int64_t v)
{
	return v >= 0 ? SVI(v) : SVN;
}

static int source_fetch(struct rh_store *st, struct st_conn *c, const char *tenant,
			const char *where, const char *key, bool with_inventory, json_t **out)
{
	char sql[768];
	struct sv p[] = { SVS(tenant), SVS(key) };
	struct st_rows r;
	int rc;

	*out = NULL;
	snprintf(sql, sizeof sql, "SELECT %s FROM sources WHERE tenant = $1 AND %s = $2",
		 source_columns, where);
	rc = st_exec(st, c, sql, p, 2, &r);
	if (rc < 0)
		return rc;
	if (r.nrows == 0)
		rc = rh_seterr(RH_ERR_NOTFOUND, "no source %s", key);
	else if ((*out = source_doc(st, &r, 0, with_inventory)) == NULL)
		rc = rh_seterr(RH_ERR_NOMEM, "source");
	st_rows_free(&r);
	return rc;
}

int rh_store_source_register(struct rh_store *st, const char *tenant, const char *agent_id,
			     const char *agent_version, const json_t *inv, bool *created,
			     json_t **out)
{
	struct inv_facts f;
	struct st_conn *c = NULL;
	struct st_rows r = { 0 };
	char id[40], *text = NULL, sql[256];
	int64_t now = st_now(st);
	int rc;

	*out = NULL;
	*created = false;
	if (agent_id == NULL || *agent_id == '\0' || strlen(agent_id) > 128)
		return rh_seterr(RH_ERR_INVAL, "agent_id must be a string of 1 to 128 bytes");
	rc = inv_extract(inv, agent_id, &f);
	if (rc < 0)
		return rc;
	text = st_dump(inv);
	if (text == NULL)
		return rh_seterr(RH_ERR_NOMEM, "inventory");
	if (strlen(text) > RH_STORE_MAX_INVENTORY) {
		free(text);
		return rh_seterr(RH_ERR_TOOBIG, "inventory larger than %u bytes", RH_STORE_MAX_INVENTORY);
	}
	rc = st_acquire(st, &c);
	if (rc < 0)
		goto out;
	rc = st_begin(st, c);
	if (rc < 0)
		goto out;
	{
		struct sv p[] = { SVS(tenant), SVI(now) };

		/* Lock the tenant so concurrent registrations count right. */
		rc = st_exec(st, c, "INSERT INTO tenants (name, created_at) VALUES ($1, $2) "
			     "ON CONFLICT (name) DO NOTHING", p, 2, NULL);
		snprintf(sql, sizeof sql, "SELECT name FROM tenants WHERE name = $1%s",
			 st->ops->for_update);
		if (rc == 0)
			rc = st_exec(st, c, sql, p, 1, NULL);
	}
	if (rc < 0)
		goto fail;
	{
		struct sv p[] = { SVS(tenant), SVS(agent_id) };

		rc = st_exec(st, c, "SELECT id FROM sources WHERE tenant = $1 AND agent_id = $2",
			     p, 2, &r);
	}
	if (rc < 0)
		goto fail;
	if (r.nrows > 0) {
		snprintf(id, sizeof id, "%s", st_cell(&r, 0, 0));
	} else {
		struct sv p[] = { SVS(tenant) };

		st_rows_free(&r);
		rc = st_exec(st, c, "SELECT COUNT(*) FROM sources WHERE tenant = $1", p, 1, &r);
		if (rc < 0)
			goto fail;
		if (st_int(&r, 0, 0) >= RH_STORE_MAX_SOURCES) {
			rc = rh_seterr(RH_ERR_TOOBIG,
				       "tenant '%s' already has %d source servers, the maximum; "
				       "delete migrated ones first", tenant, RH_STORE_MAX_SOURCES);
			goto fail;
		}
		rc = st_new_id("src", id, sizeof id);
		if (rc < 0)
			goto fail;
		*created = true;
	}
	st_rows_free(&r);
	{
		struct sv p[] = {
			SVS(id), SVS(tenant), SVS(agent_id), SVS(f.name), SVS(f.os_type),
			SVS(f.os_name), SVS(f.firmware), SVS(f.arch), int_or_null(f.cpus),
			int_or_null(f.memory), SVS(f.ip), SVS(agent_version), SVI(f.ndisks),
			SVI(f.disk_bytes), SVI(f.used_bytes), f.migratable < 0 ? SVN : SVI(f.migratable),
			SVS(f.mode), SVS(text), SVI(now),
		};

		rc = st_exec(st, c,
			     "INSERT INTO sources (id, tenant, agent_id, name, os_type, os_name, firmware,"
			     " arch, cpus, memory_bytes, ip, agent_version, disk_count, disk_bytes,"
			     " used_bytes, migratable, recommended_mode, inventory, registered_at,"
			     " updated_at, heartbeat_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10,"
			     " $11, $12, $13, $14, $15, $16, $17, $18, $19, $19, $19) "
			     "ON CONFLICT (id) DO UPDATE SET name = $4, os_type = $5, os_name = $6,"
			     " firmware = $7, arch = $8, cpus = $9, memory_bytes = $10, ip = $11,"
			     " agent_version = $12, disk_count = $13, disk_bytes = $14, used_bytes = $15,"
			     " migratable = $16, recommended_mode = $17, inventory = $18,"
			     " updated_at = $19, heartbeat_at = $19", p, RH_ARRAY_SIZE(p), NULL);
	}
	if (rc < 0)
		goto fail;
	rc = source_fetch(st, c, tenant, "id", id, false, out);
	if (rc < 0)
		goto fail;
	rc = st_commit(st, c);
	if (rc < 0) {
		json_decref(*out);
		*out = NULL;
	}
	goto out;
fail:
	st_rollback(st, c);
out:
	st_rows_free(&r);
	st_release(st, c, rc);
	free(text);
	return rc;
}

int rh_store_source_heartbeat(struct rh_store *st, const char *tenant, const char *id)
{
	struct st_conn *c;
	struct st_rows r;
	struct sv p[] = { SVS(tenant), SVS(id), SVI(st_now(st)) };
	int rc;

	rc = st_acquire(st, &c);
	if (rc < 0)
		return rc;
	rc = st_exec(st, c, "UPDATE sources SET heartbeat_at = $3 WHERE tenant = $1 AND id = $2",
		     p, 3, &r);
	st_release(st, c, rc);
	if (rc < 0)
		return rc;
	rc = r.changes == 0 ? rh_seterr(RH_ERR_NOTFOUND, "no source %s (register again)", id) : 0;
	st_rows_free(&r);
	return rc;
}

int rh_store_source_get(struct rh_store *st, const char *tenant, const char *id,
			bool with_inventory, json_t **out)
{
	struct st_conn *c;
	int rc;

	*out = NULL;
	rc = st_acquire(st, &c);
	if (rc < 0)
		return rc;
	rc = source_fetch(st, c, tenant, "id", id, with_inventory, out);
	st_release(st, c, rc);
	return rc;
}

static json_t *source_list_doc(struct rh_store *st, const struct st_rows *r, size_t row)
{
	return source_doc(st, r, row, false);
}

int rh_store_source_list(struct rh_store *st, const char *tenant, const struct rh_source_filter *f,
			 int64_t limit, int64_t offset, json_t **out)
{
	static const char cond[] =
		" FROM sources WHERE tenant = $1"
		" AND ($2 = 0 OR ($2 = 1 AND heartbeat_at >= $3) OR"
		"      ($2 = 2 AND (heartbeat_at IS NULL OR heartbeat_at < $3)))"
		" AND ($4 = '' OR substr(name, 1, length($4)) = $4)"
		" AND ($5 = '' OR os_type = $5)";
	struct sv p[] = { SVS(tenant), SVI(f ? f->connection : 0),
			  SVI(st_now(st) - st->heartbeat_timeout), SVS(f && f->name ? f->name : ""),
			  SVS(f && f->os_type ? f->os_type : ""), SVI(limit), SVI(offset) };

	*out = NULL;
	if (limit < 1 || limit > RH_STORE_MAX_PAGE || offset < 0)
		return rh_seterr(RH_ERR_RANGE, "limit must be 1 to %d and offset >= 0",
				 RH_STORE_MAX_PAGE);
	return st_list_page(st, source_columns, cond, " ORDER BY name, id LIMIT $6 OFFSET $7", p,
			    RH_ARRAY_SIZE(p), limit, offset, source_list_doc, "source list", out);
}

int rh_store_source_delete(struct rh_store *st, const char *tenant, const char *id)
{
	struct st_conn *c;
	struct st_rows r = { 0 };
	struct sv p[] = { SVS(tenant), SVS(id) };
	int rc;

	rc = st_acquire(st, &c);
	if (rc < 0)
		return rc;
	rc = st_begin(st, c);
	if (rc < 0)
		goto out;
	rc = st_exec(st, c, "SELECT id FROM sources WHERE tenant = $1 AND id = $2", p, 2, &r);
	if (rc == 0 && r.nrows == 0)
		rc = rh_seterr(RH_ERR_NOTFOUND, "no source %s", id);
	st_rows_free(&r);
	if (rc == 0)
		rc = st_exec(st, c,
			     "SELECT id, state FROM tasks WHERE tenant = $1 AND source_id = $2 AND state IN"
			     " ('running', 'syncing', 'continuous_sync', 'cutting_over', 'testing')",
			     p, 2, &r);
	if (rc == 0 && r.nrows > 0)
		rc = rh_seterr(RH_ERR_STATE, "source %s has task %s that is %s; pause it first",
			       id, st_cell(&r, 0, 0), st_cell(&r, 0, 1));
	st_rows_free(&r);
	if (rc == 0)
		rc = st_exec(st, c, "DELETE FROM sources WHERE tenant = $1 AND id = $2", p, 2, NULL);
	if (rc == 0)
		rc = st_commit(st, c);
	else
		st_rollback(st, c);
out:
	st_release(st, c, rc);
	return rc;
}

int rh_store_stats(struct rh_store *st, json_t **out)
{
	struct st_conn *c;
	struct st_rows a = { 0 }, b = { 0 };
	struct sv p[] = { SVI(st_now(st) - st->heartbeat_timeout) };
	json_t *tasks;
	int rc;

	*out = NULL;
	rc = st_acquire(st, &c);
	if (rc < 0)
		return rc;
	rc = st_exec(st, c,
		     "SELECT COUNT(*), COALESCE(SUM(CASE WHEN heartbeat_at >= $1 THEN 1 ELSE 0 END), 0)"
		     " FROM sources", p, 1, &a);
	if (rc == 0)
		rc = st_exec(st, c, "SELECT state, COUNT(*) FROM tasks GROUP BY state", NULL, 0, &b);
	st_release(st, c, rc);
	if (rc < 0)
		goto out;
	tasks = json_object();
	for (unsigned s = 0; tasks != NULL && s < RH_TASK_STATE_COUNT; s++)
		json_object_set_new(tasks, rh_task_state_name(s), json_integer(0));
	for (size_t i = 0; tasks != NULL && i < b.nrows; i++)
		json_object_set_new(tasks, st_cell(&b, i, 0), json_integer(st_int(&b, i, 1)));
	*out = json_pack("{s:I, s:I, s:o}", "sources", (json_int_t)st_int(&a, 0, 0), "connected",
			 (json_int_t)st_int(&a, 0, 1), "tasks", tasks);
	if (*out == NULL)
		rc = rh_seterr(RH_ERR_NOMEM, "stats");
out:
	st_rows_free(&a);
	st_rows_free(&b);
	return rc;
}
