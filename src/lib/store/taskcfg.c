/*
 * Task configuration: validation of a request body (its settings are read by
 * taskcfg-settings.c) and against the source inventory with the seed's
 * messages (INVENTORY §5.1, §4.2), and the time estimates of §3.4.
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
#include "store-internal.h"

#define MIB (1024ull * 1024)
#define GIB (1024ull * MIB)
#define TIB (1024ull * GIB)

void taskcfg_verr(struct taskcfg_errors *v, const char *field, const char *code,
		  const char *fmt, ...)
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

static void check_inventory(struct taskcfg_errors *v, const json_t *cfg, const json_t *inv)
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
			taskcfg_verr(v, "source_id", json_string_value(json_object_get(c, "code")),
				     "the source has a blocking pre-check error: %s",
				     json_string_value(json_object_get(c, "message"))
					     ?: "(no message)");
		}
		if (json_array_size(v->errors) == 0)
			taskcfg_verr(v, "source_id", NULL,
				     "the source's pre-checks block migration");
	}
	if (tos != NULL && strcmp(tos, sos) != 0)
		taskcfg_verr(v, "target.os_type", NULL,
			     "The OS type of the target (%s) must match the source (%s); the "
			     "version and distribution may differ", tos, sos);
	if (tfw != NULL && (sfw == NULL || strcmp(sfw, tfw) != 0)) {
		if (sfw == NULL)
			taskcfg_verr(v, "target.firmware", "MSG.firmware-mismatch",
				     "Firmware types (UEFI/BIOS boot) differ or the source "
				     "firmware type is unknown");
		else
			taskcfg_verr(v, "target.firmware", "MSG.firmware-mismatch",
				     "The firmware type of the selected target differs from the "
				     "source: source %s, target %s", upper(sfw), upper(tfw));
	}
	if (tos != NULL && strcmp(tos, "windows") == 0 &&
	    jsize(target, "memory_bytes") > 0 && jsize(target, "memory_bytes") < 2 * GIB)
		taskcfg_verr(v, "target.memory_bytes", NULL,
			     "A Windows target needs at least 2 GiB of memory");
	if (mode != NULL && strcmp(mode, "block") == 0 && reco != NULL &&
	    json_is_false(json_object_get(reco, "block_eligible"))) {
		const json_t *host = json_object_get(inv, "host");
		bool os_ok = !json_is_false(json_object_get(json_object_get(host, "os"), "block_listed"));

		taskcfg_verr(v, "mode", os_ok ? "SMS.6617" : "SMS.6616",
			     "%s; use \"mode\": \"file\"",
			     os_ok ? "Current kernel version not supported for block migration"
				   : "Current OS version not supported for block migration");
	}
	json_array_foreach(tdisks, i, td)
		if (json_object_get(td, "source") != NULL)
			by_name = true;
	if (nt < ns && !by_name) {
		taskcfg_verr(v, "target.disks", "MSG.target-disk-count",
			     "The number of target disks you selected is less than the number of "
			     "source disks to migrate; please reselect (target %zu, source %zu)",
			     nt, ns);
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
				taskcfg_verr(v, sf, NULL, "the source has no disk named '%s'",
					     want ? want : "");
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
			taskcfg_verr(v, field, "MSG.target-disk-size",
				     "Some target disks you selected are smaller than the "
				     "corresponding source disks to migrate; please reselect "
				     "(target disk %zu: %s, source disk %s needs %s; disks are "
				     "matched in order)", i + 1, a,
				     json_string_value(json_object_get(sd, "name")) ?: "?", b);
		}
		if (json_is_true(json_object_get(sd, "system"))) {
			uint64_t ssize = jsize(sd, "size_bytes");

			if (tsize > TIB)
				taskcfg_verr(v, field, "SMS.6537", "System disk larger than 1 TB: "
					     "the target system disk may be at most 1 TiB");
			else if (mode != NULL && strcmp(mode, "block") == 0 && ssize > TIB)
				taskcfg_verr(v, "mode", "SMS.6537", "System disk larger than 1 TB: "
					     "block-level migration copies the whole source system "
					     "disk; use file-level migration to shrink its "
					     "partitions");
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
			taskcfg_verr(v, "limits.cpu_percent", NULL,
				     "A CPU limit of %" PRId64 "%% of %" PRId64 " cores is less "
				     "than 0.2 core; allow at least %" PRId64 "%%",
				     (int64_t)json_integer_value(cpu),
				     (int64_t)json_integer_value(cpus),
				     (int64_t)((20 + json_integer_value(cpus) - 1) /
					       json_integer_value(cpus)));
	}
}

int rh_taskcfg_validate(const json_t *body, const json_t *inv, json_t **out, json_t **errors)
{
	struct taskcfg_errors v = { json_array() };
	json_t *cfg = json_object();
	int rc;

	*out = NULL;
	*errors = NULL;
	if (v.errors == NULL || cfg == NULL) {
		rc = rh_seterr(RH_ERR_NOMEM, "task configuration");
		goto out;
	}
	if (!json_is_object(body)) {
		taskcfg_verr(&v, "", NULL, "the task configuration must be a JSON object");
		goto done;
	}
	taskcfg_settings_read(&v, body, inv, cfg);
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
