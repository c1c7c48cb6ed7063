// SPDX-License-Identifier: GPL-2.0
/*
 * numa-migrate: NUMA page migration of one range between two memory nodes,
 * per backing, per method, with the range optionally held by a device
 * (pinned or mirrored), accessed concurrently, or raced by fork/munmap.
 *
 * Kernel paths: move_pages -> do_pages_move -> add_page_for_migration ->
 * migrate_pages (MPOL_MF_MOVE / MPOL_MF_MOVE_ALL); mbind(MPOL_MF_MOVE) ->
 * do_mbind -> queue_pages_range -> migrate_pages; migrate_pages(2) ->
 * do_migrate_pages; underneath: try_to_migrate (rmap, MMU_NOTIFY_CLEAR
 * invalidations of mirrors), folio_migrate_mapping (refcount check that
 * makes pinned folios fail), remove_migration_ptes; THP: migrate the whole
 * folio or split when the target has no free huge page; hugetlb: needs a
 * free huge page on the target node.
 *
 * Needs: two NUMA nodes with memory ("needs 2 NUMA nodes, found N"
 * otherwise; the kernel matrix gives two).  hold=pin and hold=mirror need
 * /dev/faultline; hold=uring needs io_uring; method=move-pages-all needs
 * CAP_SYS_NICE.  Run with threads=1: the per-direction metrics are one
 * sample per worker per move.
 *
 * To use:
 *   faultline run numa-migrate --backing anon-4k,thp --threads 1
 *   faultline run numa-migrate --set hold=pin --set hold_len=1M --threads 1
 *   faultline run workloads/suites/migrate.job
 *
 * One batch (run()) is one migration of the whole range to the other node:
 * batches alternate a -> b and b -> a, so the first measured repetition
 * after one warm-up goes b -> a.  The core's throughput counts the range
 * asked for; a_to_b_GBps / b_to_a_GBps count what actually moved (pages
 * found on the target node afterwards) over the time of the one syscall.
 * After every move (untimed, accessors paused): where every page is
 * (move_pages status query), folios of the range (kpageflags/smaps), the
 * backing re-verified (a THP range that migration split is a skip, not a
 * 4K number), the data pattern checked word by word, the writers' version
 * words checked, and with a device: the pinned pages checked coherent (the
 * device writes through the pin, the CPU must see it) or the mirror
 * re-faulted (time, invalidations by event, stale entries must be 0).
 *
 * pair=4k|unheld moves a twin range in the same batch (order alternating)
 * and records the ratio of the two moves: THP vs 4 KiB folios, or a mirrored
 * range vs the same backing without the mirror.  Under TCG with a loaded
 * host one case against another drifts by 5x; the same-moment ratio does not.
 *
 * Outcomes: data loss anywhere is fail; pages that did not move are the
 * observed behaviour (counted per errno name, in and out of the held range).
 */
#include <errno.h>
#include <numa.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "numa_migrate.h"
#include "sysfs.h"

static const char *const methods[] = { "move-pages", "move-pages-all", "mbind", "migrate-pages", NULL };
static const char *const holds[] = { "none", "pin", "uring", "mirror", NULL };
static const char *const races[] = { "none", "fork", "munmap", NULL };
static const char *const pairs[] = { "none", "4k", "unheld", NULL };
static const char *const granules[] = { "4k", "folio", NULL };

