// SPDX-License-Identifier: GPL-2.0
/*
 * cow-pin: which mm sees which data when pinned memory meets fork(), in the
 * spirit of tools/testing/selftests/mm/cow.c, per backing and per way of
 * pinning.  One scenario per case; each names the bug it guards.
 *
 * Kernel paths: fork -> copy_page_range -> copy_present_pte /
 * copy_huge_pmd / copy_hugetlb_page_range, where folio_maybe_dma_pinned()
 * pages are copied for the child at fork (5.9; hugetlb 5.12) and
 * PageAnonExclusive decides COW reuse (5.19); do_wp_page ->
 * wp_can_reuse_anon_folio / wp_page_copy; GUP: io_sqe_buffer_register
 * (FOLL_PIN|FOLL_LONGTERM), bio_iov_iter_get_pages (FOLL_PIN, O_DIRECT in
 * flight), iter_to_pipe (vmsplice, FOLL_GET), FL_IOC_PIN_CREATE (driver);
 * madvise(MADV_DONTFORK, MADV_WIPEONFORK), mprotect.
 *
 * Needs: liburing; file_dir with O_DIRECT (pin=o_direct); /dev/faultline
 * (pin=driver); root for thp_map=pte (kpageflags proves the THP).
 *
 * To use:
 *   faultline run cow-pin --backing anon-4k,thp --set pin=io_uring,o_direct --set scenario=dma-after-fork,mprotect
 *   faultline run workloads/suites/gup.job
 *   faultline describe cow-pin
 *
 * Every 4 KiB page of the buffer has three regions, each written by one
 * actor with its own pattern (pinning.h), so a stray word names whose data
 * it is: [0, 2K) the device writes through the pin after fork (io_uring
 * READ_FIXED from a pattern file, O_DIRECT reads submitted before fork and
 * completing after it, the driver's FILL); [2K, 3K) the parent writes after
 * fork; [3K, 4K) the child writes after fork.  Expected, private memory:
 * the parent sees device + parent data and the original in the child's
 * region; the child sees the original + its own data, never the parent's
 * or the device's; the device (read back through the pin) sees what the
 * parent sees.  Shared memory (shmem) has no COW: everyone sees everything.
 * A mismatch fails the case with scenario, backing, offsets and whose data
 * was found.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hold.h"
#include "workload.h"
#include "mmflags.h"

enum { PIN_IO_URING, PIN_O_DIRECT, PIN_VMSPLICE, PIN_DRIVER };
static const char *const pins[] = { "io_uring", "o_direct", "vmsplice", "driver", NULL };

enum { SC_DMA_AFTER_FORK, SC_WRITE_AFTER_PIN, SC_MPROTECT, SC_DONTFORK, SC_WIPEONFORK,
       SC_VMSPLICE_CHILD };
static const char *const scenarios[] = { "dma-after-fork", "write-after-pin", "mprotect", "dontfork",
					 "wipeonfork", "vmsplice-child", NULL };

/* The bug each scenario guards (also the record's "guards" detail). */
static const char *const guards[] = {
	[SC_DMA_AFTER_FORK] = "CVE-2020-29374 class: a write pin taken before fork stays with the parent; "
		"before 5.9 the parent's first write after fork could COW the pinned page away and the "
		"device's writes went to the child ('COW can break either way', 17839856fd58; early COW of "
		"pinned pages at fork, 70e806e4e645, 5.9; hugetlb ca6eb14d6e, 5.12; PageAnonExclusive, 5.19)",
	[SC_WRITE_AFTER_PIN] = "writes after the pin and before fork land in the pinned page and reach the "
		"child's copy unchanged ('mm: restore full accuracy in COW page reuse' / 'page_count can't be "
		"used to decide when wp_page_copy' threads; R/O pin unsharing a7f226604170, 5.19)",
	[SC_MPROTECT] = "mprotect(PROT_READ) of a pinned range, fork, then PROT_READ|PROT_WRITE in both "
		"must not map a COW-shared page writable (cow.c mprotect tests; can_change_pte_writable "
		"6.0 relies on PageAnonExclusive, 5.19)",
	[SC_DONTFORK] = "MADV_DONTFORK (2.6.16, RDMA's ibv_fork_init workaround): the child gets no mapping "
		"of the pinned range and the parent keeps the device's data",
	[SC_WIPEONFORK] = "MADV_WIPEONFORK (4.14): the child gets zeroes, never the parent's or the device's "
		"data, and the parent's pin stays intact",
	[SC_VMSPLICE_CHILD] = "CVE-2020-29374 (vmsplice reproducer): a child's R/O GUP reference taken by "
		"vmsplice, then munmap, must not see the parent's later writes (17839856fd58, 5.8; "
		"PageAnonExclusive + R/O pin unsharing, 5.19)",
};

enum { INJ_NONE, INJ_LOST_COW };
static const char *const injects[] = { "none", "lost-cow", NULL };
static const char *const thp_maps[] = { "pmd", "pte", NULL };

struct cow_pin_conf {
	uint64_t size;
	int pin;
	int scenario;
	int thp_map;
	int inject;
};

