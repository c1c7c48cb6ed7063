// SPDX-License-Identifier: GPL-2.0
/*
 * Holding memory as a device does, and the patterns that check it; see
 * bench/hold.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>
#include <linux/capability.h>

#include "hold.h"

const uint64_t fl_actor_seed[FL_ACT_COUNT] = {
	0x0123456789abcdefull, 0x5eed0000aaaa0001ull, 0x5eed0000cccc0002ull,
	0x5eed0000dddd0003ull, 0x5eed00000000ffffull,
};

const char *const fl_actor_name[FL_ACT_COUNT] = {
	"original data", "the parent's post-fork write", "the child's write",
	"the device's write", "the pre-read marker",
};

void fl_fill_seed(void *p, uint64_t patoff, size_t len, uint64_t seed)
{
	uint64_t *q = p;

	for (size_t i = 0; i < len / 8; i++)
		q[i] = fl_pattern(seed, patoff + i * 8);
}

void fl_fill(void *p, uint64_t patoff, size_t len, enum fl_actor a)
{
	fl_fill_seed(p, patoff, len, fl_actor_seed[a]);
}

size_t fl_check_seed(const void *p, uint64_t patoff, size_t len, uint64_t seed, uint64_t *first)
{
	const volatile uint64_t *q = p;
	size_t bad = 0;

	*first = UINT64_MAX;
	for (size_t i = 0; i < len / 8; i++)
		if (q[i] != fl_pattern(seed, patoff + i * 8) && !bad++)
			*first = patoff + i * 8;
	return bad;
}

size_t fl_check(const void *p, uint64_t patoff, size_t len, enum fl_actor want, int alt,
		uint64_t *first, uint64_t *got)
{
	const volatile uint64_t *q = p;
	size_t bad = 0;

	for (size_t i = 0; i < len / 8; i++) {
		uint64_t o = patoff + i * 8, v = q[i];

		if (v == fl_word(want, o) || (alt >= 0 && v == fl_word((enum fl_actor)alt, o)))
			continue;
		if (!bad++) {
			*first = o;
			*got = v;
		}
	}
	return bad;
}

const char *fl_whose(uint64_t off, uint64_t v)
{
	if (!v)
		return "zeroes";
	for (int a = 0; a < FL_ACT_COUNT; a++)
		if (v == fl_word((enum fl_actor)a, off))
			return fl_actor_name[a];
	return "data of no actor";
}

void fl_note_verified(struct fl_case *c, const struct fl_mapping *m)
{
	struct fl_range_stat st;
	char buf[256];

	memset(&st, 0, sizeof(st));
	if (fl_range_stat(m->addr, m->len, &st))
		return;
	snprintf(buf, sizeof(buf), "%s: %llu of %zu 4K pages present%s; %llu in THPs, %llu in hugetlb pages; "
		 "AnonHugePages %llu kB, ShmemPmdMapped %llu kB", fl_backings[m->backing].name,
		 (unsigned long long)st.present_pages, m->len / 4096,
		 st.have_kpageflags ? "" : " (no kpageflags: page kinds unknown)",
		 (unsigned long long)st.thp_pages, (unsigned long long)st.huge_pages,
		 (unsigned long long)st.anon_huge_kb, (unsigned long long)st.shmem_pmd_kb);
	fl_case_detail(c, "verified", buf);
}

int fl_map_original(struct fl_worker *w, size_t len, struct fl_mapping *m, bool *mapped)
{
	char why[256];
	int ret = fl_map(w->c->bconf, w->c->backing, len, 0, m, why, sizeof(why));

	if (ret)
		return ret == -ENOMEM ? fl_case_skip(w->c, "%s", why) : fl_case_error(w->c, "%s", why);
	*mapped = true;
	fl_fill(m->addr, 0, m->len, FL_ACT_ORIG);
	if (fl_verify(m, why, sizeof(why)))
		return fl_case_skip(w->c, "%s", why);
	if (w->id == 0)
		fl_note_verified(w->c, m);
	return 0;
}

int fl_shared_page(struct fl_case *c, void **page)
{
	void *p;

	if (*page)
		return 0;
	p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return fl_case_error(c, "mmap shared result page: %s", strerror(errno));
	*page = p;
	return 0;
}

int fl_pattern_file(const char *dir, size_t len, uint64_t seed, char *why, size_t whylen)
{
	char path[512];
	size_t chunk = 1 << 20;
	void *buf = NULL;
	int fd, e;

	snprintf(path, sizeof(path), "%s/faultline-pin.XXXXXX", dir);
	fd = mkostemp(path, O_CLOEXEC);
	if (fd < 0) {
		e = errno;
		snprintf(why, whylen, "create pattern file in %s (file_dir): %s", dir, strerror(e));
		return -e;
	}
	unlink(path);
	if (posix_memalign(&buf, 4096, chunk)) {
		close(fd);
		snprintf(why, whylen, "out of memory for the pattern file");
		return -ENOMEM;
	}
	for (size_t off = 0; off < len; off += chunk) {
		size_t n = len - off < chunk ? len - off : chunk;

		fl_fill_seed(buf, off, n, seed);
		if (pwrite(fd, buf, n, (off_t)off) != (ssize_t)n) {
			e = errno ? errno : EIO;
			snprintf(why, whylen, "write pattern file in %s: %s", dir, strerror(e));
			goto fail;
		}
	}
	if (fsync(fd)) {
		e = errno;
		snprintf(why, whylen, "fsync pattern file in %s: %s", dir, strerror(e));
		goto fail;
	}
	free(buf);
	return fd;
fail:
	free(buf);
	close(fd);
	return -e;
}

int fl_reopen_direct(int fd, const char *dir, int flags, char *why, size_t whylen)
{
	char path[64];
	int dfd;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	dfd = open(path, flags | O_DIRECT | O_CLOEXEC);
	if (dfd < 0) {
		int e = errno;

		snprintf(why, whylen, "O_DIRECT open of a file in %s (file_dir): %s%s", dir,
			 strerror(e), e == EINVAL ? " (the filesystem does not support O_DIRECT)" : "");
		return -e;
	}
	return dfd;
}

bool fl_has_cap(int cap)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[2];

	if (syscall(SYS_capget, &h, d))
		return false;
	return d[CAP_TO_INDEX(cap)].effective & CAP_TO_MASK(cap);
}

int fl_drop_pin_caps(void)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[2];

	if (syscall(SYS_capget, &h, d))
		return -errno;
	for (int i = 0; i < 2; i++) {
		d[i].effective &= ~(CAP_TO_MASK(CAP_IPC_LOCK) | CAP_TO_MASK(CAP_SYS_RESOURCE));
		d[i].permitted &= ~(CAP_TO_MASK(CAP_IPC_LOCK) | CAP_TO_MASK(CAP_SYS_RESOURCE));
		d[i].inheritable = 0;
	}
	return syscall(SYS_capset, &h, d) ? -errno : 0;
}

/* @want_limit set: apply it as asked and say so. */
static bool memlock_set(struct fl_case *c, const struct rlimit *rl, uint64_t need, uint64_t want_limit,
			bool ipc_lock)
{
	struct rlimit nr = { .rlim_cur = want_limit, .rlim_max = rl->rlim_max };
	char buf[320];

	if (nr.rlim_max != RLIM_INFINITY && nr.rlim_max < nr.rlim_cur)
		nr.rlim_cur = nr.rlim_max;
	snprintf(buf, sizeof(buf), "set RLIMIT_MEMLOCK to %llu KiB as asked (memlock option): %s%s",
		 (unsigned long long)(nr.rlim_cur >> 10),
		 setrlimit(RLIMIT_MEMLOCK, &nr) ? strerror(errno) : "ok",
		 ipc_lock ? "; CAP_IPC_LOCK held, so pins are not charged to it" : "");
	fl_case_detail(c, "memlock", buf);
	return ipc_lock || nr.rlim_cur >= need;
}

