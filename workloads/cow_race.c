// SPDX-License-Identifier: GPL-2.0
/*
 * cow-race: fork() in a loop while "DMA" keeps writing into pinned memory,
 * the concurrent version of cow-pin; and what pins cost fork.
 *
 * DMA threads keep a buffer under device-like writes: dma=io_uring reads a
 * pattern file into io_uring fixed buffers (pinned FOLL_LONGTERM for the
 * whole case), dma=o_direct preadv()s it with O_DIRECT into the first half
 * of every page while a toucher thread writes the second half (the O_DIRECT
 * vs fork race of the dma_thread.c reproducer: the CPU write after
 * fork breaks COW while the read is in flight).  Before each read the
 * thread writes a marker over the target; after it, the target must hold
 * the file's data.  Finding the marker (or anything else) is a corruption:
 * the device's write went to a page that fork gave away.  Meanwhile the
 * worker forks; each child checks that its copy holds only data that was
 * there (marker, file data, original, the toucher's, or a word torn between
 * two successive ones by a store the fork's copy raced), then exits.
 *
 * Kernel paths: fork -> dup_mmap -> copy_page_range -> copy_present_pte
 * (folio_maybe_dma_pinned: copy now, 5.9) / copy_huge_pmd (pinned THP:
 * split and copy) / copy_hugetlb_page_range (5.12); do_wp_page ->
 * wp_can_reuse_anon_folio (PageAnonExclusive, 5.19); io_uring READ_FIXED ->
 * io_import_fixed (bvec of pinned pages); iomap_dio_rw ->
 * bio_iov_iter_get_pages (FOLL_PIN in flight).
 *
 * Bugs it hunts: CVE-2020-29374 class ("COW can break either way",
 * 17839856fd58; 70e806e4e645 "mm: Do early cow for pinned pages during
 * fork() for ptes", 5.9); the O_DIRECT vs fork race that predates FOLL_PIN
 * ("page_count can't be used to decide when wp_page_copy", "mm: restore
 * full accuracy in COW page reuse").  Corruptions must be 0 on fixed
 * kernels: any corruption fails the case.
 *
 * Fork latency against pinned size: with dma=none the forks run alone, so
 * `size` x `pinned=yes,no` in a job file draws the curve (pinned anonymous
 * pages are copied at fork; unpinned ones are only write-protected).
 *
 * Needs: liburing (dma=io_uring or pinned=yes); file_dir with O_DIRECT
 * (dma=o_direct).
 *
 * To use:
 *   faultline run cow-race --set forks=100000 --repeat 1 --warmup 0
 *   faultline run cow-race --set dma=none --set size=1M,16M,256M,1G --set pinned=yes,no
 *   faultline run cow-race --set dma=o_direct
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hold.h"
#include "placement.h"
#include "workload.h"

enum { DMA_IO_URING, DMA_O_DIRECT, DMA_NONE };
static const char *const dmas[] = { "io_uring", "o_direct", "none", NULL };
enum { INJ_NONE, INJ_STRAY, INJ_TORN };
static const char *const injects[] = { "none", "stray", "torn", NULL };

#define MAX_DMA_THREADS 8
#define MAX_CHILDREN 64
#define HALF 2048		/* dma=o_direct: the device's half of each page */

struct cow_race_conf {
	uint64_t size;
	bool pinned;
	int dma;
	int64_t forks;
	int64_t dma_threads;
	int64_t children;
	uint64_t chunk;
	uint64_t verify;
	int inject;
};

