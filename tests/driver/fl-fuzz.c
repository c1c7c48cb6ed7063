// SPDX-License-Identifier: GPL-2.0
/*
 * ioctl fuzzer for faultline.ko.  Phase 1 sends boundary ioctls and checks
 * the exact errno the ABI promises (wrong struct size, zero/misaligned/
 * wrapped/oversized ranges, kernel addresses, unmapped memory, foreign and
 * stale handles, bad histogram buffers, per-file limits).  Phase 2 runs
 * threads sending random and boundary ioctls on shared descriptors while
 * another thread closes and reopens them and a third remaps, mprotects and
 * MADV_DONTNEEDs the memory the objects cover (device-exclusive grants
 * included: every such change revokes them).  It ends by closing
 * everything and checking that /proc/vmstat's FOLL_PIN counters balance.
 * The kernel log must stay free of oops/WARN/KASAN: check dmesg after it.
 *
 * To use: fl-fuzz [-n IOCTLS] [-s SEED] [-t THREADS]   (root, module loaded)
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include "driver.h"
#include "tap.h"
#include "vmstat.h"

#define PAGE		4096ull
#define MB		(1ull << 20)
#define NFD		3
#define NREG		8
#define REGLEN		(2 * MB)
#define MAXH		64

static int fds[NFD];
static char *regions;		/* NREG * REGLEN, remapped under the fuzzers' feet */
static char *noaccess;		/* PROT_NONE page: a user pointer that faults */
static char *rdonly;		/* read-only page */
static _Atomic unsigned long done_ioctls, results[6];
static atomic_uint handles[MAXH];
static volatile int stop;
static unsigned long target = 100000;

static uint64_t rnd(uint64_t *s)
{
	/* xorshift64*: reproducible from -s */
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 2685821657736338717ull;
}

static int xioctl(int fd, unsigned long cmd, void *arg)
{
	return ioctl(fd, cmd, arg) ? -errno : 0;
}

static int open_dev(void)
{
	return open(FL_DEVICE_PATH, O_RDWR | O_CLOEXEC);
}

/* ------------------------------------------------------------- phase 1 */

static int pin(int fd, uint64_t addr, uint64_t len, uint32_t flags, uint32_t *h)
{
	struct fl_pin_create a = { .addr = addr, .len = len, .flags = flags };
	int ret = xioctl(fd, FL_IOC_PIN_CREATE, &a);

	if (h)
		*h = a.handle;
	return ret;
}

static int mirror(int fd, uint64_t addr, uint64_t len, uint32_t flags, uint32_t *h)
{
	struct fl_mirror_create a = { .addr = addr, .len = len, .flags = flags };
	int ret = xioctl(fd, FL_IOC_MIRROR_CREATE, &a);

	if (h)
		*h = a.handle;
	return ret;
}

static int destroy(int fd, uint32_t h)
{
	struct fl_destroy a = { .handle = h };

	return xioctl(fd, FL_IOC_DESTROY, &a);
}

static int access_(int fd, uint32_t h, uint32_t op, uint64_t off, uint64_t len)
{
	struct fl_access a = { .handle = h, .op = op, .offset = off, .len = len };

	return xioctl(fd, FL_IOC_ACCESS, &a);
}

static int excl(int fd, uint32_t h, uint32_t op, uint64_t off, uint64_t len, uint32_t flags,
		struct fl_exclusive *out)
{
	struct fl_exclusive a = { .handle = h, .op = op, .offset = off, .len = len,
				  .value = op == FL_EXCL_ATOMIC_ADD, .flags = flags };
	int ret = xioctl(fd, FL_IOC_EXCLUSIVE, &a);

	if (out)
		*out = a;
	return ret;
}

