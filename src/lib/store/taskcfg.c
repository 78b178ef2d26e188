/*
 * Task configuration: normalisation of a request body, validation against
 * the source inventory with the seed's messages (INVENTORY §5.1, §2.3-§2.7,
 * §4.2), and the time estimates of §3.4.
 */
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "rehost/checked.h"
#include "rehost/err.h"
#include "rehost/json.h"
#include "rehost/num.h"
#include "rehost/store.h"

#define MIB (1024ull * 1024)
#define GIB (1024ull * MIB)
#define TIB (1024ull * GIB)
#define MAX_DISKS 64
#define MAX_PATHS 256
#define MAX_WINDOWS 32

static const struct {
	const char *member;
	int cls;
} members[] = {
	{ "source_id", -1 },
	{ "name", RH_SET_ANYTIME },
	{ "rate_limit", RH_SET_ANYTIME },
	{ "estimate", RH_SET_ANYTIME },
	{ "mode", RH_SET_TARGET },
	{ "target", RH_SET_TARGET },
	{ "continuous_sync", RH_SET_SPECIAL },
	{ "auto_cutover", RH_SET_SPECIAL },
	{ "power_on_after_cutover", RH_SET_SPECIAL },
	{ "network_check", RH_SET_SPECIAL },
	{ "compress_threads", RH_SET_SPECIAL },
	{ "buffer_node_bytes", RH_SET_SPECIAL },
	{ "migrate_processes", RH_SET_SPECIAL },
	{ "sync_processes", RH_SET_SPECIAL },
	{ "exclude_paths", RH_SET_SPECIAL },
	{ "sync_only_paths", RH_SET_SPECIAL },
	{ "sync_exclude_paths", RH_SET_SPECIAL },
	{ "limits", RH_SET_SPECIAL },
};

int rh_taskcfg_setting_class(const char *member)
{
	for (size_t i = 0; i < RH_ARRAY_SIZE(members); i++)
		if (strcmp(members[i].member, member) == 0)
			return members[i].cls;
	return -1;
}

struct vctx {
	json_t *errors;
};

