/*
 * The task settings: one table row per member of a task configuration, with
 * its type, range or allowed values, default, error message and when it may
 * change (RH_SET_*, enforced by lifecycle.c). Ranges and defaults are the
 * seed's (INVENTORY §2.3-§2.7); the checks against the source inventory are
 * in taskcfg.c.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "rehost/checked.h"
#include "rehost/json.h"
#include "rehost/num.h"
#include "rehost/store.h"
#include "store-internal.h"

#define MIB (1024ull * 1024)
#define MAX_DISKS 64
#define MAX_PATHS 256
#define MAX_WINDOWS 32

/* How a setting is read. Unless a row says otherwise, null means absent. */
enum setting_type {
	T_NONE,   /* accepted, not part of the configuration (source_id) */
	T_BOOL,   /* true or false; default def */
	T_INT,    /* integer in [min, max] (or one of words); default def (or def_word) */
	T_STRING, /* string of min to max bytes without any of reject; default def_word */
	T_LABEL,  /* a string, copied; anything else is ignored (display names) */
	T_WORD,   /* one of words; default from the inventory, else def_word */
	T_PATHS,  /* list of absolute paths */
	T_OBJECT, /* object of the settings sub[] */
	T_CUSTOM, /* parse() reads it */
};

/* T_BOOL def: the opposite of continuous_sync (a one-shot migration cuts
 * over by itself, a continuous one waits to be told, §2.3). */
#define DEF_NOT_CONTINUOUS 2

/* One task setting. Rows are processed in table order, which is also the
 * order of the members in the stored configuration and of the errors. */
struct setting {
	const char *member;
	int cls;                  /* RH_SET_*: when it may change (top level only);
				   * -1: never */
	enum setting_type type;
	int64_t min, max;         /* T_INT: range; T_STRING: length in bytes */
	int64_t def;              /* T_BOOL, T_INT: default */
	const char *unit;         /* T_INT: unit after the range in the message */
	const char *const *words; /* T_WORD: the values; T_INT: words allowed too
				   * (NULL-terminated) */
	const char *def_word;     /* T_WORD, T_STRING, T_INT with words: default;
				   * NULL: none (null) */
	const char *reject;       /* T_STRING: characters not allowed */
	bool null_ok;             /* T_WORD: null means absent (else an error) */
	bool required;            /* T_STRING, T_OBJECT: absent or null is an error */
	bool optional;            /* T_INT: stored only when given and above 0 */
	const char *msg;          /* error message; NULL: made from the row */
	/* T_WORD: default from the inventory, NULL for none. */
	const char *(*inv_default)(const json_t *inv);
	/* T_OBJECT: its members. */
	const struct setting *sub;
	size_t nsub;
	/* T_CUSTOM: the normalised value of j (absent: NULL), a new reference;
	 * NULL to store nothing. field names it in errors. */
	json_t *(*parse)(struct taskcfg_errors *v, const char *field, const json_t *j);
	/* Cross-check once the setting is in out (the object holding it). */
	void (*check)(struct taskcfg_errors *v, const json_t *out);
};

static json_t *parse_disks(struct taskcfg_errors *v, const char *field, const json_t *j);
static json_t *parse_rate_limit(struct taskcfg_errors *v, const char *field, const json_t *j);
static json_t *parse_estimate(struct taskcfg_errors *v, const char *field, const json_t *j);
static void check_whole_mib(struct taskcfg_errors *v, const json_t *out);
static void check_path_filters(struct taskcfg_errors *v, const json_t *out);

/* Defaults the inventory gives the settings: the recommended mode, a
 * Windows target for a Windows source, the source's firmware when known. */
static const char *inv_mode(const json_t *inv)
{
	return json_string_value(json_object_get(json_object_get(inv, "recommendation"), "mode"));
}

static const char *inv_os_windows(const json_t *inv)
{
	const char *t = json_string_value(json_object_get(json_object_get(inv, "host"), "os_type"));

	return t != NULL && strcmp(t, "windows") == 0 ? "windows" : NULL;
}

static const char *inv_known_firmware(const json_t *inv)
{
	const char *fw = json_string_value(json_object_get(json_object_get(inv, "host"),
							   "firmware"));

	return fw != NULL && (strcmp(fw, "bios") == 0 || strcmp(fw, "uefi") == 0) ? fw : NULL;
}

static const char *const mode_words[] = { "block", "file", NULL };
static const char *const os_words[] = { "linux", "windows", NULL };
static const char *const firmware_words[] = { "bios", "uefi", NULL };
static const char *const auto_word[] = { "auto", NULL };

