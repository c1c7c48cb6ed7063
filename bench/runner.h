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

/* The case record builder, shared with tests. */
struct fl_case_result;
const char *fl_status_name(enum fl_status s);

#endif
