/*
 * Line and tab-separated field splitting for the library's text formats
 * (the error catalogue, the data/ lists, the boot failure rules, the verify
 * result log), and the header-checked table the data/ files use.
 *
 * Everything works in place on a caller's NUL-terminated copy of the text;
 * callers reject NUL bytes in their input first, so that the copy's
 * terminator is the end of the text.
 */
#ifndef REHOST_TSV_H
#define REHOST_TSV_H

#include <stddef.h>

/* ---- lines ---- */

/* Iterator over the lines of a mutable NUL-terminated text. */
struct rh_tsv_lines {
	char *next;     /* start of the next line; at the terminator when done */
	size_t lineno;  /* 1-based number of the line last returned, 0 before */
	size_t rawlen;  /* bytes of that line as stored, with any '\r', without '\n' */
};

/* Start at text (borrowed; modified in place by rh_tsv_line_next). */
void rh_tsv_lines_init(struct rh_tsv_lines *it, char *text);

/* The next line, NUL-terminated in place without its "\n" (or "\r\n"), and
 * its length in *len (may be NULL); NULL at the end of the text. Empty and
 * comment lines are returned too: skipping them is the format's business.
 * A final line without "\n" counts; text ending in "\n" has no empty line
 * after it. The pointer is into the text. */
char *rh_tsv_line_next(struct rh_tsv_lines *it, size_t *len);

/* ---- fields ---- */

/* Split line in place at tabs into fields[0..max-1]. Returns the number of
 * fields, or max + 1 when the line has more than max (the rest of the line
 * is then left unsplit and fields[max-1] ends at its tab). A line always
 * has at least one field, possibly empty. */
size_t rh_tsv_split(char *line, char **fields, size_t max);

/* ---- tables with a header line ---- */

/* Format: '#' comment lines and blank lines ignored, then a header line
 * naming the columns, then rows of exactly that many non-empty
 * tab-separated fields ("-" stands for nothing). */
struct rh_tsv {
	char *text;            /* owned copy; cells point into it */
	size_t nrows, ncols;
	char **cells;          /* nrows * ncols, row by row */
};
#define RH_TSV_MAX_BYTES (1u << 20)
#define RH_TSV_MAX_FIELD 1024u
#define RH_TSV_MAX_ROWS 100000u
#define RH_TSV_MAX_COLS 16u

/* Parse data/len (need not be NUL-terminated) with the expected header
 * (ncols names, 1 to RH_TSV_MAX_COLS). what names the input in error
 * details ("data/os-compat.tsv"). On success *out is the table, freed by
 * the caller with rh_tsv_free. Returns 0, RH_ERR_PARSE, RH_ERR_TOOBIG,
 * RH_ERR_INVAL (bad ncols) or RH_ERR_NOMEM. */
int rh_tsv_parse(const char *data, size_t len, const char *what, const char *const *header,
		 size_t ncols, struct rh_tsv **out);

/* Free a table; NULL is fine. */
void rh_tsv_free(struct rh_tsv *t);

/* Cell (row, col), borrowed from t. No bounds check: row < nrows and
 * col < ncols are the caller's. */
static inline const char *rh_tsv_cell(const struct rh_tsv *t, size_t row, size_t col)
{
	return t->cells[row * t->ncols + col];
}

#endif