bool fl_memlock_ensure(struct fl_case *c, uint64_t need, uint64_t want_limit)
{
	bool ipc_lock = fl_has_cap(CAP_IPC_LOCK);
	struct rlimit rl, nr;
	char buf[320];

	if (getrlimit(RLIMIT_MEMLOCK, &rl)) {
		fl_case_detail(c, "memlock", "getrlimit(RLIMIT_MEMLOCK) failed");
		return false;
	}
	if (want_limit)
		return memlock_set(c, &rl, need, want_limit, ipc_lock);
	if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= need) {
		snprintf(buf, sizeof(buf), "RLIMIT_MEMLOCK %s covers %llu KiB: left as it was",
			 rl.rlim_cur == RLIM_INFINITY ? "unlimited" : "already",
			 (unsigned long long)(need >> 10));
		fl_case_detail(c, "memlock", buf);
		return true;
	}
	nr.rlim_cur = nr.rlim_max = RLIM_INFINITY;
	if (!setrlimit(RLIMIT_MEMLOCK, &nr)) {
		snprintf(buf, sizeof(buf), "raised RLIMIT_MEMLOCK from %llu KiB to unlimited (setrlimit, this case's process only)",
			 (unsigned long long)(rl.rlim_cur >> 10));
		fl_case_detail(c, "memlock", buf);
		return true;
	}
	/* No CAP_SYS_RESOURCE: the hard limit is as far as we may go. */
	nr.rlim_cur = nr.rlim_max = rl.rlim_max;
	if (rl.rlim_max != rl.rlim_cur && !setrlimit(RLIMIT_MEMLOCK, &nr))
		rl.rlim_cur = rl.rlim_max;
	if (ipc_lock) {
		snprintf(buf, sizeof(buf), "RLIMIT_MEMLOCK %llu KiB, not permitted to raise it (no CAP_SYS_RESOURCE: EPERM); "
			 "not needed: CAP_IPC_LOCK held, so the %llu KiB of pins are not charged to it",
			 (unsigned long long)(rl.rlim_cur >> 10), (unsigned long long)(need >> 10));
		fl_case_detail(c, "memlock", buf);
		return true;
	}
	snprintf(buf, sizeof(buf), "RLIMIT_MEMLOCK %llu KiB, not permitted to raise it (no CAP_SYS_RESOURCE: EPERM); "
		 "the pins need %llu KiB: raise the hard limit (ulimit -l, limits.conf) or grant CAP_IPC_LOCK",
		 (unsigned long long)(rl.rlim_cur >> 10), (unsigned long long)(need >> 10));
	fl_case_detail(c, "memlock", buf);
	return rl.rlim_cur >= need;
}

