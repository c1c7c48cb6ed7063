// SPDX-License-Identifier: GPL-2.0
/*
 * device-exclusive: SVM atomics through faultline.ko -- a device takes
 * exclusive access to anonymous pages of a mirror (make_device_exclusive_range
 * up to 6.14, make_device_exclusive from 6.15), does atomic adds on them,
 * and the CPU takes them back by touching them (a revoke).  The scenarios
 * follow the kernel's own hmm-tests exclusive tests, whose case each one
 * names in its record (detail hmm_tests), so a run with --selftests on the
 * same boot can be compared case by case (scripts/hmm-agree).
 *
 * Kernel paths: make_device_exclusive(_range) (GUP with FOLL_WRITE |
 * FOLL_SPLIT_PMD, folio_make_device_exclusive's rmap walk, device-exclusive
 * swap entries), MMU_NOTIFY_EXCLUSIVE with an owner (filtered by the
 * granting mirror: its owner), remove_device_exclusive_entry on a CPU fault
 * (MMU_NOTIFY_EXCLUSIVE with no owner up to 6.14, MMU_NOTIFY_CLEAR from
 * 6.15), device-exclusive entries in mprotect and fork (copy_nonpresent_pte).
 *
 * Needs: /dev/faultline on a kernel with CONFIG_DEVICE_PRIVATE (build:6.12,
 * or Debian's 7.2); otherwise every case is a skip with the driver's reason.
 *
 * One batch (timed) per scenario:
 *   exclusive  grant the range, the device checks what the CPU wrote
 *              (through the mirror) and adds 1 to every word atomically, the
 *              CPU reads every word back (each first touch of a page is one
 *              revoke, timed: latency "touch") and adds 1 again; after it
 *              every word must be pattern + 2 and no page still held
 *              (hmm-tests exclusive: "Check atomic access revoked")
 *   mprotect   grant, device read, mprotect(PROT_READ): the device's write
 *              through the mirror must fail with EPERM and every grant be
 *              revoked by the protection change (hmm-tests exclusive_mprotect)
 *   cow        grant, fork: child and parent each read and increment every
 *              word and must see their own copy; fork revokes every grant
 *              (hmm-tests exclusive_cow)
 *   revoke     grant, then the CPU touches one word per page (read or write,
 *              option touch): the revoke latency as the CPU sees it, the
 *              kernel's revoking callback and grant-to-revoke time; every
 *              touched page must be revoked exactly once
 * An errno from the kernel where the peer test expects success is the
 * case's failure, named (e.g. "make_device_exclusive: EBUSY on 3 of 256
 * pages"): the kernel's behaviour, not hidden.
 *
 * To use:
 *   faultline run device-exclusive --set scenario=revoke
 *   faultline run workloads/suites/device.job
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hold.h"
#include "workload.h"

enum { SC_EXCLUSIVE, SC_MPROTECT, SC_COW, SC_REVOKE };
static const char *const scenarios[] = { "exclusive", "mprotect", "cow", "revoke", NULL };
/* The hmm-tests case (fixture.variant.test, as its TAP names it) each mirrors. */
static const char *const peers[] = {
	[SC_EXCLUSIVE] = "hmm.hmm_device_private.exclusive",
	[SC_MPROTECT] = "hmm.hmm_device_private.exclusive_mprotect",
	[SC_COW] = "hmm.hmm_device_private.exclusive_cow",
	[SC_REVOKE] = "hmm.hmm_device_private.exclusive",
};

enum { TOUCH_READ, TOUCH_WRITE };
static const char *const touches[] = { "read", "write", NULL };

enum { LAT_GRANT, LAT_TOUCH, LAT_REVOKE_CB, LAT_HOLD };

struct dx_conf {
	uint64_t size;
	int scenario;
	int touch;
};

static const struct fl_option dx_options[] = {
	FL_OPT_SIZE_(struct dx_conf, size, "size", 4096, 256ull << 20, "4M",
		     "bytes made device-exclusive per batch (anonymous 4 KiB pages)"),
	FL_OPT_ENUM_(struct dx_conf, scenario, "scenario", scenarios, "exclusive",
		     "exclusive, mprotect, cow (the hmm-tests exclusive tests) or revoke (CPU-touch revoke latency): see the file header"),
	FL_OPT_ENUM_(struct dx_conf, touch, "touch", touches, "read",
		     "scenario=revoke: how the CPU touches each held page (read or write fault)"),
	FL_OPT_END
};

