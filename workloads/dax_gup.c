// SPDX-License-Identifier: GPL-2.0
/*
 * dax-gup: get_user_pages / pin_user_pages on DAX mappings, reached the
 * ways userspace reaches them, and what each kernel allows.
 *
 * Kernel paths: O_DIRECT -> iomap_dio_rw / blkdev direct I/O ->
 * iov_iter_extract_pages / iov_iter_get_pages -> pin_user_pages_fast (FOLL_PIN)
 * or get_user_pages_fast; io_uring_register(IORING_REGISTER_BUFFERS) ->
 * pin_user_pages(FOLL_WRITE|FOLL_LONGTERM) -> __gup_longterm_locked /
 * check_vma_flags (vma_is_fsdax: EOPNOTSUPP); vmsplice -> iov_iter_get_pages;
 * the driver's get_user_pages_fast / pin_user_pages_fast / FOLL_LONGTERM;
 * fork -> copy_page_range over a pmd-mapped DAX VMA (shared file pmds are
 * not copied; the child refaults them).
 *
 * Long-term pins of fsdax pages are refused by modern kernels (the
 * filesystem cannot truncate or reflink under a device's DMA); devdax
 * allows them; 5.10's io_uring refused every file-backed buffer but
 * hugetlbfs.  That is per-kernel behaviour, not a failure: the errno (or
 * "ok") is recorded in details "behaviour.<op>", and only a mismatch with
 * `expect` (if set in the job file) fails the case.  Data is verified
 * wherever an operation succeeded: a wrong byte is a `fail`.
 *
 * Needs: an fsdax mount (dax_dir) or devdax device; O_DIRECT ops a disk
 * filesystem at file_dir (not tmpfs); io_uring ops liburing and a kernel with
 * io_uring; drv-* ops /dev/faultline (drivers/faultline.ko).
 *
 * To use:
 *   faultline run dax-gup --backing fsdax,devdax --set op=iouring-register
 *   faultline run dax-gup --backing fsdax --set op=odirect-read --set faulted=no
 *   faultline describe dax-gup
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hold.h"
#include "mmflags.h"
#include "workload.h"

#define IO_CHUNK (1ul << 20)

enum op {
	OP_ODIRECT_READ, OP_ODIRECT_WRITE, OP_IOURING_REGISTER, OP_VMSPLICE,
	OP_DRV_GET, OP_DRV_PIN, OP_DRV_PIN_LONGTERM, OP_FORK,
};
static const char *const ops[] = {
	"odirect-read", "odirect-write", "iouring-register", "vmsplice",
	"drv-get", "drv-pin", "drv-pin-longterm", "fork", NULL
};
/* details key "behaviour.<name>" per op: the report's per-kernel behaviour tables. */
static const char *const behaviour_keys[] = {
	"odirect_read", "odirect_write", "io_uring_register", "vmsplice",
	"get_user_pages_fast", "pin_user_pages_fast", "pin_user_pages_longterm", "fork_shared_pmd"
};

struct gup_conf {
	uint64_t size;
	int op;
	bool faulted;
	char expect[FL_OPT_STRLEN];
};

static const struct fl_option dg_options[] = {
	FL_OPT_SIZE_(struct gup_conf, size, "size", SZ_2M, 1ull << 34, "16M",
		     "bytes of the DAX mapping used as the buffer"),
	FL_OPT_ENUM_(struct gup_conf, op, "op", ops, "odirect-read",
		     "odirect-read/-write: O_DIRECT pread/pwrite of a file_dir file with the DAX mapping as buffer; "
		     "iouring-register: IORING_REGISTER_BUFFERS (FOLL_LONGTERM) then READ_FIXED; vmsplice: into a pipe; "
		     "drv-get/drv-pin/drv-pin-longterm: faultline.ko get_user_pages_fast/pin_user_pages_fast/FOLL_LONGTERM; "
		     "fork: pre-faulted pmd mapping, child and parent check each other's data"),
	FL_OPT_BOOL_(struct gup_conf, faulted, "faulted", "yes",
		     "touch the mapping before the operation (no: GUP has to fault it in)"),
	FL_OPT_STR_(struct gup_conf, expect, "expect", "",
		    "expected behaviour of the pin: ok or an errno name (EOPNOTSUPP, ...); \"\" = record only"),
	FL_OPT_END
};

