// SPDX-License-Identifier: GPL-2.0
/*
 * faultline stress: what a run reports.  Progress lines while it runs
 * (scripts/vmlib/stressmode.py parses them from a guest console); at the
 * end one record per case through the core's record writer, stress.json
 * (format: docs/results.md) and the stress.job that replays the run.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "metrics.h"
#include "runner.h"
#include "stress_int.h"

uint64_t stress_slot_ops(const struct slot *sl)
{
	uint64_t ops = 0;

	for (unsigned i = 0; i < sl->nw; i++)
		ops += sl->shm->wops[i * 8];
	return ops;
}

void stress_progress(const struct stress_run *r, bool final)
{
	double el = (double)stress_rel_ns(r->ctl) / 1e9;
	uint64_t perts = 0, checks = 0;
	char line[1024];
	size_t off;

	for (unsigned p = 0; p < P_COUNT; p++)
		perts += r->g->pcount[p];
	for (unsigned i = 0; i < r->n; i++) {
		perts += r->slots[i].shm->perts;
		checks += r->slots[i].shm->checks + r->slots[i].shm->verifies;
	}
	off = (size_t)snprintf(line, sizeof(line), "stress: %5.0fs/%.0fs", el, r->sc->duration);
	for (unsigned i = 0; i < r->n && off < sizeof(line); i++)
		off += (size_t)snprintf(line + off, sizeof(line) - off, " %s=%" PRIu64, r->slots[i].key,
					stress_slot_ops(&r->slots[i]));
	if (off < sizeof(line))
		snprintf(line + off, sizeof(line) - off, " ops; %" PRIu64 " perturbations; %" PRIu64 " checks ok",
			 perts, checks);
	if (r->tty)
		printf("\r\033[K%s%s", line, final ? "\n" : "");
	else
		printf("%s\n", line);
	fflush(stdout);
}

static const char *pert_result(int err)
{
	return err == PERT_ELSEWHERE ? "ok, elsewhere: no free gap beside a workload VMA" :
	       err ? strerror(err) : "ok";
}

/* A perturbation's counts: errors (with the last errno's name), elsewhere apart. */
static json_t *pert_counts(uint64_t cnt, uint64_t errs, uint64_t miss, int last)
{
	json_t *o = json_pack("{s:I, s:I}", "count", (json_int_t)cnt, "errors", (json_int_t)errs);

	if (errs && last)
		json_object_set_new(o, "last_error", json_string(fl_errno_name(last)));
	if (miss)
		json_object_set_new(o, "elsewhere", json_integer((json_int_t)miss));
	return o;
}

static json_t *hist_json(const struct hist_ev *e, const char *key)
{
	json_t *o = json_pack("{s:o, s:s, s:s}", "t_s", fl_json_real((double)e->t_ns / 1e9),
			      "perturber", stress_pert_names[e->pert], "result", pert_result(e->err));

	json_object_set_new(o, "workload", key ? json_string(key) : json_null());
	if (e->region >= 0) {
		char a[32];

		snprintf(a, sizeof(a), "0x%" PRIx64, e->addr);
		json_object_set_new(o, "region", json_integer(e->region));
		json_object_set_new(o, "address", json_string(a));
		json_object_set_new(o, "offset", json_integer((json_int_t)e->off));
		json_object_set_new(o, "len", json_integer((json_int_t)e->len));
	}
	return o;
}

static int cmp_t(const void *a, const void *b)
{
	double x = json_real_value(json_object_get(*(json_t *const *)a, "t_s"));
	double y = json_real_value(json_object_get(*(json_t *const *)b, "t_s"));

	return x < y ? -1 : x > y;
}

/* The events of @ring (@head written) between @from and @to. */
static void ring_json(json_t *arr, const struct hist_ev *ring, uint64_t head, uint64_t from, uint64_t to,
		      const char *key)
{
	for (uint64_t j = head > RING ? head - RING : 0; j < head; j++)
		if (ring[j % RING].t_ns >= from && ring[j % RING].t_ns <= to)
			json_array_append_new(arr, hist_json(&ring[j % RING], key));
}