static const struct fl_option cow_race_options[] = {
	FL_OPT_SIZE_(struct cow_race_conf, size, "size", 1 << 20, 1ull << 30, "1M",
		     "bytes of the buffer under DMA (pinned with pinned=yes); 1G at most (an io_uring fixed buffer's limit)"),
	FL_OPT_BOOL_(struct cow_race_conf, pinned, "pinned", "yes",
		     "register the buffer as an io_uring fixed buffer (FOLL_PIN|FOLL_LONGTERM) for the whole case; dma=io_uring needs it"),
	FL_OPT_ENUM_(struct cow_race_conf, dma, "dma", dmas, "io_uring",
		     "io_uring: READ_FIXED from a pattern file into the pinned buffer; o_direct: preadv(O_DIRECT) into half pages while a thread writes the other halves; none: forks only (fork latency vs pinned size)"),
	FL_OPT_INT_(struct cow_race_conf, forks, "forks", 1, 100000000, "2000",
		    "fork iterations per batch (100000 for a long hunt)"),
	FL_OPT_INT_(struct cow_race_conf, dma_threads, "dma_threads", 1, MAX_DMA_THREADS, "1",
		    "threads keeping the buffer under DMA, each on its own chunks"),
	FL_OPT_INT_(struct cow_race_conf, children, "children", 1, MAX_CHILDREN, "4",
		    "children alive at once: the oldest is reaped before the next fork, so exits overlap forks"),
	FL_OPT_SIZE_(struct cow_race_conf, chunk, "chunk", 4096, 4 << 20, "64K",
		     "bytes per DMA read (dma=o_direct: covers chunk/4K pages, half each)"),
	FL_OPT_SIZE_(struct cow_race_conf, verify, "verify", 0, 1ull << 30, "256K",
		     "bytes of the buffer each child checks before it exits (0 = children exit at once)"),
	FL_OPT_ENUM_(struct cow_race_conf, inject, "inject", injects, "none",
		     "TEST ONLY: stray: each child writes the child's pattern into one word of its copy before its check (standing in for a copy that took data the parent never had) to prove the check fails; torn: a word half marker, half original (a fork racing a byte-wise memcpy of the marker) that the check must accept"),
	FL_OPT_END
};

struct cow_race_case {
	int fd;			/* pattern file: buffered (io_uring) or O_DIRECT */
	uint64_t fsize;		/* its length, a multiple of chunk */
	/* The file's data and the marker at file offsets: memcpy/memcmp, not per-word patterns. */
	char *device, *marker;
};

struct cow_race_worker;

/* What the first child of a run that failed its check saw. */
struct child_report {
	int claimed;
	bool dev;		/* the word is the device's: a = marker, b = file data */
	uint64_t bad, off, last, got, again, a, b, orig;
	uint64_t reads;		/* DMA thread 0's completed reads in the child's copy: at fork */
};

/* The children's way back to the worker: a MAP_SHARED page, reset every run. */
struct child_shared {
	uint64_t torn;		/* words torn between two successive values, all children */
	uint64_t torn_orig;	/* of them, the marker over the original */
	struct child_report first;	/* first writer wins */
};

struct dma_thread {
	struct cow_race_worker *rw;
	struct fl_worker *w;
	unsigned idx;
	struct fl_helper helper;
	struct fl_hold h;	/* its ring; with pinned=yes the buffer registered */
	uint64_t reads, corruptions, first_off, first_pat, first_got;
	int error;
};

struct cow_race_worker {
	struct fl_mapping m;
	bool mapped;
	struct child_shared *rep;
	struct dma_thread dt[MAX_DMA_THREADS];
	struct fl_helper toucher;
	volatile int stop;
};

/* hugetlb: the buffer plus a copy per live child (pinned pages are copied at fork) and a COW spare. */
static size_t cow_race_footprint(const struct fl_case *c)
{
	const struct cow_race_conf *cf = c->config;

	return cf->size * (size_t)(cf->children + 2);
}

