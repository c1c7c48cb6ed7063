// SPDX-License-Identifier: GPL-2.0
/*
 * gup-user: pin and release throughput through the userspace entry points
 * into GUP, per backing.  No driver needed (but for via=driver): this is
 * what any kernel offers to any program, with the syscall and setup costs
 * a real user pays.  gup-bench is the kernel-timed peer through
 * faultline.ko.
 *
 * Kernel paths:
 *   io_uring    io_uring_register(IORING_REGISTER_BUFFERS) ->
 *               io_sqe_buffer_register -> io_pin_pages -> pin_user_pages_fast
 *               (FOLL_WRITE|FOLL_LONGTERM: check_and_migrate_movable_folios,
 *               writable_file_mapping_allowed); unregister -> unpin_user_page
 *   o_direct    read(O_DIRECT) -> iomap_dio_rw -> bio_iov_iter_get_pages ->
 *               iov_iter_extract_pages (FOLL_PIN), unpinned at bio completion
 *   vmsplice    vmsplice -> iter_to_pipe -> iov_iter_get_pages2 (FOLL_GET);
 *               released by splice to /dev/null (pipe_buf_release -> put_page)
 *   process_vm_readv  process_vm_rw_core -> pin_user_pages_remote (16 pages
 *               per call, remote GUP on the target mm), copy, unpin
 *   driver      FL_IOC_PIN_CREATE -> pin_user_pages_fast(FOLL_WRITE|
 *               FOLL_LONGTERM), kernel-timed; FL_IOC_DESTROY -> unpin
 *
 * Needs: liburing (io_uring, 5.1+), a disk filesystem at file_dir that
 * supports O_DIRECT (o_direct), /dev/faultline (driver).
 *
 * To use:
 *   faultline run gup-user --backing anon-4k,thp --set via=io_uring,o_direct,vmsplice
 *   faultline run workloads/suites/gup.job
 *   faultline describe gup-user
 *
 * Each batch walks the buffer in calls of `chunk` bytes.  Where pin and
 * release are separate calls (io_uring, vmsplice, driver) both are timed
 * and reported per page (pin_ns_per_page, release_ns_per_page); o_direct
 * and process_vm_readv pin, copy and unpin inside one call, reported as
 * call_ns_per_page.  The memory is populated before the timed batch (GUP on
 * present pages, like gup_test -a) and verified after it.
 *
 * A refusal the kernel documents is the observed behaviour, not a failure:
 * the case passes with details "behaviour.<via>" = the errno name (e.g.
 * FOLL_LONGTERM on page-cache files: EFAULT since 6.5's "mm/gup: disallow
 * FOLL_LONGTERM GUP-nonfast writing to file-backed mappings", EOPNOTSUPP
 * from io_uring's own file-backed check before that; ENOMEM from io_uring
 * when the registration exceeds RLIMIT_MEMLOCK).  scripts/report tabulates
 * the behaviour.* details per kernel.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/uio.h>
#include <unistd.h>

#include "hold.h"
#include "workload.h"

enum { VIA_IO_URING, VIA_O_DIRECT, VIA_VMSPLICE, VIA_PVR, VIA_DRIVER };
static const char *const vias[] = { "io_uring", "o_direct", "vmsplice", "process_vm_readv", "driver", NULL };

enum { LAT_PIN, LAT_RELEASE, LAT_CALL };

struct gup_user_conf {
	uint64_t size;
	uint64_t chunk;
	int via;
	uint64_t memlock;
	bool unprivileged;
};

static const struct fl_option gup_user_options[] = {
	FL_OPT_SIZE_(struct gup_user_conf, size, "size", 1 << 20, 1ull << 36, "32M",
		     "bytes each worker pins and releases per batch"),
	FL_OPT_SIZE_(struct gup_user_conf, chunk, "chunk", 4096, 1ull << 30, "1M",
		     "bytes per pin call (io_uring: one registered buffer; vmsplice: the pipe size)"),
	FL_OPT_ENUM_(struct gup_user_conf, via, "via", vias, "io_uring",
		     "entry point: io_uring (register/unregister buffers, FOLL_PIN|FOLL_LONGTERM), o_direct (read(O_DIRECT) from file_dir, FOLL_PIN), vmsplice (FOLL_GET, released by splice to /dev/null), process_vm_readv (remote GUP), driver (faultline.ko pin)"),
	FL_OPT_SIZE_(struct gup_user_conf, memlock, "memlock", 0, 1ull << 40, "0",
		     "0: raise RLIMIT_MEMLOCK to cover the pins when permitted; else set it to this (tests of the ENOMEM path)"),
	FL_OPT_BOOL_(struct gup_user_conf, unprivileged, "unprivileged", "no",
		     "drop CAP_IPC_LOCK and CAP_SYS_RESOURCE in the case's process, so pins are charged to RLIMIT_MEMLOCK as for a normal user"),
	FL_OPT_END
};

struct gup_user_case {
	int dfd;		/* o_direct: the pattern file, O_DIRECT */
	int devnull;		/* vmsplice: where pipes are drained */
};