const char *fl_gup_refusal(enum fl_backing_id b, unsigned how, int err)
{
	bool longterm = how & FL_FOLL_LONGTERM;

	err = err < 0 ? -err : err;
	if (longterm && b == FL_BACKING_FSDAX && err == EOPNOTSUPP)
		return "check_vma_flags refuses FOLL_LONGTERM on fsdax (vma_is_fsdax): the filesystem cannot "
		       "truncate or reflink under a long-term pin";
	if (longterm && (how & FL_FOLL_WRITE) && b == FL_BACKING_FILE && err == EFAULT)
		return "writable_file_mapping_allowed (6.5) refuses FOLL_LONGTERM|FOLL_WRITE on a page-cache file "
		       "mapping: dirty tracking cannot follow a long-term pin";
	if ((how & FL_FOLL_IO_URING) && b == FL_BACKING_FILE && err == EOPNOTSUPP)
		return "io_uring refused a file-backed buffer (its own check before 6.5)";
	return NULL;
}

/* ---------------------------------------------------------------- holds */

void fl_hold_init(struct fl_hold *h)
{
	memset(h, 0, sizeof(*h));
	h->drv.fd = -1;
}

void fl_hold_close(struct fl_hold *h)
{
	if (h->ring_ok) {
		/* Reads still in flight target the memory: let them land first. */
		if (h->inflight)
			io_uring_submit_and_wait(&h->ring, h->inflight);
		io_uring_queue_exit(&h->ring);	/* unregisters: unpins */
	}
	h->ring_ok = h->registered = false;
	h->inflight = 0;
	if (h->piped) {
		close(h->pipe[0]);
		close(h->pipe[1]);
	}
	h->piped = false;
	h->spliced = 0;
	if (h->pinned)
		fl_drv_destroy(&h->drv, h->handle, 0, NULL);
	h->pinned = false;
	if (h->drv_open)
		fl_driver_close(&h->drv);
	h->drv_open = false;
}

