// SPDX-License-Identifier: GPL-2.0
/*
 * The run loop.  Every case runs in a child process of its own, so that a
 * workload that crashes or hangs (a DAX MAP_POPULATE that never returns)
 * becomes a record naming the case instead of a dead or stuck suite.  The
 * child measures and sends its JSON record through a pipe; the parent
 * appends it to results.jsonl and fsync()s it before the next case starts,
 * so an interrupted run keeps every finished case.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "dax_trace.h"
#include "env.h"
#include "placement.h"
#include "prepare.h"
#include "results.h"
#include "ciout.h"
#include "runner.h"
#include "stats.h"

static volatile sig_atomic_t interrupted;

/* Parent: read the child's record with a deadline; kill it at the deadline. */
static json_t *wait_case(pid_t pid, int rfd, const struct fl_case_def *def, uint64_t t0,
			 int *killed_by, bool *hung)
{
	char *buf = NULL;
	size_t len = 0, cap = 0;
	uint64_t deadline = t0 + (uint64_t)(def->core.timeout * 1e9);
	json_t *rec = NULL;
	json_error_t jerr;
	int st = 0;

	*killed_by = 0;
	*hung = false;
	for (;;) {
		uint64_t now = fl_now_ns();
		struct pollfd pfd = { .fd = rfd, .events = POLLIN };
		int ms = now >= deadline ? 0 : (int)((deadline - now) / 1000000 + 1);
		ssize_t n;

		if (now >= deadline) {
			*hung = true;
			fl_case_kill(pid);
			break;
		}
		if (poll(&pfd, 1, ms > 1000 ? 1000 : ms) < 0) {
			if (errno == EINTR) {
				if (interrupted)
					kill(pid, SIGUSR1);
				continue;
			}
			break;
		}
		if (interrupted)
			kill(pid, SIGUSR1);
		if (!(pfd.revents & (POLLIN | POLLHUP)))
			continue;
		if (cap - len < 65536) {
			char *nb = realloc(buf, cap + 262144);

			if (!nb)
				break;
			buf = nb;
			cap += 262144;
		}
		n = read(rfd, buf + len, cap - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	if (*hung) {
		/* A task stuck in the kernel (D state) may never be reaped: don't wait. */
		waitpid(pid, &st, WNOHANG);
	} else if (waitpid(pid, &st, 0) == pid && WIFSIGNALED(st)) {
		*killed_by = WTERMSIG(st);
	}
	if (buf && len && !*hung && !*killed_by) {
		buf[len] = '\0';
		rec = json_loads(buf, 0, &jerr);
	}
	free(buf);
	return rec;
}

/* Progress and summary lines: stdout, or stderr when stdout carries TAP. */
static FILE *progress_out;

static int print_progress(const char *fmt, ...)
{
	FILE *f = progress_out ? progress_out : stdout;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vfprintf(f, fmt, ap);
	va_end(ap);
	fflush(f);
	return n;
}

/* --junit FILE: every record of results.jsonl (resumed ones too), as JUnit XML. */
static void write_junit(const struct fl_results *res, const char *path, double seconds)
{
	char jsonl[600], line[1 << 16];
	json_t *recs = json_array();
	FILE *f;
	int err;

	snprintf(jsonl, sizeof(jsonl), "%s/results.jsonl", res->dir);
	f = fopen(jsonl, "r");
	while (f && fgets(line, sizeof(line), f)) {
		json_t *rec = json_loads(line, 0, NULL);

		if (rec)
			json_array_append_new(recs, rec);
	}
	if (f)
		fclose(f);
	err = fl_junit_write(path, recs, res->run_id, seconds);
	if (err)
		fprintf(stderr, "faultline: --junit %s: %s\n", path, strerror(-err));
	json_decref(recs);
}

static void on_sigint(int sig)
{
	interrupted = 1;
}

static void summary_line(json_t *rec, unsigned seq, unsigned total)
{
	const char *status = json_string_value(json_object_get(rec, "status"));
	const char *label = json_string_value(json_object_get(rec, "case"));
	const char *reason = json_string_value(json_object_get(rec, "reason"));
	json_t *metrics = json_object_get(rec, "metrics");
	json_t *m = json_object_get(metrics, json_string_value(json_object_get(
					json_object_get(rec, "headline"), "metric")));

	if (!m)
		m = json_object_get(metrics, "ops_rate");
	if (status && !strcmp(status, "pass") && m)
		print_progress("  %-5s %-56s %12.4g %s (cv %.1f%%)\n", status, label,
			       json_real_value(json_object_get(m, "median")),
			       json_string_value(json_object_get(m, "unit")),
			       100 * json_number_value(json_object_get(m, "cv")));
	else
		print_progress("  %-5s %-56s %s\n", status ? status : "?", label ? label : "?",
			       reason ? reason : "");
}

/* The case process: run the case, send its record through @fd. */
static void __attribute__((noreturn)) child_send(const struct fl_case_def *def,
						 const struct fl_placement *pl, int fd)
{
	json_t *rec = fl_case_run(def, pl);
	char *text = rec ? json_dumps(rec, JSON_COMPACT) : NULL;

	if (!text)
		_exit(FL_EXIT_INTERNAL);
	for (size_t off = 0, len = strlen(text); off < len;) {
		ssize_t n = write(fd, text + off, len - off);

		if (n <= 0)
			_exit(FL_EXIT_INTERNAL);
		off += (size_t)n;
	}
	_exit(0);
}

/* The record of a case process that sent none: hung (killed at its timeout) or dead. */
static json_t *lost_record(const struct fl_case_def *def, uint64_t t0, bool hung, int killed_by)
{
	char why[256];
	json_t *rec;

	if (hung)
		snprintf(why, sizeof(why), "hung: case did not finish within timeout=%gs and was killed",
			 def->core.timeout);
	else if (killed_by)
		snprintf(why, sizeof(why), "case process killed by signal %d (%s)", killed_by,
			 strsignal(killed_by));
	else
		snprintf(why, sizeof(why), "case process exited without a record");
	rec = fl_record_new(def, hung ? "fail" : "error", why, 0, t0);
	if (hung)
		json_object_set_new(rec, "hung", json_true());
	return rec;
}

int fl_run_plan(const struct fl_plan *plan, const struct fl_run_opts *o)
{
	struct fl_results res;
	struct fl_placement pl;
	struct sigaction sa = { .sa_handler = on_sigint };
	unsigned counts[4] = { 0 }, tap_seq = 0;
	int exit_status = FL_EXIT_OK;
	uint64_t t_run = fl_now_ns();
	char err[512];
	json_t *done = NULL;

	if (fl_results_open(&res, o->out_dir, o->resume, o->argc, o->argv, err, sizeof(err))) {
		fprintf(stderr, "faultline: %s\n", err);
		return FL_EXIT_USAGE;
	}
	done = o->resume ? fl_results_done_labels(&res) : json_object();
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	if (o->prepare && fl_prepare_begin(plan, err, sizeof(err)))
		fprintf(stderr, "faultline: --prepare: %s\n", err);
	fl_results_begin(&res, plan, o->prepare);
	if (o->tap) {
		unsigned pending = 0;

		for (unsigned i = 0; i < plan->nr_cases; i++)
			pending += !json_object_get(done, plan->cases[i].label);
		progress_out = stderr;
		fl_tap_plan(stdout, pending);
	}
	fl_dax_trace_run_begin();
	print_progress("faultline: results in %s\n", res.dir);

	for (unsigned i = 0; i < plan->nr_cases && !interrupted; i++) {
		const struct fl_case_def *def = &plan->cases[i];
		int pfd[2], killed_by;
		bool hung;
		uint64_t t0;
		pid_t pid;
		json_t *rec;

		if (json_object_get(done, def->label))
			continue;
		if (fl_placement_init(&pl, def->core.cpus, (int)def->core.node, err, sizeof(err))) {
			rec = fl_record_new(def, "skip", err, 0, fl_now_ns());
			goto write;
		}
		fl_results_note_placement(&res, &pl);
		if (o->prepare)
			fl_prepare_case(def, pl.nr_cores);
		print_progress("faultline: case-start %u/%u %s\n", i + 1, plan->nr_cases, def->label);
		if (pipe2(pfd, O_CLOEXEC)) {
			fprintf(stderr, "faultline: pipe: %s\n", strerror(errno));
			exit_status = FL_EXIT_INTERNAL;
			break;
		}
		t0 = fl_now_ns();
		pid = fl_case_fork();
		if (pid < 0) {
			fprintf(stderr, "faultline: fork: %s\n", strerror(errno));
			exit_status = FL_EXIT_INTERNAL;
			break;
		}
		if (pid == 0) {
			close(pfd[0]);
			child_send(def, &pl, pfd[1]);
		}
		close(pfd[1]);
		rec = wait_case(pid, pfd[0], def, t0, &killed_by, &hung);
		close(pfd[0]);
		if (!rec)
			rec = lost_record(def, t0, hung, killed_by);
write:
		fl_results_append(&res, rec, i);
		if (o->tap)
			fl_tap_case(stdout, ++tap_seq, rec);
		{
			const char *st = json_string_value(json_object_get(rec, "status"));

			for (int k = 0; k < 4; k++)
				if (st && !strcmp(st, fl_status_name((enum fl_status)k)))
					counts[k]++;
			if (st && (!strcmp(st, "fail") || !strcmp(st, "error")))
				exit_status = FL_EXIT_FAIL;
			print_progress("faultline: case-end %u/%u %s %s\n", i + 1, plan->nr_cases,
				       def->label, st ? st : "?");
		}
		if (!o->quiet)
			summary_line(rec, i + 1, plan->nr_cases);
		json_decref(rec);
	}
	fl_dax_trace_run_end();
	if (interrupted)
		exit_status = FL_EXIT_INTERRUPTED;
	if (o->prepare)
		fl_prepare_end();
	fl_results_finish(&res, !interrupted, exit_status);
	if (o->junit)
		write_junit(&res, o->junit, (double)(fl_now_ns() - t_run) / 1e9);
	print_progress("faultline: %u pass, %u fail, %u skip, %u error; results in %s\n",
		       counts[FL_PASS], counts[FL_FAIL], counts[FL_SKIP], counts[FL_ERROR], res.dir);
	json_decref(done);
	return exit_status;
}
