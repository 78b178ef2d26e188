/* Private to src/lib/verify. */
#ifndef REHOST_VERIFY_INTERNAL_H
#define REHOST_VERIFY_INTERNAL_H

#include <stdio.h>

#include "rehost/fileverify.h"

/* Longest escaped line the writer produces and the reader accepts: a path
 * under RH_FVERIFY_MAX_PATH and a detail of at most two more paths, each
 * byte escaped to at most 4. */
#define VERIFYLOG_MAX_LINE (16u * RH_FVERIFY_MAX_PATH)

/* verifylog.c */
/* Write s to f with the log escapes (\\ \t \n \r \xHH). */
void verifylog_put_escaped(FILE *f, const char *s);
/* Write the header lines. */
void verifylog_put_header(FILE *f, enum rh_fverify_mode mode, bool recheck,
			  const char *source, const char *target);
/* Write one entry line. */
void verifylog_put_entry(FILE *f, enum rh_fverify_kind kind, const char *path,
			 const char *detail);
/* Whether path is acceptable as a relative log path (see rh_fverify_entry). */
bool verifylog_path_ok(const char *path);

#endif