/* Perturbations of the last history_s seconds before the failure, all rings merged, by time. */
static json_t *history_json(const struct stress_run *r)
{
	uint64_t span = (uint64_t)(r->sc->history * 1e9);
	uint64_t from = r->t_fail > span ? r->t_fail - span : 0;
	json_t *arr = json_array(), **v, *sorted = json_array();
	size_t nv;

	for (unsigned i = 0; i < r->n; i++)
		ring_json(arr, r->slots[i].shm->ring, r->slots[i].shm->ring_head, from, r->t_fail,
			  r->slots[i].key);
	ring_json(arr, r->g->ring, r->g->head, from, r->t_fail, NULL);
	nv = json_array_size(arr);
	v = calloc(nv ? nv : 1, sizeof(*v));
	if (v) {
		for (size_t k = 0; k < nv; k++)
			v[k] = json_array_get(arr, k);
		qsort(v, nv, sizeof(*v), cmp_t);
		for (size_t k = 0; k < nv; k++)
			json_array_append(sorted, v[k]);
		free(v);
	}
	json_decref(arr);
	return sorted;
}

/* A case's outcome: its own, or the run's failure when it is the failing case. */
static const char *case_status(const struct stress_run *r, unsigned i, char *reason, size_t len)
{
	const struct slot *sl = &r->slots[i];
	const struct slot_shm *s = sl->shm;

	reason[0] = '\0';
	if ((int)i == r->fail_slot) {
		if (r->fail_kind == MM_DIED)
			snprintf(reason, len, "case process %s under stress", WIFSIGNALED(sl->wstatus) ?
				 strsignal(WTERMSIG(sl->wstatus)) : "exited before its end");
		else if (r->fail_kind == MM_HUNG)
			snprintf(reason, len, "hung: did not stop within %ds and was killed", STOP_GRACE_S);
		else
			snprintf(reason, len, "%s at %+.3fs: %s", stress_mm_names[r->fail_kind],
				 (double)s->mm.t_ns / 1e9, s->mm.where);
		return "fail";
	}
	if (r->fail_kind == MM_SPLAT) {
		/* Not attributable to one case: every case that ran records it. */
		snprintf(reason, len, "kernel splat at %+.3fs during the stress run: %.400s",
			 (double)r->kw.t_ns / 1e9, r->kw.headline);
		return "fail";
	}
	if (s->status != FL_PASS) {
		snprintf(reason, len, "%s", s->reason);
		return fl_status_name((enum fl_status)s->status);
	}
	if (s->state != 2 && sl->killed) {
		snprintf(reason, len, "killed: did not stop within %ds", STOP_GRACE_S);
		return "error";
	}
	return "pass";
}

/* The case's record in results.jsonl: the core's record with the stress counts as metrics. */
static json_t *case_record(const struct stress_run *r, unsigned i, const char *status, const char *reason,
			   uint64_t ops)
{
	const struct slot *sl = &r->slots[i];
	const struct slot_shm *s = sl->shm;
	const char *unit = sl->def->wl->op_unit;
	double el = (double)stress_rel_ns(r->ctl) / 1e9;
	struct fl_case_metrics *cm = fl_case_metrics_new();
	json_t *rec;

	if (!cm)
		return NULL;
	fl_metrics_push(cm, "ops", unit, FL_INFORMATIONAL, (double)ops);
	fl_metrics_push(cm, "ops_rate", unit, FL_INFORMATIONAL, el > 0 ? (double)ops / el : 0);
	fl_metrics_push(cm, "checks", "check", FL_INFORMATIONAL, (double)s->checks);
	fl_metrics_push(cm, "verifies", "sweep", FL_INFORMATIONAL, (double)s->verifies);
	fl_metrics_push(cm, "perturbations", "event", FL_INFORMATIONAL, (double)s->perts);
	rec = fl_case_record(sl->def, status, reason, sl->nw, r->ctl->t0, cm, json_object());
	fl_case_metrics_free(cm);
	json_object_set_new(rec, "mode", json_string("stress"));
	json_object_set_new(rec, "stress_key", json_string(sl->key));
	if (r->fail_kind == MM_SPLAT)
		json_object_set(rec, "kernel_log", r->kw.lines);
	return rec;
}

