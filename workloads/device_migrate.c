// SPDX-License-Identifier: GPL-2.0
/*
 * device-migrate: round trips system RAM -> emulated device-private memory
 * -> system RAM through faultline.ko, one named scenario per case.
 *
 * Kernel paths: migrate_vma_setup (migrate_vma_collect: pte/pmd walk, holes
 * and the zero page collected with MIGRATE_PFN_MIGRATE and no page,
 * MMU_NOTIFY_MIGRATE with pgmap_owner), migrate_vma_pages, migrate_vma_finalize;
 * back: CPU fault on a device-private swap entry -> do_swap_page ->
 * pgmap->ops->migrate_to_ram, or the driver's own migrate_vma of the range.
 *
 * Needs: /dev/faultline built on a kernel with CONFIG_DEVICE_PRIVATE (no
 * stock Debian kernel has it: scripts/vm run --kernel build:6.12);
 * otherwise every case is a skip with the driver's capability reason.
 *
 * One batch is one round trip: FL_IOC_MIGRATE to the device (per-phase
 * kernel times: setup = collect + unmap, copy, migrate_vma_pages,
 * finalize), then back either through FL_IOC_MIGRATE (back=driver, the same
 * phases) or by the CPU touching every page (back=cpu-fault: each touch is
 * one migrate_to_ram, timed as the cpu_fault latency).  After it (untimed)
 * every word is checked: the pattern, or zeros for zero-page and holes.
 *
 * Beside the kernel phases, each FL_IOC_MIGRATE is timed as the process
 * sees it (to_device_ioctl_GBps, to_system_ioctl_GBps: the range over the
 * ioctl's wall time), the quantity hmm-tests' benchmark_thp_migration
 * reports for HMM_DMIRROR_MIGRATE_TO_DEV/_TO_SYS; anon and thp with
 * back=driver name it as their peer (detail hmm_bench, for
 * scripts/hmm-agree; workloads/suites/device.job runs its sizes).
 *
 * To use:
 *   faultline run device-migrate --set scenario=zero-page
 *   faultline run workloads/suites/device.job (beside hmm-tests: scripts/hmm-agree)
 *
 * Scenarios (each names what it guards):
 *   anon        plain anonymous 4 KiB pages, written; data must survive the trip
 *   thp         a THP range: the kernel migrates the folio whole (6.15+ with
 *               MIGRATE_VMA_SELECT_COMPOUND) or splits it; which one is recorded
 *   zero-page   read-faulted range mapped to the shared zero page: collected
 *               with MIGRATE_PFN_MIGRATE and no source page ("migrate
 *               the zero page properly -- over and back")
 *   holes       never-touched range: holes are valid migration sources
 *               (MIGRATE_PFN_MIGRATE without a page; the NAK of
 *               "mm/migrate: see hole as invalid source page")
 *   read-only   PROT_READ mapping: the device copy must stay read-only, a CPU
 *               write after the return trip must fault correctly
 *   shared      MAP_SHARED shmem: not migratable to device-private (anon only);
 *               the collect step must skip it, not corrupt it
 *   fork        device-private entries copied at fork: parent and child each
 *               fault their page back (copy_nonpresent_pte with device-private
 *               swap entries)
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

enum { SC_ANON, SC_THP, SC_ZERO_PAGE, SC_HOLES, SC_READ_ONLY, SC_SHARED, SC_FORK };
static const char *const scenarios[] = { "anon", "thp", "zero-page", "holes", "read-only",
					 "shared", "fork", NULL };

/*
 * The hmm-tests case (fixture.variant.test, as its TAP names it) each
 * scenario mirrors, recorded as detail hmm_tests for scripts/hmm-agree;
 * NULL where hmm-tests has none.  anon with back=cpu-fault is migrate_fault.
 */
static const char *const peers[] = {
	[SC_ANON] = "hmm.hmm_device_private.migrate",
	[SC_SHARED] = "hmm.hmm_device_private.migrate_shared",
	[SC_FORK] = "hmm.hmm_device_private.hmm_cow_in_device",
};

