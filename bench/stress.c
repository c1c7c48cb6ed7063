// SPDX-License-Identifier: GPL-2.0
/*
 * faultline stress: long mixed runs that hunt the races these paths are
 * known for (stale mappings after zap, COW after fork vs concurrent faults,
 * VMA split/merge next to faulting or pinned ranges, THP split and collapse,
 * migration and compaction under load).
 *
 * Kernel paths: whatever the mixed workloads exercise, plus the perturbers'
 * own: munmap/mmap beside the workloads' VMAs (vma_merge, __split_vma),
 * mprotect (change_protection, VMA split), madvise MADV_DONTNEED
 * (zap_page_range_single + TLB flush), MADV_PAGEOUT (reclaim_pages),
 * MADV_COLLAPSE (6.1+, collapse_pte_mapped_thp), partial munmap of a THP
 * (__split_huge_pmd), /proc/sys/vm/compact_memory (compact_nodes), mbind
 * MPOL_MF_MOVE (migrate_pages), fork (copy_page_range, COW), and memory
 * cgroup pressure (memory.high / memory.max reclaim).
 *
 * To use:
 *   faultline stress --mix populate,fault-scale --duration 10m
 *   faultline stress --suite workloads/suites/stress.job --seed 42
 *   faultline stress --replay results/<run-id>            (re-run a failure)
 *   faultline stress --replay results/<run-id> --shrink   (minimal job file)
 *
 * Each mixed case runs in a process of its own (as in bench/runner.c, so a
 * crash names its case): worker threads loop the workload's prepare, run and
 * check hooks, bound to CPUs by the core's placement, while a perturber
 * thread in the same process executes that case's schedule.  The perturbers
 * act on sentinel regions the harness owns, mapped right beside the
 * workloads' own VMAs, filled with a pattern derived from the seed and
 * verified after every perturbation and every half second; the operations
 * that cannot corrupt data (fork, compaction, migration, memcg pressure)
 * also reach the workloads' memory.  A sentinel mismatch, a failed check
 * hook or a crashed case process stops the run.
 *
 * The schedule is a pure function of the seed: one PRNG stream per case
 * (keyed by workload, backing and ordinal) and one for the system-wide
 * perturbers.  Disabled perturbers consume their draws without acting, so
 * dropping a perturber or a case (shrinking) leaves every other event at the
 * same time with the same arguments.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <regex.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <numa.h>
#include <numaif.h>

#include "placement.h"
#include "results.h"
#include "runner.h"
#include "mmflags.h"
#include "stress.h"

#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif

#define MAX_SLOTS	16
#define MAX_WORKERS	64
#define RING		4096
#define NREG		6	/* sentinel regions per case process */
#define NREG_THP	2	/* the first ones are 2 MiB-aligned THP candidates */
#define REG_LEN		(2ul << 20)
#define PAGE		4096ul
#define SWEEP_NS	500000000ull
#define STOP_GRACE_S	60

enum pert {
	/* per case process, in this order in the PRNG draw: never reorder */
	P_REMAP, P_MPROTECT, P_DONTNEED, P_PAGEOUT, P_COLLAPSE, P_THP_SPLIT, P_NUMA, P_FORK,
	P_LOCAL,
	/* system-wide, from the coordinator */
	P_COMPACT = P_LOCAL, P_MEMCG,
	P_COUNT,
	P_INJECT = P_COUNT,	/* test hook, not a perturber */
	P_NAMES
};

static const char *const pert_names[P_NAMES] = {
	"remap", "mprotect", "dontneed", "pageout", "collapse", "thp-split", "numa-migrate",
	"fork-storm", "compact", "memcg-pressure", "test-corrupt",
};

static const char *const pert_help[P_COUNT] = {
	"munmap a sentinel and mmap it again right beside a workload's VMA (merge/split)",
	"mprotect a sentinel subrange read-only and back (VMA split, write faults after)",
	"MADV_DONTNEED a sentinel subrange: must read back zero (zap + TLB flush)",
	"MADV_PAGEOUT a sentinel subrange (5.4+): data must survive reclaim",
	"MADV_COLLAPSE a THP sentinel (6.1+): data must survive the collapse",
	"munmap one 4 KiB page inside a THP sentinel (PMD split) and map it back",
	"mbind(MPOL_MF_MOVE) sentinels and migrate_pages(2) the whole case process",
	"fork 2-7 children that verify and COW-write while the workloads run",
	"write 1 to /proc/sys/vm/compact_memory",
	"cgroup v2: squeeze memory.high (memory.max with swap) of the cases' cgroup",
};

/*
 * A perturbation that ran but could not aim where it meant to (remap with
 * no free gap beside any workload VMA maps the sentinel elsewhere): counted
 * as "elsewhere", not among the errors, which are errnos.
 */
#define PERT_ELSEWHERE (-1)

enum mm_kind { MM_NONE, MM_SENTINEL, MM_CHECK, MM_FORK_CHILD, MM_DIED, MM_HUNG, MM_SPLAT };
static const char *const mm_names[] = {
	"none", "sentinel-mismatch", "check-failed", "fork-child-mismatch", "process-died", "hung",
	"kernel-splat",
};

struct hist_ev {
	uint64_t t_ns;		/* since the run's start */
	int16_t pert;
	int16_t region;
	int32_t err;		/* 0, errno or PERT_ELSEWHERE */
	uint64_t addr, off, len;
};

struct mismatch {
	int kind;
	int region;
	uint64_t t_ns;
	uint64_t addr, off, len;
	uint64_t expected, got, bad_words;
	char where[512];
};

/* One case process's counters and reports, shared with the coordinator. */
struct slot_shm {
	volatile uint64_t wops[MAX_WORKERS * 8];	/* 64 bytes apart */
	volatile uint64_t checks, verifies, perts;
	volatile uint64_t pcount[P_NAMES], perr[P_NAMES];
	volatile uint64_t pmiss[P_NAMES];	/* done, but not where aimed (PERT_ELSEWHERE) */
	volatile int plast[P_NAMES];		/* the last errno of each perturbation */
	volatile int stop;
	volatile int state;		/* 0 starting, 1 running, 2 done */
	volatile int status;		/* enum fl_status */
	char reason[512];
	volatile int mm_claim, has_mm;
	struct mismatch mm;
	volatile uint64_t ring_head;
	struct hist_ev ring[RING];
	char unsupported[P_COUNT][160];	/* found at run time (EINVAL) */
	volatile uint64_t degraded;	/* backing checks that failed after passing */
	char degraded_reason[512];
};

struct ctl {
	volatile int stop;
	uint64_t t0;
};

struct stress_conf {
	uint64_t seed;
	double duration;		/* seconds */
	double history;			/* seconds of history kept in stress.json */
	unsigned asked_mask;		/* perturbers asked for */
	double inject_at;		/* test hook: < 0 = off */
	char inject_key[96];		/* test hook: case key, "" = first case */
	bool quiet;
};

struct slot {
	const struct fl_case_def *def;
	char key[96];			/* "populate/anon-4k#0": PRNG stream and inject target */
	struct slot_shm *shm;
	pid_t pid;
	bool exited, killed;
	int wstatus;
	unsigned nw;
};

struct outcome {
	int kind;
	char key[96];
	double t_s;
};

static volatile sig_atomic_t interrupted;

static void on_sigint(int sig)
{
	interrupted = 1;
}

/* ---- PRNG: splitmix64, one stream per case -------------------------------- */