static const char *cow_race_supported(struct fl_case *c)
{
	const struct cow_race_conf *cf = c->config;

	if (cf->dma == DMA_IO_URING && !cf->pinned)
		return "dma=io_uring reads into io_uring fixed buffers: it needs pinned=yes";
	if (cf->dma == DMA_O_DIRECT && cf->pinned)
		return "dma=o_direct pins each read while in flight: set pinned=no";
	if (cf->dma != DMA_NONE && (cf->chunk > cf->size || cf->size % cf->chunk))
		return "size must be a multiple of chunk";
	if (cf->dma != DMA_NONE && cf->size / cf->chunk < (uint64_t)cf->dma_threads)
		return "every DMA thread needs a chunk of its own: size / chunk >= dma_threads";
	if (cf->inject && !cf->verify)
		return "inject= alters what the children check: it needs verify > 0";
	if (cf->inject == INJ_TORN && cf->dma == DMA_NONE)
		return "inject=torn mixes the marker into a word: it needs a device (dma=io_uring or o_direct)";
	return NULL;
}

static int cow_race_setup(struct fl_case *c)
{
	const struct cow_race_conf *cf = c->config;
	struct cow_race_case *cc;
	char why[600];
	uint64_t fsize;
	int fd;

	cc = calloc(1, sizeof(*cc) + c->nr_workers * sizeof(struct cow_race_worker));
	if (!cc)
		return -ENOMEM;
	c->priv = cc;
	cc->fd = -1;
	if (cf->inject == INJ_STRAY)
		fl_case_detail(c, "inject", "stray: TEST ONLY, every child corrupts its own copy; this case must fail");
	if (cf->inject == INJ_TORN)
		fl_case_detail(c, "inject", "torn: TEST ONLY, every child tears one word of its copy as a racing memcpy would; this case must pass");
	if (cf->pinned)
		fl_memlock_ensure(c, cf->size * c->nr_workers * (uint64_t)cf->dma_threads, 0);
	if (cf->dma == DMA_NONE)
		return 0;
	/* The device's source: up to 64M of pattern, read round-robin. */
	fsize = cf->size < (64u << 20) ? cf->size : (64u << 20);
	if (cf->dma == DMA_O_DIRECT)
		fsize /= 2;
	fsize = fsize / cf->chunk * cf->chunk;
	if (!fsize)
		fsize = cf->chunk;
	fd = fl_pattern_file(c->bconf->file_dir, fsize, fl_actor_seed[FL_ACT_DEVICE], why, sizeof(why));
	if (fd < 0)
		return fl_case_skip(c, "%s", why);
	cc->fd = fd;
	cc->fsize = fsize;
	cc->device = malloc(fsize);
	cc->marker = malloc(fsize);
	if (!cc->device || !cc->marker)
		return fl_case_error(c, "out of memory for %llu KiB of reference data", (unsigned long long)(fsize >> 9));
	fl_fill(cc->device, 0, fsize, FL_ACT_DEVICE);
	fl_fill(cc->marker, 0, fsize, FL_ACT_MARKER);
	if (cf->dma == DMA_O_DIRECT) {
		cc->fd = fl_reopen_direct(fd, c->bconf->file_dir, O_RDONLY, why, sizeof(why));
		close(fd);
		if (cc->fd < 0)
			return fl_case_skip(c, "%s", why);
	}
	return 0;
}

static int cow_race_prepare(struct fl_worker *w)
{
	const struct cow_race_conf *cf = w->c->config;
	struct cow_race_case *cc = w->c->priv;
	struct cow_race_worker *rw = (struct cow_race_worker *)(cc + 1) + w->id;
	unsigned nt = cf->dma == DMA_NONE ? (cf->pinned ? 1 : 0) : (unsigned)cf->dma_threads;
	int ret;

	w->priv = rw;
	if (fl_shared_page(w->c, (void **)&rw->rep) || fl_map_original(w, cf->size, &rw->m, &rw->mapped))
		return -1;
	/* Rings (and with pinned=yes the long-term pins) live for this repetition. */
	for (unsigned i = 0; i < nt; i++) {
		struct dma_thread *dt = &rw->dt[i];

		memset(dt, 0, sizeof(*dt));
		dt->rw = rw;
		dt->w = w;
		dt->idx = i;
		ret = fl_hold_ring(&dt->h, 4);
		if (ret)
			return fl_case_skip(w->c, "io_uring_queue_init: %s", fl_errno_name(ret));
		if (!cf->pinned)
			continue;
		ret = fl_hold_register(&dt->h, rw->m.addr, rw->m.len);
		if (ret) {
			fl_case_detail(w->c, "behaviour.io_uring", fl_errno_name(ret));
			return fl_case_skip(w->c, "io_uring_register_buffers of %zu KiB on %s refused: %s (observed behaviour)",
					    rw->m.len >> 10, fl_backings[w->c->backing].name, fl_errno_name(ret));
		}
	}
	return 0;
}

