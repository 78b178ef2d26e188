/* rehost.conf parser: bounded INI reader validated against the schema. */
#define RH_LOG_COMPONENT "config"
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rehost/config.h"
#include "rehost/err.h"
#include "rehost/log.h"
#include "rehost/num.h"

/* The parsed value of one schema key. */
struct value {
	char *text;      /* as written (trimmed); owned */
	int64_t num;     /* INT: the number; BOOL: 0/1 */
	char **items;    /* LIST: NULL-terminated array of owned strings */
	size_t nitems;
	char *origin;    /* "default", "FILE:LINE" or caller's origin; owned */
};

struct rh_config {
	const struct rh_cfg_key *schema;
	size_t n;
	struct value *values; /* n entries, same order as schema */
};

static void value_clear(struct value *v)
{
	free(v->text);
	if (v->items != NULL)
		for (size_t i = 0; i < v->nitems; i++)
			free(v->items[i]);
	free(v->items);
	free(v->origin);
	memset(v, 0, sizeof *v);
}

void rh_config_free(struct rh_config *cfg)
{
	if (cfg == NULL)
		return;
	for (size_t i = 0; i < cfg->n; i++)
		value_clear(&cfg->values[i]);
	free(cfg->values);
	free(cfg);
}

static ssize_t key_index(const struct rh_config *cfg, const char *section, const char *key)
{
	for (size_t i = 0; i < cfg->n; i++)
		if (strcmp(cfg->schema[i].section, section) == 0 &&
		    strcmp(cfg->schema[i].key, key) == 0)
			return (ssize_t)i;
	return -1;
}

static bool section_known(const struct rh_config *cfg, const char *section)
{
	for (size_t i = 0; i < cfg->n; i++)
		if (strcmp(cfg->schema[i].section, section) == 0)
			return true;
	return false;
}

char *rh_config_describe(const struct rh_cfg_key *k, char *buf, size_t len)
{
	size_t off = 0;

	buf[0] = '\0';
#define PUT(...) \
	do { \
		int w_ = snprintf(buf + off, len - off, __VA_ARGS__); \
		if (w_ > 0) \
			off = (size_t)w_ < len - off ? off + (size_t)w_ : len - 1; \
	} while (0)
	switch (k->type) {
	case RH_CFG_INT:
		PUT("%" PRId64 " to %" PRId64, k->min, k->max);
		if (k->unit != NULL)
			PUT(" %s", k->unit);
		for (const struct rh_cfg_keyword *w = k->keywords; w && w->word; w++)
			PUT(", or %s", w->word);
		if (k->empty_ok)
			PUT(", or empty for unlimited");
		break;
	case RH_CFG_BOOL:
		PUT("true or false");
		break;
	case RH_CFG_STRING:
		PUT("any text");
		break;
	case RH_CFG_LIST:
		PUT("comma-separated list");
		break;
	case RH_CFG_ENUM:
		PUT("one of");
		for (const struct rh_cfg_keyword *w = k->keywords; w && w->word; w++)
			PUT("%s %s", w == k->keywords ? "" : ",", w->word);
		break;
	}
#undef PUT
	return buf;
}

static int parse_bool(const char *s, int64_t *out)
{
	static const char *const yes[] = { "true", "yes", "on", "1" };
	static const char *const no[] = { "false", "no", "off", "0" };

	for (size_t i = 0; i < 4; i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*out = 1;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*out = 0;
			return 0;
		}
	}
	return RH_ERR_INVAL;
}

static char *trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

static int split_list(const char *text, char ***items, size_t *nitems)
{
	char *copy = strdup(text), *save = NULL, *tok;
	char **arr = NULL;
	size_t n = 0, cap = 1;
	int rc = RH_ERR_NOMEM;

	*items = NULL;
	*nitems = 0;
	if (copy == NULL)
		return RH_ERR_NOMEM;
	for (const char *p = text; *p; p++)
		if (*p == ',')
			cap++;
	arr = calloc(cap + 1, sizeof *arr);
	if (arr == NULL)
		goto out;
	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *t = trim(tok);

		if (*t == '\0')
			continue;
		arr[n] = strdup(t);
		if (arr[n] == NULL)
			goto out;
		n++;
	}
	*items = arr;
	*nitems = n;
	arr = NULL;
	rc = 0;
