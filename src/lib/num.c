/* Bounded number and size parsing, and size formatting. */
#include <ctype.h>
#include <stdbool.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rehost/checked.h"
#include "rehost/err.h"
#include "rehost/num.h"

/* strtoll/strtoull accept leading spaces and signs; we want exactly
 * [-]digits, so check the shape first and let libc do the conversion. */
static int digits_only(const char *s, bool allow_minus)
{
	if (s == NULL || *s == '\0')
		return 0;
	if (*s == '-') {
		if (!allow_minus)
			return 0;
		s++;
	}
	if (*s == '\0')
		return 0;
	for (; *s; s++)
		if (!isdigit((unsigned char)*s))
			return 0;
	return 1;
}

int rh_parse_i64(const char *s, int64_t min, int64_t max, int64_t *out)
{
	long long v;

	*out = 0;
	if (!digits_only(s, true))
		return RH_ERR_PARSE;
	errno = 0;
	v = strtoll(s, NULL, 10);
	if (errno == ERANGE || v < min || v > max)
		return RH_ERR_RANGE;
	*out = v;
	return 0;
}

int rh_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	unsigned long long v;

	*out = 0;
	if (!digits_only(s, false))
		return RH_ERR_PARSE;
	errno = 0;
	v = strtoull(s, NULL, 10);
	if (errno == ERANGE || v < min || v > max)
		return RH_ERR_RANGE;
	*out = v;
	return 0;
}

int rh_parse_size(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	char digits[32];
	size_t n = 0;
	uint64_t v, mult = 1;
	const char *suffix;
	int rc;

	*out = 0;
	if (s == NULL)
		return RH_ERR_PARSE;
	while (isdigit((unsigned char)s[n]))
		n++;
	if (n == 0 || n >= sizeof digits)
		return n == 0 ? RH_ERR_PARSE : RH_ERR_RANGE;
	memcpy(digits, s, n);
	digits[n] = '\0';
	suffix = s + n;
	if (*suffix == ' ')
		suffix++;
	switch (toupper((unsigned char)*suffix)) {
	case '\0': mult = 1; break;
	case 'B': mult = 1; break;
	case 'K': mult = 1ULL << 10; break;
	case 'M': mult = 1ULL << 20; break;
	case 'G': mult = 1ULL << 30; break;
	case 'T': mult = 1ULL << 40; break;
	case 'P': mult = 1ULL << 50; break;
	default: return RH_ERR_PARSE;
	}
	if (*suffix != '\0') {
		suffix++;
		if (mult > 1 && (strcmp(suffix, "iB") == 0 || strcmp(suffix, "B") == 0 ||
				 strcmp(suffix, "ib") == 0 || strcmp(suffix, "b") == 0))
			suffix += strlen(suffix);
		if (*suffix != '\0')
			return RH_ERR_PARSE;
	}
	rc = rh_parse_u64(digits, 0, UINT64_MAX, &v);
	if (rc < 0)
		return rc;
	if (RH_MUL_OVERFLOW(v, mult, &v))
		return RH_ERR_OVERFLOW;
	if (v < min || v > max)
		return RH_ERR_RANGE;
	*out = v;
	return 0;
}

char *rh_format_size(uint64_t bytes, char *buf, unsigned long len)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB" };
	double v = (double)bytes;
	size_t u = 0;

	while (v >= 1024.0 && u + 1 < RH_ARRAY_SIZE(units)) {
		v /= 1024.0;
		u++;
	}
	if (u == 0)
		snprintf(buf, len, "%" PRIu64 " B", bytes);
	else
		snprintf(buf, len, "%.1f %s", v, units[u]);
	return buf;
}