static void verr(struct vctx *v, const char *field, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void verr(struct vctx *v, const char *field, const char *code, const char *fmt, ...)
{
	char msg[768];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	json_array_append_new(v->errors, json_pack("{s:s, s:o, s:s}", "field", field,
						   "code", code ? json_string(code) : json_null(),
						   "message", msg));
}

static bool get_bool(struct vctx *v, const json_t *o, const char *key, bool def, bool *out)
{
	const json_t *j = json_object_get(o, key);

	*out = def;
	if (j == NULL || json_is_null(j))
		return true;
	if (!json_is_boolean(j)) {
		verr(v, key, NULL, "%s must be true or false", key);
		return false;
	}
	*out = json_is_true(j);
	return true;
}

/* An integer member in [min, max]; def when absent. */
static bool get_int(struct vctx *v, const json_t *o, const char *field, const char *key,
		    int64_t min, int64_t max, int64_t def, const char *unit, int64_t *out)
{
	const json_t *j = json_object_get(o, key);

	*out = def;
	if (j == NULL || json_is_null(j))
		return true;
	if (!json_is_integer(j) || json_integer_value(j) < min || json_integer_value(j) > max) {
		verr(v, field, NULL, "%s must be an integer from %" PRId64 " to %" PRId64 "%s%s",
		     field, min, max, unit ? " " : "", unit ? unit : "");
		return false;
	}
	*out = json_integer_value(j);
	return true;
}

static json_t *get_paths(struct vctx *v, const json_t *o, const char *key)
{
	const json_t *j = json_object_get(o, key);
	json_t *out = json_array(), *e;
	size_t i;

	if (j == NULL || json_is_null(j))
		return out;
	if (!json_is_array(j) || json_array_size(j) > MAX_PATHS) {
		verr(v, key, NULL, "%s must be a list of at most %d absolute paths", key, MAX_PATHS);
		return out;
	}
	json_array_foreach(j, i, e) {
		const char *s = json_string_value(e);

		if (s == NULL || s[0] != '/' || strlen(s) >= 4096 || strchr(s, ',') != NULL) {
			verr(v, key, NULL, "%s[%zu] must be an absolute path without ','", key, i);
			continue;
		}
		json_array_append_new(out, json_string(s));
	}
	return out;
}

/* "HH:MM" -> minutes after midnight, or -1. */
static int hhmm(const char *s)
{
	int64_t h, m;
	char hb[3], mb[3];

	if (s == NULL || strlen(s) != 5 || s[2] != ':')
		return -1;
	memcpy(hb, s, 2), hb[2] = '\0';
	memcpy(mb, s + 3, 2), mb[2] = '\0';
	if (rh_parse_i64(hb, 0, 24, &h) < 0 || rh_parse_i64(mb, 0, 59, &m) < 0 || (h == 24 && m != 0))
		return -1;
	return (int)(h * 60 + m);
}

static json_t *get_rate_limit(struct vctx *v, const json_t *o)
{
	const json_t *j = json_object_get(o, "rate_limit"), *w;
	json_t *out = json_array();
	size_t i;

	if (j == NULL || json_is_null(j))
		return out;
	if (!json_is_array(j) || json_array_size(j) > MAX_WINDOWS) {
		verr(v, "rate_limit", NULL, "rate_limit must be a list of at most %d windows "
		     "{\"from\": \"HH:MM\", \"to\": \"HH:MM\", \"mbit_per_s\": N}", MAX_WINDOWS);
		return out;
	}
	json_array_foreach(j, i, w) {
		const char *from = json_string_value(json_object_get(w, "from"));
		const char *to = json_string_value(json_object_get(w, "to"));
		const json_t *r = json_object_get(w, "mbit_per_s");
		char field[48];

		snprintf(field, sizeof field, "rate_limit[%zu]", i);
		if (!json_is_object(w)) {
			verr(v, field, NULL, "%s must be an object", field);
			continue;
		}
		if (!json_is_integer(r) || json_integer_value(r) < 1 ||
		    json_integer_value(r) > 100000) {
			verr(v, field, NULL, "%s.mbit_per_s must be an integer from 1 to 100000 Mbit/s",
			     field);
			continue;
		}
		if (from == NULL)
			from = "00:00";
		if (to == NULL)
			to = "24:00";
		if (hhmm(from) < 0 || hhmm(to) < 0 || hhmm(from) == hhmm(to)) {
			verr(v, field, NULL, "%s: from and to must be different times HH:MM "
			     "(00:00 to 24:00; a window may wrap past midnight)", field);
			continue;
		}
		json_array_append_new(out, json_pack("{s:s, s:s, s:O}", "from", from, "to", to,
						     "mbit_per_s", r));
	}
	return out;
}

/* ---- inventory access ---- */

static const char *inv_firmware(const json_t *inv)
{
	return json_string_value(json_object_get(json_object_get(inv, "host"), "firmware"));
}

static const char *inv_os_type(const json_t *inv)
{
	const char *t = json_string_value(json_object_get(json_object_get(inv, "host"), "os_type"));

	return t != NULL ? t : "linux"; /* the agent is Linux-only */
}

static uint64_t jsize(const json_t *o, const char *key)
{
	const json_t *j = json_object_get(o, key);

	return json_is_integer(j) && json_integer_value(j) > 0 ? (uint64_t)json_integer_value(j) : 0;
}

/* Size a target disk must have for source disk d (§5.1: the recommended
 * size; the inventory rounds it up to whole GiB). */
static uint64_t disk_needed(const json_t *d)
{
	uint64_t gib = jsize(d, "recommended_gib");

	if (gib > 0 && gib < (UINT64_MAX / GIB))
		return gib * GIB;
	return jsize(d, "size_bytes");
}

static const char *upper(const char *fw)
{
	return fw == NULL ? "unknown" : strcmp(fw, "uefi") == 0 ? "UEFI"
	       : strcmp(fw, "bios") == 0 ? "BIOS" : fw;
}

static void fmt_size(uint64_t b, char *buf, size_t len)
{
	rh_format_size(b, buf, len);
}

static void check_inventory(struct vctx *v, const json_t *cfg, const json_t *inv)
{
	const json_t *target = json_object_get(cfg, "target");
	const json_t *tdisks = json_object_get(target, "disks");
	const json_t *sdisks = json_object_get(inv, "disks");
	const char *mode = json_string_value(json_object_get(cfg, "mode"));
	const char *sfw = inv_firmware(inv);
	const char *tfw = json_string_value(json_object_get(target, "firmware"));
	const char *sos = inv_os_type(inv);
	const char *tos = json_string_value(json_object_get(target, "os_type"));
	const json_t *summary = json_object_get(inv, "summary");
	const json_t *reco = json_object_get(inv, "recommendation");
	size_t ns = json_array_size(sdisks), nt = json_array_size(tdisks);
	bool by_name = false;
	size_t i;
	const json_t *td;

	if (json_is_false(json_object_get(summary, "migratable"))) {
		const json_t *checks = json_object_get(inv, "checks"), *c;
		size_t k;

		json_array_foreach(checks, k, c) {
			const char *st = json_string_value(json_object_get(c, "status"));

			if (st == NULL || strcmp(st, "error") != 0)
				continue;
			verr(v, "source_id", json_string_value(json_object_get(c, "code")),
			     "the source has a blocking pre-check error: %s",
			     json_string_value(json_object_get(c, "message")) ?: "(no message)");
		}
		if (json_array_size(v->errors) == 0)
			verr(v, "source_id", NULL, "the source's pre-checks block migration");
	}
	if (tos != NULL && strcmp(tos, sos) != 0)
		verr(v, "target.os_type", NULL,
		     "The OS type of the target (%s) must match the source (%s); the version "
		     "and distribution may differ", tos, sos);
	if (tfw != NULL && (sfw == NULL || strcmp(sfw, tfw) != 0)) {
		if (sfw == NULL)
			verr(v, "target.firmware", "MSG.firmware-mismatch",
			     "Firmware types (UEFI/BIOS boot) differ or the source firmware type is "
			     "unknown");
		else
			verr(v, "target.firmware", "MSG.firmware-mismatch",
			     "The firmware type of the selected target differs from the source: "
			     "source %s, target %s", upper(sfw), upper(tfw));
	}
	if (tos != NULL && strcmp(tos, "windows") == 0 &&
	    jsize(target, "memory_bytes") > 0 && jsize(target, "memory_bytes") < 2 * GIB)
		verr(v, "target.memory_bytes", NULL, "A Windows target needs at least 2 GiB of memory");
	if (mode != NULL && strcmp(mode, "block") == 0 && reco != NULL &&
	    json_is_false(json_object_get(reco, "block_eligible"))) {
		const json_t *host = json_object_get(inv, "host");
		bool os_ok = !json_is_false(json_object_get(json_object_get(host, "os"), "block_listed"));

		verr(v, "mode", os_ok ? "SMS.6617" : "SMS.6616", "%s; use \"mode\": \"file\"",
		     os_ok ? "Current kernel version not supported for block migration"
			   : "Current OS version not supported for block migration");
	}
	json_array_foreach(tdisks, i, td)
		if (json_object_get(td, "source") != NULL)
			by_name = true;
	if (nt < ns && !by_name) {
		verr(v, "target.disks", "MSG.target-disk-count",
		     "The number of target disks you selected is less than the number of source "
		     "disks to migrate; please reselect (target %zu, source %zu)", nt, ns);
	}
	json_array_foreach(tdisks, i, td) {
		const json_t *sd = NULL, *e;
		uint64_t tsize = jsize(td, "size_bytes"), need;
		char field[64], a[32], b[32];
		size_t k;

		snprintf(field, sizeof field, "target.disks[%zu].size_bytes", i);
		if (by_name) {
			const char *want = json_string_value(json_object_get(td, "source"));

			json_array_foreach(sdisks, k, e)
				if (want != NULL &&
				    strcmp(json_string_value(json_object_get(e, "name")) ?: "", want) == 0)
					sd = e;
			if (sd == NULL) {
				char sf[64];

				snprintf(sf, sizeof sf, "target.disks[%zu].source", i);
				verr(v, sf, NULL, "the source has no disk named '%s'", want ? want : "");
				continue;
			}
		} else if (i < ns) {
			sd = json_array_get(sdisks, i);
		}
		if (sd == NULL)
			continue; /* an extra target disk */
		need = disk_needed(sd);
		if (tsize < need) {
			fmt_size(tsize, a, sizeof a);
			fmt_size(need, b, sizeof b);
			verr(v, field, "MSG.target-disk-size",
			     "Some target disks you selected are smaller than the corresponding source "
			     "disks to migrate; please reselect (target disk %zu: %s, source disk %s "
			     "needs %s; disks are matched in order)", i + 1, a,
			     json_string_value(json_object_get(sd, "name")) ?: "?", b);
		}
		if (json_is_true(json_object_get(sd, "system"))) {
			uint64_t ssize = jsize(sd, "size_bytes");

			if (tsize > TIB)
				verr(v, field, "SMS.6537", "System disk larger than 1 TB: the target "
				     "system disk may be at most 1 TiB");
			else if (mode != NULL && strcmp(mode, "block") == 0 && ssize > TIB)
				verr(v, "mode", "SMS.6537", "System disk larger than 1 TB: block-level "
				     "migration copies the whole source system disk; use file-level "
				     "migration to shrink its partitions");
		}
	}
	{
		const json_t *limits = json_object_get(cfg, "limits");
		const json_t *cpu = json_object_get(limits, "cpu_percent");
		const json_t *cpus = json_object_get(json_object_get(inv, "host"), "cpus");

		/* §2.6: cores x percent must be at least 0.2 core. */
		if (json_is_integer(cpu) && json_is_integer(cpus) && json_integer_value(cpus) > 0 &&
		    json_integer_value(cpus) < 100000 &&
		    json_integer_value(cpus) * json_integer_value(cpu) < 20)
			verr(v, "limits.cpu_percent", NULL,
			     "A CPU limit of %" PRId64 "%% of %" PRId64 " cores is less than 0.2 core; "
			     "allow at least %" PRId64 "%%", (int64_t)json_integer_value(cpu),
			     (int64_t)json_integer_value(cpus),
			     (int64_t)((20 + json_integer_value(cpus) - 1) / json_integer_value(cpus)));
	}
}

int rh_taskcfg_validate(const json_t *body, const json_t *inv, json_t **out, json_t **errors)
{
	struct vctx v = { json_array() };
	const json_t *target, *tdisks, *e, *limits;
	json_t *cfg = json_object(), *nt = json_object(), *ndisks = json_array(), *nl = json_object();
	const char *key, *s;
	bool b, cont;
	int64_t n;
	size_t i;
	int rc;

	*out = NULL;
	*errors = NULL;
	if (v.errors == NULL || cfg == NULL || nt == NULL || ndisks == NULL || nl == NULL) {
		rc = rh_seterr(RH_ERR_NOMEM, "task configuration");
		goto out;
	}
	if (!json_is_object(body)) {
		verr(&v, "", NULL, "the task configuration must be a JSON object");
		goto done;
	}
	json_object_foreach((json_t *)body, key, e)
		if (rh_taskcfg_setting_class(key) == -1 && strcmp(key, "source_id") != 0)
			verr(&v, key, NULL, "unknown member '%s'", key);

	/* An empty name means "the source's name". */
	s = json_string_value(json_object_get(body, "name"));
	if (json_object_get(body, "name") != NULL && !json_is_null(json_object_get(body, "name")) &&
	    (s == NULL || strlen(s) > RH_STORE_MAX_NAME))
		verr(&v, "name", NULL, "name must be a string of at most %u bytes", RH_STORE_MAX_NAME);
	json_object_set_new(cfg, "name", json_string(s ? s : ""));

	s = json_string_value(json_object_get(body, "mode"));
	if (s == NULL && json_object_get(body, "mode") == NULL && inv != NULL)
		s = json_string_value(json_object_get(json_object_get(inv, "recommendation"), "mode"));
	if (s == NULL && json_object_get(body, "mode") == NULL)
		s = "block";
	if (s == NULL || (strcmp(s, "block") != 0 && strcmp(s, "file") != 0))
		verr(&v, "mode", NULL, "mode must be \"block\" or \"file\"");
	json_object_set_new(cfg, "mode", json_string(s ? s : "block"));

	/* target */
	target = json_object_get(body, "target");
	if (!json_is_object(target)) {
		verr(&v, "target", NULL, "target is required: {\"address\": \"HOST:PORT\", "
		     "\"disks\": [{\"size_bytes\": N}, ...]}");
	} else {
		json_object_foreach((json_t *)target, key, e)
			if (strcmp(key, "address") && strcmp(key, "os_type") && strcmp(key, "firmware") &&
			    strcmp(key, "memory_bytes") && strcmp(key, "disks") && strcmp(key, "name"))
				verr(&v, "target", NULL, "unknown member 'target.%s'", key);
		s = json_string_value(json_object_get(target, "address"));
		if (s == NULL || *s == '\0' || strlen(s) > 255 || strpbrk(s, " \t\r\n/") != NULL)
			verr(&v, "target.address", NULL,
			     "target.address must be HOST or HOST:PORT of the target's data listener");
		json_object_set_new(nt, "address", json_string(s ? s : ""));
		s = json_string_value(json_object_get(target, "name"));
		if (s != NULL)
			json_object_set_new(nt, "name", json_string(s));
		s = json_string_value(json_object_get(target, "os_type"));
		if (json_object_get(target, "os_type") != NULL &&
		    (s == NULL || (strcmp(s, "linux") != 0 && strcmp(s, "windows") != 0)))
			verr(&v, "target.os_type", NULL, "target.os_type must be \"linux\" or \"windows\"");
		if (s == NULL && inv != NULL && strcmp(inv_os_type(inv), "windows") == 0)
			s = "windows";
		json_object_set_new(nt, "os_type", json_string(s ? s : "linux"));
		s = json_string_value(json_object_get(target, "firmware"));
		if (json_object_get(target, "firmware") != NULL &&
		    !json_is_null(json_object_get(target, "firmware")) &&
		    (s == NULL || (strcmp(s, "bios") != 0 && strcmp(s, "uefi") != 0)))
			verr(&v, "target.firmware", NULL, "target.firmware must be \"bios\" or \"uefi\"");
		if (s == NULL && inv != NULL && inv_firmware(inv) != NULL &&
		    (strcmp(inv_firmware(inv), "bios") == 0 || strcmp(inv_firmware(inv), "uefi") == 0))
			s = inv_firmware(inv);
		json_object_set_new(nt, "firmware", s ? json_string(s) : json_null());
		if (get_int(&v, target, "target.memory_bytes", "memory_bytes", 0, INT64_MAX, 0,
			    "bytes", &n) && n > 0)
			json_object_set_new(nt, "memory_bytes", json_integer(n));
		tdisks = json_object_get(target, "disks");
		if (!json_is_array(tdisks) || json_array_size(tdisks) == 0 ||
		    json_array_size(tdisks) > MAX_DISKS) {
			verr(&v, "target.disks", NULL,
			     "target.disks must list 1 to %d disks [{\"size_bytes\": N}]", MAX_DISKS);
		} else {
			json_array_foreach(tdisks, i, e) {
				char field[48];
				json_t *d;

				snprintf(field, sizeof field, "target.disks[%zu]", i);
				if (!json_is_object(e)) {
					verr(&v, field, NULL, "%s must be an object", field);
					continue;
				}
				snprintf(field, sizeof field, "target.disks[%zu].size_bytes", i);
				if (!json_is_integer(json_object_get(e, "size_bytes")) ||
				    json_integer_value(json_object_get(e, "size_bytes")) < (json_int_t)MIB) {
					verr(&v, field, NULL, "%s must be an integer number of bytes "
					     "(at least 1 MiB)", field);
					continue;
				}
				d = json_pack("{s:O}", "size_bytes", json_object_get(e, "size_bytes"));
				if (json_is_string(json_object_get(e, "source")))
					json_object_set(d, "source", json_object_get(e, "source"));
				if (json_is_string(json_object_get(e, "device")))
					json_object_set(d, "device", json_object_get(e, "device"));
				json_array_append_new(ndisks, d);
			}
		}
	}
	json_object_set_new(nt, "disks", ndisks);
	ndisks = NULL;
	json_object_set_new(cfg, "target", nt);
	nt = NULL;

	/* special settings (§2.3-§2.7) */
	get_bool(&v, body, "continuous_sync", true, &cont);
	json_object_set_new(cfg, "continuous_sync", json_boolean(cont));
	get_bool(&v, body, "auto_cutover", !cont, &b);
	json_object_set_new(cfg, "auto_cutover", json_boolean(b));
	get_bool(&v, body, "power_on_after_cutover", true, &b);
	json_object_set_new(cfg, "power_on_after_cutover", json_boolean(b));
	get_bool(&v, body, "network_check", false, &b);
	json_object_set_new(cfg, "network_check", json_boolean(b));
	e = json_object_get(body, "compress_threads");
	if (e == NULL || json_is_null(e) ||
	    (json_is_string(e) && strcmp(json_string_value(e), "auto") == 0)) {
		json_object_set_new(cfg, "compress_threads", json_string("auto"));
	} else if (json_is_integer(e) && json_integer_value(e) >= 0 && json_integer_value(e) <= 3) {
		json_object_set(cfg, "compress_threads", (json_t *)e);
	} else {
		verr(&v, "compress_threads", NULL,
		     "compress_threads must be \"auto\" or 0 (off) to 3 threads");
		json_object_set_new(cfg, "compress_threads", json_string("auto"));
	}
	get_int(&v, body, "buffer_node_bytes", "buffer_node_bytes", MIB, 8 * MIB, 4 * MIB, "bytes",
		&n);
	if (n % (int64_t)MIB != 0)
		verr(&v, "buffer_node_bytes", NULL,
		     "buffer_node_bytes must be a whole number of MiB (1 to 8 MiB)");
	json_object_set_new(cfg, "buffer_node_bytes", json_integer(n));
	get_int(&v, body, "migrate_processes", "migrate_processes", 1, 4, 1, "processes", &n);
	json_object_set_new(cfg, "migrate_processes", json_integer(n));
	get_int(&v, body, "sync_processes", "sync_processes", 1, 4, 1, "processes", &n);
	json_object_set_new(cfg, "sync_processes", json_integer(n));
	json_object_set_new(cfg, "exclude_paths", get_paths(&v, body, "exclude_paths"));
	json_object_set_new(cfg, "sync_only_paths", get_paths(&v, body, "sync_only_paths"));
	json_object_set_new(cfg, "sync_exclude_paths", get_paths(&v, body, "sync_exclude_paths"));
	if (strcmp(json_string_value(json_object_get(cfg, "mode")), "block") == 0 &&
	    (json_array_size(json_object_get(cfg, "exclude_paths")) > 0 ||
	     json_array_size(json_object_get(cfg, "sync_only_paths")) > 0 ||
	     json_array_size(json_object_get(cfg, "sync_exclude_paths")) > 0))
		verr(&v, "exclude_paths", NULL, "path filters apply to file-level migration only");
	json_object_set_new(cfg, "rate_limit", get_rate_limit(&v, body));

	limits = json_object_get(body, "limits");
	if (limits != NULL && !json_is_null(limits) && !json_is_object(limits)) {
		verr(&v, "limits", NULL, "limits must be an object");
	} else if (limits != NULL) {
		json_object_foreach((json_t *)limits, key, e)
			if (strcmp(key, "cpu_percent") && strcmp(key, "memory_bytes") &&
			    strcmp(key, "disk_bytes_per_s"))
				verr(&v, "limits", NULL, "unknown member 'limits.%s'", key);
		if (get_int(&v, limits, "limits.cpu_percent", "cpu_percent", 1, 100, 0, "%", &n) && n)
			json_object_set_new(nl, "cpu_percent", json_integer(n));
		if (get_int(&v, limits, "limits.memory_bytes", "memory_bytes", 200 * MIB, 1000 * MIB, 0,
			    "bytes (200 to 1000 MiB)", &n) && n)
			json_object_set_new(nl, "memory_bytes", json_integer(n));
		if (get_int(&v, limits, "limits.disk_bytes_per_s", "disk_bytes_per_s", 10 * MIB,
			    1000 * MIB, 0, "bytes/s (10 to 1000 MiB/s)", &n) && n)
			json_object_set_new(nl, "disk_bytes_per_s", json_integer(n));
	}
	json_object_set_new(cfg, "limits", nl);
	nl = NULL;

	e = json_object_get(body, "estimate");
	if (e != NULL && !json_is_null(e)) {
		const json_t *bw = json_object_get(e, "bandwidth_mbit_per_s");
		const json_t *u = json_object_get(e, "utilisation");

		if (!json_is_object(e) || !json_is_number(bw) || json_number_value(bw) <= 0 ||
		    json_number_value(bw) > 1e6 ||
		    (u != NULL && (!json_is_number(u) || json_number_value(u) <= 0 ||
				   json_number_value(u) > 1)))
			verr(&v, "estimate", NULL, "estimate must be {\"bandwidth_mbit_per_s\": S > 0, "
			     "\"utilisation\": U in (0, 1] (default 0.7)}");
		else
			json_object_set_new(cfg, "estimate", json_pack(
				"{s:f, s:f}", "bandwidth_mbit_per_s", json_number_value(bw),
				"utilisation", u ? json_number_value(u) : 0.7));
	}
	if (json_array_size(v.errors) == 0 && inv != NULL)
		check_inventory(&v, cfg, inv);
done:
	if (json_array_size(v.errors) > 0) {
		json_t *first = json_array_get(v.errors, 0);

		rc = rh_seterr(RH_ERR_INVAL, "invalid task configuration: %s: %s",
			       json_string_value(json_object_get(first, "field")),
			       json_string_value(json_object_get(first, "message")));
		*errors = v.errors;
		v.errors = NULL;
		goto out;
	}
	*out = cfg;
	cfg = NULL;
	rc = 0;
out:
	json_decref(v.errors);
	json_decref(cfg);
	json_decref(nt);
	json_decref(ndisks);
	json_decref(nl);
	return rc;
}

/* ---- estimates ---- */

static uint64_t fs_used(const json_t *fs, uint64_t fallback)
{
	const json_t *u = json_object_get(fs, "used_bytes");

	if (json_is_integer(u) && json_integer_value(u) >= 0)
		return (uint64_t)json_integer_value(u);
	return fallback;
}

uint64_t rh_taskcfg_data_bytes(const json_t *inv, const char *mode)
{
	const json_t *disks = json_object_get(inv, "disks"), *d, *p;
	bool file = mode != NULL && strcmp(mode, "file") == 0;
	uint64_t total = 0;
	size_t i, k;

	json_array_foreach(disks, i, d) {
		const json_t *parts = json_object_get(d, "partitions");
		uint64_t dsum = 0;

		json_array_foreach(parts, k, p) {
			const json_t *fs = json_object_get(p, "filesystem");
			uint64_t size = jsize(p, "size_bytes");

			/* Table 5-2: block level counts partition sizes; file
			 * level counts the used space of each filesystem. */
			dsum += file ? (json_is_object(fs) ? fs_used(fs, 0) : 0) : size;
		}
		if (json_array_size(parts) == 0) {
			const json_t *fs = json_object_get(d, "filesystem");

			dsum = file && json_is_object(fs) ? fs_used(fs, jsize(d, "size_bytes"))
			       : jsize(d, "size_bytes");
		}
		total += dsum;
	}
	if (file) {
		const json_t *vgs = json_object_get(json_object_get(inv, "lvm"), "volume_groups"), *vg;

		json_array_foreach(vgs, i, vg) {
			const json_t *lvs = json_object_get(vg, "logical_volumes"), *lv;

			json_array_foreach(lvs, k, lv)
				if (json_is_object(json_object_get(lv, "filesystem")))
					total += fs_used(json_object_get(lv, "filesystem"), 0);
		}
	}
	return total;
}

double rh_estimate_seconds(uint64_t bytes, double mbit_per_s, double utilisation)
{
	double gb = (double)bytes / 1e9;

	if (mbit_per_s <= 0 || utilisation <= 0)
		return 0;
	/* T[h] = C[GB] x 1000 x 8 / (S x 3600 x U) */
	return gb * 1000.0 * 8.0 / (mbit_per_s * 3600.0 * utilisation) * 3600.0;
}

double rh_estimate_remaining_seconds(uint64_t bytes, double percent, double mbit_per_s)
{
	double gb = (double)bytes / 1e9;

	if (mbit_per_s <= 0 || percent >= 80.0)
		return 0;
	if (percent < 0)
		percent = 0;
	/* T[h] = C x 1000 x 8 x (80% - P) / 60% / S / 3600 */
	return gb * 1000.0 * 8.0 * ((80.0 - percent) / 100.0) / 0.6 / mbit_per_s;
}
