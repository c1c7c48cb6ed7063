/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The workload contract.  A workload is one file in workloads/ defining one
 * `struct workload` and registering it with FL_WORKLOAD_REGISTER().  It owns
 * only the kernel interaction it exists to exercise: the core owns the loop,
 * the clock, placement, repetitions, statistics and output.  Workloads never
 * print and never read a clock of their own: per-operation latency goes
 * through fl_lat_begin()/fl_lat_end(), which use the core's clock.
 *
 * Life of a case (bench/runner.c):
 *
 *   supported(case)                      -> NULL or skip reason
 *   setup(case)                          once, untimed
 *   for each repetition (warm-up first, then --repeat):
 *       for each worker, concurrently:
 *           prepare(worker)              untimed (e.g. mmap)
 *           run(worker)                  timed by the core: one bounded batch
 *           check(worker)                untimed (verify data and mapping)
 *   teardown(case)
 *
 * In FL_MODE_SAMPLED (will-it-scale style) each worker loops
 * prepare/run/check until told to stop and the core samples the workers'
 * counters once per --interval; every sample after the warm-up ones is a
 * repetition.
 */
#ifndef FL_WORKLOAD_H
#define FL_WORKLOAD_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <time.h>

#include "option.h"
#include "backing.h"
#include "histogram.h"
#include "vmstat.h"

struct fl_case;
struct fl_worker;

enum fl_mode {
	FL_MODE_BATCH,		/* a repetition = one timed batch per worker */
	FL_MODE_SAMPLED,	/* a repetition = one interval of a free-running loop */
};

enum fl_direction { FL_HIGHER_IS_BETTER, FL_LOWER_IS_BETTER, FL_INFORMATIONAL };

/* What one run() did; the core turns it into rates. */
struct fl_work {
	uint64_t ops;		/* operations (unit: workload->op_unit) */
	uint64_t bytes;		/* bytes of memory the operations covered */
};

/* Outcome a hook can set; the first non-pass outcome of a case wins. */
enum fl_status { FL_PASS, FL_FAIL, FL_SKIP, FL_ERROR };

/* Up to this many per-worker latency histograms per workload. */
#define FL_MAX_LAT 4
#define FL_MAX_METRICS 32

struct fl_lat_desc {
	const char *name;	/* "fault", "pin", "fork" */
	const char *help;
};

struct workload {
	const char *name;
	const char *summary;
	const char *kernel_paths;	/* the kernel code it exercises */
	const char *needs;		/* prerequisites, for `describe` */
	unsigned backings;		/* FL_B() mask of accepted backings */
	unsigned default_backings;	/* used when no backing was asked */
	enum fl_mode mode;
	const char *op_unit;		/* "page", "fault", "pin", ... */
	bool report_bytes;		/* also report GB/s from fl_work.bytes */
	/*
	 * SAMPLED mode: run() bumps *w->counter per operation itself (as
	 * will-it-scale does), so samples are not quantized to whole batches.
	 */
	bool counts_live;
	/*
	 * Workers may be processes (core option workers=processes): one mm
	 * each, as will-it-scale's _processes variants.  Such workloads must
	 * not call fl_metric()/fl_case_detail() from workers.
	 */
	bool allows_processes;
	const struct fl_lat_desc lat[FL_MAX_LAT];	/* latency histograms */

	const struct fl_option *options;
	size_t config_size;

	/*
	 * The metric that sums a case up (NULL: ops_rate), for the terminal
	 * summary and the report's tables; its direction is the metric's own.
	 */
	const char *headline;
	enum fl_direction headline_dir;	/* FL_HIGHER_IS_BETTER or FL_LOWER_IS_BETTER */
	/*
	 * Kernel counters that show the case did what it claims, normalised per
	 * operation or per 2 MiB (bench/counters.c); ends with .per = FL_PER_END.
	 */
	const struct fl_evidence *evidence;

	/* Bytes of backing memory one worker maps (hugetlb reservations, space checks). */
	size_t (*footprint)(const struct fl_case *c);
	/* NULL if the case can run here, else the missing piece. */
	const char *(*supported)(struct fl_case *c);
	int (*setup)(struct fl_case *c);
	int (*prepare)(struct fl_worker *w);
	int (*run)(struct fl_worker *w, struct fl_work *done);
	int (*check)(struct fl_worker *w);
	void (*teardown)(struct fl_case *c);
};

/* One expanded case: workload x backing x parameter values. */
struct fl_case {
	const struct workload *wl;
	enum fl_backing_id backing;
	void *config;			/* the workload's config struct */
	const struct fl_backing_conf *bconf;
	unsigned nr_workers;
	void *priv;			/* workload state shared by workers */

	/* Outcome; set through fl_case_skip/fail/error. */
	enum fl_status status;
	char reason[512];

	/* Extra per-repetition metrics a workload records (fl_metric). */
	struct fl_case_metrics *metrics;
	char label[256];		/* "populate/thp/mode=first-touch" */
};

struct fl_worker {
	struct fl_case *c;
	unsigned id;			/* 0..nr_workers-1 */
	int cpu;			/* bound CPU (os index), -1 if unbound */
	void *priv;			/* workload per-worker state */
	struct fl_hist *lat[FL_MAX_LAT];	/* this worker's histograms */
	/* SAMPLED mode: the core adds each batch's ops here and samples it. */
	volatile uint64_t *counter;
	volatile const int *stop;	/* SAMPLED mode: set when to stop */
	uint64_t lat_ts;		/* fl_lat_begin() timestamp */
};

/* The core's clock: CLOCK_MONOTONIC in nanoseconds. */
static inline uint64_t fl_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static inline void fl_lat_begin(struct fl_worker *w)
{
	w->lat_ts = fl_now_ns();
}

static inline void fl_lat_end(struct fl_worker *w, unsigned idx)
{
	fl_hist_add(w->lat[idx], fl_now_ns() - w->lat_ts);
}

/* Record a latency measured some other way (e.g. by the driver, in ns). */
static inline void fl_lat_record(struct fl_worker *w, unsigned idx, uint64_t ns)
{
	fl_hist_add(w->lat[idx], ns);
}

/* Set the case outcome (printf-style reason).  Return -1 for `return`. */
int fl_case_skip(struct fl_case *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
int fl_case_fail(struct fl_case *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
int fl_case_error(struct fl_case *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/*
 * Record one sample of a workload-defined metric for the current
 * repetition (e.g. "pmd_share", "corruptions").  Safe from any worker
 * thread; in process mode only from the parent (setup/teardown).
 */
void fl_metric(struct fl_case *c, const char *name, const char *unit,
	       enum fl_direction dir, double value);

/* Attach a free-form detail (JSON-able string) to the case record. */
void fl_case_detail(struct fl_case *c, const char *key, const char *value);

/* "EOPNOTSUPP" for an errno, positive or negative (bench/errname.c). */
const char *fl_errno_name(int e);

/*
 * The registry (bench/registry.c): a workload file ends with
 * FL_WORKLOAD_REGISTER(wl_name); fl_workloads lists them by name,
 * NULL-terminated.
 */
#define FL_WORKLOAD_REGISTER(wl)						\
	static const struct workload *const fl_registered_##wl			\
	__attribute__((used, section("fl_workloads"), aligned(sizeof(void *)))) = &(wl)

extern const struct workload *const *fl_workloads;
const struct workload *fl_workload_by_name(const char *name);

#endif
