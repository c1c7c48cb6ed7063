// SPDX-License-Identifier: GPL-2.0
/*
 * The case process: the lifecycle of one case (skip chain, setup,
 * repetitions, teardown), its workers and the clock.  Batch workloads run
 * one timed prepare/run/check round per repetition on every worker behind a
 * barrier; sampled ones loop freely while the coordinator reads their
 * counters once per interval.  Workers are threads, or processes for
 * workloads that allow it; barrier, counters and histograms live in one
 * shared mapping either way.  bench/runner.c forks this process per case;
 * `faultline stress` drives the same lifecycle and worker loop.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "counters.h"
#include "metrics.h"
#include "placement.h"
#include "results.h"
#include "runner.h"

#define CACHELINE_SPREAD 256	/* will-it-scale keeps per-task counters apart */

struct slot {
	volatile uint64_t ops;
	volatile uint64_t bytes;
	uint64_t t0, t1;		/* batch mode: this worker's timed batch */
	uint64_t bops, bbytes;		/* batch mode: what it did */
	int ret;
	volatile pid_t tid;		/* for the coordinator's per-worker perf counters */
} __attribute__((aligned(CACHELINE_SPREAD)));

/* Everything workers of any kind (threads or processes) share. */
struct shared {
	struct fl_case c;
	pthread_barrier_t bar;
	volatile int quit;		/* batch mode: leave after the next barrier */
	volatile int stop;		/* sampled mode: stop looping */
	volatile int gen;		/* sampled mode: bumped to reset histograms */
	unsigned nr_lat;
};

struct child_ctx {
	const struct fl_case_def *def;
	struct shared *sh;
	struct slot *slots;
	struct fl_hist *hists;		/* nr_workers * nr_lat */
	struct fl_worker *workers;
	pthread_t *tids;
	pid_t *pids;
	const struct fl_placement *pl;
	bool processes;
	struct fl_counters *kc;		/* kernel counters per repetition */
};

/* What one repetition did, all workers together. */
struct rep {
	uint64_t ops, bytes;
	double wall_s;			/* the repetition's wall-clock time */
	double busy_ns;			/* worker-time per operation is busy_ns / ops */
};

/* SIGUSR1 from the runner: the run was interrupted, stop after this repetition. */
static volatile sig_atomic_t interrupted;

const char *fl_status_name(enum fl_status s)
{
	static const char *const names[] = { "pass", "fail", "skip", "error" };

	return s <= FL_ERROR ? names[s] : "error";
}

static int set_status(struct fl_case *c, enum fl_status st, const char *fmt, va_list ap)
{
	/* The first non-pass outcome wins: it is the cause, later ones are effects. */
	if (c->status == FL_PASS) {
		c->status = st;
		vsnprintf(c->reason, sizeof(c->reason), fmt, ap);
	}
	return -1;
}

int fl_case_skip(struct fl_case *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	set_status(c, FL_SKIP, fmt, ap);
	va_end(ap);
	return -1;
}

int fl_case_fail(struct fl_case *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	set_status(c, FL_FAIL, fmt, ap);
	va_end(ap);
	return -1;
}

int fl_case_error(struct fl_case *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	set_status(c, FL_ERROR, fmt, ap);
	va_end(ap);
	return -1;
}

static int hook_failed(struct fl_case *c, const char *hook, int ret)
{
	if (c->status == FL_PASS)
		fl_case_error(c, "%s() returned %d without a reason (%s)", hook, ret,
			      ret < 0 && ret > -4096 ? strerror(-ret) : "?");
	return -1;
}

/* ---- the case lifecycle --------------------------------------------------- */

unsigned fl_case_nr_lat(const struct workload *wl)
{
	unsigned n = 0;

	while (n < FL_MAX_LAT && wl->lat[n].name)
		n++;
	return n;
}