/* @off: buffer offset; @pat: the pattern offset (file offset) the data belongs to. */
static void note_corruption(struct dma_thread *dt, uint64_t n, uint64_t off, uint64_t pat, uint64_t got)
{
	if (!dt->corruptions) {
		dt->first_off = off;
		dt->first_pat = pat;
		dt->first_got = got;
	}
	dt->corruptions += n;
}

static void *dma_main(void *arg)
{
	struct dma_thread *dt = arg;
	struct cow_race_worker *rw = dt->rw;
	const struct cow_race_conf *cf = dt->w->c->config;
	struct cow_race_case *cc = dt->w->c->priv;
	unsigned nt = (unsigned)cf->dma_threads, pages = (unsigned)(cf->chunk / 4096);
	size_t nchunks = rw->m.len / cf->chunk;
	struct iovec iov[1024];
	char *buf = rw->m.addr;
	uint64_t n = 0;

	while (!rw->stop) {
		size_t c = dt->idx + (n++ % ((nchunks + nt - 1 - dt->idx) / nt)) * nt;
		uint64_t off = c * cf->chunk, first = 0, got = 0, t0;
		size_t bad = 0;
		int ret;

		if (cf->dma == DMA_IO_URING) {
			uint64_t foff = off % cc->fsize;

			memcpy(buf + off, cc->marker + foff, cf->chunk);
			t0 = fl_now_ns();
			ret = fl_hold_rw_fixed(&dt->h, false, cc->fd, buf + off, (unsigned)cf->chunk, foff);
			if (ret != (int)cf->chunk) {
				dt->error = ret < 0 ? ret : -EIO;
				break;
			}
			if (dt->idx == 0)
				fl_lat_record(dt->w, 1, fl_now_ns() - t0);
			if (memcmp(buf + off, cc->device + foff, cf->chunk)) {
				bad = fl_check(buf + off, foff, cf->chunk, FL_ACT_DEVICE, -1, &first, &got);
				note_corruption(dt, bad, off + (first - foff), first, got);
			}
		} else {
			uint64_t foff = (c * pages * HALF) % cc->fsize;
			ssize_t r;

			for (unsigned p = 0; p < pages; p++) {
				memcpy(buf + off + p * 4096ul, cc->marker + foff + p * HALF, HALF);
				iov[p].iov_base = buf + off + p * 4096ul;
				iov[p].iov_len = HALF;
			}
			t0 = fl_now_ns();
			r = preadv(cc->fd, iov, (int)pages, (off_t)foff);
			if (r != (ssize_t)pages * HALF) {
				dt->error = r < 0 ? -errno : -EIO;
				break;
			}
			if (dt->idx == 0)
				fl_lat_record(dt->w, 1, fl_now_ns() - t0);
			for (unsigned p = 0; p < pages; p++) {
				if (!memcmp(buf + off + p * 4096ul, cc->device + foff + p * HALF, HALF))
					continue;
				bad = fl_check(buf + off + p * 4096ul, foff + p * HALF, HALF, FL_ACT_DEVICE, -1, &first, &got);
				note_corruption(dt, bad, off + p * 4096ul + (first - foff - p * HALF), first, got);
			}
		}
		dt->reads++;
	}
	return NULL;
}

