// SPDX-License-Identifier: GPL-2.0
/*
 * gup-bench: the kernel-side cost of get_user_pages / pin_user_pages, timed
 * inside the kernel by faultline.ko (FL_IOC_GUP_BENCH, the gup_test
 * benchmark shape), per backing and pages per call.  Complements gup-user,
 * which reaches the same paths through io_uring, O_DIRECT and vmsplice and
 * so includes syscall and setup cost.
 *
 * Kernel paths: get_user_pages_fast / pin_user_pages_fast -> gup_fast
 * (lockless pgtable walk), falling back to __gup_longterm_locked ->
 * __get_user_pages -> follow_page_mask / handle_mm_fault; FOLL_LONGTERM ->
 * check_and_migrate_movable_pages; release: unpin_user_pages / put_page.
 *
 * Needs: /dev/faultline (drivers/faultline.ko), root.
 *
 * To use:
 *   faultline run gup-bench --backing anon-4k,thp --set op=pin-fast --set pages_per_call=512
 *   faultline describe gup-bench
 *
 * The memory is populated before the timed batch, so the figures are GUP
 * on present pages (gup_test -a does the same).  Every batch checks that
 * all pages were got and, for pin ops, that the kernel saw them dma-pinned
 * (folio_maybe_dma_pinned).  A refusal the kernel documents (no page
 * got: FOLL_LONGTERM on fsdax, EOPNOTSUPP; FOLL_LONGTERM|FOLL_WRITE on a
 * page-cache file, EFAULT since 6.5; see fl_gup_refusal) makes the case a
 * skip whose reason names the errno and the check: that is the observed
 * behaviour, not a number.  Any other refusal of present memory (pin-fast
 * on anon-4k refused) is a GUP bug: a fail naming the errno.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hold.h"

static const char *const ops[] = { "get-fast", "pin-fast", "pin", "get", NULL };
/* Indexed like enum fl_gup_op. */
_Static_assert(FL_GUP_GET_FAST == 0 && FL_GUP_PIN_FAST == 1 && FL_GUP_PIN == 2 &&
	       FL_GUP_GET == 3, "ops[] order");

struct gup_conf {
	uint64_t size;
	int op;
	int64_t pages_per_call;
	bool write;
	bool longterm;
	int64_t lat_sample;
};

static const struct fl_option gup_options[] = {
	FL_OPT_SIZE_(struct gup_conf, size, "size", 4096, FL_MAX_LEN, "128M",
		     "bytes each worker gets/pins per batch"),
	FL_OPT_ENUM_(struct gup_conf, op, "op", ops, "pin-fast",
		     "get-fast: get_user_pages_fast; pin-fast: pin_user_pages_fast; pin: pin_user_pages under mmap_read_lock; get: get_user_pages"),
	FL_OPT_INT_(struct gup_conf, pages_per_call, "pages_per_call", 1, FL_GUP_MAX_PER_CALL, "512",
		    "4 KiB pages per get/pin call (gup_test -n)"),
	FL_OPT_BOOL_(struct gup_conf, write, "write", "yes", "FOLL_WRITE"),
	FL_OPT_BOOL_(struct gup_conf, longterm, "longterm", "no",
		     "FOLL_LONGTERM (pin ops only; migrates movable pages first)"),
	FL_OPT_INT_(struct gup_conf, lat_sample, "lat_sample", 0, 1 << 20, "0",
		    "time 1 call in N into the call histogram (0 = auto: one per 64 pages); the ns/page total is one timed loop either way"),
	FL_OPT_END
};

struct gup_worker {
	struct fl_driver drv;
	bool drv_open;		/* opened at the first prepare, closed at teardown */
	struct fl_mapping m;
	bool mapped;
};

static size_t gup_footprint(const struct fl_case *c)
{
	return ((const struct gup_conf *)c->config)->size;
}