out:
	if (arr != NULL) {
		for (size_t i = 0; i < n; i++)
			free(arr[i]);
		free(arr);
	}
	free(copy);
	return rc;
}

/* Validate text against schema key k and fill *v (which the caller then
 * owns). where is "FILE:LINE" or an origin, for messages. */
static int value_parse(const struct rh_cfg_key *k, const char *text,
		       const char *where, struct value *v)
{
	char allowed[256];
	int rc;

	memset(v, 0, sizeof *v);
	switch (k->type) {
	case RH_CFG_INT:
		if (*text == '\0' && k->empty_ok) {
			v->num = k->empty_value;
			break;
		}
		for (const struct rh_cfg_keyword *w = k->keywords; w && w->word; w++) {
			if (strcasecmp(text, w->word) == 0) {
				v->num = w->value;
				goto ok;
			}
		}
		rc = rh_parse_i64(text, k->min, k->max, &v->num);
		if (rc < 0)
			return rh_seterr(rc == RH_ERR_RANGE ? RH_ERR_RANGE : RH_ERR_INVAL,
					 "%s: [%s] %s = %s: %s (allowed: %s)", where,
					 k->section, k->key, text,
					 rc == RH_ERR_RANGE ? "out of range" : "not a number",
					 rh_config_describe(k, allowed, sizeof allowed));
		break;
	case RH_CFG_BOOL:
		if (parse_bool(text, &v->num) < 0)
			return rh_seterr(RH_ERR_INVAL,
					 "%s: [%s] %s = %s: not a boolean (allowed: true, false, yes, no, on, off, 1, 0)",
					 where, k->section, k->key, text);
		break;
	case RH_CFG_ENUM: {
		bool found = false;

		for (const struct rh_cfg_keyword *w = k->keywords; w && w->word; w++)
			found = found || strcmp(text, w->word) == 0;
		if (!found)
			return rh_seterr(RH_ERR_INVAL, "%s: [%s] %s = %s: not allowed (allowed: %s)",
					 where, k->section, k->key, text,
					 rh_config_describe(k, allowed, sizeof allowed));
		break;
	}
	case RH_CFG_LIST:
		rc = split_list(text, &v->items, &v->nitems);
		if (rc < 0)
			return rc;
		for (size_t i = 0; k->check != NULL && i < v->nitems; i++) {
			rc = k->check(v->items[i]);
			if (rc < 0) {
				rc = rh_seterr(rc, "%s: [%s] %s = %s: %s", where, k->section, k->key,
					       text, rh_lasterr());
				value_clear(v);
				return rc;
			}
		}
		break;
	case RH_CFG_STRING:
		if (k->check != NULL && *text != '\0' && (rc = k->check(text)) < 0)
			return rh_seterr(rc, "%s: [%s] %s = %s: %s", where, k->section, k->key,
					 text, rh_lasterr());
		break;
	}
ok:
	v->text = strdup(text);
	v->origin = strdup(where);
	if (v->text == NULL || v->origin == NULL) {
		value_clear(v);
		return RH_ERR_NOMEM;
	}
	return 0;
}

int rh_config_new(struct rh_config **out)
{
	struct rh_config *cfg;
	int rc;

	*out = NULL;
	cfg = calloc(1, sizeof *cfg);
	if (cfg == NULL)
		return RH_ERR_NOMEM;
	cfg->schema = rh_config_schema(&cfg->n);
	cfg->values = calloc(cfg->n, sizeof *cfg->values);
	if (cfg->values == NULL) {
		free(cfg);
		return RH_ERR_NOMEM;
	}
	for (size_t i = 0; i < cfg->n; i++) {
		rc = value_parse(&cfg->schema[i], cfg->schema[i].def, "default",
				 &cfg->values[i]);
		if (rc < 0) {
			rh_config_free(cfg);
			return rc == RH_ERR_NOMEM ? rc : RH_ERR_INTERNAL;
		}
	}
	*out = cfg;
	return 0;
}

