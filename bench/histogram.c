// SPDX-License-Identifier: GPL-2.0
#include <string.h>

#include "histogram.h"

void fl_hist_init(struct fl_hist *h)
{
	memset(h, 0, sizeof(*h));
	h->min = UINT64_MAX;
}

void fl_hist_bucket_range(unsigned idx, uint64_t *lo, uint64_t *hi)
{
	unsigned block = idx / FL_HIST_SUB, sub = idx % FL_HIST_SUB;
	unsigned shift;

	if (block == 0) {
		*lo = *hi = idx;
		return;
	}
	shift = block - 1;
	*lo = ((uint64_t)(FL_HIST_SUB + sub)) << shift;
	*hi = *lo + (1ull << shift) - 1;
}

void fl_hist_merge(struct fl_hist *dst, const struct fl_hist *src)
{
	if (!src->count && !src->overflow)
		return;
	dst->count += src->count;
	dst->overflow += src->overflow;
	dst->sum += src->sum;
	if (src->min < dst->min)
		dst->min = src->min;
	if (src->max > dst->max)
		dst->max = src->max;
	for (unsigned i = 0; i < FL_HIST_BUCKETS; i++)
		dst->bucket[i] += src->bucket[i];
}

uint64_t fl_hist_percentile(const struct fl_hist *h, double p)
{
	uint64_t total = h->count + h->overflow, rank, seen = 0;
	uint64_t lo, hi, v;

	if (!total)
		return 0;
	rank = (uint64_t)((p / 100.0) * (double)total + 0.999999999);
	if (rank < 1)
		rank = 1;
	if (rank > total)
		rank = total;
	if (rank > h->count)
		return FL_HIST_LIMIT;
	for (unsigned i = 0; i < FL_HIST_BUCKETS; i++) {
		seen += h->bucket[i];
		if (seen < rank)
			continue;
		fl_hist_bucket_range(i, &lo, &hi);
		v = lo + (hi - lo) / 2;
		if (v < h->min)
			v = h->min;
		if (v > h->max)
			v = h->max;
		return v;
	}
	return h->max;
}

double fl_hist_mean(const struct fl_hist *h)
{
	return h->count ? h->sum / (double)h->count : 0.0;
}
