/*
 * The error catalogue: every SMS.xxxx code of the seed service and every
 * message it prints without a code (MSG.name), with the English and original
 * Chinese message, the cause and what the operator should do.
 *
 * The catalogue is data (data/error-codes.tsv), compiled into the binary.
 * Format: UTF-8, tab-separated, a header line
 * "code\tmessage_en\tmessage_zh\tcause\taction", then one row per entry.
 */
#ifndef REHOST_ERRCAT_H
#define REHOST_ERRCAT_H

#include <stddef.h>

struct rh_errcat;

/* One entry. All strings are NUL-terminated and owned by the catalogue. */
struct rh_errcat_entry {
	const char *code;       /* "SMS.1807" or "MSG.target-disk-count" */
	const char *message_en; /* may contain %s placeholders */
	const char *message_zh; /* original message, "-" when the seed has none */
	const char *cause;
	const char *action;
};

/* Largest catalogue accepted (bytes) and longest field. */
#define RH_ERRCAT_MAX_BYTES (1u << 20)
#define RH_ERRCAT_MAX_FIELD 2048u

/* Parse a catalogue from data/len (need not be NUL-terminated). On success
 * *out is a new catalogue the caller frees with rh_errcat_free. Returns 0,
 * RH_ERR_PARSE (with a detail naming the line) or RH_ERR_TOOBIG. */
int rh_errcat_parse(const char *data, size_t len, struct rh_errcat **out);

void rh_errcat_free(struct rh_errcat *cat);

/* The catalogue compiled into the binary, parsed on first use. Returns NULL
 * only if the embedded data is broken (a build bug). Borrowed; lives for
 * the whole process. */
const struct rh_errcat *rh_errcat_builtin(void);

size_t rh_errcat_count(const struct rh_errcat *cat);

/* Entry i (0-based, in file order), or NULL when out of range. Borrowed. */
const struct rh_errcat_entry *rh_errcat_at(const struct rh_errcat *cat, size_t i);

/* Look up a code, case-insensitively; "1807" is accepted for "SMS.1807".
 * Returns NULL when absent. Borrowed. */
const struct rh_errcat_entry *rh_errcat_find(const struct rh_errcat *cat,
					     const char *code);

#endif
