/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Runs a plan of cases (bench/runner.c: a process per case, results) and
 * one case in its process (bench/case.c: the lifecycle, workers, the
 * clock).  The lifecycle and the worker loop are exported for the other
 * driver of workload hooks, `faultline stress` (bench/stress.c).
 */
#ifndef FL_RUNNER_H
#define FL_RUNNER_H

#include <stdbool.h>
#include <sys/types.h>
#include <jansson.h>

#include "core.h"
#include "placement.h"

struct fl_run_opts {
	const char *out_dir;		/* NULL = results/<run-id> */
	bool prepare;
	bool resume;			/* skip cases already recorded in out_dir */
	bool quiet;
	bool tap;			/* stdout: a kselftest-style TAP stream */
	const char *junit;		/* write a JUnit XML file here at the end */
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

const char *fl_status_name(enum fl_status s);

/*
 * In a case process: run @def's case on @pl's CPUs and return its record
 * (NULL: out of memory).  SIGUSR1 ends it after the current repetition.
 */
json_t *fl_case_run(const struct fl_case_def *def, const struct fl_placement *pl);

/*
 * The life of a case, in its own process:
 *
 *   fl_case_init()      fill the case for @def and @nw workers
 *   fl_case_setup()     the skip chain, then the workload's setup()
 *   ... workers (fl_worker_init, fl_worker_bind, fl_worker_loop) ...
 *   fl_case_teardown()  only after a successful fl_case_setup()
 *   fl_case_release()
 */
unsigned fl_case_nr_lat(const struct workload *wl);
/* -1: out of memory for the metric store. */
int fl_case_init(struct fl_case *c, const struct fl_case_def *def, unsigned nw);
/*
 * Skip when workers=processes is asked of a workload that does not allow it
 * (or at all, with @no_processes as the reason: a driver that runs threads
 * only), when supported() says so, or when the backing is not available for
 * @nw workers' footprint; then setup().  0: set up; -1: c->status and
 * c->reason say why.
 */
int fl_case_setup(struct fl_case *c, const struct fl_case_def *def, const char *no_processes);
void fl_case_teardown(struct fl_case *c);
void fl_case_release(struct fl_case *c);

/* Worker @id of @c: @counter gets its operations; @lat its nr_lat histograms (reset). */
void fl_worker_init(struct fl_worker *w, struct fl_case *c, unsigned id, volatile uint64_t *counter,
		    volatile const int *stop, struct fl_hist *lat, unsigned nr_lat);
/* Bind to the (@offset + id)-th CPU of @pl (nothing when it has none). */
void fl_worker_bind(struct fl_worker *w, const struct fl_placement *pl, unsigned offset, bool process);

/* What a free-running worker counts besides its operations. */
struct fl_loop {
	volatile uint64_t *bytes;	/* the batches' bytes; NULL: not counted */
	volatile uint64_t *checked;	/* +1 (atomic) per batch whose check passed; or NULL */
	volatile const int *gen;	/* a change resets the worker's histograms; or NULL */
	int gen_seen;
	unsigned nr_lat;
	/*
	 * A hook returned < 0 with c->status set: true to go on with the next
	 * batch (the driver absorbed the outcome), false to end the loop.
	 */
	bool (*absorb)(struct fl_worker *w, const char *hook, void *arg);
	void *arg;
};

/*
 * Loop prepare/run/check until *w->stop, adding each batch's operations to
 * *w->counter (unless the workload counts live).  NULL when stopped, or the
 * hook that failed (c->status says why; an error is set if the hook gave no
 * reason).
 */
const char *fl_worker_loop(struct fl_worker *w, struct fl_loop *l);

/*
 * fork() for a case process: it dies with its parent, runs in a process
 * group of its own (the terminal's SIGINT goes to the parent only) and
 * takes SIGTERM's default action.  Returns as fork() does.
 */
pid_t fl_case_fork(void);
/* Kill a case process and its group (a stuck one; it may never be reaped). */
void fl_case_kill(pid_t pid);

#endif