enum { BACK_DRIVER, BACK_CPU_FAULT };
static const char *const backs[] = { "driver", "cpu-fault", NULL };

enum { LAT_TO_DEVICE, LAT_CPU_FAULT, LAT_TO_SYSTEM };

/* hmm-tests' throughput benchmark (7.2 and 7.3-rc sources; not 6.12). */
#define HMM_BENCH "hmm.hmm_device_private.benchmark_thp_migration"

struct dm_conf {
	uint64_t size;
	int scenario;
	int back;
};

static const struct fl_option dm_options[] = {
	FL_OPT_SIZE_(struct dm_conf, size, "size", 4096, 64ull << 20, "8M",
		     "bytes migrated to device-private memory and back per round trip (the driver's device memory is 64 MiB)"),
	FL_OPT_ENUM_(struct dm_conf, scenario, "scenario", scenarios, "anon",
		     "anon, thp, zero-page, holes, read-only, shared (shmem), fork: see the file header"),
	FL_OPT_ENUM_(struct dm_conf, back, "back", backs, "driver",
		     "how pages come back: driver (FL_IOC_MIGRATE to system, per-phase times) or cpu-fault (the CPU touches every page: migrate_to_ram; fork always comes back by faults)"),
	FL_OPT_END
};

struct dm_case {
	struct fl_driver drv;
	bool drv_open;
	struct fl_mapping m;
	bool mapped;
	uint64_t seed;
	bool zeros;		/* zero-page and holes: the data is all zeros */
	struct fl_migrate to, from;
	uint64_t to_wall_ns, from_wall_ns;	/* each FL_IOC_MIGRATE as the process sees it */
	uint64_t fault_pages, faults_before;
	int child_status;	/* fork: the child's verdict */
};

static size_t dm_footprint(const struct fl_case *c)
{
	return ((const struct dm_conf *)c->config)->size;
}

static const char *dm_supported(struct fl_case *c)
{
	const struct dm_conf *cf = c->config;
	const char *why = fl_driver_supported(FL_FEAT_DEVICE_PRIVATE);

	if (why)
		return why;
	if (cf->scenario == SC_THP && c->backing != FL_BACKING_THP)
		return "scenario=thp runs on the thp backing";
	if (cf->scenario != SC_THP && c->backing != FL_BACKING_ANON_4K)
		return "this scenario runs on the anon-4k backing (shared maps its own shmem)";
	if (c->nr_workers != 1)
		return "device-migrate runs with threads=1 (one driver file, one device memory)";
	return NULL;
}

static uint64_t check_data(struct dm_case *dc, uint64_t *first)
{
	const uint64_t *p = dc->m.addr;
	uint64_t bad = 0;

	if (!dc->zeros)
		return fl_check_seed(p, 0, dc->m.len, dc->seed, first);
	*first = UINT64_MAX;
	for (uint64_t i = 0; i < dc->m.len / 8; i++)
		if (p[i] && !bad++)
			*first = i * 8;
	return bad;
}

static int dm_setup(struct fl_case *c)
{
	const struct dm_conf *cf = c->config;
	enum fl_backing_id b = cf->scenario == SC_SHARED ? FL_BACKING_SHMEM : c->backing;
	struct dm_case *dc = calloc(1, sizeof(*dc));
	char why[256];
	int ret;

	if (!dc)
		return -ENOMEM;
	c->priv = dc;
	if (fl_driver_open(&dc->drv, why, sizeof(why)))
		return fl_case_skip(c, "%s", why);
	dc->drv_open = true;
	ret = fl_map(c->bconf, b, cf->size, 0, &dc->m, why, sizeof(why));
	if (ret)
		return ret == -ENOMEM ? fl_case_skip(c, "%s", why) : fl_case_error(c, "%s", why);
	dc->mapped = true;
	if (cf->scenario == SC_ANON && cf->back == BACK_CPU_FAULT)
		fl_case_detail(c, "hmm_tests", "hmm.hmm_device_private.migrate_fault");
	else if (peers[cf->scenario])
		fl_case_detail(c, "hmm_tests", peers[cf->scenario]);
	if ((cf->scenario == SC_ANON || cf->scenario == SC_THP) && cf->back == BACK_DRIVER) {
		/* Its "With THP" column is an madvise(MADV_HUGEPAGE) range, "Without" MADV_NOHUGEPAGE. */
		fl_case_detail(c, "hmm_bench", HMM_BENCH);
		fl_case_detail(c, "hmm_bench_pages", cf->scenario == SC_THP ? "thp" : "4k");
	}
	return 0;
}

