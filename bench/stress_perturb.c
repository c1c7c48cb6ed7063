// SPDX-License-Identifier: GPL-2.0
/*
 * faultline stress: the perturbers.
 *
 * Per case process, on the sentinel regions beside the workloads' VMAs:
 * munmap/mmap beside a workload VMA (vma_merge, __split_vma), mprotect
 * (change_protection, VMA split), MADV_DONTNEED (zap_page_range_single +
 * TLB flush), MADV_PAGEOUT (reclaim_pages), MADV_COLLAPSE (6.1+,
 * collapse_pte_mapped_thp), a 4 KiB munmap inside a THP (__split_huge_pmd),
 * mbind MPOL_MF_MOVE and migrate_pages (the workloads' memory too), fork
 * (copy_page_range, COW).  System-wide, from the coordinator:
 * /proc/sys/vm/compact_memory (compact_nodes) and memory cgroup pressure
 * (memory.high / memory.max reclaim).  Disabled perturbers consume their
 * draws without acting, so dropping one (shrinking) leaves every other
 * event at the same time with the same arguments.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <numa.h>
#include <numaif.h>

#include "mmflags.h"
#include "stress_int.h"

#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif

const char *const stress_pert_names[P_NAMES] = {
	"remap", "mprotect", "dontneed", "pageout", "collapse", "thp-split", "numa-migrate",
	"fork-storm", "compact", "memcg-pressure", "test-corrupt",
};

const char *const stress_pert_help[P_COUNT] = {
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

static void ring_add(struct pctx *px, int pert, int ri, int err, uint64_t addr, uint64_t off, uint64_t len)
{
	struct slot_shm *s = px->shm;
	struct hist_ev *e = &s->ring[s->ring_head % RING];

	e->t_ns = stress_rel_ns(px->ctl);
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
void stress_probe_advice(struct pctx *px)
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
	if (stress_verify_all(px, "fork child: before its writes"))
		_exit(3);
	subrange(r, arg >> 8, &off, &len);
	stress_fill(r, off, len);		/* same values: breaks COW, must not change them */
	if (stress_verify(px, ri, 0, r->len, false, -1, MM_FORK_CHILD, "fork child: after its COW writes"))
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
			fork_child(px, stress_mix64(arg + i));
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
			stress_report_mismatch(px->shm, px->ctl, &m);
		}
	}
	stress_verify_all(px, "parent after fork-storm");
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

	snprintf(what, sizeof(what), "after %s", stress_pert_names[p]);
	switch (p) {
	case P_REMAP: {
		void *hint;

		stress_region_unmap(r);
		hint = stress_neighbour(px, arg >> 8, REG_LEN);
		err = -stress_region_map(px, ri, hint);
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
		stress_verify(px, ri, off, len, false, -1, MM_SENTINEL, "read-only after mprotect(PROT_READ)");
		stress_sleep_ns((arg >> 40) % 2000000);
		if (mprotect(r->addr + off, len, PROT_READ | PROT_WRITE)) {
			/* Cannot write the region any more: replace it. */
			err = errno;
			stress_region_unmap(r);
			stress_region_map(px, ri, NULL);
			break;
		}
		stress_fill(r, off, len);
		break;
	case P_DONTNEED:
		subrange(r, arg >> 8, &off, &len);
		if (madvise(r->addr + off, len, MADV_DONTNEED)) {
			err = errno;
			break;
		}
		/* Private anonymous memory reads back zero after the zap: stale data is a kernel bug. */
		stress_verify(px, ri, off, len, true, -1, MM_SENTINEL, "not zero after MADV_DONTNEED");
		stress_fill(r, off, len);
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
		stress_verify(px, ri, 0, r->len, false, (long)page, MM_SENTINEL, "beside a 4 KiB munmap inside a THP");
		if (mmap(r->addr + page, PAGE, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0) != r->addr + page) {
			/* Someone mapped into the hole: give the region up and make a new one. */
			err = EEXIST;
			munmap(r->addr, page);
			munmap(r->addr + page + PAGE, r->len - page - PAGE);
			r->addr = NULL;
			stress_region_map(px, ri, NULL);
			break;
		}
		/* Same flags as its neighbours again: the three VMAs merge back into one. */
		madvise(r->addr + page, PAGE, MADV_HUGEPAGE);
		stress_fill(r, page, PAGE);
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
		stress_verify(px, ri, 0, r->len, false, -1, MM_SENTINEL, what);
}

void stress_perturber_loop(struct pctx *px, const struct fl_stress_conf *sc, const char *key, bool inject)
{
	uint64_t rs = stress_stream_seed(sc->seed, key), t_ev = 0, last_sweep = 0;
	uint64_t end = (uint64_t)(sc->duration * 1e9);
	uint64_t inject_t = inject ? (uint64_t)(sc->inject_at * 1e9) : UINT64_MAX;
	uint64_t irs = stress_stream_seed(sc->seed, "test-corrupt");

	while (!px->shm->stop && !px->ctl->stop) {
		uint64_t gap = 20 + stress_rng_next(&rs) % 180, arg;
		int p;

		t_ev += gap * 1000000ull;
		p = (int)(stress_rng_next(&rs) % P_LOCAL);
		arg = stress_rng_next(&rs);
		if (t_ev > end)
			break;
		/* Sleep until the event, sweeping every region every half second meanwhile. */
		for (;;) {
			uint64_t now = stress_rel_ns(px->ctl), until = t_ev;

			if (px->shm->stop || px->ctl->stop)
				return;
			if (now >= inject_t) {
				uint64_t a = stress_rng_next(&irs);
				int ri = (int)(a % NREG);
				size_t o = (size_t)(a >> 8) % px->reg[ri].len & ~7ul;

				/* TEST HOOK (FAULTLINE_TEST_HOOKS=1): flip bits behind the verifier's back. */
				px->reg[ri].addr[o + 3] ^= 0x5a;
				ring_add(px, P_INJECT, ri, 0, (uint64_t)(uintptr_t)px->reg[ri].addr + o, o, 8);
				inject_t = UINT64_MAX;
				stress_verify_all(px, "periodic sweep after the test-corrupt hook");
				continue;
			}
			if (now - last_sweep >= SWEEP_NS) {
				stress_verify_all(px, "periodic sweep");
				last_sweep = now;
				continue;
			}
			if (now >= until)
				break;
			if (until > last_sweep + SWEEP_NS)
				until = last_sweep + SWEEP_NS;
			if (until > inject_t)
				until = inject_t;
			stress_sleep_ns(until - now < 50000000ull ? until - now : 50000000ull);
		}
		if (px->mask & (1u << p))
			perturb(px, p, arg);
	}
	/* Schedule done (or stopped): keep sweeping until told to stop. */
	while (!px->shm->stop && !px->ctl->stop) {
		stress_sleep_ns(SWEEP_NS);
		stress_verify_all(px, "periodic sweep");
	}
}

/* ---- system-wide perturbers (coordinator) ---- */

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

void stress_memcg_add(struct global *g, pid_t pid)
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
	stress_sleep_ns(200000000ull + (arg >> 8) % 600000000ull);
	write_str(path, "max");
	return err;
}

