// SPDX-License-Identifier: GPL-2.0
/*
 * /proc/vmstat snapshots for the per-repetition counter deltas
 * (bench/vmstat.h).  One pread of the whole file into a stack buffer and a
 * scan of the names wanted: about 200 lines, read outside the timed region.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vmstat.h"

const char *const fl_vmstat_names[FL_VS_COUNT] = {
#define FL_VS_NAME(n) #n,
	FL_VMSTAT_COUNTERS(FL_VS_NAME)
#undef FL_VS_NAME
};

void fl_vmstat_parse(const char *text, struct fl_vmstat *s)
{
	const char *line = text;

	memset(s, 0, sizeof(*s));
	while (*line) {
		const char *sp = strchr(line, ' '), *nl = strchr(line, '\n');

		if (!nl)
			nl = line + strlen(line);
		if (sp && sp < nl) {
			size_t len = (size_t)(sp - line);

			for (unsigned i = 0; i < FL_VS_COUNT; i++)
				if (strlen(fl_vmstat_names[i]) == len &&
				    !memcmp(line, fl_vmstat_names[i], len)) {
					s->v[i] = strtoull(sp + 1, NULL, 10);
					s->present |= 1u << i;
					break;
				}
		}
		line = *nl ? nl + 1 : nl;
	}
}

int fl_vmstat_read(struct fl_vmstat *s)
{
	char buf[16384];
	ssize_t n;
	int fd = open("/proc/vmstat", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	n = pread(fd, buf, sizeof(buf) - 1, 0);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	fl_vmstat_parse(buf, s);
	return 0;
}