/* The case's entry in stress.json's "workloads". */
static json_t *case_summary(const struct slot *sl, const char *status, const char *reason, uint64_t ops)
{
	const struct slot_shm *s = sl->shm;
	json_t *pc = json_object();

	for (int p = 0; p <= P_INJECT; p++)
		if (s->pcount[p])
			json_object_set_new(pc, stress_pert_names[p], pert_counts(s->pcount[p], s->perr[p],
										s->pmiss[p], s->plast[p]));
	return json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:o, s:i, s:I, s:s}",
		"case", sl->def->label, "key", sl->key, "status", status, "reason", reason,
		"ops", (json_int_t)ops, "checks", (json_int_t)s->checks, "verifies", (json_int_t)s->verifies,
		"perturbations", pc, "workers", (int)sl->nw,
		"degraded_checks", (json_int_t)s->degraded, "degraded_reason", s->degraded_reason);
}

/* Every case's record and summary; *failed when one failed or errored. */
static json_t *write_cases(struct stress_run *r, bool *failed)
{
	json_t *wls = json_array();

	for (unsigned i = 0; i < r->n; i++) {
		char reason[700];
		const char *status = case_status(r, i, reason, sizeof(reason));
		uint64_t ops = stress_slot_ops(&r->slots[i]);
		json_t *rec = case_record(r, i, status, reason, ops);

		if (!strcmp(status, "fail") || !strcmp(status, "error"))
			*failed = true;
		if (rec)
			fl_results_append(&r->res, rec, i);
		json_decref(rec);
		json_array_append_new(wls, case_summary(&r->slots[i], status, reason, ops));
	}
	return wls;
}

/* Every perturber: asked or not, what it did over all cases, why it was skipped. */
static json_t *perturbers_json(const struct stress_run *r)
{
	json_t *perts = json_object();

	for (int p = 0; p < P_COUNT; p++) {
		uint64_t cnt = r->g->pcount[p], errs = r->g->perr[p], miss = 0;
		int last = r->g->plast[p];
		const char *skip = r->why[p][0] ? r->why[p] : NULL;
		json_t *o;

		for (unsigned i = 0; i < r->n; i++) {
			const struct slot_shm *s = r->slots[i].shm;

			cnt += s->pcount[p];
			errs += s->perr[p];
			miss += s->pmiss[p];
			if (s->plast[p])
				last = s->plast[p];
			if (!skip && s->unsupported[p][0])
				skip = s->unsupported[p];
		}
		o = pert_counts(cnt, errs, miss, last);
		json_object_set_new(o, "asked", json_boolean(r->sc->perturbers & (1u << p)));
		json_object_set_new(o, "help", json_string(stress_pert_help[p]));
		if (skip)
			json_object_set_new(o, "skip", json_string(skip));
		json_object_set_new(perts, stress_pert_names[p], o);
	}
	return perts;
}

static void mismatch_json(json_t *failure, const struct mismatch *mm)
{
	char a[32], e[32], g[32];

	json_object_set_new(failure, "where", json_string(mm->where));
	if (mm->region < 0)
		return;
	snprintf(a, sizeof(a), "0x%" PRIx64, mm->addr);
	snprintf(e, sizeof(e), "0x%016" PRIx64, mm->expected);
	snprintf(g, sizeof(g), "0x%016" PRIx64, mm->got);
	json_object_set_new(failure, "region", json_integer(mm->region));
	json_object_set_new(failure, "address", json_string(a));
	json_object_set_new(failure, "offset", json_integer((json_int_t)mm->off));
	json_object_set_new(failure, "region_len", json_integer((json_int_t)mm->len));
	json_object_set_new(failure, "expected", json_string(e));
	json_object_set_new(failure, "got", json_string(g));
	json_object_set_new(failure, "bad_words", json_integer((json_int_t)mm->bad_words));
}