static uint64_t mix64(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint64_t rng_next(uint64_t *s)
{
	*s += 0x9e3779b97f4a7c15ull;
	return mix64(*s);
}

static uint64_t stream_seed(uint64_t seed, const char *key)
{
	uint64_t h = 1469598103934665603ull;	/* FNV-1a */

	for (; *key; key++)
		h = (h ^ (unsigned char)*key) * 1099511628211ull;
	return mix64(seed ^ h);
}

static void sleep_ns(uint64_t ns)
{
	struct timespec ts = { .tv_sec = (time_t)(ns / 1000000000ull), .tv_nsec = (long)(ns % 1000000000ull) };

	nanosleep(&ts, NULL);
}

/* ---- sentinel regions (case process) ---------------------------------------- */

struct region {
	char *addr;
	size_t len;
	uint64_t gen;
	bool thp;
};

struct pctx {
	struct slot_shm *shm;
	struct ctl *ctl;
	struct region reg[NREG];
	uint64_t gen_rng;
	unsigned mask;
	int nodes;
	char maps[1 << 17];
};

static inline uint64_t pat(uint64_t gen, size_t off)
{
	return mix64(gen + off / 8);
}

static void fill(struct region *r, size_t off, size_t len)
{
	volatile uint64_t *w = (volatile uint64_t *)(r->addr + off);

	for (size_t i = 0; i < len / 8; i++)
		w[i] = pat(r->gen, off + i * 8);
}

static uint64_t rel_ns(struct ctl *ctl)
{
	return fl_now_ns() - ctl->t0;
}

/* First writer wins; async-signal-safe enough for a fork child (no malloc, no locks). */
static void report_mismatch(struct slot_shm *s, struct ctl *ctl, const struct mismatch *m)
{
	if (!__sync_bool_compare_and_swap(&s->mm_claim, 0, 1))
		return;
	s->mm = *m;
	s->mm.t_ns = rel_ns(ctl);
	__sync_synchronize();
	s->has_mm = 1;
	s->stop = 1;
}

/*
 * Verify [off, off+len) of @r: the pattern, or zero.  @hole (page offset or
 * -1) is skipped.  Returns the number of bad words (the first is reported).
 */
static uint64_t verify(struct pctx *px, int ri, size_t off, size_t len, bool zero, long hole,
		       int kind, const char *what)
{
	struct region *r = &px->reg[ri];
	const volatile uint64_t *w = (const volatile uint64_t *)(r->addr + off);
	uint64_t bad = 0, first_off = 0, exp0 = 0, got0 = 0;

	for (size_t i = 0; i < len / 8; i++) {
		size_t o = off + i * 8;
		uint64_t e, g;

		if (hole >= 0 && o / PAGE == (size_t)hole / PAGE) {
			i += PAGE / 8 - 1 - (o % PAGE) / 8;
			continue;
		}
		e = zero ? 0 : pat(r->gen, o);
		g = w[i];
		if (g != e) {
			if (!bad++) {
				first_off = o;
				exp0 = e;
				got0 = g;
			}
		}
	}
	if (bad) {
		struct mismatch m = { .kind = kind, .region = ri, .addr = (uint64_t)(uintptr_t)r->addr + first_off,
				      .off = first_off, .len = r->len, .expected = exp0, .got = got0,
				      .bad_words = bad };

		snprintf(m.where, sizeof(m.where), "%s", what);
		report_mismatch(px->shm, px->ctl, &m);
	} else {
		px->shm->verifies++;
	}
	return bad;
}

static uint64_t verify_all(struct pctx *px, const char *what)
{
	uint64_t bad = 0;

	for (int i = 0; i < NREG && !bad; i++)
		if (px->reg[i].addr)
			bad += verify(px, i, 0, px->reg[i].len, false, -1, MM_SENTINEL, what);
	return bad;
}

static int region_map(struct pctx *px, int ri, void *placed)
{
	struct region *r = &px->reg[ri];
	size_t len = REG_LEN;
	char *p;

	r->thp = ri < NREG_THP;
	if (r->thp) {
		/* Over-map and trim to a 2 MiB boundary, as fl_map does for THP. */
		char *raw = mmap(NULL, len + REG_LEN, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		uintptr_t a;

		if (raw == MAP_FAILED)
			return -errno;
		a = ((uintptr_t)raw + REG_LEN - 1) & ~(REG_LEN - 1);
		if (a > (uintptr_t)raw)
			munmap(raw, a - (uintptr_t)raw);
		munmap((char *)a + len, (uintptr_t)raw + len + REG_LEN - a - len);
		p = (char *)a;
		madvise(p, len, MADV_HUGEPAGE);
	} else {
		/* @placed: already mapped by neighbour(). */
		p = placed ? placed : mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED)
			return -errno;
	}
	r->addr = p;
	r->len = len;
	r->gen = rng_next(&px->gen_rng);
	fill(r, 0, len);
	return 0;
}

static void region_unmap(struct region *r)
{
	if (r->addr)
		munmap(r->addr, r->len);
	r->addr = NULL;
}

/*
 * Map @len bytes right beside an anonymous rw VMA of the workloads (>= 1 MiB,
 * not ours); NULL if no such VMA has a free gap on either side.
 */
static void *neighbour(struct pctx *px, uint64_t arg, size_t len)
{
	uintptr_t cand[256][2];
	unsigned n = 0;
	ssize_t got = 0, k;
	int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
	char *line, *save = NULL;

	if (fd < 0)
		return NULL;
	while ((k = read(fd, px->maps + got, sizeof(px->maps) - 1 - (size_t)got)) > 0)
		got += k;
	close(fd);
	px->maps[got] = '\0';
	for (line = strtok_r(px->maps, "\n", &save); line && n < 256; line = strtok_r(NULL, "\n", &save)) {
		unsigned long s, e, ino;
		char perms[8];
		int pos = 0;
		bool ours = false;

		if (sscanf(line, "%lx-%lx %7s %*s %*s %lu %n", &s, &e, perms, &ino, &pos) < 4)
			continue;
		if (strcmp(perms, "rw-p") || ino || line[pos] || e - s < (1ul << 20))
			continue;
		for (int i = 0; i < NREG; i++)
			if (px->reg[i].addr && (uintptr_t)px->reg[i].addr < e &&
			    (uintptr_t)px->reg[i].addr + px->reg[i].len > s)
				ours = true;
		if (ours)
			continue;
		cand[n][0] = s;
		cand[n][1] = e;
		n++;
	}
	if (!n)
		return NULL;
	n = (unsigned)(arg % n);
	/* Mappings are packed top-down: try just above it, then just below it. */
	for (int side = 0; side < 2; side++) {
		void *hint = side == (int)((arg >> 32) & 1) ? (void *)cand[n][1] :
			     cand[n][0] >= len ? (void *)(cand[n][0] - len) : NULL;
		void *p;

		if (!hint)
			continue;
		p = mmap(hint, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
		if (p == hint)
			return p;
		if (p != MAP_FAILED)
			munmap(p, len);	/* pre-4.17 kernels take the flag as a hint */
	}
	return NULL;
}

static void ring_add(struct pctx *px, int pert, int ri, int err, uint64_t addr, uint64_t off, uint64_t len)
{
	struct slot_shm *s = px->shm;
	struct hist_ev *e = &s->ring[s->ring_head % RING];

	e->t_ns = rel_ns(px->ctl);
	e->pert = (int16_t)pert;
	e->region = (int16_t)ri;
	e->err = err;
	e->addr = addr;
	e->off = off;
	e->len = len;
	__sync_synchronize();
	s->ring_head++;
	s->pcount[pert]++;
	if (err == PERT_ELSEWHERE) {
		s->pmiss[pert]++;
	} else if (err) {
		s->perr[pert]++;
		s->plast[pert] = err;
	}
	s->perts++;
}

static void mark_unsupported(struct pctx *px, int p, const char *why)
{
	snprintf(px->shm->unsupported[p], sizeof(px->shm->unsupported[p]), "%s", why);
	px->mask &= ~(1u << p);
}

/* madvise advice the kernel does not know fails with EINVAL on a plain fresh range. */
static void probe_advice(struct pctx *px)
{
	static const struct { int p, advice; const char *why; } probes[] = {
		{ P_PAGEOUT, MADV_PAGEOUT, "kernel lacks MADV_PAGEOUT (5.4+)" },
		{ P_COLLAPSE, MADV_COLLAPSE, "kernel lacks MADV_COLLAPSE (6.1+)" },
	};

	for (unsigned i = 0; i < sizeof(probes) / sizeof(probes[0]); i++) {
		struct region *r = &px->reg[0];

		if ((px->mask & (1u << probes[i].p)) && madvise(r->addr, r->len, probes[i].advice) &&
		    errno == EINVAL)
			mark_unsupported(px, probes[i].p, probes[i].why);
	}
}

/* A random page-aligned subrange of region @ri: 1..64 pages. */
static void subrange(const struct region *r, uint64_t arg, size_t *off, size_t *len)
{
	size_t pages = r->len / PAGE, n = 1 + (arg >> 20) % 64, start = arg % pages;

	if (start + n > pages)
		n = pages - start;
	*off = start * PAGE;
	*len = n * PAGE;
}

static void fork_child(struct pctx *px, uint64_t arg)
{
	int ri = (int)(arg % NREG);
	struct region *r = &px->reg[ri];
	size_t off, len;

	/* No malloc and no locks here: other threads of the parent held them at fork. */
	if (verify_all(px, "fork child: before its writes"))
		_exit(3);
	subrange(r, arg >> 8, &off, &len);
	fill(r, off, len);		/* same values: breaks COW, must not change them */
	if (verify(px, ri, 0, r->len, false, -1, MM_FORK_CHILD, "fork child: after its COW writes"))
		_exit(3);
	_exit(0);
}

static int do_fork_storm(struct pctx *px, uint64_t arg)
{
	unsigned n = 2 + (unsigned)(arg % 6), made = 0;
	pid_t pids[8];
	int err = 0;

	for (unsigned i = 0; i < n; i++) {
		pid_t pid = fork();

		if (pid == 0)
			fork_child(px, mix64(arg + i));
		if (pid < 0) {
			err = errno;
			break;
		}
		pids[made++] = pid;
	}
	for (unsigned i = 0; i < made; i++) {
		int st;

		while (waitpid(pids[i], &st, 0) < 0 && errno == EINTR)
			;
		if (WIFSIGNALED(st) && !px->shm->has_mm) {
			struct mismatch m = { .kind = MM_FORK_CHILD, .region = -1 };

			snprintf(m.where, sizeof(m.where), "fork-storm child killed by signal %d (%s)",
				 WTERMSIG(st), strsignal(WTERMSIG(st)));
			report_mismatch(px->shm, px->ctl, &m);
		}
	}
	verify_all(px, "parent after fork-storm");
	return err;
}

static int do_numa(struct pctx *px, uint64_t arg)
{
	struct region *r = &px->reg[arg % NREG];
	int node = (int)((arg >> 8) % (uint64_t)px->nodes);
	unsigned long mask = 1ul << node;
	int err = 0;

	if (mbind(r->addr, r->len, MPOL_BIND, &mask, sizeof(mask) * 8, MPOL_MF_MOVE))
		err = errno;
	mbind(r->addr, r->len, MPOL_DEFAULT, NULL, 0, 0);
	if ((arg >> 16) % 4 == 0) {
		/* The whole process, workloads' memory included: data-preserving. */
		struct bitmask *from = numa_allocate_nodemask(), *to = numa_allocate_nodemask();

		if (from && to) {
			numa_bitmask_setall(from);
			numa_bitmask_clearbit(from, (unsigned)node);
			numa_bitmask_setbit(to, (unsigned)node);
			if (numa_migrate_pages(0, from, to) < 0 && !err)
				err = errno;
		}
		if (from)
			numa_free_nodemask(from);
		if (to)
			numa_free_nodemask(to);
	}
	return err;
}

/* One scheduled perturbation in the case process. */
static void perturb(struct pctx *px, int p, uint64_t arg)
{
	int ri = p == P_COLLAPSE || p == P_THP_SPLIT ? (int)(arg % NREG_THP) :
		 p == P_REMAP ? NREG_THP + (int)(arg % (NREG - NREG_THP)) : (int)(arg % NREG);
	struct region *r = &px->reg[ri];
	size_t off = 0, len = r->len;
	int err = 0;
	char what[96];

	snprintf(what, sizeof(what), "after %s", pert_names[p]);
	switch (p) {
	case P_REMAP: {
		void *hint;

		region_unmap(r);
		hint = neighbour(px, arg >> 8, REG_LEN);
		err = -region_map(px, ri, hint);
		if (!err && !hint)
			err = PERT_ELSEWHERE;	/* no free gap beside a workload VMA */
		off = 0;
		len = r->len;
		break;
	}
	case P_MPROTECT:
		subrange(r, arg >> 8, &off, &len);
		if (mprotect(r->addr + off, len, PROT_READ)) {
			err = errno;
			break;
		}
		verify(px, ri, off, len, false, -1, MM_SENTINEL, "read-only after mprotect(PROT_READ)");
		sleep_ns((arg >> 40) % 2000000);
		if (mprotect(r->addr + off, len, PROT_READ | PROT_WRITE)) {
			/* Cannot write the region any more: replace it. */
			err = errno;
			region_unmap(r);
			region_map(px, ri, NULL);
			break;
		}
		fill(r, off, len);
		break;
	case P_DONTNEED:
		subrange(r, arg >> 8, &off, &len);
		if (madvise(r->addr + off, len, MADV_DONTNEED)) {
			err = errno;
			break;
		}
		/* Private anonymous memory reads back zero after the zap: stale data is a kernel bug. */
		verify(px, ri, off, len, true, -1, MM_SENTINEL, "not zero after MADV_DONTNEED");
		fill(r, off, len);
		break;
	case P_PAGEOUT:
		subrange(r, arg >> 8, &off, &len);
		if (madvise(r->addr + off, len, MADV_PAGEOUT))
			err = errno;
		break;
	case P_COLLAPSE:
		/* EINVAL here can be a range the split left unsuitable; support was probed at start. */
		if (madvise(r->addr, r->len, MADV_COLLAPSE))
			err = errno;
		break;
	case P_THP_SPLIT: {
		size_t page = (size_t)(arg >> 8) % (r->len / PAGE) * PAGE;

		off = page;
		len = PAGE;
		if (munmap(r->addr + page, PAGE)) {
			err = errno;
			break;
		}
		verify(px, ri, 0, r->len, false, (long)page, MM_SENTINEL, "beside a 4 KiB munmap inside a THP");
		if (mmap(r->addr + page, PAGE, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0) != r->addr + page) {
			/* Someone mapped into the hole: give the region up and make a new one. */
			err = EEXIST;
			munmap(r->addr, page);
			munmap(r->addr + page + PAGE, r->len - page - PAGE);
			r->addr = NULL;
			region_map(px, ri, NULL);
			break;
		}
		/* Same flags as its neighbours again: the three VMAs merge back into one. */
		madvise(r->addr + page, PAGE, MADV_HUGEPAGE);
		fill(r, page, PAGE);
		break;
	}
	case P_NUMA:
		err = do_numa(px, arg);
		break;
	case P_FORK:
		err = do_fork_storm(px, arg);
		break;
	}
	ring_add(px, p, ri, err, r->addr ? (uint64_t)(uintptr_t)r->addr + off : 0, off, len);
	if (r->addr)
		verify(px, ri, 0, r->len, false, -1, MM_SENTINEL, what);
}

/* ---- the case process ------------------------------------------------------- */

struct wctx {
	struct fl_case *c;
	struct fl_worker w;
	struct slot_shm *shm;
	struct ctl *ctl;
	const struct fl_placement *pl;
	unsigned slot_index;
	pthread_mutex_t *status_lock;
};

static void slot_status(struct slot_shm *s, struct fl_case *c, pthread_mutex_t *lock)
{
	pthread_mutex_lock(lock);
	if (s->status == FL_PASS && c->status != FL_PASS) {
		s->status = c->status;
		snprintf(s->reason, sizeof(s->reason), "%s", c->reason);
	}
	pthread_mutex_unlock(lock);
}

static void *worker_main(void *arg)
{
	struct wctx *wx = arg;
	struct fl_worker *w = &wx->w;
	const struct workload *wl = wx->c->wl;
	volatile uint64_t *ops = &wx->shm->wops[w->id * 8];
	struct fl_work done;
	const char *hook = NULL;
	unsigned early_skips = 0;
	int ret;

	if (wx->pl->nr_cpus) {
		/* Cases are spread over the CPUs: worker 0 of each case on a different one. */
		w->cpu = wx->pl->cpus[(wx->slot_index + w->id) % wx->pl->nr_cpus];
		fl_placement_bind(wx->pl, w->cpu, false);
	}
	while (!wx->shm->stop && !wx->ctl->stop) {
		hook = "prepare";
		if (wl->prepare && (ret = wl->prepare(w)) < 0)
			goto failed;
		memset(&done, 0, sizeof(done));
		hook = "run";
		if ((ret = wl->run(w, &done)) < 0)
			goto failed;
		if (!wl->counts_live)
			*ops += done.ops;
		hook = "check";
		if (wl->check && (ret = wl->check(w)) < 0)
			goto failed;
		__sync_fetch_and_add(&wx->shm->checks, 1);
		hook = NULL;
		continue;
failed:
		/*
		 * A backing check that fails (a THP run that got 4 KiB pages)
		 * is what compaction and splits do to memory under stress:
		 * counted and shown, not the end of the case — unless it never
		 * passed in 10 tries, which is a system without THP: a skip.
		 * A skip from prepare() or run() may leave that batch's mapping
		 * to teardown(): at most 10 of those per worker.
		 */
		pthread_mutex_lock(wx->status_lock);
		if (wx->c->status == FL_SKIP && (!strcmp(hook, "check") ?
		    wx->shm->checks || wx->shm->degraded < 10 : ++early_skips <= 10)) {
			wx->shm->degraded++;
			snprintf(wx->shm->degraded_reason, sizeof(wx->shm->degraded_reason), "%s", wx->c->reason);
			wx->c->status = FL_PASS;
			wx->c->reason[0] = '\0';
			hook = NULL;
		}
		pthread_mutex_unlock(wx->status_lock);
		if (hook)
			break;
	}
	if (hook) {
		if (wx->c->status == FL_PASS)
			fl_case_error(wx->c, "%s() returned %d without a reason", hook, ret);
		slot_status(wx->shm, wx->c, wx->status_lock);
		if (wx->c->status == FL_FAIL) {
			struct mismatch m = { .kind = MM_CHECK, .region = -1 };

			snprintf(m.where, sizeof(m.where), "worker %u, %s(): %.400s", w->id, hook, wx->c->reason);
			report_mismatch(wx->shm, wx->ctl, &m);
		}
		wx->shm->stop = 1;
	}
	return NULL;
}

static void perturber_loop(struct pctx *px, const struct stress_conf *sc, const char *key, bool inject)
{
	uint64_t rs = stream_seed(sc->seed, key), t_ev = 0, last_sweep = 0;
	uint64_t end = (uint64_t)(sc->duration * 1e9);
	uint64_t inject_t = inject ? (uint64_t)(sc->inject_at * 1e9) : UINT64_MAX;
	uint64_t irs = stream_seed(sc->seed, "test-corrupt");

	while (!px->shm->stop && !px->ctl->stop) {
		uint64_t gap = 20 + rng_next(&rs) % 180, arg;
		int p;

		t_ev += gap * 1000000ull;
		p = (int)(rng_next(&rs) % P_LOCAL);
		arg = rng_next(&rs);
		if (t_ev > end)
			break;
		/* Sleep until the event, sweeping every region every half second meanwhile. */
		for (;;) {
			uint64_t now = rel_ns(px->ctl), until = t_ev;

			if (px->shm->stop || px->ctl->stop)
				return;
			if (now >= inject_t) {
				uint64_t a = rng_next(&irs);
				int ri = (int)(a % NREG);
				size_t o = (size_t)(a >> 8) % px->reg[ri].len & ~7ul;

				/* TEST HOOK (FAULTLINE_TEST_HOOKS=1): flip bits behind the verifier's back. */
				px->reg[ri].addr[o + 3] ^= 0x5a;
				ring_add(px, P_INJECT, ri, 0, (uint64_t)(uintptr_t)px->reg[ri].addr + o, o, 8);
				inject_t = UINT64_MAX;
				verify_all(px, "periodic sweep after the test-corrupt hook");
				continue;
			}
			if (now - last_sweep >= SWEEP_NS) {
				verify_all(px, "periodic sweep");
				last_sweep = now;
				continue;
			}
			if (now >= until)
				break;
			if (until > last_sweep + SWEEP_NS)
				until = last_sweep + SWEEP_NS;
			if (until > inject_t)
				until = inject_t;
			sleep_ns(until - now < 50000000ull ? until - now : 50000000ull);
		}
		if (px->mask & (1u << p))
			perturb(px, p, arg);
	}
	/* Schedule done (or stopped): keep sweeping until told to stop. */
	while (!px->shm->stop && !px->ctl->stop) {
		sleep_ns(SWEEP_NS);
		verify_all(px, "periodic sweep");
	}
}

static int slot_main(struct slot *sl, unsigned index, struct ctl *ctl, const struct stress_conf *sc,
		     unsigned mask, bool inject)
{
	const struct fl_case_def *def = sl->def;
	const struct workload *wl = def->wl;
	struct slot_shm *s = sl->shm;
	struct fl_case c = { 0 };
	struct fl_placement pl;
	struct wctx *wx = NULL;
	pthread_t *tids = NULL;
	struct fl_hist *hists = NULL;
	static struct pctx px;
	pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	unsigned nw = sl->nw, nr_lat = 0, started = 0;
	const char *why = NULL;
	char buf[512];

	while (nr_lat < FL_MAX_LAT && wl->lat[nr_lat].name)
		nr_lat++;
	c.wl = wl;
	c.backing = def->backing;
	c.config = def->config;
	c.bconf = &def->core.bconf;
	c.nr_workers = nw;
	c.metrics = fl_case_metrics_new();
	snprintf(c.label, sizeof(c.label), "%s", def->label);
	if (!c.metrics)
		return fl_case_error(&c, "out of memory");
	if (fl_placement_init(&pl, def->core.cpus, (int)def->core.node, buf, sizeof(buf))) {
		fl_case_skip(&c, "%s", buf);
		goto out;
	}
	if (def->core.processes)
		why = "stress runs workers as threads of the case process (workers=processes is not supported)";
	if (!why && wl->supported)
		why = wl->supported(&c);
	if (!why && fl_backings[def->backing].available)
		why = fl_backings[def->backing].available(c.bconf, wl->footprint ? wl->footprint(&c) * nw : 0,
							  buf, sizeof(buf));
	if (why) {
		fl_case_skip(&c, "%s", why);
		goto out;
	}
	if (wl->setup && wl->setup(&c) < 0) {
		if (c.status == FL_PASS)
			fl_case_error(&c, "setup() failed without a reason");
		goto out;
	}
	px.shm = s;
	px.ctl = ctl;
	px.mask = mask;
	px.nodes = fl_numa_nodes();
	px.gen_rng = stream_seed(sc->seed, sl->key) ^ 0x5e17e1ull;
	for (int i = 0; i < NREG; i++) {
		int ret = region_map(&px, i, NULL);

		if (ret) {
			fl_case_error(&c, "cannot map sentinel region: %s", strerror(-ret));
			goto teardown;
		}
	}
	probe_advice(&px);
	wx = calloc(nw, sizeof(*wx));
	tids = calloc(nw, sizeof(*tids));
	hists = calloc((size_t)nw * (nr_lat ? nr_lat : 1), sizeof(*hists));
	if (!wx || !tids || !hists) {
		fl_case_error(&c, "out of memory for %u workers", nw);
		goto teardown;
	}
	s->state = 1;
	for (unsigned i = 0; i < nw; i++) {
		wx[i].c = &c;
		wx[i].shm = s;
		wx[i].ctl = ctl;
		wx[i].pl = &pl;
		wx[i].slot_index = index;
		wx[i].status_lock = &lock;
		wx[i].w.c = &c;
		wx[i].w.id = i;
		wx[i].w.cpu = -1;
		wx[i].w.counter = &s->wops[i * 8];
		wx[i].w.stop = &s->stop;
		for (unsigned l = 0; l < nr_lat; l++) {
			wx[i].w.lat[l] = &hists[i * nr_lat + l];
			fl_hist_init(wx[i].w.lat[l]);
		}
		if (pthread_create(&tids[i], NULL, worker_main, &wx[i])) {
			fl_case_error(&c, "pthread_create for worker %u failed", i);
			s->stop = 1;
			break;
		}
		started++;
	}
	perturber_loop(&px, sc, sl->key, inject);
	s->stop = 1;
	for (unsigned i = 0; i < started; i++)
		pthread_join(tids[i], NULL);
teardown:
	for (int i = 0; i < NREG; i++)
		region_unmap(&px.reg[i]);
	if (wl->teardown)
		wl->teardown(&c);
out:
	slot_status(s, &c, &lock);
	free(wx);
	free(tids);
	free(hists);
	fl_case_metrics_free(c.metrics);
	s->state = 2;
	return 0;
}

/* ---- system-wide perturbers (coordinator) ----------------------------------- */

struct global {
	struct ctl *ctl;
	const struct stress_conf *sc;
	unsigned mask;
	char cg_dir[PATH_MAX];		/* the stress cgroup, "" if none */
	bool swap;
	pthread_mutex_t lock;
	struct hist_ev ring[RING];
	uint64_t head;
	uint64_t pcount[P_COUNT], perr[P_COUNT];
	int plast[P_COUNT];
	pthread_t tid;
};

static int write_str(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC), err = 0;

	if (fd < 0)
		return errno;
	if (write(fd, s, strlen(s)) < 0)
		err = errno;
	close(fd);
	return err;
}

static long long read_ll(const char *path)
{
	char buf[64] = "";
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	return n > 0 ? atoll(buf) : -1;
}

/* A cgroup v2 child for the case processes; NULL, or why memcg pressure cannot run. */
static const char *memcg_setup(struct global *g, char *why, size_t len)
{
	struct statfs sfs;
	char line[PATH_MAX], path[PATH_MAX + 64], *rel = NULL;
	FILE *f;

	if (statfs("/sys/fs/cgroup", &sfs) || sfs.f_type != CGROUP2_SUPER_MAGIC) {
		snprintf(why, len, "needs cgroup v2 at /sys/fs/cgroup (this system mounts cgroup v1 or a hybrid tree there)");
		return why;
	}
	f = fopen("/proc/self/cgroup", "r");
	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, "0::", 3)) {
			rel = line + 3;
			rel[strcspn(rel, "\n")] = '\0';
			break;
		}
	if (f)
		fclose(f);
	if (!rel) {
		snprintf(why, len, "cannot find this process's cgroup v2 path in /proc/self/cgroup");
		return why;
	}
	/*
	 * Controllers can be enabled for children only in a cgroup without
	 * processes of its own (but the root): so the stress cgroup is made a
	 * sibling of ours, under our parent, which must delegate "memory".
	 */
	if (strcmp(rel, "/")) {
		char *slash = strrchr(rel, '/');

		*slash = '\0';
	} else {
		rel[0] = '\0';
	}
	snprintf(path, sizeof(path), "/sys/fs/cgroup%.3000s/cgroup.subtree_control", rel);
	if (write_str(path, "+memory")) {
		snprintf(why, len, "cannot enable the memory controller in %.120s (needs root and a cgroup v2 tree delegated to it)", path);
		return why;
	}
	snprintf(g->cg_dir, sizeof(g->cg_dir), "/sys/fs/cgroup%.3000s/faultline-stress-%d", rel, (int)getpid());
	if (mkdir(g->cg_dir, 0755)) {
		snprintf(why, len, "cannot create %.180s: %s", g->cg_dir, strerror(errno));
		g->cg_dir[0] = '\0';
		return why;
	}
	g->swap = false;
	f = fopen("/proc/meminfo", "r");
	while (f && fgets(line, sizeof(line), f)) {
		unsigned long kb;

		if (sscanf(line, "SwapTotal: %lu", &kb) == 1)
			g->swap = kb > 0;
	}
	if (f)
		fclose(f);
	return NULL;
}