struct gup_user_worker {
	struct fl_mapping m;
	bool mapped;
	struct fl_hold h;	/* ring, pipe or driver of the entry point */
	void *dst;		/* process_vm_readv: local destination */
	bool refused;		/* this batch was refused: nothing to verify */
};

static size_t gup_user_footprint(const struct fl_case *c)
{
	return ((const struct gup_user_conf *)c->config)->size;
}

static const char *gup_user_supported(struct fl_case *c)
{
	const struct gup_user_conf *cf = c->config;
	struct fl_hold h = { .ring_ok = false };
	static char buf[160];
	int ret;

	if (cf->chunk > cf->size || cf->chunk % 4096)
		return "chunk must be a multiple of 4K and at most size";
	if (cf->via == VIA_DRIVER)
		return fl_driver_supported(FL_FEAT_PIN);
	if (cf->via == VIA_IO_URING) {
		ret = fl_hold_ring(&h, 4);
		if (ret) {
			snprintf(buf, sizeof(buf), "io_uring_setup: %s (kernel without io_uring, 5.1+, or "
				 "kernel.io_uring_disabled set)", fl_errno_name(ret));
			return buf;
		}
		fl_hold_close(&h);
	}
	return NULL;
}

static int gup_user_setup(struct fl_case *c)
{
	const struct gup_user_conf *cf = c->config;
	struct gup_user_case *gc;
	char why[600];
	int fd, ret;

	gc = calloc(1, sizeof(*gc) + c->nr_workers * sizeof(struct gup_user_worker));
	if (!gc)
		return -ENOMEM;
	c->priv = gc;
	gc->dfd = gc->devnull = -1;
	/* Before the workers exist: threads inherit these credentials. */
	if (cf->unprivileged) {
		ret = fl_drop_pin_caps();
		if (ret)
			return fl_case_error(c, "capset (dropping CAP_IPC_LOCK): %s", strerror(-ret));
		fl_case_detail(c, "unprivileged", "CAP_IPC_LOCK and CAP_SYS_RESOURCE dropped in the case's process");
	}
	if ((cf->via == VIA_IO_URING || cf->via == VIA_DRIVER) &&
	    !fl_memlock_ensure(c, cf->size * c->nr_workers, cf->memlock) && !cf->memlock) {
		struct rlimit rl;

		getrlimit(RLIMIT_MEMLOCK, &rl);
		fl_case_detail(c, "behaviour.memlock", "EPERM");
		return fl_case_skip(c, "RLIMIT_MEMLOCK is %llu KiB and may not be raised (EPERM: no CAP_SYS_RESOURCE); "
				    "long-term pins of %llu KiB are charged to it without CAP_IPC_LOCK: raise the hard limit",
				    (unsigned long long)(rl.rlim_cur >> 10),
				    (unsigned long long)((cf->size * c->nr_workers) >> 10));
	}
	if (cf->via == VIA_O_DIRECT) {
		fd = fl_pattern_file(c->bconf->file_dir, cf->chunk, fl_actor_seed[FL_ACT_DEVICE], why, sizeof(why));
		if (fd < 0)
			return fl_case_skip(c, "%s", why);
		gc->dfd = fl_reopen_direct(fd, c->bconf->file_dir, O_RDONLY, why, sizeof(why));
		close(fd);
		if (gc->dfd < 0) {
			fl_case_detail(c, "behaviour.o_direct_open", fl_errno_name(gc->dfd));
			return fl_case_skip(c, "%s", why);
		}
	}
	if (cf->via == VIA_VMSPLICE) {
		gc->devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
		if (gc->devnull < 0)
			return fl_case_error(c, "open /dev/null: %s", strerror(errno));
	}
	return 0;
}

