/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Worker placement: hwloc picks one PU per core (SMT siblings only once every
 * core has a worker, as will-it-scale does); libnuma binds memory.
 */
#ifndef FL_PLACEMENT_H
#define FL_PLACEMENT_H

#include <pthread.h>
#include <stdbool.h>
#include <jansson.h>

struct fl_worker;

struct fl_placement {
	unsigned nr_cpus;
	int cpus[1024];		/* OS indices in binding order */
	unsigned nr_cores;	/* distinct cores among them */
	int node;		/* memory node, -1 = none */
};

/* Build the binding order, restricted to @cpulist ("" = all allowed). */
int fl_placement_init(struct fl_placement *p, const char *cpulist, int node,
		      char *err, size_t errlen);
/* Bind the calling thread (or process) to @cpu and the memory node. */
int fl_placement_bind(const struct fl_placement *p, int cpu, bool process);
json_t *fl_placement_json(const struct fl_placement *p);
/* Number of NUMA nodes with memory (libnuma), 1 when NUMA is unavailable. */
int fl_numa_nodes(void);

/*
 * Helper threads: threads a workload starts beside a worker (a device
 * thread, a racing thread, readers).  Left alone they would inherit the
 * worker's binding to one CPU and take turns with it, so the core places
 * them: a CPU of the case's placement that no worker is bound to, the
 * @seq-th such (helpers of worker i spread from there); where every CPU has
 * a worker, the next CPU after the worker's; the worker's own only when the
 * placement has one CPU.  Memory policy is inherited from the worker (the
 * thread is created by it).
 */
struct fl_helper {
	pthread_t tid;
	int cpu;		/* where it was bound, -1 = unbound */
	bool started;
};

/* The CPU helper @seq of the worker bound to @worker_cpu (worker @worker of @nr_workers) gets. */
int fl_helper_cpu(const struct fl_placement *p, unsigned nr_workers, unsigned worker, int worker_cpu,
		  unsigned seq);
/*
 * Start @fn(@arg) as helper @seq of worker @w, placed as above and recorded
 * as detail "helper_cpu.@name" (worker 0's helpers).  0 or -errno.
 */
int fl_helper_start(struct fl_helper *h, struct fl_worker *w, const char *name, unsigned seq,
		    void *(*fn)(void *), void *arg);
/* Join a started helper (no-op otherwise). */
void fl_helper_join(struct fl_helper *h);

#endif