/* Put the range in the scenario's starting state (untimed, every batch). */
static int dm_prepare(struct fl_worker *w)
{
	const struct dm_conf *cf = w->c->config;
	struct dm_case *dc = w->c->priv;
	volatile uint64_t *p = dc->m.addr;
	uint64_t sum = 0;
	char why[256];

	w->priv = dc;
	dc->seed++;
	dc->zeros = cf->scenario == SC_ZERO_PAGE || cf->scenario == SC_HOLES;
	if (cf->scenario == SC_READ_ONLY && mprotect(dc->m.addr, dc->m.len, PROT_READ | PROT_WRITE))
		return fl_case_error(w->c, "mprotect(PROT_READ|PROT_WRITE): %s", strerror(errno));
	if (dc->zeros) {
		/* Back to nothing: holes stay holes, zero-page reads map the zero page. */
		if (madvise(dc->m.addr, dc->m.len, MADV_DONTNEED))
			return fl_case_error(w->c, "MADV_DONTNEED: %s", strerror(errno));
		if (cf->scenario == SC_ZERO_PAGE)
			for (uint64_t i = 0; i < dc->m.len / 8; i += 512)
				sum += p[i];
		(void)sum;
	} else {
		/*
		 * thp: a fresh THP every batch (the last round trip may have
		 * split it).  A new mapping, not MADV_DONTNEED: before 6.14's
		 * page-table reclaim the emptied pte table stays, and the next
		 * fault maps 4 KiB (seen on build:6.12: the second batch was
		 * a skip "got 0 of 4096 kB pmd-mapped").
		 */
		if (cf->scenario == SC_THP) {
			fl_unmap(&dc->m);
			dc->mapped = false;
			if (fl_map(w->c->bconf, w->c->backing, cf->size, 0, &dc->m, why, sizeof(why)))
				return fl_case_error(w->c, "%s", why);
			dc->mapped = true;
		}
		fl_fill_seed(dc->m.addr, 0, dc->m.len, dc->seed);
		if (fl_verify(&dc->m, why, sizeof(why)))
			return fl_case_skip(w->c, "%s", why);
	}
	if (cf->scenario == SC_READ_ONLY && mprotect(dc->m.addr, dc->m.len, PROT_READ))
		return fl_case_error(w->c, "mprotect(PROT_READ): %s", strerror(errno));
	return 0;
}

/* Touch every page (read): each device-private page faults back through migrate_to_ram. */
static void fault_back(struct fl_worker *w, struct dm_case *dc)
{
	volatile const uint64_t *p = dc->m.addr;
	uint64_t sum = 0;

	for (uint64_t i = 0; i < dc->m.len / 8; i += 512) {
		fl_lat_begin(w);
		sum += p[i];
		fl_lat_end(w, LAT_CPU_FAULT);
	}
	(void)sum;
	dc->fault_pages = dc->m.len / 4096;
}

