// SPDX-License-Identifier: GPL-2.0
/*
 * test-crash: TEST-ONLY.  Crashes or hangs the kernel on purpose so the
 * kernel matrix (scripts/vm) can prove that a kernel oops is recorded
 * against the running case with its excerpt, and that a guest which stops
 * answering is killed at the timeout and recorded as hung — and that the
 * remaining cases still run on a fresh boot.
 *
 *   mode=oops  writes 'c' to /proc/sysrq-trigger (sysrq_handle_crash:
 *              a NULL dereference in the kernel, then panic)
 *   mode=hang  disables RT throttling and spins one SCHED_FIFO 99 task per
 *              CPU: userspace, the console and faultline's own case
 *              watchdog all starve, so the guest goes silent
 *
 * It refuses (skip) unless FAULTLINE_TEST_HOOKS=1 is in the environment:
 * `scripts/vm run --test-hooks` sets it in the guest; nothing else does.
 *
 * To use (in a guest only):
 *   FAULTLINE_TEST_HOOKS=1 faultline run test-crash --set mode=oops
 */
#include <fcntl.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "workload.h"

enum { MODE_OOPS, MODE_HANG };
static const char *const modes[] = { "oops", "hang", NULL };

struct crash_conf {
	int mode;
};

static const struct fl_option crash_options[] = {
	FL_OPT_ENUM_(struct crash_conf, mode, "mode", modes, "oops",
		     "oops: sysrq crash (kernel panic); hang: starve every CPU with SCHED_FIFO spinners"),
	FL_OPT_END
};

static const char *crash_supported(struct fl_case *c)
{
	const char *hooks = getenv("FAULTLINE_TEST_HOOKS");

	if (!hooks || strcmp(hooks, "1"))
		return "test-only workload that crashes or hangs the kernel: runs only with FAULTLINE_TEST_HOOKS=1 (scripts/vm --test-hooks)";
	if (access("/proc/sysrq-trigger", W_OK))
		return "needs root and /proc/sysrq-trigger";
	return NULL;
}

static void write_file(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY);

	if (fd >= 0) {
		if (write(fd, s, strlen(s)) < 0) {
			/* best effort: the hang still happens, only slower */
		}
		close(fd);
	}
}

static void spin_on(int cpu)
{
	struct sched_param sp = { .sched_priority = 99 };
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	sched_setaffinity(0, sizeof(set), &set);
	sched_setscheduler(0, SCHED_FIFO, &sp);
	for (;;)
		__asm__ volatile("" ::: "memory");
}

static int crash_run(struct fl_worker *w, struct fl_work *done)
{
	const struct crash_conf *cf = w->c->config;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);

	if (w->id != 0)
		return 0;
	sync();
	if (cf->mode == MODE_OOPS) {
		write_file("/proc/sysrq-trigger", "c");
		return fl_case_error(w->c, "sysrq crash returned: the kernel did not crash");
	}
	write_file("/proc/sys/kernel/sched_rt_runtime_us", "-1");
	for (long cpu = 1; cpu < ncpu; cpu++)
		if (fork() == 0)
			spin_on((int)cpu);
	spin_on(0);
	done->ops = 1;
	return 0;
}

const struct workload wl_test_crash = {
	.name = "test-crash",
	.headline = "ops_rate",
	.summary = "TEST-ONLY: oops or hang the kernel (needs FAULTLINE_TEST_HOOKS=1)",
	.kernel_paths = "drivers/tty/sysrq.c sysrq_handle_crash; the scheduler (RT starvation)",
	.needs = "FAULTLINE_TEST_HOOKS=1, root, a throw-away machine (scripts/vm guest)",
	.backings = FL_B(FL_BACKING_ANON_4K),
	.default_backings = FL_B(FL_BACKING_ANON_4K),
	.mode = FL_MODE_BATCH,
	.op_unit = "event",
	.options = crash_options,
	.config_size = sizeof(struct crash_conf),
	.supported = crash_supported,
	.run = crash_run,
};

FL_WORKLOAD_REGISTER(wl_test_crash);
