// SPDX-License-Identifier: GPL-2.0
/*
 * faultline stress: the seeded streams and the sentinel regions.
 *
 * The schedule is a pure function of the seed: one splitmix64 stream per
 * case (keyed by workload, backing and ordinal) and one for the system-wide
 * perturbers.  The sentinels are regions the harness owns, mapped beside the
 * workloads' own VMAs and filled with a pattern derived from the seed; any
 * word that does not read back as written (or as zero after MADV_DONTNEED)
 * is a mismatch, reported once, with its address and the first bad word.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "mmflags.h"
#include "stress_int.h"

uint64_t stress_mix64(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

uint64_t stress_rng_next(uint64_t *s)
{
	*s += 0x9e3779b97f4a7c15ull;
	return stress_mix64(*s);
}

uint64_t stress_stream_seed(uint64_t seed, const char *key)
{
	uint64_t h = 1469598103934665603ull;	/* FNV-1a */

	for (; *key; key++)
		h = (h ^ (unsigned char)*key) * 1099511628211ull;
	return stress_mix64(seed ^ h);
}

void stress_sleep_ns(uint64_t ns)
{
	struct timespec ts = { .tv_sec = (time_t)(ns / 1000000000ull), .tv_nsec = (long)(ns % 1000000000ull) };

	nanosleep(&ts, NULL);
}

uint64_t stress_rel_ns(const struct ctl *ctl)
{
	return fl_now_ns() - ctl->t0;
}

static inline uint64_t pat(uint64_t gen, size_t off)
{
	return stress_mix64(gen + off / 8);
}

void stress_fill(struct region *r, size_t off, size_t len)
{
	volatile uint64_t *w = (volatile uint64_t *)(r->addr + off);

	for (size_t i = 0; i < len / 8; i++)
		w[i] = pat(r->gen, off + i * 8);
}

void stress_report_mismatch(struct slot_shm *s, const struct ctl *ctl, const struct mismatch *m)
{
	if (!__sync_bool_compare_and_swap(&s->mm_claim, 0, 1))
		return;
	s->mm = *m;
	s->mm.t_ns = stress_rel_ns(ctl);
	__sync_synchronize();
	s->has_mm = 1;
	s->stop = 1;
}

uint64_t stress_verify(struct pctx *px, int ri, size_t off, size_t len, bool zero, long hole,
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
		stress_report_mismatch(px->shm, px->ctl, &m);
	} else {
		px->shm->verifies++;
	}
	return bad;
}

uint64_t stress_verify_all(struct pctx *px, const char *what)
{
	uint64_t bad = 0;

	for (int i = 0; i < NREG && !bad; i++)
		if (px->reg[i].addr)
			bad += stress_verify(px, i, 0, px->reg[i].len, false, -1, MM_SENTINEL, what);
	return bad;
}

int stress_region_map(struct pctx *px, int ri, void *placed)
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
		p = placed ? placed : mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED)
			return -errno;
	}
	r->addr = p;
	r->len = len;
	r->gen = stress_rng_next(&px->gen_rng);
	stress_fill(r, 0, len);
	return 0;
}

void stress_region_unmap(struct region *r)
{
	if (r->addr)
		munmap(r->addr, r->len);
	r->addr = NULL;
}

/* The anonymous rw VMAs of the workloads (>= 1 MiB, not ours), from /proc/self/maps. */
static unsigned workload_vmas(struct pctx *px, uintptr_t cand[][2], unsigned max)
{
	unsigned n = 0;
	ssize_t got = 0, k;
	int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
	char *line, *save = NULL;

	if (fd < 0)
		return 0;
	while ((k = read(fd, px->maps + got, sizeof(px->maps) - 1 - (size_t)got)) > 0)
		got += k;
	close(fd);
	px->maps[got] = '\0';
	for (line = strtok_r(px->maps, "\n", &save); line && n < max; line = strtok_r(NULL, "\n", &save)) {
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
	return n;
}

void *stress_neighbour(struct pctx *px, uint64_t arg, size_t len)
{
	uintptr_t cand[256][2];
	unsigned n = workload_vmas(px, cand, 256);

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