static const struct fl_option nm_options[] = {
	FL_OPT_SIZE_(struct nm_conf, size, "size", 4096, 64ull << 30, "64M",
		     "bytes of the range each worker migrates back and forth"),
	FL_OPT_ENUM_(struct nm_conf, method, "method", methods, "move-pages",
		     "move-pages: move_pages(MPOL_MF_MOVE); move-pages-all: MPOL_MF_MOVE_ALL (CAP_SYS_NICE); mbind: mbind(MPOL_BIND, MPOL_MF_MOVE|MPOL_MF_STRICT); migrate-pages: migrate_pages(2) of the whole process (moves more than the range)"),
	FL_OPT_ENUM_(struct nm_conf, granule, "granule", granules, "4k",
		     "move-pages: one address per 4 KiB page, or one per backing page (2 MiB for thp/hugetlb-2m)"),
	FL_OPT_ENUM_(struct nm_conf, hold, "hold", holds, "none",
		     "device hold on the first hold_len bytes: pin (faultline.ko pin_user_pages_fast FOLL_WRITE|FOLL_LONGTERM), uring (io_uring fixed buffer), mirror (faultline.ko mmu_interval_notifier + hmm_range_fault)"),
	FL_OPT_SIZE_(struct nm_conf, hold_len, "hold_len", 0, FL_MAX_LEN, "0",
		     "bytes held from the start of the range; 0 = all of it"),
	FL_OPT_INT_(struct nm_conf, readers, "readers", 0, 64, "0",
		    "threads reading the range and checking the pattern while it moves"),
	FL_OPT_INT_(struct nm_conf, writers, "writers", 0, 64, "0",
		    "threads writing a version word into every page while it moves (checked after each move)"),
	FL_OPT_ENUM_(struct nm_conf, race, "race", races, "none",
		     "fork: a thread forks in a loop, children check the pattern; munmap: a thread unmaps, remaps and refills the last race_len bytes"),
	FL_OPT_SIZE_(struct nm_conf, race_len, "race_len", 4096, 1ull << 30, "2M",
		     "race=munmap: bytes at the end of the range that are unmapped and remapped"),
	FL_OPT_ENUM_(struct nm_conf, pair, "pair", pairs, "none",
		     "a twin range of the same size moved in every batch (alternating which goes first), for ratios taken at the same moment, robust to host noise (TCG): 4k (thp backing) an anon 4 KiB twin -> thp_speedup_per_byte; unheld (hold=mirror) a twin of the same backing without the mirror -> mirror_slowdown, mirror_added_ns_per_folio"),
	FL_OPT_END
};

/*
 * /proc/vmstat counters read around each move: whether THP moved whole or
 * split, and whether the target allocation had to compact (a stall that
 * dominates a THP move when the target node is fragmented).
 */
static const char *const vmstat_names[] = {
	"pgmigrate_success", "pgmigrate_fail", "thp_migration_success",
	"thp_migration_fail", "thp_migration_split", "compact_stall", "numa_pages_migrated",
};
_Static_assert(sizeof(vmstat_names) / sizeof(vmstat_names[0]) == NR_VMSTAT, "vmstat_names");

static void vmstat_read(uint64_t v[NR_VMSTAT])
{
	FILE *f = fopen("/proc/vmstat", "r");
	char name[64];
	unsigned long long x;

	memset(v, 0, NR_VMSTAT * sizeof(v[0]));
	if (!f)
		return;
	while (fscanf(f, "%63s %llu", name, &x) == 2)
		for (size_t i = 0; i < NR_VMSTAT; i++)
			if (!strcmp(name, vmstat_names[i]))
				v[i] = x;
	fclose(f);
}

static int node_pair(int node[2])
{
	int n = 0;

	for (int i = 0; i <= numa_max_node() && n < 2; i++) {
		long long fr;

		if (!numa_bitmask_isbitset(numa_all_nodes_ptr, (unsigned)i))
			continue;
		if (numa_node_size64(i, &fr) <= 0)
			continue;
		node[n++] = i;
	}
	return n;
}

static size_t nm_footprint(const struct fl_case *c)
{
	const struct nm_conf *cf = c->config;

	/* hugetlb migration needs a free huge page on the target: twice the range, spread over the nodes. */
	if (c->backing == FL_BACKING_HUGETLB_2M || c->backing == FL_BACKING_HUGETLB_1G)
		return 2 * cf->size;
	return cf->size;
}

