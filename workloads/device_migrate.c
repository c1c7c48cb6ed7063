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
 * stock Debian kernel has it: scripts/vm run --kernel build:6.12) and a
 * driver that implements FL_FEAT_DEVICE_PRIVATE; otherwise every case is a
 * skip with the driver's capability reason.
 *
 * To use:
 *   faultline run device-migrate --set scenario=zero-page
 *   faultline run workloads/suites/migrate.job
 *
 * Scenarios (each names what it guards):
 *   anon        plain anonymous 4 KiB pages, written; data must survive the trip
 *   thp         a THP range: the kernel migrates the folio whole (6.15+ with
 *               MIGRATE_VMA_SELECT_COMPOUND) or splits it; which one is recorded
 *   zero-page   read-faulted range mapped to the shared zero page: collected
 *               with MIGRATE_PFN_MIGRATE and no source page (seed 000,
 *               "migrate the zero page properly -- over and back")
 *   holes       never-touched range: holes are valid migration sources
 *               (MIGRATE_PFN_MIGRATE without a page; seed 000, the NAK of
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

#include "driver.h"
#include "workload.h"

enum { SC_ANON, SC_THP, SC_ZERO_PAGE, SC_HOLES, SC_READ_ONLY, SC_SHARED, SC_FORK };
static const char *const scenarios[] = { "anon", "thp", "zero-page", "holes", "read-only",
					 "shared", "fork", NULL };

enum { LAT_TO_DEVICE, LAT_CPU_FAULT };

struct dm_conf {
	uint64_t size;
	int scenario;
};

static const struct fl_option dm_options[] = {
	FL_OPT_SIZE_(struct dm_conf, size, "size", 4096, FL_MAX_LEN, "8M",
		     "bytes migrated to device-private memory and back per round trip"),
	FL_OPT_ENUM_(struct dm_conf, scenario, "scenario", scenarios, "anon",
		     "anon, thp, zero-page, holes, read-only, shared (shmem), fork: see `faultline describe device-migrate` and the file header"),
	FL_OPT_END
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
		return "this scenario runs on the anon-4k backing (shared uses its own shmem mapping)";
	/*
	 * Reached only by a driver that reports FL_FEAT_DEVICE_PRIVATE: ABI 1
	 * has no ioctl to migrate a range, so there is nothing to call yet.
	 */
	return "faultline ABI has no device-private migration ioctl yet (FL_FEAT_DEVICE_PRIVATE is reserved)";
}

static int dm_run(struct fl_worker *w, struct fl_work *done)
{
	return fl_case_error(w->c, "device-private migration ioctl missing from the driver ABI");
}

const struct workload wl_device_migrate = {
	.name = "device-migrate",
	.summary = "round trips to emulated device-private memory and back (migrate_vma, migrate_to_ram) through faultline.ko",
	.kernel_paths = "migrate_vma_setup/pages/finalize, migrate_vma_collect_pmd (zero page, holes, THP), "
			"do_swap_page -> migrate_to_ram, copy_nonpresent_pte (fork of device-private entries)",
	.needs = "/dev/faultline on a kernel with CONFIG_DEVICE_PRIVATE (build:6.12), driver feature device-private",
	.backings = FL_B(FL_BACKING_ANON_4K) | FL_B(FL_BACKING_THP),
	.default_backings = FL_B(FL_BACKING_ANON_4K),
	.mode = FL_MODE_BATCH,
	.op_unit = "page",
	.report_bytes = true,
	.lat = {
		[LAT_TO_DEVICE] = { "to_device", "migrate_vma setup+pages+finalize of the range (kernel ktime)" },
		[LAT_CPU_FAULT] = { "cpu_fault", "CPU touch of one device-private page (migrate_to_ram)" },
	},
	.options = dm_options,
	.config_size = sizeof(struct dm_conf),
	.footprint = dm_footprint,
	.supported = dm_supported,
	.run = dm_run,
};