int fl_case_init(struct fl_case *c, const struct fl_case_def *def, unsigned nw)
{
	memset(c, 0, sizeof(*c));
	c->wl = def->wl;
	c->backing = def->backing;
	c->config = def->config;
	c->bconf = &def->core.bconf;
	c->nr_workers = nw;
	snprintf(c->label, sizeof(c->label), "%s", def->label);
	c->metrics = fl_case_metrics_new();
	return c->metrics ? 0 : fl_case_error(c, "out of memory");
}

int fl_case_setup(struct fl_case *c, const struct fl_case_def *def, const char *no_processes)
{
	const struct workload *wl = c->wl;
	const char *why = NULL;
	char buf[512];
	int ret;

	if (def->core.processes && no_processes)
		why = no_processes;
	else if (def->core.processes && !wl->allows_processes)
		why = "workers=processes: this workload's workers share state, it runs with threads only";
	if (!why && wl->supported)
		why = wl->supported(c);
	if (!why && fl_backings[def->backing].available) {
		size_t fp = wl->footprint ? wl->footprint(c) * c->nr_workers : 0;

		why = fl_backings[def->backing].available(&def->core.bconf, fp, buf, sizeof(buf));
	}
	if (why)
		return fl_case_skip(c, "%s", why);
	ret = wl->setup ? wl->setup(c) : 0;
	return ret < 0 ? hook_failed(c, "setup", ret) : 0;
}

void fl_case_teardown(struct fl_case *c)
{
	if (c->wl->teardown)
		c->wl->teardown(c);
}

void fl_case_release(struct fl_case *c)
{
	fl_case_metrics_free(c->metrics);
	c->metrics = NULL;
}

void fl_worker_init(struct fl_worker *w, struct fl_case *c, unsigned id, volatile uint64_t *counter,
		    volatile const int *stop, struct fl_hist *lat, unsigned nr_lat)
{
	memset(w, 0, sizeof(*w));
	w->c = c;
	w->id = id;
	w->cpu = -1;
	w->counter = counter;
	w->stop = stop;
	for (unsigned l = 0; l < nr_lat; l++) {
		w->lat[l] = &lat[l];
		fl_hist_init(w->lat[l]);
	}
}

void fl_worker_bind(struct fl_worker *w, const struct fl_placement *pl, unsigned offset, bool process)
{
	if (pl->nr_cpus) {
		w->cpu = pl->cpus[(offset + w->id) % pl->nr_cpus];
		fl_placement_bind(pl, w->cpu, process);
	}
}

const char *fl_worker_loop(struct fl_worker *w, struct fl_loop *l)
{
	const struct workload *wl = w->c->wl;
	struct fl_work done;
	const char *hook;
	int ret;

	while (!*w->stop) {
		if (l->gen && l->gen_seen != *l->gen) {
			/* Warm-up over: its latencies must not count. */
			l->gen_seen = *l->gen;
			for (unsigned i = 0; i < l->nr_lat; i++)
				fl_hist_init(w->lat[i]);
		}
		hook = "prepare";
		if (wl->prepare && (ret = wl->prepare(w)) < 0)
			goto failed;
		memset(&done, 0, sizeof(done));
		hook = "run";
		if ((ret = wl->run(w, &done)) < 0)
			goto failed;
		if (!wl->counts_live)
			*w->counter += done.ops;
		if (l->bytes)
			*l->bytes += done.bytes;
		hook = "check";
		if (wl->check && (ret = wl->check(w)) < 0)
			goto failed;
		if (l->checked)
			__sync_fetch_and_add(l->checked, 1);
		continue;
failed:
		if (w->c->status != FL_PASS && l->absorb && l->absorb(w, hook, l->arg))
			continue;
		hook_failed(w->c, hook, ret);
		return hook;
	}
	return NULL;
}

/* ---- workers and coordinator ------------------------------------------------ */