struct dx_case {
	struct fl_driver drv;
	bool drv_open;
	struct fl_mapping m;
	bool mapped;
	uint32_t handle;	/* writable mirror over the mapping */
	uint64_t seed;
	uint64_t npages;
	struct fl_exclusive grant, atomic, stats;
	struct fl_access dev;	/* the device's read of what the CPU wrote */
	int dev_ret;
	int write_ret;		/* mprotect: the device's write after it */
	uint64_t held_before;	/* mprotect: pages still held just before it */
	int child_status;
	uint64_t bad, first_bad;	/* CPU-side mismatches found in run() */
};

static size_t dx_footprint(const struct fl_case *c)
{
	return ((const struct dx_conf *)c->config)->size;
}

static const char *dx_supported(struct fl_case *c)
{
	const char *why = fl_driver_supported(FL_FEAT_DEVICE_EXCLUSIVE);

	if (why)
		return why;
	if (c->nr_workers != 1)
		return "device-exclusive runs with threads=1 (one mirror, one device)";
	return NULL;
}

static int dx_setup(struct fl_case *c)
{
	const struct dx_conf *cf = c->config;
	struct dx_case *dc = calloc(1, sizeof(*dc));
	char why[256];
	int ret;

	if (!dc)
		return -ENOMEM;
	c->priv = dc;
	if (fl_driver_open(&dc->drv, why, sizeof(why)))
		return fl_case_skip(c, "%s", why);
	dc->drv_open = true;
	ret = fl_map(c->bconf, c->backing, cf->size, 0, &dc->m, why, sizeof(why));
	if (ret)
		return ret == -ENOMEM ? fl_case_skip(c, "%s", why) : fl_case_error(c, "%s", why);
	dc->mapped = true;
	dc->npages = dc->m.len / 4096;
	ret = fl_drv_mirror_create(&dc->drv, dc->m.addr, dc->m.len, FL_MIRROR_WRITE, &dc->handle);
	if (ret)
		return fl_case_error(c, "FL_IOC_MIRROR_CREATE: %s", fl_errno_name(ret));
	fl_case_detail(c, "hmm_tests", peers[cf->scenario]);
	return 0;
}

/* Fresh pattern in every page, writable, nothing held (untimed). */
static int dx_prepare(struct fl_worker *w)
{
	struct dx_case *dc = w->c->priv;
	uint64_t *p = dc->m.addr;
	struct fl_exclusive st;
	char why[256];
	int ret;

	w->priv = dc;
	dc->seed++;
	dc->bad = 0;
	dc->first_bad = UINT64_MAX;
	dc->child_status = 0;
	dc->dev_ret = dc->write_ret = 0;
	memset(&dc->dev, 0, sizeof(dc->dev));
	if (mprotect(dc->m.addr, dc->m.len, PROT_READ | PROT_WRITE))
		return fl_case_error(w->c, "mprotect(PROT_READ|PROT_WRITE): %s", strerror(errno));
	fl_fill_seed(p, 0, dc->m.len, dc->seed);
	if (fl_verify(&dc->m, why, sizeof(why)))
		return fl_case_skip(w->c, "%s", why);
	/* The previous batch's revokes are its own: start the counters at zero. */
	ret = fl_drv_exclusive(&dc->drv, dc->handle, FL_EXCL_STATS, 0, 0, 0, FL_EXCL_RESET,
			       &st, NULL, NULL);
	if (ret)
		return fl_case_error(w->c, "FL_IOC_EXCLUSIVE stats: %s", fl_errno_name(ret));
	if (st.held)
		return fl_case_error(w->c, "%llu pages still held from the last batch",
				     (unsigned long long)st.held);
	return 0;
}

/* Each word read (and optionally incremented) by the CPU must be pattern + @add. */
static void cpu_pass(struct fl_worker *w, struct dx_case *dc, uint64_t add, bool incr, bool time_pages)
{
	volatile uint64_t *p = dc->m.addr;

	for (uint64_t i = 0; i < dc->m.len / 8; i++) {
		uint64_t v;

		if (time_pages && i % 512 == 0)
			fl_lat_begin(w);
		v = p[i];
		if (time_pages && i % 512 == 0)
			fl_lat_end(w, LAT_TOUCH);
		if (v != fl_pattern(dc->seed, i * 8) + add && !dc->bad++)
			dc->first_bad = i * 8;
		if (incr)
			p[i] = v + 1;
	}
}