/* dma=o_direct: CPU writes to the other half of every page, to break COW under the reads. */
static void *toucher_main(void *arg)
{
	struct cow_race_worker *rw = arg;
	volatile uint64_t *p = rw->m.addr;

	while (!rw->stop)
		for (size_t off = HALF; off < rw->m.len && !rw->stop; off += 4096)
			p[off / 8] = fl_word(FL_ACT_PARENT, off);
	return NULL;
}

/*
 * A word of the child's copy is fine if it is @a or @b, or a mix of their
 * bytes: a store the fork's copy raced, caught half done.  Fork copies a
 * pinned page with copy_page() (whole aligned words), but the write it races
 * may land byte by byte: under TCG, rep movsb does, and so does bookworm's
 * glibc 2.36 memcpy of 64K (a reader racing it saw 0.3% of aligned words
 * torn; the same memcpy on the host CPU, and 2.41's and 2.43's under TCG,
 * none).
 */
static bool word_ok(uint64_t v, uint64_t a, uint64_t b)
{
	if (v == a || v == b)
		return true;
	for (int i = 0; i < 8; i++) {
		unsigned char x = (unsigned char)(v >> (8 * i));

		if (x != (unsigned char)(a >> (8 * i)) && x != (unsigned char)(b >> (8 * i)))
			return false;
	}
	return true;	/* torn by a copy racing fork's: still only data that was there */
}

/*
 * The values a word at buffer offset @off takes in the parent during a run,
 * in order: @orig (prepare()'s fill), then @a, @b, @a, @b...  True if the word
 * is one the device writes (a = the marker, b = the file's data); else a is
 * the original again and b the toucher's write (dma=o_direct's other half;
 * dma=none: no writer).
 */
static bool allowed(const struct cow_race_conf *cf, const struct cow_race_case *cc, uint64_t off,
		    uint64_t *a, uint64_t *b, uint64_t *orig)
{
	uint64_t foff;

	*orig = fl_word(FL_ACT_ORIG, off);
	if (cf->dma == DMA_NONE || (cf->dma == DMA_O_DIRECT && off % 4096 >= HALF)) {
		*a = *orig;
		*b = fl_word(FL_ACT_PARENT, off);
		return false;
	}
	if (cf->dma == DMA_IO_URING)
		foff = (off / cf->chunk * cf->chunk) % cc->fsize + off % cf->chunk;
	else
		foff = (off / 4096 * HALF) % cc->fsize + off % 4096;
	*a = ((const uint64_t *)cc->marker)[foff / 8];
	*b = ((const uint64_t *)cc->device)[foff / 8];
	return true;
}

/*
 * In the child: 0 if the copy holds only data that was in the parent's
 * memory; else 1, and the first child to fail says what it saw in @rep.
 */
