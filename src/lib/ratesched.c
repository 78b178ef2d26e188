/* Time-of-day bandwidth windows for the replication rate limiter. */
#include <stdio.h>
#include <string.h>

#include "rehost/err.h"
#include "rehost/num.h"
#include "rehost/ratesched.h"

static int parse_hhmm(const char *s, size_t len, unsigned *min)
{
	char hh[3], mm[3];
	int64_t h, m;

	if (len != 5 || s[2] != ':')
		return RH_ERR_PARSE;
	memcpy(hh, s, 2);
	hh[2] = '\0';
	memcpy(mm, s + 3, 2);
	mm[2] = '\0';
	if (rh_parse_i64(hh, 0, 24, &h) < 0 || rh_parse_i64(mm, 0, 59, &m) < 0 ||
	    (h == 24 && m != 0))
		return RH_ERR_RANGE;
	*min = (unsigned)(h * 60 + m);
	return 0;
}

int rh_ratesched_add(struct rh_ratesched *s, const char *text)
{
	const char *dash = strchr(text, '-'), *eq = strchr(text, '=');
	struct rh_rate_window w;
	int64_t mbit;

	if (s->n >= RH_RATESCHED_MAX)
		return rh_seterr(RH_ERR_TOOBIG, "at most %u rate windows", RH_RATESCHED_MAX);
	if (dash == NULL || eq == NULL || eq < dash ||
	    parse_hhmm(text, (size_t)(dash - text), &w.start_min) < 0 ||
	    parse_hhmm(dash + 1, (size_t)(eq - dash - 1), &w.end_min) < 0)
		return rh_seterr(RH_ERR_PARSE,
				 "rate window '%s': expected HH:MM-HH:MM=MBIT, e.g. 08:00-18:00=100", text);
	if (rh_parse_i64(eq + 1, 0, 100000, &mbit) < 0)
		return rh_seterr(RH_ERR_RANGE,
				 "rate window '%s': rate must be 0 (unlimited) to 100000 Mbit/s", text);
	if (w.start_min == w.end_min)
		return rh_seterr(RH_ERR_RANGE, "rate window '%s' is empty", text);
	w.mbit = (uint64_t)mbit;
	s->w[s->n++] = w;
	return 0;
}

uint64_t rh_ratesched_mbit_at(const struct rh_ratesched *s, time_t t)
{
	struct tm tm;
	unsigned now;

	localtime_r(&t, &tm);
	now = (unsigned)(tm.tm_hour * 60 + tm.tm_min);
	for (size_t i = 0; i < s->n; i++) {
		const struct rh_rate_window *w = &s->w[i];
		int in = w->start_min < w->end_min ? (now >= w->start_min && now < w->end_min)
						   : (now >= w->start_min || now < w->end_min);

		if (in)
			return w->mbit;
	}
	return s->default_mbit;
}
