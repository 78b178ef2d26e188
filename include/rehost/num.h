/*
 * Bounded number parsing (strtonum style). Never use atoi/strtol directly
 * on untrusted text: these reject empty strings, trailing garbage, signs
 * where none belong, and values outside [min, max].
 */
#ifndef REHOST_NUM_H
#define REHOST_NUM_H

#include <stdint.h>

/* Parse a decimal integer in [min, max] into *out. *out is set to 0 first.
 * Returns 0, RH_ERR_PARSE (not a number) or RH_ERR_RANGE. */
int rh_parse_i64(const char *s, int64_t min, int64_t max, int64_t *out);

/* As rh_parse_i64 for unsigned values (a leading '-' is RH_ERR_PARSE). */
int rh_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out);

/* Parse a byte size with an optional binary suffix (K, M, G, T, P, with
 * optional "iB"/"B"; "4M" = "4MiB" = 4194304) into [min, max] bytes.
 * Returns 0, RH_ERR_PARSE, RH_ERR_RANGE or RH_ERR_OVERFLOW. */
int rh_parse_size(const char *s, uint64_t min, uint64_t max, uint64_t *out);

/* Format bytes for humans with binary units, e.g. "1.5 GiB". Writes at
 * most len bytes including the NUL; returns buf. */
char *rh_format_size(uint64_t bytes, char *buf, unsigned long len);

#endif
