// SPDX-License-Identifier: GPL-2.0
/*
 * faultline stress: long mixed runs that hunt the races these paths are
 * known for (stale mappings after zap, COW after fork vs concurrent faults,
 * VMA split/merge next to faulting or pinned ranges, THP split and collapse,
 * migration and compaction under load).
 *
 * Kernel paths: whatever the mixed workloads exercise, plus the perturbers'
 * own (bench/stress_perturb.c).
 *
 * To use:
 *   faultline stress --mix populate,fault-scale --duration 10m
 *   faultline stress --suite workloads/suites/stress.job --seed 42
 *   faultline stress --replay results/<run-id>            (re-run a failure)
 *   faultline stress --replay results/<run-id> --shrink   (minimal job file)
 *
 * Each mixed case runs in a process of its own (fl_case_fork(), so a crash
 * names its case) through the core's case lifecycle: worker threads run the
 * core's free-running loop (prepare, run, check), bound to CPUs by the
 * core's placement, while the process's main thread executes that case's
 * perturbation schedule on sentinel regions mapped right beside the
 * workloads' own VMAs, verified after every perturbation and every half
 * second; the operations that cannot corrupt data (fork, compaction,
 * migration, memcg pressure) also reach the workloads' memory.  A sentinel
 * mismatch, a failed check hook, a crashed case process or a kernel splat
 * stops the run.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "placement.h"
#include "runner.h"
#include "stress_int.h"

const char *const stress_mm_names[MM_SPLAT + 1] = {
	"none", "sentinel-mismatch", "check-failed", "fork-child-mismatch", "process-died", "hung",
	"kernel-splat",
};

static volatile sig_atomic_t interrupted;

static void on_sigint(int sig)
{
	interrupted = 1;
}

/* ---- the case process ---- */

struct case_proc {
	struct fl_case c;
	struct slot_shm *shm;
	const struct ctl *ctl;
	pthread_mutex_t lock;		/* the case's status, between workers */
};

struct wctx {
	struct fl_worker w;
	struct fl_loop loop;
	struct case_proc *cp;
	const struct fl_placement *pl;
	unsigned slot_index;
	unsigned early_skips;
	pthread_t tid;
};

static void slot_status(struct case_proc *cp)
{
	pthread_mutex_lock(&cp->lock);
	if (cp->shm->status == FL_PASS && cp->c.status != FL_PASS) {
		cp->shm->status = cp->c.status;
		snprintf(cp->shm->reason, sizeof(cp->shm->reason), "%s", cp->c.reason);
	}
	pthread_mutex_unlock(&cp->lock);
}

/*
 * A backing check that fails (a THP run that got 4 KiB pages) is what
 * compaction and splits do to memory under stress: counted and shown, not
 * the end of the case, unless it never passed in 10 tries, which is a
 * system without THP: a skip.  A skip from prepare() or run() may leave
 * that batch's mapping to teardown(): at most 10 of those per worker.
 */
static bool absorb(struct fl_worker *w, const char *hook, void *arg)
{
	struct wctx *wx = arg;
	struct case_proc *cp = wx->cp;
	struct slot_shm *s = cp->shm;
	bool go_on;

	pthread_mutex_lock(&cp->lock);
	go_on = cp->c.status == FL_SKIP && (!strcmp(hook, "check") ?
		s->checks || s->degraded < 10 : ++wx->early_skips <= 10);
	if (go_on) {
		s->degraded++;
		snprintf(s->degraded_reason, sizeof(s->degraded_reason), "%s", cp->c.reason);
		cp->c.status = FL_PASS;
		cp->c.reason[0] = '\0';
	}
	pthread_mutex_unlock(&cp->lock);
	return go_on;
}

