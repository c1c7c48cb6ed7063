/* SPDX-License-Identifier: GPL-2.0 */
/* One /proc/vmstat counter, for the FOLL_PIN balance checks of the driver tests. */
#ifndef FL_TEST_VMSTAT_H
#define FL_TEST_VMSTAT_H

#include <stdio.h>
#include <string.h>

static inline long vmstat(const char *key)
{
	char name[64];
	long v;
	FILE *f = fopen("/proc/sys/vm/stat_refresh", "w");

	/* Fold the per-cpu deltas first, or the counters drift by a few. */
	if (f) {
		fputs("1\n", f);
		fclose(f);
	}
	f = fopen("/proc/vmstat", "r");
	if (!f)
		return -1;
	while (fscanf(f, "%63s %ld", name, &v) == 2)
		if (!strcmp(name, key)) {
			fclose(f);
			return v;
		}
	fclose(f);
	return -1;
}

#endif
