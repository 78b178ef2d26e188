/*
 * Token-bucket bandwidth limiter shared by all sender threads of a
 * migration (rate limiting is a stackable filter in the copy pipeline).
 *
 * The bucket holds at most `burst` bytes of credit and refills at `rate`
 * bytes per second. A request takes its bytes at once; when that drives the
 * balance negative (debt) the caller waits until the debt is repaid. Debt is
 * what lets a request larger than the burst pass instead of deadlocking, and
 * what makes concurrent callers queue behind each other fairly: each one
 * reserves before sleeping, so the next sees the deeper debt.
 *
 * Guarantee: bytes passed in any window of t seconds <= rate * t + burst,
 * plus one request's size for the debt. A new bucket starts EMPTY, so over
 * the window starting at creation the bound is rate * t (plus one request):
 * a fresh connection does not open with a burst, and the measured long-run
 * rate equals the configured one.
 *
 * Default burst: rate / 10 (0.1 s of traffic), but at least 64 KiB so that
 * slow links still move whole I/O chunks without waiting per chunk.
 */
#ifndef REHOST_RATELIMIT_H
#define REHOST_RATELIMIT_H

#include <stddef.h>
#include <stdint.h>

/* Smallest default burst, bytes. */
#define RH_RATELIMIT_MIN_BURST (64u * 1024)

struct rh_ratelimit;

/* Create a limiter. bytes_per_s: 0 = unlimited. burst: bucket size in bytes,
 * 0 = the default above (recomputed whenever the rate changes). On success
 * *out is a new limiter the caller frees with rh_ratelimit_free. Returns 0,
 * RH_ERR_NOMEM, or RH_ERR_INTERNAL (mutex init failed). */
int rh_ratelimit_new(uint64_t bytes_per_s, uint64_t burst,
		     struct rh_ratelimit **out);

/* Free a limiter; NULL is accepted. No thread may still be using it. */
void rh_ratelimit_free(struct rh_ratelimit *rl);

/* Change the rate at runtime (time-of-day windows); 0 = unlimited. The
 * current balance, credit or debt, is kept in bytes and clamped to the new
 * burst, so a lowered rate applies to the next request at once. Callers
 * already sleeping keep the deadline computed under the old rate. */
void rh_ratelimit_set_rate(struct rh_ratelimit *rl, uint64_t bytes_per_s);

/* Current rate in bytes/s (0 = unlimited) and burst in bytes. */
uint64_t rh_ratelimit_get_rate(struct rh_ratelimit *rl);
uint64_t rh_ratelimit_get_burst(struct rh_ratelimit *rl);

/* Reserve n bytes without sleeping. Returns how many nanoseconds the caller
 * must wait before sending them (0 = now; UINT64_MAX when it saturates).
 * The bytes are taken either way: do not call again for the same bytes. */
uint64_t rh_ratelimit_delay_ns(struct rh_ratelimit *rl, size_t n);

/* Reserve n bytes and sleep (CLOCK_MONOTONIC) until they may pass. Any n
 * is accepted; requests above the burst go into debt. Thread-safe; the
 * lock is not held while sleeping. Returns 0, or RH_ERR_INTERNAL if the
 * clock fails. */
int rh_ratelimit_take(struct rh_ratelimit *rl, size_t n);

#endif