static const struct fl_option cow_pin_options[] = {
	FL_OPT_SIZE_(struct cow_pin_conf, size, "size", 1 << 21, 1ull << 30, "2M",
		     "bytes of the pinned buffer (a multiple of 2M)"),
	FL_OPT_ENUM_(struct cow_pin_conf, pin, "pin", pins, "io_uring",
		     "how the buffer is pinned: io_uring (fixed buffer, FOLL_PIN|FOLL_LONGTERM; device = READ_FIXED), o_direct (reads submitted before fork, in flight), vmsplice (FOLL_GET refs held by a pipe; no device writes), driver (faultline.ko pin + FILL)"),
	FL_OPT_ENUM_(struct cow_pin_conf, scenario, "scenario", scenarios, "dma-after-fork",
		     "dma-after-fork: pin, fork, writes, device writes; write-after-pin: the last pre-fork write after the pin; mprotect: PROT_READ over fork; dontfork / wipeonfork: MADV_ on the pinned range; vmsplice-child: CVE-2020-29374's reproducer (pin=vmsplice)"),
	FL_OPT_ENUM_(struct cow_pin_conf, thp_map, "thp_map", thp_maps, "pmd",
		     "thp backing: pmd-mapped THP, or pte: PTE-mapped THP (cow.c: mprotect one subpage R/O and back)"),
	FL_OPT_ENUM_(struct cow_pin_conf, inject, "inject", injects, "none",
		     "TEST ONLY: lost-cow deliberately breaks isolation (the parent's data is written into the child's copy with process_vm_writev, standing in for a lost COW) to prove the detector fails"),
	FL_OPT_END
};

#define R_DMA		0
#define R_PARENT	2048
#define R_CHILD		3072
#define NO_ALT		-1
#define EXP_ZERO	-2	/* expect zeroes (MADV_WIPEONFORK) */

static const char *const region_name[] = { "device", "parent", "child" };

/* What one mm (or the device) must see in each region of every page. */
struct expect {
	int want[3], alt[3];
};

/* Result of a check, also what the child reports through shared memory. */
struct verdict {
	uint64_t bad;		/* words wrong */
	uint64_t first;		/* buffer offset of the first */
	uint64_t got;
	int region, want;
	int unmapped;		/* dontfork: 1 = range absent in the child, as it must be */
	int got_unknown;	/* the driver counts mismatches but does not return the word */
	int leak_only;		/* every bad word is the leak cow.c marks XFAIL (see only_leak) */
	int done;
};

struct cow_pin_case {
	int pfd;		/* pattern file: buffered (io_uring) or O_DIRECT */
	int scratch;		/* memfd the device's view is written back to */
};

struct cow_pin_worker {
	struct fl_mapping m;
	bool mapped;
	struct verdict *child;	/* MAP_SHARED page */
};

/* hugetlb: the parent's buffer, the child's copy at fork, a COW copy in the parent. */
static size_t cow_pin_footprint(const struct fl_case *c)
{
	return ((const struct cow_pin_conf *)c->config)->size * 3;
}

static bool shared_backing(const struct fl_case *c)
{
	return c->backing == FL_BACKING_SHMEM || c->backing == FL_BACKING_FILE;
}

static const char *cow_pin_supported(struct fl_case *c)
{
	const struct cow_pin_conf *cf = c->config;

	if (cf->size % (2u << 20))
		return "size must be a multiple of 2M";
	if (cf->thp_map == 1 && c->backing != FL_BACKING_THP)
		return "thp_map=pte applies to the thp backing only";
	if (cf->scenario == SC_VMSPLICE_CHILD && cf->pin != PIN_VMSPLICE)
		return "scenario=vmsplice-child is CVE-2020-29374's vmsplice reproducer: it needs pin=vmsplice";
	if (cf->scenario == SC_WIPEONFORK && (shared_backing(c) || c->backing == FL_BACKING_HUGETLB_2M ||
					      c->backing == FL_BACKING_HUGETLB_1G))
		return "MADV_WIPEONFORK applies to private anonymous memory only (EINVAL on shared and hugetlb mappings)";
	if (cf->inject && (shared_backing(c) || cf->scenario == SC_DONTFORK || cf->scenario == SC_VMSPLICE_CHILD))
		return "inject=lost-cow needs private memory the child inherits (shared memory has no COW to lose)";
	if (cf->pin == PIN_O_DIRECT && cf->size > (16u << 20))
		return "pin=o_direct keeps one read per page in flight in a 4096-entry ring: size at most 16M";
	if (cf->pin == PIN_DRIVER)
		return fl_driver_supported(FL_FEAT_PIN);
	return NULL;
}

static int cow_pin_setup(struct fl_case *c)
{
	const struct cow_pin_conf *cf = c->config;
	struct cow_pin_case *cc;
	char why[600];
	int fd;

	cc = calloc(1, sizeof(*cc) + c->nr_workers * sizeof(struct cow_pin_worker));
	if (!cc)
		return -ENOMEM;
	c->priv = cc;
	cc->pfd = cc->scratch = -1;
	fl_case_detail(c, "scenario", scenarios[cf->scenario]);
	fl_case_detail(c, "guards", guards[cf->scenario]);
	if (cf->inject)
		fl_case_detail(c, "inject", "lost-cow: TEST ONLY, isolation broken on purpose; this case must fail");
	if (cf->pin == PIN_IO_URING || cf->pin == PIN_DRIVER)
		fl_memlock_ensure(c, cf->size * c->nr_workers, 0);
	if (cf->pin == PIN_IO_URING || cf->pin == PIN_O_DIRECT) {
		fd = fl_pattern_file(c->bconf->file_dir, cf->size, fl_actor_seed[FL_ACT_DEVICE], why, sizeof(why));
		if (fd < 0)
			return fl_case_skip(c, "%s", why);
		cc->pfd = fd;
		if (cf->pin == PIN_O_DIRECT) {
			cc->pfd = fl_reopen_direct(fd, c->bconf->file_dir, O_RDONLY, why, sizeof(why));
			close(fd);
			if (cc->pfd < 0)
				return fl_case_skip(c, "%s", why);
		}
	}
	if (cf->pin == PIN_IO_URING) {
		cc->scratch = memfd_create("faultline-cow-pin", MFD_CLOEXEC);
		if (cc->scratch < 0)
			return fl_case_error(c, "memfd_create: %s", strerror(errno));
	}
	return 0;
}

