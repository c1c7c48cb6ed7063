// SPDX-License-Identifier: GPL-2.0
/*
 * faultline stress: its settings and its job files.  The [stress] section
 * of a job file and the command line set the same keys through
 * fl_stress_conf_set().  Every run leaves stress.job, which replays it
 * (--replay DIR); --shrink then drops cases and perturbers while the same
 * failure still happens and writes the smallest mix as reproducer.job.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runner.h"
#include "stress_int.h"

void fl_stress_conf_init(struct fl_stress_conf *sc)
{
	memset(sc, 0, sizeof(*sc));
	sc->duration = 60;
	sc->history = 10;
	sc->perturbers = P_ALL;
	sc->inject_at = -1;
}

static int parse_duration(const char *s, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || v <= 0 || v > 7 * 86400.0)
		return -1;
	if (!strcmp(end, "") || !strcmp(end, "s"))
		*out = v;
	else if (!strcmp(end, "m"))
		*out = v * 60;
	else if (!strcmp(end, "h"))
		*out = v * 3600;
	else
		return -1;
	return *out <= 7 * 86400.0 ? 0 : -1;
}

static int parse_perturbers(const char *list, unsigned *mask, char *err, size_t errlen)
{
	char buf[FL_OPT_STRLEN], *save = NULL;

	*mask = 0;
	snprintf(buf, sizeof(buf), "%s", list);
	if (!strcmp(buf, "all")) {
		*mask = P_ALL;
		return 0;
	}
	if (!strcmp(buf, "none"))
		return 0;
	for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		int p;

		for (p = 0; p < P_COUNT; p++)
			if (!strcmp(t, stress_pert_names[p]))
				break;
		if (p == P_COUNT) {
			size_t off = (size_t)snprintf(err, errlen, "unknown perturber '%s' (valid: all, none", t);

			for (int i = 0; i < P_COUNT && off < errlen; i++)
				off += (size_t)snprintf(err + off, errlen - off, ", %s", stress_pert_names[i]);
			if (off < errlen)
				snprintf(err + off, errlen - off, ")");
			return -1;
		}
		*mask |= 1u << p;
	}
	return 0;
}

int fl_stress_conf_set(struct fl_stress_conf *sc, const char *key, const char *value,
		       char *err, size_t errlen)
{
	const char *dur = "expected seconds or 30s, 10m, 1h (up to 7 days)";
	char *end;

	if (!strcmp(key, "seed")) {
		errno = 0;
		sc->seed = strtoull(value, &end, 0);
		if (errno || *end || end == value || *value == '-')
			goto bad;
		sc->seed_set = true;
	} else if (!strcmp(key, "duration")) {
		if (parse_duration(value, &sc->duration))
			goto bad;
	} else if (!strcmp(key, "history")) {
		if (parse_duration(value, &sc->history))
			goto bad;
	} else if (!strcmp(key, "perturbers")) {
		return parse_perturbers(value, &sc->perturbers, err, errlen);
	} else if (!strcmp(key, "inject_corruption") || !strcmp(key, "inject_workload")) {
		if (!stress_test_hooks()) {
			snprintf(err, errlen, "a test hook: it needs FAULTLINE_TEST_HOOKS=1 in the environment");
			return -1;
		}
		if (!strcmp(key, "inject_workload"))
			snprintf(sc->inject_key, sizeof(sc->inject_key), "%s", value);
		else if (parse_duration(value, &sc->inject_at))
			goto bad;
	} else {
		snprintf(err, errlen, "unknown key (valid: seed, duration, history, perturbers)");
		return -1;
	}
	return 0;
bad:
	snprintf(err, errlen, "invalid value '%.100s' (%s)", value,
		 !strcmp(key, "seed") ? "expected an unsigned integer" : dur);
	return -1;
}

/* Take the [stress] sections out of a loaded job: their keys configure the run. */
static int take_stress_section(struct fl_job *job, struct fl_stress_conf *sc, char *err, size_t errlen)
{
	char msg[512];

	for (unsigned i = 0; i < job->nr_specs; i++) {
		struct fl_spec *s = &job->specs[i];

		if (strcmp(s->name, "stress") || s->wl)
			continue;
		for (unsigned k = 0; k < s->nr_params; k++) {
			const struct fl_param *p = &s->params[k];

			if (fl_stress_conf_set(sc, p->key, p->value, msg, sizeof(msg))) {
				snprintf(err, errlen, "%s: [stress] %s: %s", p->origin, p->key, msg);
				return -1;
			}
		}
		memmove(s, s + 1, (job->nr_specs - i - 1) * sizeof(*s));
		job->nr_specs--;
		i--;
	}
	return 0;
}