static const char *nm_supported(struct fl_case *c)
{
	static char buf[160];
	const struct nm_conf *cf = c->config;
	int node[2], n = fl_numa_nodes();

	if (n < 2) {
		snprintf(buf, sizeof(buf), "needs 2 NUMA nodes, found %d (qemu -numa, or numa=fake=2 on the kernel command line)", n);
		return buf;
	}
	if (node_pair(node) < 2)
		return "needs 2 NUMA nodes with memory, found fewer (memoryless nodes do not count)";
	if (cf->hold_len > cf->size)
		return "hold_len is larger than size";
	if (cf->race == R_MUNMAP && cf->race_len >= cf->size)
		return "race=munmap needs race_len smaller than size";
	if (cf->race == R_MUNMAP && cf->race_len % fl_backings[c->backing].page_size)
		return "race_len must be a multiple of the backing's page size";
	if (cf->race == R_MUNMAP && cf->hold != H_NONE)
		return "race=munmap runs with hold=none (the device would hold pages the race unmaps)";
	if (cf->pair && (cf->race != R_NONE || cf->readers || cf->writers ||
			 (cf->method != M_MOVE_PAGES && cf->method != M_MOVE_PAGES_ALL)))
		return "pair runs with method=move-pages or move-pages-all, no race and no accessors";
	if (cf->pair == P_4K && (c->backing != FL_BACKING_THP || cf->hold != H_NONE))
		return "pair=4k runs on the thp backing with hold=none";
	if (cf->pair == P_UNHELD && cf->hold != H_MIRROR)
		return "pair=unheld runs with hold=mirror (a pinned range does not move)";
	if (cf->hold == H_PIN)
		return fl_driver_supported(FL_FEAT_PIN);
	if (cf->hold == H_MIRROR)
		return fl_driver_supported(FL_FEAT_MIRROR);
	return NULL;
}

static int nm_setup(struct fl_case *c)
{
	const struct nm_conf *cf = c->config;
	char buf[128];
	int node[2];
	long long bal;

	c->priv = calloc(c->nr_workers, sizeof(struct nm_worker));
	if (!c->priv)
		return -ENOMEM;
	node_pair(node);
	snprintf(buf, sizeof(buf), "a=node%d b=node%d; %s", node[0], node[1],
		 cf->method == M_MIGRATE_PAGES ? "migrate_pages(2) moves every page of the process on the source node" : "only the range moves");
	fl_case_detail(c, "nodes", buf);
	if (!fl_sysfs_read_ll("/proc/sys/kernel/numa_balancing", &bal) && bal) {
		snprintf(buf, sizeof(buf), "%lld: the range is bound MPOL_BIND to a and b (no MPOL_F_MOF), so task_numa_work skips it", bal);
		fl_case_detail(c, "numa_balancing", buf);
	}
	return 0;
}

/*
 * Automatic NUMA balancing (on by default on NUMA machines) would migrate
 * the range back towards the CPU that verifies it, racing our moves (pages
 * under its migration read as -ENOENT).  A VMA policy of MPOL_BIND {a, b},
 * without MPOL_F_MOF, makes task_numa_work skip the range
 * (vma_policy_mof()); move_pages and migrate_pages ignore VMA policies.
 */
int nm_bind_both(struct nm_worker *nw, void *addr, size_t len)
{
	unsigned long mask[16] = { 0 };

	for (int i = 0; i < 2; i++)
		mask[nw->node[i] / 64] |= 1ul << (nw->node[i] % 64);
	return mbind(addr, len, MPOL_BIND, mask, sizeof(mask) * 8, 0) ? -errno : 0;
}















static uint64_t count_folios(struct nm_worker *nw)
{
	struct fl_range_stat st;
	uint64_t huge;

	if (fl_range_stat(nw->m.addr, nw->npages * 4096, &st))
		return nw->npages;
	if (nw->c->backing == FL_BACKING_HUGETLB_2M)
		return st.present_pages / 512;
	if (nw->c->backing == FL_BACKING_HUGETLB_1G)
		return st.present_pages / (512 * 512);
	huge = st.have_kpageflags ? st.thp_pages : st.anon_huge_kb / 4;
	if (huge > st.present_pages)
		huge = st.present_pages;
	return huge / 512 + (st.present_pages - huge);
}