static void memcg_add(struct global *g, pid_t pid)
{
	char path[PATH_MAX + 32], buf[32];

	if (!g->cg_dir[0])
		return;
	snprintf(path, sizeof(path), "%s/cgroup.procs", g->cg_dir);
	snprintf(buf, sizeof(buf), "%d", (int)pid);
	write_str(path, buf);
}

static int memcg_squeeze(struct global *g, uint64_t arg)
{
	char path[PATH_MAX + 32], buf[32];
	long long cur;
	int err;
	/*
	 * Without swap anonymous memory cannot be reclaimed, and a memory.max
	 * below usage OOM-kills the workers: memory.high throttles and reclaims
	 * page cache instead.  With swap, memory.max pushes anon to swap.
	 */
	const char *knob = g->swap ? "memory.max" : "memory.high";

	snprintf(path, sizeof(path), "%s/memory.current", g->cg_dir);
	cur = read_ll(path);
	if (cur <= 0)
		return ENOENT;
	snprintf(buf, sizeof(buf), "%lld", cur * (50 + (long long)(arg % 40)) / 100);
	snprintf(path, sizeof(path), "%s/%s", g->cg_dir, knob);
	err = write_str(path, buf);
	sleep_ns(200000000ull + (arg >> 8) % 600000000ull);
	write_str(path, "max");
	return err;
}