int fl_stress_load_job(const char *path, struct fl_job *job, struct fl_stress_conf *sc,
		       char *err, size_t errlen)
{
	if (fl_job_load(path, job, err, errlen) || take_stress_section(job, sc, err, errlen))
		return -1;
	if (!job->nr_specs) {
		snprintf(err, errlen, "%s: no workload sections besides [stress]", path);
		return -1;
	}
	return 0;
}

void stress_slot_keys(struct slot *slots, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		unsigned ord = 0;

		for (unsigned j = 0; j < i; j++)
			if (slots[j].def->wl == slots[i].def->wl && slots[j].def->backing == slots[i].def->backing)
				ord++;
		snprintf(slots[i].key, sizeof(slots[i].key), "%s/%s#%u", slots[i].def->wl->name,
			 fl_backings[slots[i].def->backing].name, ord);
	}
}

static void write_options(FILE *f, const struct fl_option *o, const void *config)
{
	char val[FL_OPT_STRLEN];

	for (; o && o->name; o++) {
		fl_opt_value_str(o, config, val, sizeof(val));
		if (*val)
			fprintf(f, "%s=%s\n", o->name, val);
	}
}

int stress_write_job(const char *path, const struct fl_stress_conf *sc, const struct slot *slots,
		     unsigned n, const char *comment)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f;
	bool first = true;
	int ret;

	f = open_memstream(&text, &len);
	if (!f)
		return -1;
	fprintf(f, "; %s\n; run: faultline stress --suite %s\n\n[stress]\nseed=%" PRIu64 "\nduration=%g\nhistory=%g\nperturbers=",
		comment, path, sc->seed, sc->duration, sc->history);
	for (int p = 0; p < P_COUNT; p++)
		if (sc->perturbers & (1u << p)) {
			fprintf(f, "%s%s", first ? "" : ",", stress_pert_names[p]);
			first = false;
		}
	fprintf(f, "%s\n", first ? "none" : "");
	if (sc->inject_at >= 0)
		fprintf(f, "; test hook: needs FAULTLINE_TEST_HOOKS=1\ninject_corruption=%g\ninject_workload=%s\n",
			sc->inject_at, sc->inject_key);
	for (unsigned i = 0; i < n; i++) {
		const struct fl_case_def *d = slots[i].def;

		fprintf(f, "\n; %s (stream %s)\n[%s.%s.%u]\nworkload=%s\nbacking=%s\n", d->label, slots[i].key,
			d->wl->name, fl_backings[d->backing].name, i, d->wl->name, fl_backings[d->backing].name);
		write_options(f, d->wl->options, d->config);
		write_options(f, fl_core_options, &d->core);
	}
	if (fclose(f)) {
		free(text);
		return -1;
	}
	ret = fl_write_file_atomic(path, text, len);
	free(text);
	return ret;
}

/* ---- replay and shrinking ---- */

static bool same_failure(const struct outcome *a, const struct outcome *b)
{
	return a->kind != MM_NONE && a->kind == b->kind && !strcmp(a->key, b->key);
}

