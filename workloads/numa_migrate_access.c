// SPDX-License-Identifier: GPL-2.0
/*
 * numa-migrate's data pattern and the threads that use the range while it
 * moves: readers check the pattern, writers bump a version word per page,
 * a racer forks (children check their copy) or unmaps and remaps the tail.
 * They pause, parked, while the worker checks after each move.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "numa_migrate.h"

/* Word 1 of every page is the writers' version word when writers run. */
static bool nm_skip_word(const struct nm_conf *cf, uint64_t i)
{
	return cf->writers && (i & 511) == 1;
}

/* Pages [@from_pg, @to_pg): the pattern, and version word 0 of the page's writer. */
void nm_fill(struct nm_worker *nw, size_t from_pg, size_t to_pg)
{
	const struct nm_conf *cf = nw->c->config;
	uint64_t *p = nw->m.addr;

	fl_fill_seed(p + from_pg * 512, from_pg * 4096, (to_pg - from_pg) * 4096, nw->seed);
	if (cf->writers)
		for (uint64_t pg = from_pg; pg < to_pg; pg++)
			p[pg * 512 + 1] = pg % (uint64_t)cf->writers;
}

uint64_t nm_verify(struct nm_worker *nw, size_t from_pg, size_t to_pg, uint64_t *first)
{
	const struct nm_conf *cf = nw->c->config;
	const uint64_t *p = nw->m.addr;
	uint64_t bad = 0;

	*first = UINT64_MAX;
	for (uint64_t i = from_pg * 512; i < to_pg * 512; i++) {
		if (nm_skip_word(cf, i) || p[i] == fl_pattern(nw->seed, i * 8))
			continue;
		if (!bad++)
			*first = i * 8;
	}
	return bad;
}

static void park(struct nm_worker *nw)
{
	atomic_fetch_add(&nw->parked, 1);
	while (atomic_load(&nw->pause) && !atomic_load(&nw->quit))
		usleep(200);
	atomic_fetch_sub(&nw->parked, 1);
}

static void *reader_main(void *arg)
{
	struct accessor *a = arg;
	struct nm_worker *nw = a->nw;
	volatile const uint64_t *p = nw->m.addr;

	while (!atomic_load(&nw->quit)) {
		for (size_t pg = 0; pg < nw->stable; pg++) {
			uint64_t i = pg * 512 + (a->idx * 7 + pg) % 512, v;

			if (atomic_load(&nw->pause))
				park(nw);
			if (atomic_load(&nw->quit))
				break;
			if (nm_skip_word(nw->c->config, i))
				i++;
			v = p[i];
			a->ops++;
			if (v != fl_pattern(nw->seed, i * 8) && !a->mismatches++)
				a->first_bad = i * 8;
		}
	}
	return NULL;
}

/*
 * Writer k owns pages j with j % W == k and writes pass number << 8 | k
 * into word 1; at a pause it records how far the pass got, so the check
 * knows which pages must hold this pass and which the previous one.
 */
static void *writer_main(void *arg)
{
	struct accessor *a = arg;
	struct nm_worker *nw = a->nw;
	const struct nm_conf *cf = nw->c->config;
	volatile uint64_t *p = nw->m.addr;
	uint64_t w = (uint64_t)cf->writers;

	a->pass = 1;
	a->next = a->idx;
	while (!atomic_load(&nw->quit)) {
		if (atomic_load(&nw->pause))
			park(nw);
		if (a->next >= nw->stable) {
			a->pass++;
			a->next = a->idx;
			continue;
		}
		p[a->next * 512 + 1] = a->pass << 8 | a->idx;
		a->next += w;
		a->ops++;
	}
	return NULL;
}

uint64_t nm_writer_check(struct nm_worker *nw, struct accessor *a, uint64_t *first)
{
	const struct nm_conf *cf = nw->c->config;
	const uint64_t *p = nw->m.addr;
	uint64_t bad = 0;

	for (uint64_t j = a->idx; j < nw->stable; j += (uint64_t)cf->writers) {
		uint64_t want = (j < a->next ? a->pass : a->pass - 1) << 8 | a->idx;

		if (p[j * 512 + 1] != want && !bad++)
			*first = j * 4096 + 8;
	}
	return bad;
}

