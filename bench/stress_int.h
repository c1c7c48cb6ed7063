/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The parts of `faultline stress` and what they share:
 *
 *   stress.c           the orchestration: case processes and the coordinator
 *   stress_sentinel.c  the seeded streams, sentinel regions and their verifier
 *   stress_perturb.c   the perturbers, per case process and system-wide
 *   stress_kwatch.c    the kernel log watch (/dev/kmsg)
 *   stress_results.c   progress lines, records, stress.json
 *   stress_job.c       the [stress] settings, stress.job, replay and shrink
 */
#ifndef FL_STRESS_INT_H
#define FL_STRESS_INT_H

#include <limits.h>
#include <pthread.h>
#include <regex.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

#include "results.h"
#include "stress.h"

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

#define P_ALL		((1u << P_COUNT) - 1)
#define P_LOCAL_MASK	((1u << P_LOCAL) - 1)

extern const char *const stress_pert_names[P_NAMES];
extern const char *const stress_pert_help[P_COUNT];

/*
 * A perturbation that ran but could not aim where it meant to (remap with
 * no free gap beside any workload VMA maps the sentinel elsewhere): counted
 * as "elsewhere", not among the errors, which are errnos.
 */
#define PERT_ELSEWHERE (-1)

enum mm_kind { MM_NONE, MM_SENTINEL, MM_CHECK, MM_FORK_CHILD, MM_DIED, MM_HUNG, MM_SPLAT };
extern const char *const stress_mm_names[MM_SPLAT + 1];

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

/* The coordinator's word to every process of the run. */
struct ctl {
	volatile int stop;
	uint64_t t0;
};

/* One mixed case, as the coordinator sees it. */
struct slot {
	const struct fl_case_def *def;
	char key[96];			/* "populate/anon-4k#0": PRNG stream and inject target */
	struct slot_shm *shm;
	pid_t pid;
	bool exited, killed;
	int wstatus;
	unsigned nw;
};

/* How a run ended, for replay and shrink to compare. */
struct outcome {
	int kind;
	char key[96];
	double t_s;
};

/* ---- stress_sentinel.c ---- */

struct region {
	char *addr;
	size_t len;
	uint64_t gen;
	bool thp;
};

/* The perturber's state in a case process. */
struct pctx {
	struct slot_shm *shm;
	struct ctl *ctl;
	struct region reg[NREG];
	uint64_t gen_rng;
	unsigned mask;
	int nodes;
	char maps[1 << 17];
};

uint64_t stress_mix64(uint64_t z);
uint64_t stress_rng_next(uint64_t *s);
/* The seed of the stream named @key (a case's key, "system-wide", "test-corrupt"). */
uint64_t stress_stream_seed(uint64_t seed, const char *key);
void stress_sleep_ns(uint64_t ns);
uint64_t stress_rel_ns(const struct ctl *ctl);
void stress_fill(struct region *r, size_t off, size_t len);
/* First writer wins; no malloc, no locks: safe in a fork child. */
void stress_report_mismatch(struct slot_shm *s, const struct ctl *ctl, const struct mismatch *m);
/*
 * Verify [off, off+len) of region @ri: the pattern, or zero.  @hole (page
 * offset or -1) is skipped.  Returns the number of bad words (the first is
 * reported as a mismatch of @kind).
 */
uint64_t stress_verify(struct pctx *px, int ri, size_t off, size_t len, bool zero, long hole,
		       int kind, const char *what);
uint64_t stress_verify_all(struct pctx *px, const char *what);
/* Map region @ri (at @placed when the caller mapped it) and fill it; -errno. */
int stress_region_map(struct pctx *px, int ri, void *placed);
void stress_region_unmap(struct region *r);
/* Map @len bytes right beside a workload's anonymous VMA; NULL if none has a gap. */
void *stress_neighbour(struct pctx *px, uint64_t arg, size_t len);

/* ---- stress_perturb.c ---- */

/* The system-wide perturbers' thread and their record. */
struct global {
	struct ctl *ctl;
	const struct fl_stress_conf *sc;
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

/* madvise advice this kernel lacks: those perturbers are dropped and named. */
void stress_probe_advice(struct pctx *px);
/* The case process's schedule, with sweeps, until the run stops. */
void stress_perturber_loop(struct pctx *px, const struct fl_stress_conf *sc, const char *key,
			   bool inject);
/* Why each asked perturber cannot run on this system ("" when it can). */
void stress_pert_unavailable(struct global *g, unsigned asked, char why[P_COUNT][256]);
void stress_memcg_add(struct global *g, pid_t pid);
void stress_memcg_remove(struct global *g);
void *stress_global_main(void *arg);

/* ---- stress_kwatch.c ---- */

#define KLOG_LINES 200

struct kwatch {
	int fd;
	bool test_marker;
	unsigned nr_re;
	regex_t re[32];
	bool seen;
	uint64_t t_ns;
	char headline[256];
	json_t *lines;
	char why[160];		/* why the kernel log is not watched */
};

bool stress_test_hooks(void);
void stress_kwatch_open(struct kwatch *kw);
/* Read what the kernel logged since the last call; true once a splat was seen. */
bool stress_kwatch_poll(struct kwatch *kw, uint64_t t_rel);
void stress_kwatch_close(struct kwatch *kw);

/* ---- stress.c and stress_results.c: one run ---- */

struct stress_run {
	const struct fl_stress_conf *sc;
	struct slot slots[FL_STRESS_MAX_CASES];
	unsigned n;
	unsigned mask;			/* the perturbers that run */
	char why[P_COUNT][256];		/* why an asked perturber does not */
	int inject_slot;
	struct ctl *ctl;
	struct global *g;
	struct kwatch kw;
	struct fl_results res;
	int fail_slot, fail_kind;
	uint64_t t_fail;
	bool tty;
};

/* One run; @keep (NULL = all) picks the plan's cases; @oc gets its failure. */
int stress_run_once(const struct fl_plan *plan, const struct fl_stress_conf *sc, const char *out_dir,
		    int argc, char **argv, struct outcome *oc, const bool *keep);
uint64_t stress_slot_ops(const struct slot *sl);
void stress_progress(const struct stress_run *r, bool final);
/* results.jsonl records, stress.json and stress.job; the exit status. */
int stress_write_results(struct stress_run *r, struct outcome *oc, bool interrupted);

/* ---- stress_job.c ---- */

/* Each slot's key: workload/backing#ordinal. */
void stress_slot_keys(struct slot *slots, unsigned n);
/* The job file that replays a run: [stress] and one section per case, every option explicit. */
int stress_write_job(const char *path, const struct fl_stress_conf *sc, const struct slot *slots,
		     unsigned n, const char *comment);

#endif