static void *worker_main(void *arg)
{
	struct wctx *wx = arg;
	struct case_proc *cp = wx->cp;
	const char *hook;

	/* Cases are spread over the CPUs: worker 0 of each case on a different one. */
	fl_worker_bind(&wx->w, wx->pl, wx->slot_index, false);
	hook = fl_worker_loop(&wx->w, &wx->loop);
	if (!hook)
		return NULL;
	slot_status(cp);
	if (cp->c.status == FL_FAIL) {
		struct mismatch m = { .kind = MM_CHECK, .region = -1 };

		snprintf(m.where, sizeof(m.where), "worker %u, %s(): %.400s", wx->w.id, hook, cp->c.reason);
		stress_report_mismatch(cp->shm, cp->ctl, &m);
	}
	cp->shm->stop = 1;
	return NULL;
}

/* The workers loop while this thread runs the case's perturbation schedule. */
static void run_workers(struct case_proc *cp, struct pctx *px, const struct fl_placement *pl,
			const struct stress_run *r, unsigned index, bool inject)
{
	unsigned nw = cp->c.nr_workers, nr_lat = fl_case_nr_lat(cp->c.wl), started = 0;
	struct wctx *wx = calloc(nw, sizeof(*wx));
	struct fl_hist *hists = calloc((size_t)nw * (nr_lat ? nr_lat : 1), sizeof(*hists));

	if (!wx || !hists) {
		fl_case_error(&cp->c, "out of memory for %u workers", nw);
		goto out;
	}
	cp->shm->state = 1;
	for (unsigned i = 0; i < nw; i++) {
		wx[i].cp = cp;
		wx[i].pl = pl;
		wx[i].slot_index = index;
		wx[i].loop = (struct fl_loop){ .checked = &cp->shm->checks, .absorb = absorb, .arg = &wx[i] };
		fl_worker_init(&wx[i].w, &cp->c, i, &cp->shm->wops[i * 8], &cp->shm->stop,
			       &hists[i * nr_lat], nr_lat);
		if (pthread_create(&wx[i].tid, NULL, worker_main, &wx[i])) {
			fl_case_error(&cp->c, "pthread_create for worker %u failed", i);
			cp->shm->stop = 1;
			break;
		}
		started++;
	}
	stress_perturber_loop(px, r->sc, r->slots[index].key, inject);
	cp->shm->stop = 1;
	for (unsigned i = 0; i < started; i++)
		pthread_join(wx[i].tid, NULL);
out:
	free(wx);
	free(hists);
}

static int sentinels_map(struct pctx *px, struct case_proc *cp, const struct stress_run *r,
			 const struct slot *sl)
{
	px->shm = sl->shm;
	px->ctl = r->ctl;
	px->mask = r->mask & P_LOCAL_MASK;
	px->nodes = fl_numa_nodes();
	px->gen_rng = stress_stream_seed(r->sc->seed, sl->key) ^ 0x5e17e1ull;
	for (int i = 0; i < NREG; i++) {
		int ret = stress_region_map(px, i, NULL);

		if (ret)
			return fl_case_error(&cp->c, "cannot map sentinel region: %s", strerror(-ret));
	}
	stress_probe_advice(px);
	return 0;
}

static void case_main(const struct stress_run *r, unsigned index, bool inject)
{
	const struct slot *sl = &r->slots[index];
	const struct fl_case_def *def = sl->def;
	struct case_proc cp = { .shm = sl->shm, .ctl = r->ctl, .lock = PTHREAD_MUTEX_INITIALIZER };
	static struct pctx px;
	struct fl_placement pl;
	char buf[512];

	if (fl_case_init(&cp.c, def, sl->nw))
		goto out;
	if (fl_placement_init(&pl, def->core.cpus, (int)def->core.node, buf, sizeof(buf))) {
		fl_case_skip(&cp.c, "%s", buf);
		goto out;
	}
	if (fl_case_setup(&cp.c, def, "stress runs workers as threads of the case process (workers=processes is not supported)"))
		goto out;
	if (!sentinels_map(&px, &cp, r, sl))
		run_workers(&cp, &px, &pl, r, index, inject);
	for (int i = 0; i < NREG; i++)
		stress_region_unmap(&px.reg[i]);
	fl_case_teardown(&cp.c);
out:
	slot_status(&cp);
	fl_case_release(&cp.c);
	sl->shm->state = 2;
}

