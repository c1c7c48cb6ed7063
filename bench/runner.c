// SPDX-License-Identifier: GPL-2.0
/*
 * The run loop.  Every case runs in a child process of its own, so that a
 * workload that crashes or hangs (the DAX MAP_POPULATE hang of seed 001)
 * becomes a record naming the case instead of a dead or stuck suite.  The
 * child measures and sends its JSON record through a pipe; the parent
 * appends it to results.jsonl and fsync()s it before the next case starts,
 * so an interrupted run keeps every finished case.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "dax_trace.h"
#include "env.h"
#include "placement.h"
#include "prepare.h"
#include "results.h"
#include "runner.h"
#include "stats.h"

#define CACHELINE_SPREAD 256	/* will-it-scale keeps per-task counters apart */

struct slot {
	volatile uint64_t ops;
	volatile uint64_t bytes;
	uint64_t t0, t1;		/* batch mode: this worker's timed batch */
	uint64_t bops, bbytes;		/* batch mode: what it did */
	int ret;
	volatile int gen_seen;
} __attribute__((aligned(CACHELINE_SPREAD)));

struct metric {
	char name[48];
	char unit[24];
	enum fl_direction dir;
	unsigned n;
	double *samples;
};

struct fl_case_metrics {
	pthread_mutex_t lock;
	bool recording;
	unsigned n;
	struct metric m[FL_MAX_METRICS];
	json_t *details;
};

/* Everything workers of any kind (threads or processes) share. */
struct shared {
	struct fl_case c;
	pthread_barrier_t bar;
	volatile int quit;		/* batch mode: leave after the next barrier */
	volatile int stop;		/* sampled mode: stop looping */
	volatile int gen;		/* sampled mode: bumped to reset histograms */
	unsigned total_reps;
	unsigned nr_lat;
};

struct child_ctx {
	const struct fl_case_def *def;
	struct shared *sh;
	struct slot *slots;
	struct fl_hist *hists;		/* nr_workers * nr_lat */
	struct fl_worker *workers;
	const struct fl_placement *pl;
	bool processes;
};

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

static struct metric *metric_get(struct fl_case_metrics *cm, const char *name,
				 const char *unit, enum fl_direction dir)
{
	for (unsigned i = 0; i < cm->n; i++)
		if (!strcmp(cm->m[i].name, name))
			return &cm->m[i];
	if (cm->n == FL_MAX_METRICS)
		return NULL;
	snprintf(cm->m[cm->n].name, sizeof(cm->m[0].name), "%s", name);
	snprintf(cm->m[cm->n].unit, sizeof(cm->m[0].unit), "%s", unit);
	cm->m[cm->n].dir = dir;
	return &cm->m[cm->n++];
}

static void metric_push(struct fl_case_metrics *cm, const char *name, const char *unit,
			enum fl_direction dir, double v)
{
	struct metric *m;
	double *n;

	pthread_mutex_lock(&cm->lock);
	m = metric_get(cm, name, unit, dir);
	/* Never silently: a metric past FL_MAX_METRICS is named in the record. */
	if (!m)
		json_object_set_new(cm->details, "metrics_dropped", json_string(name));
	if (m) {
		n = realloc(m->samples, (m->n + 1) * sizeof(double));
		if (n) {
			m->samples = n;
			m->samples[m->n++] = v;
		}
	}
	pthread_mutex_unlock(&cm->lock);
}

void fl_metric(struct fl_case *c, const char *name, const char *unit,
	       enum fl_direction dir, double value)
{
	if (c->metrics->recording)
		metric_push(c->metrics, name, unit, dir, value);
}

void fl_case_detail(struct fl_case *c, const char *key, const char *value)
{
	pthread_mutex_lock(&c->metrics->lock);
	json_object_set_new(c->metrics->details, key, json_string(value));
	pthread_mutex_unlock(&c->metrics->lock);
}

struct fl_case_metrics *fl_case_metrics_new(void)
{
	struct fl_case_metrics *cm = calloc(1, sizeof(*cm));

	if (!cm)
		return NULL;
	pthread_mutex_init(&cm->lock, NULL);
	cm->details = json_object();
	return cm;
}

void fl_case_metrics_free(struct fl_case_metrics *cm)
{
	if (!cm)
		return;
	for (unsigned i = 0; i < cm->n; i++)
		free(cm->m[i].samples);
	json_decref(cm->details);
	free(cm);
}

