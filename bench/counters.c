// SPDX-License-Identifier: GPL-2.0
/*
 * Per-repetition kernel counters (bench/counters.h).  /proc/vmstat is
 * system-wide: another process faulting during a repetition counts as well,
 * so the record says so and expectations carry a tolerance.  The workers'
 * perf counters (PERF_COUNT_SW_PAGE_FAULTS, dTLB read misses) are opened by
 * the coordinator on each worker's thread id, so they count that worker
 * alone, threads and processes alike.
 */
#include <errno.h>
#include <linux/perf_event.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "counters.h"
#include "metrics.h"
#include "vmstat.h"

enum { PF_FAULTS, PF_DTLB, PF_COUNT };

static const char *const pf_names[PF_COUNT] = { "page_faults", "dtlb_load_misses" };

struct fl_counters {
	const struct workload *wl;
	unsigned nr_workers;
	struct fl_vmstat prev, delta;
	bool have_prev, vmstat_ok;
	char vmstat_why[128];
	int (*fds)[PF_COUNT];		/* [worker][counter], -1 when not open */
	uint64_t pf_prev[PF_COUNT], pf_delta[PF_COUNT];
	bool pf_ok[PF_COUNT];
	char pf_why[PF_COUNT][128];
	json_t *vm_reps;		/* counter -> [delta per measured repetition] */
	json_t *pf_reps;
	uint64_t mark_ns, marks;	/* what reading the counters costs */
	unsigned unchecked;		/* repetitions whose excess others may have caused */
};

struct fl_counters *fl_counters_new(const struct workload *wl, unsigned nr_workers)
{
	struct fl_counters *k = calloc(1, sizeof(*k));

	if (!k)
		return NULL;
	k->wl = wl;
	k->nr_workers = nr_workers;
	k->fds = calloc(nr_workers, sizeof(*k->fds));
	k->vm_reps = json_object();
	k->pf_reps = json_object();
	for (unsigned i = 0; k->fds && i < nr_workers; i++)
		for (int p = 0; p < PF_COUNT; p++)
			k->fds[i][p] = -1;
	for (int p = 0; p < PF_COUNT; p++)
		snprintf(k->pf_why[p], sizeof(k->pf_why[p]), "not attached");
	return k;
}

static int perf_open(pid_t tid, int p)
{
	struct perf_event_attr a = { .size = sizeof(a), .exclude_hv = 1 };

	if (p == PF_FAULTS) {
		a.type = PERF_TYPE_SOFTWARE;
		a.config = PERF_COUNT_SW_PAGE_FAULTS;
	} else {
		a.type = PERF_TYPE_HW_CACHE;
		a.config = PERF_COUNT_HW_CACHE_DTLB | (PERF_COUNT_HW_CACHE_OP_READ << 8) |
			   (PERF_COUNT_HW_CACHE_RESULT_MISS << 16);
	}
	return (int)syscall(SYS_perf_event_open, &a, tid, -1, -1, PERF_FLAG_FD_CLOEXEC);
}

void fl_counters_attach(struct fl_counters *k, const volatile pid_t *tids, size_t stride)
{
	if (!k || !k->fds)
		return;
	for (int p = 0; p < PF_COUNT; p++) {
		k->pf_ok[p] = true;
		for (unsigned i = 0; i < k->nr_workers && k->pf_ok[p]; i++) {
			pid_t tid = *(const volatile pid_t *)((const char *)tids + i * stride);

			k->fds[i][p] = perf_open(tid, p);
			if (k->fds[i][p] < 0) {
				/* EACCES/EPERM: perf_event_paranoid; ENOENT/EOPNOTSUPP: no PMU (VMs). */
				snprintf(k->pf_why[p], sizeof(k->pf_why[p]), "perf_event_open(%s): %s",
					 pf_names[p], strerror(errno));
				k->pf_ok[p] = false;
			}
		}
	}
}