static int cow_pin_prepare(struct fl_worker *w)
{
	const struct cow_pin_conf *cf = w->c->config;
	struct cow_pin_case *cc = w->c->priv;
	struct cow_pin_worker *pw = (struct cow_pin_worker *)(cc + 1) + w->id;
	struct fl_range_stat st;

	w->priv = pw;
	if (fl_shared_page(w->c, (void **)&pw->child) || fl_map_original(w, cf->size, &pw->m, &pw->mapped))
		return -1;
	if (cf->thp_map == 1) {
		/* cow.c: map one subpage R/O and back; the PMD is split, the folio stays a THP. */
		for (size_t off = 0; off < pw->m.len; off += 2u << 20) {
			mprotect((char *)pw->m.addr + off + 4096, 4096, PROT_READ);
			mprotect((char *)pw->m.addr + off + 4096, 4096, PROT_READ | PROT_WRITE);
		}
		if (fl_range_stat(pw->m.addr, pw->m.len, &st) || !st.have_kpageflags)
			return fl_case_skip(w->c, "thp_map=pte: cannot prove a PTE-mapped THP without /proc/kpageflags (root)");
		if (st.anon_huge_kb || st.thp_pages != pw->m.len / 4096)
			return fl_case_skip(w->c, "did not get a PTE-mapped THP: AnonHugePages %llu kB, %llu of %zu pages in THPs",
					    (unsigned long long)st.anon_huge_kb, (unsigned long long)st.thp_pages,
					    pw->m.len / 4096);
		fl_case_detail(w->c, "verified_pte", "PTE-mapped THP: AnonHugePages 0 kB, every page in a THP (kpageflags)");
	}
	return 0;
}

/* Check @len bytes at @buf against @ex; stops at the first bad region. */
static void check_view(const char *buf, size_t len, const struct expect *ex, struct verdict *v)
{
	static const size_t rlen[3] = { 2048, 1024, 1024 };
	static const size_t roff[3] = { R_DMA, R_PARENT, R_CHILD };

	v->bad = 0;
	for (size_t p = 0; p < len; p += 4096) {
		for (int r = 0; r < 3; r++) {
			uint64_t off = p + roff[r], first = 0, got = 0;
			size_t bad = 0;

			if (ex->want[r] == EXP_ZERO) {
				const volatile uint64_t *q = (const volatile uint64_t *)(buf + off);

				for (size_t i = 0; i < rlen[r] / 8; i++)
					if (q[i] && !bad++) {
						first = off + i * 8;
						got = q[i];
					}
			} else {
				bad = fl_check(buf + off, off, rlen[r], (enum fl_actor)ex->want[r], ex->alt[r],
					       &first, &got);
			}
			if (bad && !v->bad) {
				v->first = first;
				v->got = got;
				v->region = r;
				v->want = ex->want[r];
			}
			v->bad += bad;
		}
	}
}

static void fill_region(char *buf, size_t len, unsigned roff, size_t rlen, enum fl_actor a)
{
	for (size_t p = 0; p < len; p += 4096)
		fl_fill(buf + p + roff, p + roff, rlen, a);
}

static bool is_hugetlb(const struct fl_case *c)
{
	return c->backing == FL_BACKING_HUGETLB_2M || c->backing == FL_BACKING_HUGETLB_1G;
}

/*
 * selftests/mm/cow.c marks one leak XFAIL, on hugetlb only ("harder to fix
 * and nobody really cares"): vmsplice takes FOLL_GET references, not pins,
 * and hugetlb_wp reuses a page by mapcount, so after fork the other mm's
 * write can reach the pages a pipe holds.  cow.c's shapes: the child
 * vmsplices and unmaps, and its pipe shows the parent's post-fork write
 * ("vmsplice() + unmap in child"); the parent vmsplices before fork, and
 * its pipe shows the child's write ("vmsplice() before fork(), unmap in
 * parent after fork()").  True if, on such a case, every bad word of the
 * @n bytes at @copy (checked against @ex) is @leak's write in the regions
 * of @regions (a bit per region) and nothing else is wrong.
 */
static bool only_leak(const struct fl_case *c, const char *copy, size_t n, const struct expect *ex,
		      int leak, unsigned regions)
{
	const struct cow_pin_conf *cf = c->config;
	struct expect lx = *ex;
	struct verdict v;

	if (!is_hugetlb(c) || cf->pin != PIN_VMSPLICE || cf->scenario == SC_DONTFORK || cf->scenario == SC_WIPEONFORK)
		return false;
	for (int r = 0; r < 3; r++)
		if (regions & 1u << r)
			lx.alt[r] = leak;
	check_view(copy, n, &lx, &v);
	return !v.bad;
}