static const struct setting target_settings[] = {
	{ .member = "address", .type = T_STRING, .min = 1, .max = 255, .reject = " \t\r\n/",
	  .required = true, .def_word = "",
	  .msg = "target.address must be HOST or HOST:PORT of the target's data listener" },
	{ .member = "name", .type = T_LABEL },
	{ .member = "os_type", .type = T_WORD, .words = os_words, .def_word = "linux",
	  .inv_default = inv_os_windows },
	{ .member = "firmware", .type = T_WORD, .words = firmware_words, .null_ok = true,
	  .inv_default = inv_known_firmware },
	{ .member = "memory_bytes", .type = T_INT, .min = 0, .max = INT64_MAX, .unit = "bytes",
	  .optional = true },
	{ .member = "disks", .type = T_CUSTOM, .parse = parse_disks },
};

/* Resource limits (§2.6); absent: unlimited. */
static const struct setting limit_settings[] = {
	{ .member = "cpu_percent", .type = T_INT, .min = 1, .max = 100, .unit = "%",
	  .optional = true },
	{ .member = "memory_bytes", .type = T_INT, .min = 200 * MIB, .max = 1000 * MIB,
	  .unit = "bytes (200 to 1000 MiB)", .optional = true },
	{ .member = "disk_bytes_per_s", .type = T_INT, .min = 10 * MIB, .max = 1000 * MIB,
	  .unit = "bytes/s (10 to 1000 MiB/s)", .optional = true },
};

/* None of these errors has an SMS code: the coded ones compare the
 * settings with the inventory (taskcfg.c, check_inventory). */
static const struct setting settings[] = {
	{ .member = "source_id", .cls = -1, .type = T_NONE },
	/* An empty name means "the source's name". */
	{ .member = "name", .cls = RH_SET_ANYTIME, .type = T_STRING, .max = RH_STORE_MAX_NAME,
	  .def_word = "" },
	{ .member = "mode", .cls = RH_SET_TARGET, .type = T_WORD, .words = mode_words,
	  .def_word = "block", .inv_default = inv_mode },
	{ .member = "target", .cls = RH_SET_TARGET, .type = T_OBJECT, .required = true,
	  .sub = target_settings, .nsub = RH_ARRAY_SIZE(target_settings),
	  .msg = "target is required: {\"address\": \"HOST:PORT\", "
		 "\"disks\": [{\"size_bytes\": N}, ...]}" },
	{ .member = "continuous_sync", .cls = RH_SET_SPECIAL, .type = T_BOOL, .def = true },
	{ .member = "auto_cutover", .cls = RH_SET_SPECIAL, .type = T_BOOL,
	  .def = DEF_NOT_CONTINUOUS },
	{ .member = "power_on_after_cutover", .cls = RH_SET_SPECIAL, .type = T_BOOL, .def = true },
	{ .member = "network_check", .cls = RH_SET_SPECIAL, .type = T_BOOL, .def = false },
	/* "auto": min(3, idle cores) when the agent starts. */
	{ .member = "compress_threads", .cls = RH_SET_SPECIAL, .type = T_INT, .min = 0, .max = 3,
	  .words = auto_word, .def_word = "auto",
	  .msg = "compress_threads must be \"auto\" or 0 (off) to 3 threads" },
	{ .member = "buffer_node_bytes", .cls = RH_SET_SPECIAL, .type = T_INT, .min = MIB,
	  .max = 8 * MIB, .def = 4 * MIB, .unit = "bytes", .check = check_whole_mib },
	{ .member = "migrate_processes", .cls = RH_SET_SPECIAL, .type = T_INT, .min = 1, .max = 4,
	  .def = 1, .unit = "processes" },
	{ .member = "sync_processes", .cls = RH_SET_SPECIAL, .type = T_INT, .min = 1, .max = 4,
	  .def = 1, .unit = "processes" },
	{ .member = "exclude_paths", .cls = RH_SET_SPECIAL, .type = T_PATHS },
	{ .member = "sync_only_paths", .cls = RH_SET_SPECIAL, .type = T_PATHS },
	{ .member = "sync_exclude_paths", .cls = RH_SET_SPECIAL, .type = T_PATHS,
	  .check = check_path_filters },
	{ .member = "rate_limit", .cls = RH_SET_ANYTIME, .type = T_CUSTOM,
	  .parse = parse_rate_limit },
	{ .member = "limits", .cls = RH_SET_SPECIAL, .type = T_OBJECT, .sub = limit_settings,
	  .nsub = RH_ARRAY_SIZE(limit_settings) },
	{ .member = "estimate", .cls = RH_SET_ANYTIME, .type = T_CUSTOM, .parse = parse_estimate },
};