static void *global_main(void *arg)
{
	struct global *g = arg;
	uint64_t rs = stream_seed(g->sc->seed, "system-wide"), t_ev = 0;
	uint64_t end = (uint64_t)(g->sc->duration * 1e9);

	while (!g->ctl->stop) {
		uint64_t a;
		int p, err = 0;

		t_ev += (1000 + rng_next(&rs) % 3000) * 1000000ull;
		p = P_COMPACT + (int)(rng_next(&rs) % 2);
		a = rng_next(&rs);
		if (t_ev > end)
			break;
		while (!g->ctl->stop && rel_ns(g->ctl) < t_ev)
			sleep_ns(50000000ull);
		if (g->ctl->stop || !(g->mask & (1u << p)))
			continue;
		if (p == P_COMPACT)
			err = write_str("/proc/sys/vm/compact_memory", "1");
		else
			err = memcg_squeeze(g, a);
		pthread_mutex_lock(&g->lock);
		g->ring[g->head % RING] = (struct hist_ev){ .t_ns = rel_ns(g->ctl), .pert = (int16_t)p,
							    .region = -1, .err = err };
		g->head++;
		g->pcount[p]++;
		if (err) {
			g->perr[p]++;
			g->plast[p] = err;
		}
		pthread_mutex_unlock(&g->lock);
	}
	return NULL;
}

/* ---- configuration: --mix / --suite / [stress] ------------------------------- */

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
		*mask = (1u << P_COUNT) - 1;
		return 0;
	}
	if (!strcmp(buf, "none"))
		return 0;
	for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		int p;

		for (p = 0; p < P_COUNT; p++)
			if (!strcmp(t, pert_names[p]))
				break;
		if (p == P_COUNT) {
			size_t off = (size_t)snprintf(err, errlen, "unknown perturber '%s' (valid: all, none", t);

			for (int i = 0; i < P_COUNT && off < errlen; i++)
				off += (size_t)snprintf(err + off, errlen - off, ", %s", pert_names[i]);
			if (off < errlen)
				snprintf(err + off, errlen - off, ")");
			return -1;
		}
		*mask |= 1u << p;
	}
	return 0;
}

static bool test_hooks(void)
{
	const char *h = getenv("FAULTLINE_TEST_HOOKS");

	return h && !strcmp(h, "1");
}

/* Take the [stress] section out of a loaded job: its keys configure the run. */
static int take_stress_section(struct fl_job *job, struct stress_conf *sc, bool *seed_set,
			       char *err, size_t errlen)
{
	for (unsigned i = 0; i < job->nr_specs; i++) {
		struct fl_spec *s = &job->specs[i];

		if (strcmp(s->name, "stress") || s->wl)
			continue;
		for (unsigned k = 0; k < s->nr_params; k++) {
			const struct fl_param *p = &s->params[k];
			char *end;

			if (!strcmp(p->key, "seed")) {
				errno = 0;
				sc->seed = strtoull(p->value, &end, 0);
				if (errno || *end || end == p->value)
					goto bad;
				*seed_set = true;
			} else if (!strcmp(p->key, "duration")) {
				if (parse_duration(p->value, &sc->duration))
					goto bad;
			} else if (!strcmp(p->key, "history")) {
				if (parse_duration(p->value, &sc->history))
					goto bad;
			} else if (!strcmp(p->key, "perturbers")) {
				if (parse_perturbers(p->value, &sc->asked_mask, err, errlen)) {
					char msg[512];

					snprintf(msg, sizeof(msg), "%s", err);
					snprintf(err, errlen, "%s: %s", p->origin, msg);
					return -1;
				}
			} else if (!strcmp(p->key, "inject_corruption") || !strcmp(p->key, "inject_workload")) {
				if (!test_hooks()) {
					snprintf(err, errlen, "%s: %s is a test hook: it needs FAULTLINE_TEST_HOOKS=1 in the environment",
						 p->origin, p->key);
					return -1;
				}
				if (p->key[7] == 'c' && parse_duration(p->value, &sc->inject_at))
					goto bad;
				if (p->key[7] == 'w')
					snprintf(sc->inject_key, sizeof(sc->inject_key), "%s", p->value);
			} else {
				snprintf(err, errlen, "%s: unknown key '%s' in [stress] (valid: seed, duration, history, perturbers)",
					 p->origin, p->key);
				return -1;
			}
			continue;
bad:
			snprintf(err, errlen, "%s: %s: invalid value '%s'", p->origin, p->key, p->value);
			return -1;
		}
		memmove(s, s + 1, (job->nr_specs - i - 1) * sizeof(*s));
		job->nr_specs--;
		i--;
	}
	return 0;
}

static void slot_keys(struct slot *slots, unsigned n)
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