/* FL_IOC_EXCLUSIVE: errnos, then one grant, atomic and CPU revoke that must add up. */
static void boundary_exclusive(int fd, int fd2, uint64_t r)
{
	struct fl_driver d = { .fd = fd };
	struct fl_exclusive e;
	uint32_t h, hro, hp;
	int ret;

	if (xioctl(fd, FL_IOC_CAPS, &d.caps) || !fl_driver_has(&d, FL_FEAT_DEVICE_EXCLUSIVE)) {
		ok(excl(fd, 1, FL_EXCL_STATS, 0, 0, 0, NULL) == -EOPNOTSUPP,
		   "exclusive without the feature is EOPNOTSUPP (%s)",
		   fl_driver_why(&d, FL_FEAT_DEVICE_EXCLUSIVE));
		return;
	}
	ok(mirror(fd, r, REGLEN, FL_MIRROR_WRITE, &h) == 0, "writable mirror for exclusive");
	ok(mirror(fd, r, REGLEN, 0, &hro) == 0, "read-only mirror for exclusive");
	ok(pin(fd, r, PAGE, 0, &hp) == 0, "pin for exclusive");
	ok(excl(fd, h, FL_EXCL_COUNT, 0, PAGE, 0, NULL) == -EINVAL, "exclusive bad op is EINVAL");
	ok(excl(fd, h, FL_EXCL_GRANT, 0, PAGE, 0x100, NULL) == -EINVAL, "exclusive unknown flag is EINVAL");
	ok(excl(fd, h, FL_EXCL_GRANT, 0, PAGE, FL_EXCL_REGRANT, NULL) == -EINVAL,
	   "REGRANT on GRANT is EINVAL");
	ok(excl(fd, h, FL_EXCL_STATS, 0, PAGE, 0, NULL) == -EINVAL, "STATS with a range is EINVAL");
	ok(excl(fd, h, FL_EXCL_GRANT, 0, 0, 0, NULL) == -EINVAL, "exclusive len 0 is EINVAL");
	ok(excl(fd, h, FL_EXCL_GRANT, 8, PAGE, 0, NULL) == -EINVAL, "exclusive misaligned offset is EINVAL");
	ok(excl(fd, h, FL_EXCL_GRANT, -PAGE, 2 * PAGE, 0, NULL) == -EINVAL, "exclusive wrapping range is EINVAL");
	ok(excl(fd, h, FL_EXCL_GRANT, REGLEN, PAGE, 0, NULL) == -EINVAL, "exclusive past the end is EINVAL");
	ok(excl(fd2, h, FL_EXCL_GRANT, 0, PAGE, 0, NULL) == -ENOENT, "exclusive foreign handle is ENOENT");
	ok(excl(fd, hp, FL_EXCL_GRANT, 0, PAGE, 0, NULL) == -ENOENT, "exclusive on a pin handle is ENOENT");
	ok(excl(fd, hro, FL_EXCL_GRANT, 0, PAGE, 0, NULL) == -EINVAL, "exclusive on a read-only mirror is EINVAL");
	{
		struct fl_exclusive a = { .handle = h, .op = FL_EXCL_STATS };

		a.revoke.nr_buckets = FL_UHIST_BUCKETS;
		a.revoke.buckets_ptr = (uintptr_t)noaccess;
		ok(xioctl(fd, FL_IOC_EXCLUSIVE, &a) == -EFAULT, "exclusive unwritable bucket array is EFAULT");
	}
	memset(regions, 3, 4 * PAGE);
	ret = excl(fd, h, FL_EXCL_GRANT, 0, 4 * PAGE, 0, &e);
	ok(ret == 0 && e.pages == 4 && e.held == 4 && !e.error,
	   "grant 4 pages: %llu granted, %llu held, error %d (%d)", (unsigned long long)e.pages,
	   (unsigned long long)e.held, e.error, ret);
	ret = excl(fd, h, FL_EXCL_ATOMIC_ADD, 0, 4 * PAGE, 0, &e);
	ok(ret == 0 && e.pages == 4 && e.not_held == 0,
	   "device atomics on the held pages (%llu, %d)", (unsigned long long)e.pages, ret);
	ok(*(volatile char *)regions == 4 && regions[7] == 3,
	   "CPU reads the device's atomic add back (revoking page 0)");
	ret = excl(fd, h, FL_EXCL_STATS, 0, 0, FL_EXCL_RESET, &e);
	ok(ret == 0 && e.held == 3 && e.revoked == 1,
	   "one CPU touch, one revoke: held %llu revoked %llu (%d)", (unsigned long long)e.held,
	   (unsigned long long)e.revoked, ret);
	ok(destroy(fd, h) == 0 && destroy(fd, hro) == 0 && destroy(fd, hp) == 0,
	   "destroy with grants held");
	ok(memchr(regions, 5, 4 * PAGE) == NULL && regions[PAGE] == 4 && regions[4 * PAGE - 1] == 3,
	   "CPU reads pages whose mirror is gone");
}