static void batch_worker(struct child_ctx *cx, struct fl_worker *w)
{
	struct shared *sh = cx->sh;
	struct slot *s = &cx->slots[w->id];
	const struct workload *wl = sh->c.wl;
	struct fl_work done;
	int ret;

	fl_worker_bind(w, cx->pl, 0, cx->processes);
	s->tid = (pid_t)syscall(SYS_gettid);
	/*
	 * The coordinator decides when to stop: it sets quit before barrier A.
	 * Between B and B2, and between C1 and C, it reads the kernel's
	 * counters while every worker waits: outside the timed region.
	 */
	for (;;) {
		pthread_barrier_wait(&sh->bar);		/* A */
		if (sh->quit)
			break;
		s->ret = 0;
		ret = wl->prepare ? wl->prepare(w) : 0;
		if (ret < 0)
			s->ret = hook_failed(&sh->c, "prepare", ret);
		pthread_barrier_wait(&sh->bar);		/* B */
		pthread_barrier_wait(&sh->bar);		/* B2 */
		memset(&done, 0, sizeof(done));
		if (s->ret >= 0) {
			s->t0 = fl_now_ns();
			ret = wl->run(w, &done);
			s->t1 = fl_now_ns();
			if (ret < 0)
				s->ret = hook_failed(&sh->c, "run", ret);
		}
		s->bops = done.ops;
		s->bbytes = done.bytes;
		pthread_barrier_wait(&sh->bar);		/* C1 */
		if (s->ret >= 0 && wl->check && (ret = wl->check(w)) < 0)
			s->ret = hook_failed(&sh->c, "check", ret);
		pthread_barrier_wait(&sh->bar);		/* C */
	}
}

static void sampled_worker(struct child_ctx *cx, struct fl_worker *w)
{
	struct shared *sh = cx->sh;
	struct slot *s = &cx->slots[w->id];
	struct fl_loop l = { .bytes = &s->bytes, .gen = &sh->gen, .nr_lat = sh->nr_lat };

	fl_worker_bind(w, cx->pl, 0, cx->processes);
	s->tid = (pid_t)syscall(SYS_gettid);
	pthread_barrier_wait(&sh->bar);
	if (fl_worker_loop(w, &l)) {
		/* A failed worker must not leave the others waiting for a quorum. */
		s->ret = -1;
		sh->stop = 1;
	}
}

struct thread_arg {
	struct child_ctx *cx;
	struct fl_worker *w;
};

static void *thread_main(void *arg)
{
	struct thread_arg *ta = arg;

	if (ta->cx->def->wl->mode == FL_MODE_SAMPLED)
		sampled_worker(ta->cx, ta->w);
	else
		batch_worker(ta->cx, ta->w);
	return NULL;
}

static void sigusr1(int sig)
{
	interrupted = 1;
}

static void sleep_until(uint64_t t)
{
	struct timespec ts = { .tv_sec = (time_t)(t / 1000000000ull),
			       .tv_nsec = (long)(t % 1000000000ull) };

	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR && !interrupted)
		;
}

/*
 * The end of one measured repetition, in either mode: its rates go to the
 * case's metrics.  A batch that did nothing (a documented refusal) has no
 * rate.
 */
static void rep_record(struct fl_case *c, const struct rep *r)
{
	const struct workload *wl = c->wl;

	if (r->ops && r->wall_s > 0) {
		fl_metrics_push(c->metrics, "ops_rate", wl->op_unit, FL_HIGHER_IS_BETTER,
				(double)r->ops / r->wall_s);
		fl_metrics_push(c->metrics, "time_per_op", wl->op_unit, FL_LOWER_IS_BETTER,
				r->busy_ns / (double)r->ops);
	} else if (wl->mode == FL_MODE_SAMPLED && r->wall_s > 0) {
		/* A sampled interval without operations is a rate of zero. */
		fl_metrics_push(c->metrics, "ops_rate", wl->op_unit, FL_HIGHER_IS_BETTER, 0);
	}
	if (wl->report_bytes && r->wall_s > 0 && (r->bytes || wl->mode == FL_MODE_SAMPLED))
		fl_metrics_push(c->metrics, "throughput", "GB/s", FL_HIGHER_IS_BETTER,
				(double)r->bytes / r->wall_s / 1e9);
}

