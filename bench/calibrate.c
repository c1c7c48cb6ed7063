// SPDX-License-Identifier: GPL-2.0
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <hwloc.h>

#include "calibrate.h"
#include "results.h"
#include "stats.h"
#include "workload.h"

#define MEMSET_REPS 5

double fl_clock_read_ns(void)
{
	const int n = 1000000;
	volatile uint64_t sink = 0;
	uint64_t t0 = fl_now_ns();

	for (int i = 0; i < n; i++)
		sink += fl_now_ns();
	(void)sink;
	return (double)(fl_now_ns() - t0) / n;
}

static size_t llc_bytes(void)
{
	hwloc_topology_t t;
	size_t size = 0;

	if (hwloc_topology_init(&t))
		return 0;
	if (!hwloc_topology_load(t)) {
		for (int depth = hwloc_topology_get_depth(t) - 1; depth >= 0; depth--) {
			hwloc_obj_t o = hwloc_get_obj_by_depth(t, (unsigned)depth, 0);

			if (o && hwloc_obj_type_is_cache(o->type) && o->attr->cache.size > size)
				size = o->attr->cache.size;
		}
	}
	hwloc_topology_destroy(t);
	return size;
}

json_t *fl_calibrate_json(void)
{
	size_t llc = llc_bytes(), len = 4 * llc;
	double gbps[MEMSET_REPS];
	json_t *samples = json_array();
	struct fl_summary s;
	char *buf;

	if (len < (256ul << 20))
		len = 256ul << 20;
	buf = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (buf == MAP_FAILED)
		return json_pack("{s:s}", "error", "cannot map the memset buffer");
	memset(buf, 1, len);	/* populated and warm before timing */
	for (int i = 0; i < MEMSET_REPS; i++) {
		uint64_t t0 = fl_now_ns();

		memset(buf, i + 2, len);
		__asm__ volatile("" : : "r"(buf) : "memory");
		gbps[i] = (double)len / (double)(fl_now_ns() - t0);
		json_array_append_new(samples, json_real(gbps[i]));
	}
	munmap(buf, len);
	fl_summarize(gbps, MEMSET_REPS, &s);
	return json_pack("{s:I, s:I, s:f, s:o, s:f, s:s}", "memset_bytes", (json_int_t)len,
			 "llc_bytes", (json_int_t)llc, "memset_GBps", s.median,
			 "memset_samples_GBps", samples, "clock_read_ns", fl_clock_read_ns(),
			 "clock", "CLOCK_MONOTONIC (clock_gettime, vDSO)");
}
