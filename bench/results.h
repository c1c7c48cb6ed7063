/* SPDX-License-Identifier: GPL-2.0 */
/*
 * results/<run-id>/: run.json (rewritten atomically) and results.jsonl
 * (one record per case, appended and fsync'd).  Format: docs/results.md.
 */
#ifndef FL_RESULTS_H
#define FL_RESULTS_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>

#include "core.h"
#include "histogram.h"
#include "placement.h"

#define FL_RUN_SCHEMA		"faultline.run/1"
#define FL_RECORD_SCHEMA	"faultline.record/1"

struct fl_results {
	char dir[512];
	char run_id[128];
	int jsonl_fd;
	json_t *run;
};

int fl_results_open(struct fl_results *r, const char *out_dir, bool resume,
		    int argc, char **argv, char *err, size_t errlen);
/* Labels of the cases already in results.jsonl (for --resume). */
json_t *fl_results_done_labels(struct fl_results *r);
void fl_results_begin(struct fl_results *r, const struct fl_plan *plan, bool prepare);
void fl_results_note_placement(struct fl_results *r, const struct fl_placement *pl);
int fl_results_append(struct fl_results *r, json_t *rec, unsigned seq);
void fl_results_finish(struct fl_results *r, bool complete, int exit_status);

/* @j as indented JSON plus a newline, through fl_write_file_atomic(). */
int fl_write_json_atomic(const char *path, json_t *j);

json_t *fl_record_new(const struct fl_case_def *def, const char *status,
		      const char *reason, unsigned workers, uint64_t t_start_mono);
/*
 * The record of a case that ran: fl_record_new()'s fields, the metrics and
 * details of @cm, and @latency (a reference it takes).  `faultline run` and
 * `faultline stress` both write theirs through it.
 */
struct fl_case_metrics;
json_t *fl_case_record(const struct fl_case_def *def, const char *status, const char *reason,
		       unsigned workers, uint64_t t_start_mono, const struct fl_case_metrics *cm,
		       json_t *latency);
/* NaN and infinities become null: JSON has no such numbers. */
json_t *fl_json_real(double v);
json_t *fl_hist_json(const struct fl_hist *h);
/* Replace @path with @data whole or not at all, even under SIGKILL. */
int fl_write_file_atomic(const char *path, const char *data, size_t len);
/* "2026-11-21T19:30:12Z" */
void fl_iso_time(char *buf, size_t len);

#endif
