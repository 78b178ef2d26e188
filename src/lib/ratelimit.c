/* Token bucket, kept in exact integer arithmetic: the balance is stored in
 * nano-bytes (1e-9 byte), so refilling elapsed_ns * rate and charging
 * n * 1e9 never rounds, and a long transfer does not drift. 128-bit
 * integers hold the products: (2^64-1)^2 still fits in unsigned __int128. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rehost/err.h"
#include "rehost/ratelimit.h"

#define NS_PER_S 1000000000ULL

typedef __int128 i128;
typedef unsigned __int128 u128;

struct rh_ratelimit {
	pthread_mutex_t lock;
	uint64_t rate;        /* bytes/s; 0 = unlimited */
	uint64_t burst;       /* bytes; bucket capacity */
	uint64_t burst_set;   /* burst the caller asked for; 0 = default */
	i128 balance;         /* nano-bytes; negative = debt; <= burst * 1e9 */
	uint64_t last_ns;     /* CLOCK_MONOTONIC of the last refill */
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	/* CLOCK_MONOTONIC cannot fail with a valid pointer on Linux. */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NS_PER_S + (uint64_t)ts.tv_nsec;
}

static uint64_t burst_for(uint64_t rate, uint64_t burst_set)
{
	if (burst_set != 0)
		return burst_set;
	return rate / 10 > RH_RATELIMIT_MIN_BURST ? rate / 10 : RH_RATELIMIT_MIN_BURST;
}

static void clamp_balance(struct rh_ratelimit *rl)
{
	i128 cap = (i128)rl->burst * NS_PER_S;

	if (rl->balance > cap)
		rl->balance = cap;
}

/* Credit the time since last_ns. While unlimited the balance is frozen, so
 * leaving unlimited mode resumes where the bucket was. */
static void refill(struct rh_ratelimit *rl, uint64_t now)
{
	if (rl->rate != 0 && now > rl->last_ns) {
		u128 add = (u128)(now - rl->last_ns) * rl->rate;
		u128 room = (u128)((i128)rl->burst * NS_PER_S - rl->balance);

		if (add >= room)
			rl->balance = (i128)rl->burst * NS_PER_S;
		else
			rl->balance += (i128)add;
	}
	if (now > rl->last_ns)
		rl->last_ns = now;
}

int rh_ratelimit_new(uint64_t bytes_per_s, uint64_t burst,
		     struct rh_ratelimit **out)
{
	struct rh_ratelimit *rl;

	*out = NULL;
	rl = calloc(1, sizeof *rl);
	if (rl == NULL)
		return RH_ERR_NOMEM;
	if (pthread_mutex_init(&rl->lock, NULL) != 0) {
		free(rl);
		return rh_seterr(RH_ERR_INTERNAL, "ratelimit: cannot create mutex");
	}
	rl->rate = bytes_per_s;
	rl->burst_set = burst;
	rl->burst = burst_for(bytes_per_s, burst);
	rl->balance = 0;
	rl->last_ns = now_ns();
	*out = rl;
	return 0;
}

void rh_ratelimit_free(struct rh_ratelimit *rl)
{
	if (rl == NULL)
		return;
	pthread_mutex_destroy(&rl->lock);
	free(rl);
}

void rh_ratelimit_set_rate(struct rh_ratelimit *rl, uint64_t bytes_per_s)
{
	pthread_mutex_lock(&rl->lock);
	/* Settle the time elapsed under the old rate before switching. */
	refill(rl, now_ns());
	rl->rate = bytes_per_s;
	rl->burst = burst_for(bytes_per_s, rl->burst_set);
	clamp_balance(rl);
	pthread_mutex_unlock(&rl->lock);
}

uint64_t rh_ratelimit_get_rate(struct rh_ratelimit *rl)
{
	uint64_t r;

	pthread_mutex_lock(&rl->lock);
	r = rl->rate;
	pthread_mutex_unlock(&rl->lock);
	return r;
}

uint64_t rh_ratelimit_get_burst(struct rh_ratelimit *rl)
{
	uint64_t b;

	pthread_mutex_lock(&rl->lock);
	b = rl->burst;
	pthread_mutex_unlock(&rl->lock);
	return b;
}

/* Reserve n bytes at time now; returns the wait in ns. Lock held. */
static uint64_t reserve(struct rh_ratelimit *rl, size_t n, uint64_t now)
{
	u128 wait;

	refill(rl, now);
	if (rl->rate == 0)
		return 0;
	rl->balance -= (i128)((u128)n * NS_PER_S);
	if (rl->balance >= 0)
		return 0;
	/* Round up: waking a nanosecond early would leave a sliver of debt. */
	wait = ((u128)(-rl->balance) + rl->rate - 1) / rl->rate;
	return wait > UINT64_MAX ? UINT64_MAX : (uint64_t)wait;
}

uint64_t rh_ratelimit_delay_ns(struct rh_ratelimit *rl, size_t n)
{
	uint64_t wait;

	pthread_mutex_lock(&rl->lock);
	wait = reserve(rl, n, now_ns());
	pthread_mutex_unlock(&rl->lock);
	return wait;
}

int rh_ratelimit_take(struct rh_ratelimit *rl, size_t n)
{
	uint64_t now, wait, deadline;
	struct timespec ts;
	int rc;

	if (n == 0)
		return 0;
	pthread_mutex_lock(&rl->lock);
	now = now_ns();
	wait = reserve(rl, n, now);
	pthread_mutex_unlock(&rl->lock);
	if (wait == 0)
		return 0;
	/* An absolute deadline makes EINTR restarts exact. */
	deadline = now + wait < now ? UINT64_MAX : now + wait;
	ts.tv_sec = (time_t)(deadline / NS_PER_S);
	ts.tv_nsec = (long)(deadline % NS_PER_S);
	do
		rc = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
	while (rc == EINTR);
	if (rc != 0)
		return rh_seterr(RH_ERR_INTERNAL, "ratelimit: clock_nanosleep: %s",
				 strerror(rc));
	return 0;
}