/* stress.json's "failure" (NULL when the run did not fail); @oc gets it too. */
static json_t *failure_json(const struct stress_run *r, struct outcome *oc)
{
	double t_s = (double)r->t_fail / 1e9;
	json_t *failure;

	if (r->fail_slot >= 0) {
		const struct slot *sl = &r->slots[r->fail_slot];

		failure = json_pack("{s:s, s:s, s:s, s:o}", "kind", stress_mm_names[r->fail_kind],
				    "workload", sl->key, "case", sl->def->label, "t_s", fl_json_real(t_s));
		if (sl->shm->has_mm)
			mismatch_json(failure, &sl->shm->mm);
		snprintf(oc->key, sizeof(oc->key), "%s", sl->key);
	} else if (r->fail_kind == MM_SPLAT) {
		failure = json_pack("{s:s, s:n, s:o, s:s, s:O}", "kind", stress_mm_names[MM_SPLAT], "workload",
				    "t_s", fl_json_real(t_s), "where", r->kw.headline, "kernel_log", r->kw.lines);
		snprintf(oc->key, sizeof(oc->key), "kernel");
	} else {
		return NULL;
	}
	json_object_set_new(failure, "history", history_json(r));
	oc->kind = r->fail_kind;
	oc->t_s = t_s;
	return failure;
}

int stress_write_results(struct stress_run *r, struct outcome *oc, bool interrupted)
{
	const struct fl_stress_conf *sc = r->sc;
	struct fl_stress_conf rc = *sc;
	bool failed = false;
	int exit_status;
	char now[32], path[PATH_MAX];
	json_t *sj, *wls = write_cases(r, &failed), *failure = failure_json(r, oc);

	exit_status = failed || failure ? FL_EXIT_FAIL : FL_EXIT_OK;
	fl_iso_time(now, sizeof(now));
	sj = json_pack("{s:s, s:s, s:I, s:f, s:f, s:f, s:o, s:o, s:s, s:s}",
		       "schema", "faultline.stress/1", "run_id", r->res.run_id, "seed", (json_int_t)sc->seed,
		       "duration_s", sc->duration, "elapsed_s", (double)stress_rel_ns(r->ctl) / 1e9,
		       "history_s", sc->history, "workloads", wls, "perturbers", perturbers_json(r),
		       "result", failure ? "fail" : interrupted ? "interrupted" : exit_status ? "error" : "pass",
		       "job", "stress.job");
	json_object_set_new(sj, "failure", failure ? failure : json_null());
	json_object_set_new(sj, "kernel_log_watch", json_string(r->kw.why[0] ? r->kw.why : "/dev/kmsg"));
	if (sc->inject_at >= 0)
		json_object_set_new(sj, "test_hooks", json_pack("{s:f, s:s}", "inject_corruption_s", sc->inject_at,
								 "inject_workload", r->slots[r->inject_slot].key));
	json_object_set_new(sj, "end", json_string(now));
	if (r->inject_slot >= 0)
		snprintf(rc.inject_key, sizeof(rc.inject_key), "%s", r->slots[r->inject_slot].key);
	snprintf(path, sizeof(path), "%s/stress.job", r->res.dir);
	if (stress_write_job(path, &rc, r->slots, r->n, "faultline stress: the job that replays this run"))
		fprintf(stderr, "faultline: cannot write %s: %s\n", path, strerror(errno));
	snprintf(path, sizeof(path), "%s/stress.json", r->res.dir);
	if (fl_write_json_atomic(path, sj)) {
		fprintf(stderr, "faultline: cannot write %s: %s\n", path, strerror(errno));
		exit_status = FL_EXIT_INTERNAL;
	}
	json_decref(sj);
	if (interrupted && !failure)
		exit_status = FL_EXIT_INTERRUPTED;
	return exit_status;
}
