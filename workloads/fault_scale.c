// SPDX-License-Identifier: GPL-2.0
/*
 * fault-scale: page faults per second with 1..N workers, will-it-scale
 * page_fault1 style: map, write-touch every 4 KiB page, unmap, repeat;
 * the core samples the workers' counters once per interval.
 *
 * Kernel paths: do_user_addr_fault -> handle_mm_fault -> do_anonymous_page
 * (shmem_fault / filemap_fault for shared backings), with the mmap_lock or
 * per-VMA locks (6.4+) shared between threads; zap_pte_range on munmap.
 *
 * To use:
 *   faultline run fault-scale --threads 2
 *   faultline run fault-scale --threads 0 --set workers=processes
 *   faultline run workloads/suites/quick.job
 *
 * On anon-4k the default (map=plain) makes exactly page_fault1's calls: one
 * mmap(NULL, size, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS) and one
 * munmap per batch, so its figures compare with will-it-scale's.  map=core
 * maps through fl_map() instead (a PROT_NONE reservation, the mapping
 * MAP_FIXED inside it, MADV_NOHUGEPAGE), as every other backing does.
 *
 * The mapping is verified on each worker's first batch only: reading
 * pagemap every batch would cost several percent of the rate measured.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "fault_scale.h"
#include "workload.h"

enum fs_map { FS_MAP_PLAIN, FS_MAP_CORE };

struct fault_scale_conf {
	uint64_t size;
	int map;
};

static const char *const fs_maps[] = { "plain", "core", NULL };

static const struct fl_option fault_scale_options[] = {
	FL_OPT_SIZE_(struct fault_scale_conf, size, "size", 1 << 20, 1ull << 40, "128M",
		     "bytes each worker maps, touches and unmaps per batch (page_fault1: 128M)"),
	FL_OPT_ENUM_(struct fault_scale_conf, map, "map", fs_maps, "plain",
		     "plain: on anon-4k, page_fault1's own mmap(NULL, size, RW, MAP_PRIVATE|MAP_ANONYMOUS) per batch; core: the core's fl_map (PROT_NONE reservation, MAP_FIXED inside it, MADV_NOHUGEPAGE), which every other backing always uses"),
	FL_OPT_END
};

struct fs_worker {
	struct fl_mapping m;
	bool mapped, verified;
};

static size_t fault_scale_footprint(const struct fl_case *c)
{
	return ((const struct fault_scale_conf *)c->config)->size;
}

static int fault_scale_setup(struct fl_case *c)
{
	c->priv = calloc(c->nr_workers, sizeof(struct fs_worker));
	return c->priv ? 0 : -ENOMEM;
}

static int fault_scale_prepare(struct fl_worker *w)
{
	const struct fault_scale_conf *cf = w->c->config;
	struct fs_worker *fw = (struct fs_worker *)w->c->priv + w->id;
	char why[256];
	int ret;

	w->priv = fw;
	if (cf->map == FS_MAP_PLAIN && w->c->backing == FL_BACKING_ANON_4K) {
		void *p = mmap(NULL, cf->size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (p == MAP_FAILED)
			return errno == ENOMEM ? fl_case_skip(w->c, "mmap %zu bytes: ENOMEM", (size_t)cf->size)
					       : fl_case_error(w->c, "mmap: %s", strerror(errno));
		fw->m = (struct fl_mapping){ .backing = FL_BACKING_ANON_4K, .addr = p, .len = cf->size,
					     .map_addr = p, .map_len = cf->size, .fd = -1 };
		fw->mapped = true;
		return 0;
	}
	ret = fl_map(w->c->bconf, w->c->backing, cf->size, 0, &fw->m, why, sizeof(why));
	if (ret)
		return ret == -ENOMEM ? fl_case_skip(w->c, "%s", why) : fl_case_error(w->c, "%s", why);
	fw->mapped = true;
	return 0;
}

static int fault_scale_run(struct fl_worker *w, struct fl_work *done)
{
	struct fs_worker *fw = w->priv;

	fault_scale_touch(w, &fw->m, done);
	return 0;
}

static int fault_scale_check(struct fl_worker *w)
{
	struct fs_worker *fw = w->priv;
	char why[256];
	int ret = 0;

	if (!fw->verified) {
		const struct fault_scale_conf *cf = w->c->config;

		/* Without MADV_NOHUGEPAGE, transparent_hugepage=always gives page_fault1 THPs too. */
		if (fl_verify(&fw->m, why, sizeof(why)))
			ret = cf->map == FS_MAP_PLAIN && w->c->backing == FL_BACKING_ANON_4K
				? fl_case_skip(w->c, "map=plain got THP (transparent_hugepage=always?): "
					       "not a 4 KiB fault rate; map=core asks MADV_NOHUGEPAGE")
				: fl_case_skip(w->c, "%s", why);
		fw->verified = true;
	}
	fl_unmap(&fw->m);
	fw->mapped = false;
	return ret;
}

static void fault_scale_teardown(struct fl_case *c)
{
	struct fs_worker *fws = c->priv;

	for (unsigned i = 0; fws && i < c->nr_workers; i++)
		if (fws[i].mapped)
			fl_unmap(&fws[i].m);
	free(fws);
}

/*
 * page_fault1's claim: one page fault per page written.  The workers' own
 * perf count is checked (exact); the system-wide pgfault is recorded beside
 * it.  THP: one THP fault per 2 MiB, none falling back.
 */
static const struct fl_evidence fault_scale_evidence[] = {
	{ FL_EVIDENCE_WORKER_FAULTS, FL_PER_OP, FL_B(FL_BACKING_ANON_4K) | FL_B(FL_BACKING_SHMEM) |
	  FL_B(FL_BACKING_FILE), true, 1.0, 0.01 },
	{ FL_VS_pgfault, FL_PER_OP, 0, false, 0, 0 },
	{ FL_VS_thp_fault_alloc, FL_PER_2M, FL_B(FL_BACKING_THP), true, 1.0, 0.05 },
	{ FL_VS_thp_fault_fallback, FL_PER_2M, FL_B(FL_BACKING_THP), true, 0, 0.01 },
	{ .per = FL_PER_END }
};

const struct workload wl_fault_scale = {
	.name = "fault-scale",
	.headline = "ops_rate",
	.evidence = fault_scale_evidence,
	.summary = "page faults per second with N workers (will-it-scale page_fault1 style)",
	.kernel_paths = "do_user_addr_fault -> handle_mm_fault -> do_anonymous_page / shmem_fault / "
			"filemap_fault; mmap_lock vs per-VMA locks (6.4+); zap_pte_range on munmap",
	.needs = "nothing",
	.backings = FL_B(FL_BACKING_ANON_4K) | FL_B(FL_BACKING_THP) | FL_B(FL_BACKING_SHMEM) |
		    FL_B(FL_BACKING_FILE) | FL_B(FL_BACKING_HUGETLB_2M),
	.default_backings = FL_B(FL_BACKING_ANON_4K),
	.mode = FL_MODE_SAMPLED,
	.op_unit = "fault",
	.report_bytes = false,
	.counts_live = true,
	.allows_processes = true,
	.options = fault_scale_options,
	.config_size = sizeof(struct fault_scale_conf),
	.footprint = fault_scale_footprint,
	.setup = fault_scale_setup,
	.prepare = fault_scale_prepare,
	.run = fault_scale_run,
	.check = fault_scale_check,
	.teardown = fault_scale_teardown,
};

FL_WORKLOAD_REGISTER(wl_fault_scale);