int rh_config_set(struct rh_config *cfg, const char *section, const char *key,
		  const char *value, const char *origin)
{
	ssize_t i = key_index(cfg, section, key);
	struct value v;
	int rc;

	if (i < 0)
		return rh_seterr(RH_ERR_NOTFOUND, "%s: unknown key [%s] %s", origin,
				 section, key);
	rc = value_parse(&cfg->schema[i], value, origin, &v);
	if (rc < 0)
		return rc;
	value_clear(&cfg->values[i]);
	cfg->values[i] = v;
	return 0;
}

/* Parse the whole buffer into a staging array first so that an error leaves
 * cfg unchanged. */
int rh_config_load_buffer(struct rh_config *cfg, const char *name,
			  const char *data, size_t len)
{
	struct value *staged = NULL;
	int *seen_line = NULL;
	char *text = NULL, *p, *next, section[64] = "";
	size_t lineno = 0;
	int rc;

	if (len > RH_CONFIG_MAX_BYTES)
		return rh_seterr(RH_ERR_TOOBIG, "%s: larger than %u bytes", name,
				 RH_CONFIG_MAX_BYTES);
	if (memchr(data, '\0', len) != NULL)
		return rh_seterr(RH_ERR_PARSE, "%s: contains a NUL byte; not a text file", name);
	staged = calloc(cfg->n, sizeof *staged);
	seen_line = calloc(cfg->n, sizeof *seen_line);
	text = malloc(len + 1);
	if (staged == NULL || seen_line == NULL || text == NULL) {
		rc = RH_ERR_NOMEM;
		goto out;
	}
	memcpy(text, data, len);
	text[len] = '\0';

	for (p = text; *p != '\0'; p = next) {
		char *line, *eq, *key, *val, where[512];
		ssize_t idx;

		lineno++;
		next = strchr(p, '\n');
		if (next != NULL)
			*next++ = '\0';
		else
			next = p + strlen(p);
		if (strlen(p) > RH_CONFIG_MAX_LINE) {
			rc = rh_seterr(RH_ERR_PARSE, "%s:%zu: line longer than %u bytes",
				       name, lineno, RH_CONFIG_MAX_LINE);
			goto out;
		}
		line = trim(p);
		if (*line == '\0' || *line == '#' || *line == ';')
			continue;
		if (*line == '[') {
			char *end = strchr(line, ']');

			if (end == NULL || end[1] != '\0' || end - line - 1 <= 0 ||
			    (size_t)(end - line - 1) >= sizeof section) {
				rc = rh_seterr(RH_ERR_PARSE,
					       "%s:%zu: malformed section header '%s' (expected [name])",
					       name, lineno, line);
				goto out;
			}
			*end = '\0';
			snprintf(section, sizeof section, "%s", trim(line + 1));
			if (!section_known(cfg, section)) {
				rc = rh_seterr(RH_ERR_PARSE,
					       "%s:%zu: unknown section [%s] (see docs/config.md)",
					       name, lineno, section);
				goto out;
			}
			continue;
		}
		eq = strchr(line, '=');
		if (eq == NULL) {
			rc = rh_seterr(RH_ERR_PARSE, "%s:%zu: expected 'key = value', got '%s'",
				       name, lineno, line);
			goto out;
		}
		*eq = '\0';
		key = trim(line);
		val = trim(eq + 1);
		if (section[0] == '\0') {
			rc = rh_seterr(RH_ERR_PARSE, "%s:%zu: key '%s' before any [section]",
				       name, lineno, key);
			goto out;
		}
		idx = key_index(cfg, section, key);
		if (idx < 0) {
			rc = rh_seterr(RH_ERR_PARSE, "%s:%zu: unknown key '%s' in [%s] (see docs/config.md)",
				       name, lineno, key, section);
			goto out;
		}
		if (seen_line[idx] != 0) {
			rc = rh_seterr(RH_ERR_PARSE, "%s:%zu: [%s] %s is already set on line %d",
				       name, lineno, section, key, seen_line[idx]);
			goto out;
		}
		seen_line[idx] = (int)lineno;
		snprintf(where, sizeof where, "%s:%zu", name, lineno);
		rc = value_parse(&cfg->schema[idx], val, where, &staged[idx]);
		if (rc < 0)
			goto out;
	}
	/* Commit: every staged value replaces the current one. */
	for (size_t i = 0; i < cfg->n; i++) {
		if (seen_line[i] == 0)
			continue;
		value_clear(&cfg->values[i]);
		cfg->values[i] = staged[i];
		memset(&staged[i], 0, sizeof staged[i]);
	}
	rc = 0;
out:
	if (staged != NULL)
		for (size_t i = 0; i < cfg->n; i++)
			value_clear(&staged[i]);
	free(staged);
	free(seen_line);
	free(text);
	return rc;
}