static int child_check(const struct cow_race_conf *cf, const struct cow_race_case *cc,
		       const struct cow_race_worker *rw)
{
	const volatile uint64_t *q = (const volatile uint64_t *)rw->m.addr;
	size_t n = cf->verify < rw->m.len ? cf->verify : rw->m.len;
	struct child_report r = { .claimed = 1 };
	uint64_t torn = 0, torn_orig = 0;

	if (cf->inject == INJ_STRAY) {
		/* TEST ONLY: a word the parent never had, in the middle of what is checked. */
		uint64_t off = n / 2 & ~7ul;

		((volatile uint64_t *)rw->m.addr)[off / 8] = fl_word(FL_ACT_CHILD, off);
	} else if (cf->inject == INJ_TORN) {
		/* TEST ONLY: the marker's low three bytes stored over the original, the rest not yet. */
		uint64_t off = 0, a, b, orig;

		allowed(cf, cc, off, &a, &b, &orig);
		((volatile uint64_t *)rw->m.addr)[off / 8] = (a & 0xffffff) | (orig & ~0xffffffull);
	}
	for (size_t i = 0; i < n / 8; i++) {
		uint64_t off = i * 8, v = q[i], a, b, orig;
		bool dev = allowed(cf, cc, off, &a, &b, &orig);

		/*
		 * Torn between two successive values: the device's data over
		 * the marker (or the marker over the last read's data), or the
		 * batch's first marker over the original: a fork racing that
		 * memcpy on stock 6.1 under TCG gave a child 0xc1caa9456625b239,
		 * two bytes of marker and six of the original (stress-vm.job,
		 * fork-storm, seed 7).  Original and device data never meet in
		 * one word, nor do three values.
		 */
		if (v == a || v == b || v == orig)
			continue;
		if (word_ok(v, a, b)) {
			torn++;
			continue;
		}
		if (word_ok(v, orig, a)) {
			torn++;
			torn_orig++;
			continue;
		}
		if (!r.bad++) {
			r.dev = dev;
			r.off = off;
			r.got = v;
			r.a = a;
			r.b = b;
			r.orig = orig;
		}
		r.last = off;
	}
	if (torn) {
		__sync_fetch_and_add(&rw->rep->torn, torn);
		__sync_fetch_and_add(&rw->rep->torn_orig, torn_orig);
	}
	if (!r.bad)
		return 0;
	/* Read again: a copy of its own does not change under the child. */
	sched_yield();
	r.again = q[r.off / 8];
	r.reads = rw->dt[0].reads;
	if (__sync_bool_compare_and_swap(&rw->rep->first.claimed, 0, 1))
		rw->rep->first = r;
	return 1;
}

/*
 * What a failed child saw, for the fail reason: the word, where, which of the
 * allowed values each of its bytes matches (lowest address first: m marker,
 * d device, p the toucher's write, o original, ? none), and whether it was
 * stable in the child's copy.
 */
static void child_report_str(char *buf, size_t len, const struct child_report *r)
{
	char lanes[9], allow[128];

	for (int i = 0; i < 8; i++) {
		unsigned char x = (unsigned char)(r->got >> (8 * i));

		lanes[i] = x == (unsigned char)(r->a >> (8 * i)) && r->dev ? 'm' :
			   x == (unsigned char)(r->b >> (8 * i)) ? (r->dev ? 'd' : 'p') :
			   x == (unsigned char)(r->orig >> (8 * i)) ? 'o' : '?';
	}
	lanes[8] = '\0';
	if (r->dev)
		snprintf(allow, sizeof(allow), "marker 0x%016llx, device 0x%016llx, original 0x%016llx",
			 (unsigned long long)r->a, (unsigned long long)r->b, (unsigned long long)r->orig);
	else
		snprintf(allow, sizeof(allow), "original 0x%016llx, parent's 0x%016llx",
			 (unsigned long long)r->orig, (unsigned long long)r->b);
	snprintf(buf, len, "%llu bad words in bytes 0x%llx-0x%llx; at 0x%llx (page %llu + %llu) found 0x%016llx "
		 "(bytes %s), %s on a second read; allowed %s; DMA thread 0 had done %llu reads at fork",
		 (unsigned long long)r->bad, (unsigned long long)r->off, (unsigned long long)r->last + 7,
		 (unsigned long long)r->off, (unsigned long long)(r->off / 4096), (unsigned long long)(r->off % 4096),
		 (unsigned long long)r->got, lanes, r->again == r->got ? "the same" : "changed", allow,
		 (unsigned long long)r->reads);
}

