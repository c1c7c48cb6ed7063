// SPDX-License-Identifier: GPL-2.0
/*
 * The workload registry.  A workload file ends with
 * FL_WORKLOAD_REGISTER(wl_name), which puts a pointer to its struct in the
 * "fl_workloads" ELF section; the linker bounds that section with
 * __start_/__stop_ symbols, as fio's engines register themselves from their
 * own files.  Adding a workload is its file, a job section and a test:
 * nothing here changes.  (The archive is linked --whole-archive so that a
 * workload nothing calls by name is still linked in.)
 */
#include <stdlib.h>
#include <string.h>

#include "workload.h"

extern const struct workload *const __start_fl_workloads[];
extern const struct workload *const __stop_fl_workloads[];

/* The registered workloads by name, NULL-terminated; built before main(). */
const struct workload *const *fl_workloads;

static int by_name(const void *a, const void *b)
{
	const struct workload *const *x = a, *const *y = b;

	return strcmp((*x)->name, (*y)->name);
}

__attribute__((constructor)) static void fl_registry_init(void)
{
	size_t n = (size_t)(__stop_fl_workloads - __start_fl_workloads);
	const struct workload **list = calloc(n + 1, sizeof(*list));

	if (!list)
		abort();
	memcpy(list, __start_fl_workloads, n * sizeof(*list));
	qsort(list, n, sizeof(*list), by_name);
	fl_workloads = list;
}

const struct workload *fl_workload_by_name(const char *name)
{
	for (const struct workload *const *w = fl_workloads; *w; w++)
		if (!strcmp((*w)->name, name))
			return *w;
	return NULL;
}