static int hook_failed(struct fl_case *c, const char *hook, int ret)
{
	if (c->status == FL_PASS)
		fl_case_error(c, "%s() returned %d without a reason (%s)", hook, ret,
			      ret < 0 && ret > -4096 ? strerror(-ret) : "?");
	return -1;
}

static void worker_bind(struct child_ctx *cx, struct fl_worker *w)
{
	if (cx->pl->nr_cpus) {
		w->cpu = cx->pl->cpus[w->id % cx->pl->nr_cpus];
		fl_placement_bind(cx->pl, w->cpu, cx->processes);
	}
}

static void batch_worker(struct child_ctx *cx, struct fl_worker *w)
{
	struct shared *sh = cx->sh;
	struct slot *s = &cx->slots[w->id];
	const struct workload *wl = sh->c.wl;
	struct fl_work done;
	int ret;

	worker_bind(cx, w);
	/* The coordinator decides when to stop: it sets quit before barrier A. */
	for (;;) {
		pthread_barrier_wait(&sh->bar);
		if (sh->quit)
			break;
		s->ret = 0;
		ret = wl->prepare ? wl->prepare(w) : 0;
		if (ret < 0) {
			s->ret = hook_failed(&sh->c, "prepare", ret);
			pthread_barrier_wait(&sh->bar);
			pthread_barrier_wait(&sh->bar);
			continue;
		}
		pthread_barrier_wait(&sh->bar);
		memset(&done, 0, sizeof(done));
		s->t0 = fl_now_ns();
		ret = wl->run(w, &done);
		s->t1 = fl_now_ns();
		s->bops = done.ops;
		s->bbytes = done.bytes;
		if (ret < 0)
			s->ret = hook_failed(&sh->c, "run", ret);
		else if (wl->check && (ret = wl->check(w)) < 0)
			s->ret = hook_failed(&sh->c, "check", ret);
		pthread_barrier_wait(&sh->bar);
	}
}