static uint64_t pf_read(struct fl_counters *k, int p)
{
	uint64_t sum = 0, v;

	for (unsigned i = 0; i < k->nr_workers; i++)
		if (k->fds[i][p] >= 0 && read(k->fds[i][p], &v, sizeof(v)) == sizeof(v))
			sum += v;
	return sum;
}

void fl_counters_mark(struct fl_counters *k)
{
	struct fl_vmstat now;
	uint64_t t0 = fl_now_ns();
	int err;

	if (!k)
		return;
	err = fl_vmstat_read(&now);
	k->vmstat_ok = !err;
	if (err)
		snprintf(k->vmstat_why, sizeof(k->vmstat_why), "/proc/vmstat: %s", strerror(-err));
	for (int p = 0; p < PF_COUNT; p++) {
		uint64_t v = k->pf_ok[p] ? pf_read(k, p) : 0;

		k->pf_delta[p] = v - k->pf_prev[p];
		k->pf_prev[p] = v;
	}
	for (unsigned i = 0; i < FL_VS_COUNT && !err && k->have_prev; i++)
		k->delta.v[i] = now.v[i] - k->prev.v[i];
	k->delta.present = now.present;
	if (!err) {
		k->have_prev = true;
		k->prev = now;
	}
	k->mark_ns += fl_now_ns() - t0;
	k->marks++;
}

static void push_rep(json_t *reps, const char *name, uint64_t v)
{
	json_t *a = json_object_get(reps, name);

	if (!a) {
		a = json_array();
		json_object_set_new(reps, name, a);
	}
	json_array_append_new(a, json_integer((json_int_t)v));
}

/* The metric name of an evidence entry: "pgfault/fault", "thp_fault_alloc/2M". */
static void evidence_name(const struct workload *wl, const struct fl_evidence *e, char *buf, size_t n)
{
	const char *counter = e->counter == FL_EVIDENCE_WORKER_FAULTS ? "worker_page_faults"
			      : fl_vmstat_names[e->counter];

	snprintf(buf, n, "%s/%s", counter, e->per == FL_PER_2M ? "2M" : wl->op_unit);
}

/* The evidence value of @e over the current delta; false when it cannot be had. */
static bool evidence_value(const struct fl_counters *k, const struct fl_case *c,
			   const struct fl_evidence *e, uint64_t ops, uint64_t bytes, double *v)
{
	bool worker = e->counter == FL_EVIDENCE_WORKER_FAULTS;
	double units = e->per == FL_PER_2M ? (double)bytes / (2 << 20) : (double)ops;

	if ((e->backings && !(e->backings & FL_B(c->backing))) || units <= 0 ||
	    (worker ? !k->pf_ok[PF_FAULTS] : !k->vmstat_ok || !(k->delta.present & (1u << e->counter))))
		return false;
	*v = (double)(worker ? k->pf_delta[PF_FAULTS] : k->delta.v[e->counter]) / units;
	return true;
}

void fl_counters_annotate(struct fl_counters *k, struct fl_case *c, uint64_t ops, uint64_t bytes)
{
	size_t len = strlen(c->reason);
	const char *sep = " (kernel counters this repetition: ";
	double v;
	char name[96];

	for (const struct fl_evidence *e = k ? k->wl->evidence : NULL; e && e->per != FL_PER_END; e++) {
		if (!evidence_value(k, c, e, ops, bytes, &v) || len + 1 >= sizeof(c->reason))
			continue;
		evidence_name(k->wl, e, name, sizeof(name));
		len += (size_t)snprintf(c->reason + len, sizeof(c->reason) - len, "%s%s %.3f", sep, name, v);
		sep = ", ";
	}
	if (*sep == ',' && len + 1 < sizeof(c->reason))
		snprintf(c->reason + len, sizeof(c->reason) - len, ")");
}

/*
 * /proc/vmstat is system-wide, so other processes can only add to a
 * counter: a figure below the expectation is the case's own, one above it
 * is the case's only when nobody else faulted meanwhile.  The workers' own
 * perf page-fault count against the system's pgfault says whether someone
 * did (more than 1% besides the workers, and more than a few).
 */