static const struct setting *setting_find(const struct setting *rows, size_t n,
					  const char *member)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(rows[i].member, member) == 0)
			return &rows[i];
	return NULL;
}

int rh_taskcfg_setting_class(const char *member)
{
	const struct setting *s = setting_find(settings, RH_ARRAY_SIZE(settings), member);

	return s != NULL ? s->cls : -1;
}

static bool is_word(const char *const *words, const char *s)
{
	for (size_t i = 0; words[i] != NULL; i++)
		if (strcmp(words[i], s) == 0)
			return true;
	return false;
}

/* "mode must be \"block\" or \"file\"" */
static void verr_words(struct taskcfg_errors *v, const char *field, const char *const *words)
{
	char list[128] = "";
	size_t len = 0;

	for (size_t i = 0; words[i] != NULL && len < sizeof list; i++)
		len += (size_t)snprintf(list + len, sizeof list - len, "%s\"%s\"",
					i == 0 ? "" : words[i + 1] == NULL ? " or " : ", ",
					words[i]);
	taskcfg_verr(v, field, NULL, "%s must be %s", field, list);
}

static json_t *get_bool(struct taskcfg_errors *v, const char *field, const json_t *j, bool def)
{
	if (j == NULL || json_is_null(j))
		return json_boolean(def);
	if (!json_is_boolean(j)) {
		taskcfg_verr(v, field, NULL, "%s must be true or false", field);
		return json_boolean(def);
	}
	return json_boolean(json_is_true(j));
}

/* The row's integer, or its word; NULL for an optional one not given (or
 * invalid: the configuration is not stored then). */
static json_t *get_int(struct taskcfg_errors *v, const struct setting *r, const char *field,
		       const json_t *j)
{
	json_int_t n;

	if (j == NULL || json_is_null(j))
		return r->optional ? NULL : r->def_word ? json_string(r->def_word)
					    : json_integer(r->def);
	if (r->words != NULL && json_is_string(j) && is_word(r->words, json_string_value(j)))
		return json_string(json_string_value(j));
	n = json_is_integer(j) ? json_integer_value(j) : 0;
	if (!json_is_integer(j) || n < r->min || n > r->max) {
		if (r->msg != NULL)
			taskcfg_verr(v, field, NULL, "%s", r->msg);
		else
			taskcfg_verr(v, field, NULL,
				     "%s must be an integer from %" PRId64 " to %" PRId64 "%s%s",
				     field, r->min, r->max, r->unit ? " " : "",
				     r->unit ? r->unit : "");
		return r->optional ? NULL : r->def_word ? json_string(r->def_word)
					    : json_integer(r->def);
	}
	return r->optional && n <= 0 ? NULL : json_integer(n);
}

static json_t *get_string(struct taskcfg_errors *v, const struct setting *r, const char *field,
			  const json_t *j)
{
	const char *s = json_string_value(j);
	bool given = j != NULL && !json_is_null(j);

	if (s == NULL ? given || r->required
		      : strlen(s) < (size_t)r->min || strlen(s) > (size_t)r->max ||
			(r->reject != NULL && strpbrk(s, r->reject) != NULL)) {
		if (r->msg != NULL)
			taskcfg_verr(v, field, NULL, "%s", r->msg);
		else
			taskcfg_verr(v, field, NULL,
				     "%s must be a string of at most %" PRId64 " bytes", field,
				     r->max);
	}
	return json_string(s ? s : r->def_word);
}

/* Given: it must be one of the words. Absent: the inventory's default if
 * there is one, which must be one too; else def_word. */
static json_t *get_word(struct taskcfg_errors *v, const struct setting *r, const char *field,
			const json_t *j, const json_t *inv)
{
	const char *s = json_string_value(j);
	bool absent = j == NULL || (r->null_ok && json_is_null(j));

	if (absent) {
		s = inv != NULL && r->inv_default != NULL ? r->inv_default(inv) : NULL;
		if (s != NULL && !is_word(r->words, s))
			verr_words(v, field, r->words);
	} else if (s == NULL || !is_word(r->words, s)) {
		verr_words(v, field, r->words);
	}
	if (s == NULL)
		s = r->def_word;
	return s != NULL ? json_string(s) : json_null();
}