/* The job file that replays this run: [stress] and one section per case, every option explicit. */
static int write_job(const char *path, const struct stress_conf *sc, struct slot *slots, unsigned n,
		     const char *comment)
{
	char val[FL_OPT_STRLEN], *text = NULL;
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
		if (sc->asked_mask & (1u << p)) {
			fprintf(f, "%s%s", first ? "" : ",", pert_names[p]);
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
		for (const struct fl_option *o = d->wl->options; o && o->name; o++) {
			fl_opt_value_str(o, d->config, val, sizeof(val));
			if (*val)
				fprintf(f, "%s=%s\n", o->name, val);
		}
		for (const struct fl_option *o = fl_core_options; o->name; o++) {
			fl_opt_value_str(o, &d->core, val, sizeof(val));
			if (*val)
				fprintf(f, "%s=%s\n", o->name, val);
		}
	}
	if (fclose(f)) {
		free(text);
		return -1;
	}
	ret = fl_write_file_atomic(path, text, len);
	free(text);
	return ret;
}

/* ---- the kernel log --------------------------------------------------------------- */

/*
 * Kernel splats end the run with their excerpt, as scripts/vm does for the
 * guest console (the same openings as scripts/vmlib/runner.py SPLAT_START).
 * Only kernel-facility records count; with FAULTLINE_TEST_HOOKS=1 a user
 * record containing FAULTLINE-TEST-SPLAT does too (written to /dev/kmsg by
 * tests/host/test_stress.py).
 */
#define SPLAT_RE "(------------\\[ cut here \\]------------|^BUG: |^kernel BUG at |^Oops: |" \
		 "^general protection fault|^WARNING: |^INFO: task .* blocked for more than|" \
		 "watchdog: BUG: soft lockup|[Hh]ard LOCKUP|^UBSAN: |^BUG: KASAN|^BUG: KFENCE|" \
		 "^Unable to handle kernel|possible circular locking|possible recursive locking|" \
		 "list_(add|del) corruption|rcu_.* self-detected stall)"
#define KLOG_LINES 200

struct kwatch {
	int fd;
	bool test_marker;
	regex_t re;
	bool seen;
	uint64_t t_ns;
	char headline[256];
	json_t *lines;
	char why[160];		/* why the kernel log is not watched */
};

static void kwatch_open(struct kwatch *kw)
{
	memset(kw, 0, sizeof(*kw));
	kw->fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (kw->fd < 0) {
		snprintf(kw->why, sizeof(kw->why), "/dev/kmsg: %s (kernel splats are not detected; needs root)",
			 strerror(errno));
		return;
	}
	lseek(kw->fd, 0, SEEK_END);
	regcomp(&kw->re, SPLAT_RE, REG_EXTENDED | REG_NOSUB);
	kw->test_marker = test_hooks();
	kw->lines = json_array();
}

