// SPDX-License-Identifier: GPL-2.0
/*
 * fl-unload: faultline.ko torn down under load.  Each iteration:
 *
 *  1. W worker processes open /dev/faultline, register pinned buffers
 *     (pin_user_pages_fast FOLL_WRITE|FOLL_LONGTERM, and pin_user_pages
 *     under mmap_lock) and a write mirror (mmu_interval_notifier +
 *     hmm_range_fault), and keep the device thread busy: one thread fills
 *     and verifies the pinned buffer, one fills the mirror and checks it for
 *     stale entries, one runs MADV_DONTNEED/mprotect storms on the mirrored
 *     range.  With device-private memory (FL_FEAT_DEVICE_PRIVATE, e.g. a
 *     build: kernel) one more thread migrates a buffer to the device and
 *     reads it back through migrate_to_ram faults, checking the data.  Some
 *     workers fork a "holder" that inherits the file and keeps accessing
 *     the same handles from another mm (and checks its fork-time copy of
 *     the device buffer).
 *  2. delete_module() must be refused while the files are open.
 *  3. Teardown, with a thread calling delete_module() in a loop all along:
 *     workers are SIGKILLed mid-ioctl, or close the file from one thread
 *     while the others are inside ioctls.  While a holder still has the
 *     file, delete_module() must still be refused (the release then runs in
 *     the holder's mm: mmu_interval_notifier_remove on a dead mm).
 *  4. Once every file is gone the unload must succeed (within a timeout);
 *     then FOLL_PIN must balance in /proc/vmstat (nr_foll_pin_acquired ==
 *     nr_foll_pin_released: no pin leaked) and finit_module() loads it back.
 *
 * Kernel paths: fput -> fl_release -> unpin_user_pages / mmu_interval_
 * notifier_remove (also after exit_mmap of the mirrored mm), do_exit with
 * the device thread mid-request, delete_module vs module refcount
 * (fops.owner), kthread_stop of the device thread, misc_deregister; with
 * device-private memory: eviction at close (migrate_device_range) racing
 * migrate_vma and migrate_to_ram, memunmap_pages at unload.
 *
 * Needs root, the module file, and no other user of /dev/faultline or of
 * FOLL_PIN while it runs (the balance check is system-wide).  The module
 * is left loaded.  TAP output; exit 0 all ok, 1 a check failed, 2 usage,
 * 4 skipped (no module file / not root).
 *
 * To use: fl-unload [-n ITERATIONS] [-w WORKERS] [-s SEED] faultline.ko
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "faultline.h"
#include "tap.h"
#include "vmstat.h"

#define MODNAME		"faultline"
#define MAXW		16
#define PIN_LEN		(1ul << 20)
#define MIR_LEN		(1ul << 20)
#define DEV_LEN		(256ul << 10)
#define PAGE		4096ul
#define READY_S		60
#define UNLOAD_S	120

/* Shared between the parent and every worker/holder (MAP_SHARED). */
struct shared {
	volatile int ready;			/* workers (and holders) up */
	volatile int close_now[MAXW];		/* worker i: close the fd and exit */
	volatile int holder_stop;		/* holders: exit */
	volatile pid_t holder[MAXW];
	volatile long accesses;			/* FL_IOC_ACCESS that succeeded */
	volatile long migrated;			/* pages moved to the device */
	volatile long bad;			/* wrong data, stale entries, odd errors */
	char why[256];				/* the first of those */
};

static struct shared *sh;
static bool devpriv;			/* FL_FEAT_DEVICE_PRIVATE */