/* Move the range to @node; returns 0 or -1 with the case outcome set. */
static int migrate_to(struct fl_worker *w, struct nm_worker *nw, int node)
{
	const struct nm_conf *cf = w->c->config;
	struct bitmask *to = numa_bitmask_alloc((unsigned)numa_max_possible_node() + 1);
	struct bitmask *from = numa_bitmask_alloc((unsigned)numa_max_possible_node() + 1);
	uint64_t t0, t1;
	long ret = 0;
	int flags = MPOL_MF_MOVE;

	if (!to || !from) {
		ret = fl_case_error(w->c, "numa_bitmask_alloc failed");
		goto out;
	}
	numa_bitmask_setbit(to, (unsigned)node);
	numa_bitmask_setbit(from, (unsigned)nw->node[node == nw->node[0]]);
	for (size_t i = 0; i < nw->nmv; i++) {
		nw->nodes[i] = node;
		nw->status[i] = ST_UNSET;
	}
	t0 = fl_now_ns();
	switch (cf->method) {
	case M_MOVE_PAGES_ALL:
		flags = MPOL_MF_MOVE_ALL;
		/* fall through */
	case M_MOVE_PAGES:
		ret = move_pages(0, nw->nmv, nw->mv_pages, nw->nodes, nw->status, flags);
		break;
	case M_MBIND:
		ret = mbind(nw->m.addr, nw->npages * 4096, MPOL_BIND, to->maskp, to->size + 1,
			    MPOL_MF_MOVE | MPOL_MF_STRICT);
		break;
	case M_MIGRATE_PAGES:
		ret = migrate_pages(0, from->size + 1, from->maskp, to->maskp);
		break;
	}
	t1 = fl_now_ns();
	nw->move_ns = t1 - t0;
	nw->move_ret = ret;
	nw->move_errno = ret < 0 ? errno : 0;
	fl_lat_record(w, LAT_MOVE, t1 - t0);
	ret = 0;
	if (nw->move_ret < 0) {
		if (nw->move_errno == EPERM && cf->method == M_MOVE_PAGES_ALL)
			ret = fl_case_skip(w->c, "MPOL_MF_MOVE_ALL needs CAP_SYS_NICE (EPERM)");
		/* mbind STRICT: EIO = some pages could not be moved; counted below. */
		else if (!(nw->move_errno == EIO && cf->method == M_MBIND))
			ret = fl_case_error(w->c, "%s to node %d: %s", methods[cf->method], node,
					    fl_errno_name(nw->move_errno));
	}
out:
	if (to)
		numa_bitmask_free(to);
	if (from)
		numa_bitmask_free(from);
	return (int)ret;
}




static int nm_prepare(struct fl_worker *w)
{
	const struct nm_conf *cf = w->c->config;
	struct nm_worker *nw = (struct nm_worker *)w->c->priv + w->id;
	size_t unit = fl_backings[w->c->backing].page_size;
	char why[256];
	int ret;

	w->priv = nw;
	nw->c = w->c;
	if (nw->mapped) {
		nw->folios_before = count_folios(nw);
		vmstat_read(nw->vm_before);
		atomic_store(&nw->pause, 0);
		return 0;
	}
	ret = fl_map(w->c->bconf, w->c->backing, cf->size, 0, &nw->m, why, sizeof(why));
	if (ret)
		return ret == -ENOMEM ? fl_case_skip(w->c, "%s", why) : fl_case_error(w->c, "%s", why);
	nw->mapped = true;
	nw->npages = nw->m.len / 4096;
	nw->stable = cf->race == R_MUNMAP ? nw->npages - cf->race_len / 4096 : nw->npages;
	nw->held = cf->hold == H_NONE ? 0 : cf->hold_len ? cf->hold_len / 4096 : nw->npages;
	nw->seed = 0x6e756d61ull + w->id;
	nw->pages = calloc(nw->npages, sizeof(void *));
	nw->mv_pages = calloc(nw->npages, sizeof(void *));
	nw->nodes = calloc(nw->npages, sizeof(int));
	nw->status = calloc(nw->npages, sizeof(int));
	nw->where = calloc(nw->npages, sizeof(int));
	nw->prev = calloc(nw->npages, sizeof(int));
	if (!nw->pages || !nw->mv_pages || !nw->nodes || !nw->status || !nw->where || !nw->prev)
		return fl_case_error(w->c, "out of memory for %zu page entries", nw->npages);
	node_pair(nw->node);
	ret = nm_bind_both(nw, nw->m.addr, nw->m.len);
	if (ret)
		return fl_case_error(w->c, "mbind(MPOL_BIND, nodes %d,%d): %s", nw->node[0], nw->node[1], fl_errno_name(-ret));
	for (size_t i = 0; i < nw->npages; i++)
		nw->pages[i] = (char *)nw->m.addr + i * 4096;
	if (cf->granule == G_FOLIO)
		for (size_t off = 0; off < nw->m.len; off += unit)
			nw->mv_pages[nw->nmv++] = (char *)nw->m.addr + off;
	else
		for (size_t i = 0; i < nw->npages; i++)
			nw->mv_pages[nw->nmv++] = nw->pages[i];
	nm_fill(nw, 0, nw->npages);
	if (fl_verify(&nw->m, why, sizeof(why)))
		return fl_case_skip(w->c, "%s", why);
	/* Start on a (untimed), whatever node the faults chose. */
	for (size_t i = 0; i < nw->npages; i++)
		nw->nodes[i] = nw->node[0];
	if (move_pages(0, nw->npages, nw->pages, nw->nodes, nw->status, MPOL_MF_MOVE) < 0)
		return errno == ENOSYS ? fl_case_skip(w->c, "move_pages: ENOSYS (kernel without CONFIG_MIGRATION)")
				       : fl_case_error(w->c, "initial move_pages to node %d: %s", nw->node[0], fl_errno_name(errno));
	nw->at = 0;
	if (move_pages(0, nw->npages, nw->pages, NULL, nw->prev, 0) < 0)
		return fl_case_error(w->c, "move_pages status query: %s", fl_errno_name(errno));
	if (fl_verify(&nw->m, why, sizeof(why)))
		return fl_case_skip(w->c, "after the initial move to node %d: %s", nw->node[0], why);
	if (cf->pair && (ret = nm_pair_setup(w, nw)))
		return ret;
	ret = nm_hold_create(w, nw);
	if (ret)
		return ret;
	ret = nm_accessors_start(w, nw);
	if (ret)
		return ret;
	nw->folios_before = count_folios(nw);
	vmstat_read(nw->vm_before);
	atomic_store(&nw->pause, 0);
	return 0;
}

