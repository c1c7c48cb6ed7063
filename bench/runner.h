/* SPDX-License-Identifier: GPL-2.0 */
/* Runs a plan of cases: the loop, the clock, workers, placement, results. */
#ifndef FL_RUNNER_H
#define FL_RUNNER_H

#include <stdbool.h>
#include <jansson.h>

#include "core.h"

struct fl_run_opts {
	const char *out_dir;		/* NULL = results/<run-id> */
	bool prepare;
	bool resume;			/* skip cases already recorded in out_dir */
	bool quiet;
	int argc;
	char **argv;
};

/* Exit statuses (README). */
#define FL_EXIT_OK		0
#define FL_EXIT_FAIL		1
#define FL_EXIT_USAGE		2
#define FL_EXIT_INTERNAL	3
#define FL_EXIT_INTERRUPTED	130

int fl_run_plan(const struct fl_plan *plan, const struct fl_run_opts *o);

/*
 * A case's metric store (what fl_metric()/fl_case_detail() write to), for
 * code that drives workload hooks outside fl_run_plan(): bench/stress.c.
 */
struct fl_case_metrics *fl_case_metrics_new(void);
void fl_case_metrics_free(struct fl_case_metrics *cm);

/* The case record builder, shared with tests. */
struct fl_case_result;
const char *fl_status_name(enum fl_status s);

#endif
