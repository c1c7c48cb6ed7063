/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The kernel's own counters beside every figure: /proc/vmstat deltas over
 * each repetition's timed region (read just outside it), as LKP keeps its
 * proc-vmstat monitor beside a benchmark.  They are system-wide: another
 * process faulting during a repetition counts too, which is why a
 * workload's expectations name a tolerance and why a quiet machine is
 * wanted for them.  The workers' own fault counts (getrusage) and, where
 * perf_event_open is permitted, their page-fault and dTLB-miss counts are
 * per worker and exact.
 */
#ifndef FL_VMSTAT_H
#define FL_VMSTAT_H

#include <stdbool.h>
#include <stdint.h>

#define FL_VMSTAT_COUNTERS(X)				\
	X(pgfault)					\
	X(pgmajfault)					\
	X(thp_fault_alloc)				\
	X(thp_fault_fallback)				\
	X(thp_split_pmd)				\
	X(thp_split_page)				\
	X(pgmigrate_success)				\
	X(pgmigrate_fail)				\
	X(thp_migration_success)			\
	X(thp_migration_fail)				\
	X(numa_pages_migrated)				\
	X(numa_hint_faults)				\
	X(nr_foll_pin_acquired)				\
	X(nr_foll_pin_released)				\
	X(compact_stall)				\
	X(compact_success)				\
	X(compact_fail)

enum fl_vmstat_id {
#define FL_VS_ENUM(n) FL_VS_##n,
	FL_VMSTAT_COUNTERS(FL_VS_ENUM)
#undef FL_VS_ENUM
	FL_VS_COUNT
};

extern const char *const fl_vmstat_names[FL_VS_COUNT];

struct fl_vmstat {
	uint64_t v[FL_VS_COUNT];
	uint32_t present;		/* bit i: this kernel has counter i */
};

/* Read /proc/vmstat; 0, or -errno (e.g. no procfs). */
int fl_vmstat_read(struct fl_vmstat *s);
/* Parse the text of /proc/vmstat (exported for the unit tests). */
void fl_vmstat_parse(const char *text, struct fl_vmstat *s);

/* What a counter is normalised by in a record; FL_PER_END ends a table. */
enum fl_per { FL_PER_END, FL_PER_OP, FL_PER_2M };

/* Evidence counter: the workers' own page faults (perf), not /proc/vmstat. */
#define FL_EVIDENCE_WORKER_FAULTS FL_VS_COUNT

/*
 * A workload's evidence: a counter it expects to move in step with its
 * operations.  With .check set, a repetition whose per-unit value lies
 * outside expect +- tol fails the case, naming the counter.
 */
struct fl_evidence {
	enum fl_vmstat_id counter;	/* or FL_EVIDENCE_WORKER_FAULTS */
	enum fl_per per;
	unsigned backings;		/* FL_B() mask it applies to; 0: every backing */
	bool check;
	double expect, tol;
};

#endif
