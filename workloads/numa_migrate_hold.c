// SPDX-License-Identifier: GPL-2.0
/*
 * numa-migrate's device side: the hold on the first hold_len bytes (a
 * faultline.ko long-term pin, an io_uring registration, or an HMM mirror,
 * through bench/hold.c and the driver), what the device must see after
 * each move (its writes through a pin visible to the CPU; a mirror
 * re-faulted with no stale entry), and pair='s twin range moved beside the
 * range for same-moment ratios.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "numa_migrate.h"

int nm_hold_create(struct fl_worker *w, struct nm_worker *nw)
{
	const struct nm_conf *cf = w->c->config;
	size_t len = nw->held * 4096;
	uint64_t retries = 0;
	char why[256];
	bool refused;
	int ret;

	if (cf->hold == H_NONE)
		return 0;
	if (cf->hold == H_URING || cf->hold == H_PIN) {
		ret = fl_hold_take(&nw->h, cf->hold == H_URING ? FL_HOLD_IO_URING : FL_HOLD_DRIVER, nw->m.addr, len, 4,
				   &refused, why, sizeof(why));
		if (ret && !refused)
			return fl_case_skip(w->c, "%s", why);
		if (ret && cf->hold == H_URING)
			return fl_case_skip(w->c, "io_uring_register_buffers of %zu bytes of %s refused: %s (observed behaviour)",
					    len, fl_backings[w->c->backing].name, fl_errno_name(ret));
		if (ret)
			return fl_case_skip(w->c, "pin_user_pages_fast(FOLL_LONGTERM) of %s refused: %s (observed behaviour)",
					    fl_backings[w->c->backing].name, fl_errno_name(ret));
		return 0;
	}
	if (fl_hold_driver(&nw->h, why, sizeof(why)))
		return fl_case_skip(w->c, "%s", why);
	ret = fl_drv_retry_busy(fl_drv_mirror_create(&nw->h.drv, nw->m.addr, len,
						     FL_MIRROR_WRITE | FL_MIRROR_PREFAULT, &nw->mirror),
				&retries);
	if (ret)
		return fl_case_error(w->c, "FL_IOC_MIRROR_CREATE: %s (%llu tries)",
				     fl_errno_name(-ret), (unsigned long long)retries + 1);
	nw->have_mirror = true;
	ret = fl_drv_mirror_stats(&nw->h.drv, nw->mirror, FL_STATS_RESET, &(struct fl_mirror_stats){ 0 }, NULL, NULL);
	if (ret)
		return fl_case_error(w->c, "FL_IOC_MIRROR_STATS: %s", fl_errno_name(-ret));
	return 0;
}

void nm_hold_release(struct nm_worker *nw)
{
	if (nw->have_mirror)
		fl_drv_destroy(&nw->h.drv, nw->mirror, 0, NULL);
	nw->have_mirror = false;
	if (nw->h.pinned)
		fl_hold_unpin(&nw->h, FL_UNPIN_DIRTY, NULL);
	fl_hold_close(&nw->h);
}

/* pair: map the twin, fill it, bind it like the range, put it on a. */
int nm_pair_setup(struct fl_worker *w, struct nm_worker *nw)
{
	const struct nm_conf *cf = w->c->config;
	enum fl_backing_id b = cf->pair == P_4K ? FL_BACKING_ANON_4K : w->c->backing;
	size_t stride = cf->granule == G_FOLIO ? fl_backings[b].page_size : 4096;
		char why[256];
	int ret;

	ret = fl_map(w->c->bconf, b, nw->npages * 4096, 0, &nw->pm, why, sizeof(why));
	if (ret)
		return ret == -ENOMEM ? fl_case_skip(w->c, "pair: %s", why) : fl_case_error(w->c, "pair: %s", why);
	nw->pmapped = true;
	nw->ppages = calloc(nw->npages, sizeof(void *));
	nw->pmv = calloc(nw->npages, sizeof(void *));
	nw->pnodes = calloc(nw->npages, sizeof(int));
	nw->pstatus = calloc(nw->npages, sizeof(int));
	nw->pwhere = calloc(nw->npages, sizeof(int));
	if (!nw->ppages || !nw->pmv || !nw->pnodes || !nw->pstatus || !nw->pwhere)
		return fl_case_error(w->c, "out of memory for %zu page entries", nw->npages);
	ret = nm_bind_both(nw, nw->pm.addr, nw->pm.len);
	if (ret)
		return fl_case_error(w->c, "pair: mbind: %s", fl_errno_name(-ret));
	fl_fill_seed(nw->pm.addr, 0, nw->pm.len, ~nw->seed);
	for (size_t i = 0; i < nw->npages; i++) {
		nw->ppages[i] = (char *)nw->pm.addr + i * 4096;
		nw->pnodes[i] = nw->node[0];
	}
	for (size_t off = 0; off < nw->pm.len; off += stride)
		nw->pmv[nw->npmv++] = (char *)nw->pm.addr + off;
	if (move_pages(0, nw->npages, nw->ppages, nw->pnodes, nw->pstatus, cf->method == M_MOVE_PAGES_ALL ? MPOL_MF_MOVE_ALL : MPOL_MF_MOVE) < 0)
		return fl_case_error(w->c, "pair: initial move_pages: %s", fl_errno_name(errno));
	if (fl_verify(&nw->pm, why, sizeof(why)))
		return fl_case_skip(w->c, "pair: %s", why);
	return 0;
}

