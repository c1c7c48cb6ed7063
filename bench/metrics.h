/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A case's metric store: what fl_metric() and fl_case_detail() write to,
 * the core's per-repetition rates, and their rendering into a record.
 */
#ifndef FL_METRICS_H
#define FL_METRICS_H

#include <stdbool.h>
#include <jansson.h>

#include "workload.h"

struct fl_case_metrics *fl_case_metrics_new(void);
void fl_case_metrics_free(struct fl_case_metrics *cm);
/* fl_metric() records only while this is on: off during warm-up. */
void fl_metrics_recording(struct fl_case_metrics *cm, bool on);
/* One sample, whatever the recording state (the core's own figures). */
void fl_metrics_push(struct fl_case_metrics *cm, const char *name, const char *unit,
		     enum fl_direction dir, double v);
/* {name: {unit, direction, samples, median, min, max, mean, cv}} */
json_t *fl_metrics_json(const struct fl_case_metrics *cm);
/* The fl_case_detail() values (a new reference). */
json_t *fl_metrics_details(const struct fl_case_metrics *cm);

#endif