int rh_config_load_file(struct rh_config *cfg, const char *path)
{
	struct stat st;
	char *data = NULL;
	ssize_t got;
	size_t len = 0;
	int fd, rc;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return rh_seterr_errno(errno, "cannot open config file %s", path);
	if (fstat(fd, &st) < 0) {
		rc = rh_seterr_errno(errno, "cannot stat %s", path);
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = rh_seterr(RH_ERR_INVAL, "%s: not a regular file", path);
		goto out;
	}
	if (st.st_size > (off_t)RH_CONFIG_MAX_BYTES) {
		rc = rh_seterr(RH_ERR_TOOBIG, "%s: larger than %u bytes", path,
			       RH_CONFIG_MAX_BYTES);
		goto out;
	}
	data = malloc((size_t)st.st_size + 1);
	if (data == NULL) {
		rc = RH_ERR_NOMEM;
		goto out;
	}
	while (len < (size_t)st.st_size) {
		got = read(fd, data + len, (size_t)st.st_size - len);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			rc = rh_seterr_errno(errno, "cannot read %s", path);
			goto out;
		}
		if (got == 0)
			break;
		len += (size_t)got;
	}
	rc = rh_config_load_buffer(cfg, path, data, len);
out:
	free(data);
	close(fd);
	return rc;
}

static const struct value *lookup(const struct rh_config *cfg, const char *section,
				  const char *key, enum rh_cfg_type type)
{
	ssize_t i = key_index(cfg, section, key);

	if (i < 0 || cfg->schema[i].type != type) {
		rh_log_error("internal: config key [%s] %s unknown or of another type",
			     section, key);
		return NULL;
	}
	return &cfg->values[i];
}

int64_t rh_config_int(const struct rh_config *cfg, const char *section, const char *key)
{
	const struct value *v = lookup(cfg, section, key, RH_CFG_INT);

	return v ? v->num : 0;
}

bool rh_config_bool(const struct rh_config *cfg, const char *section, const char *key)
{
	const struct value *v = lookup(cfg, section, key, RH_CFG_BOOL);

	return v ? v->num != 0 : false;
}

const char *rh_config_str(const struct rh_config *cfg, const char *section, const char *key)
{
	ssize_t i = key_index(cfg, section, key);

	if (i < 0 || (cfg->schema[i].type != RH_CFG_STRING &&
		      cfg->schema[i].type != RH_CFG_ENUM)) {
		rh_log_error("internal: config key [%s] %s is not a string", section, key);
		return "";
	}
	return cfg->values[i].text;
}

const char *const *rh_config_list(const struct rh_config *cfg, const char *section,
				  const char *key, size_t *n)
{
	static const char *const empty[] = { NULL };
	const struct value *v = lookup(cfg, section, key, RH_CFG_LIST);

	*n = v ? v->nitems : 0;
	return v ? (const char *const *)v->items : empty;
}

const char *rh_config_text(const struct rh_config *cfg, const char *section,
			   const char *key, const char **origin)
{
	ssize_t i = key_index(cfg, section, key);

	if (i < 0)
		return NULL;
	if (origin != NULL)
		*origin = cfg->values[i].origin;
	return cfg->values[i].text;
}
