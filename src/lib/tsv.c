/* Line and field splitting, and the header-checked tables of data/
 * (include/rehost/tsv.h). */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "rehost/err.h"
#include "rehost/tsv.h"

void rh_tsv_lines_init(struct rh_tsv_lines *it, char *text)
{
	it->next = text;
	it->lineno = 0;
	it->rawlen = 0;
}

char *rh_tsv_line_next(struct rh_tsv_lines *it, size_t *len)
{
	char *line = it->next, *nl;
	size_t l;

	if (*line == '\0')
		return NULL;
	nl = strchr(line, '\n');
	if (nl != NULL) {
		*nl = '\0';
		it->next = nl + 1;
		l = (size_t)(nl - line);
	} else {
		l = strlen(line);
		it->next = line + l;
	}
	it->lineno++;
	it->rawlen = l;
	if (l > 0 && line[l - 1] == '\r')
		line[--l] = '\0';
	if (len != NULL)
		*len = l;
	return line;
}

size_t rh_tsv_split(char *line, char **fields, size_t max)
{
	size_t n = 0;

	for (char *f = line;;) {
		char *tab = strchr(f, '\t');

		if (n == max)
			return max + 1;
		fields[n++] = f;
		if (tab == NULL)
			return n;
		*tab = '\0';
		f = tab + 1;
	}
}

void rh_tsv_free(struct rh_tsv *t)
{
	if (t == NULL)
		return;
	free(t->cells);
	free(t->text);
	free(t);
}

int rh_tsv_parse(const char *data, size_t len, const char *what, const char *const *header,
		 size_t ncols, struct rh_tsv **out)
{
	struct rh_tsv *t = NULL;
	struct rh_tsv_lines it;
	size_t lines = 1, l;
	bool have_header = false;
	char *p;
	int rc;

	*out = NULL;
	if (ncols == 0 || ncols > RH_TSV_MAX_COLS)
		return rh_seterr(RH_ERR_INVAL, "%s: %zu columns", what, ncols);
	if (len > RH_TSV_MAX_BYTES)
		return rh_seterr(RH_ERR_TOOBIG, "%s: larger than %u bytes", what, RH_TSV_MAX_BYTES);
	if (memchr(data, '\0', len) != NULL)
		return rh_seterr(RH_ERR_PARSE, "%s: contains a NUL byte", what);
	for (size_t i = 0; i < len; i++)
		if (data[i] == '\n')
			lines++;
	if (lines > RH_TSV_MAX_ROWS + 1000)
		return rh_seterr(RH_ERR_TOOBIG, "%s: more than %u lines", what, RH_TSV_MAX_ROWS);
	t = calloc(1, sizeof *t);
	if (t == NULL)
		return RH_ERR_NOMEM;
	t->ncols = ncols;
	t->text = malloc(len + 1);
	t->cells = calloc(lines * ncols, sizeof *t->cells);
	if (t->text == NULL || t->cells == NULL) {
		rc = RH_ERR_NOMEM;
		goto out;
	}
	memcpy(t->text, data, len);
	t->text[len] = '\0';

	rh_tsv_lines_init(&it, t->text);
	while ((p = rh_tsv_line_next(&it, &l)) != NULL) {
		char *fields[RH_TSV_MAX_COLS];
		size_t nf;

		if (l == 0 || p[0] == '#')
			continue;
		nf = rh_tsv_split(p, fields, ncols);
		if (nf > ncols) {
			rc = rh_seterr(RH_ERR_PARSE, "%s line %zu: more than %zu fields", what,
				       it.lineno, ncols);
			goto out;
		}
		if (nf != ncols) {
			rc = rh_seterr(RH_ERR_PARSE, "%s line %zu: %zu fields, expected %zu", what,
				       it.lineno, nf, ncols);
			goto out;
		}
		for (size_t i = 0; i < ncols; i++) {
			if (strlen(fields[i]) > RH_TSV_MAX_FIELD || fields[i][0] == '\0') {
				rc = rh_seterr(RH_ERR_PARSE, "%s line %zu: field %zu %s", what,
					       it.lineno, i + 1,
					       fields[i][0] ? "too long" : "empty (use -)");
				goto out;
			}
		}
		if (!have_header) {
			for (size_t i = 0; i < ncols; i++) {
				if (strcmp(fields[i], header[i]) != 0) {
					rc = rh_seterr(RH_ERR_PARSE,
						       "%s line %zu: header column %zu is '%s', expected '%s'",
						       what, it.lineno, i + 1, fields[i], header[i]);
					goto out;
				}
			}
			have_header = true;
			continue;
		}
		if (t->nrows >= RH_TSV_MAX_ROWS) {
			rc = rh_seterr(RH_ERR_TOOBIG, "%s: more than %u rows", what, RH_TSV_MAX_ROWS);
			goto out;
		}
		memcpy(&t->cells[t->nrows * ncols], fields, ncols * sizeof *fields);
		t->nrows++;
	}
	if (!have_header) {
		rc = rh_seterr(RH_ERR_PARSE, "%s: no header line", what);
		goto out;
	}
	*out = t;
	t = NULL;
	rc = 0;
out:
	rh_tsv_free(t);
	return rc;
}