static int worker_init(struct fl_worker *w, struct gup_user_worker *gw)
{
	const struct gup_user_conf *cf = w->c->config;
	char why[256];
	int ret;

	fl_hold_init(&gw->h);
	switch (cf->via) {
	case VIA_IO_URING:
		ret = fl_hold_ring(&gw->h, 8);
		if (ret)
			return fl_case_error(w->c, "io_uring_queue_init: %s", strerror(-ret));
		break;
	case VIA_VMSPLICE:
		ret = fl_hold_pipe(&gw->h, 0, false);
		if (ret < 0)
			return fl_case_error(w->c, "pipe: %s", strerror(-ret));
		/* One vmsplice call per chunk: the pipe must hold a chunk's pages. */
		ret = fl_hold_pipe(&gw->h, cf->chunk > (1 << 30) ? (1 << 30) : cf->chunk, true);
		if (ret < 0) {
			fl_case_detail(w->c, "behaviour.pipe_size", fl_errno_name(ret));
			return fl_case_skip(w->c, "F_SETPIPE_SZ %llu: %s (fs.pipe-max-size; needs CAP_SYS_RESOURCE above it): use a smaller chunk",
					    (unsigned long long)cf->chunk, strerror(-ret));
		}
		break;
	case VIA_PVR:
		gw->dst = mmap(NULL, cf->chunk, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
		if (gw->dst == MAP_FAILED) {
			gw->dst = NULL;
			return fl_case_error(w->c, "mmap destination: %s", strerror(errno));
		}
		break;
	case VIA_DRIVER:
		if (fl_hold_driver(&gw->h, why, sizeof(why)))
			return fl_case_skip(w->c, "%s", why);
		break;
	}
	return 0;
}

static int gup_user_prepare(struct fl_worker *w)
{
	const struct gup_user_conf *cf = w->c->config;
	struct gup_user_case *gc = w->c->priv;
	struct gup_user_worker *gw = (struct gup_user_worker *)(gc + 1) + w->id;
	int ret;

	if (!w->priv) {
		w->priv = gw;
		ret = worker_init(w, gw);
		if (ret)
			return ret;
	}
	/* GUP on present pages; the pattern lets check() see stray writes. */
	if (fl_map_original(w, cf->size, &gw->m, &gw->mapped))
		return -1;
	gw->refused = false;
	return 0;
}

/*
 * The first call was refused.  Documented refusals are recorded as the
 * kernel's behaviour (the case passes); anything else fails.
 */
static int refusal(struct fl_worker *w, int err, const char *what)
{
	const struct gup_user_conf *cf = w->c->config;
	struct gup_user_worker *gw = w->priv;
	unsigned how = cf->via == VIA_IO_URING ? FL_FOLL_WRITE | FL_FOLL_LONGTERM | FL_FOLL_IO_URING :
		       cf->via == VIA_DRIVER ? FL_FOLL_WRITE | FL_FOLL_LONGTERM : 0;
	char key[64], buf[256];

	err = err < 0 ? -err : err;
	snprintf(key, sizeof(key), "behaviour.%s", vias[cf->via]);
	fl_case_detail(w->c, key, fl_errno_name(err));
	gw->refused = true;
	/* FOLL_LONGTERM on page cache: dirty tracking cannot follow a long-term pin. */
	if (w->c->backing == FL_BACKING_FILE && fl_gup_refusal(w->c->backing, how, err)) {
		snprintf(buf, sizeof(buf), "%s refused a long-term pin of a page-cache file mapping with %s: "
			 "documented (writable_file_mapping_allowed, 6.5; io_uring file-backed check before)",
			 what, fl_errno_name(err));
		fl_case_detail(w->c, "refusal", buf);
		return 0;
	}
	if (w->c->backing == FL_BACKING_FSDAX && fl_gup_refusal(w->c->backing, how, err)) {
		fl_case_detail(w->c, "refusal", "long-term pins on fsdax refused (EOPNOTSUPP): documented");
		return 0;
	}
	if (cf->via == VIA_IO_URING && err == ENOMEM && cf->memlock) {
		snprintf(buf, sizeof(buf), "io_uring_register_buffers of %llu KiB over RLIMIT_MEMLOCK %llu KiB: ENOMEM, "
			 "as io_uring_register(2) documents", (unsigned long long)(cf->chunk >> 10),
			 (unsigned long long)(cf->memlock >> 10));
		fl_case_detail(w->c, "refusal", buf);
		return 0;
	}
	return fl_case_fail(w->c, "%s on %s refused: %s (%s)", what, fl_backings[w->c->backing].name,
			    fl_errno_name(err), strerror(err));
}

/* Time spent per kind; the one_*() calls return 0, -errno (refused), or 1 (failed, reason set). */
struct tally {
	uint64_t pin, release, call;
};

/* One pin and its release, @pin and @release ns: into the histograms and the tally. */
static void tally_add(struct fl_worker *w, struct tally *t, uint64_t pin, uint64_t release)
{
	fl_lat_record(w, LAT_PIN, pin);
	fl_lat_record(w, LAT_RELEASE, release);
	fl_lat_record(w, LAT_CALL, pin + release);
	t->pin += pin;
	t->release += release;
	t->call += pin + release;
}

static int one_io_uring(struct fl_worker *w, struct gup_user_worker *gw, void *p, size_t len,
			struct tally *t)
{
	uint64_t t0, t1, t2;
	int ret;

	t0 = fl_now_ns();
	ret = fl_hold_register(&gw->h, p, len);
	t1 = fl_now_ns();
	if (ret)
		return ret;
	ret = fl_hold_unregister(&gw->h);
	t2 = fl_now_ns();
	if (ret)
		return fl_case_fail(w->c, "io_uring_unregister_buffers: %s", fl_errno_name(ret)), 1;
	tally_add(w, t, t1 - t0, t2 - t1);
	return 0;
}

static int one_vmsplice(struct fl_worker *w, struct gup_user_worker *gw, void *p, size_t len,
			struct tally *t)
{
	struct gup_user_case *gc = w->c->priv;

	for (size_t done = 0; done < len;) {
		uint64_t t0, t1, t2;
		ssize_t n;
		int ret;

		t0 = fl_now_ns();
		n = fl_hold_vmsplice(&gw->h, (char *)p + done, len - done);
		t1 = fl_now_ns();
		if (n <= 0)
			return n < 0 ? (int)n : -EIO;
		/* Releasing the references without copying: splice to /dev/null. */
		ret = fl_hold_pipe_drop(&gw->h, gc->devnull, (size_t)n);
		if (ret)
			return fl_case_fail(w->c, "splice pipe -> /dev/null: %s", strerror(-ret)), 1;
		t2 = fl_now_ns();
		tally_add(w, t, t1 - t0, t2 - t1);
		done += (size_t)n;
	}
	return 0;
}

/* A call that pins, copies and unpins (@what returned @n of @len bytes in @ns): into the tally. */
static int one_call(struct fl_worker *w, const char *what, ssize_t n, size_t len, uint64_t ns, struct tally *t)
{
	if (n < 0)
		return -errno;
	if ((size_t)n != len)
		return fl_case_fail(w->c, "%s of %zu bytes returned %zd", what, len, n), 1;
	fl_lat_record(w, LAT_CALL, ns);
	t->call += ns;
	return 0;
}

static int one_o_direct(struct fl_worker *w, void *p, size_t len, struct tally *t)
{
	struct gup_user_case *gc = w->c->priv;
	uint64_t t0 = fl_now_ns();
	ssize_t n = pread(gc->dfd, p, len, 0);

	return one_call(w, "O_DIRECT read", n, len, fl_now_ns() - t0, t);
}

static int one_pvr(struct fl_worker *w, struct gup_user_worker *gw, void *p, size_t len,
		   struct tally *t)
{
	struct iovec local = { .iov_base = gw->dst, .iov_len = len };
	struct iovec remote = { .iov_base = p, .iov_len = len };
	uint64_t t0 = fl_now_ns();
	/*
	 * Our own pid: the remote-GUP path is the same, and a forked target
	 * would make every R/O pin unshare a COW-shared page (5.19+), which
	 * is COW cost, not GUP.
	 */
	ssize_t n = process_vm_readv(getpid(), &local, 1, &remote, 1, 0);

	return one_call(w, "process_vm_readv", n, len, fl_now_ns() - t0, t);
}

static int one_driver(struct fl_worker *w, struct gup_user_worker *gw, void *p, size_t len,
		      struct tally *t)
{
	struct fl_pin_create pc;
	uint64_t ns = 0;
	int ret;

	ret = fl_hold_pin(&gw->h, p, len, FL_PIN_WRITE | FL_PIN_LONGTERM | FL_PIN_FAST, &pc);
	if (ret)
		return ret;
	ret = fl_hold_unpin(&gw->h, 0, &ns);
	if (ret)
		return fl_case_fail(w->c, "FL_IOC_DESTROY: %s", fl_errno_name(ret)), 1;
	if (pc.nr_pages != len / 4096)
		return fl_case_fail(w->c, "driver pinned %llu of %zu pages", (unsigned long long)pc.nr_pages,
				    len / 4096), 1;
	/* Kernel-timed (ktime): no syscall cost in these. */
	tally_add(w, t, pc.pin_ns, ns);
	return 0;
}

static int gup_user_run(struct fl_worker *w, struct fl_work *done)
{
	const struct gup_user_conf *cf = w->c->config;
	struct gup_user_worker *gw = w->priv;
	struct tally t = { 0 };
	uint64_t pages = gw->m.len / 4096;
	int ret = 0;

	for (size_t off = 0; off < gw->m.len; off += cf->chunk) {
		char *p = (char *)gw->m.addr + off;
		size_t len = gw->m.len - off < cf->chunk ? gw->m.len - off : cf->chunk;

		switch (cf->via) {
		case VIA_IO_URING:
			ret = one_io_uring(w, gw, p, len, &t);
			break;
		case VIA_O_DIRECT:
			ret = one_o_direct(w, p, len, &t);
			break;
		case VIA_VMSPLICE:
			ret = one_vmsplice(w, gw, p, len, &t);
			break;
		case VIA_PVR:
			ret = one_pvr(w, gw, p, len, &t);
			break;
		case VIA_DRIVER:
			ret = one_driver(w, gw, p, len, &t);
			break;
		}
		if (ret > 0)
			return -1;	/* failed, reason set */
		if (ret < 0 && off == 0)
			return refusal(w, ret, vias[cf->via]);
		if (ret < 0)
			return fl_case_fail(w->c, "%s failed at offset %zu of %zu on %s after earlier calls succeeded: %s",
					    vias[cf->via], off, gw->m.len, fl_backings[w->c->backing].name,
					    fl_errno_name(ret));
	}
	if (t.pin)
		fl_metric(w->c, "pin_ns_per_page", "ns/page", FL_LOWER_IS_BETTER, (double)t.pin / (double)pages);
	if (t.release)
		fl_metric(w->c, "release_ns_per_page", "ns/page", FL_LOWER_IS_BETTER,
			  (double)t.release / (double)pages);
	fl_metric(w->c, "call_ns_per_page", "ns/page", FL_LOWER_IS_BETTER, (double)t.call / (double)pages);
	done->ops = pages;
	done->bytes = gw->m.len;
	return 0;
}

/* After the batch: the buffer holds what the entry point should have left. */
static int gup_user_check(struct fl_worker *w)
{
	const struct gup_user_conf *cf = w->c->config;
	struct gup_user_worker *gw = w->priv;
	uint64_t first = 0, got = 0;
	const char *what = "";
	size_t bad = 0;
	int ret = 0;

	if (!gw->mapped)
		return 0;
	if (gw->refused)
		goto out;
	for (size_t off = 0; off < gw->m.len && !bad; off += cf->chunk) {
		size_t len = gw->m.len - off < cf->chunk ? gw->m.len - off : cf->chunk;
		/* O_DIRECT wrote the file (device pattern at file offsets) into each chunk. */
		uint64_t patoff = cf->via == VIA_O_DIRECT ? 0 : off;

		bad = fl_check((char *)gw->m.addr + off, patoff, len,
			       cf->via == VIA_O_DIRECT ? FL_ACT_DEVICE : FL_ACT_ORIG, -1, &first, &got);
		if (bad) {
			what = fl_whose(first, got);
			first += off - patoff;
		}
	}
	if (!bad && cf->via == VIA_PVR) {
		size_t last = (gw->m.len - 1) / cf->chunk * cf->chunk;

		bad = fl_check(gw->dst, last, gw->m.len - last, FL_ACT_ORIG, -1, &first, &got);
		what = bad ? fl_whose(first, got) : "";
	}
	if (bad)
		ret = fl_case_fail(w->c, "after %s on %s: %zu words wrong, first at byte %llu: %s",
				   vias[cf->via], fl_backings[w->c->backing].name, bad,
				   (unsigned long long)first, what);
out:
	fl_unmap(&gw->m);
	gw->mapped = false;
	return ret;
}

static void gup_user_teardown(struct fl_case *c)
{
	struct gup_user_case *gc = c->priv;
	struct gup_user_worker *gws;

	if (!gc)
		return;
	gws = (struct gup_user_worker *)(gc + 1);
	for (unsigned i = 0; i < c->nr_workers; i++) {
		struct gup_user_worker *gw = &gws[i];

		if (gw->mapped)
			fl_unmap(&gw->m);
		fl_hold_close(&gw->h);
		if (gw->dst)
			munmap(gw->dst, ((const struct gup_user_conf *)c->config)->chunk);
	}
	if (gc->dfd >= 0)
		close(gc->dfd);
	if (gc->devnull >= 0)
		close(gc->devnull);
	free(gc);
}

/* FOLL_PIN pins taken and released per page (vmsplice and process_vm_readv take refs, not pins). */
static const struct fl_evidence gup_user_evidence[] = {
	{ FL_VS_nr_foll_pin_acquired, FL_PER_OP, 0, false, 0, 0 },
	{ FL_VS_nr_foll_pin_released, FL_PER_OP, 0, false, 0, 0 },
	{ .per = FL_PER_END }
};

const struct workload wl_gup_user = {
	.name = "gup-user",
	.headline = "ops_rate",
	.evidence = gup_user_evidence,
	.summary = "pin/release cost through io_uring, O_DIRECT, vmsplice, process_vm_readv (and the driver) per backing",
	.kernel_paths = "io_sqe_buffer_register -> pin_user_pages_fast(FOLL_LONGTERM); iomap_dio_rw -> "
			"bio_iov_iter_get_pages (FOLL_PIN); vmsplice -> iov_iter_get_pages2 (FOLL_GET); "
			"process_vm_rw_core -> pin_user_pages_remote; unpin_user_page(s), put_page",
	.needs = "liburing (io_uring 5.1+); file_dir with O_DIRECT (o_direct); /dev/faultline (driver)",
	.backings = FL_BACKINGS_ALL,
	.default_backings = FL_B(FL_BACKING_ANON_4K) | FL_B(FL_BACKING_THP),
	.mode = FL_MODE_BATCH,
	.op_unit = "page",
	.report_bytes = true,
	.lat = {
		{ "pin", "one pin call of `chunk` bytes (io_uring register, vmsplice, driver pin; driver: kernel-timed)" },
		{ "release", "one release of `chunk` bytes (io_uring unregister, splice to /dev/null, driver unpin)" },
		{ "call", "pin + release of `chunk` bytes; o_direct and process_vm_readv: the whole syscall" },
	},
	.options = gup_user_options,
	.config_size = sizeof(struct gup_user_conf),
	.footprint = gup_user_footprint,
	.supported = gup_user_supported,
	.setup = gup_user_setup,
	.prepare = gup_user_prepare,
	.run = gup_user_run,
	.check = gup_user_check,
	.teardown = gup_user_teardown,
};

FL_WORKLOAD_REGISTER(wl_gup_user);