static void bad(const char *fmt, ...)
{
	va_list ap;

	if (__sync_fetch_and_add(&sh->bad, 1) == 0) {
		va_start(ap, fmt);
		vsnprintf(sh->why, sizeof(sh->why), fmt, ap);
		va_end(ap);
	}
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int unload(void)
{
	return syscall(SYS_delete_module, MODNAME, O_NONBLOCK) ? errno : 0;
}

static bool loaded(void)
{
	return access("/sys/module/" MODNAME, F_OK) == 0;
}

static int load(const char *ko)
{
	int fd = open(ko, O_RDONLY | O_CLOEXEC), ret = 0;

	if (fd < 0)
		return errno;
	if (syscall(SYS_finit_module, fd, "", 0))
		ret = errno;
	close(fd);
	/* misc_register's node appears in devtmpfs; wait for it briefly. */
	for (int i = 0; !ret && i < 500 && access(FL_DEVICE_PATH, F_OK); i++)
		usleep(10000);
	return ret;
}

/* ---------------------------------------------------------------- workers */

struct wctx {
	int fd;
	uint32_t pin, pin_slow, mir;
	char *pinbuf, *mirbuf, *devbuf;
	volatile int stop;
	uint64_t seed;
};

static int acc(int fd, uint32_t h, uint32_t op, uint64_t off, uint64_t len, uint64_t seed,
	       struct fl_access *out)
{
	struct fl_access a = { .handle = h, .op = op, .offset = off, .len = len, .seed = seed };
	int ret = ioctl(fd, FL_IOC_ACCESS, &a);

	if (out)
		*out = a;
	if (!ret)
		__sync_fetch_and_add(&sh->accesses, 1);
	return ret ? errno : 0;
}

/* After close(fd) by another thread, EBADF is the only error expected. */
static bool done_or_bad(struct wctx *w, int err, const char *what)
{
	if (!err)
		return false;
	if (err != EBADF)
		bad("%s: %s", what, strerror(err));
	w->stop = 1;
	return true;
}

static void *pin_thread(void *arg)
{
	struct wctx *w = arg;
	struct fl_access a;

	for (uint64_t s = w->seed; !w->stop; s++) {
		uint32_t h = (s & 1) ? w->pin : w->pin_slow;

		if (done_or_bad(w, acc(w->fd, h, FL_ACCESS_FILL, 0, PIN_LEN / 2, s, NULL), "pinned fill"))
			break;
		if (done_or_bad(w, acc(w->fd, h, FL_ACCESS_VERIFY, 0, PIN_LEN / 2, s, &a), "pinned verify"))
			break;
		if (a.mismatches)
			bad("pinned buffer: %llu words differ after the device's own fill",
			    (unsigned long long)a.mismatches);
	}
	return NULL;
}

static void *mirror_thread(void *arg)
{
	struct wctx *w = arg;
	struct fl_access a;

	for (uint64_t s = w->seed; !w->stop; s++) {
		int err = acc(w->fd, w->mir, FL_ACCESS_FILL, 0, MIR_LEN, s, NULL);

		/* The storm's mprotect(PROT_READ) makes write faults fail. */
		if (err == EPERM || err == EFAULT || err == EBUSY)
			continue;
		if (done_or_bad(w, err, "mirror fill"))
			break;
		if (done_or_bad(w, acc(w->fd, w->mir, FL_ACCESS_CHECK_STALE, 0, MIR_LEN, s, &a),
				"mirror check-stale"))
			break;
		if (a.mismatches)
			bad("mirror: %llu stale device entries", (unsigned long long)a.mismatches);
	}
	return NULL;
}

static void *storm_thread(void *arg)
{
	struct wctx *w = arg;

	for (unsigned i = 0; !w->stop; i++) {
		char *p = w->mirbuf + (i % (MIR_LEN / (64 * 1024))) * 64 * 1024;

		if (i & 1)
			madvise(p, 64 * 1024, MADV_DONTNEED);
		else if (!mprotect(p, 64 * 1024, PROT_READ))
			mprotect(p, 64 * 1024, PROT_READ | PROT_WRITE);
		usleep(500);
	}
	return NULL;
}

static void pattern(char *buf, size_t len, uint64_t seed)
{
	for (size_t o = 0; o < len; o += 8)
		*(uint64_t *)(buf + o) = fl_pattern(seed, o);
}

static size_t pattern_bad(const char *buf, size_t len, uint64_t seed)
{
	size_t n = 0;

	for (size_t o = 0; o < len; o += 8)
		n += *(const uint64_t *)(buf + o) != fl_pattern(seed, o);
	return n;
}

/*
 * Device-private round trips: write, migrate to the device, read back by
 * CPU faults (migrate_to_ram) or FL_MIGRATE_TO_SYSTEM, check.  Another
 * file's release evicts every device page meanwhile; the data must hold.
 */
static void *devmem_thread(void *arg)
{
	struct wctx *w = arg;
	size_t nbad;

	for (uint64_t s = w->seed + 1; !w->stop; s++) {
		struct fl_migrate m = { .addr = (uintptr_t)w->devbuf, .len = DEV_LEN,
					.direction = FL_MIGRATE_TO_DEVICE };

		pattern(w->devbuf, DEV_LEN, s);
		if (ioctl(w->fd, FL_IOC_MIGRATE, &m)) {
			if (done_or_bad(w, errno, "FL_IOC_MIGRATE to device"))
				break;
		}
		__sync_fetch_and_add(&sh->migrated, (long)m.migrated);
		if (s & 1) {
			m.direction = FL_MIGRATE_TO_SYSTEM;
			if (ioctl(w->fd, FL_IOC_MIGRATE, &m) && done_or_bad(w, errno, "FL_IOC_MIGRATE to system"))
				break;
		}
		nbad = pattern_bad(w->devbuf, DEV_LEN, s);
		if (nbad)
			bad("device-private round trip: %zu words differ", nbad);
	}
	return NULL;
}

/* A forked holder: same file, other mm; reads until told to stop or killed. */
static void holder_main(struct wctx *w)
{
	uint64_t n = 0;

	__sync_fetch_and_add(&sh->ready, 1);
	/* getppid() 1: the test itself is gone (it is the subreaper). */
	while (!sh->holder_stop && getppid() != 1) {
		int err = acc(w->fd, w->pin, FL_ACCESS_READ, 0, PIN_LEN / 2, n, NULL);

		/* The pins outlive the worker's mm: reads must keep working. */
		if (err)
			bad("holder: read of the pinned buffer: %s", strerror(err));
		/* The mirror's mm may be gone: ESRCH then, nothing else. */
		err = acc(w->fd, w->mir, FL_ACCESS_READ, 0, MIR_LEN, n, NULL);
		if (err && err != ESRCH && err != EFAULT)
			bad("holder: read of the mirror: %s", strerror(err));
		/* Its copy of the device buffer is what the worker wrote before fork. */
		if (w->devbuf && pattern_bad(w->devbuf, DEV_LEN, w->seed))
			bad("holder: the fork-time copy of the device buffer changed");
		n++;
		usleep(1000);
	}
	_exit(0);
}

static void *map(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	memset(p, 0x5a, len);
	return p;
}

static void worker_main(int i, bool fork_holder, uint64_t seed)
{
	struct wctx w = { .seed = seed };
	struct fl_pin_create pc = { 0 };
	struct fl_mirror_create mc = { 0 };
	pthread_t t[4];
	int nt = 3;

	w.fd = open(FL_DEVICE_PATH, O_RDWR | O_CLOEXEC);
	w.pinbuf = map(PIN_LEN);
	w.mirbuf = map(MIR_LEN);
	if (w.fd < 0 || !w.pinbuf || !w.mirbuf) {
		bad("worker %d: open %s / mmap: %s", i, FL_DEVICE_PATH, strerror(errno));
		_exit(1);
	}
	pc.addr = (uintptr_t)w.pinbuf;
	pc.len = PIN_LEN / 2;
	pc.flags = FL_PIN_WRITE | FL_PIN_LONGTERM | FL_PIN_FAST;
	if (ioctl(w.fd, FL_IOC_PIN_CREATE, &pc)) {
		bad("worker %d: FL_IOC_PIN_CREATE (fast, longterm): %s", i, strerror(errno));
		_exit(1);
	}
	w.pin = pc.handle;
	pc.addr = (uintptr_t)w.pinbuf + PIN_LEN / 2;
	pc.flags = FL_PIN_WRITE;
	if (ioctl(w.fd, FL_IOC_PIN_CREATE, &pc)) {
		bad("worker %d: FL_IOC_PIN_CREATE (under mmap_lock): %s", i, strerror(errno));
		_exit(1);
	}
	w.pin_slow = pc.handle;
	mc.addr = (uintptr_t)w.mirbuf;
	mc.len = MIR_LEN;
	mc.flags = FL_MIRROR_WRITE | FL_MIRROR_PREFAULT;
	if (ioctl(w.fd, FL_IOC_MIRROR_CREATE, &mc)) {
		bad("worker %d: FL_IOC_MIRROR_CREATE: %s", i, strerror(errno));
		_exit(1);
	}
	w.mir = mc.handle;
	if (devpriv) {
		w.devbuf = map(DEV_LEN);
		if (!w.devbuf) {
			bad("worker %d: mmap: %s", i, strerror(errno));
			_exit(1);
		}
		pattern(w.devbuf, DEV_LEN, w.seed);
	}
	if (fork_holder) {
		pid_t h = fork();

		if (h == 0)
			holder_main(&w);
		if (h > 0)
			sh->holder[i] = h;
	}
	pthread_create(&t[0], NULL, pin_thread, &w);
	pthread_create(&t[1], NULL, mirror_thread, &w);
	pthread_create(&t[2], NULL, storm_thread, &w);
	if (devpriv)
		pthread_create(&t[nt++], NULL, devmem_thread, &w);
	__sync_fetch_and_add(&sh->ready, 1);
	while (!sh->close_now[i])
		usleep(1000);
	/* Close while the other threads are inside (or entering) ioctls. */
	close(w.fd);
	usleep(20000);
	w.stop = 1;
	for (int k = 0; k < nt; k++)
		pthread_join(t[k], NULL);
	_exit(0);
}

/* --------------------------------------------------------------- the race */

struct racer {
	volatile int go, stop;
	volatile int unloaded;
	volatile long refused;
	volatile int last_err, odd_err;
	double t_unloaded;
};

static void *racer_thread(void *arg)
{
	struct racer *r = arg;

	while (!r->go)
		usleep(100);
	while (!r->stop) {
		int e = unload();

		if (!e) {
			r->t_unloaded = now_s();
			r->unloaded = 1;
			break;
		}
		if (e == EAGAIN || e == EBUSY)
			r->refused++;
		else
			r->odd_err = e;
		r->last_err = e;
		usleep(2000);
	}
	return NULL;
}

/*
 * nr_foll_pin_acquired and _released from one /proc/vmstat pass, read until
 * two passes agree: other pinners in the guest (9p zero-copy I/O of the
 * results share pins pages for a moment) move both counters between two
 * separate reads, which once showed released = acquired + 1 on build:6.12.
 */
static void pin_counters(long *acq, long *rel)
{
	long a2 = -2, r2 = -2;

	for (int i = 0; i < 50; i++) {
		*acq = vmstat("nr_foll_pin_acquired");
		*rel = vmstat("nr_foll_pin_released");
		if (*acq == a2 && *rel == r2 && *acq == *rel)
			return;
		a2 = *acq;
		r2 = *rel;
		usleep(20000);
	}
}

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static bool one_iteration(int it, int nw, const char *ko, uint64_t *rs)
{
	pid_t pid[MAXW] = { 0 };
	struct racer r = { 0 };
	pthread_t rt;
	int holders = 0, e, e_open, killed = 0, closed = 0, st;
	bool good = true, refused_open, refused_holder = true;
	long acq, rel, acc0;
	double t0;
	char msg[512] = "", dp[64] = "";

	memset(sh, 0, sizeof(*sh));
	for (int i = 0; i < nw; i++) {
		bool hold = (rnd(rs) % 3) == 0;

		holders += hold;
		pid[i] = fork();
		if (pid[i] == 0) {
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			worker_main(i, hold, rnd(rs));
		}
	}
	t0 = now_s();
	while (sh->ready < nw + holders && !sh->bad && now_s() - t0 < READY_S)
		usleep(1000);
	if (sh->ready < nw + holders) {
		snprintf(msg, sizeof(msg), "only %d of %d workers/holders got ready (%s)", sh->ready,
			 nw + holders, sh->bad ? sh->why : "timeout");
		good = false;
	}
	/* Let the device thread and the storms run a little. */
	usleep(100000 + rnd(rs) % 300000);
	acc0 = sh->accesses;
	/* The kernel refuses a module in use with EWOULDBLOCK (EAGAIN). */
	e_open = unload();
	refused_open = e_open == EAGAIN || e_open == EBUSY;
	if (!refused_open) {
		snprintf(msg, sizeof(msg), "delete_module with %d files open: %s", nw,
			 e_open ? strerror(e_open) : "succeeded");
		good = false;
	}

	/* Teardown, racing the unloader. */
	pthread_create(&rt, NULL, racer_thread, &r);
	r.go = 1;
	for (int i = 0; i < nw; i++) {
		if (rnd(rs) & 1) {
			kill(pid[i], SIGKILL);
			killed++;
		} else {
			sh->close_now[i] = 1;
			closed++;
		}
		usleep(rnd(rs) % 20000);
	}
	for (int i = 0; i < nw; i++) {
		waitpid(pid[i], &st, 0);
		/* Killed ones die of SIGKILL, the others exit 0: nothing else. */
		if (!(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL) && !(WIFEXITED(st) && !WEXITSTATUS(st)))
			bad("worker %d ended with %s %d", i, WIFSIGNALED(st) ? "signal" : "status",
			    WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
	}
	if (holders) {
		/* Every creator is gone; the holders still have the file. */
		usleep(200000);
		if (r.unloaded) {
			refused_holder = false;
			snprintf(msg, sizeof(msg), "module unloaded while %d holder(s) still had the file open",
				 holders);
			good = false;
		}
		sh->holder_stop = 1;
		for (int i = 0; i < nw; i++)
			if (sh->holder[i] && waitpid(sh->holder[i], &st, 0) > 0 &&
			    !(WIFEXITED(st) && !WEXITSTATUS(st)))
				bad("holder of worker %d ended with %s %d", i,
				    WIFSIGNALED(st) ? "signal" : "status",
				    WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
	}
	t0 = now_s();
	while (!r.unloaded && now_s() - t0 < UNLOAD_S)
		usleep(1000);
	r.stop = 1;
	pthread_join(rt, NULL);
	if (!r.unloaded && good) {
		snprintf(msg, sizeof(msg), "no unload within %d s after every file was closed (last: %s)",
			 UNLOAD_S, strerror(r.last_err));
		good = false;
	}
	if (r.odd_err && good) {
		snprintf(msg, sizeof(msg), "delete_module failed with %s (expected EAGAIN/EBUSY or success)",
			 strerror(r.odd_err));
		good = false;
	}
	if (sh->bad && good) {
		snprintf(msg, sizeof(msg), "%ld bad result(s), first: %s", sh->bad, sh->why);
		good = false;
	}
	pin_counters(&acq, &rel);
	if (r.unloaded && acq != rel && good) {
		snprintf(msg, sizeof(msg), "module gone but nr_foll_pin_acquired %ld != released %ld", acq, rel);
		good = false;
	}
	if (!loaded()) {
		e = load(ko);
		if (e && good) {
			snprintf(msg, sizeof(msg), "reload: finit_module(%s): %s", ko, strerror(e));
			good = false;
		}
	}
	if (devpriv)
		snprintf(dp, sizeof(dp), ", %ld pages to device-private", sh->migrated);
	ok(good, "iteration %d: %d workers (%d killed, %d closed mid-ioctl), %d holders, %ld device "
	   "accesses%s; rmmod refused while open (%s)%s, %ld refusals during teardown, unloaded, "
	   "pins %ld/%ld, reloaded%s%s", it, nw, killed, closed, holders, acc0, dp,
	   !refused_open ? "NOT refused" : e_open == EAGAIN ? "EAGAIN" : "EBUSY",
	   holders ? (refused_holder ? " and while held by forked holders" : " but NOT with holders") : "",
	   r.refused, acq, rel, msg[0] ? ": " : "", msg);
	return good;
}

int main(int argc, char **argv)
{
	int iters = 10, nw = 4, opt, e;
	uint64_t seed = (uint64_t)time(NULL), rs;
	long acq, rel;
	const char *ko;

	while ((opt = getopt(argc, argv, "n:w:s:")) != -1) {
		switch (opt) {
		case 'n': iters = atoi(optarg); break;
		case 'w': nw = atoi(optarg); break;
		case 's': seed = strtoull(optarg, NULL, 0); break;
		default: goto usage;
		}
	}
	if (optind != argc - 1 || iters < 1 || nw < 1 || nw > MAXW)
		goto usage;
	ko = argv[optind];
	printf("TAP version 13\n1..%d\n# seed %llu, %d iterations of %d workers\n", iters + 2,
	       (unsigned long long)seed, iters, nw);
	if (geteuid() != 0 || access(ko, R_OK)) {
		printf("# SKIP needs root and a readable module file (%s)\n", ko);
		return 4;
	}
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED)
		return 1;
	/* Holders outlive the workers that fork them: reap them here. */
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	rs = seed * 2654435761u + 1;
	if (!loaded()) {
		e = load(ko);
		ok(!e, "module loaded from %s%s%s", ko, e ? ": " : "", e ? strerror(e) : "");
	} else {
		ok(access(FL_DEVICE_PATH, F_OK) == 0, "module already loaded, %s present", FL_DEVICE_PATH);
	}
	if (nfail)
		return 1;
	{
		struct fl_caps c = { 0 };
		int fd = open(FL_DEVICE_PATH, O_RDWR | O_CLOEXEC);

		devpriv = fd >= 0 && !ioctl(fd, FL_IOC_CAPS, &c) &&
			  (c.features & (1ull << FL_FEAT_DEVICE_PRIVATE));
		if (fd >= 0)
			close(fd);
		printf("# device-private memory: %s\n", devpriv ? "yes, migrated in every worker" :
		       "not in this module/kernel (FL_FEAT_DEVICE_PRIVATE): not exercised");
	}
	for (int it = 1; it <= iters; it++)
		one_iteration(it, nw, ko, &rs);
	pin_counters(&acq, &rel);
	ok(loaded() && !access(FL_DEVICE_PATH, F_OK) && acq == rel,
	   "afterwards: module loaded, %s present, nr_foll_pin_acquired %ld == released %ld",
	   FL_DEVICE_PATH, acq, rel);
	printf("# %d of %d failed\n", nfail, ntest);
	return nfail ? 1 : 0;
usage:
	fprintf(stderr, "usage: fl-unload [-n ITERATIONS] [-w WORKERS (1-%d)] [-s SEED] faultline.ko\n", MAXW);
	return 2;
}
