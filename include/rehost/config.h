/*
 * rehost.conf: an INI file with a fixed schema.
 *
 *   # comment            ; comment     (whole lines only)
 *   [section]
 *   key = value
 *
 * Every key is declared in the schema (src/lib/config-schema.c) with its
 * type, allowed range and default, and documented in docs/config.md (a test
 * keeps the two in sync). Unknown sections or keys, values out of range and
 * duplicate keys are errors that name the file, line, key, value and what
 * is allowed.
 */
#ifndef REHOST_CONFIG_H
#define REHOST_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum rh_cfg_type {
	RH_CFG_INT,    /* decimal integer in [min, max], or a keyword */
	RH_CFG_BOOL,   /* true/false, yes/no, on/off, 1/0 */
	RH_CFG_STRING, /* free text */
	RH_CFG_ENUM,   /* one of the keywords */
	RH_CFG_LIST,   /* comma-separated strings, blanks trimmed */
};

/* An extra word accepted for an INT key ("auto" = -1) or a choice of an
 * ENUM key (value unused). Arrays end with { NULL, 0 }. */
struct rh_cfg_keyword {
	const char *word;
	int64_t value;
};

/* One schema entry. */
struct rh_cfg_key {
	const char *section;
	const char *key;
	enum rh_cfg_type type;
	int64_t min, max;      /* INT only: inclusive range */
	const char *unit;      /* INT only: unit for messages and docs, or NULL */
	const struct rh_cfg_keyword *keywords; /* INT, ENUM; NULL if none */
	bool empty_ok;         /* INT: an empty value is allowed ... */
	int64_t empty_value;   /* ... and means this (e.g. 0 = unlimited) */
	const char *def;       /* default, as it would be written in the file */
	const char *help;      /* one line for docs and `rehost config defaults` */
	/* STRING/LIST: validate the value (each item of a list); returns 0 or
	 * an RH_ERR_* with an rh_seterr detail. NULL: anything goes. */
	int (*check)(const char *item);
};

struct rh_config;

/* Largest config file accepted and longest line. */
#define RH_CONFIG_MAX_BYTES (1u << 20)
#define RH_CONFIG_MAX_LINE 4096u

/* The schema: n entries, in documentation order. Static storage. */
const struct rh_cfg_key *rh_config_schema(size_t *n);

/* New configuration holding every default. Caller frees with
 * rh_config_free. Returns 0 or RH_ERR_NOMEM (RH_ERR_INTERNAL if a schema
 * default is invalid, which a unit test rules out). */
int rh_config_new(struct rh_config **out);
void rh_config_free(struct rh_config *cfg);

/* Read settings from a file over the current values. Returns 0,
 * RH_ERR_NOTFOUND (no such file), RH_ERR_IO, RH_ERR_TOOBIG, or
 * RH_ERR_PARSE / RH_ERR_RANGE / RH_ERR_INVAL with rh_lasterr() like
 *   "rehost.conf:12: [limits] cpu_percent = 150: out of range (allowed: 1 to 100 %, or empty for unlimited)".
 * On error the configuration is unchanged. */
int rh_config_load_file(struct rh_config *cfg, const char *path);

/* As rh_config_load_file on an in-memory buffer; name is used in messages. */
int rh_config_load_buffer(struct rh_config *cfg, const char *name,
			  const char *data, size_t len);

/* Set one value (from the command line, say); origin names it in errors
 * and `rehost config show`. */
int rh_config_set(struct rh_config *cfg, const char *section, const char *key,
		  const char *value, const char *origin);

/* Typed getters. Asking for a key that is not in the schema, or with the
 * wrong type, is a programming error: they return 0/false/"" and log it. */
int64_t rh_config_int(const struct rh_config *cfg, const char *section, const char *key);
bool rh_config_bool(const struct rh_config *cfg, const char *section, const char *key);
/* Borrowed; valid until the key is set again or cfg is freed. */
const char *rh_config_str(const struct rh_config *cfg, const char *section, const char *key);
/* List items; *n receives the count. Borrowed as above. */
const char *const *rh_config_list(const struct rh_config *cfg, const char *section,
				  const char *key, size_t *n);

/* The value as text and where it came from ("default", "FILE:LINE" or the
 * origin given to rh_config_set). Borrowed. Returns NULL if unknown key. */
const char *rh_config_text(const struct rh_config *cfg, const char *section,
			   const char *key, const char **origin);

/* Describe the allowed values of a key, e.g. "1 to 8 MiB" or
 * "0 to 3, or auto". Writes into buf; returns buf. */
char *rh_config_describe(const struct rh_cfg_key *k, char *buf, size_t len);

#endif
