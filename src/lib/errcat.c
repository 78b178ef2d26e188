/* Error catalogue: bounded TSV parser and lookup. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "rehost/err.h"
#include "rehost/errcat.h"
#include "rehost/tsv.h"

#define NFIELDS 5

struct rh_errcat {
	char *text;                     /* private copy; fields point into it */
	struct rh_errcat_entry *entries;
	size_t count;
};

static const char *const header[NFIELDS] = {
	"code", "message_en", "message_zh", "cause", "action",
};

void rh_errcat_free(struct rh_errcat *cat)
{
	if (cat == NULL)
		return;
	free(cat->entries);
	free(cat->text);
	free(cat);
}

/* Split one line (NUL-terminated, no newline) in place into exactly NFIELDS
 * tab-separated fields. The checks run field by field along the line, so a
 * field too long before the point where the count goes wrong is what gets
 * reported. */
static int split_line(char *line, size_t lineno, char *fields[NFIELDS])
{
	size_t n = rh_tsv_split(line, fields, NFIELDS);

	for (size_t i = 0; i < n && i < NFIELDS; i++) {
		if (i + 1 == n && n < NFIELDS)
			return rh_seterr(RH_ERR_PARSE,
					 "error catalogue line %zu: %d fields, expected %d",
					 lineno, (int)n, NFIELDS);
		if (i + 1 == NFIELDS && n > NFIELDS)
			return rh_seterr(RH_ERR_PARSE,
					 "error catalogue line %zu: more than %d fields",
					 lineno, NFIELDS);
		if (strlen(fields[i]) > RH_ERRCAT_MAX_FIELD)
			return rh_seterr(RH_ERR_PARSE,
					 "error catalogue line %zu: field %s longer than %u bytes",
					 lineno, header[i], RH_ERRCAT_MAX_FIELD);
	}
	if (fields[0][0] == '\0')
		return rh_seterr(RH_ERR_PARSE, "error catalogue line %zu: empty code",
				 lineno);
	return 0;
}

int rh_errcat_parse(const char *data, size_t len, struct rh_errcat **out)
{
	struct rh_errcat *cat = NULL;
	struct rh_tsv_lines it;
	size_t lines = 0, l;
	char *p;
	int rc;

	*out = NULL;
	if (len > RH_ERRCAT_MAX_BYTES)
		return rh_seterr(RH_ERR_TOOBIG, "error catalogue larger than %u bytes",
				 RH_ERRCAT_MAX_BYTES);
	if (memchr(data, '\0', len) != NULL)
		return rh_seterr(RH_ERR_PARSE, "error catalogue contains a NUL byte");

	cat = calloc(1, sizeof *cat);
	if (cat == NULL)
		return RH_ERR_NOMEM;
	cat->text = malloc(len + 1);
	if (cat->text == NULL) {
		rc = RH_ERR_NOMEM;
		goto out;
	}
	memcpy(cat->text, data, len);
	cat->text[len] = '\0';
	for (size_t i = 0; i < len; i++)
		if (data[i] == '\n')
			lines++;
	cat->entries = calloc(lines + 1, sizeof *cat->entries);
	if (cat->entries == NULL) {
		rc = RH_ERR_NOMEM;
		goto out;
	}

	rh_tsv_lines_init(&it, cat->text);
	while ((p = rh_tsv_line_next(&it, &l)) != NULL) {
		char *fields[NFIELDS];
		size_t lineno = it.lineno;

		if (l == 0 || p[0] == '#')
			continue;
		rc = split_line(p, lineno, fields);
		if (rc < 0)
			goto out;
		if (lineno == 1) {
			for (int i = 0; i < NFIELDS; i++) {
				if (strcmp(fields[i], header[i]) != 0) {
					rc = rh_seterr(RH_ERR_PARSE,
						       "error catalogue: bad header column %d '%s', expected '%s'",
						       i + 1, fields[i], header[i]);
					goto out;
				}
			}
			continue;
		}
		if (rh_errcat_find(cat, fields[0]) != NULL) {
			rc = rh_seterr(RH_ERR_PARSE,
				       "error catalogue line %zu: duplicate code %s",
				       lineno, fields[0]);
			goto out;
		}
		cat->entries[cat->count++] = (struct rh_errcat_entry){
			fields[0], fields[1], fields[2], fields[3], fields[4],
		};
	}
	if (cat->count == 0) {
		rc = rh_seterr(RH_ERR_PARSE, "error catalogue has no entries");
		goto out;
	}
	*out = cat;
	cat = NULL;
	rc = 0;
out:
	rh_errcat_free(cat);
	return rc;
}

size_t rh_errcat_count(const struct rh_errcat *cat)
{
	return cat ? cat->count : 0;
}

const struct rh_errcat_entry *rh_errcat_at(const struct rh_errcat *cat, size_t i)
{
	if (cat == NULL || i >= cat->count)
		return NULL;
	return &cat->entries[i];
}

const struct rh_errcat_entry *rh_errcat_find(const struct rh_errcat *cat,
					     const char *code)
{
	char full[64];

	if (cat == NULL || code == NULL)
		return NULL;
	/* Operators often type just the number: "1807" means "SMS.1807". */
	if (strncasecmp(code, "SMS.", 4) != 0 && strncasecmp(code, "MSG.", 4) != 0) {
		snprintf(full, sizeof full, "SMS.%s", code);
		code = full;
	}
	for (size_t i = 0; i < cat->count; i++)
		if (strcasecmp(cat->entries[i].code, code) == 0)
			return &cat->entries[i];
	return NULL;
}

/* Defined by the build from data/error-codes.tsv (cmake/embed.cmake). */
extern const unsigned char rh_data_error_codes[];
extern const size_t rh_data_error_codes_len;

static struct rh_errcat *builtin;
static pthread_once_t builtin_once = PTHREAD_ONCE_INIT;

static void builtin_free(void)
{
	rh_errcat_free(builtin);
	builtin = NULL;
}

static void builtin_load(void)
{
	if (rh_errcat_parse((const char *)rh_data_error_codes,
			    rh_data_error_codes_len, &builtin) == 0)
		atexit(builtin_free);
}

const struct rh_errcat *rh_errcat_builtin(void)
{
	pthread_once(&builtin_once, builtin_load);
	return builtin;
}
