/* Unit tests for extent lists (rehost/extent.h): merging, bounds,
 * granularity, coarsening under a limit, windows, complement and chunk
 * bitmaps - checked against a byte-per-byte model with random input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "rehost/err.h"
#include "rehost/extent.h"

static struct rh_extents *new_list(uint64_t size, uint64_t gran)
{
	struct rh_extents *x = NULL;

	assert_int_equal(rh_extents_new(size, gran, &x), 0);
	assert_non_null(x);
	return x;
}

/* Every invariant of extent.h holds. */
static void check_invariants(const struct rh_extents *x)
{
	uint64_t sum = 0, g = rh_extents_granularity(x);

	for (size_t i = 0; i < rh_extents_count(x); i++) {
		const struct rh_extent *e = rh_extents_get(x, i);

		assert_true(e->len > 0);
		assert_true(e->off + e->len <= rh_extents_size(x));
		if (i > 0) {
			const struct rh_extent *p = rh_extents_get(x, i - 1);

			assert_true(p->off + p->len < e->off); /* sorted, not touching */
		}
		if (g > 1) {
			assert_int_equal(e->off % g, 0);
			assert_true((e->off + e->len) % g == 0 || e->off + e->len == rh_extents_size(x));
		}
		sum += e->len;
	}
	assert_null(rh_extents_get(x, rh_extents_count(x)));
	assert_true(sum == rh_extents_used(x));
}

static void test_basic(void **state)
{
	struct rh_extents *x = new_list(1000, 0);

	assert_int_equal(rh_extents_add(x, 100, 50), 0);
	assert_int_equal(rh_extents_add(x, 150, 10), 0); /* touching: merged */
	assert_int_equal(rh_extents_add(x, 10, 5), 0);   /* before: inserted */
	assert_int_equal(rh_extents_add(x, 500, 0), 0);  /* empty: no-op */
	assert_int_equal(rh_extents_count(x), 2);
	assert_true(rh_extents_get(x, 0)->off == 10 && rh_extents_get(x, 0)->len == 5);
	assert_true(rh_extents_get(x, 1)->off == 100 && rh_extents_get(x, 1)->len == 60);
	assert_true(rh_extents_used(x) == 65);
	/* Bridging two extents. */
	assert_int_equal(rh_extents_add(x, 12, 100), 0);
	assert_int_equal(rh_extents_count(x), 1);
	assert_true(rh_extents_get(x, 0)->off == 10 && rh_extents_get(x, 0)->len == 150);
	/* Out of range: refused, list unchanged. */
	assert_int_equal(rh_extents_add(x, 990, 11), RH_ERR_RANGE);
	assert_int_equal(rh_extents_add(x, UINT64_MAX, 2), RH_ERR_RANGE);
	assert_int_equal(rh_extents_count(x), 1);
	assert_int_equal(rh_extents_add(x, 990, 10), 0);
	check_invariants(x);
	assert_true(rh_extents_test(x, 159, 1));
	assert_false(rh_extents_test(x, 160, 830));
	assert_true(rh_extents_test(x, 160, 831));
	assert_false(rh_extents_test(x, 0, 10));
	assert_false(rh_extents_test(x, 10, 0));
	assert_true(rh_extents_used_in(x, 0, UINT64_MAX) == 160);
	assert_true(rh_extents_used_in(x, 150, 845) == 15);
	assert_int_equal(rh_extents_find(x, 0), 0);
	assert_int_equal(rh_extents_find(x, 159), 0);
	assert_int_equal(rh_extents_find(x, 160), 1);
	assert_int_equal(rh_extents_find(x, 1000), 2);
	rh_extents_clear(x);
	assert_int_equal(rh_extents_count(x), 0);
	assert_true(rh_extents_used(x) == 0);
	assert_int_equal(rh_extents_add_all(x), 0);
	assert_true(rh_extents_used(x) == 1000);
	rh_extents_free(x);
	rh_extents_free(NULL);
}