static int nm_run(struct fl_worker *w, struct fl_work *done)
{
	const struct nm_conf *cf = w->c->config;
	struct nm_worker *nw = w->priv;
	int to = nw->node[!nw->at], ret;
	/* pair: alternate which range goes first, so neither always moves into a warm node. */
	bool twin_first = cf->pair && (nw->moves / 2) % 2;

	if (twin_first && (ret = nm_pair_move(w, nw, to)))
		return ret;
	ret = migrate_to(w, nw, to);
	if (ret)
		return ret;
	if (cf->pair && !twin_first && (ret = nm_pair_move(w, nw, to)))
		return ret;
	nw->at = !nw->at;
	done->ops = nw->folios_before;
	done->bytes = nw->npages * 4096;
	return 0;
}

/*
 * Why the pages that stayed behind did not move, by the status the kernel
 * wrote for them.  "no-status": the kernel wrote none (mbind and
 * migrate_pages never do; move_pages leaves a batch it failed to migrate
 * unwritten and returns the count instead, e.g. pinned folios whose
 * refcount check in folio_migrate_mapping kept failing with -EAGAIN).
 */
static void reason_counts(struct nm_worker *nw, char *buf, size_t len)
{
	size_t o = 0;

	o += (size_t)snprintf(buf, len, "not moved by status:");
	if (nw->why_unset)
		o += (size_t)snprintf(buf + o, len - o, " no-status=%llu", (unsigned long long)nw->why_unset);
	if (nw->why_node && o < len)
		o += (size_t)snprintf(buf + o, len - o, " node-reported=%llu", (unsigned long long)nw->why_node);
	for (int e = 1; e <= NR_ERRNO && o < len; e++)
		if (nw->why_err[e])
			o += (size_t)snprintf(buf + o, len - o, " %s=%llu",
					      e == NR_ERRNO ? "other" : fl_errno_name(e),
					      (unsigned long long)nw->why_err[e]);
	if (o < len)
		snprintf(buf + o, len - o,
			 "; in %llu moves: %llu held pages and %llu other pages stayed; move_pages returned a positive count of %llu (failed or not attempted); %llu error statuses on pages that did move",
			 (unsigned long long)nw->moves, (unsigned long long)nw->failed_held,
			 (unsigned long long)nw->failed_other, (unsigned long long)nw->ret_positive,
			 (unsigned long long)nw->err_moved);
}


/* The status the migration call wrote for 4 KiB page @i. */
static int page_status(const struct nm_worker *nw, size_t i)
{
	const struct nm_conf *cf = nw->c->config;

	if (cf->method == M_MBIND || cf->method == M_MIGRATE_PAGES)
		return nw->move_ret < 0 ? -nw->move_errno : ST_UNSET;
	if (nw->nmv != nw->npages)
		i /= nw->npages / nw->nmv;
	return nw->status[i];
}