static json_t *get_paths(struct taskcfg_errors *v, const char *field, const json_t *j)
{
	json_t *out = json_array(), *e;
	size_t i;

	if (j == NULL || json_is_null(j))
		return out;
	if (!json_is_array(j) || json_array_size(j) > MAX_PATHS) {
		taskcfg_verr(v, field, NULL, "%s must be a list of at most %d absolute paths",
			     field, MAX_PATHS);
		return out;
	}
	json_array_foreach(j, i, e) {
		const char *s = json_string_value(e);

		if (s == NULL || s[0] != '/' || strlen(s) >= 4096 || strchr(s, ',') != NULL) {
			taskcfg_verr(v, field, NULL, "%s[%zu] must be an absolute path without ','",
				     field, i);
			continue;
		}
		json_array_append_new(out, json_string(s));
	}
	return out;
}

static void read_settings(struct taskcfg_errors *v, const struct setting *rows, size_t n,
			  const char *prefix, const json_t *in, const json_t *inv, json_t *out);

static json_t *get_object(struct taskcfg_errors *v, const struct setting *r, const char *field,
			  const json_t *j, const json_t *inv)
{
	json_t *out = json_object();
	const char *key;
	const json_t *e;

	if (!json_is_object(j)) {
		if (r->required || (j != NULL && !json_is_null(j))) {
			if (r->msg != NULL)
				taskcfg_verr(v, field, NULL, "%s", r->msg);
			else
				taskcfg_verr(v, field, NULL, "%s must be an object", field);
		}
		return out;
	}
	json_object_foreach((json_t *)j, key, e)
		if (setting_find(r->sub, r->nsub, key) == NULL)
			taskcfg_verr(v, field, NULL, "unknown member '%s.%s'", field, key);
	read_settings(v, r->sub, r->nsub, field, j, inv, out);
	return out;
}

/* Normalise the members rows[] of in into out, in table order. */
static void read_settings(struct taskcfg_errors *v, const struct setting *rows, size_t n,
			  const char *prefix, const json_t *in, const json_t *inv, json_t *out)
{
	for (size_t i = 0; i < n; i++) {
		const struct setting *r = &rows[i];
		const json_t *j = json_object_get(in, r->member);
		json_t *val = NULL;
		char field[64];

		snprintf(field, sizeof field, "%s%s%s", prefix ? prefix : "", prefix ? "." : "",
			 r->member);
		switch (r->type) {
		case T_NONE:
			break;
		case T_BOOL:
			val = get_bool(v, field, j, r->def == DEF_NOT_CONTINUOUS
				       ? !json_is_true(json_object_get(out, "continuous_sync"))
				       : r->def != 0);
			break;
		case T_INT:
			val = get_int(v, r, field, j);
			break;
		case T_STRING:
			val = get_string(v, r, field, j);
			break;
		case T_LABEL:
			val = json_is_string(j) ? json_string(json_string_value(j)) : NULL;
			break;
		case T_WORD:
			val = get_word(v, r, field, j, inv);
			break;
		case T_PATHS:
			val = get_paths(v, field, j);
			break;
		case T_OBJECT:
			val = get_object(v, r, field, j, inv);
			break;
		case T_CUSTOM:
			val = r->parse(v, field, j);
			break;
		}
		if (val != NULL)
			json_object_set_new(out, r->member, val);
		if (r->check != NULL)
			r->check(v, out);
	}
}

static void check_whole_mib(struct taskcfg_errors *v, const json_t *out)
{
	if (json_integer_value(json_object_get(out, "buffer_node_bytes")) % (json_int_t)MIB != 0)
		taskcfg_verr(v, "buffer_node_bytes", NULL,
			     "buffer_node_bytes must be a whole number of MiB (1 to 8 MiB)");
}

/* Block-level migration copies whole disks: there is nothing to filter. */
static void check_path_filters(struct taskcfg_errors *v, const json_t *out)
{
	if (strcmp(json_string_value(json_object_get(out, "mode")), "block") == 0 &&
	    (json_array_size(json_object_get(out, "exclude_paths")) > 0 ||
	     json_array_size(json_object_get(out, "sync_only_paths")) > 0 ||
	     json_array_size(json_object_get(out, "sync_exclude_paths")) > 0))
		taskcfg_verr(v, "exclude_paths", NULL,
			     "path filters apply to file-level migration only");
}