struct dg_state {
	struct fl_mapping m;
	bool mapped;
	int dfd;		/* O_DIRECT file in file_dir */
	struct fl_hold h;	/* the driver (drv-*) */
	uint64_t seed;
	bool did;		/* the operation succeeded: verify data */
	char behaviour[48];
};

static size_t dg_footprint(const struct fl_case *c)
{
	return ((const struct gup_conf *)c->config)->size;
}

static bool needs_dfile(int op)
{
	return op == OP_ODIRECT_READ || op == OP_ODIRECT_WRITE || op == OP_IOURING_REGISTER;
}

static const char *dg_supported(struct fl_case *c)
{
	const struct gup_conf *cf = c->config;
	static char buf[512];
	const char *why = fl_backings[c->backing].available(c->bconf, dg_footprint(c), buf, sizeof(buf));

	if (why)
		return why;
	if (c->nr_workers != 1)
		return "dax-gup runs one worker: set threads=1";
	if (cf->op == OP_DRV_GET)
		return fl_driver_supported(FL_FEAT_GET_USER_PAGES_FAST);
	if (cf->op == OP_DRV_PIN || cf->op == OP_DRV_PIN_LONGTERM)
		return fl_driver_supported(FL_FEAT_GUP_BENCH);
	if (!cf->faulted && c->backing == FL_BACKING_DEVDAX && cf->op != OP_ODIRECT_READ &&
	    cf->op != OP_IOURING_REGISTER)
		return "faulted=no puts the data in through write(2): a devdax device has no write(); use fsdax, or faulted=yes";
	if (cf->op == OP_FORK && !cf->faulted)
		return "fork is about a pre-faulted pmd mapping: faulted=yes";
	return NULL;
}

/* Offset of the first word of @len bytes at @p that is not @seed's pattern, or ~0. */
static size_t verify(const void *p, size_t len, uint64_t seed)
{
	uint64_t first;

	return fl_check_seed(p, 0, len, seed, &first) ? first : ~(size_t)0;
}

static int dg_setup(struct fl_case *c)
{
	const struct gup_conf *cf = c->config;
	struct dg_state *s = calloc(1, sizeof(*s));
	char why[600];
	int fd;

	if (!s)
		return -ENOMEM;
	c->priv = s;
	s->dfd = -1;
	if (cf->op == OP_DRV_GET || cf->op == OP_DRV_PIN || cf->op == OP_DRV_PIN_LONGTERM) {
		if (fl_hold_driver(&s->h, why, sizeof(why)))
			return fl_case_skip(c, "%s", why);
	}
	if (!needs_dfile(cf->op))
		return 0;
	/* The other end of the I/O: a page-cache file that takes O_DIRECT, pattern seed 1. */
	fd = fl_pattern_file(c->bconf->file_dir, (cf->size + IO_CHUNK - 1) / IO_CHUNK * IO_CHUNK, 1, why, sizeof(why));
	if (fd < 0)
		return fd == -ENOMEM ? fd : fl_case_skip(c, "%s", why);
	s->dfd = fl_reopen_direct(fd, c->bconf->file_dir, O_RDWR, why, sizeof(why));
	close(fd);
	if (s->dfd < 0)
		return fl_case_skip(c, "O_DIRECT on file_dir %s: %s (needs a disk filesystem, not tmpfs)",
				    c->bconf->file_dir, strerror(-s->dfd));
	return 0;
}

