/*
 * The compatibility lists kept as data (data/os-compat.tsv,
 * data/block-os.tsv, data/block-kernels.tsv), read with rh_tsv_parse
 * (src/lib/tsv.c): dotted version comparison and the lookups the checks
 * use.
 */
#define RH_LOG_COMPONENT "inspect"

#include <ctype.h>
#include <fnmatch.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "inspect/internal.h"
#include "rehost/err.h"

int version_cmp(const char *a, const char *b)
{
	while (*a || *b) {
		size_t la = strcspn(a, "."), lb = strcspn(b, ".");
		bool na = la > 0, nb = lb > 0;
		int c;

		for (size_t i = 0; i < la; i++)
			na = na && isdigit((unsigned char)a[i]);
		for (size_t i = 0; i < lb; i++)
			nb = nb && isdigit((unsigned char)b[i]);
		if ((na || la == 0) && (nb || lb == 0)) {
			/* Numeric (an absent component counts as 0): compare
			 * without leading zeros by length, then digits. */
			const char *da = a, *db = b;
			size_t ra = la, rb = lb;

			while (ra > 0 && *da == '0') {
				da++;
				ra--;
			}
			while (rb > 0 && *db == '0') {
				db++;
				rb--;
			}
			if (ra != rb)
				return ra < rb ? -1 : 1;
			c = strncmp(da, db, ra);
		} else {
			size_t m = la < lb ? la : lb;

			c = strncasecmp(a, b, m);
			if (c == 0 && la != lb)
				c = la < lb ? -1 : 1;
		}
		if (c != 0)
			return c < 0 ? -1 : 1;
		a += la;
		b += lb;
		if (*a == '.')
			a++;
		if (*b == '.')
			b++;
	}
	return 0;
}

void os_compat_lookup(const struct rh_tsv *t, const char *family, const char *version,
		      const char *variant, struct os_compat *out)
{
	long best = -1;
	int best_score = 0;

	memset(out, 0, sizeof *out);
	out->uefi = -1;
	if (t == NULL || family == NULL)
		return;
	for (size_t r = 0; r < t->nrows; r++) {
		const char *rv;
		int score;

		if (strcasecmp(rh_tsv_cell(t, r, 0), family) != 0)
			continue;
		out->family_known = true;
		if (version == NULL || version_cmp(rh_tsv_cell(t, r, 1), version) != 0)
			continue;
		/* Prefer the row of the exact variant, then the plain release,
		 * then any variant of that version. */
		rv = rh_tsv_cell(t, r, 2);
		if (variant != NULL && strcasecmp(rv, variant) == 0)
			score = 3;
		else if (strcmp(rv, "-") == 0)
			score = 2;
		else
			score = 1;
		if (score > best_score) {
			best_score = score;
			best = (long)r;
		}
	}
	if (best < 0)
		return;
	out->listed = true;
	out->uefi = strcasecmp(rh_tsv_cell(t, (size_t)best, 3), "yes") == 0 ? 1 : 0;
	out->note = strcmp(rh_tsv_cell(t, (size_t)best, 4), "-") == 0 ? NULL
								  : rh_tsv_cell(t, (size_t)best, 4);
}

bool block_os_listed(const struct rh_tsv *t, const char *family, const char *version)
{
	if (t == NULL || family == NULL || version == NULL)
		return false;
	for (size_t r = 0; r < t->nrows; r++) {
		if (strcasecmp(rh_tsv_cell(t, r, 0), family) != 0)
			continue;
		if (fnmatch(rh_tsv_cell(t, r, 1), version, 0) == 0 ||
		    version_cmp(rh_tsv_cell(t, r, 1), version) == 0)
			return true;
	}
	return false;
}

bool block_kernel_listed(const struct rh_tsv *t, const char *release)
{
	if (t == NULL || release == NULL)
		return false;
	for (size_t r = 0; r < t->nrows; r++)
		if (strcmp(rh_tsv_cell(t, r, 0), release) == 0)
			return true;
	return false;
}

/* Defined by the build from the data/ TSV files (cmake/embed.cmake). */
extern const unsigned char rh_data_os_compat[];
extern const size_t rh_data_os_compat_len;
extern const unsigned char rh_data_block_os[];
extern const size_t rh_data_block_os_len;
extern const unsigned char rh_data_block_kernels[];
extern const size_t rh_data_block_kernels_len;

static const char *const os_compat_header[] = {
	"family", "version", "variant", "uefi", "note", "name",
};
static const char *const block_os_header[] = { "family", "version", "note" };
static const char *const block_kernels_header[] = { "kernel", "os" };

static struct rh_tsv *builtin[3];
static pthread_once_t builtin_once = PTHREAD_ONCE_INIT;

static void builtin_free(void)
{
	for (size_t i = 0; i < 3; i++) {
		rh_tsv_free(builtin[i]);
		builtin[i] = NULL;
	}
}

static void builtin_load(void)
{
	rh_tsv_parse((const char *)rh_data_os_compat, rh_data_os_compat_len, "data/os-compat.tsv",
		  os_compat_header, 6, &builtin[0]);
	rh_tsv_parse((const char *)rh_data_block_os, rh_data_block_os_len, "data/block-os.tsv",
		  block_os_header, 3, &builtin[1]);
	rh_tsv_parse((const char *)rh_data_block_kernels, rh_data_block_kernels_len,
		  "data/block-kernels.tsv", block_kernels_header, 2, &builtin[2]);
	atexit(builtin_free);
}

const struct rh_tsv *datalist_os_compat(void)
{
	pthread_once(&builtin_once, builtin_load);
	return builtin[0];
}

const struct rh_tsv *datalist_block_os(void)
{
	pthread_once(&builtin_once, builtin_load);
	return builtin[1];
}

const struct rh_tsv *datalist_block_kernels(void)
{
	pthread_once(&builtin_once, builtin_load);
	return builtin[2];
}