static void test_bad_args(void **state)
{
	struct rh_extents *x = (struct rh_extents *)1;

	assert_int_equal(rh_extents_new(0, 0, &x), RH_ERR_INVAL);
	assert_null(x);
	assert_int_equal(rh_extents_new(10, 3, &x), RH_ERR_INVAL);
	assert_int_equal(rh_extents_new(10, 1, &x), 0);
	assert_int_equal(rh_extents_set_limit(x, 1), RH_ERR_INVAL);
	rh_extents_free(x);
}

static void test_granularity(void **state)
{
	struct rh_extents *x = new_list(10000, 4096);

	assert_int_equal(rh_extents_add(x, 5000, 1), 0);
	assert_true(rh_extents_get(x, 0)->off == 4096 && rh_extents_get(x, 0)->len == 4096);
	assert_int_equal(rh_extents_add(x, 9999, 1), 0); /* clipped to the size */
	assert_int_equal(rh_extents_count(x), 1);
	assert_true(rh_extents_get(x, 0)->len == 10000 - 4096);
	check_invariants(x);
	rh_extents_free(x);
}

/* Random additions against a byte model, with and without a tiny limit:
 * the list must be exact without coarsening and a superset with it. */
static void random_run(unsigned seed, uint64_t gran, size_t limit)
{
	enum { SIZE = 5000 };
	static uint8_t model[SIZE];
	struct rh_extents *x = new_list(SIZE, gran);
	bool exact = gran <= 1 && limit == 0;

	srand(seed);
	memset(model, 0, sizeof model);
	if (limit)
		assert_int_equal(rh_extents_set_limit(x, limit), 0);
	for (int i = 0; i < 400; i++) {
		uint64_t off = (uint64_t)rand() % SIZE;
		uint64_t len = (uint64_t)rand() % 40;

		if (off + len > SIZE)
			len = SIZE - off;
		assert_int_equal(rh_extents_add(x, off, len), 0);
		memset(model + off, 1, len);
		check_invariants(x);
		if (limit)
			assert_true(rh_extents_count(x) <= limit);
	}
	for (uint64_t b = 0; b < SIZE; b++) {
		bool used = rh_extents_test(x, b, 1);

		if (exact)
			assert_int_equal(used, model[b]);
		else if (model[b])
			assert_true(used);
	}
	if (exact) {
		/* Windows, complement, bitmap. */
		struct rh_extents *w = NULL, *c = NULL;
		uint8_t *bits = NULL;
		uint64_t n = 0, expect = 0;

		for (uint64_t b = 1234; b < 3456; b++)
			expect += model[b];
		assert_true(rh_extents_used_in(x, 1234, 3456 - 1234) == expect);
		assert_int_equal(rh_extents_intersect(x, 1234, 3456 - 1234, &w), 0);
		assert_true(rh_extents_used(w) == expect);
		check_invariants(w);
		assert_int_equal(rh_extents_complement(x, &c), 0);
		check_invariants(c);
		for (uint64_t b = 0; b < SIZE; b++)
			assert_int_equal(rh_extents_test(c, b, 1), !model[b]);
		assert_int_equal(rh_extents_to_bitmap(x, 64, &bits, &n), 0);
		assert_true(n == (SIZE + 63) / 64);
		for (uint64_t ch = 0; ch < n; ch++) {
			bool any = false;

			for (uint64_t b = ch * 64; b < (ch + 1) * 64 && b < SIZE; b++)
				any = any || model[b];
			assert_int_equal(rh_bitmap_test(bits, ch), any);
		}
		free(bits);
		rh_extents_free(w);
		rh_extents_free(c);
	}
	rh_extents_free(x);
}

static void test_random_exact(void **state)
{
	for (unsigned s = 1; s <= 20; s++)
		random_run(s, 0, 0);
}

static void test_random_coarse(void **state)
{
	for (unsigned s = 1; s <= 10; s++) {
		random_run(s, 64, 0);
		random_run(s, 0, 8);
		random_run(s, 0, 2);
	}
}