struct pin_state {
	struct fl_hold h;
	unsigned done_before_fork;	/* o_direct reads that completed before fork */
};

static const enum fl_hold_via pin_via[] = {
	[PIN_IO_URING] = FL_HOLD_IO_URING, [PIN_O_DIRECT] = FL_HOLD_O_DIRECT,
	[PIN_VMSPLICE] = FL_HOLD_VMSPLICE, [PIN_DRIVER] = FL_HOLD_DRIVER,
};

/* A device read came back with @res instead of the 2K asked. */
static int bad_read(struct fl_worker *w, int res)
{
	return fl_case_fail(w->c, "device read into the pinned buffer returned %d (%s)", res,
			    res < 0 ? fl_errno_name(res) : "short");
}

static int pin_take(struct fl_worker *w, struct pin_state *ps, char *buf, size_t len)
{
	const struct cow_pin_conf *cf = w->c->config;
	struct cow_pin_case *cc = w->c->priv;
	unsigned entries = len / 4096 > 4096 ? 4096 : (unsigned)(len / 4096);
	char why[256], key[64];
	bool refused;
	int ret;

	snprintf(key, sizeof(key), "behaviour.%s", pins[cf->pin]);
	if (cf->pin == PIN_DRIVER && fl_hold_driver(&ps->h, why, sizeof(why)))
		return fl_case_skip(w->c, "%s", why);
	if ((cf->pin == PIN_IO_URING || cf->pin == PIN_O_DIRECT) && (ret = fl_hold_ring(&ps->h, entries)))
		return fl_case_error(w->c, "io_uring_queue_init: %s", fl_errno_name(ret));
	if (cf->pin != PIN_O_DIRECT) {
		ret = fl_hold_take(&ps->h, pin_via[cf->pin], buf, len, entries, &refused, why, sizeof(why));
		if (ret && !refused)
			return fl_case_error(w->c, "%s", why);
		if (ret && cf->pin == PIN_VMSPLICE)
			return fl_case_fail(w->c, "%s", why);
		if (ret) {
			fl_case_detail(w->c, key, fl_errno_name(ret));
			return fl_case_skip(w->c, "%s on %s refused: %s (observed behaviour)",
					    cf->pin == PIN_DRIVER ? "driver pin" : "io_uring_register_buffers",
					    fl_backings[w->c->backing].name, fl_errno_name(ret));
		}
		if (cf->pin == PIN_VMSPLICE) {
			snprintf(why, sizeof(why), "%zu of %zu bytes held by the pipe", ps->h.spliced, len);
			fl_case_detail(w->c, "vmsplice_bytes", why);
		}
		return 0;
	}
	/* O_DIRECT: the reads pin the device regions now and complete whenever. */
	for (size_t p = 0; p < len; p += 4096) {
		ret = fl_hold_queue_read(&ps->h, cc->pfd, buf + p + R_DMA, 2048, p + R_DMA, false);
		if (ret)
			return fl_case_error(w->c, "io_uring: no SQE for page %zu", p / 4096);
	}
	ret = fl_hold_submit(&ps->h);
	if (ret < 0)
		return fl_case_error(w->c, "io_uring_submit: %s", fl_errno_name(ret));
	return 0;
}

/* Reap @n device reads; the number reaped, or -1 with the outcome set. */
static int reap(struct fl_worker *w, struct pin_state *ps, unsigned n, bool wait)
{
	int ret = fl_hold_reap(&ps->h, n, wait, 2048);

	if (ret < 0)
		return fl_case_error(w->c, "io_uring CQE: %s", fl_errno_name(ret));
	if (ps->h.bad)
		return bad_read(w, ps->h.bad_res);
	return ret;
}

/* The device writes its regions through the pin (after fork). */
static int device_write(struct fl_worker *w, struct pin_state *ps, char *buf, size_t len)
{
	const struct cow_pin_conf *cf = w->c->config;
	struct cow_pin_case *cc = w->c->priv;
	struct fl_access a;
	int ret;

	switch (cf->pin) {
	case PIN_IO_URING:
		for (size_t p = 0; p < len; p += 4096) {
			ret = fl_hold_queue_read(&ps->h, cc->pfd, buf + p + R_DMA, 2048, p + R_DMA, true);
			if (ps->h.bad)
				return bad_read(w, ps->h.bad_res);
			if (ret)
				return fl_case_error(w->c, "io_uring CQE: %s", fl_errno_name(ret));
		}
		fl_hold_submit(&ps->h);
		__attribute__((fallthrough));	/* wait for every read */
	case PIN_O_DIRECT:
		ret = reap(w, ps, ps->h.inflight, true);
		return ret < 0 ? ret : 0;
	case PIN_DRIVER:
		for (size_t p = 0; p < len; p += 4096) {
			ret = fl_drv_access(&ps->h.drv, ps->h.handle, FL_ACCESS_FILL, p + R_DMA, 2048,
					    fl_actor_seed[FL_ACT_DEVICE], &a);
			if (ret)
				return fl_case_error(w->c, "driver FILL at %zu: %s", p, fl_errno_name(ret));
		}
		return 0;
	default:
		return 0;
	}
}