static void boundary(void)
{
	uint64_t r = (uint64_t)(uintptr_t)regions, kern = 0xffff888000000000ull;
	int fd = open_dev(), fd2 = open_dev(), ret;
	uint64_t buckets[FL_UHIST_BUCKETS];
	struct fl_gup_bench g;
	struct fl_snapshot s;
	uint32_t h, h2;
	char buf[512];

	memset(regions, 1, NREG * REGLEN);
	memset(buf, 0, sizeof(buf));
	ok(xioctl(fd, _IOC(_IOC_READ | _IOC_WRITE, FL_IOC_MAGIC, 0x10,
			   sizeof(struct fl_pin_create) - 8), buf) == -ENOTTY,
	   "short struct size is ENOTTY");
	ok(xioctl(fd, _IOC(_IOC_READ | _IOC_WRITE, FL_IOC_MAGIC, 0x10,
			   sizeof(struct fl_pin_create) + 8), buf) == -ENOTTY,
	   "long struct size is ENOTTY");
	ok(xioctl(fd, _IOC(_IOC_WRITE, FL_IOC_MAGIC, 0x10, sizeof(struct fl_pin_create)), buf) == -ENOTTY,
	   "wrong direction is ENOTTY");
	ok(xioctl(fd, _IOC(_IOC_READ, FL_IOC_MAGIC, 0x7f, 8), buf) == -ENOTTY, "unknown nr is ENOTTY");
	ok(xioctl(fd, FL_IOC_PIN_CREATE, (void *)kern) == -EFAULT, "kernel pointer as arg is EFAULT");
	ok(xioctl(fd, FL_IOC_PIN_CREATE, noaccess) == -EFAULT, "PROT_NONE arg is EFAULT");
	ok(xioctl(fd, FL_IOC_CAPS, rdonly) == -EFAULT, "read-only out arg is EFAULT");

	for (int m = 0; m < 2; m++) {
		int (*create)(int, uint64_t, uint64_t, uint32_t, uint32_t *) = m ? mirror : pin;
		const char *n = m ? "mirror" : "pin";

		ok(create(fd, r, 0, 0, NULL) == -EINVAL, "%s len 0 is EINVAL", n);
		ok(create(fd, r + 8, PAGE, 0, NULL) == -EINVAL, "%s misaligned addr is EINVAL", n);
		ok(create(fd, r, PAGE + 8, 0, NULL) == -EINVAL, "%s misaligned len is EINVAL", n);
		ok(create(fd, -PAGE, 2 * PAGE, 0, NULL) == -EINVAL, "%s wrapping range is EINVAL", n);
		ok(create(fd, r, FL_MAX_LEN + PAGE, 0, NULL) == -EINVAL, "%s len > FL_MAX_LEN is EINVAL", n);
		ok(create(fd, kern, PAGE, 0, NULL) == -EINVAL, "%s kernel range is EINVAL", n);
		ok(create(fd, r, PAGE, 0x80000000u, NULL) == -EINVAL, "%s unknown flag is EINVAL", n);
	}
	ok(pin(fd, (uintptr_t)noaccess, PAGE, FL_PIN_FAST, NULL) == -EFAULT, "pin of PROT_NONE is EFAULT");
	ok(pin(fd, (uintptr_t)rdonly, PAGE, FL_PIN_WRITE, NULL) == -EFAULT, "write pin of read-only page is EFAULT");
	ok(mirror(fd, (uintptr_t)noaccess, PAGE, FL_MIRROR_WRITE | FL_MIRROR_PREFAULT, NULL) == -EFAULT,
	   "prefaulted mirror of PROT_NONE is EFAULT");

	ret = pin(fd, r, REGLEN, FL_PIN_WRITE, &h);
	ok(ret == 0 && h != 0, "pin a region, handle %u", h);
	ok(destroy(fd2, h) == -ENOENT, "foreign handle destroy is ENOENT");
	ok(access_(fd2, h, FL_ACCESS_READ, 0, 8) == -ENOENT, "foreign handle access is ENOENT");
	ok(access_(fd, 0, FL_ACCESS_READ, 0, 8) == -ENOENT, "handle 0 is ENOENT");
	ok(access_(fd, h, FL_ACCESS_COUNT, 0, 8) == -EINVAL, "bad access op is EINVAL");
	ok(access_(fd, h, FL_ACCESS_READ, 4, 8) == -EINVAL, "misaligned access is EINVAL");
	ok(access_(fd, h, FL_ACCESS_READ, -8ull, 16) == -EINVAL, "wrapping access is EINVAL");
	ok(access_(fd, h, FL_ACCESS_READ, REGLEN, 8) == -EINVAL, "access past the end is EINVAL");
	ok(access_(fd, h, FL_ACCESS_READ, REGLEN - 8, 8) == 0, "access of the last word works");
	ok(access_(fd, h, FL_ACCESS_READ, 0, 0) == 0, "empty access works");
	ok(destroy(fd, h) == 0 && destroy(fd, h) == -ENOENT, "destroy, then stale handle is ENOENT");

	{
		/* A read-only pin of untouched anon memory pins the zero page. */
		char *z = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		uint32_t hz = 0;

		(void)*(volatile char *)z;
		ret = pin(fd, (uintptr_t)z, PAGE, FL_PIN_FAST, &hz);
		ok(ret == 0, "read-only pin of the zero page");
		ok(access_(fd, hz, FL_ACCESS_FILL, 0, PAGE) == -EINVAL,
		   "device write through a read-only pin is EINVAL (would corrupt the zero page)");
		ok(access_(fd, hz, FL_ACCESS_VERIFY, 0, PAGE) == 0, "device read through it works");
		struct fl_destroy dd = { .handle = hz, .flags = FL_UNPIN_DIRTY };
		ok(xioctl(fd, FL_IOC_DESTROY, &dd) == -EINVAL, "dirty unpin of a read-only pin is EINVAL");
		ok(destroy(fd, hz) == 0, "clean unpin of it");
		munmap(z, PAGE);
	}
	ok(mirror(fd, r, REGLEN, FL_MIRROR_PREFAULT, &h2) == 0, "read-only prefaulted mirror");
	ok(access_(fd, h2, FL_ACCESS_FILL, 0, 8) == -EINVAL, "write through a read-only mirror is EINVAL");
	ok(access_(fd, h2, FL_ACCESS_CHECK_STALE, 0, REGLEN) == 0, "stale check of a read-only mirror");
	{
		struct fl_mirror_stats st = { .handle = h2, .callback.nr_buckets = 1 };

		ok(xioctl(fd, FL_IOC_MIRROR_STATS, &st) == -EINVAL, "nr_buckets without pointer is EINVAL");
		st.callback.nr_buckets = FL_UHIST_BUCKETS;
		st.callback.buckets_ptr = (uintptr_t)noaccess;
		ok(xioctl(fd, FL_IOC_MIRROR_STATS, &st) == -EFAULT, "unwritable bucket array is EFAULT");
		st.callback.buckets_ptr = (uintptr_t)buckets;
		st.callback.nr_buckets = FL_UHIST_BUCKETS - 1;
		ok(xioctl(fd, FL_IOC_MIRROR_STATS, &st) == -EINVAL, "wrong nr_buckets is EINVAL");
	}
	ok(destroy(fd, h2) == 0, "destroy mirror");

	memset(&g, 0, sizeof(g));
	g.addr = r;
	g.len = REGLEN;
	g.pages_per_call = 0;
	ok(xioctl(fd, FL_IOC_GUP_BENCH, &g) == -EINVAL, "gup pages_per_call 0 is EINVAL");
	g.pages_per_call = FL_GUP_MAX_PER_CALL + 1;
	ok(xioctl(fd, FL_IOC_GUP_BENCH, &g) == -EINVAL, "gup pages_per_call > max is EINVAL");
	g.pages_per_call = 16;
	g.flags = 1u << 31;
	ok(xioctl(fd, FL_IOC_GUP_BENCH, &g) == -EINVAL, "gup unknown flag is EINVAL");
	g.flags = 0;
	g.op = FL_GUP_COUNT;
	ok(xioctl(fd, FL_IOC_GUP_BENCH, &g) == -EINVAL, "gup bad op is EINVAL");
	g.op = FL_GUP_PIN_FAST;
	g.addr = (uintptr_t)noaccess;
	g.len = PAGE;
	ret = xioctl(fd, FL_IOC_GUP_BENCH, &g);
	ok(ret == 0 && g.error == -EFAULT && g.nr_pages == 0,
	   "gup on PROT_NONE reports EFAULT in .error (%d)", g.error);

	memset(&s, 0, sizeof(s));
	s.addr = r;
	s.len = REGLEN;
	s.flags_ptr = kern;
	ok(xioctl(fd, FL_IOC_SNAPSHOT, &s) == -EFAULT, "snapshot to a kernel pointer is EFAULT");
	s.flags_ptr = (uintptr_t)rdonly;
	ok(xioctl(fd, FL_IOC_SNAPSHOT, &s) == -EFAULT, "snapshot to read-only memory is EFAULT");
	s.flags_ptr = 0;
	s.flags = 0x100;
	ok(xioctl(fd, FL_IOC_SNAPSHOT, &s) == -EINVAL, "snapshot unknown flag is EINVAL");

	boundary_exclusive(fd, fd2, r);

	ret = 0;
	for (int i = 0; i < FL_MAX_OBJECTS && !ret; i++)
		ret = mirror(fd2, r, PAGE, 0, NULL);
	ok(!ret && mirror(fd2, r, PAGE, 0, NULL) == -ENOSPC, "object %d is ENOSPC", FL_MAX_OBJECTS + 1);
	close(fd2);
	fd2 = open_dev();
	ret = mirror(fd2, 0x100000000ull, FL_MAX_LEN, 0, &h);
	ok(!ret && mirror(fd2, 0x100000000ull, FL_MAX_LEN, 0, NULL) == 0 &&
	   mirror(fd2, 0x100000000ull, PAGE, 0, NULL) == -ENOSPC,
	   "FL_MAX_FILE_LEN bounds one file's tracked bytes");
	ok(access_(fd2, h, FL_ACCESS_CHECK_STALE, 0, FL_MAX_LEN) == 0,
	   "stale check of a 16 GiB empty mirror");
	close(fd2);
	close(fd);
}