static int dg_prepare(struct fl_worker *w)
{
	struct fl_case *c = w->c;
	const struct gup_conf *cf = c->config;
	struct dg_state *s = c->priv;
	char why[256];
	int ret;

	w->priv = s;
	s->did = false;
	s->seed++;
	ret = fl_map(c->bconf, c->backing, cf->size, 0, &s->m, why, sizeof(why));
	if (ret)
		return ret == -ENOMEM || ret == -ENOSPC ? fl_case_skip(c, "%s", why) : fl_case_error(c, "%s", why);
	s->mapped = true;
	if (cf->op == OP_ODIRECT_WRITE || cf->op == OP_VMSPLICE || cf->op == OP_FORK ||
	    cf->op == OP_DRV_GET || cf->op == OP_DRV_PIN || cf->op == OP_DRV_PIN_LONGTERM) {
		/* The data the operation must carry: through the mapping, or write(2) if unfaulted. */
		if (cf->faulted) {
			fl_fill_seed(s->m.addr, 0, s->m.len, s->seed + 100);
		} else if (c->backing == FL_BACKING_FSDAX) {
			uint64_t *buf = malloc(IO_CHUNK);

			if (!buf)
				return -ENOMEM;
			for (size_t off = 0; off < s->m.len; off += IO_CHUNK) {
				fl_fill_seed(buf, off, IO_CHUNK, s->seed + 100);
				if (pwrite(s->m.fd, buf, IO_CHUNK, (off_t)off) != (ssize_t)IO_CHUNK) {
					free(buf);
					return fl_case_error(c, "pwrite to the dax file: %s", strerror(errno));
				}
			}
			free(buf);
		}
	} else if (cf->faulted) {
		for (size_t off = 0; off < s->m.len; off += SZ_4K)
			((volatile char *)s->m.addr)[off] = 0;
	}
	return 0;
}

static void set_behaviour(struct fl_case *c, struct dg_state *s, int err)
{
	const struct gup_conf *cf = c->config;
	char key[64];

	snprintf(s->behaviour, sizeof(s->behaviour), "%s", err ? fl_errno_name(err) : "ok");
	snprintf(key, sizeof(key), "behaviour.%s", behaviour_keys[cf->op]);
	fl_case_detail(c, key, s->behaviour);
	s->did = !err;
}

static int op_odirect(struct fl_worker *w, struct dg_state *s, bool rd)
{
	for (size_t off = 0; off < s->m.len; off += IO_CHUNK) {
		ssize_t n;

		fl_lat_begin(w);
		n = rd ? pread(s->dfd, (char *)s->m.addr + off, IO_CHUNK, (off_t)off)
		       : pwrite(s->dfd, (char *)s->m.addr + off, IO_CHUNK, (off_t)off);
		fl_lat_end(w, 0);
		if (n != (ssize_t)IO_CHUNK) {
			set_behaviour(w->c, s, n < 0 ? errno : EIO);
			return 0;
		}
	}
	set_behaviour(w->c, s, 0);
	return 0;
}

static int op_iouring(struct fl_worker *w, struct dg_state *s)
{
	struct fl_hold h;
	int ret;

	fl_hold_init(&h);
	ret = fl_hold_ring(&h, 8);
	if (ret < 0)
		return fl_case_skip(w->c, "io_uring_queue_init: %s (kernel without io_uring, or io_uring_disabled)",
				    strerror(-ret));
	fl_lat_begin(w);
	ret = fl_hold_register(&h, s->m.addr, s->m.len);
	fl_lat_end(w, 0);
	set_behaviour(w->c, s, -ret);
	/* Registered: read the file into the pinned DAX buffer, 1 MiB at a time. */
	for (size_t off = 0; off < s->m.len && s->did; off += IO_CHUNK) {
		ret = fl_hold_rw_fixed(&h, false, s->dfd, (char *)s->m.addr + off, IO_CHUNK, off);
		if (ret != (int)IO_CHUNK) {
			fl_case_fail(w->c, "READ_FIXED into the registered DAX buffer at %zu: %s", off,
				     ret < 0 ? strerror(-ret) : "short read");
			s->did = false;
		}
	}
	fl_hold_close(&h);
	return 0;
}