static int remap_chunk(struct nm_worker *nw, char *p, size_t len)
{
	enum fl_backing_id b = nw->c->backing;
	int fl = MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED;

	if (nw->m.fd >= 0) {
		off_t off = (off_t)(nw->m.file_off + (uint64_t)(p - (char *)nw->m.addr));

		if (mmap(p, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, nw->m.fd, off) == MAP_FAILED)
			return -errno;
		return nm_bind_both(nw, p, len);
	}
	if (b == FL_BACKING_HUGETLB_2M)
		fl |= MAP_HUGETLB | (21 << MAP_HUGE_SHIFT);
	else if (b == FL_BACKING_HUGETLB_1G)
		fl |= MAP_HUGETLB | (30 << MAP_HUGE_SHIFT);
	if (mmap(p, len, PROT_READ | PROT_WRITE, fl, -1, 0) == MAP_FAILED)
		return -errno;
	madvise(p, len, b == FL_BACKING_THP ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
	return nm_bind_both(nw, p, len);
}

/* Children check the stable part of their copy and exit 1 on a mismatch. */
static void *racer_main(void *arg)
{
	struct accessor *a = arg;
	struct nm_worker *nw = a->nw;
	const struct nm_conf *cf = nw->c->config;
	char *chunk = (char *)nw->m.addr + nw->stable * 4096;
	int status, ret;
	uint64_t first;
	pid_t pid;

	while (!atomic_load(&nw->quit)) {
		if (atomic_load(&nw->pause))
			park(nw);
		if (cf->race == R_FORK) {
			pid = fork();
			if (pid < 0) {
				snprintf(a->err, sizeof(a->err), "fork: %s", strerror(errno));
				goto out;
			}
			if (pid == 0)
				_exit(nm_verify(nw, 0, nw->stable, &first) ? 1 : 0);
			if (waitpid(pid, &status, 0) == pid && !(WIFEXITED(status) && WEXITSTATUS(status) == 0))
				a->mismatches++;
			a->forks++;
		} else {
			munmap(chunk, cf->race_len);
			ret = remap_chunk(nw, chunk, cf->race_len);
			if (ret) {
				snprintf(a->err, sizeof(a->err), "mmap(MAP_FIXED) after munmap: %s", strerror(-ret));
				goto out;
			}
			nm_fill(nw, nw->stable, nw->npages);
			a->munmaps++;
		}
		a->ops++;
	}
	return NULL;
out:
	/* Gone for good: counts as parked so that pauses do not wait for it. */
	atomic_fetch_add(&nw->parked, 1);
	return NULL;
}

void nm_accessors_pause(struct nm_worker *nw)
{
	atomic_store(&nw->pause, 1);
	while (atomic_load(&nw->parked) < (int)nw->nacc)
		usleep(100);
}

int nm_accessors_start(struct fl_worker *w, struct nm_worker *nw)
{
	const struct nm_conf *cf = w->c->config;
	unsigned n = (unsigned)(cf->readers + cf->writers) + (cf->race != R_NONE);

	if (!n)
		return 0;
	nw->acc = calloc(n, sizeof(*nw->acc));
	if (!nw->acc)
		return -ENOMEM;
	/* Start parked: the first move waits for prepare to let them go. */
	atomic_store(&nw->pause, 1);
	for (unsigned i = 0; i < n; i++) {
		struct accessor *a = &nw->acc[i];
		void *(*fn)(void *);
		char name[24];
		int err;

		a->nw = nw;
		if (i < cf->readers) {
			a->idx = i;
			fn = reader_main;
		} else if (i < cf->readers + cf->writers) {
			a->idx = i - (unsigned)cf->readers;
			a->kind = 1;
			fn = writer_main;
		} else {
			a->kind = 2;
			fn = racer_main;
		}
		snprintf(name, sizeof(name), "%s%u", a->kind == 0 ? "reader" : a->kind == 1 ? "writer" : "racer", a->idx);
		err = fl_helper_start(&a->helper, w, name, i, fn, a);
		if (err)
			return fl_case_error(w->c, "pthread_create: %s", strerror(-err));
		nw->nacc++;
	}
	nm_accessors_pause(nw);
	return 0;
}

void nm_accessors_stop(struct nm_worker *nw)
{
	atomic_store(&nw->quit, 1);
	for (unsigned i = 0; i < nw->nacc; i++)
		fl_helper_join(&nw->acc[i].helper);
	nw->nacc = 0;
	free(nw->acc);
	nw->acc = NULL;
}
