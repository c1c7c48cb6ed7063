// SPDX-License-Identifier: GPL-2.0
/*
 * The workload registry: adding a workload is one line here (plus its file
 * in workloads/ and a job file).
 */
#include <string.h>

#include "workload.h"

extern const struct workload wl_populate, wl_fault_scale, wl_null;
extern const struct workload wl_gup_bench, wl_notifier_vs_pinned;
extern const struct workload wl_numa_migrate, wl_device_migrate, wl_device_exclusive;
extern const struct workload wl_gup_user, wl_cow_pin, wl_cow_race;
extern const struct workload wl_dax_populate, wl_dax_gup;
extern const struct workload wl_test_crash;

const struct workload *const fl_workloads[] = {
	&wl_populate,
	&wl_fault_scale,
	&wl_null,
	&wl_gup_bench,
	&wl_notifier_vs_pinned,
	&wl_numa_migrate,
	&wl_device_migrate,
	&wl_device_exclusive,
	&wl_gup_user,
	&wl_cow_pin,
	&wl_cow_race,
	&wl_dax_populate,
	&wl_dax_gup,
	&wl_test_crash,		/* test-only: skips unless FAULTLINE_TEST_HOOKS=1 */
	NULL
};

const struct workload *fl_workload_by_name(const char *name)
{
	for (const struct workload *const *w = fl_workloads; *w; w++)
		if (!strcmp((*w)->name, name))
			return *w;
	return NULL;
}
