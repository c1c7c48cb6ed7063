/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Log-linear latency histogram in nanoseconds (HdrHistogram layout): values
 * below 2^FL_HIST_SUB_BITS are exact; above, every power of two is split into
 * 2^FL_HIST_SUB_BITS buckets, so a bucket is at most 1/128 of its value wide
 * (<= 0.79% relative error from 1 ns up to 2^40 ns, about 18 minutes).
 * Values beyond that are counted in `overflow`, never clamped into the last
 * bucket (rt-tests histogram.c does the same).  One histogram per worker,
 * merged by the core; no locking.
 */
#ifndef FL_HISTOGRAM_H
#define FL_HISTOGRAM_H

#include <stdint.h>
#include <stddef.h>

#define FL_HIST_SUB_BITS	7
#define FL_HIST_SUB		(1u << FL_HIST_SUB_BITS)
#define FL_HIST_MAX_BITS	40
/* Exact bucket block [0, SUB) plus one SUB-wide block per extra power of two. */
#define FL_HIST_BUCKETS		((FL_HIST_MAX_BITS - FL_HIST_SUB_BITS + 1) * FL_HIST_SUB)
#define FL_HIST_LIMIT		(1ull << FL_HIST_MAX_BITS)	/* first overflow value */

struct fl_hist {
	uint64_t count;		/* in range, i.e. excluding overflow */
	uint64_t overflow;
	uint64_t min, max;	/* exact, over in-range and overflow samples */
	double sum;		/* of in-range samples, for the mean */
	uint64_t bucket[FL_HIST_BUCKETS];
};

void fl_hist_init(struct fl_hist *h);

static inline unsigned fl_hist_index(uint64_t v)
{
	unsigned msb;

	if (v < FL_HIST_SUB)
		return (unsigned)v;
	msb = 63 - (unsigned)__builtin_clzll(v);
	return (msb - FL_HIST_SUB_BITS + 1) * FL_HIST_SUB +
	       (unsigned)((v >> (msb - FL_HIST_SUB_BITS)) & (FL_HIST_SUB - 1));
}

static inline void fl_hist_add(struct fl_hist *h, uint64_t v)
{
	if (v < h->min)
		h->min = v;
	if (v > h->max)
		h->max = v;
	if (v >= FL_HIST_LIMIT) {
		h->overflow++;
		return;
	}
	h->bucket[fl_hist_index(v)]++;
	h->count++;
	h->sum += (double)v;
}

/* Bounds [lo, hi] of bucket @idx. */
void fl_hist_bucket_range(unsigned idx, uint64_t *lo, uint64_t *hi);

void fl_hist_merge(struct fl_hist *dst, const struct fl_hist *src);

/*
 * The value at percentile @p (0 < p <= 100) of the in-range samples: the
 * midpoint of the bucket holding the sample of rank ceil(p/100 * count),
 * clamped to [min, max].  Overflowed samples rank above every in-range one;
 * if the rank falls among them, returns FL_HIST_LIMIT.  0 when empty.
 */
uint64_t fl_hist_percentile(const struct fl_hist *h, double p);
double fl_hist_mean(const struct fl_hist *h);

#endif