static int cow_race_run(struct fl_worker *w, struct fl_work *done)
{
	const struct cow_race_conf *cf = w->c->config;
	struct cow_race_case *cc = w->c->priv;
	struct cow_race_worker *rw = w->priv;
	unsigned nt = cf->dma == DMA_NONE ? 0 : (unsigned)cf->dma_threads;
	uint64_t forks = 0, child_bad = 0, reads = 0, corrupt = 0, first_off = 0, first_pat = 0, first_got = 0;
	pid_t kids[MAX_CHILDREN] = { 0 };
	cpu_set_t all_cpus;
	int ret = 0, err = 0, st = 0;

	CPU_ZERO(&all_cpus);
	for (int i = 0; i < CPU_SETSIZE; i++)
		CPU_SET(i, &all_cpus);
	rw->stop = 0;
	memset(rw->rep, 0, sizeof(*rw->rep));
	for (unsigned i = 0; i < nt && !ret; i++) {
		char name[16];

		snprintf(name, sizeof(name), "dma%u", i);
		err = fl_helper_start(&rw->dt[i].helper, w, name, i, dma_main, &rw->dt[i]);
		if (err)
			ret = fl_case_error(w->c, "pthread_create: %s", strerror(-err));
	}
	if (!ret && cf->dma == DMA_O_DIRECT) {
		err = fl_helper_start(&rw->toucher, w, "toucher", nt, toucher_main, rw);
		if (err)
			ret = fl_case_error(w->c, "pthread_create: %s", strerror(-err));
	}
	err = 0;
	if (ret)
		goto stop;
	for (int64_t i = 0; i < cf->forks + cf->children && !ret; i++) {
		pid_t pid;

		/* Reap the oldest child once `children` are out: exits overlap the next forks. */
		if (i >= cf->children && kids[i % cf->children] > 0) {
			pid_t old = kids[i % cf->children];

			if (waitpid(old, &st, 0) != old || !WIFEXITED(st))
				ret = fl_case_error(w->c, "a child of the fork loop ended with status 0x%x", st);
			else
				child_bad += WEXITSTATUS(st) != 0;
			kids[i % cf->children] = 0;
		}
		if (i >= cf->forks || ret || (nt && rw->dt[0].error))
			continue;
		fl_lat_begin(w);
		pid = fork();
		if (pid == 0) {
			/* Off the worker's bound CPU: the child's check and exit overlap the next fork. */
			sched_setaffinity(0, sizeof(all_cpus), &all_cpus);
			_exit(cf->verify ? child_check(cf, cc, rw) : 0);
		}
		fl_lat_end(w, 0);
		if (pid < 0) {
			ret = fl_case_error(w->c, "fork after %llu iterations: %s", (unsigned long long)forks,
					    strerror(errno));
			break;
		}
		kids[i % cf->children] = pid;
		forks++;
	}
	for (int64_t k = 0; k < cf->children; k++)
		if (kids[k] > 0)
			waitpid(kids[k], &st, 0);
stop:
	rw->stop = 1;
	for (unsigned i = 0; i < nt; i++) {
		struct dma_thread *dt = &rw->dt[i];

		if (!dt->helper.started)
			continue;
		fl_helper_join(&dt->helper);
		reads += dt->reads;
		if (dt->corruptions && !corrupt) {
			first_off = dt->first_off;
			first_pat = dt->first_pat;
			first_got = dt->first_got;
		}
		corrupt += dt->corruptions;
		if (dt->error && !err)
			err = dt->error;
	}
	fl_helper_join(&rw->toucher);
	if (ret)
		return ret;
	if (err)
		return fl_case_error(w->c, "%s read into the buffer failed: %s", dmas[cf->dma], fl_errno_name(err));
	fl_metric(w->c, "corruptions", "words", FL_LOWER_IS_BETTER, (double)corrupt);
	fl_metric(w->c, "child_corruptions", "children", FL_LOWER_IS_BETTER, (double)child_bad);
	fl_metric(w->c, "forks", "forks", FL_INFORMATIONAL, (double)forks);
	if (cf->verify) {
		fl_metric(w->c, "child_torn_words", "words", FL_INFORMATIONAL, (double)rw->rep->torn);
		fl_metric(w->c, "child_torn_original", "words", FL_INFORMATIONAL, (double)rw->rep->torn_orig);
	}
	if (nt)
		fl_metric(w->c, "dma_reads", "reads", FL_INFORMATIONAL, (double)reads);
	if (corrupt) {
		char buf[200];

		snprintf(buf, sizeof(buf), "first at byte 0x%llx (page %llu + %llu): %s", (unsigned long long)first_off,
			 (unsigned long long)(first_off / 4096), (unsigned long long)(first_off % 4096),
			 fl_whose(first_pat, first_got));
		fl_case_detail(w->c, "first_corruption", buf);
		return fl_case_fail(w->c, "%llu words of device data lost in %llu %s reads racing %llu forks on %s: "
				    "first at byte 0x%llx, found %s instead of the device's data",
				    (unsigned long long)corrupt, (unsigned long long)reads, dmas[cf->dma],
				    (unsigned long long)forks, fl_backings[w->c->backing].name,
				    (unsigned long long)first_off, fl_whose(first_pat, first_got));
	}
	if (child_bad) {
		char buf[400];

		child_report_str(buf, sizeof(buf), &rw->rep->first);
		fl_case_detail(w->c, "child_corruption", buf);
		return fl_case_fail(w->c, "%llu of %llu children found data in their copy that was never in the parent's buffer: "
				    "first child: %s", (unsigned long long)child_bad, (unsigned long long)forks, buf);
	}
	done->ops = forks;
	done->bytes = 0;
	return 0;
}

