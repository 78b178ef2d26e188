/* Progress figures of a copy (src/lib/repl/progress.c): one sample a
 * second, rates over the last 5 s with the average since the start for a
 * shorter copy, remaining time and percent from the resumed total. Time is
 * simulated: elapsed_s is whatever the test says. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "repl/repl-internal.h"
#include "rehost/repl.h"

#define MB 1000000ULL

/* Sample at t with `sent` data bytes (half that on the wire) of a copy of
 * total bytes of which skipped were on the target at the start. */
static bool sample(struct repl_progress *p, double t, uint64_t sent, uint64_t total,
		   uint64_t skipped, bool force, struct rh_repl_progress *out)
{
	*out = (struct rh_repl_progress){ .elapsed_s = t, .total_bytes = total,
					  .replicated_bytes = sent + skipped, .wire_bytes = sent / 2 };
	return repl_progress_sample(p, sent, force, out);
}

static void test_once_a_second(void **state)
{
	struct repl_progress p = { 0 };
	struct rh_repl_progress r;

	(void)state;
	assert_true(sample(&p, 0.1, 1 * MB, 100 * MB, 0, false, &r));
	assert_false(sample(&p, 0.5, 2 * MB, 100 * MB, 0, false, &r));
	assert_false(sample(&p, 1.05, 3 * MB, 100 * MB, 0, false, &r));
	assert_true(sample(&p, 1.1, 4 * MB, 100 * MB, 0, false, &r));
	/* The final call is never skipped. */
	assert_true(sample(&p, 1.2, 5 * MB, 100 * MB, 0, true, &r));
	assert_int_equal(p.nhist, 3);
}

static void test_short_copy_average(void **state)
{
	struct repl_progress p = { 0 };
	struct rh_repl_progress r;

	(void)state;
	/* One sample only: no window, so the average since the start. */
	assert_true(sample(&p, 0.5, 50 * MB, 50 * MB, 0, true, &r));
	assert_float_equal(r.rate, 100.0 * MB, 1);
	assert_float_equal(r.wire_rate, 50.0 * MB, 1);
	assert_float_equal(r.percent, 100.0, 1e-9);
	assert_float_equal(r.remaining_s, 0, 1e-9);
}

static void test_five_second_window(void **state)
{
	struct repl_progress p = { 0 };
	struct rh_repl_progress r;
	uint64_t sent = 0;

	(void)state;
	/* 10 MB/s for 10 s, then 40 MB/s: after 5 more samples the rate is
	 * that of the last 5 s only. */
	for (int t = 0; t <= 10; t++, sent += 10 * MB)
		assert_true(sample(&p, t, sent, 1000 * MB, 0, false, &r));
	assert_float_equal(r.rate, 10.0 * MB, 1);
	sent -= 10 * MB;
	for (int t = 11; t <= 15; t++) {
		sent += 40 * MB;
		assert_true(sample(&p, t, sent, 1000 * MB, 0, false, &r));
	}
	assert_float_equal(r.rate, 40.0 * MB, 1);
	assert_float_equal(r.wire_rate, 20.0 * MB, 1);
	assert_float_equal(r.remaining_s, (double)(1000 * MB - sent) / (40.0 * MB), 1e-6);
}

static void test_resumed(void **state)
{
	struct repl_progress p = { 0 };
	struct rh_repl_progress r;

	(void)state;
	/* 60 MB already on the target: progress counts them, the rate does
	 * not (it is what this run sends). */
	assert_true(sample(&p, 2, 20 * MB, 100 * MB, 60 * MB, false, &r));
	assert_float_equal(r.percent, 80.0, 1e-9);
	assert_float_equal(r.rate, 10.0 * MB, 1);
	assert_float_equal(r.remaining_s, 2.0, 1e-9);
}

static void test_unknowns(void **state)
{
	struct repl_progress p = { 0 };
	struct rh_repl_progress r;

	(void)state;
	/* Nothing sent yet: remaining unknown. Nothing planned: done. */
	assert_true(sample(&p, 0, 0, 100 * MB, 0, false, &r));
	assert_float_equal(r.rate, 0, 0);
	assert_float_equal(r.remaining_s, -1, 0);
	assert_float_equal(r.percent, 0, 0);
	memset(&p, 0, sizeof p);
	assert_true(sample(&p, 3, 0, 0, 0, true, &r));
	assert_float_equal(r.percent, 100.0, 0);
	assert_float_equal(r.remaining_s, -1, 0);
}

/* The hashing phase (sender_report_hash) samples the same way with no wire
 * bytes: hashed bytes/s over the window, remaining from the bytes to hash,
 * wire rate 0, and 100 % at the final call. */
static void test_hash_phase(void **state)
{
	struct repl_progress p = { 0 };
	struct rh_repl_progress r;

	(void)state;
	for (unsigned i = 1; i <= 7; i++) {
		r = (struct rh_repl_progress){ .phase = RH_PHASE_HASH, .elapsed_s = i,
					       .total_bytes = 1000 * MB,
					       .replicated_bytes = 100 * MB * i };
		assert_true(repl_progress_sample(&p, r.replicated_bytes, false, &r));
	}
	assert_int_equal(r.phase, RH_PHASE_HASH);
	assert_float_equal(r.rate, 100.0 * MB, 1);
	assert_float_equal(r.wire_rate, 0, 0.001);
	assert_float_equal(r.percent, 70.0, 0.001);
	assert_float_equal(r.remaining_s, 3.0, 0.001);
	r = (struct rh_repl_progress){ .phase = RH_PHASE_HASH, .elapsed_s = 7.2,
				       .total_bytes = 1000 * MB, .replicated_bytes = 1000 * MB,
				       .final = true };
	assert_true(repl_progress_sample(&p, r.replicated_bytes, true, &r));
	assert_float_equal(r.percent, 100.0, 0.001);
	assert_float_equal(r.remaining_s, 0, 0.001);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_once_a_second),
		cmocka_unit_test(test_short_copy_average),
		cmocka_unit_test(test_five_second_window),
		cmocka_unit_test(test_resumed),
		cmocka_unit_test(test_unknowns),
		cmocka_unit_test(test_hash_phase),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