/* The driver verifies the device regions of every page against its pattern. */
static int driver_view(struct fl_worker *w, struct pin_state *ps, size_t len, struct verdict *v)
{
	struct fl_access a;
	int ret;

	for (size_t p = 0; p < len; p += 4096) {
		ret = fl_drv_access(&ps->h.drv, ps->h.handle, FL_ACCESS_VERIFY, p + R_DMA, 2048,
				    fl_actor_seed[FL_ACT_DEVICE], &a);
		if (ret)
			return fl_case_error(w->c, "driver VERIFY at %zu: %s", p, fl_errno_name(ret));
		if (a.mismatches && !v->bad) {
			v->first = a.first_mismatch;
			v->region = 0;
			v->want = FL_ACT_DEVICE;
			v->got_unknown = 1;
		}
		v->bad += a.mismatches;
	}
	return 0;
}

/*
 * What the pin refers to, read back by the device into @copy: io_uring
 * WRITE_FIXED of the whole fixed buffer to a memfd; the vmsplice pipe is
 * read.
 */
static int device_copy(struct fl_worker *w, struct pin_state *ps, char *buf, size_t len, char *copy)
{
	const struct cow_pin_conf *cf = w->c->config;
	struct cow_pin_case *cc = w->c->priv;
	int ret;

	if (cf->pin == PIN_VMSPLICE) {
		ret = fl_hold_pipe_read(&ps->h, copy, ps->h.spliced);
		return ret ? fl_case_error(w->c, "read vmsplice pipe: %s", strerror(-ret)) : 0;
	}
	if (ftruncate(cc->scratch, 0) || ftruncate(cc->scratch, (off_t)len))
		return fl_case_error(w->c, "ftruncate memfd: %s", strerror(errno));
	ret = fl_hold_rw_fixed(&ps->h, true, cc->scratch, buf, (unsigned)len, 0);
	if (ret != (int)len)
		return fl_case_error(w->c, "io_uring WRITE_FIXED of the pinned buffer: %s",
				     ret < 0 ? fl_errno_name(ret) : "short write");
	if (pread(cc->scratch, copy, len, 0) != (ssize_t)len)
		return fl_case_error(w->c, "read back memfd: %s", strerror(errno));
	return 0;
}

/* The device's view must match @ex (the driver checks its own regions). */
static int device_view(struct fl_worker *w, struct pin_state *ps, char *buf, size_t len,
		       const struct expect *ex, struct verdict *v)
{
	const struct cow_pin_conf *cf = w->c->config;
	size_t n = cf->pin == PIN_VMSPLICE ? ps->h.spliced : len;
	char *copy;
	int ret;

	memset(v, 0, sizeof(*v));
	if (cf->pin == PIN_O_DIRECT)
		return 0;	/* the pin ended with the read */
	if (cf->pin == PIN_DRIVER)
		return driver_view(w, ps, len, v);
	copy = malloc(n);
	if (!copy)
		return fl_case_error(w->c, "out of memory");
	ret = device_copy(w, ps, buf, len, copy);
	if (!ret)
		check_view(copy, n, ex, v);
	if (!ret && v->bad)
		v->leak_only = only_leak(w->c, copy, n, ex, FL_ACT_CHILD, 1u << 2);
	free(copy);
	return ret;
}

/*
 * The child died before reporting.  On hugetlb that is documented when the
 * pool runs dry: a COW in the reservation owner (the parent) takes the page
 * from the child, which gets SIGBUS (unmap_ref_private).
 */
static int child_died(struct fl_worker *w, int st)
{
	bool huge = is_hugetlb(w->c);

	if (WIFSIGNALED(st)) {
		fl_case_detail(w->c, "behaviour.child", WTERMSIG(st) == SIGBUS ? "SIGBUS" : strsignal(WTERMSIG(st)));
		if (huge && WTERMSIG(st) == SIGBUS)
			return fl_case_skip(w->c, "the child got SIGBUS: the hugetlb pool ran out at a COW after fork "
					    "and the kernel took the page from the child (documented for MAP_PRIVATE "
					    "hugetlb); reserve more huge pages (--prepare reserves 3x size)");
		return fl_case_error(w->c, "the child was killed by signal %d (%s) before reporting", WTERMSIG(st),
				     strsignal(WTERMSIG(st)));
	}
	return fl_case_error(w->c, "the child exited with status %d before reporting", WEXITSTATUS(st));
}