/* The grant every scenario starts with; a page not granted fails the case. */
static int grant(struct fl_worker *w, struct dx_case *dc)
{
	int ret;

	fl_lat_begin(w);
	ret = fl_drv_exclusive(&dc->drv, dc->handle, FL_EXCL_GRANT, 0, dc->m.len, 0, 0,
			       &dc->grant, NULL, NULL);
	fl_lat_end(w, LAT_GRANT);
	if (ret)
		return fl_case_error(w->c, "FL_IOC_EXCLUSIVE grant: %s", fl_errno_name(ret));
	if (dc->grant.error || dc->grant.pages != dc->npages) {
		fl_case_detail(w->c, "errno", fl_errno_name(dc->grant.error));
		return fl_case_fail(w->c, "make_device_exclusive%s: %s, %llu of %llu pages granted (hmm-tests expects all)",
				    dc->grant.retries ? " (raced)" : "",
				    dc->grant.error ? fl_errno_name(dc->grant.error) : "declined",
				    (unsigned long long)dc->grant.pages, (unsigned long long)dc->npages);
	}
	return 0;
}

static int dx_run(struct fl_worker *w, struct fl_work *done)
{
	const struct dx_conf *cf = w->c->config;
	struct dx_case *dc = w->priv;
	volatile uint64_t *p = dc->m.addr;
	struct fl_access wr;
	pid_t pid;
	int ret;

	ret = grant(w, dc);
	if (ret)
		return ret;
	switch (cf->scenario) {
	case SC_EXCLUSIVE:
		/* "Check what the device read", then its atomics, then the CPU takes it back. */
		dc->dev_ret = fl_drv_access(&dc->drv, dc->handle, FL_ACCESS_VERIFY, 0, dc->m.len,
					    dc->seed, &dc->dev);
		ret = fl_drv_exclusive(&dc->drv, dc->handle, FL_EXCL_ATOMIC_ADD, 0, dc->m.len, 1, 0,
				       &dc->atomic, NULL, NULL);
		dc->held_before = dc->atomic.held;
		if (ret)
			return fl_case_error(w->c, "FL_IOC_EXCLUSIVE atomic add: %s", fl_errno_name(ret));
		cpu_pass(w, dc, 1, true, true);
		break;
	case SC_MPROTECT:
		dc->dev_ret = fl_drv_access(&dc->drv, dc->handle, FL_ACCESS_VERIFY, 0, dc->m.len,
					    dc->seed, &dc->dev);
		/* What was revoked before mprotect, so its own count is exact. */
		ret = fl_drv_exclusive(&dc->drv, dc->handle, FL_EXCL_STATS, 0, 0, 0, 0,
				       &dc->atomic, NULL, NULL);
		if (ret)
			return fl_case_error(w->c, "FL_IOC_EXCLUSIVE stats: %s", fl_errno_name(ret));
		dc->held_before = dc->atomic.held;
		if (mprotect(dc->m.addr, dc->m.len, PROT_READ))
			return fl_case_error(w->c, "mprotect(PROT_READ): %s", strerror(errno));
		/* "Simulate a device writing system memory": must be refused. */
		dc->write_ret = fl_drv_access(&dc->drv, dc->handle, FL_ACCESS_FILL, 0, dc->m.len,
					      dc->seed + 1, &wr);
		break;
	case SC_COW:
		pid = fork();
		if (pid < 0)
			return fl_case_error(w->c, "fork: %s", strerror(errno));
		if (pid == 0) {
			cpu_pass(w, dc, 0, true, false);
			cpu_pass(w, dc, 1, false, false);
			_exit(dc->bad ? 1 : 0);
		}
		cpu_pass(w, dc, 0, true, true);
		if (waitpid(pid, &dc->child_status, 0) != pid)
			return fl_case_error(w->c, "waitpid: %s", strerror(errno));
		break;
	case SC_REVOKE:
		for (uint64_t i = 0; i < dc->m.len / 8; i += 512) {
			fl_lat_begin(w);
			if (cf->touch == TOUCH_WRITE)
				p[i] = fl_pattern(dc->seed, i * 8);
			else
				(void)p[i];
			fl_lat_end(w, LAT_TOUCH);
		}
		break;
	}
	done->ops = dc->npages;
	done->bytes = dc->m.len;
	return 0;
}

