/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The kernel's counters over each repetition of a case (bench/counters.c):
 * /proc/vmstat deltas (system-wide) and, where perf_event_open is
 * permitted, the workers' own page faults and dTLB load misses, read by
 * the case's coordinator just outside the timed region.  The workload's
 * evidence (workload.h) is normalised per operation or per 2 MiB and
 * recorded as metrics; an evidence entry with an expectation fails the
 * case when a repetition falls outside it, naming the counter.
 */
#ifndef FL_COUNTERS_H
#define FL_COUNTERS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <jansson.h>

#include "workload.h"

struct fl_counters;

struct fl_counters *fl_counters_new(const struct workload *wl, unsigned nr_workers);
/* Attach the per-worker perf counters to the workers' thread ids (once). */
void fl_counters_attach(struct fl_counters *k, const volatile pid_t *tids, size_t stride);
/* Snapshot now; the delta since the previous mark becomes the current one. */
void fl_counters_mark(struct fl_counters *k);
/* The current delta is measured repetition @rep, which did @ops operations over @bytes. */
void fl_counters_record(struct fl_counters *k, struct fl_case *c, unsigned rep, uint64_t ops,
			uint64_t bytes);
/*
 * A repetition that ended the case (a skip or fail from a hook): append the
 * evidence counters of that repetition to c->reason, so a THP case that got
 * 4 KiB pages names thp_fault_alloc and thp_fault_fallback too.
 */
void fl_counters_annotate(struct fl_counters *k, struct fl_case *c, uint64_t ops, uint64_t bytes);
/* The record's "kernel_counters" object (NULL when nothing was read). */
json_t *fl_counters_json(struct fl_counters *k);
void fl_counters_free(struct fl_counters *k);

#endif
