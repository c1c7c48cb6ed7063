// SPDX-License-Identifier: GPL-2.0
/*
 * The metric store of one case.  Workers of several threads push samples
 * concurrently (fl_metric from workloads, the rates from the core), so every
 * change is under the store's lock.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"
#include "results.h"
#include "stats.h"

struct metric {
	char name[48];
	char unit[24];
	enum fl_direction dir;
	unsigned n;
	double *samples;
};

struct fl_case_metrics {
	pthread_mutex_t lock;
	bool recording;
	unsigned n;
	struct metric m[FL_MAX_METRICS];
	json_t *details;
};

struct fl_case_metrics *fl_case_metrics_new(void)
{
	struct fl_case_metrics *cm = calloc(1, sizeof(*cm));

	if (!cm)
		return NULL;
	pthread_mutex_init(&cm->lock, NULL);
	cm->details = json_object();
	return cm;
}

void fl_case_metrics_free(struct fl_case_metrics *cm)
{
	if (!cm)
		return;
	for (unsigned i = 0; i < cm->n; i++)
		free(cm->m[i].samples);
	json_decref(cm->details);
	free(cm);
}

void fl_metrics_recording(struct fl_case_metrics *cm, bool on)
{
	cm->recording = on;
}

static struct metric *metric_get(struct fl_case_metrics *cm, const char *name,
				 const char *unit, enum fl_direction dir)
{
	for (unsigned i = 0; i < cm->n; i++)
		if (!strcmp(cm->m[i].name, name))
			return &cm->m[i];
	if (cm->n == FL_MAX_METRICS)
		return NULL;
	snprintf(cm->m[cm->n].name, sizeof(cm->m[0].name), "%s", name);
	snprintf(cm->m[cm->n].unit, sizeof(cm->m[0].unit), "%s", unit);
	cm->m[cm->n].dir = dir;
	return &cm->m[cm->n++];
}

void fl_metrics_push(struct fl_case_metrics *cm, const char *name, const char *unit,
		     enum fl_direction dir, double v)
{
	struct metric *m;
	double *n;

	pthread_mutex_lock(&cm->lock);
	m = metric_get(cm, name, unit, dir);
	/* Never silently: a metric past FL_MAX_METRICS is named in the record. */
	if (!m)
		json_object_set_new(cm->details, "metrics_dropped", json_string(name));
	if (m) {
		n = realloc(m->samples, (m->n + 1) * sizeof(double));
		if (n) {
			m->samples = n;
			m->samples[m->n++] = v;
		}
	}
	pthread_mutex_unlock(&cm->lock);
}

void fl_metric(struct fl_case *c, const char *name, const char *unit,
	       enum fl_direction dir, double value)
{
	if (c->metrics->recording)
		fl_metrics_push(c->metrics, name, unit, dir, value);
}

void fl_case_detail(struct fl_case *c, const char *key, const char *value)
{
	pthread_mutex_lock(&c->metrics->lock);
	json_object_set_new(c->metrics->details, key, json_string(value));
	pthread_mutex_unlock(&c->metrics->lock);
}

json_t *fl_metrics_details(const struct fl_case_metrics *cm)
{
	return json_incref(cm->details);
}

json_t *fl_metrics_json(const struct fl_case_metrics *cm)
{
	json_t *o = json_object();

	for (unsigned i = 0; i < cm->n; i++) {
		const struct metric *m = &cm->m[i];
		struct fl_summary s;
		json_t *samples = json_array(), *mj;
		char unit[64];

		fl_summarize(m->samples, m->n, &s);
		for (unsigned k = 0; k < m->n; k++)
			json_array_append_new(samples, fl_json_real(m->samples[k]));
		if (!strcmp(m->name, "ops_rate"))
			snprintf(unit, sizeof(unit), "%s/s", m->unit);
		else if (!strcmp(m->name, "time_per_op"))
			snprintf(unit, sizeof(unit), "ns/%s", m->unit);
		else
			snprintf(unit, sizeof(unit), "%s", m->unit);
		mj = json_pack("{s:s, s:s, s:o, s:o, s:o, s:o, s:o, s:o}",
			       "unit", unit,
			       "direction", m->dir == FL_HIGHER_IS_BETTER ? "higher" :
					    m->dir == FL_LOWER_IS_BETTER ? "lower" : "info",
			       "samples", samples,
			       "median", fl_json_real(s.median), "min", fl_json_real(s.min),
			       "max", fl_json_real(s.max), "mean", fl_json_real(s.mean),
			       "cv", fl_json_real(s.cv));
		json_object_set_new(o, m->name, mj);
	}
	return o;
}
