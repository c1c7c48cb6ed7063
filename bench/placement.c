// SPDX-License-Identifier: GPL-2.0
#include <stdio.h>
#include <string.h>

#include <hwloc.h>
#include <numa.h>

#include "core.h"
#include "placement.h"

static hwloc_topology_t topo;

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
