/* ctest: timing (measures rates: never beside a QEMU guest) */
/* Token bucket: reservation arithmetic through rh_ratelimit_delay_ns, and
 * real sleeping accuracy for one and two threads. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>
#include <cmocka.h>

#include "rehost/ratelimit.h"

#define MS 1000000ULL
#define KIB 1024ULL
#define MIB (1024ULL * 1024)

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void test_unlimited(void **state)
{
	struct rh_ratelimit *rl = NULL;
	uint64_t t0;

	(void)state;
	assert_int_equal(rh_ratelimit_new(0, 0, &rl), 0);
	assert_int_equal(rh_ratelimit_get_rate(rl), 0);
	t0 = now_ns();
	for (int i = 0; i < 10000; i++) {
		assert_int_equal(rh_ratelimit_delay_ns(rl, 1 << 30), 0);
		assert_int_equal(rh_ratelimit_take(rl, SIZE_MAX), 0);
	}
	assert_true(now_ns() - t0 < 500 * MS);
	rh_ratelimit_free(rl);
	rh_ratelimit_free(NULL);
}

static void test_default_burst(void **state)
{
	struct rh_ratelimit *rl = NULL;

	(void)state;
	assert_int_equal(rh_ratelimit_new(4 * MIB, 0, &rl), 0);
	assert_int_equal(rh_ratelimit_get_burst(rl), 4 * MIB / 10);
	rh_ratelimit_set_rate(rl, 100000);
	assert_int_equal(rh_ratelimit_get_burst(rl), RH_RATELIMIT_MIN_BURST);
	rh_ratelimit_free(rl);

	/* An explicit burst survives rate changes. */
	assert_int_equal(rh_ratelimit_new(4 * MIB, 12345, &rl), 0);
	assert_int_equal(rh_ratelimit_get_burst(rl), 12345);
	rh_ratelimit_set_rate(rl, 100 * MIB);
	assert_int_equal(rh_ratelimit_get_burst(rl), 12345);
	assert_int_equal(rh_ratelimit_get_rate(rl), 100 * MIB);
	rh_ratelimit_free(rl);
}

/* A new bucket is empty: the first bytes wait their full cost. Bounds allow
 * for the time that passes between calls on a loaded machine. */
static void test_delay_math(void **state)
{
	struct rh_ratelimit *rl = NULL;
	uint64_t d;

	(void)state;
	assert_int_equal(rh_ratelimit_new(1000, 0, &rl), 0);
	d = rh_ratelimit_delay_ns(rl, 1000);
	assert_true(d <= 1000 * MS && d > 900 * MS);
	/* Reservations queue: the next caller waits behind the first. */
	d = rh_ratelimit_delay_ns(rl, 500);
	assert_true(d <= 1500 * MS && d > 1400 * MS);
	assert_true(rh_ratelimit_delay_ns(rl, 0) > 1300 * MS);
	rh_ratelimit_free(rl);
}

/* Requests far above the burst go into debt instead of blocking forever. */
static void test_oversize(void **state)
{
	struct rh_ratelimit *rl = NULL;
	uint64_t d, t0, el;

	(void)state;
	assert_int_equal(rh_ratelimit_new(1 * MIB, 64 * KIB, &rl), 0);
	d = rh_ratelimit_delay_ns(rl, 10 * MIB);
	assert_true(d <= 10000 * MS && d > 9900 * MS);
	rh_ratelimit_free(rl);

	/* Saturates instead of overflowing. */
	assert_int_equal(rh_ratelimit_new(1, 1, &rl), 0);
	assert_true(rh_ratelimit_delay_ns(rl, SIZE_MAX) == UINT64_MAX);
	rh_ratelimit_free(rl);

	/* t0 before creation: the wait counts from then, so el >= 100 ms
	 * however long this thread is preempted in between. */
	t0 = now_ns();
	assert_int_equal(rh_ratelimit_new(10 * MIB, 64 * KIB, &rl), 0);
	assert_int_equal(rh_ratelimit_take(rl, 1 * MIB), 0);
	el = now_ns() - t0;
	assert_true(el >= 100 * MS && el < 1000 * MS);
	rh_ratelimit_free(rl);
}

