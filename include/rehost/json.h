/*
 * Thin helpers over jansson for documents from peers and files: a bounded
 * loader whose errors carry a position, a writer that handles short writes,
 * and typed getters that report a wrong type or a missing key as an error
 * code instead of handing back NULL for the caller to trip over.
 */
#ifndef REHOST_JSON_H
#define REHOST_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

/* Parse len bytes at data (no NUL needed; NULL allowed when len is 0). The
 * top level must be an object or an array; duplicate keys and \u0000 in
 * strings are rejected, since either lets two readers see different
 * documents. On success *out is a new reference the caller releases with
 * json_decref; on failure *out is NULL. Returns 0, RH_ERR_TOOBIG when
 * len > max_len, RH_ERR_PARSE (detail "line L column C: text") or
 * RH_ERR_NOMEM. */
int rh_json_load(const char *data, size_t len, size_t max_len, json_t **out);

/* Write j to fd followed by a newline, compact on one line (pretty = 0) or
 * indented by 2 (pretty != 0), retrying short writes and EINTR. Returns 0,
 * an error mapped from errno (detail says which), or RH_ERR_INVAL when j
 * cannot be encoded. On failure part of the text may have been written.
 * j is borrowed. */
int rh_json_dump_fd(int fd, const json_t *j, int pretty);

/* Typed member lookup in an object. Each clears its out-parameter first
 * and returns 0, RH_ERR_INVAL (obj is not an object), RH_ERR_NOTFOUND (no
 * such key, so callers can treat it as optional) or RH_ERR_PARSE (the value
 * has another type), with a detail naming the key. */

/* *out is borrowed from obj: valid while obj holds this member. A JSON
 * null is a wrong type, not an empty string. */
int rh_json_get_str(const json_t *obj, const char *key, const char **out);

/* Only JSON integers (no reals like 1.0), within [min, max]; also returns
 * RH_ERR_RANGE outside it, or RH_ERR_INVAL when min > max. */
int rh_json_get_int(const json_t *obj, const char *key, int64_t min,
		    int64_t max, int64_t *out);

/* Only true and false (no 0/1 or strings). */
int rh_json_get_bool(const json_t *obj, const char *key, bool *out);

#endif