static void per_page(struct fl_case *c, const char *name, uint64_t ns, uint64_t pages)
{
	if (pages)
		fl_metric(c, name, "ns/page", FL_LOWER_IS_BETTER, (double)ns / (double)pages);
}

static int dx_check(struct fl_worker *w)
{
	const struct dx_conf *cf = w->c->config;
	struct dx_case *dc = w->priv;
	struct fl_exclusive *st = &dc->stats;
	char buf[512];
	int ret, n;

	ret = fl_drv_exclusive(&dc->drv, dc->handle, FL_EXCL_STATS, 0, 0, 0, 0, st,
			       w->lat[LAT_REVOKE_CB], w->lat[LAT_HOLD]);
	if (ret)
		return fl_case_error(w->c, "FL_IOC_EXCLUSIVE stats: %s", fl_errno_name(ret));
	per_page(w->c, "grant_ns_per_page", dc->grant.ns, dc->grant.pages);
	per_page(w->c, "atomic_ns_per_page", dc->atomic.ns, dc->atomic.pages);
	fl_metric(w->c, "revoked", "pages", FL_INFORMATIONAL, (double)st->revoked);
	fl_metric(w->c, "self_filtered", "callbacks", FL_INFORMATIONAL, (double)st->self_filtered);
	fl_metric(w->c, "grant_retries", "rounds", FL_INFORMATIONAL, (double)dc->grant.retries);
	n = snprintf(buf, sizeof(buf), "granted %llu, held %llu, revoked %llu by",
		     (unsigned long long)st->granted, (unsigned long long)st->held,
		     (unsigned long long)st->revoked);
	for (int e = 0; e < FL_EV_COUNT && n < (int)sizeof(buf); e++)
		if (st->revoked_by[e])
			n += snprintf(buf + n, sizeof(buf) - n, " %s %llu", fl_driver_event_name(e),
				      (unsigned long long)st->revoked_by[e]);
	if (n < (int)sizeof(buf))
		snprintf(buf + n, sizeof(buf) - n, "; own MMU_NOTIFY_EXCLUSIVE filtered %llu",
			 (unsigned long long)st->self_filtered);
	fl_case_detail(w->c, "revokes", buf);

	/* The grant's own notification must carry its owner, to be filterable. */
	if (!st->self_filtered)
		return fl_case_fail(w->c, "no MMU_NOTIFY_EXCLUSIVE carried the grant's owner: the driver could not filter its own invalidation");
	if (cf->scenario != SC_COW && cf->scenario != SC_REVOKE && (dc->dev_ret || dc->dev.mismatches))
		return fl_case_fail(w->c, "the device read %s through the granted pages (%llu words wrong, first at byte %llu)",
				    dc->dev_ret ? fl_errno_name(dc->dev_ret) : "wrong data",
				    (unsigned long long)dc->dev.mismatches,
				    (unsigned long long)dc->dev.first_mismatch);
	switch (cf->scenario) {
	case SC_EXCLUSIVE:
		if (dc->atomic.pages != dc->npages)
			return fl_case_fail(w->c, "device atomics reached %llu of %llu held pages (%llu revoked under it)",
					    (unsigned long long)dc->atomic.pages, (unsigned long long)dc->npages,
					    (unsigned long long)dc->atomic.not_held);
		if (dc->bad)
			return fl_case_fail(w->c, "%llu words wrong when the CPU took the pages back (first at byte %llu, expected pattern + 1)",
					    (unsigned long long)dc->bad, (unsigned long long)dc->first_bad);
		cpu_pass(w, dc, 2, false, false);
		if (dc->bad)
			return fl_case_fail(w->c, "%llu words wrong after the CPU's increment (first at byte %llu)",
					    (unsigned long long)dc->bad, (unsigned long long)dc->first_bad);
		break;
	case SC_MPROTECT:
		fl_case_detail(w->c, "errno", dc->write_ret ? fl_errno_name(dc->write_ret) : "0");
		if (dc->write_ret != -EPERM)
			return fl_case_fail(w->c, "device write after mprotect(PROT_READ): %s, hmm-tests expects EPERM",
					    dc->write_ret ? fl_errno_name(dc->write_ret) : "accepted");
		if (dc->held_before != dc->npages)
			return fl_case_fail(w->c, "%llu of %llu grants revoked before mprotect, with no CPU access (%s)",
					    (unsigned long long)(dc->npages - dc->held_before),
					    (unsigned long long)dc->npages, buf);
		/*
		 * Every grant must be gone once mprotect returns; which event
		 * carried each revoke is the kernel's business and recorded
		 * (7.2 was seen revoking a few by MMU_NOTIFY_CLEAR during it).
		 */
		fl_metric(w->c, "revoked_by_mprotect", "pages", FL_INFORMATIONAL,
			  (double)st->revoked_by[FL_EV_PROTECTION_VMA]);
		break;
	case SC_COW:
		if (!WIFEXITED(dc->child_status) || WEXITSTATUS(dc->child_status))
			return fl_case_fail(w->c, "the child read or kept wrong data after fork of device-exclusive pages (status 0x%x)",
					    dc->child_status);
		if (dc->bad)
			return fl_case_fail(w->c, "the parent read %llu wrong words after fork (first at byte %llu)",
					    (unsigned long long)dc->bad, (unsigned long long)dc->first_bad);
		cpu_pass(w, dc, 1, false, false);
		if (dc->bad)
			return fl_case_fail(w->c, "the parent's increments were lost or mixed with the child's (%llu words)",
					    (unsigned long long)dc->bad);
		break;
	case SC_REVOKE:
		if (st->revoked != dc->npages)
			return fl_case_fail(w->c, "%llu CPU touches revoked %llu grants (one each expected)",
					    (unsigned long long)dc->npages, (unsigned long long)st->revoked);
		cpu_pass(w, dc, 0, false, false);
		if (dc->bad)
			return fl_case_fail(w->c, "%llu words wrong after the revokes (first at byte %llu)",
					    (unsigned long long)dc->bad, (unsigned long long)dc->first_bad);
		break;
	}
	if (st->held)
		return fl_case_fail(w->c, "%llu pages still device-exclusive after the CPU took the range back (hmm-tests: \"Check atomic access revoked\")",
				    (unsigned long long)st->held);
	return 0;
}