static int op_vmsplice(struct fl_worker *w, struct dg_state *s)
{
	size_t piece = 64 << 10;
	char *buf = malloc(piece);
	struct fl_hold h;
	uint64_t first;
	int ret = 0;

	fl_hold_init(&h);
	if (!buf || fl_hold_pipe(&h, piece, false) < 0) {
		free(buf);
		return fl_case_error(w->c, "pipe: %s", strerror(errno));
	}
	for (size_t off = 0; off < s->m.len; off += piece) {
		ssize_t n;

		fl_lat_begin(w);
		n = fl_hold_vmsplice(&h, (char *)s->m.addr + off, piece);
		fl_lat_end(w, 0);
		if (n <= 0) {
			set_behaviour(w->c, s, n < 0 ? (int)-n : EIO);
			goto out;
		}
		/* Drain what the pipe holds and compare with the pattern. */
		ret = fl_hold_pipe_read(&h, buf, (size_t)n);
		if (ret) {
			ret = fl_case_error(w->c, "read the vmsplice pipe: %s", strerror(-ret));
			goto out;
		}
		if (fl_check_seed(buf, off, (size_t)n, s->seed + 100, &first)) {
			ret = fl_case_fail(w->c, "vmsplice of the DAX mapping carried wrong data at offset %zu",
					   (size_t)first);
			goto out;
		}
	}
	set_behaviour(w->c, s, 0);
out:
	fl_hold_close(&h);
	free(buf);
	return ret;
}

static int op_drv(struct fl_worker *w, struct dg_state *s, int op)
{
	struct fl_gup_bench g = {
		.addr = (uintptr_t)s->m.addr,
		.len = s->m.len,
		.op = op == OP_DRV_GET ? FL_GUP_GET_FAST : op == OP_DRV_PIN ? FL_GUP_PIN_FAST : FL_GUP_PIN,
		.flags = FL_GUP_WRITE | (op == OP_DRV_PIN_LONGTERM ? FL_GUP_LONGTERM : 0),
		.pages_per_call = 512,
	};
	int ret = fl_drv_gup_bench(&s->h.drv, &g, w->lat[0]);

	if (ret)
		return fl_case_error(w->c, "FL_IOC_GUP_BENCH: %s", strerror(-ret));
	set_behaviour(w->c, s, -g.error);
	if (!g.error && g.nr_pages != s->m.len / SZ_4K)
		return fl_case_fail(w->c, "%s got %llu of %zu pages", ops[op], (unsigned long long)g.nr_pages,
				    s->m.len / SZ_4K);
	if (!g.error && op != OP_DRV_GET && g.verified != g.nr_pages)
		return fl_case_fail(w->c, "%llu of %llu DAX pages not seen dma-pinned after %s",
				    (unsigned long long)(g.nr_pages - g.verified), (unsigned long long)g.nr_pages, ops[op]);
	if (g.nr_pages)
		fl_metric(w->c, "get_ns_per_page", "ns/page", FL_LOWER_IS_BETTER, (double)g.get_ns / (double)g.nr_pages);
	return 0;
}

/* Child and parent each check the other's half after fork of a pmd-mapped VMA. */
static int op_fork(struct fl_worker *w, struct dg_state *s)
{
	size_t half = s->m.len / 2, bad;
	uint64_t *p = s->m.addr;
	int st;
	pid_t pid;

	fl_lat_begin(w);
	pid = fork();
	if (pid < 0)
		return fl_case_error(w->c, "fork: %s", strerror(errno));
	if (!pid) {
		/* The child sees the parent's data, then writes its own into the second half. */
		if (verify(p, s->m.len, s->seed + 100) != ~(size_t)0)
			_exit(10);
		fl_fill_seed(p + half / 8, 0, half, s->seed + 200);
		_exit(0);
	}
	fl_lat_end(w, 0);
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st))
		return fl_case_fail(w->c, "fork child died (status %#x)", st);
	if (WEXITSTATUS(st) == 10)
		return fl_case_fail(w->c, "the child of fork saw wrong data in the pre-faulted DAX mapping");
	if (verify(p, half, s->seed + 100) != ~(size_t)0)
		return fl_case_fail(w->c, "the parent's first half changed across fork");
	bad = verify(p + half / 8, half, s->seed + 200);
	if (bad != ~(size_t)0)
		return fl_case_fail(w->c, "the parent does not see the child's write at offset %zu (MAP_SHARED DAX)",
				    half + bad);
	set_behaviour(w->c, s, 0);
	s->did = false;		/* verified here */
	return 0;
}