int nm_pair_move(struct fl_worker *w, struct nm_worker *nw, int node)
{
	const struct nm_conf *cf = w->c->config;
	uint64_t t0;
	long ret;

	for (size_t i = 0; i < nw->npmv; i++)
		nw->pnodes[i] = node;
	t0 = fl_now_ns();
	ret = move_pages(0, nw->npmv, nw->pmv, nw->pnodes, nw->pstatus,
			 cf->method == M_MOVE_PAGES_ALL ? MPOL_MF_MOVE_ALL : MPOL_MF_MOVE);
	nw->pmove_ns = fl_now_ns() - t0;
	return ret < 0 ? fl_case_error(w->c, "pair: move_pages to node %d: %s", node, fl_errno_name(errno)) : 0;
}

/* The twin must be on @node with its data; then the same-moment ratio. */
int nm_pair_check(struct fl_worker *w, struct nm_worker *nw, int node, uint64_t moved,
		      uint64_t folios)
{
	const struct nm_conf *cf = w->c->config;
	uint64_t on = 0, first;

	if (move_pages(0, nw->npages, nw->ppages, NULL, nw->pwhere, 0) < 0)
		return fl_case_error(w->c, "pair: status query: %s", fl_errno_name(errno));
	for (size_t i = 0; i < nw->npages; i++)
		on += nw->pwhere[i] == node;
	if (fl_check_seed(nw->pm.addr, 0, nw->pm.len, ~nw->seed, &first))
		return fl_case_fail(w->c, "pair: word at byte %llu changed after migrating to node %d",
				    (unsigned long long)first, node);
	if (on != nw->npages || moved != nw->npages || !nw->pmove_ns || !nw->move_ns || !folios)
		return 0;	/* a partial move is not a ratio */
	fl_metric(w->c, "twin_GBps", "GB/s", FL_HIGHER_IS_BETTER, (double)nw->pm.len / (double)nw->pmove_ns);
	if (cf->pair == P_4K) {
		fl_metric(w->c, "thp_speedup_per_byte", "x", FL_HIGHER_IS_BETTER,
			  (double)nw->pmove_ns / (double)nw->move_ns);
	} else {
		fl_metric(w->c, "mirror_slowdown", "x", FL_LOWER_IS_BETTER,
			  (double)nw->move_ns / (double)nw->pmove_ns);
		fl_metric(w->c, "mirror_added_ns_per_folio", "ns/folio", FL_LOWER_IS_BETTER,
			  ((double)nw->move_ns - (double)nw->pmove_ns) / (double)folios);
	}
	return 0;
}