static json_t *parse_disks(struct taskcfg_errors *v, const char *field, const json_t *tdisks)
{
	json_t *ndisks = json_array();
	const json_t *e;
	size_t i;

	if (!json_is_array(tdisks) || json_array_size(tdisks) == 0 ||
	    json_array_size(tdisks) > MAX_DISKS) {
		taskcfg_verr(v, field, NULL, "%s must list 1 to %d disks [{\"size_bytes\": N}]",
			     field, MAX_DISKS);
		return ndisks;
	}
	json_array_foreach(tdisks, i, e) {
		char f[48];
		json_t *d;

		snprintf(f, sizeof f, "%s[%zu]", field, i);
		if (!json_is_object(e)) {
			taskcfg_verr(v, f, NULL, "%s must be an object", f);
			continue;
		}
		snprintf(f, sizeof f, "%s[%zu].size_bytes", field, i);
		if (!json_is_integer(json_object_get(e, "size_bytes")) ||
		    json_integer_value(json_object_get(e, "size_bytes")) < (json_int_t)MIB) {
			taskcfg_verr(v, f, NULL,
				     "%s must be an integer number of bytes (at least 1 MiB)", f);
			continue;
		}
		d = json_pack("{s:O}", "size_bytes", json_object_get(e, "size_bytes"));
		if (json_is_string(json_object_get(e, "source")))
			json_object_set(d, "source", json_object_get(e, "source"));
		if (json_is_string(json_object_get(e, "device")))
			json_object_set(d, "device", json_object_get(e, "device"));
		json_array_append_new(ndisks, d);
	}
	return ndisks;
}

static json_t *parse_estimate(struct taskcfg_errors *v, const char *field, const json_t *e)
{
	const json_t *bw = json_object_get(e, "bandwidth_mbit_per_s");
	const json_t *u = json_object_get(e, "utilisation");

	if (e == NULL || json_is_null(e))
		return NULL;
	if (!json_is_object(e) || !json_is_number(bw) || json_number_value(bw) <= 0 ||
	    json_number_value(bw) > 1e6 ||
	    (u != NULL && (!json_is_number(u) || json_number_value(u) <= 0 ||
			   json_number_value(u) > 1))) {
		taskcfg_verr(v, field, NULL, "%s must be {\"bandwidth_mbit_per_s\": S > 0, "
			     "\"utilisation\": U in (0, 1] (default 0.7)}", field);
		return NULL;
	}
	return json_pack("{s:f, s:f}", "bandwidth_mbit_per_s", json_number_value(bw),
			 "utilisation", u ? json_number_value(u) : 0.7);
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

static json_t *parse_rate_limit(struct taskcfg_errors *v, const char *field, const json_t *j)
{
	const json_t *w;
	json_t *out = json_array();
	size_t i;

	if (j == NULL || json_is_null(j))
		return out;
	if (!json_is_array(j) || json_array_size(j) > MAX_WINDOWS) {
		taskcfg_verr(v, field, NULL, "%s must be a list of at most %d windows "
			     "{\"from\": \"HH:MM\", \"to\": \"HH:MM\", \"mbit_per_s\": N}", field,
			     MAX_WINDOWS);
		return out;
	}
	json_array_foreach(j, i, w) {
		const char *from = json_string_value(json_object_get(w, "from"));
		const char *to = json_string_value(json_object_get(w, "to"));
		const json_t *r = json_object_get(w, "mbit_per_s");
		char f[48];

		snprintf(f, sizeof f, "%s[%zu]", field, i);
		if (!json_is_object(w)) {
			taskcfg_verr(v, f, NULL, "%s must be an object", f);
			continue;
		}
		if (!json_is_integer(r) || json_integer_value(r) < 1 ||
		    json_integer_value(r) > 100000) {
			taskcfg_verr(v, f, NULL,
				     "%s.mbit_per_s must be an integer from 1 to 100000 Mbit/s", f);
			continue;
		}
		if (from == NULL)
			from = "00:00";
		if (to == NULL)
			to = "24:00";
		if (hhmm(from) < 0 || hhmm(to) < 0 || hhmm(from) == hhmm(to)) {
			taskcfg_verr(v, f, NULL, "%s: from and to must be different times HH:MM "
				     "(00:00 to 24:00; a window may wrap past midnight)", f);
			continue;
		}
		json_array_append_new(out, json_pack("{s:s, s:s, s:O}", "from", from, "to", to,
						     "mbit_per_s", r));
	}
	return out;
}

void taskcfg_settings_read(struct taskcfg_errors *v, const json_t *body, const json_t *inv,
			   json_t *cfg)
{
	const char *key;
	const json_t *e;

	json_object_foreach((json_t *)body, key, e)
		if (setting_find(settings, RH_ARRAY_SIZE(settings), key) == NULL)
			taskcfg_verr(v, key, NULL, "unknown member '%s'", key);
	read_settings(v, settings, RH_ARRAY_SIZE(settings), NULL, body, inv, cfg);
}