static int report(struct fl_worker *w, const char *who, const struct verdict *v, size_t len)
{
	const struct cow_pin_conf *cf = w->c->config;
	char buf[160];
	const char *want = v->want == EXP_ZERO ? "zeroes" : fl_actor_name[v->want];

	snprintf(buf, sizeof(buf), "%s: %llu bad words, first at byte 0x%llx (page %llu + %llu, %s region)",
		 who, (unsigned long long)v->bad, (unsigned long long)v->first,
		 (unsigned long long)(v->first / 4096), (unsigned long long)(v->first % 4096),
		 region_name[v->region]);
	fl_case_detail(w->c, "mismatch", buf);
	/* The cross-kernel table (scripts/report) shows this per kernel. */
	snprintf(buf, sizeof(buf), "%s saw %s", who, v->got_unknown ? "other data" : fl_whose(v->first, v->got));
	fl_case_detail(w->c, "behaviour.cow", buf);
	if (v->leak_only) {
		fl_case_detail(w->c, "known_issue", cf->scenario == SC_VMSPLICE_CHILD ?
			       "XFAIL as in selftests/mm/cow.c 'vmsplice() + unmap in child ... with hugetlb': "
			       "leak from parent into child; hugetlb_wp reuses by mapcount" :
			       "XFAIL as in selftests/mm/cow.c 'vmsplice() before fork(), unmap in parent after fork() "
			       "... with hugetlb': leak from child into parent; hugetlb_wp reuses by mapcount");
		return 0;
	}
	return fl_case_fail(w->c, "scenario %s, backing %s%s, pin %s: %s saw %s at byte 0x%llx "
			    "(page %llu + %llu, %s region) where %s was expected; %llu bad words in %zu KiB",
			    scenarios[cf->scenario], fl_backings[w->c->backing].name,
			    cf->thp_map ? " (pte-mapped)" : "", pins[cf->pin], who,
			    v->got_unknown ? "other data" : fl_whose(v->first, v->got), (unsigned long long)v->first,
			    (unsigned long long)(v->first / 4096), (unsigned long long)(v->first % 4096),
			    region_name[v->region], want, (unsigned long long)v->bad, len >> 10);
}

static void sync_write(int fd)
{
	char c = 1;

	while (write(fd, &c, 1) < 0 && errno == EINTR)
		;
}

static void sync_read(int fd)
{
	char c;

	while (read(fd, &c, 1) < 0 && errno == EINTR)
		;
}

/* The child: its writes, then (after the device wrote) its view. */
static void child_main(const struct cow_pin_conf *cf, char *buf, size_t len, const struct expect *ex,
		       struct verdict *out, int to_parent, int from_parent)
{
	if (cf->scenario == SC_DONTFORK) {
		/* The range must be gone: madvise on an unmapped range is ENOMEM. */
		out->unmapped = madvise(buf, 4096, MADV_NORMAL) && errno == ENOMEM;
		sync_write(to_parent);
		sync_read(from_parent);
		out->done = 1;
		_exit(0);
	}
	if (cf->scenario == SC_MPROTECT)
		mprotect(buf, len, PROT_READ | PROT_WRITE);
	fill_region(buf, len, R_CHILD, 1024, FL_ACT_CHILD);
	sync_write(to_parent);
	sync_read(from_parent);
	check_view(buf, len, ex, out);
	out->done = 1;
	_exit(0);
}

/* CVE-2020-29374's reproducer: vmsplice in the child, munmap, parent writes. */
static int run_vmsplice_child(struct fl_worker *w, char *buf, size_t len)
{
	struct cow_pin_worker *pw = w->priv;
	int c2p[2], p2c[2], st;
	struct verdict *out = pw->child;
	pid_t pid;

	memset(out, 0, sizeof(*out));
	if (pipe2(c2p, O_CLOEXEC) || pipe2(p2c, O_CLOEXEC))
		return fl_case_error(w->c, "pipe: %s", strerror(errno));
	len = len > 65536 ? 65536 : len;	/* a default pipe holds 16 pages */
	pid = fork();
	if (pid < 0)
		return fl_case_error(w->c, "fork: %s", strerror(errno));
	if (pid == 0) {
		/* Shared memory is shared by design: there the pipe must show the parent's write. */
		int want = shared_backing(w->c) ? FL_ACT_PARENT : FL_ACT_ORIG;
		struct expect ex = { { want, want, want }, { NO_ALT, NO_ALT, NO_ALT } };
		static char copy[65536];
		struct fl_hold h;

		close(c2p[0]);
		close(p2c[1]);
		fl_hold_init(&h);
		if (fl_hold_pipe(&h, len, false) < 0 || fl_hold_vmsplice(&h, buf, len) != (ssize_t)len)
			_exit(2);
		/* All of it: a hugetlb munmap must cover whole huge pages. */
		if (munmap(pw->m.map_addr, pw->m.map_len))
			_exit(4);
		sync_write(c2p[1]);
		sync_read(p2c[0]);
		if (fl_hold_pipe_read(&h, copy, len))
			_exit(3);
		check_view(copy, len, &ex, out);
		if (out->bad)
			out->leak_only = only_leak(w->c, copy, len, &ex, FL_ACT_PARENT, 7);
		out->done = 1;
		_exit(0);
	}
	close(c2p[1]);
	close(p2c[0]);
	sync_read(c2p[0]);
	/* Every region: the parent's post-fork write must stay the parent's. */
	fl_fill(buf, 0, len, FL_ACT_PARENT);
	sync_write(p2c[1]);
	waitpid(pid, &st, 0);
	close(c2p[0]);
	close(p2c[1]);
	if (!WIFEXITED(st) || WEXITSTATUS(st) || !out->done)
		return child_died(w, st);
	if (out->bad)
		return report(w, "the child's vmsplice'd pages", out, len);
	fl_case_detail(w->c, "behaviour.cow", "as expected");
	return 0;
}