int fl_hold_ring(struct fl_hold *h, unsigned entries)
{
	int ret = io_uring_queue_init(entries, &h->ring, 0);

	if (ret)
		return ret < 0 ? ret : -ret;
	h->ring_ok = true;
	return 0;
}

int fl_hold_register(struct fl_hold *h, void *addr, size_t len)
{
	struct iovec iov[FL_HOLD_URING_BUFS];
	unsigned n = 0;
	int ret;

	for (size_t off = 0; off < len && n < FL_HOLD_URING_BUFS; off += FL_HOLD_URING_BUF_MAX, n++) {
		iov[n].iov_base = (char *)addr + off;
		iov[n].iov_len = len - off < FL_HOLD_URING_BUF_MAX ? len - off : FL_HOLD_URING_BUF_MAX;
	}
	ret = io_uring_register_buffers(&h->ring, iov, n);
	if (ret)
		return ret < 0 ? ret : -ret;
	h->registered = true;
	h->base = addr;
	return 0;
}

int fl_hold_unregister(struct fl_hold *h)
{
	int ret = io_uring_unregister_buffers(&h->ring);

	h->registered = false;
	return ret;
}

/* The registered buffer @buf is in. */
static int buf_index(const struct fl_hold *h, const void *buf)
{
	return (int)(((const char *)buf - h->base) / FL_HOLD_URING_BUF_MAX);
}

int fl_hold_submit(struct fl_hold *h)
{
	int ret = io_uring_submit(&h->ring);

	return ret < 0 ? ret : 0;
}

int fl_hold_reap(struct fl_hold *h, unsigned n, bool wait, int want)
{
	struct io_uring_cqe *cqe;
	unsigned got = 0;
	int ret;

	while (got < n) {
		ret = wait ? io_uring_wait_cqe(&h->ring, &cqe) : io_uring_peek_cqe(&h->ring, &cqe);
		if (ret == -EAGAIN && !wait)
			break;
		if (ret)
			return ret;
		h->inflight--;
		if (cqe->res != want) {
			h->bad = true;
			h->bad_res = cqe->res;
			io_uring_cqe_seen(&h->ring, cqe);
			break;
		}
		io_uring_cqe_seen(&h->ring, cqe);
		got++;
	}
	return (int)got;
}

int fl_hold_queue_read(struct fl_hold *h, int fd, void *buf, unsigned len, uint64_t off, bool fixed)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&h->ring);
	int ret;

	if (!sqe) {
		ret = fl_hold_submit(h);
		if (ret)
			return ret;
		ret = fl_hold_reap(h, 1, true, (int)len);
		if (ret < 0)
			return ret;
		if (h->bad)
			return 0;	/* the caller sees h->bad */
		sqe = io_uring_get_sqe(&h->ring);
		if (!sqe)
			return -EBUSY;
	}
	if (fixed)
		io_uring_prep_read_fixed(sqe, fd, buf, len, off, buf_index(h, buf));
	else
		io_uring_prep_read(sqe, fd, buf, len, off);
	h->inflight++;
	return 0;
}

int fl_hold_rw_fixed(struct fl_hold *h, bool write, int fd, void *buf, unsigned len, uint64_t off)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&h->ring);
	struct io_uring_cqe *cqe;
	int ret;

	if (!sqe)
		return -EBUSY;
	if (write)
		io_uring_prep_write_fixed(sqe, fd, buf, len, off, buf_index(h, buf));
	else
		io_uring_prep_read_fixed(sqe, fd, buf, len, off, buf_index(h, buf));
	io_uring_submit(&h->ring);
	ret = io_uring_wait_cqe(&h->ring, &cqe);
	if (ret)
		return ret;
	ret = cqe->res;
	io_uring_cqe_seen(&h->ring, cqe);
	return ret;
}

int fl_hold_pipe(struct fl_hold *h, size_t size, bool exact)
{
	int ret;

	if (!h->piped) {
		if (pipe2(h->pipe, O_CLOEXEC))
			return -errno;
		h->piped = true;
	}
	if (!size)
		return fcntl(h->pipe[1], F_GETPIPE_SZ);
	ret = fcntl(h->pipe[1], F_SETPIPE_SZ, (int)size);
	if (ret < 0 && exact)
		return -errno;
	/* Without CAP_SYS_RESOURCE a pipe holds fs.pipe-max-size: take what it has. */
	if (ret < 0)
		ret = fcntl(h->pipe[1], F_GETPIPE_SZ);
	return ret < 0 ? -errno : ret;
}