/* A batch repetition's figures from the workers' slots; false if one failed. */
static bool batch_collect(struct child_ctx *cx, struct rep *r)
{
	uint64_t tmin = UINT64_MAX, tmax = 0, busy = 0;
	bool ok = true;

	memset(r, 0, sizeof(*r));
	for (unsigned i = 0; i < cx->sh->c.nr_workers; i++) {
		struct slot *s = &cx->slots[i];

		ok &= s->ret >= 0;
		r->ops += s->bops;
		r->bytes += s->bbytes;
		busy += s->t1 - s->t0;
		if (s->t0 < tmin)
			tmin = s->t0;
		if (s->t1 > tmax)
			tmax = s->t1;
	}
	r->wall_s = (double)(tmax - tmin) / 1e9;
	r->busy_ns = (double)busy;
	return ok;
}

/* Coordinator side of batch mode: one repetition per round of barriers. */
static unsigned coord_batch(struct child_ctx *cx, unsigned warmup, unsigned repeat)
{
	struct shared *sh = cx->sh;
	struct fl_case *c = &sh->c;
	unsigned measured = 0;
	struct rep r;

	for (unsigned rep = 0; rep < warmup + repeat; rep++) {
		fl_metrics_recording(c->metrics, rep >= warmup);
		if (rep == warmup)
			for (unsigned i = 0; i < c->nr_workers * sh->nr_lat; i++)
				fl_hist_init(&cx->hists[i]);
		pthread_barrier_wait(&sh->bar);		/* A: go */
		pthread_barrier_wait(&sh->bar);		/* B: prepared */
		if (!rep)
			fl_counters_attach(cx->kc, &cx->slots[0].tid, sizeof(struct slot));
		fl_counters_mark(cx->kc);
		pthread_barrier_wait(&sh->bar);		/* B2: timed run */
		pthread_barrier_wait(&sh->bar);		/* C1: ran */
		fl_counters_mark(cx->kc);
		pthread_barrier_wait(&sh->bar);		/* C: checked */
		if (!batch_collect(cx, &r) || c->status != FL_PASS) {
			fl_counters_annotate(cx->kc, c, r.ops, r.bytes);
			break;
		}
		if (rep >= warmup) {
			measured++;
			rep_record(c, &r);
			fl_counters_record(cx->kc, c, measured - 1, r.ops, r.bytes);
		}
		if (interrupted)
			break;
	}
	sh->quit = 1;
	pthread_barrier_wait(&sh->bar);
	return measured;
}

static unsigned coord_sampled(struct child_ctx *cx, unsigned warmup, unsigned repeat,
			      double interval)
{
	struct shared *sh = cx->sh;
	struct fl_case *c = &sh->c;
	unsigned n = c->nr_workers, measured = 0;
	uint64_t step = (uint64_t)(interval * 1e9), t_prev, t_next, ops_prev = 0, bytes_prev = 0;

	fl_metrics_recording(c->metrics, warmup == 0);
	if (!warmup)
		sh->gen++;
	pthread_barrier_wait(&sh->bar);
	fl_counters_attach(cx->kc, &cx->slots[0].tid, sizeof(struct slot));
	t_prev = fl_now_ns();
	fl_counters_mark(cx->kc);
	t_next = t_prev + step;
	for (unsigned s = 0; s < warmup + repeat && !sh->stop; s++) {
		uint64_t ops = 0, bytes = 0, t;
		struct rep r;

		sleep_until(t_next);
		t = fl_now_ns();
		for (unsigned i = 0; i < n; i++) {
			ops += cx->slots[i].ops;
			bytes += cx->slots[i].bytes;
		}
		fl_counters_mark(cx->kc);
		r.ops = ops - ops_prev;
		r.bytes = bytes - bytes_prev;
		r.wall_s = (double)(t - t_prev) / 1e9;
		r.busy_ns = r.wall_s * 1e9 * n;
		if (s >= warmup && !sh->stop) {
			measured++;
			rep_record(c, &r);
			fl_counters_record(cx->kc, c, measured - 1, r.ops, r.bytes);
		}
		if (s + 1 == warmup) {
			sh->gen++;
			fl_metrics_recording(c->metrics, true);
		}
		ops_prev = ops;
		bytes_prev = bytes;
		t_prev = t;
		t_next += step;
		if (interrupted || c->status != FL_PASS)
			break;
	}
	sh->stop = 1;
	return measured;
}