static int dm_run(struct fl_worker *w, struct fl_work *done)
{
	const struct dm_conf *cf = w->c->config;
	struct dm_case *dc = w->priv;
	uint64_t first;
	pid_t pid;
	int ret;

	memset(&dc->from, 0, sizeof(dc->from));
	dc->fault_pages = 0;
	dc->child_status = 0;
	dc->from_wall_ns = 0;
	dc->to_wall_ns = fl_now_ns();
	ret = fl_drv_migrate(&dc->drv, dc->m.addr, dc->m.len, FL_MIGRATE_TO_DEVICE, &dc->to);
	dc->to_wall_ns = fl_now_ns() - dc->to_wall_ns;
	fl_lat_record(w, LAT_TO_DEVICE, dc->to_wall_ns);
	if (ret)
		return fl_case_fail(w->c, "FL_IOC_MIGRATE to the device: %s", strerror(-ret));
	dc->faults_before = dc->to.cpu_faults;
	if (cf->scenario == SC_FORK) {
		/* copy_nonpresent_pte copies device-private entries; each mm faults its page back. */
		pid = fork();
		if (pid < 0)
			return fl_case_error(w->c, "fork: %s", strerror(errno));
		if (pid == 0)
			_exit(check_data(dc, &first) ? 1 : 0);
		if (waitpid(pid, &dc->child_status, 0) != pid)
			return fl_case_error(w->c, "waitpid: %s", strerror(errno));
		fault_back(w, dc);
	} else if (cf->back == BACK_CPU_FAULT) {
		fault_back(w, dc);
	} else {
		dc->from_wall_ns = fl_now_ns();
		ret = fl_drv_migrate(&dc->drv, dc->m.addr, dc->m.len, FL_MIGRATE_TO_SYSTEM, &dc->from);
		dc->from_wall_ns = fl_now_ns() - dc->from_wall_ns;
		fl_lat_record(w, LAT_TO_SYSTEM, dc->from_wall_ns);
		if (ret)
			return fl_case_fail(w->c, "FL_IOC_MIGRATE back to system memory: %s", strerror(-ret));
	}
	done->ops = dc->m.len / 4096;
	done->bytes = 2 * dc->m.len;
	return 0;
}

static void phase_metrics(struct fl_case *c, const char *dir, const struct fl_migrate *mg,
			  uint64_t len, uint64_t wall_ns)
{
	uint64_t total = mg->setup_ns + mg->copy_ns + mg->pages_ns + mg->finalize_ns;
	char name[48];

	if (wall_ns) {
		/* As hmm-tests' benchmark counts: the whole range, whatever moved. */
		snprintf(name, sizeof(name), "%s_ioctl_GBps", dir);
		fl_metric(c, name, "GB/s", FL_HIGHER_IS_BETTER, (double)len / (double)wall_ns);
	}
	if (!mg->migrated || !total)
		return;
	snprintf(name, sizeof(name), "%s_GBps", dir);
	fl_metric(c, name, "GB/s", FL_HIGHER_IS_BETTER, (double)mg->migrated * 4096 / (double)total);
	snprintf(name, sizeof(name), "%s_setup_ns_per_page", dir);
	fl_metric(c, name, "ns/page", FL_LOWER_IS_BETTER, (double)mg->setup_ns / (double)mg->migrated);
	snprintf(name, sizeof(name), "%s_copy_ns_per_page", dir);
	fl_metric(c, name, "ns/page", FL_LOWER_IS_BETTER, (double)mg->copy_ns / (double)mg->migrated);
	snprintf(name, sizeof(name), "%s_pages_ns_per_page", dir);
	fl_metric(c, name, "ns/page", FL_LOWER_IS_BETTER, (double)mg->pages_ns / (double)mg->migrated);
	snprintf(name, sizeof(name), "%s_finalize_ns_per_page", dir);
	fl_metric(c, name, "ns/page", FL_LOWER_IS_BETTER, (double)mg->finalize_ns / (double)mg->migrated);
}