static int free_dir(char *buf, size_t len, const char *base, const char *name)
{
	for (int i = 1; i < 1000; i++) {
		snprintf(buf, len, "%s/%s-%d", base, name, i);
		if (access(buf, F_OK))
			return 0;
	}
	return -1;
}

/* The failure recorded in DIR/stress.json; -1 (a message printed) when it cannot be replayed. */
static int recorded_failure(const char *dir, struct outcome *want)
{
	char path[PATH_MAX];
	json_error_t jerr;
	json_t *sj, *f;
	const char *kind;
	bool hooks;

	memset(want, 0, sizeof(*want));
	snprintf(path, sizeof(path), "%s/stress.json", dir);
	sj = json_load_file(path, 0, &jerr);
	if (!sj) {
		fprintf(stderr, "faultline: --replay: cannot read %s: %s\n", path, jerr.text);
		return -1;
	}
	f = json_object_get(sj, "failure");
	kind = json_string_value(json_object_get(f, "kind"));
	if (kind) {
		for (int k = 0; k <= MM_SPLAT; k++)
			if (!strcmp(kind, stress_mm_names[k]))
				want->kind = k;
		snprintf(want->key, sizeof(want->key), "%s", json_string_value(json_object_get(f, "workload")) ?:
			 want->kind == MM_SPLAT ? "kernel" : "");
		want->t_s = json_number_value(json_object_get(f, "t_s"));
	}
	hooks = json_object_get(sj, "test_hooks") != NULL;
	json_decref(sj);
	if (hooks && !stress_test_hooks()) {
		fprintf(stderr, "faultline: --replay: %s used the test-corrupt hook: set FAULTLINE_TEST_HOOKS=1 to replay it\n", dir);
		return -1;
	}
	return 0;
}

/* One trial of the shrink: the run without what @keep and @sc drop; does it fail the same way? */
static bool shrink_trial(const struct fl_plan *plan, const struct fl_stress_conf *sc, const bool *keep,
			 const char *dir, const struct outcome *want, int argc, char **argv, const char *what)
{
	char out[PATH_MAX];
	struct outcome o;
	bool same;

	free_dir(out, sizeof(out), dir, "shrink");
	stress_run_once(plan, sc, out, argc, argv, &o, keep);
	same = same_failure(want, &o);
	printf("faultline: shrink: without %s: %s\n", what, same ? "still fails, dropped" : "passes, kept");
	return same;
}

/* Greedy: drop each case, then each perturber, while the same failure still happens. */
static int shrink(const struct fl_plan *plan, const struct fl_stress_conf *sc, const char *dir,
		  const struct outcome *want, int argc, char **argv)
{
	struct slot tmp[FL_STRESS_MAX_CASES];
	struct fl_stress_conf best = *sc;
	unsigned trials = 0, n = 0, nc = plan->nr_cases;
	bool keep[FL_STRESS_MAX_CASES];
	char path[PATH_MAX], what[300];

	best.quiet = true;
	for (unsigned i = 0; i < nc; i++) {
		keep[i] = true;
		tmp[i].def = &plan->cases[i];
	}
	stress_slot_keys(tmp, nc);
	for (unsigned i = 0; i < nc; i++) {
		unsigned kept = 0;

		/* The failing case stays: the same failure must happen in it. */
		if (!strcmp(tmp[i].key, want->key))
			continue;
		keep[i] = false;
		for (unsigned j = 0; j < nc; j++)
			kept += keep[j];
		if (!kept) {
			keep[i] = true;
			continue;
		}
		trials++;
		snprintf(what, sizeof(what), "%s", plan->cases[i].label);
		if (!shrink_trial(plan, &best, keep, dir, want, argc, argv, what))
			keep[i] = true;
	}
	for (int p = 0; p < P_COUNT; p++) {
		if (!(best.perturbers & (1u << p)))
			continue;
		best.perturbers &= ~(1u << p);
		trials++;
		snprintf(what, sizeof(what), "perturber %s", stress_pert_names[p]);
		if (!shrink_trial(plan, &best, keep, dir, want, argc, argv, what))
			best.perturbers |= 1u << p;
	}
	for (unsigned i = 0; i < nc; i++)
		if (keep[i])
			tmp[n++].def = &plan->cases[i];
	stress_slot_keys(tmp, n);
	snprintf(path, sizeof(path), "%s/reproducer.job", dir);
	if (stress_write_job(path, &best, tmp, n, "faultline stress: minimal reproducer (shrunk)")) {
		fprintf(stderr, "faultline: cannot write %s: %s\n", path, strerror(errno));
		return FL_EXIT_INTERNAL;
	}
	printf("faultline: shrink: %u trials; %u of %u cases kept; reproducer: %s\n", trials, n, nc, path);
	return FL_EXIT_FAIL;
}