void *stress_global_main(void *arg)
{
	struct global *g = arg;
	uint64_t rs = stress_stream_seed(g->sc->seed, "system-wide"), t_ev = 0;
	uint64_t end = (uint64_t)(g->sc->duration * 1e9);

	while (!g->ctl->stop) {
		uint64_t a;
		int p, err = 0;

		t_ev += (1000 + stress_rng_next(&rs) % 3000) * 1000000ull;
		p = P_COMPACT + (int)(stress_rng_next(&rs) % 2);
		a = stress_rng_next(&rs);
		if (t_ev > end)
			break;
		while (!g->ctl->stop && stress_rel_ns(g->ctl) < t_ev)
			stress_sleep_ns(50000000ull);
		if (g->ctl->stop || !(g->mask & (1u << p)))
			continue;
		if (p == P_COMPACT)
			err = write_str("/proc/sys/vm/compact_memory", "1");
		else
			err = memcg_squeeze(g, a);
		pthread_mutex_lock(&g->lock);
		g->ring[g->head % RING] = (struct hist_ev){ .t_ns = stress_rel_ns(g->ctl), .pert = (int16_t)p,
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


void stress_pert_unavailable(struct global *g, unsigned asked, char why[P_COUNT][256])
{
	int nodes = fl_numa_nodes();
	char thp[64] = "";
	FILE *f;

	memset(why, 0, P_COUNT * sizeof(why[0]));
	if (nodes < 2)
		snprintf(why[P_NUMA], sizeof(why[0]), "needs 2 NUMA nodes with memory, found %d", nodes);
	if (access("/proc/sys/vm/compact_memory", W_OK))
		snprintf(why[P_COMPACT], sizeof(why[0]), "/proc/sys/vm/compact_memory not writable: %s (needs root and CONFIG_COMPACTION)",
			 strerror(errno));
	if (asked & (1u << P_MEMCG))
		memcg_setup(g, why[P_MEMCG], sizeof(why[0]));
	f = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");
	if (!f || !fgets(thp, sizeof(thp), f) || strstr(thp, "[never]")) {
		snprintf(why[P_COLLAPSE], sizeof(why[0]), "THP unavailable or transparent_hugepage/enabled=never");
		snprintf(why[P_THP_SPLIT], sizeof(why[0]), "THP unavailable or transparent_hugepage/enabled=never");
	}
	if (f)
		fclose(f);
}

void stress_memcg_remove(struct global *g)
{
	if (g->cg_dir[0] && rmdir(g->cg_dir))
		fprintf(stderr, "faultline: stress: cannot remove cgroup %s: %s\n", g->cg_dir, strerror(errno));
}
