// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer harness: job files.  The input is a job file; it goes through
 * fl_job_load() (inih plus faultline's line counting, section and length
 * checks) and, when it parses, fl_job_expand() (merging [global], comma
 * lists, option tables, backings, cpulists) — everything `faultline run
 * FILE.job` does before a case starts.  A crash, a hang (-timeout), a leak
 * or a sanitizer report is a finding; a rejected input is not.
 *
 * To use: make fuzz          (FUZZ_SECONDS=600 by default)
 *         build/fuzz/fuzz_jobfile -runs=1 CRASH_FILE   (reproduce)
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core.h"

static struct fl_job job;	/* ~2 MiB: not on the stack */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int fd = -1;
	char path[64], err[1024];
	struct fl_plan plan;

	/* One memfd, rewritten per input: the parser reads it by path like any job file. */
	if (fd < 0)
		fd = memfd_create("fuzz.job", 0);
	if (fd < 0 || ftruncate(fd, 0) || pwrite(fd, data, size, 0) != (ssize_t)size)
		return 0;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	if (fl_job_load(path, &job, err, sizeof(err)))
		return 0;
	/* A backing override, as --backing gives, on every other input. */
	if (fl_job_expand(&job, size & 1 ? "anon-4k,thp" : NULL, &plan, err, sizeof(err)) == 0)
		fl_plan_free(&plan);
	return 0;
}
