/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Worker placement: hwloc picks one PU per core (SMT siblings only once every
 * core has a worker, as will-it-scale does); libnuma binds memory.
 */
#ifndef FL_PLACEMENT_H
#define FL_PLACEMENT_H

#include <stdbool.h>
#include <jansson.h>

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

#endif