static int dg_run(struct fl_worker *w, struct fl_work *done)
{
	struct fl_case *c = w->c;
	const struct gup_conf *cf = c->config;
	struct dg_state *s = w->priv;
	int ret;

	switch (cf->op) {
	case OP_ODIRECT_READ: ret = op_odirect(w, s, true); break;
	case OP_ODIRECT_WRITE: ret = op_odirect(w, s, false); break;
	case OP_IOURING_REGISTER: ret = op_iouring(w, s); break;
	case OP_VMSPLICE: ret = op_vmsplice(w, s); break;
	case OP_FORK: ret = op_fork(w, s); break;
	default: ret = op_drv(w, s, cf->op); break;
	}
	done->ops = s->m.len / SZ_4K;
	done->bytes = s->m.len;
	return ret;
}

static int dg_check(struct fl_worker *w)
{
	struct fl_case *c = w->c;
	const struct gup_conf *cf = c->config;
	struct dg_state *s = w->priv;
	uint64_t *buf = NULL, first;
	size_t bad = ~(size_t)0;
	int ret = 0;

	if (cf->expect[0] && s->behaviour[0] && strcmp(cf->expect, s->behaviour)) {
		ret = fl_case_fail(c, "%s on %s: expected %s, observed %s", ops[cf->op],
				   fl_backings[c->backing].name, cf->expect, s->behaviour);
		goto out;
	}
	if (!s->did)
		goto out;
	switch (cf->op) {
	case OP_ODIRECT_READ:
	case OP_IOURING_REGISTER:
		bad = verify(s->m.addr, s->m.len, 1);
		break;
	case OP_ODIRECT_WRITE:
		/* Read the file back (O_DIRECT, aligned bounce) and compare. */
		if (posix_memalign((void **)&buf, SZ_4K, IO_CHUNK))
			break;
		for (size_t off = 0; off < s->m.len && bad == ~(size_t)0; off += IO_CHUNK) {
			if (pread(s->dfd, buf, IO_CHUNK, (off_t)off) != (ssize_t)IO_CHUNK) {
				ret = fl_case_error(c, "read back: %s", strerror(errno));
				break;
			}
			if (fl_check_seed(buf, off, IO_CHUNK, s->seed + 100, &first))
				bad = first;
		}
		free(buf);
		break;
	default:
		/* GUP must not have changed the data. */
		bad = verify(s->m.addr, s->m.len, s->seed + 100);
		break;
	}
	if (bad != ~(size_t)0)
		ret = fl_case_fail(c, "%s on %s (faulted=%s): wrong data at offset %zu", ops[cf->op],
				   fl_backings[c->backing].name, cf->faulted ? "yes" : "no", bad);
out:
	if (s->mapped)
		fl_unmap(&s->m);
	s->mapped = false;
	return ret;
}

static void dg_teardown(struct fl_case *c)
{
	struct dg_state *s = c->priv;

	if (!s)
		return;
	if (s->mapped)
		fl_unmap(&s->m);
	if (s->dfd >= 0)
		close(s->dfd);
	fl_hold_close(&s->h);
	free(s);
	c->priv = NULL;
}

const struct workload wl_dax_gup = {
	.name = "dax-gup",
	.headline = "ops_rate",
	.summary = "GUP on DAX mappings: O_DIRECT, io_uring registered buffers (long-term pins), vmsplice, driver pins, fork",
	.kernel_paths = "iov_iter_extract_pages/iov_iter_get_pages -> pin_user_pages_fast; io_sqe_buffers_register -> "
			"pin_user_pages(FOLL_LONGTERM) -> check_vma_flags/vma_is_fsdax; vmsplice_to_pipe; "
			"gup_fast (gup_huge_pmd, devmap pmds); copy_page_range on DAX VMAs",
	.needs = "fsdax mount or devdax device; file_dir on a disk filesystem for O_DIRECT; liburing; /dev/faultline for drv-*",
	.backings = FL_BACKINGS_DAX,
	.default_backings = FL_B(FL_BACKING_FSDAX),
	.mode = FL_MODE_BATCH,
	.op_unit = "page",
	.report_bytes = true,
	.lat = { { "call", "one I/O, registration, vmsplice, driver GUP call (kernel-timed) or fork" } },
	.options = dg_options,
	.config_size = sizeof(struct gup_conf),
	.footprint = dg_footprint,
	.supported = dg_supported,
	.setup = dg_setup,
	.prepare = dg_prepare,
	.run = dg_run,
	.check = dg_check,
	.teardown = dg_teardown,
};

FL_WORKLOAD_REGISTER(wl_dax_gup);