static const char *gup_supported(struct fl_case *c)
{
	const struct gup_conf *cf = c->config;

	if (cf->longterm && cf->op != FL_GUP_PIN_FAST && cf->op != FL_GUP_PIN)
		return "longterm=yes applies to pin ops only (FOLL_LONGTERM needs FOLL_PIN)";
	if (cf->op == FL_GUP_GET_FAST)
		return fl_driver_supported(FL_FEAT_GET_USER_PAGES_FAST);
	return fl_driver_supported(FL_FEAT_GUP_BENCH);
}

/* Calls timed into the histogram: lat_sample, or about one per 64 pages. */
static int64_t lat_every(const struct gup_conf *cf)
{
	if (cf->lat_sample)
		return cf->lat_sample;
	return cf->pages_per_call >= 64 ? 1 : 64 / cf->pages_per_call;
}

static int gup_setup(struct fl_case *c)
{
	char every[24];

	snprintf(every, sizeof(every), "%lld", (long long)lat_every(c->config));
	fl_case_detail(c, "lat_sample_every", every);
	c->priv = calloc(c->nr_workers, sizeof(struct gup_worker));
	return c->priv ? 0 : -ENOMEM;
}

static int gup_prepare(struct fl_worker *w)
{
	const struct gup_conf *cf = w->c->config;
	struct gup_worker *gw = (struct gup_worker *)w->c->priv + w->id;
	char why[256];
	int ret;

	w->priv = gw;
	if (!gw->drv_open) {
		if (fl_driver_open(&gw->drv, why, sizeof(why)))
			return fl_case_skip(w->c, "%s", why);
		gw->drv_open = true;
	}
	ret = fl_map(w->c->bconf, w->c->backing, cf->size, 0, &gw->m, why, sizeof(why));
	if (ret)
		return ret == -ENOMEM ? fl_case_skip(w->c, "%s", why) : fl_case_error(w->c, "%s", why);
	gw->mapped = true;
	/* GUP on present pages: populate (and so verify) before timing. */
	for (size_t off = 0; off < gw->m.len; off += 4096)
		((volatile char *)gw->m.addr)[off] = 1;
	if (fl_verify(&gw->m, why, sizeof(why)))
		return fl_case_skip(w->c, "%s", why);
	return 0;
}

/* The kernel got no page: a skip where it documents the refusal, else a fail. */
static int refused(struct fl_worker *w, int err)
{
	const struct gup_conf *cf = w->c->config;
	const char *why = fl_gup_refusal(w->c->backing, (cf->write ? FL_FOLL_WRITE : 0) |
					 (cf->longterm ? FL_FOLL_LONGTERM : 0), err);

	if (why)
		return fl_case_skip(w->c, "the kernel refused %s%s on %s: %s (%s): documented: %s (observed behaviour)",
				    ops[cf->op], cf->longterm ? "+FOLL_LONGTERM" : "", fl_backings[w->c->backing].name,
				    fl_errno_name(err), strerror(err < 0 ? -err : err), why);
	return fl_case_fail(w->c, "the kernel refused %s%s%s on %s with %s (%s), no page got: not a documented "
			    "refusal (those are FOLL_LONGTERM on fsdax, FOLL_LONGTERM|FOLL_WRITE on page-cache files)",
			    ops[cf->op], cf->write ? "+FOLL_WRITE" : "", cf->longterm ? "+FOLL_LONGTERM" : "",
			    fl_backings[w->c->backing].name, fl_errno_name(err), strerror(err < 0 ? -err : err));
}