ssize_t fl_hold_vmsplice(struct fl_hold *h, void *addr, size_t len)
{
	struct iovec iov = { .iov_base = addr, .iov_len = len };
	ssize_t n = vmsplice(h->pipe[1], &iov, 1, 0);

	if (n < 0)
		return -errno;
	h->spliced += (size_t)n;
	return n;
}

int fl_hold_pipe_read(struct fl_hold *h, void *dst, size_t len)
{
	for (size_t got = 0; got < len;) {
		ssize_t r = read(h->pipe[0], (char *)dst + got, len - got);

		if (r <= 0)
			return r < 0 ? -errno : -EIO;
		got += (size_t)r;
		h->spliced -= (size_t)r;
	}
	return 0;
}

int fl_hold_pipe_drop(struct fl_hold *h, int devnull, size_t len)
{
	for (size_t left = len; left > 0;) {
		ssize_t m = splice(h->pipe[0], NULL, devnull, NULL, left, SPLICE_F_MOVE);

		if (m <= 0)
			return m < 0 ? -errno : -EIO;
		left -= (size_t)m;
		h->spliced -= (size_t)m;
	}
	return 0;
}

int fl_hold_driver(struct fl_hold *h, char *why, size_t whylen)
{
	int ret;

	if (h->drv_open)
		return 0;
	ret = fl_driver_open(&h->drv, why, whylen);
	if (ret)
		return ret;
	h->drv_open = true;
	return 0;
}

int fl_hold_pin(struct fl_hold *h, void *addr, size_t len, uint32_t flags, struct fl_pin_create *out)
{
	int ret = fl_drv_pin_create(&h->drv, addr, len, flags, out);

	if (ret)
		return ret;
	h->handle = out->handle;
	h->pinned = true;
	return 0;
}

int fl_hold_unpin(struct fl_hold *h, uint32_t flags, uint64_t *ns)
{
	int ret = fl_drv_destroy(&h->drv, h->handle, flags, ns);

	h->pinned = false;
	return ret;
}

int fl_hold_take(struct fl_hold *h, enum fl_hold_via via, void *addr, size_t len, unsigned entries,
		 bool *refused, char *why, size_t whylen)
{
	struct fl_pin_create pc;
	ssize_t n;
	int ret = 0;

	*refused = false;
	switch (via) {
	case FL_HOLD_IO_URING:
		if (!h->ring_ok && (ret = fl_hold_ring(h, entries))) {
			snprintf(why, whylen, "io_uring_queue_init: %s", fl_errno_name(ret));
			return ret;
		}
		ret = fl_hold_register(h, addr, len);
		if (ret) {
			*refused = true;
			snprintf(why, whylen, "io_uring_register_buffers: %s", fl_errno_name(ret));
		}
		return ret;
	case FL_HOLD_VMSPLICE:
		ret = fl_hold_pipe(h, len > (1 << 20) ? (1 << 20) : len, false);
		if (ret < 0) {
			snprintf(why, whylen, "pipe: %s", strerror(-ret));
			return ret;
		}
		n = fl_hold_vmsplice(h, addr, (size_t)ret < len ? (size_t)ret : len);
		if (n <= 0) {
			*refused = true;
			snprintf(why, whylen, "vmsplice: %s", n ? strerror((int)-n) : "took nothing");
			return n ? (int)n : -EIO;
		}
		return 0;
	case FL_HOLD_DRIVER:
		ret = fl_hold_driver(h, why, whylen);
		if (ret)
			return ret;
		ret = fl_hold_pin(h, addr, len, FL_PIN_WRITE | FL_PIN_LONGTERM | FL_PIN_FAST, &pc);
		if (ret) {
			*refused = true;
			snprintf(why, whylen, "pin_user_pages_fast(FOLL_LONGTERM): %s", fl_errno_name(ret));
		}
		return ret;
	case FL_HOLD_O_DIRECT:
		break;
	}
	snprintf(why, whylen, "O_DIRECT holds are the reads in flight: queue them with fl_hold_queue_read");
	return -EINVAL;
}
