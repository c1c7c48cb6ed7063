// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>

#include <hwloc.h>
#include <numa.h>

#include "core.h"
#include "placement.h"

static hwloc_topology_t topo;
/* The case's placement: a case runs in a process of its own, forked after fl_placement_init. */
static struct fl_placement current;

static int topo_load(void)
{
	if (topo)
		return 0;
	if (hwloc_topology_init(&topo) || hwloc_topology_load(topo)) {
		topo = NULL;
		return -1;
	}
	return 0;
}

int fl_numa_nodes(void)
{
	if (numa_available() < 0)
		return 1;
	return numa_num_configured_nodes();
}

int fl_placement_init(struct fl_placement *p, const char *cpulist, int node,
		      char *err, size_t errlen)
{
	uint64_t mask[16];
	hwloc_const_cpuset_t allowed;
	int ncores;

	memset(p, 0, sizeof(*p));
	p->node = node;
	if (topo_load()) {
		snprintf(err, errlen, "hwloc: cannot load the topology");
		return -1;
	}
	if (cpulist && *cpulist && fl_parse_cpulist(cpulist, mask, 1024)) {
		snprintf(err, errlen, "cpus: invalid CPU list '%s'", cpulist);
		return -1;
	}
	allowed = hwloc_topology_get_allowed_cpuset(topo);
	ncores = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_CORE);
	/* Pass 0 takes the first PU of every core, pass 1.. the SMT siblings. */
	for (int pass = 0; pass < 8; pass++) {
		for (int c = 0; c < ncores; c++) {
			hwloc_obj_t core = hwloc_get_obj_by_type(topo, HWLOC_OBJ_CORE, (unsigned)c);
			hwloc_obj_t pu = hwloc_get_obj_inside_cpuset_by_type(topo, core->cpuset,
								 HWLOC_OBJ_PU, (unsigned)pass);
			unsigned os;

			if (!pu || !hwloc_bitmap_isset(allowed, pu->os_index))
				continue;
			os = pu->os_index;
			if (cpulist && *cpulist && (os >= 1024 || !(mask[os / 64] & (1ull << (os % 64)))))
				continue;
			if (p->nr_cpus < 1024)
				p->cpus[p->nr_cpus++] = (int)os;
			if (pass == 0)
				p->nr_cores++;
		}
	}
	if (!p->nr_cpus) {
		snprintf(err, errlen, "cpus: '%s' selects no CPU this process may run on", cpulist);
		return -1;
	}
	if (node >= 0) {
		if (numa_available() < 0) {
			snprintf(err, errlen, "node %d: NUMA is not available (kernel without CONFIG_NUMA?)", node);
			return -1;
		}
		if (node > numa_max_node() || numa_node_size64(node, NULL) <= 0) {
			snprintf(err, errlen, "node %d does not exist or has no memory (nodes 0..%d)",
				 node, numa_max_node());
			return -1;
		}
	}
	current = *p;
	return 0;
}

int fl_placement_bind(const struct fl_placement *p, int cpu, bool process)
{
	hwloc_bitmap_t set;
	int ret = 0;

	if (cpu >= 0 && !topo_load()) {
		set = hwloc_bitmap_alloc();
		hwloc_bitmap_only(set, (unsigned)cpu);
		ret = hwloc_set_cpubind(topo, set, process ? HWLOC_CPUBIND_PROCESS : HWLOC_CPUBIND_THREAD);
		hwloc_bitmap_free(set);
	}
	if (p->node >= 0) {
		struct bitmask *bm = numa_allocate_nodemask();

		numa_bitmask_setbit(bm, (unsigned)p->node);
		/* set_mempolicy(MPOL_BIND) is per thread: every worker binds itself. */
		numa_set_membind(bm);
		numa_free_nodemask(bm);
	}
	return ret;
}

json_t *fl_placement_json(const struct fl_placement *p)
{
	json_t *cpus = json_array();

	for (unsigned i = 0; i < p->nr_cpus; i++)
		json_array_append_new(cpus, json_integer(p->cpus[i]));
	return json_pack("{s:s, s:o, s:i, s:i, s:s}", "binding", "hwloc, one PU per core first",
			 "cpus", cpus, "cores", (int)p->nr_cores, "memory_node", p->node,
			 "numa_policy", p->node >= 0 ? "MPOL_BIND (libnuma numa_set_membind)" : "default");
}

int fl_helper_cpu(const struct fl_placement *p, unsigned nr_workers, unsigned worker, int worker_cpu,
		  unsigned seq)
{
	unsigned i;

	if (!p->nr_cpus || worker_cpu < 0)
		return -1;
	if (p->nr_cpus == 1)
		return p->cpus[0];
	/* CPUs no worker has: cpus[nr_workers..]; helpers of worker i from its i-th. */
	if (nr_workers < p->nr_cpus)
		return p->cpus[nr_workers + (worker + seq) % (p->nr_cpus - nr_workers)];
	/* Every CPU has a worker: the ones after the worker's, never its own. */
	for (i = 0; i < p->nr_cpus && p->cpus[i] != worker_cpu; i++)
		;
	if (i == p->nr_cpus)
		return p->cpus[seq % p->nr_cpus];
	return p->cpus[(i + 1 + seq % (p->nr_cpus - 1)) % p->nr_cpus];
}

int fl_helper_start(struct fl_helper *h, struct fl_worker *w, const char *name, unsigned seq,
		    void *(*fn)(void *), void *arg)
{
	pthread_attr_t attr;
	cpu_set_t set;
	char key[64], buf[128];
	int err;

	h->started = false;
	h->cpu = fl_helper_cpu(&current, w->c->nr_workers, w->id, w->cpu, seq);
	pthread_attr_init(&attr);
	if (h->cpu >= 0) {
		CPU_ZERO(&set);
		CPU_SET(h->cpu, &set);
		pthread_attr_setaffinity_np(&attr, sizeof(set), &set);
	}
	err = pthread_create(&h->tid, &attr, fn, arg);
	pthread_attr_destroy(&attr);
	if (err)
		return -err;
	h->started = true;
	if (w->id == 0 && !w->c->wl->allows_processes) {
		snprintf(key, sizeof(key), "helper_cpu.%s", name);
		if (h->cpu < 0)
			snprintf(buf, sizeof(buf), "unbound (the worker is unbound)");
		else
			snprintf(buf, sizeof(buf), "cpu %d (worker 0 on cpu %d%s)", h->cpu, w->cpu,
				 h->cpu == w->cpu ? ": the only CPU of the placement" : "");
		fl_case_detail(w->c, key, buf);
	}
	return 0;
}

void fl_helper_join(struct fl_helper *h)
{
	if (h->started)
		pthread_join(h->tid, NULL);
	h->started = false;
}