/* Read what the kernel logged since the last call; true once a splat was seen. */
static bool kwatch_poll(struct kwatch *kw, uint64_t t_rel)
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
		if (!kw->seen && (((prio >> 3) == 0 && !regexec(&kw->re, msg, 0, NULL, 0)) ||
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

static void kwatch_close(struct kwatch *kw)
{
	if (kw->fd < 0)
		return;
	close(kw->fd);
	regfree(&kw->re);
	json_decref(kw->lines);
}

/* ---- the coordinator ---------------------------------------------------------- */

static uint64_t slot_ops(const struct slot *sl)
{
	uint64_t ops = 0;

	for (unsigned i = 0; i < sl->nw; i++)
		ops += sl->shm->wops[i * 8];
	return ops;
}

static void progress(struct slot *slots, unsigned n, struct global *g, double el, double dur,
		     bool tty, bool final)
{
	uint64_t perts = 0, checks = 0;
	char line[1024];
	size_t off;

	for (unsigned p = 0; p < P_COUNT; p++)
		perts += g->pcount[p];
	for (unsigned i = 0; i < n; i++) {
		perts += slots[i].shm->perts;
		checks += slots[i].shm->checks + slots[i].shm->verifies;
	}
	off = (size_t)snprintf(line, sizeof(line), "stress: %5.0fs/%.0fs", el, dur);
	for (unsigned i = 0; i < n && off < sizeof(line); i++)
		off += (size_t)snprintf(line + off, sizeof(line) - off, " %s=%" PRIu64, slots[i].key, slot_ops(&slots[i]));
	if (off < sizeof(line))
		snprintf(line + off, sizeof(line) - off, " ops; %" PRIu64 " perturbations; %" PRIu64 " checks ok",
			 perts, checks);
	if (tty)
		printf("\r\033[K%s%s", line, final ? "\n" : "");
	else
		printf("%s\n", line);
	fflush(stdout);
}

static json_t *metric1(const char *unit, const char *dir, double v)
{
	return json_pack("{s:s, s:s, s:[o], s:o, s:o, s:o, s:o, s:i}", "unit", unit, "direction", dir,
			 "samples", fl_json_real(v), "median", fl_json_real(v), "min", fl_json_real(v),
			 "max", fl_json_real(v), "mean", fl_json_real(v), "cv", 0);
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
			      "perturber", pert_names[e->pert], "result", pert_result(e->err));

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

/* Perturbations of the last sc->history seconds before @t_ns, all rings merged, by time. */
static json_t *history_json(struct slot *slots, unsigned n, struct global *g, uint64_t t_ns, double hist_s)
{
	uint64_t from = t_ns > (uint64_t)(hist_s * 1e9) ? t_ns - (uint64_t)(hist_s * 1e9) : 0;
	json_t *arr = json_array(), **v, *sorted = json_array();
	size_t k = 0, nv;

	for (unsigned i = 0; i < n; i++) {
		struct slot_shm *s = slots[i].shm;
		uint64_t head = s->ring_head;

		for (uint64_t j = head > RING ? head - RING : 0; j < head; j++)
			if (s->ring[j % RING].t_ns >= from && s->ring[j % RING].t_ns <= t_ns)
				json_array_append_new(arr, hist_json(&s->ring[j % RING], slots[i].key));
	}
	for (uint64_t j = g->head > RING ? g->head - RING : 0; j < g->head; j++)
		if (g->ring[j % RING].t_ns >= from && g->ring[j % RING].t_ns <= t_ns)
			json_array_append_new(arr, hist_json(&g->ring[j % RING], NULL));
	nv = json_array_size(arr);
	v = calloc(nv ? nv : 1, sizeof(*v));
	if (v) {
		for (k = 0; k < nv; k++)
			v[k] = json_array_get(arr, k);
		qsort(v, nv, sizeof(*v), cmp_t);
		for (k = 0; k < nv; k++)
			json_array_append(sorted, v[k]);
		free(v);
	}
	json_decref(arr);
	return sorted;
}

/*
 * One stress run of @plan into @out_dir.  Returns the exit status; @oc
 * gets the failure (kind MM_NONE when the run passed).
 */
static int stress_run(const struct fl_plan *plan, const struct stress_conf *sc, const char *out_dir,
		      int argc, char **argv, struct outcome *oc, bool *slot_keep)
{
	struct slot slots[MAX_SLOTS];
	static struct global g;
	struct fl_results res;
	struct ctl *ctl;
	unsigned n = 0, mask = sc->asked_mask;
	char err[1024], why[P_COUNT][256], path[PATH_MAX];
	bool tty = isatty(STDOUT_FILENO) && !sc->quiet;
	int exit_status = FL_EXIT_OK, inject_slot = -1, nodes = fl_numa_nodes();
	uint64_t t_fail = 0, next_progress;
	int fail_slot = -1, fail_kind = MM_NONE;
	struct kwatch kw;
	pid_t coordinator;
	json_t *sj, *wls, *perts, *failure = NULL;
	struct sigaction sa = { .sa_handler = on_sigint };
	char now[32];

	memset(oc, 0, sizeof(*oc));
	memset(why, 0, sizeof(why));
	for (unsigned i = 0; i < plan->nr_cases; i++) {
		if (slot_keep && !slot_keep[i])
			continue;
		if (n == MAX_SLOTS) {
			fprintf(stderr, "faultline: stress: more than %d cases in the mix\n", MAX_SLOTS);
			return FL_EXIT_USAGE;
		}
		memset(&slots[n], 0, sizeof(slots[n]));
		slots[n].def = &plan->cases[i];
		n++;
	}
	if (!n) {
		fprintf(stderr, "faultline: stress: no cases to run\n");
		return FL_EXIT_USAGE;
	}
	slot_keys(slots, n);
	if (sc->inject_at >= 0) {
		for (unsigned i = 0; i < n && inject_slot < 0; i++)
			if (!sc->inject_key[0] || !strcmp(slots[i].key, sc->inject_key))
				inject_slot = (int)i;
		if (inject_slot < 0) {
			fprintf(stderr, "faultline: stress: inject_workload '%s' is not a case of this run (keys look like populate/anon-4k#0)\n",
				sc->inject_key);
			return FL_EXIT_USAGE;
		}
	}
	if (fl_results_open(&res, out_dir, false, argc, argv, err, sizeof(err))) {
		fprintf(stderr, "faultline: %s\n", err);
		return FL_EXIT_USAGE;
	}

	/* Perturbers that cannot run here are named with the reason, not silently dropped. */
	memset(&g, 0, sizeof(g));
	pthread_mutex_init(&g.lock, NULL);
	if (nodes < 2)
		snprintf(why[P_NUMA], sizeof(why[0]), "needs 2 NUMA nodes with memory, found %d", nodes);
	if (access("/proc/sys/vm/compact_memory", W_OK))
		snprintf(why[P_COMPACT], sizeof(why[0]), "/proc/sys/vm/compact_memory not writable: %s (needs root and CONFIG_COMPACTION)",
			 strerror(errno));
	if (mask & (1u << P_MEMCG))
		memcg_setup(&g, why[P_MEMCG], sizeof(why[0]));
	{
		char thp[64] = "";
		FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");

		if (!f || !fgets(thp, sizeof(thp), f) || strstr(thp, "[never]")) {
			snprintf(why[P_COLLAPSE], sizeof(why[0]), "THP unavailable or transparent_hugepage/enabled=never");
			snprintf(why[P_THP_SPLIT], sizeof(why[0]), "THP unavailable or transparent_hugepage/enabled=never");
		}
		if (f)
			fclose(f);
	}
	for (int p = 0; p < P_COUNT; p++)
		if (why[p][0])
			mask &= ~(1u << p);

	ctl = mmap(NULL, sizeof(*ctl), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (ctl == MAP_FAILED) {
		fprintf(stderr, "faultline: stress: mmap: %s\n", strerror(errno));
		return FL_EXIT_INTERNAL;
	}
	ctl->stop = 0;
	{
		struct fl_plan sub = { .nr_cases = 0, .cases = NULL };

		/* run.json: the cases of this run only (replays of a shrunk mix differ). */
		sub.cases = calloc(n, sizeof(*sub.cases));
		for (unsigned i = 0; sub.cases && i < n; i++)
			sub.cases[sub.nr_cases++] = *slots[i].def;
		fl_results_begin(&res, sub.cases ? &sub : plan, false);
		free(sub.cases);
	}
	if (!sc->quiet)
		printf("faultline: stress seed=%" PRIu64 " duration=%gs, %u cases; results in %s\n",
		       sc->seed, sc->duration, n, res.dir);
	for (int p = 0; p < P_COUNT; p++)
		if (!sc->quiet && (sc->asked_mask & (1u << p)) && why[p][0])
			printf("faultline: stress: perturber %s skipped: %s\n", pert_names[p], why[p]);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	fflush(stdout);
	fflush(stderr);

	coordinator = getpid();
	kwatch_open(&kw);
	if (kw.why[0] && !sc->quiet)
		printf("faultline: stress: kernel log not watched: %s\n", kw.why);
	ctl->t0 = fl_now_ns();
	for (unsigned i = 0; i < n; i++) {
		struct slot *sl = &slots[i];
		unsigned nw;

		if (sl->def->core.threads)
			nw = (unsigned)sl->def->core.threads;
		else {
			struct fl_placement pl;

			nw = fl_placement_init(&pl, sl->def->core.cpus, -1, err, sizeof(err)) ? 1 : pl.nr_cores;
		}
		sl->nw = nw > MAX_WORKERS ? MAX_WORKERS : nw;
		sl->shm = mmap(NULL, sizeof(struct slot_shm), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
		if (sl->shm == MAP_FAILED) {
			sl->shm = NULL;
			fprintf(stderr, "faultline: stress: mmap: %s\n", strerror(errno));
			ctl->stop = 1;
			break;
		}
		sl->pid = fork();
		if (sl->pid == 0) {
			/* A coordinator killed with SIGKILL must not leave cases running. */
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			if (getppid() != coordinator)
				_exit(FL_EXIT_INTERNAL);	/* it died before prctl() */
			setpgid(0, 0);
			signal(SIGINT, SIG_IGN);
			signal(SIGTERM, SIG_DFL);
			slot_main(sl, i, ctl, sc, mask & ((1u << P_LOCAL) - 1), (int)i == inject_slot);
			_exit(0);
		}
		if (sl->pid < 0) {
			fprintf(stderr, "faultline: stress: fork: %s\n", strerror(errno));
			sl->shm->state = 2;
			sl->exited = true;
			ctl->stop = 1;
			break;
		}
		memcg_add(&g, sl->pid);
	}
	g.ctl = ctl;
	g.sc = sc;
	g.mask = mask & ~((1u << P_LOCAL) - 1);
	pthread_create(&g.tid, NULL, global_main, &g);

	next_progress = fl_now_ns() + (tty ? 1000000000ull : 10000000000ull);
	for (;;) {
		uint64_t t = fl_now_ns();
		double el = (double)(t - ctl->t0) / 1e9;
		unsigned live = 0;

		for (unsigned i = 0; i < n; i++) {
			struct slot *sl = &slots[i];
			int st;

			if (!sl->shm)
				continue;
			if (!sl->exited && waitpid(sl->pid, &st, WNOHANG) == sl->pid) {
				sl->exited = true;
				sl->wstatus = st;
				if (sl->shm->state != 2 && fail_slot < 0) {
					/* A case process that dies mid-run is a finding: a workload crashed under stress. */
					fail_slot = (int)i;
					fail_kind = MM_DIED;
					t_fail = t - ctl->t0;
				}
			}
			if (sl->shm->has_mm && fail_slot < 0) {
				fail_slot = (int)i;
				fail_kind = sl->shm->mm.kind;
				t_fail = sl->shm->mm.t_ns;
			}
			live += !sl->exited && sl->shm->state != 2;
		}
		if (kwatch_poll(&kw, t - ctl->t0) && fail_slot < 0 && fail_kind == MM_NONE) {
			fail_kind = MM_SPLAT;
			t_fail = kw.t_ns;
		}
		if (fail_slot >= 0 || fail_kind == MM_SPLAT || interrupted || el >= sc->duration || !live ||
		    ctl->stop)
			break;
		if (t >= next_progress && !sc->quiet) {
			progress(slots, n, &g, el, sc->duration, tty, false);
			next_progress += tty ? 1000000000ull : 10000000000ull;
		}
		sleep_ns(100000000ull);
	}
	ctl->stop = 1;
	pthread_join(g.tid, NULL);
	/* Let every case finish its batch and tear down; a stuck one is killed and named. */
	for (uint64_t deadline = fl_now_ns() + STOP_GRACE_S * 1000000000ull;;) {
		unsigned live = 0;

		for (unsigned i = 0; i < n; i++) {
			int st;

			if (slots[i].shm && !slots[i].exited) {
				if (waitpid(slots[i].pid, &st, WNOHANG) == slots[i].pid) {
					slots[i].exited = true;
					slots[i].wstatus = st;
				} else {
					live++;
				}
			}
		}
		kwatch_poll(&kw, fl_now_ns() - ctl->t0);	/* the rest of the splat */
		if (!live)
			break;
		if (fl_now_ns() >= deadline) {
			for (unsigned i = 0; i < n; i++)
				if (slots[i].shm && !slots[i].exited) {
					kill(-slots[i].pid, SIGKILL);
					kill(slots[i].pid, SIGKILL);
					slots[i].killed = true;
					if (fail_slot < 0 && fail_kind != MM_SPLAT) {
						fail_slot = (int)i;
						fail_kind = MM_HUNG;
						t_fail = fl_now_ns() - ctl->t0;
					}
				}
			break;
		}
		sleep_ns(50000000ull);
	}
	if (!sc->quiet)
		progress(slots, n, &g, (double)(fl_now_ns() - ctl->t0) / 1e9, sc->duration, tty, true);

	/* One record per case in results.jsonl; then stress.json. */
	wls = json_array();
	for (unsigned i = 0; i < n; i++) {
		struct slot *sl = &slots[i];
		struct slot_shm *s = sl->shm;
		const char *status = "pass";
		char reason[700] = "";
		json_t *rec, *m, *pc;
		double el = (double)(fl_now_ns() - ctl->t0) / 1e9;
		uint64_t ops;

		if (!s)
			continue;
		ops = slot_ops(sl);
		if ((int)i == fail_slot) {
			status = "fail";
			if (fail_kind == MM_DIED)
				snprintf(reason, sizeof(reason), "case process %s under stress", WIFSIGNALED(sl->wstatus) ?
					 strsignal(WTERMSIG(sl->wstatus)) : "exited before its end");
			else if (fail_kind == MM_HUNG)
				snprintf(reason, sizeof(reason), "hung: did not stop within %ds and was killed", STOP_GRACE_S);
			else
				snprintf(reason, sizeof(reason), "%s at %+.3fs: %s", mm_names[fail_kind],
					 (double)s->mm.t_ns / 1e9, s->mm.where);
		} else if (fail_kind == MM_SPLAT) {
			/* Not attributable to one case: every case that ran records it. */
			status = "fail";
			snprintf(reason, sizeof(reason), "kernel splat at %+.3fs during the stress run: %.400s",
				 (double)kw.t_ns / 1e9, kw.headline);
		} else if (s->status != FL_PASS) {
			status = fl_status_name((enum fl_status)s->status);
			snprintf(reason, sizeof(reason), "%s", s->reason);
		} else if (s->state != 2 && sl->killed) {
			status = "error";
			snprintf(reason, sizeof(reason), "killed: did not stop within %ds", STOP_GRACE_S);
		}
		if (!strcmp(status, "fail") || !strcmp(status, "error"))
			exit_status = FL_EXIT_FAIL;
		rec = fl_record_new(sl->def, status, reason, sl->nw, ctl->t0);
		m = json_object();
		json_object_set_new(m, "ops", metric1(sl->def->wl->op_unit, "info", (double)ops));
		json_object_set_new(m, "ops_rate", metric1(sl->def->wl->op_unit, "info", el > 0 ? (double)ops / el : 0));
		json_object_set_new(m, "checks", metric1("check", "info", (double)s->checks));
		json_object_set_new(m, "verifies", metric1("sweep", "info", (double)s->verifies));
		json_object_set_new(m, "perturbations", metric1("event", "info", (double)s->perts));
		json_object_set_new(rec, "metrics", m);
		json_object_set_new(rec, "latency", json_object());
		json_object_set_new(rec, "mode", json_string("stress"));
		json_object_set_new(rec, "stress_key", json_string(sl->key));
		if (fail_kind == MM_SPLAT)
			json_object_set(rec, "kernel_log", kw.lines);
		fl_results_append(&res, rec, i);
		pc = json_object();
		for (int p = 0; p <= P_INJECT; p++)
			if (s->pcount[p])
				json_object_set_new(pc, pert_names[p], pert_counts(s->pcount[p], s->perr[p], s->pmiss[p],
										   s->plast[p]));
		json_array_append_new(wls, json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:o, s:i, s:I, s:s}",
			"case", sl->def->label, "key", sl->key, "status", status, "reason", reason,
			"ops", (json_int_t)ops, "checks", (json_int_t)s->checks, "verifies", (json_int_t)s->verifies,
			"perturbations", pc, "workers", (int)sl->nw,
			"degraded_checks", (json_int_t)s->degraded, "degraded_reason", s->degraded_reason));
		json_decref(rec);
	}
	perts = json_object();
	for (int p = 0; p < P_COUNT; p++) {
		uint64_t cnt = g.pcount[p], errs = g.perr[p], miss = 0;
		int last = g.plast[p];
		const char *skip = why[p][0] ? why[p] : NULL;
		json_t *o;

		for (unsigned i = 0; i < n; i++) {
			if (!slots[i].shm)
				continue;
			cnt += slots[i].shm->pcount[p];
			errs += slots[i].shm->perr[p];
			miss += slots[i].shm->pmiss[p];
			if (slots[i].shm->plast[p])
				last = slots[i].shm->plast[p];
			if (!skip && slots[i].shm->unsupported[p][0])
				skip = slots[i].shm->unsupported[p];
		}
		o = pert_counts(cnt, errs, miss, last);
		json_object_set_new(o, "asked", json_boolean(sc->asked_mask & (1u << p)));
		json_object_set_new(o, "help", json_string(pert_help[p]));
		if (skip)
			json_object_set_new(o, "skip", json_string(skip));
		json_object_set_new(perts, pert_names[p], o);
	}
	if (fail_slot >= 0) {
		struct slot *sl = &slots[fail_slot];
		struct mismatch *mm = &sl->shm->mm;

		exit_status = FL_EXIT_FAIL;
		failure = json_pack("{s:s, s:s, s:s, s:o}", "kind", mm_names[fail_kind], "workload", sl->key,
				    "case", sl->def->label, "t_s", fl_json_real((double)t_fail / 1e9));
		if (sl->shm->has_mm) {
			char a[32], e[32], gt[32];

			snprintf(a, sizeof(a), "0x%" PRIx64, mm->addr);
			snprintf(e, sizeof(e), "0x%016" PRIx64, mm->expected);
			snprintf(gt, sizeof(gt), "0x%016" PRIx64, mm->got);
			json_object_set_new(failure, "where", json_string(mm->where));
			if (mm->region >= 0) {
				json_object_set_new(failure, "region", json_integer(mm->region));
				json_object_set_new(failure, "address", json_string(a));
				json_object_set_new(failure, "offset", json_integer((json_int_t)mm->off));
				json_object_set_new(failure, "region_len", json_integer((json_int_t)mm->len));
				json_object_set_new(failure, "expected", json_string(e));
				json_object_set_new(failure, "got", json_string(gt));
				json_object_set_new(failure, "bad_words", json_integer((json_int_t)mm->bad_words));
			}
		}
		json_object_set_new(failure, "history", history_json(slots, n, &g, t_fail, sc->history));
		oc->kind = fail_kind;
		snprintf(oc->key, sizeof(oc->key), "%s", sl->key);
		oc->t_s = (double)t_fail / 1e9;
	} else if (fail_kind == MM_SPLAT) {
		exit_status = FL_EXIT_FAIL;
		failure = json_pack("{s:s, s:n, s:o, s:s, s:O, s:o}", "kind", mm_names[MM_SPLAT], "workload",
				    "t_s", fl_json_real((double)t_fail / 1e9), "where", kw.headline,
				    "kernel_log", kw.lines, "history", history_json(slots, n, &g, t_fail, sc->history));
		oc->kind = MM_SPLAT;
		snprintf(oc->key, sizeof(oc->key), "kernel");
		oc->t_s = (double)t_fail / 1e9;
	}
	fl_iso_time(now, sizeof(now));
	sj = json_pack("{s:s, s:s, s:I, s:f, s:f, s:f, s:o, s:o, s:s, s:s}",
		       "schema", "faultline.stress/1", "run_id", res.run_id, "seed", (json_int_t)sc->seed,
		       "duration_s", sc->duration, "elapsed_s", (double)(fl_now_ns() - ctl->t0) / 1e9,
		       "history_s", sc->history, "workloads", wls, "perturbers", perts,
		       "result", fail_slot >= 0 || fail_kind == MM_SPLAT ? "fail" : interrupted ? "interrupted" :
				 exit_status ? "error" : "pass",
		       "job", "stress.job");
	json_object_set_new(sj, "failure", failure ? failure : json_null());
	json_object_set_new(sj, "kernel_log_watch", json_string(kw.why[0] ? kw.why : "/dev/kmsg"));
	if (sc->inject_at >= 0)
		json_object_set_new(sj, "test_hooks", json_pack("{s:f, s:s}", "inject_corruption_s", sc->inject_at,
								 "inject_workload", slots[inject_slot].key));
	json_object_set_new(sj, "end", json_string(now));
	{
		struct stress_conf rc = *sc;

		if (inject_slot >= 0)
			snprintf(rc.inject_key, sizeof(rc.inject_key), "%s", slots[inject_slot].key);
		snprintf(path, sizeof(path), "%s/stress.job", res.dir);
		if (write_job(path, &rc, slots, n, "faultline stress: the job that replays this run"))
			fprintf(stderr, "faultline: cannot write %s: %s\n", path, strerror(errno));
	}
	snprintf(path, sizeof(path), "%s/stress.json", res.dir);
	if (fl_write_json_atomic(path, sj)) {
		fprintf(stderr, "faultline: cannot write %s: %s\n", path, strerror(errno));
		exit_status = FL_EXIT_INTERNAL;
	}
	json_decref(sj);
	if (interrupted && fail_slot < 0 && fail_kind != MM_SPLAT)
		exit_status = FL_EXIT_INTERRUPTED;
	kwatch_close(&kw);
	if (g.cg_dir[0] && rmdir(g.cg_dir))
		fprintf(stderr, "faultline: stress: cannot remove cgroup %s: %s\n", g.cg_dir, strerror(errno));
	fl_results_finish(&res, !interrupted, exit_status);
	if (!sc->quiet) {
		if (fail_slot >= 0 || fail_kind == MM_SPLAT)
			printf("faultline: stress FAILED: %s in %s at %.3fs (seed %" PRIu64 "); details in %s/stress.json, "
			       "replay: faultline stress --replay %s\n", mm_names[fail_kind],
			       fail_slot >= 0 ? slots[fail_slot].key : "the kernel", (double)t_fail / 1e9, sc->seed,
			       res.dir, res.dir);
		else
			printf("faultline: stress %s (seed %" PRIu64 "); results in %s\n",
			       exit_status == FL_EXIT_OK ? "passed" : exit_status == FL_EXIT_INTERRUPTED ?
			       "interrupted" : "ended with errors", sc->seed, res.dir);
	}
	for (unsigned i = 0; i < n; i++)
		if (slots[i].shm)
			munmap(slots[i].shm, sizeof(struct slot_shm));
	munmap(ctl, sizeof(*ctl));
	return exit_status;
}

/* ---- replay and shrinking ------------------------------------------------------ */

static int load_job(const char *path, struct fl_job *job, struct stress_conf *sc, bool *seed_set,
		    const char *backing, char **sets, unsigned nsets, struct fl_plan *plan)
{
	char err[1024];

	if (fl_job_load(path, job, err, sizeof(err)) ||
	    take_stress_section(job, sc, seed_set, err, sizeof(err))) {
		fprintf(stderr, "faultline: %s\n", err);
		return -1;
	}
	if (!job->nr_specs) {
		fprintf(stderr, "faultline: %s: no workload sections besides [stress]\n", path);
		return -1;
	}
	for (unsigned i = 0; i < nsets; i++)
		if (fl_job_set(job, sets[i], err, sizeof(err))) {
			fprintf(stderr, "faultline: %s\n", err);
			return -1;
		}
	if (fl_job_expand(job, backing, plan, err, sizeof(err))) {
		fprintf(stderr, "faultline: %s\n", err);
		return -1;
	}
	return 0;
}

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

static int replay(const char *dir, bool shrink, int argc, char **argv, bool quiet)
{
	static struct fl_job job;
	struct stress_conf sc = { .history = 10, .inject_at = -1, .asked_mask = (1u << P_COUNT) - 1, .quiet = quiet };
	struct fl_plan plan;
	struct outcome want = { 0 }, got;
	char path[PATH_MAX], out[PATH_MAX];
	json_t *sj, *f;
	json_error_t jerr;
	bool seed_set = false, keep[MAX_SLOTS * 16];
	int ret;
	const char *kind;

	snprintf(path, sizeof(path), "%s/stress.json", dir);
	sj = json_load_file(path, 0, &jerr);
	if (!sj) {
		fprintf(stderr, "faultline: --replay: cannot read %s: %s\n", path, jerr.text);
		return FL_EXIT_USAGE;
	}
	f = json_object_get(sj, "failure");
	kind = json_string_value(json_object_get(f, "kind"));
	if (kind) {
		for (int k = 0; k <= MM_SPLAT; k++)
			if (!strcmp(kind, mm_names[k]))
				want.kind = k;
		snprintf(want.key, sizeof(want.key), "%s", json_string_value(json_object_get(f, "workload")) ?:
			 want.kind == MM_SPLAT ? "kernel" : "");
		want.t_s = json_number_value(json_object_get(f, "t_s"));
	}
	if (json_object_get(sj, "test_hooks") && !test_hooks()) {
		json_decref(sj);
		fprintf(stderr, "faultline: --replay: %s used the test-corrupt hook: set FAULTLINE_TEST_HOOKS=1 to replay it\n", dir);
		return FL_EXIT_USAGE;
	}
	json_decref(sj);
	snprintf(path, sizeof(path), "%s/stress.job", dir);
	if (load_job(path, &job, &sc, &seed_set, NULL, NULL, 0, &plan))
		return FL_EXIT_USAGE;
	/* A recorded failure is replayed up to a little after the time it happened. */
	if (want.kind != MM_NONE && want.t_s * 1.5 + 5 < sc.duration)
		sc.duration = want.t_s * 1.5 + 5;
	if (free_dir(out, sizeof(out), dir, "replay")) {
		fprintf(stderr, "faultline: --replay: too many replays in %s\n", dir);
		return FL_EXIT_USAGE;
	}
	printf("faultline: replaying %s (seed %" PRIu64 ", %gs) into %s\n", dir, sc.seed, sc.duration, out);
	ret = stress_run(&plan, &sc, out, argc, argv, &got, NULL);
	if (want.kind == MM_NONE)
		printf("faultline: replay: the recorded run passed; this one %s\n", ret ? "did not" : "passed too");
	else if (same_failure(&want, &got))
		printf("faultline: replay: reproduced: %s in %s at %.3fs (recorded at %.3fs)\n", mm_names[got.kind],
		       got.key, got.t_s, want.t_s);
	else if (got.kind != MM_NONE)
		printf("faultline: replay: failed differently: %s in %s (recorded: %s in %s)\n", mm_names[got.kind],
		       got.key, mm_names[want.kind], want.key);
	else
		printf("faultline: replay: not reproduced in %gs (recorded: %s in %s at %.3fs)\n", sc.duration,
		       mm_names[want.kind], want.key, want.t_s);
	if (!shrink || !same_failure(&want, &got)) {
		if (shrink)
			printf("faultline: shrink: nothing to shrink: the failure did not reproduce\n");
		fl_plan_free(&plan);
		return ret;
	}

	/* Greedy: drop each case, then each perturber, while the same failure still happens. */
	{
		struct slot tmp[MAX_SLOTS];
		unsigned trials = 0, n = 0, kept = 0;
		struct stress_conf best = sc;

		best.quiet = true;
		for (unsigned i = 0; i < plan.nr_cases; i++)
			keep[i] = true;
		for (unsigned i = 0; i < plan.nr_cases && i < MAX_SLOTS; i++)
			tmp[i].def = &plan.cases[i];
		slot_keys(tmp, plan.nr_cases < MAX_SLOTS ? plan.nr_cases : MAX_SLOTS);
		for (unsigned i = 0; i < plan.nr_cases; i++) {
			struct outcome o;

			/* The failing case stays: the same failure must happen in it. */
			if (i < MAX_SLOTS && !strcmp(tmp[i].key, want.key))
				continue;
			keep[i] = false;
			kept = 0;
			for (unsigned j = 0; j < plan.nr_cases; j++)
				kept += keep[j];
			if (!kept) {
				keep[i] = true;
				continue;
			}
			free_dir(out, sizeof(out), dir, "shrink");
			stress_run(&plan, &best, out, argc, argv, &o, keep);
			trials++;
			printf("faultline: shrink: without %s: %s\n", plan.cases[i].label,
			       same_failure(&want, &o) ? "still fails, dropped" : "passes, kept");
			if (!same_failure(&want, &o))
				keep[i] = true;
		}
		for (int p = 0; p < P_COUNT; p++) {
			struct outcome o;

			if (!(best.asked_mask & (1u << p)))
				continue;
			best.asked_mask &= ~(1u << p);
			free_dir(out, sizeof(out), dir, "shrink");
			stress_run(&plan, &best, out, argc, argv, &o, keep);
			trials++;
			printf("faultline: shrink: without perturber %s: %s\n", pert_names[p],
			       same_failure(&want, &o) ? "still fails, dropped" : "passes, kept");
			if (!same_failure(&want, &o))
				best.asked_mask |= 1u << p;
		}
		for (unsigned i = 0; i < plan.nr_cases; i++)
			if (keep[i] && n < MAX_SLOTS)
				tmp[n++].def = &plan.cases[i];
		slot_keys(tmp, n);
		snprintf(path, sizeof(path), "%s/reproducer.job", dir);
		if (write_job(path, &best, tmp, n, "faultline stress: minimal reproducer (shrunk)")) {
			fprintf(stderr, "faultline: cannot write %s: %s\n", path, strerror(errno));
			fl_plan_free(&plan);
			return FL_EXIT_INTERNAL;
		}
		printf("faultline: shrink: %u trials; %u of %u cases kept; reproducer: %s\n", trials, n,
		       plan.nr_cases, path);
	}
	fl_plan_free(&plan);
	return FL_EXIT_FAIL;
}

/* ---- command line ------------------------------------------------------------- */

static const char stress_usage[] =
"usage: faultline stress [--mix W1,W2,... | --suite FILE.job] [options]\n"
"       faultline stress --replay DIR [--shrink]\n"
"\n"
"  -m, --mix LIST         workloads to run side by side (each on its default backings)\n"
"  -S, --suite FILE       a job file: its cases run side by side; an optional [stress]\n"
"                         section sets seed=, duration=, history=, perturbers=\n"
"  -d, --duration T       how long: 90, 90s, 10m, 1h (default 60s)\n"
"      --seed N           the schedule's seed (default: from the clock; printed)\n"
"  -t, --threads N        workers per case (default 1; 0 = one per core)\n"
"  -P, --perturbers LIST  perturbers to use (default all): remap, mprotect, dontneed,\n"
"                         pageout, collapse, thp-split, numa-migrate, fork-storm,\n"
"                         compact, memcg-pressure\n"
"  -b, --backing B[,B]    backings for the mixed workloads\n"
"  -s, --set KEY=VALUE    a workload or core option (repeatable)\n"
"  -o, --out DIR          results folder (default results/<run-id>)\n"
"  -q, --quiet            no progress lines\n"
"      --replay DIR       re-run a recorded stress run (its stress.job) into DIR/replay-N\n"
"      --shrink           with --replay: drop cases and perturbers while the failure\n"
"                         persists; writes DIR/reproducer.job\n"
"      --inject-corruption T, --inject-workload KEY\n"
"                         TEST HOOK (needs FAULTLINE_TEST_HOOKS=1): flip a sentinel byte at T\n"
"\n"
"Exit status: 0 no mismatch, 1 a mismatch, failure or error (details in stress.json),\n"
"2 usage or input error, 130 interrupted.\n";

int fl_stress_main(int argc, char **argv, int full_argc, char **full_argv)
{
	enum { O_SEED = 1000, O_REPLAY, O_SHRINK, O_INJECT, O_INJECT_WL };
	static const struct option lopts[] = {
		{ "mix", required_argument, NULL, 'm' },
		{ "suite", required_argument, NULL, 'S' },
		{ "duration", required_argument, NULL, 'd' },
		{ "seed", required_argument, NULL, O_SEED },
		{ "threads", required_argument, NULL, 't' },
		{ "perturbers", required_argument, NULL, 'P' },
		{ "backing", required_argument, NULL, 'b' },
		{ "set", required_argument, NULL, 's' },
		{ "out", required_argument, NULL, 'o' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "replay", required_argument, NULL, O_REPLAY },
		{ "shrink", no_argument, NULL, O_SHRINK },
		{ "inject-corruption", required_argument, NULL, O_INJECT },
		{ "inject-workload", required_argument, NULL, O_INJECT_WL },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct stress_conf sc = { .duration = 60, .history = 10, .inject_at = -1,
				  .asked_mask = (1u << P_COUNT) - 1 };
	static struct fl_job job;
	struct fl_plan plan;
	struct outcome oc;
	const char *mix = NULL, *suite = NULL, *backing = NULL, *out = NULL, *replay_dir = NULL;
	const char *duration = NULL, *perturbers = NULL, *inject = NULL, *inject_wl = NULL, *seed = NULL;
	char *sets[66], threads_kv[64], err[1024];
	unsigned nsets = 0;
	bool shrink = false, seed_set = false;
	int opt, ret;

	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":m:S:d:t:P:b:s:o:qh", lopts, NULL)) != -1) {
		switch (opt) {
		case 'm': mix = optarg; break;
		case 'S': suite = optarg; break;
		case 'd': duration = optarg; break;
		case O_SEED: seed = optarg; break;
		case 't':
			snprintf(threads_kv, sizeof(threads_kv), "threads=%s", optarg);
			sets[nsets++] = threads_kv;
			break;
		case 'P': perturbers = optarg; break;
		case 'b': backing = optarg; break;
		case 's':
			if (nsets >= 64) {
				fprintf(stderr, "faultline: too many --set options (max 64)\n");
				return FL_EXIT_USAGE;
			}
			sets[nsets++] = optarg;
			break;
		case 'o': out = optarg; break;
		case 'q': sc.quiet = true; break;
		case O_REPLAY: replay_dir = optarg; break;
		case O_SHRINK: shrink = true; break;
		case O_INJECT: inject = optarg; break;
		case O_INJECT_WL: inject_wl = optarg; break;
		case 'h': fputs(stress_usage, stdout); return 0;
		case ':':
			fprintf(stderr, "faultline: option '%s' needs a value\n", argv[optind - 1]);
			return FL_EXIT_USAGE;
		default:
			fprintf(stderr, "faultline: unknown option '%s' (see 'faultline stress --help')\n", argv[optind - 1]);
			return FL_EXIT_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "faultline: stress: unexpected argument '%s' (use --mix or --suite)\n", argv[optind]);
		return FL_EXIT_USAGE;
	}
	if ((inject || inject_wl) && !test_hooks()) {
		fprintf(stderr, "faultline: --inject-corruption is a test hook: it needs FAULTLINE_TEST_HOOKS=1 in the environment\n");
		return FL_EXIT_USAGE;
	}
	if (replay_dir) {
		if (mix || suite || out || duration || seed || perturbers || inject || nsets || backing) {
			fprintf(stderr, "faultline: --replay DIR takes no other run options (the run is DIR/stress.job)\n");
			return FL_EXIT_USAGE;
		}
		return replay(replay_dir, shrink, full_argc, full_argv, sc.quiet);
	}
	if (shrink) {
		fprintf(stderr, "faultline: --shrink needs --replay DIR\n");
		return FL_EXIT_USAGE;
	}
	if (!!mix == !!suite) {
		fprintf(stderr, "faultline: stress: give one of --mix W1,W2,... or --suite FILE\n");
		return FL_EXIT_USAGE;
	}

	memset(&job, 0, sizeof(job));
	if (suite) {
		if (fl_job_load(suite, &job, err, sizeof(err)) ||
		    take_stress_section(&job, &sc, &seed_set, err, sizeof(err))) {
			fprintf(stderr, "faultline: %s\n", err);
			return FL_EXIT_USAGE;
		}
		if (!job.nr_specs) {
			fprintf(stderr, "faultline: %s: no workload sections besides [stress]\n", suite);
			return FL_EXIT_USAGE;
		}
	} else {
		char buf[1024], *save = NULL;

		snprintf(job.source, sizeof(job.source), "--mix");
		snprintf(buf, sizeof(buf), "%s", mix);
		for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
			if (job.nr_specs == MAX_SLOTS) {
				fprintf(stderr, "faultline: --mix: more than %d workloads\n", MAX_SLOTS);
				return FL_EXIT_USAGE;
			}
			if (fl_job_add_workload(&job, t, "--mix", err, sizeof(err))) {
				fprintf(stderr, "faultline: %s\n", err);
				return FL_EXIT_USAGE;
			}
		}
		if (!job.nr_specs) {
			fprintf(stderr, "faultline: --mix: no workloads\n");
			return FL_EXIT_USAGE;
		}
	}
	if (duration && parse_duration(duration, &sc.duration)) {
		fprintf(stderr, "faultline: --duration '%s': expected seconds or 30s, 10m, 1h (up to 7 days)\n", duration);
		return FL_EXIT_USAGE;
	}
	if (seed) {
		char *end;

		errno = 0;
		sc.seed = strtoull(seed, &end, 0);
		if (errno || *end || end == seed || *seed == '-') {
			fprintf(stderr, "faultline: --seed '%s': expected an unsigned integer\n", seed);
			return FL_EXIT_USAGE;
		}
		seed_set = true;
	}
	if (!seed_set)
		sc.seed = mix64(fl_now_ns() ^ (uint64_t)getpid()) % 1000000000ull;
	if (perturbers && parse_perturbers(perturbers, &sc.asked_mask, err, sizeof(err))) {
		fprintf(stderr, "faultline: --perturbers: %s\n", err);
		return FL_EXIT_USAGE;
	}
	if (inject && parse_duration(inject, &sc.inject_at)) {
		fprintf(stderr, "faultline: --inject-corruption '%s': expected seconds into the run\n", inject);
		return FL_EXIT_USAGE;
	}
	if (inject_wl)
		snprintf(sc.inject_key, sizeof(sc.inject_key), "%s", inject_wl);
	if (fl_job_finish(&job, sets, nsets, backing, &plan, err, sizeof(err))) {
		fprintf(stderr, "faultline: %s\n", err);
		return FL_EXIT_USAGE;
	}
	ret = stress_run(&plan, &sc, out, full_argc, full_argv, &oc, NULL);
	fl_plan_free(&plan);
	return ret;
}