int nm_check_device(struct fl_worker *w, struct nm_worker *nw)
{
	const struct nm_conf *cf = w->c->config;
	struct fl_mirror_stats st;
	struct fl_access a;
	uint64_t first, bad, inval = 0;
	char ev[256];
	size_t o = 0;
	int ret;

	if (cf->hold == H_PIN && !cf->writers) {
		/*
		 * The device writes a new pattern through the pin; the CPU
		 * must see it.  A pinned page that migrated anyway would
		 * leave the device writing into the old copy.
		 */
		nw->seed++;
		ret = fl_drv_access(&nw->h.drv, nw->h.handle, FL_ACCESS_FILL, 0, nw->held * 4096, nw->seed, &a);
		if (ret)
			return fl_case_error(w->c, "device write through the pin: %s", fl_errno_name(-ret));
		nm_fill(nw, nw->held, nw->npages);
		bad = nm_verify(nw, 0, nw->held, &first);
		if (bad)
			return fl_case_fail(w->c, "the CPU does not see the device's write through the pin on %llu words (first at byte %llu): a pinned page moved",
					    (unsigned long long)bad, (unsigned long long)first);
		return 0;
	}
	if (cf->hold != H_MIRROR)
		return 0;
	/*
	 * Re-mirror: the device reads everything, re-faulting what migration
	 * invalidated.  The driver's fault gives up with -EBUSY after
	 * HMM_RANGE_DEFAULT_TIMEOUT of invalidations; a GPU replays the fault,
	 * and so do we (fl_drv_retry_busy).  Without it a 10-min KASAN stress
	 * run ended this case in error after 12285 ops.
	 */
	ret = fl_drv_retry_busy(fl_drv_access(&nw->h.drv, nw->mirror, cf->writers ? FL_ACCESS_READ : FL_ACCESS_VERIFY,
					      0, nw->held * 4096, nw->seed, &a), &nw->access_retries);
	if (ret)
		return fl_case_error(w->c, "device read after migration: %s (%llu whole faults retried in this case)",
				     fl_errno_name(-ret), (unsigned long long)nw->access_retries);
	fl_metric(w->c, "remirror_ms", "ms", FL_LOWER_IS_BETTER, (double)a.ns / 1e6);
	if (!cf->writers && a.mismatches)
		return fl_case_fail(w->c, "the device reads %llu words that differ from the CPU's data after migration (first at byte %llu)",
				    (unsigned long long)a.mismatches, (unsigned long long)a.first_mismatch);
	ret = fl_drv_retry_busy(fl_drv_access(&nw->h.drv, nw->mirror, FL_ACCESS_CHECK_STALE, 0, nw->held * 4096, 0, &a),
				&nw->access_retries);
	if (ret)
		return fl_case_error(w->c, "stale check: %s", fl_errno_name(-ret));
	ret = fl_drv_mirror_stats(&nw->h.drv, nw->mirror, FL_STATS_RESET, &st,
				  w->lat[LAT_CALLBACK], w->lat[LAT_REMIRROR]);
	if (ret)
		return fl_case_error(w->c, "FL_IOC_MIRROR_STATS: %s", fl_errno_name(-ret));
	for (int e = 0; e < FL_EV_COUNT; e++) {
		inval += st.invalidations[e];
		nw->inval_ev[e] += st.invalidations[e];
		if (nw->inval_ev[e] && o < sizeof(ev))
			o += (size_t)snprintf(ev + o, sizeof(ev) - o, "%s%s=%llu", o ? " " : "",
					      fl_driver_event_name(e), (unsigned long long)nw->inval_ev[e]);
	}
	if (o)
		fl_case_detail(w->c, "invalidations_by_event", ev);
	fl_metric(w->c, "invalidations", "callbacks", FL_INFORMATIONAL, (double)inval);
	fl_metric(w->c, "invalidated_pages", "pages", FL_INFORMATIONAL, (double)st.invalidated_pages);
	nw->remirror_retries += st.retries + st.ebusy;
	snprintf(ev, sizeof(ev), "%llu mmu_interval_read_retry hits + hmm_range_fault -EBUSY over %llu moves; "
		 "%llu device accesses retried after a whole fault timed out", (unsigned long long)nw->remirror_retries,
		 (unsigned long long)nw->moves, (unsigned long long)nw->access_retries);
	fl_case_detail(w->c, "remirror_retries", ev);
	if (st.stale)
		return fl_case_fail(w->c, "%llu stale device entries after migration: the mirror kept pages the CPU no longer maps",
				    (unsigned long long)st.stale);
	return 0;
}
