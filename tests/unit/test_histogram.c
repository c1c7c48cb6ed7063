// SPDX-License-Identifier: GPL-2.0
/*
 * Histogram: relative bucket error <= 1% from 10 ns to 2^40 ns, merge, and
 * percentiles against a sorted reference of the same samples.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "histogram.h"

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

static void bucket_error_bound(void **state)
{
	/* Every value maps to a bucket whose bounds hold it and span <= 1/128 of it. */
	for (uint64_t v = 10; v < FL_HIST_LIMIT; v = v + v / 97 + 1) {
		uint64_t lo, hi;
		unsigned idx = fl_hist_index(v);

		assert_true(idx < FL_HIST_BUCKETS);
		fl_hist_bucket_range(idx, &lo, &hi);
		assert_true(lo <= v && v <= hi);
		assert_true((double)(hi - lo) <= (double)v / 100.0);
	}
}

static void overflow_counted_not_clamped(void **state)
{
	struct fl_hist *h = malloc(sizeof(*h));

	fl_hist_init(h);
	fl_hist_add(h, 100);
	fl_hist_add(h, FL_HIST_LIMIT);
	fl_hist_add(h, FL_HIST_LIMIT * 4);
	assert_int_equal(h->count, 1);
	assert_int_equal(h->overflow, 2);
	assert_int_equal(h->max, FL_HIST_LIMIT * 4);
	assert_int_equal(fl_hist_percentile(h, 50), FL_HIST_LIMIT);
	assert_int_equal(fl_hist_percentile(h, 10), 100);
	free(h);
}

/* Percentiles of a log-normal-ish sample set against the exact sorted values. */
static void percentiles_match_sorted_reference(void **state)
{
	const size_t n = 200000;
	static const double ps[] = { 1, 50, 90, 99, 99.9, 100 };
	uint64_t *v = malloc(n * sizeof(*v));
	struct fl_hist *a = malloc(sizeof(*a)), *b = malloc(sizeof(*b));

	srand48(42);
	fl_hist_init(a);
	fl_hist_init(b);
	for (size_t i = 0; i < n; i++) {
		v[i] = (uint64_t)(20.0 * exp(drand48() * 16.0));	/* 20 ns .. ~180 ms */
		/* Two workers' histograms, merged afterwards. */
		fl_hist_add(i % 2 ? a : b, v[i]);
	}
	fl_hist_merge(a, b);
	qsort(v, n, sizeof(*v), cmp_u64);
	assert_int_equal(a->count, n);
	assert_int_equal(a->min, v[0]);
	assert_int_equal(a->max, v[n - 1]);
	for (size_t i = 0; i < sizeof(ps) / sizeof(ps[0]); i++) {
		size_t rank = (size_t)ceil(ps[i] / 100.0 * (double)n);
		uint64_t ref = v[rank - 1], got = fl_hist_percentile(a, ps[i]);

		assert_true(fabs((double)got - (double)ref) <= 0.01 * (double)ref);
	}
	free(v);
	free(a);
	free(b);
}

static void exact_small_values(void **state)
{
	struct fl_hist *h = malloc(sizeof(*h));

	fl_hist_init(h);
	for (uint64_t i = 1; i <= 100; i++)
		fl_hist_add(h, i);
	assert_int_equal(fl_hist_percentile(h, 50), 50);
	assert_int_equal(fl_hist_percentile(h, 99), 99);
	assert_int_equal(fl_hist_percentile(h, 100), 100);
	assert_true(fabs(fl_hist_mean(h) - 50.5) < 1e-9);
	free(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(bucket_error_bound),
		cmocka_unit_test(overflow_counted_not_clamped),
		cmocka_unit_test(percentiles_match_sorted_reference),
		cmocka_unit_test(exact_small_values),
	};

	return cmocka_run_group_tests_name("histogram", tests, NULL, NULL);
}