/* ------------------------------------------------------------- phase 2 */

static uint64_t pick_addr(uint64_t *s)
{
	uint64_t r = (uintptr_t)regions;

	switch (rnd(s) % 10) {
	case 0: return 0;
	case 1: return -PAGE;
	case 2: return 0x800000000000ull - PAGE;
	case 3: return (uintptr_t)noaccess;
	case 4: return r + rnd(s) % (NREG * REGLEN);		/* misaligned */
	case 5: return rnd(s);
	default: return r + (rnd(s) % (NREG * REGLEN / PAGE)) * PAGE;
	}
}

static uint64_t pick_len(uint64_t *s, uint64_t addr)
{
	switch (rnd(s) % 12) {
	case 0: return 0;
	case 1: return 8;
	case 2: return FL_MAX_LEN;
	case 3: return FL_MAX_LEN + PAGE;
	case 4: return -addr;				/* ends exactly at 2^64 */
	case 5: return -addr + PAGE;			/* wraps */
	case 6: return rnd(s);
	default: return (1 + rnd(s) % (REGLEN / PAGE * 2)) * PAGE;
	}
}

static uint32_t pick_handle(uint64_t *s)
{
	switch (rnd(s) % 8) {
	case 0: return 0;
	case 1: return (uint32_t)rnd(s);
	default: return atomic_load(&handles[rnd(s) % MAXH]);
	}
}