/* ---- the coordinator ---- */

/* The plan's cases (those @keep names) as slots, with their keys and the inject target. */
static int pick_slots(struct stress_run *r, const struct fl_plan *plan, const bool *keep)
{
	const struct fl_stress_conf *sc = r->sc;

	for (unsigned i = 0; i < plan->nr_cases; i++) {
		if (keep && !keep[i])
			continue;
		if (r->n == FL_STRESS_MAX_CASES) {
			fprintf(stderr, "faultline: stress: more than %d cases in the mix\n", FL_STRESS_MAX_CASES);
			return -1;
		}
		r->slots[r->n++].def = &plan->cases[i];
	}
	if (!r->n) {
		fprintf(stderr, "faultline: stress: no cases to run\n");
		return -1;
	}
	stress_slot_keys(r->slots, r->n);
	if (sc->inject_at < 0)
		return 0;
	for (unsigned i = 0; i < r->n && r->inject_slot < 0; i++)
		if (!sc->inject_key[0] || !strcmp(r->slots[i].key, sc->inject_key))
			r->inject_slot = (int)i;
	if (r->inject_slot < 0) {
		fprintf(stderr, "faultline: stress: inject_workload '%s' is not a case of this run (keys look like populate/anon-4k#0)\n",
			sc->inject_key);
		return -1;
	}
	return 0;
}

/*
 * What the run needs before the cases start: the kernel log watched (from
 * here on, and before the first line says the run started), perturbers
 * that can run, run.json.
 */