static void test_rate_change(void **state)
{
	struct rh_ratelimit *rl = NULL;
	uint64_t d, t0;

	(void)state;
	assert_int_equal(rh_ratelimit_new(1000000, 0, &rl), 0);
	d = rh_ratelimit_delay_ns(rl, 100000);
	assert_true(d <= 100 * MS && d > 90 * MS);
	/* The 100 kB debt is repaid ten times faster at the new rate (at most
	 * 10 ms instead of 100; less if time passed in between). */
	rh_ratelimit_set_rate(rl, 10000000);
	d = rh_ratelimit_delay_ns(rl, 0);
	assert_true(d <= 10 * MS && d > 0);
	/* Unlimited: nothing waits. */
	rh_ratelimit_set_rate(rl, 0);
	assert_int_equal(rh_ratelimit_delay_ns(rl, 1 << 30), 0);
	t0 = now_ns();
	assert_int_equal(rh_ratelimit_take(rl, 100 * MIB), 0);
	assert_true(now_ns() - t0 < 100 * MS);
	/* Lowering the rate applies to the very next request. */
	rh_ratelimit_set_rate(rl, 1000);
	d = rh_ratelimit_delay_ns(rl, 100 * KIB);
	assert_true(d > 90 * 1000 * MS);
	rh_ratelimit_free(rl);
}

/* Take chunk-sized pieces until `seconds` have passed since *start. */
struct runner {
	struct rh_ratelimit *rl;
	size_t chunk;
	uint64_t start, ms;
	uint64_t bytes, end; /* results */
};

static void *run(void *arg)
{
	struct runner *r = arg;

	while (now_ns() - r->start < r->ms * MS) {
		if (rh_ratelimit_take(r->rl, r->chunk) != 0)
			break;
		r->bytes += r->chunk;
	}
	r->end = now_ns();
	return NULL;
}

static void test_accuracy(void **state)
{
	struct rh_ratelimit *rl = NULL;
	struct runner r = { 0 };
	double achieved;

	(void)state;
	assert_int_equal(rh_ratelimit_new(4 * MIB, 0, &rl), 0);
	r.rl = rl;
	r.chunk = 64 * KIB;
	r.ms = 2500; /* plus the last chunk's wait */
	r.start = now_ns();
	run(&r);
	achieved = (double)r.bytes / ((double)(r.end - r.start) / 1e9);
	print_message("one thread: %.0f B/s for rate %llu (%.2f%%)\n", achieved,
		      4 * MIB, (achieved / (4 * MIB) - 1) * 100);
	assert_true(achieved / (4 * MIB) - 1 < 0.05 && achieved / (4 * MIB) - 1 > -0.05);
	rh_ratelimit_free(rl);
}

static void test_two_threads(void **state)
{
	struct rh_ratelimit *rl = NULL;
	struct runner r[2] = { { 0 } };
	pthread_t th[2];
	uint64_t start, end;
	double achieved;

	(void)state;
	assert_int_equal(rh_ratelimit_new(4 * MIB, 0, &rl), 0);
	start = now_ns();
	for (int i = 0; i < 2; i++) {
		r[i].rl = rl;
		r[i].chunk = i == 0 ? 64 * KIB : 48 * KIB;
		r[i].start = start;
		r[i].ms = 2000;
		assert_int_equal(pthread_create(&th[i], NULL, run, &r[i]), 0);
	}
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_join(th[i], NULL), 0);
	end = r[0].end > r[1].end ? r[0].end : r[1].end;
	achieved = (double)(r[0].bytes + r[1].bytes) / ((double)(end - start) / 1e9);
	print_message("two threads: %.0f B/s for rate %llu (%.2f%%), split %llu/%llu\n",
		      achieved, 4 * MIB, (achieved / (4 * MIB) - 1) * 100,
		      (unsigned long long)r[0].bytes, (unsigned long long)r[1].bytes);
	assert_true(achieved / (4 * MIB) - 1 < 0.05 && achieved / (4 * MIB) - 1 > -0.05);
	/* Reservations queue in arrival order, so neither thread starves. */
	for (int i = 0; i < 2; i++)
		assert_true(r[i].bytes > (r[0].bytes + r[1].bytes) / 4);
	rh_ratelimit_free(rl);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_unlimited),
		cmocka_unit_test(test_default_burst),
		cmocka_unit_test(test_delay_math),
		cmocka_unit_test(test_oversize),
		cmocka_unit_test(test_rate_change),
		cmocka_unit_test(test_accuracy),
		cmocka_unit_test(test_two_threads),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