static int gup_run(struct fl_worker *w, struct fl_work *done)
{
	const struct gup_conf *cf = w->c->config;
	struct gup_worker *gw = w->priv;
	struct fl_gup_bench g = {
		.addr = (uintptr_t)gw->m.addr,
		.len = gw->m.len,
		.op = cf->op,
		.flags = (cf->write ? FL_GUP_WRITE : 0) | (cf->longterm ? FL_GUP_LONGTERM : 0),
		.pages_per_call = cf->pages_per_call,
		.sample_every = (uint32_t)lat_every(cf),
	};
	uint64_t pages = gw->m.len / 4096;
	int ret;

	ret = fl_drv_gup_bench(&gw->drv, &g, w->lat[0]);
	if (ret)
		return fl_case_error(w->c, "FL_IOC_GUP_BENCH: %s", strerror(-ret));
	if (g.error && !g.nr_pages)
		return refused(w, g.error);
	if (g.error || g.nr_pages != pages)
		return fl_case_fail(w->c, "%s got %llu of %llu pages, then %s", ops[cf->op],
				    (unsigned long long)g.nr_pages, (unsigned long long)pages,
				    strerror(-g.error));
	if (g.verified != g.nr_pages)
		return fl_case_fail(w->c, "%llu of %llu pages not dma-pinned after %s",
				    (unsigned long long)(g.nr_pages - g.verified),
				    (unsigned long long)g.nr_pages, ops[cf->op]);
	fl_metric(w->c, "get_ns_per_page", "ns/page", FL_LOWER_IS_BETTER,
		  (double)g.get_ns / (double)g.nr_pages);
	fl_metric(w->c, "put_ns_per_page", "ns/page", FL_LOWER_IS_BETTER,
		  (double)g.put_ns / (double)g.nr_pages);
	done->ops = g.nr_pages;
	done->bytes = gw->m.len;
	return 0;
}

static int gup_check(struct fl_worker *w)
{
	struct gup_worker *gw = w->priv;

	if (gw->mapped)
		fl_unmap(&gw->m);
	gw->mapped = false;
	return 0;
}

static void gup_teardown(struct fl_case *c)
{
	struct gup_worker *gws = c->priv;

	for (unsigned i = 0; gws && i < c->nr_workers; i++) {
		if (gws[i].mapped)
			fl_unmap(&gws[i].m);
		if (gws[i].drv_open)
			fl_driver_close(&gws[i].drv);
	}
	free(gws);
}

/* FOLL_PIN pins taken and released per page by the driver's pin calls. */
static const struct fl_evidence gup_bench_evidence[] = {
	{ FL_VS_nr_foll_pin_acquired, FL_PER_OP, 0, false, 0, 0 },
	{ FL_VS_nr_foll_pin_released, FL_PER_OP, 0, false, 0, 0 },
	{ .per = FL_PER_END }
};

const struct workload wl_gup_bench = {
	.name = "gup-bench",
	.headline = "get_ns_per_page",
	.headline_dir = FL_LOWER_IS_BETTER,
	.evidence = gup_bench_evidence,
	.summary = "kernel-timed get/pin_user_pages(_fast) per backing and pages per call (faultline.ko)",
	.kernel_paths = "get_user_pages_fast, pin_user_pages_fast (gup_fast), pin_user_pages/"
			"get_user_pages (__get_user_pages, follow_page_mask), FOLL_LONGTERM "
			"(check_and_migrate_movable_pages), unpin_user_pages, put_page",
	.needs = "/dev/faultline (drivers/faultline.ko), root",
	.backings = FL_BACKINGS_ALL,
	.default_backings = FL_B(FL_BACKING_ANON_4K) | FL_B(FL_BACKING_THP),
	.mode = FL_MODE_BATCH,
	.op_unit = "page",
	.report_bytes = true,
	.lat = { { "call", "one get/pin call of pages_per_call pages, timed in the kernel (ktime); 1 call in lat_sample (details.lat_sample_every)" } },
	.options = gup_options,
	.config_size = sizeof(struct gup_conf),
	.footprint = gup_footprint,
	.supported = gup_supported,
	.setup = gup_setup,
	.prepare = gup_prepare,
	.run = gup_run,
	.check = gup_check,
	.teardown = gup_teardown,
};

FL_WORKLOAD_REGISTER(wl_gup_bench);