/* The scenario's step between the pin and fork; *@base: what the parent's second KiB holds. */
static int before_fork(struct fl_worker *w, char *buf, size_t len, int *base)
{
	const struct cow_pin_conf *cf = w->c->config;

	*base = FL_ACT_ORIG;
	switch (cf->scenario) {
	case SC_WRITE_AFTER_PIN:
		/* The last pre-fork writes, after the pin (not the device regions: O_DIRECT may be landing). */
		fill_region(buf, len, R_PARENT, 2048, FL_ACT_MARKER);
		*base = FL_ACT_MARKER;
		return 0;
	case SC_MPROTECT:
		if (mprotect(buf, len, PROT_READ))
			return fl_case_error(w->c, "mprotect(PROT_READ): %s", strerror(errno));
		return 0;
	case SC_DONTFORK:
	case SC_WIPEONFORK:
		if (madvise(buf, len, cf->scenario == SC_DONTFORK ? MADV_DONTFORK : MADV_WIPEONFORK)) {
			fl_case_detail(w->c, "behaviour.madvise", fl_errno_name(errno));
			return fl_case_skip(w->c, "madvise(%s) on %s: %s (observed behaviour)", scenarios[cf->scenario],
					    fl_backings[w->c->backing].name, fl_errno_name(errno));
		}
		return 0;
	}
	return 0;
}

/* Who must see what (see the file comment): the parent, the child, the device. */
static void expectations(const struct fl_case *c, int base, struct expect *pex, struct expect *cex,
			 struct expect *dex)
{
	const struct cow_pin_conf *cf = c->config;
	bool shared = shared_backing(c);
	int dev = cf->pin == PIN_VMSPLICE ? FL_ACT_ORIG : FL_ACT_DEVICE;
	bool child_writes_ours = shared && cf->scenario != SC_DONTFORK;

	*pex = (struct expect){ { dev, FL_ACT_PARENT, child_writes_ours ? FL_ACT_CHILD : base },
				{ NO_ALT, NO_ALT, NO_ALT } };
	if (shared)
		*cex = (struct expect){ { dev, FL_ACT_PARENT, FL_ACT_CHILD }, { NO_ALT, NO_ALT, NO_ALT } };
	else
		*cex = (struct expect){ { FL_ACT_ORIG, base, FL_ACT_CHILD },
					{ cf->pin == PIN_O_DIRECT ? FL_ACT_DEVICE : NO_ALT, NO_ALT, NO_ALT } };
	if (cf->scenario == SC_WIPEONFORK)
		*cex = (struct expect){ { EXP_ZERO, EXP_ZERO, FL_ACT_CHILD }, { NO_ALT, NO_ALT, NO_ALT } };
	*dex = *pex;
	/* Private: refs, not pins: the pages as vmsplice'd, the parent's own write allowed. */
	if (cf->pin == PIN_VMSPLICE && !shared)
		*dex = (struct expect){ { FL_ACT_ORIG, base, base }, { NO_ALT, FL_ACT_PARENT, NO_ALT } };
}

/*
 * After fork, in the parent: its writes, (inject) the lost COW, the
 * device's writes, then let the child check and wait for it.
 */
static int after_fork(struct fl_worker *w, struct pin_state *ps, pid_t pid, int from_child, int to_child)
{
	const struct cow_pin_conf *cf = w->c->config;
	struct cow_pin_worker *pw = w->priv;
	char *buf = pw->m.addr;
	size_t len = pw->m.len;
	int ret = 0, st;

	if (cf->scenario == SC_MPROTECT && mprotect(buf, len, PROT_READ | PROT_WRITE)) {
		ret = fl_case_error(w->c, "mprotect(PROT_READ|PROT_WRITE): %s", strerror(errno));
		goto out_child;
	}
	fill_region(buf, len, R_PARENT, 1024, FL_ACT_PARENT);
	sync_read(from_child);
	if (cf->inject) {
		/* TEST ONLY: the parent's write reaching the child's copy, as a lost COW would. */
		size_t off = (len / 2 & ~4095ul) + R_PARENT;
		struct iovec l = { .iov_base = buf + off, .iov_len = 1024 };
		struct iovec r = { .iov_base = buf + off, .iov_len = 1024 };

		if (process_vm_writev(pid, &l, 1, &r, 1, 0) != 1024) {
			ret = fl_case_error(w->c, "inject=lost-cow: process_vm_writev: %s", strerror(errno));
			goto out_child;
		}
	}
	ret = device_write(w, ps, buf, len);
	if (ret)
		goto out_child;
	sync_write(to_child);
out_child:
	if (ret)
		kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
	if (ret)
		return ret;
	if (!WIFEXITED(st) || WEXITSTATUS(st) || !pw->child->done)
		return child_died(w, st);
	return 0;
}

/* The parent's view, then the child's, then the device's. */
static int verdicts(struct fl_worker *w, struct pin_state *ps, const struct expect *pex, const struct expect *dex)
{
	const struct cow_pin_conf *cf = w->c->config;
	struct cow_pin_worker *pw = w->priv;
	char *buf = pw->m.addr;
	size_t len = pw->m.len;
	struct verdict v;
	int ret = 0;

	if (cf->pin == PIN_O_DIRECT) {
		char buf2[96];

		snprintf(buf2, sizeof(buf2), "%u of %zu reads still in flight at fork",
			 (unsigned)(len / 4096) - ps->done_before_fork, len / 4096);
		fl_case_detail(w->c, "o_direct_in_flight", buf2);
	}
	check_view(buf, len, pex, &v);
	if (v.bad)
		return report(w, "the parent", &v, len);
	if (cf->scenario == SC_DONTFORK) {
		if (!pw->child->unmapped)
			ret = fl_case_fail(w->c, "scenario dontfork, backing %s, pin %s: the child has a mapping at the "
					   "MADV_DONTFORK range 0x%llx", fl_backings[w->c->backing].name, pins[cf->pin],
					   (unsigned long long)(uintptr_t)buf);
	} else if (pw->child->bad) {
		ret = report(w, "the child", pw->child, len);
	}
	if (ret)
		return ret;
	ret = device_view(w, ps, buf, len, dex, &v);
	if (!ret && v.bad)
		ret = report(w, "the device (read back through the pin)", &v, len);
	if (!ret && !v.bad && !pw->child->bad)
		fl_case_detail(w->c, "behaviour.cow", "as expected");
	return ret;
}

