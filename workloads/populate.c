// SPDX-License-Identifier: GPL-2.0
/*
 * populate: the cost of making memory present, per backing.
 *
 * Kernel paths: mmap(MAP_POPULATE) -> __mm_populate -> populate_vma_page_range
 * -> __get_user_pages -> handle_mm_fault; first touch -> do_anonymous_page /
 * do_huge_pmd_anonymous_page / hugetlb_fault / shmem_fault / filemap_fault;
 * madvise(MADV_POPULATE_WRITE) -> faultin_page_range (5.14+).
 *
 * To use:
 *   faultline run populate --backing anon-4k,thp --set mode=first-touch
 *   faultline describe populate
 *
 * The timed region is only the population (mmap with MAP_POPULATE, the touch
 * loop, or the madvise); mapping and unmapping around it are untimed, and
 * after every batch the mapping is verified: every page present, and of the
 * page size the backing promises.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "sysfs.h"
#include "mmflags.h"
#include "workload.h"

enum { MODE_FIRST_TOUCH, MODE_MAP_POPULATE, MODE_POPULATE_WRITE };
static const char *const modes[] = { "first-touch", "map-populate", "populate-write", NULL };

struct populate_conf {
	uint64_t size;
	int mode;
	int64_t lat_sample;
};

static const struct fl_option populate_options[] = {
	FL_OPT_SIZE_(struct populate_conf, size, "size", 4096, 1ull << 40, "256M",
		     "bytes each worker populates per batch"),
	FL_OPT_ENUM_(struct populate_conf, mode, "mode", modes, "first-touch",
		     "first-touch: write faults, one per 4 KiB; map-populate: mmap(MAP_POPULATE); populate-write: MADV_POPULATE_WRITE"),
	FL_OPT_INT_(struct populate_conf, lat_sample, "lat_sample", 0, 1 << 20, "16",
		    "first-touch: time one 4 KiB fault in N (huge pages: every fault); 0 = none"),
	FL_OPT_END
};

struct populate_worker {
	struct fl_mapping m;
	bool mapped;
};

static size_t populate_footprint(const struct fl_case *c)
{
	return ((const struct populate_conf *)c->config)->size;
}

static const char *populate_supported(struct fl_case *c)
{
	const struct populate_conf *cf = c->config;
	char mode[32];

	if (cf->mode == MODE_POPULATE_WRITE) {
		void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		int ret = p == MAP_FAILED ? -1 : madvise(p, 4096, MADV_POPULATE_WRITE);

		if (p != MAP_FAILED)
			munmap(p, 4096);
		if (ret)
			return "kernel lacks MADV_POPULATE_WRITE (added in 5.14)";
	}
	/*
	 * MAP_POPULATE faults inside mmap(), before MADV_HUGEPAGE can apply,
	 * so THP only happens when THP is "always".
	 */
	if (cf->mode == MODE_MAP_POPULATE && c->backing == FL_BACKING_THP &&
	    !fl_sysfs_bracketed("/sys/kernel/mm/transparent_hugepage/enabled", mode, sizeof(mode)) &&
	    strcmp(mode, "always"))
		return "map-populate on THP needs transparent_hugepage/enabled=always (MAP_POPULATE faults before MADV_HUGEPAGE applies): --prepare --set thp_mode=always";
	return NULL;
}

static int populate_setup(struct fl_case *c)
{
	struct populate_conf *cf = c->config;
	char buf[64];

	/* fl_map maps whole pages of the backing: the record gives the size that runs. */
	fl_map_size_as_run(c, &cf->size, 0);
	c->priv = calloc(c->nr_workers, sizeof(struct populate_worker));
	if (!c->priv)
		return -ENOMEM;
	if (cf->mode == MODE_FIRST_TOUCH && cf->lat_sample) {
		size_t unit = fl_backings[c->backing].page_size;
		size_t every = unit >= (size_t)cf->lat_sample * 4096 ? 1 : (size_t)cf->lat_sample * 4096 / unit;

		snprintf(buf, sizeof(buf), "1 in %zu faults of %zu KiB", every, unit >> 10);
		fl_case_detail(c, "latency_sampling", buf);
	}
	return 0;
}

static int populate_prepare(struct fl_worker *w)
{
	const struct populate_conf *cf = w->c->config;
	struct populate_worker *pw = (struct populate_worker *)w->c->priv + w->id;
	char why[256];
	int ret;

	w->priv = pw;
	if (cf->mode == MODE_MAP_POPULATE)
		return 0;
	ret = fl_map(w->c->bconf, w->c->backing, cf->size, 0, &pw->m, why, sizeof(why));
	if (ret)
		return ret == -ENOMEM ? fl_case_skip(w->c, "%s", why) : fl_case_error(w->c, "%s", why);
	pw->mapped = true;
	return 0;
}

