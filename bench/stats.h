/* SPDX-License-Identifier: GPL-2.0 */
/* Summary statistics of per-repetition samples. */
#ifndef FL_STATS_H
#define FL_STATS_H

#include <stddef.h>

struct fl_summary {
	size_t n;
	double median, min, max, mean;
	double p25, p75;	/* quartiles (fl_quantile) */
	double cv;		/* sample stddev / mean; NAN if n < 2 or mean == 0 */
};

void fl_summarize(const double *samples, size_t n, struct fl_summary *s);

/* Quantile @q (0..1) of ascending @sorted, linear between the two nearest ranks. */
double fl_quantile(const double *sorted, size_t n, double q);

#endif