static uint64_t pick_uptr(uint64_t *s, void *valid)
{
	switch (rnd(s) % 5) {
	case 0: return 0;
	case 1: return (uintptr_t)noaccess;
	case 2: return 0xffff888000000000ull;
	case 3: return (uintptr_t)rdonly;
	default: return (uintptr_t)valid;
	}
}

static void count(int ret)
{
	int i = ret == 0 ? 0 : ret == -EINVAL ? 1 : ret == -ENOENT ? 2 :
		ret == -EFAULT ? 3 : ret == -ENOTTY ? 4 : 5;

	atomic_fetch_add(&results[i], 1);
}

static void *fuzzer(void *arg)
{
	uint64_t s = (uintptr_t)arg, *buckets = calloc(FL_UHIST_BUCKETS, 8);
	uint8_t *flags = malloc(NREG * REGLEN / PAGE * 4);
	union {
		struct fl_pin_create pin;
		struct fl_destroy destroy;
		struct fl_mirror_create mirror;
		struct fl_mirror_stats stats;
		struct fl_access access;
		struct fl_gup_bench gup;
		struct fl_snapshot snap;
		struct fl_migrate migrate;
		struct fl_exclusive excl;
		char raw[512];
	} u;

	while (!stop && atomic_fetch_add(&done_ioctls, 1) < target) {
		int fd = fds[rnd(&s) % NFD], ret;
		unsigned op = rnd(&s) % 18;

		memset(&u, 0, sizeof(u));
		switch (op) {
		case 0:	/* random command, random bytes */
			for (unsigned i = 0; i < sizeof(u.raw); i++)
				u.raw[i] = rnd(&s);
			ret = xioctl(fd, _IOC(rnd(&s) % 4, rnd(&s) % 4 ? FL_IOC_MAGIC : rnd(&s) % 256,
					      rnd(&s) % 0x60, rnd(&s) % 400), &u);
			break;
		case 1: case 2:
			u.pin.addr = pick_addr(&s);
			u.pin.len = rnd(&s) % 2 ? pick_len(&s, u.pin.addr) : PAGE * (1 + rnd(&s) % 64);
			u.pin.flags = rnd(&s) % 16;
			ret = xioctl(fd, FL_IOC_PIN_CREATE, &u.pin);
			if (!ret)
				atomic_store(&handles[rnd(&s) % MAXH], u.pin.handle);
			break;
		case 3: case 4:
			u.mirror.addr = pick_addr(&s);
			u.mirror.len = pick_len(&s, u.mirror.addr);
			u.mirror.flags = rnd(&s) % 8;
			ret = xioctl(fd, FL_IOC_MIRROR_CREATE, &u.mirror);
			if (!ret)
				atomic_store(&handles[rnd(&s) % MAXH], u.mirror.handle);
			break;
		case 5: case 6:
			u.destroy.handle = pick_handle(&s);
			u.destroy.flags = rnd(&s) % 3;
			ret = xioctl(fd, FL_IOC_DESTROY, &u.destroy);
			break;
		case 7: case 8: case 9:
			u.access.handle = pick_handle(&s);
			u.access.op = rnd(&s) % (FL_ACCESS_COUNT + 1);
			u.access.offset = rnd(&s) % 4 ? (rnd(&s) % (REGLEN / 8)) * 8 : rnd(&s);
			u.access.len = rnd(&s) % 4 ? (rnd(&s) % (REGLEN / 8)) * 8 : rnd(&s);
			u.access.seed = rnd(&s);
			ret = xioctl(fd, FL_IOC_ACCESS, &u.access);
			break;
		case 10:
			u.stats.handle = pick_handle(&s);
			u.stats.flags = rnd(&s) % 3;
			u.stats.callback.buckets_ptr = pick_uptr(&s, buckets);
			u.stats.callback.nr_buckets = rnd(&s) % 4 ? FL_UHIST_BUCKETS : rnd(&s);
			ret = xioctl(fd, FL_IOC_MIRROR_STATS, &u.stats);
			break;
		case 11: case 12:
			u.gup.addr = pick_addr(&s);
			u.gup.len = rnd(&s) % 2 ? pick_len(&s, u.gup.addr) : PAGE * (1 + rnd(&s) % 256);
			u.gup.op = rnd(&s) % (FL_GUP_COUNT + 1);
			u.gup.flags = rnd(&s) % 5;
			u.gup.pages_per_call = rnd(&s) % 3 ? 1 + rnd(&s) % 600 : rnd(&s);
			u.gup.per_call.buckets_ptr = pick_uptr(&s, buckets);
			u.gup.per_call.nr_buckets = u.gup.per_call.buckets_ptr ? FL_UHIST_BUCKETS : 0;
			ret = xioctl(fd, FL_IOC_GUP_BENCH, &u.gup);
			break;
		case 13: case 14:
			u.snap.addr = pick_addr(&s);
			u.snap.len = rnd(&s) % 2 ? pick_len(&s, u.snap.addr) : PAGE * (1 + rnd(&s) % 1024);
			u.snap.flags = rnd(&s) % 5;
			u.snap.flags_ptr = u.snap.len <= NREG * REGLEN * 4 ? pick_uptr(&s, flags) : 0;
			ret = xioctl(fd, FL_IOC_SNAPSHOT, &u.snap);
			break;
		case 15:
			if (rnd(&s) % 2) {
				u.migrate.addr = pick_addr(&s);
				u.migrate.len = rnd(&s) % 2 ? pick_len(&s, u.migrate.addr) :
							     PAGE * (1 + rnd(&s) % 512);
				u.migrate.direction = rnd(&s) % 3;
				ret = xioctl(fd, FL_IOC_MIGRATE, &u.migrate);
				break;
			}
			/* fall through */
		default:
			ret = xioctl(fd, rnd(&s) % 2 ? FL_IOC_VERSION : FL_IOC_CAPS, &u);
			break;
		case 16:
			u.excl.handle = pick_handle(&s);
			u.excl.op = rnd(&s) % (FL_EXCL_COUNT + 1);
			u.excl.offset = rnd(&s) % 4 ? (rnd(&s) % (REGLEN / PAGE)) * PAGE : rnd(&s);
			u.excl.len = rnd(&s) % 4 ? (1 + rnd(&s) % (REGLEN / PAGE)) * PAGE : rnd(&s);
			if (u.excl.op == FL_EXCL_STATS && rnd(&s) % 2)
				u.excl.offset = u.excl.len = 0;
			u.excl.value = rnd(&s);
			u.excl.flags = rnd(&s) % 5;
			u.excl.revoke.buckets_ptr = pick_uptr(&s, buckets);
			u.excl.revoke.nr_buckets = u.excl.revoke.buckets_ptr ? FL_UHIST_BUCKETS : 0;
			ret = xioctl(fd, FL_IOC_EXCLUSIVE, &u.excl);
			break;
		}
		count(ret);
	}
	free(buckets);
	free(flags);
	return NULL;
}