static json_t *latency_json(struct child_ctx *cx)
{
	struct shared *sh = cx->sh;
	const struct workload *wl = sh->c.wl;
	json_t *o = json_object();
	unsigned n = sh->c.nr_workers;

	for (unsigned l = 0; l < sh->nr_lat; l++) {
		struct fl_hist *merged = malloc(sizeof(*merged));
		json_t *per = json_array(), *hj;

		if (!merged)
			break;
		fl_hist_init(merged);
		for (unsigned i = 0; i < n; i++) {
			struct fl_hist *h = &cx->hists[i * sh->nr_lat + l];

			fl_hist_merge(merged, h);
			json_array_append_new(per, json_pack("{s:i, s:I, s:I, s:I, s:I, s:I}",
				"worker", (int)i, "count", (json_int_t)h->count,
				"overflow", (json_int_t)h->overflow,
				"p50", (json_int_t)fl_hist_percentile(h, 50),
				"p99", (json_int_t)fl_hist_percentile(h, 99),
				"max", (json_int_t)(h->count || h->overflow ? h->max : 0)));
		}
		hj = fl_hist_json(merged);
		json_object_set_new(hj, "per_worker", per);
		json_object_set_new(hj, "help", json_string(wl->lat[l].help ? wl->lat[l].help : ""));
		json_object_set_new(o, wl->lat[l].name, hj);
		free(merged);
	}
	return o;
}

/* ---- the case process -------------------------------------------------------- */

