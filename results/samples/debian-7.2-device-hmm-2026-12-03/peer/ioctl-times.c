// SPDX-License-Identifier: GPL-2.0
/*
 * LD_PRELOAD shim: the wall time of every HMM_DMIRROR_MIGRATE_TO_DEV/_TO_SYS
 * ioctl a process makes, one line each in $IOCTL_TIMES_LOG:
 *   pid request npages ns
 * Lets hmm-tests' benchmark_thp_migration be read call by call (it prints
 * only the mean of its 5 timed round trips) without changing it.
 *   gcc -O2 -shared -fPIC -o ioctl-times.so ioctl-times.c -ldl
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include "test_hmm_uapi.h"

static unsigned long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

int ioctl(int fd, unsigned long req, ...)
{
	static int (*real)(int, unsigned long, ...);
	struct hmm_dmirror_cmd *cmd;
	unsigned long long t;
	const char *log;
	char line[128];
	va_list ap;
	int ret, lfd, n;

	va_start(ap, req);
	cmd = va_arg(ap, struct hmm_dmirror_cmd *);
	va_end(ap);
	if (!real)
		real = (int (*)(int, unsigned long, ...))dlsym(RTLD_NEXT, "ioctl");
	if (req != HMM_DMIRROR_MIGRATE_TO_DEV && req != HMM_DMIRROR_MIGRATE_TO_SYS)
		return real(fd, req, cmd);
	t = now_ns();
	ret = real(fd, req, cmd);
	t = now_ns() - t;
	log = getenv("IOCTL_TIMES_LOG");
	if (log) {
		lfd = open(log, O_WRONLY | O_APPEND | O_CREAT, 0644);
		if (lfd >= 0) {
			n = snprintf(line, sizeof(line), "%d %s %llu %llu\n", getpid(),
				     req == HMM_DMIRROR_MIGRATE_TO_DEV ? "to_device" : "to_system",
				     (unsigned long long)cmd->npages, t);
			if (write(lfd, line, n) < 0)
				n = 0;
			close(lfd);
		}
	}
	return ret;
}