static void replay_verdict(const struct outcome *want, const struct outcome *got, int ret, double duration)
{
	const char *const *mm = stress_mm_names;

	if (want->kind == MM_NONE)
		printf("faultline: replay: the recorded run passed; this one %s\n", ret ? "did not" : "passed too");
	else if (same_failure(want, got))
		printf("faultline: replay: reproduced: %s in %s at %.3fs (recorded at %.3fs)\n", mm[got->kind],
		       got->key, got->t_s, want->t_s);
	else if (got->kind != MM_NONE)
		printf("faultline: replay: failed differently: %s in %s (recorded: %s in %s)\n", mm[got->kind],
		       got->key, mm[want->kind], want->key);
	else
		printf("faultline: replay: not reproduced in %gs (recorded: %s in %s at %.3fs)\n", duration,
		       mm[want->kind], want->key, want->t_s);
}

int fl_stress_replay(const char *dir, bool do_shrink, bool quiet, int argc, char **argv)
{
	static struct fl_job job;
	struct fl_stress_conf sc;
	struct fl_plan plan;
	struct outcome want, got;
	char path[PATH_MAX], out[PATH_MAX], err[1024];
	int ret;

	if (recorded_failure(dir, &want))
		return FL_EXIT_USAGE;
	fl_stress_conf_init(&sc);
	sc.quiet = quiet;
	snprintf(path, sizeof(path), "%s/stress.job", dir);
	if (fl_stress_load_job(path, &job, &sc, err, sizeof(err)) ||
	    fl_job_expand(&job, NULL, &plan, err, sizeof(err))) {
		fprintf(stderr, "faultline: %s\n", err);
		return FL_EXIT_USAGE;
	}
	if (plan.nr_cases > FL_STRESS_MAX_CASES) {
		fprintf(stderr, "faultline: --replay: %s: more than %d cases\n", path, FL_STRESS_MAX_CASES);
		fl_plan_free(&plan);
		return FL_EXIT_USAGE;
	}
	/* A recorded failure is replayed up to a little after the time it happened. */
	if (want.kind != MM_NONE && want.t_s * 1.5 + 5 < sc.duration)
		sc.duration = want.t_s * 1.5 + 5;
	if (free_dir(out, sizeof(out), dir, "replay")) {
		fprintf(stderr, "faultline: --replay: too many replays in %s\n", dir);
		fl_plan_free(&plan);
		return FL_EXIT_USAGE;
	}
	printf("faultline: replaying %s (seed %" PRIu64 ", %gs) into %s\n", dir, sc.seed, sc.duration, out);
	ret = stress_run_once(&plan, &sc, out, argc, argv, &got, NULL);
	replay_verdict(&want, &got, ret, sc.duration);
	if (do_shrink && same_failure(&want, &got))
		ret = shrink(&plan, &sc, dir, &want, argc, argv);
	else if (do_shrink)
		printf("faultline: shrink: nothing to shrink: the failure did not reproduce\n");
	fl_plan_free(&plan);
	return ret;
}