static bool others_faulted(const struct fl_counters *k)
{
	uint64_t sys, own;

	if (!k->pf_ok[PF_FAULTS] || !k->vmstat_ok || !(k->delta.present & (1u << FL_VS_pgfault)))
		return false;
	sys = k->delta.v[FL_VS_pgfault];
	own = k->pf_delta[PF_FAULTS];
	return sys > own && sys - own > 64 && sys - own > own / 100;
}

static void check_evidence(struct fl_counters *k, struct fl_case *c, unsigned rep, uint64_t ops,
			   uint64_t bytes)
{
	for (const struct fl_evidence *e = k->wl->evidence; e && e->per != FL_PER_END; e++) {
		bool worker = e->counter == FL_EVIDENCE_WORKER_FAULTS;
		double v;
		char name[96];

		if (!evidence_value(k, c, e, ops, bytes, &v))
			continue;
		evidence_name(k->wl, e, name, sizeof(name));
		fl_metrics_push(c->metrics, name, "count", FL_INFORMATIONAL, v);
		if (!e->check || fabs(v - e->expect) <= e->tol || c->status != FL_PASS)
			continue;
		if (!worker && v > e->expect && others_faulted(k)) {
			k->unchecked++;
			continue;
		}
		fl_case_fail(c, "kernel counter %s was %.3f in repetition %u, expected %.3g +- %.3g (%s)",
			     name, v, rep + 1, e->expect, e->tol,
			     worker ? "the workers' perf page-fault count"
				    : "system-wide /proc/vmstat, no other process faulting meanwhile");
	}
}

void fl_counters_record(struct fl_counters *k, struct fl_case *c, unsigned rep, uint64_t ops,
			uint64_t bytes)
{
	if (!k)
		return;
	for (unsigned i = 0; i < FL_VS_COUNT && k->vmstat_ok; i++)
		if (k->delta.present & (1u << i))
			push_rep(k->vm_reps, fl_vmstat_names[i], k->delta.v[i]);
	for (int p = 0; p < PF_COUNT; p++)
		if (k->pf_ok[p])
			push_rep(k->pf_reps, pf_names[p], k->pf_delta[p]);
	check_evidence(k, c, rep, ops, bytes);
}

json_t *fl_counters_json(struct fl_counters *k)
{
	json_t *o, *why = json_object();

	if (!k || (!json_object_size(k->vm_reps) && !json_object_size(k->pf_reps))) {
		json_decref(why);
		return NULL;
	}
	for (int p = 0; p < PF_COUNT; p++)
		if (!k->pf_ok[p])
			json_object_set_new(why, pf_names[p], json_string(k->pf_why[p]));
	o = json_pack("{s:s, s:O, s:O, s:o}", "vmstat_source",
		      "/proc/vmstat over each measured repetition's timed region (system-wide)",
		      "vmstat", k->vm_reps, "workers", k->pf_reps, "workers_unavailable", why);
	if (!k->vmstat_ok)
		json_object_set_new(o, "vmstat_unavailable", json_string(k->vmstat_why));
	if (k->unchecked)
		json_object_set_new(o, "unchecked", json_sprintf(
			"%u time(s) a system-wide counter exceeded its expectation while other processes took page faults: not held against the case",
			k->unchecked));
	/* Two reads per repetition, both outside its timed region (barriers B2, C1). */
	if (k->marks)
		json_object_set_new(o, "sample_ns", json_real((double)k->mark_ns / (double)k->marks));
	return o;
}

void fl_counters_free(struct fl_counters *k)
{
	if (!k)
		return;
	for (unsigned i = 0; k->fds && i < k->nr_workers; i++)
		for (int p = 0; p < PF_COUNT; p++)
			if (k->fds[i][p] >= 0)
				close(k->fds[i][p]);
	free(k->fds);
	json_decref(k->vm_reps);
	json_decref(k->pf_reps);
	free(k);
}
