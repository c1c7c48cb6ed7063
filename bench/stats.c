// SPDX-License-Identifier: GPL-2.0
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "stats.h"

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

double fl_quantile(const double *sorted, size_t n, double q)
{
	double pos = q * (double)(n - 1);
	size_t i = (size_t)pos;

	return i + 1 < n ? sorted[i] + (pos - (double)i) * (sorted[i + 1] - sorted[i]) : sorted[n - 1];
}

void fl_summarize(const double *samples, size_t n, struct fl_summary *s)
{
	double *sorted, sum = 0, var = 0;

	memset(s, 0, sizeof(*s));
	s->n = n;
	s->cv = NAN;
	if (!n) {
		s->median = s->min = s->max = s->mean = s->p25 = s->p75 = NAN;
		return;
	}
	sorted = malloc(n * sizeof(*sorted));
	if (!sorted)
		abort();
	memcpy(sorted, samples, n * sizeof(*sorted));
	qsort(sorted, n, sizeof(*sorted), cmp_double);
	s->min = sorted[0];
	s->max = sorted[n - 1];
	s->median = n % 2 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
	s->p25 = fl_quantile(sorted, n, 0.25);
	s->p75 = fl_quantile(sorted, n, 0.75);
	for (size_t i = 0; i < n; i++)
		sum += samples[i];
	s->mean = sum / (double)n;
	if (n >= 2 && s->mean != 0) {
		for (size_t i = 0; i < n; i++)
			var += (samples[i] - s->mean) * (samples[i] - s->mean);
		s->cv = sqrt(var / (double)(n - 1)) / fabs(s->mean);
	}
	free(sorted);
}