static int dm_check(struct fl_worker *w)
{
	const struct dm_conf *cf = w->c->config;
	struct dm_case *dc = w->priv;
	struct fl_range_stat st;
	uint64_t bad, first;
	char buf[256];

	phase_metrics(w->c, "to_device", &dc->to, dc->m.len, dc->to_wall_ns);
	phase_metrics(w->c, "to_system", &dc->from, dc->m.len, dc->from_wall_ns);
	fl_metric(w->c, "to_device_pages", "pages", FL_INFORMATIONAL, (double)dc->to.migrated);
	snprintf(buf, sizeof(buf), "%llu of %llu pages went to the device (%s)",
		 (unsigned long long)dc->to.migrated, (unsigned long long)dc->to.npages,
		 cf->scenario == SC_SHARED ? "shmem is not anonymous: migrate_vma selects none, 0 expected" :
		 cf->scenario == SC_HOLES ? "holes are collected with MIGRATE_PFN_MIGRATE and no page" :
		 cf->scenario == SC_ZERO_PAGE ? "the zero page is collected with MIGRATE_PFN_MIGRATE and no page" :
		 "pages the kernel declines are not errors");
	fl_case_detail(w->c, "to_device", buf);
	if (cf->scenario == SC_FORK && !(WIFEXITED(dc->child_status) && WEXITSTATUS(dc->child_status) == 0))
		return fl_case_fail(w->c, "the forked child read wrong data from pages it faulted back from the device (status 0x%x)",
				    dc->child_status);
	bad = check_data(dc, &first);
	if (bad)
		return fl_case_fail(w->c, "%llu words wrong after the round trip (first at byte %llu, expected %s)",
				    (unsigned long long)bad, (unsigned long long)first, dc->zeros ? "zeros" : "the pattern");
	if (cf->scenario == SC_READ_ONLY) {
		/* Still read-only after the trip; made writable again it must take writes. */
		if (mprotect(dc->m.addr, dc->m.len, PROT_READ | PROT_WRITE))
			return fl_case_error(w->c, "mprotect(PROT_READ|PROT_WRITE): %s", strerror(errno));
		((volatile uint64_t *)dc->m.addr)[0] = 1;
	}
	if (cf->scenario == SC_THP && !fl_range_stat(dc->m.addr, dc->m.len, &st)) {
		/* Before 6.15 migrate_vma_collect splits the pmd: record what came back. */
		snprintf(buf, sizeof(buf), "%s: AnonHugePages %llu of %llu kB after the round trip",
			 st.anon_huge_kb * 1024 >= dc->m.len ? "whole" : "split",
			 (unsigned long long)st.anon_huge_kb, (unsigned long long)(dc->m.len >> 10));
		fl_case_detail(w->c, "thp", buf);
		fl_metric(w->c, "thp_kb_after", "kB", FL_INFORMATIONAL, (double)st.anon_huge_kb);
	}
	return 0;
}

static void dm_teardown(struct fl_case *c)
{
	struct dm_case *dc = c->priv;

	if (!dc)
		return;
	/* Unmap before close: closing the file evicts whatever is still on the device. */
	if (dc->mapped)
		fl_unmap(&dc->m);
	if (dc->drv_open)
		fl_driver_close(&dc->drv);
	free(dc);
}

const struct workload wl_device_migrate = {
	.name = "device-migrate",
	.headline = "throughput",
	.summary = "round trips to emulated device-private memory and back (migrate_vma, migrate_to_ram) through faultline.ko",
	.kernel_paths = "migrate_vma_setup/pages/finalize, migrate_vma_collect_pmd (zero page, holes, THP), "
			"do_swap_page -> migrate_to_ram, copy_nonpresent_pte (fork of device-private entries)",
	.needs = "/dev/faultline on a kernel with CONFIG_DEVICE_PRIVATE (build:6.12), driver feature device-private; threads=1",
	.backings = FL_B(FL_BACKING_ANON_4K) | FL_B(FL_BACKING_THP),
	.default_backings = FL_B(FL_BACKING_ANON_4K),
	.mode = FL_MODE_BATCH,
	.op_unit = "page",
	.report_bytes = true,
	.lat = {
		[LAT_TO_DEVICE] = { "to_device", "one FL_IOC_MIGRATE of the range to the device, as the process sees it" },
		[LAT_CPU_FAULT] = { "cpu_fault", "CPU read of one device-private page (migrate_to_ram); back=cpu-fault and fork" },
		[LAT_TO_SYSTEM] = { "to_system", "one FL_IOC_MIGRATE of the range back to system memory, as the process sees it; back=driver" },
	},
	.options = dm_options,
	.config_size = sizeof(struct dm_conf),
	.footprint = dm_footprint,
	.supported = dm_supported,
	.setup = dm_setup,
	.prepare = dm_prepare,
	.run = dm_run,
	.check = dm_check,
	.teardown = dm_teardown,
};

FL_WORKLOAD_REGISTER(wl_device_migrate);