/* The area workers of either kind share: the case, the barrier, slots, histograms. */
static int child_map(struct child_ctx *cx, unsigned nw, unsigned nr_lat)
{
	size_t shsize = sizeof(struct shared) + nw * sizeof(struct slot) +
			(size_t)nw * nr_lat * sizeof(struct fl_hist) + CACHELINE_SPREAD;
	char *shm = mmap(NULL, shsize, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	if (shm == MAP_FAILED)
		return -1;
	cx->sh = (struct shared *)shm;
	cx->slots = (struct slot *)(((uintptr_t)(shm + sizeof(*cx->sh)) + CACHELINE_SPREAD - 1) &
				    ~(uintptr_t)(CACHELINE_SPREAD - 1));
	cx->hists = (struct fl_hist *)(cx->slots + nw);
	cx->sh->nr_lat = nr_lat;
	return 0;
}

/* Start @nw workers (threads or processes); a worker that cannot start ends the case process. */
static int start_workers(struct child_ctx *cx, struct thread_arg *targs, unsigned nw)
{
	struct shared *sh = cx->sh;
	pthread_barrierattr_t ba;

	pthread_barrierattr_init(&ba);
	pthread_barrierattr_setpshared(&ba, PTHREAD_PROCESS_SHARED);
	pthread_barrier_init(&sh->bar, &ba, nw + 1);
	for (unsigned i = 0; i < nw; i++) {
		struct fl_worker *w = &cx->workers[i];

		fl_worker_init(w, &sh->c, i, &cx->slots[i].ops, &sh->stop,
			       &cx->hists[i * sh->nr_lat], sh->nr_lat);
		targs[i].cx = cx;
		targs[i].w = w;
		if (cx->processes) {
			pid_t pid = fork();

			if (pid == 0) {
				/* Else it waits on the barrier for a dead case forever. */
				prctl(PR_SET_PDEATHSIG, SIGKILL);
				thread_main(&targs[i]);
				_exit(0);
			}
			if (pid < 0) {
				fl_case_error(&sh->c, "fork for worker %u failed", i);
				_exit(FL_EXIT_INTERNAL);
			}
			cx->pids[i] = pid;
			continue;
		}
		if (pthread_create(&cx->tids[i], NULL, thread_main, &targs[i])) {
			/* Cannot unwind a barrier with missing parties: give up the case. */
			fl_case_error(&sh->c, "pthread_create for worker %u failed", i);
			_exit(FL_EXIT_INTERNAL);
		}
	}
	return 0;
}

static void join_workers(struct child_ctx *cx, unsigned nw)
{
	for (unsigned i = 0; i < nw; i++) {
		int st;

		if (!cx->processes) {
			pthread_join(cx->tids[i], NULL);
		} else if (waitpid(cx->pids[i], &st, 0) > 0 && !(WIFEXITED(st) && !WEXITSTATUS(st))) {
			fl_case_error(&cx->sh->c, "worker process %u died (%s)", i, WIFSIGNALED(st) ?
				      strsignal(WTERMSIG(st)) : "non-zero exit");
		}
	}
}

/* The repetitions of a set-up case: workers started, coordinated, joined. */
static unsigned child_measure(struct child_ctx *cx, unsigned nw)
{
	const struct fl_case_def *def = cx->def;
	unsigned warmup = (unsigned)def->core.warmup, repeat = (unsigned)def->core.repeat, measured;
	struct thread_arg *targs = calloc(nw, sizeof(*targs));

	cx->workers = calloc(nw, sizeof(*cx->workers));
	cx->tids = calloc(nw, sizeof(*cx->tids));
	cx->pids = calloc(nw, sizeof(*cx->pids));
	if (!cx->workers || !cx->tids || !targs || !cx->pids) {
		free(targs);
		fl_case_error(&cx->sh->c, "out of memory for %u workers", nw);
		return 0;
	}
	start_workers(cx, targs, nw);
	if (def->wl->mode == FL_MODE_SAMPLED)
		measured = coord_sampled(cx, warmup, repeat, def->core.interval);
	else
		measured = coord_batch(cx, warmup, repeat);
	join_workers(cx, nw);
	if (interrupted && cx->sh->c.status == FL_PASS && measured < repeat)
		fl_case_error(&cx->sh->c, "interrupted (SIGINT) after %u of %u repetitions", measured, repeat);
	free(targs);
	return measured;
}

json_t *fl_case_run(const struct fl_case_def *def, const struct fl_placement *pl)
{
	struct sigaction su = { .sa_handler = sigusr1 };
	unsigned nw = def->core.threads ? (unsigned)def->core.threads : pl->nr_cores;
	unsigned nr_lat = fl_case_nr_lat(def->wl), measured = 0;
	struct child_ctx cx = { .def = def, .pl = pl, .processes = def->core.processes };
	uint64_t t_start = fl_now_ns();
	struct fl_case *c;
	json_t *rec;

	sigaction(SIGUSR1, &su, NULL);
	if (child_map(&cx, nw, nr_lat))
		return NULL;
	c = &cx.sh->c;
	if (fl_case_init(c, def, nw))
		return NULL;
	for (unsigned i = 0; i < nw * nr_lat; i++)
		fl_hist_init(&cx.hists[i]);
	if (!fl_case_setup(c, def, NULL)) {
		cx.kc = fl_counters_new(def->wl, nw);
		measured = child_measure(&cx, nw);
		fl_case_teardown(c);
	}
	rec = fl_case_record(def, fl_status_name(c->status), c->reason, nw, t_start, c->metrics,
			     nr_lat && measured ? latency_json(&cx) : json_object());
	json_object_set_new(rec, "measured", json_integer(measured));
	json_object_set_new(rec, "kernel_counters", measured ? fl_counters_json(cx.kc) : NULL);
	fl_counters_free(cx.kc);
	free(cx.workers);
	free(cx.tids);
	free(cx.pids);
	return rec;
}

pid_t fl_case_fork(void)
{
	pid_t parent = getpid(), pid = fork();

	if (pid)
		return pid;
	/* A parent killed with SIGKILL must not leave its case running. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(FL_EXIT_INTERNAL);	/* it died before prctl() */
	setpgid(0, 0);
	signal(SIGINT, SIG_IGN);
	signal(SIGTERM, SIG_DFL);
	return 0;
}

void fl_case_kill(pid_t pid)
{
	kill(-pid, SIGKILL);
	kill(pid, SIGKILL);
}
