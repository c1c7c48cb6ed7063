// SPDX-License-Identifier: GPL-2.0
/*
 * faultline stress: the kernel log watch.  A kernel splat ends the run with
 * its excerpt, as scripts/vm does for a guest console: the patterns are the
 * `start` entries of bench/kernel_splats.def, the table scripts/vmlib reads
 * too.  Only kernel-facility records of /dev/kmsg count (userspace cannot
 * forge those); with FAULTLINE_TEST_HOOKS=1 a user record containing
 * FAULTLINE-TEST-SPLAT does too (tests/host/test_stress.py writes one).
 * Needs root to read /dev/kmsg; without it the run says so in stress.json.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "stress_int.h"

static const struct { const char *cls, *re; } splats[] = {
#define FL_SPLAT(cls, re) { #cls, re },
#include "kernel_splats.def"
#undef FL_SPLAT
};

bool stress_test_hooks(void)
{
	const char *h = getenv("FAULTLINE_TEST_HOOKS");

	return h && !strcmp(h, "1");
}

void stress_kwatch_open(struct kwatch *kw)
{
	memset(kw, 0, sizeof(*kw));
	kw->fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (kw->fd < 0) {
		snprintf(kw->why, sizeof(kw->why), "/dev/kmsg: %s (kernel splats are not detected; needs root)",
			 strerror(errno));
		return;
	}
	lseek(kw->fd, 0, SEEK_END);
	for (size_t i = 0; i < sizeof(splats) / sizeof(splats[0]); i++) {
		if (strcmp(splats[i].cls, "start") || kw->nr_re == sizeof(kw->re) / sizeof(kw->re[0]))
			continue;
		if (!regcomp(&kw->re[kw->nr_re], splats[i].re, REG_EXTENDED | REG_NOSUB))
			kw->nr_re++;
		else
			fprintf(stderr, "faultline: stress: kernel_splats.def: '%s' is not a POSIX ERE\n",
				splats[i].re);
	}
	kw->test_marker = stress_test_hooks();
	kw->lines = json_array();
}

static bool splat_start(const struct kwatch *kw, const char *msg)
{
	for (unsigned i = 0; i < kw->nr_re; i++)
		if (!regexec(&kw->re[i], msg, 0, NULL, 0))
			return true;
	return false;
}

bool stress_kwatch_poll(struct kwatch *kw, uint64_t t_rel)
{
	char buf[8192];

	while (kw->fd >= 0) {
		ssize_t n = read(kw->fd, buf, sizeof(buf) - 1);
		char *msg, *nl;
		unsigned prio;

		if (n < 0 && errno == EPIPE)
			continue;	/* overwritten before we read it */
		if (n <= 0)
			break;
		buf[n] = '\0';
		msg = strchr(buf, ';');
		if (!msg || sscanf(buf, "%u,", &prio) != 1)
			continue;
		msg++;
		nl = strchr(msg, '\n');
		if (nl)
			*nl = '\0';
		if (!kw->seen && (((prio >> 3) == 0 && splat_start(kw, msg)) ||
				  (kw->test_marker && strstr(msg, "FAULTLINE-TEST-SPLAT")))) {
			kw->seen = true;
			kw->t_ns = t_rel;
			snprintf(kw->headline, sizeof(kw->headline), "%s", msg);
		}
		if (kw->seen && json_array_size(kw->lines) < KLOG_LINES)
			json_array_append_new(kw->lines, json_string(msg));
	}
	return kw->seen;
}

void stress_kwatch_close(struct kwatch *kw)
{
	if (kw->fd < 0)
		return;
	close(kw->fd);
	for (unsigned i = 0; i < kw->nr_re; i++)
		regfree(&kw->re[i]);
	json_decref(kw->lines);
}