static void sampled_worker(struct child_ctx *cx, struct fl_worker *w)
{
	struct shared *sh = cx->sh;
	struct slot *s = &cx->slots[w->id];
	const struct workload *wl = sh->c.wl;
	struct fl_work done;
	int ret;

	worker_bind(cx, w);
	pthread_barrier_wait(&sh->bar);
	while (!sh->stop) {
		if (s->gen_seen != sh->gen) {
			/* Warm-up over: its latencies must not count. */
			s->gen_seen = sh->gen;
			for (unsigned i = 0; i < sh->nr_lat; i++)
				fl_hist_init(w->lat[i]);
		}
		ret = wl->prepare ? wl->prepare(w) : 0;
		if (ret < 0) {
			s->ret = hook_failed(&sh->c, "prepare", ret);
			break;
		}
		memset(&done, 0, sizeof(done));
		ret = wl->run(w, &done);
		if (ret < 0) {
			s->ret = hook_failed(&sh->c, "run", ret);
			break;
		}
		if (!wl->counts_live)
			s->ops += done.ops;
		s->bytes += done.bytes;
		if (wl->check && (ret = wl->check(w)) < 0) {
			s->ret = hook_failed(&sh->c, "check", ret);
			break;
		}
	}
	/* A failed worker must not leave the others waiting for a quorum. */
	if (s->ret < 0)
		sh->stop = 1;
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

/* Coordinator side of batch mode: one repetition per round of barriers. */
static unsigned coord_batch(struct child_ctx *cx, unsigned warmup, unsigned repeat)
{
	struct shared *sh = cx->sh;
	struct fl_case *c = &sh->c;
	const struct workload *wl = c->wl;
	unsigned n = c->nr_workers, measured = 0;

	for (unsigned rep = 0; rep < warmup + repeat; rep++) {
		uint64_t ops = 0, bytes = 0, tmin = UINT64_MAX, tmax = 0, busy = 0;
		bool bad = false;

		c->metrics->recording = rep >= warmup;
		if (rep == warmup)
			for (unsigned i = 0; i < n * sh->nr_lat; i++)
				fl_hist_init(&cx->hists[i]);
		pthread_barrier_wait(&sh->bar);		/* A: go */
		pthread_barrier_wait(&sh->bar);		/* B: prepared */
		pthread_barrier_wait(&sh->bar);		/* C: done */
		for (unsigned i = 0; i < n; i++) {
			struct slot *s = &cx->slots[i];

			bad |= s->ret < 0;
			ops += s->bops;
			bytes += s->bbytes;
			busy += s->t1 - s->t0;
			if (s->t0 < tmin)
				tmin = s->t0;
			if (s->t1 > tmax)
				tmax = s->t1;
		}
		if (bad || c->status != FL_PASS)
			goto quit;
		if (rep >= warmup) {
			double wall = (double)(tmax - tmin) / 1e9;

			measured++;
			if (ops && wall > 0) {
				metric_push(c->metrics, "ops_rate", wl->op_unit, FL_HIGHER_IS_BETTER,
					    (double)ops / wall);
				metric_push(c->metrics, "time_per_op", wl->op_unit, FL_LOWER_IS_BETTER,
					    (double)busy / (double)ops);
			}
			/* A batch that did nothing (a documented refusal) has no rate. */
			if (wl->report_bytes && bytes && wall > 0)
				metric_push(c->metrics, "throughput", "GB/s", FL_HIGHER_IS_BETTER,
					    (double)bytes / wall / 1e9);
		}
		if (interrupted)
			goto quit;
	}
	sh->quit = 1;
	pthread_barrier_wait(&sh->bar);
	return measured;
quit:
	sh->quit = 1;
	pthread_barrier_wait(&sh->bar);
	return measured;
}

static unsigned coord_sampled(struct child_ctx *cx, unsigned warmup, unsigned repeat,
			      double interval)
{
	struct shared *sh = cx->sh;
	struct fl_case *c = &sh->c;
	const struct workload *wl = c->wl;
	unsigned n = c->nr_workers, measured = 0;
	uint64_t step = (uint64_t)(interval * 1e9), t_prev, t_next, ops_prev = 0, bytes_prev = 0;

	pthread_barrier_wait(&sh->bar);
	t_prev = fl_now_ns();
	t_next = t_prev + step;
	for (unsigned s = 0; s < warmup + repeat && !sh->stop; s++) {
		uint64_t ops = 0, bytes = 0, t;
		double dt;

		sleep_until(t_next);
		t = fl_now_ns();
		for (unsigned i = 0; i < n; i++) {
			ops += cx->slots[i].ops;
			bytes += cx->slots[i].bytes;
		}
		dt = (double)(t - t_prev) / 1e9;
		if (s >= warmup && !sh->stop) {
			measured++;
			metric_push(c->metrics, "ops_rate", wl->op_unit, FL_HIGHER_IS_BETTER,
				    (double)(ops - ops_prev) / dt);
			if (ops > ops_prev)
				metric_push(c->metrics, "time_per_op", wl->op_unit, FL_LOWER_IS_BETTER,
					    dt * 1e9 * n / (double)(ops - ops_prev));
			if (wl->report_bytes)
				metric_push(c->metrics, "throughput", "GB/s", FL_HIGHER_IS_BETTER,
					    (double)(bytes - bytes_prev) / dt / 1e9);
		}
		if (s + 1 == warmup) {
			sh->gen++;
			c->metrics->recording = true;
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

static json_t *metrics_json(struct fl_case_metrics *cm)
{
	json_t *o = json_object();

	for (unsigned i = 0; i < cm->n; i++) {
		struct metric *m = &cm->m[i];
		struct fl_summary s;
		json_t *samples = json_array(), *mj;
		char unit[64];

		fl_summarize(m->samples, m->n, &s);
		for (unsigned k = 0; k < m->n; k++)
			json_array_append_new(samples, fl_json_real(m->samples[k]));
		if (!strcmp(m->name, "ops_rate"))
			snprintf(unit, sizeof(unit), "%s/s", m->unit);
		else if (!strcmp(m->name, "time_per_op"))
			snprintf(unit, sizeof(unit), "ns/%s", m->unit);
		else
			snprintf(unit, sizeof(unit), "%s", m->unit);
		mj = json_pack("{s:s, s:s, s:o, s:o, s:o, s:o, s:o, s:o}",
			       "unit", unit,
			       "direction", m->dir == FL_HIGHER_IS_BETTER ? "higher" :
					    m->dir == FL_LOWER_IS_BETTER ? "lower" : "info",
			       "samples", samples,
			       "median", fl_json_real(s.median), "min", fl_json_real(s.min),
			       "max", fl_json_real(s.max), "mean", fl_json_real(s.mean),
			       "cv", fl_json_real(s.cv));
		json_object_set_new(o, m->name, mj);
	}
	return o;
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

/* In the case's child process: run it and return its record. */
static json_t *child_run_case(const struct fl_case_def *def, const struct fl_placement *pl)
{
	const struct workload *wl = def->wl;
	unsigned nw = def->core.threads ? (unsigned)def->core.threads : pl->nr_cores;
	unsigned nr_lat = 0, measured = 0;
	unsigned warmup = (unsigned)def->core.warmup, repeat = (unsigned)def->core.repeat;
	struct child_ctx cx = { .def = def, .pl = pl };
	struct fl_case_metrics *cm;
	pthread_barrierattr_t ba;
	struct shared *sh;
	size_t shsize;
	char *shm;
	pthread_t *tids = NULL;
	pid_t *pids = NULL;
	struct thread_arg *targs = NULL;
	json_t *rec;
	uint64_t t_start = fl_now_ns();
	const char *why;
	char buf[512];
	int ret;

	while (nr_lat < FL_MAX_LAT && wl->lat[nr_lat].name)
		nr_lat++;
	cx.processes = def->core.processes;
	shsize = sizeof(struct shared) + nw * sizeof(struct slot) +
		 (size_t)nw * nr_lat * sizeof(struct fl_hist) + CACHELINE_SPREAD;
	shm = mmap(NULL, shsize, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	cm = fl_case_metrics_new();
	if (shm == MAP_FAILED || !cm)
		return NULL;
	sh = (struct shared *)shm;
	cx.sh = sh;
	cx.slots = (struct slot *)(((uintptr_t)(shm + sizeof(*sh)) + CACHELINE_SPREAD - 1) &
				   ~(uintptr_t)(CACHELINE_SPREAD - 1));
	cx.hists = (struct fl_hist *)(cx.slots + nw);
	sh->nr_lat = nr_lat;
	sh->total_reps = warmup + repeat;
	sh->c.wl = wl;
	sh->c.backing = def->backing;
	sh->c.config = def->config;
	sh->c.bconf = &def->core.bconf;
	sh->c.nr_workers = nw;
	sh->c.metrics = cm;
	snprintf(sh->c.label, sizeof(sh->c.label), "%s", def->label);
	for (unsigned i = 0; i < nw * nr_lat; i++)
		fl_hist_init(&cx.hists[i]);

	why = cx.processes && !wl->allows_processes ?
		"workers=processes: this workload's workers share state, it runs with threads only" : NULL;
	if (!why && wl->supported)
		why = wl->supported(&sh->c);
	if (!why && fl_backings[def->backing].available) {
		size_t fp = wl->footprint ? wl->footprint(&sh->c) * nw : 0;

		why = fl_backings[def->backing].available(&def->core.bconf, fp, buf, sizeof(buf));
	}
	if (why) {
		fl_case_skip(&sh->c, "%s", why);
		goto record;
	}
	ret = wl->setup ? wl->setup(&sh->c) : 0;
	if (ret < 0) {
		hook_failed(&sh->c, "setup", ret);
		goto record;
	}

	cx.workers = calloc(nw, sizeof(*cx.workers));
	tids = calloc(nw, sizeof(*tids));
	targs = calloc(nw, sizeof(*targs));
	pids = calloc(nw, sizeof(*pids));
	if (!cx.workers || !tids || !targs || !pids) {
		fl_case_error(&sh->c, "out of memory for %u workers", nw);
		goto teardown;
	}
	pthread_barrierattr_init(&ba);
	pthread_barrierattr_setpshared(&ba, PTHREAD_PROCESS_SHARED);
	pthread_barrier_init(&sh->bar, &ba, nw + 1);
	for (unsigned i = 0; i < nw; i++) {
		struct fl_worker *w = &cx.workers[i];

		w->c = &sh->c;
		w->id = i;
		w->cpu = -1;
		w->counter = &cx.slots[i].ops;
		w->stop = &sh->stop;
		for (unsigned l = 0; l < nr_lat; l++)
			w->lat[l] = &cx.hists[i * nr_lat + l];
		targs[i].cx = &cx;
		targs[i].w = w;
		if (cx.processes) {
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
			pids[i] = pid;
			continue;
		}
		if (pthread_create(&tids[i], NULL, thread_main, &targs[i])) {
			/* Cannot unwind a barrier with missing parties: give up the case. */
			fl_case_error(&sh->c, "pthread_create for worker %u failed", i);
			_exit(FL_EXIT_INTERNAL);
		}
	}
	if (wl->mode == FL_MODE_SAMPLED) {
		cm->recording = warmup == 0;
		if (!warmup)
			sh->gen++;
		measured = coord_sampled(&cx, warmup, repeat, def->core.interval);
	} else {
		measured = coord_batch(&cx, warmup, repeat);
	}
	for (unsigned i = 0; i < nw; i++) {
		int st;

		if (!cx.processes) {
			pthread_join(tids[i], NULL);
		} else if (waitpid(pids[i], &st, 0) > 0 && !(WIFEXITED(st) && !WEXITSTATUS(st))) {
			fl_case_error(&sh->c, "worker process %u died (%s)", i, WIFSIGNALED(st) ?
				      strsignal(WTERMSIG(st)) : "non-zero exit");
		}
	}
	if (interrupted && sh->c.status == FL_PASS && measured < repeat)
		fl_case_error(&sh->c, "interrupted (SIGINT) after %u of %u repetitions", measured, repeat);
teardown:
	if (wl->teardown)
		wl->teardown(&sh->c);
record:
	rec = fl_record_new(def, fl_status_name(sh->c.status), sh->c.reason, nw, t_start);
	json_object_set_new(rec, "metrics", metrics_json(cm));
	json_object_set_new(rec, "latency", nr_lat && measured ? latency_json(&cx) : json_object());
	json_object_set_new(rec, "details", cm->details);
	json_object_set_new(rec, "measured", json_integer(measured));
	free(cx.workers);
	free(tids);
	free(targs);
	free(pids);
	return rec;
}

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
			kill(-pid, SIGKILL);
			kill(pid, SIGKILL);
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

static int print_progress(const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vprintf(fmt, ap);
	va_end(ap);
	fflush(stdout);
	return n;
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
	json_t *m = json_object_get(metrics, "throughput");

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

int fl_run_plan(const struct fl_plan *plan, const struct fl_run_opts *o)
{
	struct fl_results res;
	struct fl_placement pl;
	struct sigaction sa = { .sa_handler = on_sigint };
	unsigned counts[4] = { 0 };
	int exit_status = FL_EXIT_OK;
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
	fl_dax_trace_run_begin();
	print_progress("faultline: results in %s\n", res.dir);

	for (unsigned i = 0; i < plan->nr_cases && !interrupted; i++) {
		const struct fl_case_def *def = &plan->cases[i];
		int pfd[2], killed_by;
		pid_t runner_pid;
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
		runner_pid = getpid();
		pid = fork();
		if (pid < 0) {
			fprintf(stderr, "faultline: fork: %s\n", strerror(errno));
			exit_status = FL_EXIT_INTERNAL;
			break;
		}
		if (pid == 0) {
			struct sigaction su = { .sa_handler = sigusr1 };
			char *text;

			/* A runner killed with SIGKILL must not leave its case running. */
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			if (getppid() != runner_pid)
				_exit(FL_EXIT_INTERNAL);	/* it died before prctl() */
			/* Own process group: the terminal's SIGINT goes to the parent only. */
			setpgid(0, 0);
			signal(SIGINT, SIG_IGN);
			signal(SIGTERM, SIG_DFL);
			sigaction(SIGUSR1, &su, NULL);
			close(pfd[0]);
			rec = child_run_case(def, &pl);
			if (!rec)
				_exit(FL_EXIT_INTERNAL);
			text = json_dumps(rec, JSON_COMPACT);
			for (size_t off = 0, len = strlen(text); off < len;) {
				ssize_t n = write(pfd[1], text + off, len - off);

				if (n <= 0)
					_exit(FL_EXIT_INTERNAL);
				off += (size_t)n;
			}
			_exit(0);
		}
		close(pfd[1]);
		rec = wait_case(pid, pfd[0], def, t0, &killed_by, &hung);
		close(pfd[0]);
		if (!rec) {
			if (hung)
				snprintf(err, sizeof(err), "hung: case did not finish within timeout=%gs and was killed",
					 def->core.timeout);
			else if (killed_by)
				snprintf(err, sizeof(err), "case process killed by signal %d (%s)", killed_by,
					 strsignal(killed_by));
			else
				snprintf(err, sizeof(err), "case process exited without a record");
			rec = fl_record_new(def, hung ? "fail" : "error", err, 0, t0);
			if (hung)
				json_object_set_new(rec, "hung", json_true());
		}
write:
		fl_results_append(&res, rec, i);
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
	print_progress("faultline: %u pass, %u fail, %u skip, %u error; results in %s\n",
		       counts[FL_PASS], counts[FL_FAIL], counts[FL_SKIP], counts[FL_ERROR], res.dir);
	json_decref(done);
	return exit_status;
}