static void dx_teardown(struct fl_case *c)
{
	struct dx_case *dc = c->priv;

	if (!dc)
		return;
	if (dc->handle)
		fl_drv_destroy(&dc->drv, dc->handle, 0, NULL);
	if (dc->mapped)
		fl_unmap(&dc->m);
	if (dc->drv_open)
		fl_driver_close(&dc->drv);
	free(dc);
}

const struct workload wl_device_exclusive = {
	.name = "device-exclusive",
	.headline = "ops_rate",
	.summary = "SVM atomics: device-exclusive grants on mirrored pages, device atomics, CPU revokes (hmm-tests exclusive*) through faultline.ko",
	.kernel_paths = "make_device_exclusive(_range), MMU_NOTIFY_EXCLUSIVE owner filtering, remove_device_exclusive_entry (CPU fault), "
			"device-exclusive entries in mprotect and fork (copy_nonpresent_pte)",
	.needs = "/dev/faultline on a kernel with CONFIG_DEVICE_PRIVATE (build:6.12, Debian 7.2), driver feature device-exclusive; threads=1",
	.backings = FL_B(FL_BACKING_ANON_4K),
	.default_backings = FL_B(FL_BACKING_ANON_4K),
	.mode = FL_MODE_BATCH,
	.op_unit = "page",
	.report_bytes = true,
	.lat = {
		[LAT_GRANT] = { "grant", "one FL_EXCL_GRANT of the range (make_device_exclusive + programming), as the process sees it" },
		[LAT_TOUCH] = { "touch", "CPU's first touch of a held page: fault, revoke, pte restored (scenarios exclusive, cow, revoke)" },
		[LAT_REVOKE_CB] = { "revoke_callback", "the mirror's invalidate callback that revoked grants (kernel-timed)" },
		[LAT_HOLD] = { "hold", "grant to revoke, per page (kernel-timed)" },
	},
	.options = dx_options,
	.config_size = sizeof(struct dx_conf),
	.footprint = dx_footprint,
	.supported = dx_supported,
	.setup = dx_setup,
	.prepare = dx_prepare,
	.run = dx_run,
	.check = dx_check,
	.teardown = dx_teardown,
};

FL_WORKLOAD_REGISTER(wl_device_exclusive);