static int count_cb(void *ctx, uint64_t off, uint64_t len)
{
	uint64_t *v = ctx;

	v[0]++;
	v[1] += len;
	return v[0] == 2 ? 7 : 0; /* stop at the second range */
}

static void test_foreach(void **state)
{
	struct rh_extents *x = new_list(100, 0);
	uint64_t v[2] = { 0, 0 };

	assert_int_equal(rh_extents_add(x, 10, 10), 0);
	assert_int_equal(rh_extents_add(x, 30, 10), 0);
	assert_int_equal(rh_extents_add(x, 50, 10), 0);
	assert_int_equal(rh_extents_foreach(x, 15, 100, count_cb, v), 7);
	assert_true(v[0] == 2 && v[1] == 15);
	rh_extents_free(x);
}

static void test_bitmap_edges(void **state)
{
	struct rh_extents *x = new_list(1000, 0);
	uint8_t *bits = NULL;
	uint64_t n = 0;

	assert_int_equal(rh_extents_to_bitmap(x, 0, &bits, &n), RH_ERR_INVAL);
	assert_int_equal(rh_extents_add(x, 999, 1), 0);
	assert_int_equal(rh_extents_add(x, 0, 1), 0);
	assert_int_equal(rh_extents_to_bitmap(x, 300, &bits, &n), 0);
	assert_true(n == 4);
	assert_true(rh_bitmap_test(bits, 0) && !rh_bitmap_test(bits, 1) &&
		    !rh_bitmap_test(bits, 2) && rh_bitmap_test(bits, 3));
	free(bits);
	/* A long run sets whole bytes. */
	assert_int_equal(rh_extents_add(x, 5, 990), 0);
	assert_int_equal(rh_extents_to_bitmap(x, 1, &bits, &n), 0);
	for (uint64_t i = 0; i < n; i++)
		assert_int_equal(rh_bitmap_test(bits, i), i < 1 || (i >= 5 && i < 995) || i == 999);
	free(bits);
	rh_extents_free(x);
}

static void test_add_list(void **state)
{
	struct rh_extents *a = new_list(100, 0), *b = new_list(1000, 0);

	assert_int_equal(rh_extents_add(a, 0, 10), 0);
	assert_int_equal(rh_extents_add(a, 90, 10), 0);
	assert_int_equal(rh_extents_add_list(b, a, 500), 0);
	assert_true(rh_extents_used(b) == 20);
	assert_true(rh_extents_test(b, 595, 1) && !rh_extents_test(b, 520, 60));
	assert_int_equal(rh_extents_add_list(b, a, 950), RH_ERR_RANGE);
	assert_int_equal(rh_extents_add_list(b, a, UINT64_MAX), RH_ERR_RANGE);
	rh_extents_free(a);
	rh_extents_free(b);
}

/* Huge volumes: offsets near 2^64 must not overflow. */
static void test_huge(void **state)
{
	uint64_t size = UINT64_MAX - 10;
	struct rh_extents *x = new_list(size, 1ull << 62);
	struct rh_extents *c = NULL;

	assert_int_equal(rh_extents_add(x, size - 5, 5), 0);
	check_invariants(x);
	assert_true(rh_extents_get(x, 0)->off == 3ull << 62);
	assert_true(rh_extents_test(x, size - 1, 1));
	assert_int_equal(rh_extents_complement(x, &c), 0);
	assert_true(rh_extents_used(c) == 3ull << 62);
	rh_extents_free(c);
	rh_extents_free(x);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_basic),
		cmocka_unit_test(test_bad_args),
		cmocka_unit_test(test_granularity),
		cmocka_unit_test(test_random_exact),
		cmocka_unit_test(test_random_coarse),
		cmocka_unit_test(test_foreach),
		cmocka_unit_test(test_bitmap_edges),
		cmocka_unit_test(test_add_list),
		cmocka_unit_test(test_huge),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