static int cow_race_check(struct fl_worker *w)
{
	struct cow_race_worker *rw = w->priv;

	for (unsigned i = 0; i < MAX_DMA_THREADS; i++)
		fl_hold_close(&rw->dt[i].h);	/* unpins */
	if (rw->mapped)
		fl_unmap(&rw->m);
	rw->mapped = false;
	return 0;
}

static void cow_race_teardown(struct fl_case *c)
{
	struct cow_race_case *cc = c->priv;
	struct cow_race_worker *rws;

	if (!cc)
		return;
	rws = (struct cow_race_worker *)(cc + 1);
	for (unsigned i = 0; i < c->nr_workers; i++) {
		for (unsigned k = 0; k < MAX_DMA_THREADS; k++)
			fl_hold_close(&rws[i].dt[k].h);
		if (rws[i].mapped)
			fl_unmap(&rws[i].m);
		if (rws[i].rep)
			munmap(rws[i].rep, 4096);
	}
	if (cc->fd >= 0)
		close(cc->fd);
	free(cc->device);
	free(cc->marker);
	free(cc);
}

const struct workload wl_cow_race = {
	.name = "cow-race",
	.headline = "ops_rate",
	.summary = "fork in a loop while DMA (io_uring fixed buffers, O_DIRECT) writes pinned memory: corruptions, fork latency vs pinned size",
	.kernel_paths = "copy_page_range -> copy_present_pte / copy_huge_pmd / copy_hugetlb_page_range "
			"(early COW of dma-pinned folios), do_wp_page (PageAnonExclusive), io_import_fixed, "
			"bio_iov_iter_get_pages (FOLL_PIN)",
	.needs = "liburing; file_dir with O_DIRECT (dma=o_direct)",
	.backings = FL_BACKINGS_ANON | FL_B(FL_BACKING_SHMEM),
	.default_backings = FL_B(FL_BACKING_ANON_4K),
	.mode = FL_MODE_BATCH,
	.op_unit = "fork",
	.report_bytes = false,
	.lat = {
		{ "fork", "fork() in the parent while the buffer is pinned and under DMA" },
		{ "dma", "one DMA read (io_uring READ_FIXED or O_DIRECT preadv) of `chunk` bytes, DMA thread 0" },
	},
	.options = cow_race_options,
	.config_size = sizeof(struct cow_race_conf),
	.footprint = cow_race_footprint,
	.supported = cow_race_supported,
	.setup = cow_race_setup,
	.prepare = cow_race_prepare,
	.run = cow_race_run,
	.check = cow_race_check,
	.teardown = cow_race_teardown,
};

FL_WORKLOAD_REGISTER(wl_cow_race);