static int begin_run(struct stress_run *r, const struct fl_plan *plan)
{
	const struct fl_stress_conf *sc = r->sc;
	struct fl_plan sub = { .nr_cases = 0 };

	stress_kwatch_open(&r->kw);
	/* Perturbers that cannot run here are named with the reason, not silently dropped. */
	pthread_mutex_init(&r->g->lock, NULL);
	r->mask = sc->perturbers;
	stress_pert_unavailable(r->g, r->mask, r->why);
	for (int p = 0; p < P_COUNT; p++)
		if (r->why[p][0])
			r->mask &= ~(1u << p);
	r->ctl = mmap(NULL, sizeof(*r->ctl), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (r->ctl == MAP_FAILED) {
		fprintf(stderr, "faultline: stress: mmap: %s\n", strerror(errno));
		return -1;
	}
	/* run.json: the cases of this run only (replays of a shrunk mix differ). */
	sub.cases = calloc(r->n, sizeof(*sub.cases));
	for (unsigned i = 0; sub.cases && i < r->n; i++)
		sub.cases[sub.nr_cases++] = *r->slots[i].def;
	fl_results_begin(&r->res, sub.cases ? &sub : plan, false);
	free(sub.cases);
	if (!sc->quiet)
		printf("faultline: stress seed=%" PRIu64 " duration=%gs, %u cases; results in %s\n",
		       sc->seed, sc->duration, r->n, r->res.dir);
	for (int p = 0; p < P_COUNT; p++)
		if (!sc->quiet && (sc->perturbers & (1u << p)) && r->why[p][0])
			printf("faultline: stress: perturber %s skipped: %s\n", stress_pert_names[p], r->why[p]);
	if (r->kw.why[0] && !sc->quiet)
		printf("faultline: stress: kernel log not watched: %s\n", r->kw.why);
	fflush(stdout);
	fflush(stderr);
	return 0;
}

static unsigned workers_of(const struct fl_case_def *def)
{
	struct fl_placement pl;
	char err[512];
	unsigned nw;

	if (def->core.threads)
		nw = (unsigned)def->core.threads;
	else
		nw = fl_placement_init(&pl, def->core.cpus, -1, err, sizeof(err)) ? 1 : pl.nr_cores;
	return nw > MAX_WORKERS ? MAX_WORKERS : nw;
}

/* One process per case; a case that cannot start stops the run. */
static void spawn_cases(struct stress_run *r)
{
	r->ctl->t0 = fl_now_ns();
	for (unsigned i = 0; i < r->n; i++) {
		struct slot *sl = &r->slots[i];

		sl->nw = workers_of(sl->def);
		sl->shm = mmap(NULL, sizeof(struct slot_shm), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
		if (sl->shm == MAP_FAILED) {
			fprintf(stderr, "faultline: stress: mmap: %s\n", strerror(errno));
			r->n = i;
			r->ctl->stop = 1;
			break;
		}
		sl->pid = fl_case_fork();
		if (sl->pid == 0) {
			case_main(r, i, (int)i == r->inject_slot);
			_exit(0);
		}
		if (sl->pid < 0) {
			fprintf(stderr, "faultline: stress: fork: %s\n", strerror(errno));
			sl->shm->state = 2;
			sl->exited = true;
			r->ctl->stop = 1;
			break;
		}
		stress_memcg_add(r->g, sl->pid);
	}
}

static void fail(struct stress_run *r, int slot, int kind, uint64_t t_ns)
{
	r->fail_slot = slot;
	r->fail_kind = kind;
	r->t_fail = t_ns;
}

/*
 * Reap the case processes that ended; with @judge, a case process that died
 * mid-run or reported a mismatch is the run's failure.  Returns how many
 * still run (with @judge: have not finished their case).
 */
static unsigned reap(struct stress_run *r, bool judge)
{
	unsigned live = 0;

	for (unsigned i = 0; i < r->n; i++) {
		struct slot *sl = &r->slots[i];
		int st;

		if (!sl->exited && waitpid(sl->pid, &st, WNOHANG) == sl->pid) {
			sl->exited = true;
			sl->wstatus = st;
			/* A case process that dies mid-run is a finding: a workload crashed under stress. */
			if (judge && sl->shm->state != 2 && r->fail_slot < 0)
				fail(r, (int)i, MM_DIED, stress_rel_ns(r->ctl));
		}
		if (judge && sl->shm->has_mm && r->fail_slot < 0)
			fail(r, (int)i, sl->shm->mm.kind, sl->shm->mm.t_ns);
		live += !sl->exited && (!judge || sl->shm->state != 2);
	}
	return live;
}

/* Until the duration is over, a failure, a splat, an interrupt, or no case left. */
static void watch(struct stress_run *r)
{
	uint64_t step = r->tty ? 1000000000ull : 10000000000ull, next_progress = fl_now_ns() + step;

	for (;;) {
		unsigned live = reap(r, true);
		uint64_t t = stress_rel_ns(r->ctl);

		if (stress_kwatch_poll(&r->kw, t) && r->fail_slot < 0 && r->fail_kind == MM_NONE)
			fail(r, -1, MM_SPLAT, r->kw.t_ns);
		if (r->fail_slot >= 0 || r->fail_kind == MM_SPLAT || interrupted ||
		    (double)t / 1e9 >= r->sc->duration || !live || r->ctl->stop)
			break;
		if (fl_now_ns() >= next_progress && !r->sc->quiet) {
			stress_progress(r, false);
			next_progress += step;
		}
		stress_sleep_ns(100000000ull);
	}
}

/* Let every case finish its batch and tear down; a stuck one is killed and named. */
static void stop_cases(struct stress_run *r)
{
	uint64_t deadline = fl_now_ns() + STOP_GRACE_S * 1000000000ull;

	r->ctl->stop = 1;
	while (reap(r, false)) {
		stress_kwatch_poll(&r->kw, stress_rel_ns(r->ctl));	/* the rest of the splat */
		if (fl_now_ns() < deadline) {
			stress_sleep_ns(50000000ull);
			continue;
		}
		for (unsigned i = 0; i < r->n; i++) {
			if (r->slots[i].exited)
				continue;
			fl_case_kill(r->slots[i].pid);
			r->slots[i].killed = true;
			if (r->fail_slot < 0 && r->fail_kind != MM_SPLAT)
				fail(r, (int)i, MM_HUNG, stress_rel_ns(r->ctl));
		}
		break;
	}
	stress_kwatch_poll(&r->kw, stress_rel_ns(r->ctl));
}

static void print_end(const struct stress_run *r, int exit_status)
{
	const struct fl_stress_conf *sc = r->sc;

	if (sc->quiet)
		return;
	if (r->fail_slot >= 0 || r->fail_kind == MM_SPLAT)
		printf("faultline: stress FAILED: %s in %s at %.3fs (seed %" PRIu64 "); details in %s/stress.json, "
		       "replay: faultline stress --replay %s\n", stress_mm_names[r->fail_kind],
		       r->fail_slot >= 0 ? r->slots[r->fail_slot].key : "the kernel", (double)r->t_fail / 1e9,
		       sc->seed, r->res.dir, r->res.dir);
	else
		printf("faultline: stress %s (seed %" PRIu64 "); results in %s\n",
		       exit_status == FL_EXIT_OK ? "passed" : exit_status == FL_EXIT_INTERRUPTED ?
		       "interrupted" : "ended with errors", sc->seed, r->res.dir);
}

int stress_run_once(const struct fl_plan *plan, const struct fl_stress_conf *sc, const char *out_dir,
		    int argc, char **argv, struct outcome *oc, const bool *keep)
{
	static struct stress_run r;
	static struct global g;
	struct sigaction sa = { .sa_handler = on_sigint };
	char err[1024];
	int exit_status;

	memset(&r, 0, sizeof(r));
	memset(&g, 0, sizeof(g));
	memset(oc, 0, sizeof(*oc));
	r.sc = sc;
	r.g = &g;
	r.fail_slot = r.inject_slot = -1;
	r.tty = isatty(STDOUT_FILENO) && !sc->quiet;
	if (pick_slots(&r, plan, keep))
		return FL_EXIT_USAGE;
	if (fl_results_open(&r.res, out_dir, false, argc, argv, err, sizeof(err))) {
		fprintf(stderr, "faultline: %s\n", err);
		return FL_EXIT_USAGE;
	}
	if (begin_run(&r, plan))
		return FL_EXIT_INTERNAL;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	spawn_cases(&r);
	g.ctl = r.ctl;
	g.sc = sc;
	g.mask = r.mask & ~P_LOCAL_MASK;
	pthread_create(&g.tid, NULL, stress_global_main, &g);
	watch(&r);
	r.ctl->stop = 1;
	pthread_join(g.tid, NULL);
	stop_cases(&r);
	if (!sc->quiet)
		stress_progress(&r, true);
	exit_status = stress_write_results(&r, oc, interrupted);
	stress_kwatch_close(&r.kw);
	stress_memcg_remove(&g);
	fl_results_finish(&r.res, !interrupted, exit_status);
	print_end(&r, exit_status);
	for (unsigned i = 0; i < r.n; i++)
		munmap(r.slots[i].shm, sizeof(struct slot_shm));
	munmap(r.ctl, sizeof(*r.ctl));
	return exit_status;
}

int fl_stress_run(const struct fl_plan *plan, const struct fl_stress_conf *sc, const char *out_dir,
		  int argc, char **argv)
{
	struct fl_stress_conf c = *sc;
	struct outcome oc;

	if (!c.seed_set)
		c.seed = stress_mix64(fl_now_ns() ^ (uint64_t)getpid()) % 1000000000ull;
	return stress_run_once(plan, &c, out_dir, argc, argv, &oc, NULL);
}