static int nm_check(struct fl_worker *w)
{
	const struct nm_conf *cf = w->c->config;
	struct nm_worker *nw = w->priv;
	int target = nw->node[nw->at];
	uint64_t moved = 0, failed_held = 0, failed = 0, bad, first, folios;
	const char *dir = nw->at ? "a_to_b" : "b_to_a";
	char name[48], buf[640], why[256];
	struct fl_mapping sm;
	uint64_t vm[NR_VMSTAT];
	size_t o;
	int ret;

	if (!nw->mapped)
		return 0;
	nm_accessors_pause(nw);
	for (unsigned i = 0; i < nw->nacc; i++) {
		struct accessor *a = &nw->acc[i];

		if (a->err[0])
			return fl_case_error(w->c, "%s", a->err);
		if (a->mismatches)
			return fl_case_fail(w->c, "%s saw %llu words that differ from the pattern while the range moved (first at byte %llu)",
					    a->kind == 2 ? "forked children" : "a reader", (unsigned long long)a->mismatches,
					    (unsigned long long)a->first_bad);
	}
	/* Where every page is now: the truth, whatever the call returned. */
	if (move_pages(0, nw->npages, nw->pages, NULL, nw->where, 0) < 0)
		return fl_case_error(w->c, "move_pages status query: %s", fl_errno_name(errno));
	for (size_t i = 0; i < nw->npages; i++) {
		int s = page_status(nw, i);

		if (nw->where[i] == target) {
			moved += nw->prev[i] != target;
			/* e.g. -EBUSY on the tail pages of a THP that did move (granule=4k) */
			nw->err_moved += s < 0 && s != ST_UNSET;
			continue;
		}
		if (i >= nw->stable)
			continue;
		if (i < nw->held)
			failed_held++;
		else
			failed++;
		if (s == ST_UNSET)
			nw->why_unset++;
		else if (s >= 0)
			nw->why_node++;
		else
			nw->why_err[-s < NR_ERRNO ? -s : NR_ERRNO]++;
	}
	memcpy(nw->prev, nw->where, nw->npages * sizeof(int));
	vmstat_read(vm);
	for (size_t i = 0; i < NR_VMSTAT; i++)
		nw->vm_total[i] += vm[i] - nw->vm_before[i];
	o = 0;
	for (size_t i = 0; i < NR_VMSTAT && o < sizeof(buf); i++)
		o += (size_t)snprintf(buf + o, sizeof(buf) - o, "%s%s=%llu", i ? " " : "",
				      vmstat_names[i], (unsigned long long)nw->vm_total[i]);
	fl_case_detail(w->c, "vmstat_during_moves", buf);
	if (nw->move_ret > 0)
		nw->ret_positive += (uint64_t)nw->move_ret;
	nw->failed_held += failed_held;
	nw->failed_other += failed;
	nw->moves++;

	folios = count_folios(nw);
	if (moved && nw->move_ns) {
		double moved_folios = (double)folios * (double)moved / (double)nw->npages;

		snprintf(name, sizeof(name), "%s_GBps", dir);
		fl_metric(w->c, name, "GB/s", FL_HIGHER_IS_BETTER, (double)moved * 4096 / (double)nw->move_ns);
		snprintf(name, sizeof(name), "%s_folio_ns", dir);
		fl_metric(w->c, name, "ns/folio", FL_LOWER_IS_BETTER, (double)nw->move_ns / moved_folios);
	}
	/* Details, not metrics: FL_MAX_METRICS (16, the core's 3 included) is full with pair + mirror. */
	snprintf(name, sizeof(name), "%llu", (unsigned long long)folios);
	fl_case_detail(w->c, "folios_after_last_move", name);
	fl_metric(w->c, "not_moved_pages", "pages", FL_INFORMATIONAL, (double)(failed + failed_held));
	if (cf->hold != H_NONE)
		fl_metric(w->c, "not_moved_held_pages", "pages", FL_INFORMATIONAL, (double)failed_held);

	reason_counts(nw, buf, sizeof(buf));
	fl_case_detail(w->c, "move_status", buf);

	/* THP that migration split is no longer a THP measurement (race=munmap: the part it leaves alone). */
	sm = nw->m;
	sm.len = nw->stable * 4096;
	if (fl_verify(&sm, why, sizeof(why)))
		return fl_case_skip(w->c, "after migrating to node %d: %s", target, why);

	bad = nm_verify(nw, 0, nw->stable, &first);
	if (bad)
		return fl_case_fail(w->c, "%llu words lost or changed after migrating to node %d (first at byte %llu)",
				    (unsigned long long)bad, target, (unsigned long long)first);
	for (unsigned i = 0; i < nw->nacc; i++) {
		struct accessor *a = &nw->acc[i];

		if (a->kind == 1 && (bad = nm_writer_check(nw, a, &first)))
			return fl_case_fail(w->c, "writer %u: %llu version words lost after migrating to node %d (first at byte %llu)",
					    a->idx, (unsigned long long)bad, target, (unsigned long long)first);
	}
	if (cf->race != R_NONE) {
		for (unsigned i = 0; i < nw->nacc; i++)
			if (nw->acc[i].kind == 2)
				fl_metric(w->c, cf->race == R_FORK ? "forks" : "munmaps", "ops", FL_INFORMATIONAL,
					  (double)(nw->acc[i].forks + nw->acc[i].munmaps));
	}
	if (cf->pair && (ret = nm_pair_check(w, nw, target, moved, folios)))
		return ret;
	return nm_check_device(w, nw);
}