static int cow_pin_run(struct fl_worker *w, struct fl_work *done)
{
	const struct cow_pin_conf *cf = w->c->config;
	struct cow_pin_worker *pw = w->priv;
	char *buf = pw->m.addr;
	size_t len = pw->m.len;
	struct pin_state ps = { .done_before_fork = 0 };
	struct expect pex, cex, dex;
	int c2p[2] = { -1, -1 }, p2c[2] = { -1, -1 }, ret, base;
	pid_t pid;

	done->ops = 1;
	done->bytes = len;
	if (cf->scenario == SC_VMSPLICE_CHILD)
		return run_vmsplice_child(w, buf, len);
	fl_hold_init(&ps.h);
	ret = pin_take(w, &ps, buf, len);
	if (!ret)
		ret = before_fork(w, buf, len, &base);
	if (ret)
		goto out;
	expectations(w->c, base, &pex, &cex, &dex);
	if (pipe2(c2p, O_CLOEXEC) || pipe2(p2c, O_CLOEXEC)) {
		ret = fl_case_error(w->c, "pipe: %s", strerror(errno));
		goto out;
	}
	memset(pw->child, 0, sizeof(*pw->child));
	if (cf->pin == PIN_O_DIRECT) {
		ret = reap(w, &ps, ps.h.inflight, false);
		if (ret < 0)
			goto out;
		ps.done_before_fork = (unsigned)ret;
		ret = 0;
	}
	pid = fork();
	if (pid < 0) {
		ret = fl_case_error(w->c, "fork: %s", strerror(errno));
		goto out;
	}
	if (pid == 0) {
		close(c2p[0]);
		close(p2c[1]);
		child_main(cf, buf, len, &cex, pw->child, c2p[1], p2c[0]);
	}
	/* Only the child holds these now: if it dies, the parent reads EOF instead of hanging. */
	close(c2p[1]);
	close(p2c[0]);
	c2p[1] = p2c[0] = -1;
	ret = after_fork(w, &ps, pid, c2p[0], p2c[1]);
	if (!ret)
		ret = verdicts(w, &ps, &pex, &dex);
out:
	for (int i = 0; i < 2; i++) {
		if (c2p[i] >= 0)
			close(c2p[i]);
		if (p2c[i] >= 0)
			close(p2c[i]);
	}
	fl_hold_close(&ps.h);
	return ret;
}

static int cow_pin_check(struct fl_worker *w)
{
	struct cow_pin_worker *pw = w->priv;

	if (pw->mapped)
		fl_unmap(&pw->m);
	pw->mapped = false;
	return 0;
}

static void cow_pin_teardown(struct fl_case *c)
{
	struct cow_pin_case *cc = c->priv;
	struct cow_pin_worker *pws;

	if (!cc)
		return;
	pws = (struct cow_pin_worker *)(cc + 1);
	for (unsigned i = 0; i < c->nr_workers; i++) {
		if (pws[i].mapped)
			fl_unmap(&pws[i].m);
		if (pws[i].child)
			munmap(pws[i].child, 4096);
	}
	if (cc->pfd >= 0)
		close(cc->pfd);
	if (cc->scratch >= 0)
		close(cc->scratch);
	free(cc);
}

const struct workload wl_cow_pin = {
	.name = "cow-pin",
	.headline = "ops_rate",
	.summary = "fork/COW correctness with pinned memory: which mm sees which data (cow.c-style matrix)",
	.kernel_paths = "copy_page_range -> copy_present_pte / copy_huge_pmd / copy_hugetlb_page_range "
			"(folio_maybe_dma_pinned early COW), do_wp_page (PageAnonExclusive reuse), "
			"io_sqe_buffer_register, bio_iov_iter_get_pages, iter_to_pipe, MADV_DONTFORK/WIPEONFORK, mprotect",
	.needs = "liburing; file_dir with O_DIRECT (pin=o_direct); /dev/faultline (pin=driver); root for thp_map=pte",
	.backings = FL_BACKINGS_ANON | FL_B(FL_BACKING_SHMEM),
	.default_backings = FL_B(FL_BACKING_ANON_4K) | FL_B(FL_BACKING_THP),
	.mode = FL_MODE_BATCH,
	.op_unit = "scenario",
	.report_bytes = false,
	.options = cow_pin_options,
	.config_size = sizeof(struct cow_pin_conf),
	.footprint = cow_pin_footprint,
	.supported = cow_pin_supported,
	.setup = cow_pin_setup,
	.prepare = cow_pin_prepare,
	.run = cow_pin_run,
	.check = cow_pin_check,
	.teardown = cow_pin_teardown,
};

FL_WORKLOAD_REGISTER(wl_cow_pin);