static void touch(volatile char *p, size_t len, size_t unit, size_t every, struct fl_worker *w)
{
	size_t n = 0;

	for (size_t u = 0; u < len; u += unit, n++) {
		if (every && n % every == 0) {
			fl_lat_begin(w);
			p[u] = 1;
			fl_lat_end(w, 0);
		} else {
			p[u] = 1;
		}
		for (size_t off = u + 4096; off < u + unit; off += 4096)
			p[off] = 1;
	}
}

static int populate_run(struct fl_worker *w, struct fl_work *done)
{
	const struct populate_conf *cf = w->c->config;
	struct populate_worker *pw = w->priv;
	size_t unit = fl_backings[w->c->backing].page_size, every = 0;
	char why[256];
	int ret;

	switch (cf->mode) {
	case MODE_MAP_POPULATE:
		ret = fl_map(w->c->bconf, w->c->backing, cf->size, FL_MAP_POPULATE, &pw->m, why, sizeof(why));
		if (ret)
			return ret == -ENOMEM ? fl_case_skip(w->c, "%s", why) : fl_case_error(w->c, "%s", why);
		pw->mapped = true;
		break;
	case MODE_POPULATE_WRITE:
		if (madvise(pw->m.addr, pw->m.len, MADV_POPULATE_WRITE))
			return fl_case_fail(w->c, "madvise(MADV_POPULATE_WRITE) of %zu bytes: %s", pw->m.len,
					    strerror(errno));
		break;
	default:
		if (cf->lat_sample)
			every = unit >= (size_t)cf->lat_sample * 4096 ? 1 : (size_t)cf->lat_sample * 4096 / unit;
		touch(pw->m.addr, pw->m.len, unit, every, w);
		break;
	}
	done->ops = pw->m.len / 4096;
	done->bytes = pw->m.len;
	return 0;
}

static int populate_check(struct fl_worker *w)
{
	struct populate_worker *pw = w->priv;
	struct fl_range_stat st;
	char why[256];
	int ret = 0;

	if (!pw->mapped)
		return 0;
	if (fl_verify(&pw->m, why, sizeof(why))) {
		ret = fl_case_skip(w->c, "%s", why);
		goto out;
	}
	/*
	 * A page being migrated (compaction, NUMA balancing, `faultline stress`)
	 * reads as a migration entry, not present, in pagemap: it was
	 * populated all the same, so swap-type entries count.
	 */
	if (fl_range_stat(pw->m.addr, pw->m.len, &st) ||
	    st.present_pages + st.swap_pages == pw->m.len / 4096)
		goto out;
	ret = fl_case_fail(w->c, "only %lu of %zu pages present (%lu swap/migration entries) after populating",
			   (unsigned long)st.present_pages, pw->m.len / 4096, (unsigned long)st.swap_pages);
out:
	fl_unmap(&pw->m);
	pw->mapped = false;
	return ret;
}

static void populate_teardown(struct fl_case *c)
{
	struct populate_worker *pws = c->priv;

	for (unsigned i = 0; pws && i < c->nr_workers; i++)
		if (pws[i].mapped)
			fl_unmap(&pws[i].m);
	free(pws);
}

/*
 * A THP populate takes one THP fault per 2 MiB and none falls back (a
 * fallback means 4 KiB pages were measured); anon-4k one fault per page.
 */
static const struct fl_evidence populate_evidence[] = {
	{ FL_VS_thp_fault_alloc, FL_PER_2M, FL_B(FL_BACKING_THP), true, 1.0, 0.05 },
	{ FL_VS_thp_fault_fallback, FL_PER_2M, FL_B(FL_BACKING_THP), true, 0, 0.01 },
	{ FL_VS_pgfault, FL_PER_OP, 0, false, 0, 0 },
	{ .per = FL_PER_END }
};

const struct workload wl_populate = {
	.name = "populate",
	.headline = "throughput",
	.evidence = populate_evidence,
	.summary = "cost of making memory present: first-touch faults, MAP_POPULATE, MADV_POPULATE_WRITE",
	.kernel_paths = "__mm_populate -> __get_user_pages -> handle_mm_fault; do_anonymous_page, "
			"do_huge_pmd_anonymous_page, hugetlb_fault, shmem_fault, filemap_fault; "
			"madvise_populate (5.14+)",
	.needs = "nothing beyond the backing; populate-write needs 5.14+",
	.backings = FL_BACKINGS_ALL,
	.default_backings = FL_B(FL_BACKING_ANON_4K) | FL_B(FL_BACKING_THP),
	.mode = FL_MODE_BATCH,
	.op_unit = "page",
	.report_bytes = true,
	.lat = { { "fault", "first-touch: one write fault (sampled, see details.latency_sampling)" } },
	.options = populate_options,
	.config_size = sizeof(struct populate_conf),
	.footprint = populate_footprint,
	.supported = populate_supported,
	.setup = populate_setup,
	.prepare = populate_prepare,
	.run = populate_run,
	.check = populate_check,
	.teardown = populate_teardown,
};

FL_WORKLOAD_REGISTER(wl_populate);
