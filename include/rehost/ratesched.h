/*
 * Time-of-day bandwidth windows: "08:00-18:00=100" caps the data stream at
 * 100 Mbit/s from 08:00 to 18:00 local time; "22:00-06:00=0" lifts the cap
 * overnight (0 = unlimited). Windows may wrap midnight; the first window
 * that contains the time wins; outside every window the default applies.
 */
#ifndef REHOST_RATESCHED_H
#define REHOST_RATESCHED_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define RH_RATESCHED_MAX 24u

struct rh_rate_window {
	unsigned start_min, end_min; /* minutes after midnight; end exclusive */
	uint64_t mbit;               /* 0 = unlimited */
};

struct rh_ratesched {
	size_t n;
	struct rh_rate_window w[RH_RATESCHED_MAX];
	uint64_t default_mbit;       /* outside the windows; 0 = unlimited */
};

/* Parse one window "HH:MM-HH:MM=MBIT" and append it. Returns 0,
 * RH_ERR_PARSE or RH_ERR_RANGE (with a detail naming the text), or
 * RH_ERR_TOOBIG past RH_RATESCHED_MAX windows. */
int rh_ratesched_add(struct rh_ratesched *s, const char *text);

/* Cap in Mbit/s at local time t (0 = unlimited). */
uint64_t rh_ratesched_mbit_at(const struct rh_ratesched *s, time_t t);

#endif