/* Closes and reopens the shared descriptors: close racing every ioctl. */
static void *closer(void *arg)
{
	uint64_t s = (uintptr_t)arg;

	while (!stop) {
		int i = rnd(&s) % NFD, fd = open_dev(), old = fds[i];

		if (fd < 0)
			continue;
		fds[i] = fd;
		close(old);
		usleep(rnd(&s) % 2000);
	}
	return NULL;
}

/* Invalidation storm under the objects: remap, mprotect, DONTNEED, populate. */
static void *mangler(void *arg)
{
	uint64_t s = (uintptr_t)arg;

	while (!stop) {
		char *p = regions + (rnd(&s) % NREG) * REGLEN;
		size_t off = (rnd(&s) % (REGLEN / PAGE)) * PAGE, len = PAGE * (1 + rnd(&s) % 64);

		if (off + len > REGLEN)
			len = REGLEN - off;
		switch (rnd(&s) % 5) {
		case 0:
			mmap(p + off, len, PROT_READ | PROT_WRITE,
			     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
			break;
		case 1:
			mprotect(p + off, len, rnd(&s) % 2 ? PROT_READ : PROT_READ | PROT_WRITE);
			break;
		case 2:
			madvise(p + off, len, MADV_DONTNEED);
			break;
		case 3:
			madvise(p, REGLEN, MADV_HUGEPAGE);
			/* fall through */
		default:
			mprotect(p + off, len, PROT_READ | PROT_WRITE);
			memset(p + off, (int)rnd(&s), len);
			break;
		}
		usleep(rnd(&s) % 500);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	uint64_t seed = 1;
	unsigned nthreads = 4;
	pthread_t th[16], cl, mg;
	long acq0, rel0, acq, rel;
	int opt;

	while ((opt = getopt(argc, argv, "n:s:t:")) != -1) {
		switch (opt) {
		case 'n': target = strtoul(optarg, NULL, 0); break;
		case 's': seed = strtoull(optarg, NULL, 0); break;
		case 't': nthreads = atoi(optarg); break;
		default:
			fprintf(stderr, "usage: %s [-n IOCTLS] [-s SEED] [-t THREADS]\n", argv[0]);
			return 2;
		}
	}
	if (nthreads < 1 || nthreads > 16)
		nthreads = 4;
	printf("TAP version 13\n# seed %llu, %lu ioctls, %u threads\n",
	       (unsigned long long)seed, target, nthreads);
	if (access(FL_DEVICE_PATH, F_OK)) {
		printf("1..0 # SKIP no %s: load drivers/faultline.ko\n", FL_DEVICE_PATH);
		return 0;
	}
	regions = mmap(NULL, NREG * REGLEN, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	noaccess = mmap(NULL, PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	rdonly = mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	acq0 = vmstat("nr_foll_pin_acquired");
	rel0 = vmstat("nr_foll_pin_released");

	boundary();

	for (int i = 0; i < NFD; i++)
		fds[i] = open_dev();
	for (unsigned i = 0; i < nthreads; i++)
		pthread_create(&th[i], NULL, fuzzer, (void *)(uintptr_t)(seed * 7919 + i + 1));
	pthread_create(&cl, NULL, closer, (void *)(uintptr_t)(seed + 101));
	pthread_create(&mg, NULL, mangler, (void *)(uintptr_t)(seed + 202));
	for (unsigned i = 0; i < nthreads; i++)
		pthread_join(th[i], NULL);
	stop = 1;
	pthread_join(cl, NULL);
	pthread_join(mg, NULL);
	for (int i = 0; i < NFD; i++)
		close(fds[i]);
	printf("# results: ok %lu, EINVAL %lu, ENOENT %lu, EFAULT %lu, ENOTTY %lu, other %lu\n",
	       results[0], results[1], results[2], results[3], results[4], results[5]);
	ok(done_ioctls >= target, "random phase: %lu ioctls sent", target);

	acq = vmstat("nr_foll_pin_acquired");
	rel = vmstat("nr_foll_pin_released");
	ok(acq - acq0 == rel - rel0, "vmstat: FOLL_PIN acquired %ld == released %ld",
	   acq - acq0, rel - rel0);
	printf("1..%d\n# %d passed, %d failed\n", ntest, ntest - nfail, nfail);
	return nfail ? 1 : 0;
}