static void nm_teardown(struct fl_case *c)
{
	struct nm_worker *nws = c->priv;

	for (unsigned i = 0; nws && i < c->nr_workers; i++) {
		struct nm_worker *nw = &nws[i];

		if (nw->nacc)
			nm_accessors_stop(nw);
		nm_hold_release(nw);
		if (nw->mapped)
			fl_unmap(&nw->m);
		free(nw->pages);
		free(nw->mv_pages);
		free(nw->nodes);
		free(nw->status);
		free(nw->where);
		free(nw->prev);
		if (nw->pmapped)
			fl_unmap(&nw->pm);
		free(nw->ppages);
		free(nw->pmv);
		free(nw->pnodes);
		free(nw->pstatus);
		free(nw->pwhere);
	}
	free(nws);
}

/* Pages the kernel migrated, and failed to, per folio asked to move. */
static const struct fl_evidence numa_migrate_evidence[] = {
	{ FL_VS_pgmigrate_success, FL_PER_OP, 0, false, 0, 0 },
	{ FL_VS_pgmigrate_fail, FL_PER_OP, 0, false, 0, 0 },
	{ FL_VS_thp_migration_success, FL_PER_OP, 0, false, 0, 0 },
	{ FL_VS_thp_split_page, FL_PER_OP, 0, false, 0, 0 },
	{ .per = FL_PER_END }
};

const struct workload wl_numa_migrate = {
	.name = "numa-migrate",
	.headline = "throughput",
	.evidence = numa_migrate_evidence,
	.summary = "NUMA page migration between two nodes: move_pages, mbind(MPOL_MF_MOVE), migrate_pages; with pins, mirrors, accessors, fork/munmap races",
	.kernel_paths = "do_pages_move -> add_page_for_migration -> migrate_pages; do_mbind -> queue_pages_range; "
			"do_migrate_pages; try_to_migrate (MMU_NOTIFY_CLEAR), folio_migrate_mapping (refcount vs pins), "
			"remove_migration_ptes; THP whole-folio migration or split; hugetlb alloc_migration_target",
	.needs = "2 NUMA nodes with memory; hold=pin|mirror: /dev/faultline; hold=uring: io_uring; method=move-pages-all: CAP_SYS_NICE",
	.backings = FL_BACKINGS_RAM,
	.default_backings = FL_B(FL_BACKING_ANON_4K) | FL_B(FL_BACKING_THP),
	.mode = FL_MODE_BATCH,
	.op_unit = "folio",
	.report_bytes = true,
	.lat = {
		[LAT_MOVE] = { "move", "one migration call over the whole range (move_pages/mbind/migrate_pages)" },
		[LAT_REMIRROR] = { "remirror", "hmm_range_fault + program of a range migration invalidated (hold=mirror, kernel ktime)" },
		[LAT_CALLBACK] = { "callback", "mirror invalidate callback during migration (hold=mirror, kernel ktime)" },
	},
	.options = nm_options,
	.config_size = sizeof(struct nm_conf),
	.footprint = nm_footprint,
	.supported = nm_supported,
	.setup = nm_setup,
	.prepare = nm_prepare,
	.run = nm_run,
	.check = nm_check,
	.teardown = nm_teardown,
};

FL_WORKLOAD_REGISTER(wl_numa_migrate);
