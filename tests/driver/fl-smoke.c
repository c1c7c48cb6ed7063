// SPDX-License-Identifier: GPL-2.0
/*
 * Smoke test of faultline.ko through bench/driver.c, TAP output.  Needs the
 * module loaded and root.  Exercises: pinned buffers (device fill/verify
 * through pin_user_pages*), HMM mirrors under munmap / mprotect /
 * MADV_DONTNEED / fork with invalidations counted and no stale entry, GUP
 * timing, device-private round trips and device-exclusive grants (where the
 * kernel has them), and the HMM snapshot of a THP (pmd flag), then checks that
 * /proc/vmstat's FOLL_PIN counters balance after close.
 *
 * To use: make -C tests/driver && sudo tests/driver/fl-smoke
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "driver.h"
#include "tap.h"
#include "vmstat.h"

#define MB		(1ul << 20)
#define PAGE		4096ul

static void skip(const char *what, const char *why)
{
	printf("ok %d - %s # SKIP %s\n", ++ntest, what, why);
}

static void *map_anon(size_t len, size_t align)
{
	char *p = mmap(NULL, len + align, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uintptr_t a;

	if (p == MAP_FAILED)
		return NULL;
	if (!align)
		return p;
	a = ((uintptr_t)p + align - 1) & ~(uintptr_t)(align - 1);
	if (a > (uintptr_t)p)
		munmap(p, a - (uintptr_t)p);
	munmap((char *)a + len, (uintptr_t)p + align - a);
	return (void *)a;
}

static uint64_t cpu_verify(const void *buf, uint64_t off, uint64_t len, uint64_t seed)
{
	const uint64_t *w = (const uint64_t *)((const char *)buf + off);
	uint64_t bad = 0;

	for (uint64_t i = 0; i < len / 8; i++)
		if (w[i] != fl_pattern(seed, off + i * 8))
			bad++;
	return bad;
}

static void cpu_fill(void *buf, uint64_t off, uint64_t len, uint64_t seed)
{
	uint64_t *w = (uint64_t *)((char *)buf + off);

	for (uint64_t i = 0; i < len / 8; i++)
		w[i] = fl_pattern(seed, off + i * 8);
}

static void test_pin(struct fl_driver *d, uint32_t flags, const char *name)
{
	size_t len = 8 * MB;
	char *buf = map_anon(len, 0);
	struct fl_pin_create pc;
	struct fl_access a;
	uint64_t ns;
	int ret;

	memset(buf, 1, len);
	ret = fl_drv_pin_create(d, buf, len, flags, &pc);
	ok(!ret && pc.nr_pages == len / PAGE, "pin %s: %llu pages in %llu ns (%d)", name,
	   (unsigned long long)pc.nr_pages, (unsigned long long)pc.pin_ns, ret);
	if (ret)
		goto out;
	ret = fl_drv_access(d, pc.handle, FL_ACCESS_FILL, 0, len, 42, &a);
	ok(!ret && a.bytes == len, "pin %s: device fill %llu bytes, %.2f GB/s", name,
	   (unsigned long long)a.bytes, a.ns ? (double)a.bytes / a.ns : 0.0);
	ok(cpu_verify(buf, 0, len, 42) == 0, "pin %s: CPU sees the device's data", name);
	cpu_fill(buf, 0, len, 7);
	buf[12345 & ~7ul] ^= 1;	/* one corrupted word */
	ret = fl_drv_access(d, pc.handle, FL_ACCESS_VERIFY, 0, len, 7, &a);
	ok(!ret && a.mismatches == 1 && a.first_mismatch == (12345 & ~7ul),
	   "pin %s: device verify finds exactly the corrupted word (%llu at %llu)", name,
	   (unsigned long long)a.mismatches, (unsigned long long)a.first_mismatch);
	ret = fl_drv_access(d, pc.handle, FL_ACCESS_READ, 4096 + 8, 65536, 0, &a);
	ok(!ret && a.bytes == 65536, "pin %s: unaligned partial read", name);
	ret = fl_drv_access(d, pc.handle, FL_ACCESS_READ, len - 8, 16, 0, &a);
	ok(ret == -EINVAL, "pin %s: access beyond the buffer refused (%d)", name, ret);
	ret = fl_drv_access(d, pc.handle, FL_ACCESS_CHECK_STALE, 0, len, 0, &a);
	ok(ret == -EINVAL, "pin %s: CHECK_STALE is mirror-only (%d)", name, ret);
	ret = fl_drv_destroy(d, pc.handle, FL_UNPIN_DIRTY, &ns);
	ok(!ret, "pin %s: unpin dirty in %llu ns", name, (unsigned long long)ns);
	ret = fl_drv_destroy(d, pc.handle, 0, &ns);
	ok(ret == -ENOENT, "pin %s: second destroy is ENOENT (%d)", name, ret);
out:
	munmap(buf, len);
}

static uint64_t ev(const struct fl_mirror_stats *s, enum fl_event e)
{
	return s->invalidations[e];
}

static void test_mirror(struct fl_driver *d)
{
	size_t len = 8 * MB;
	char *buf = map_anon(len, 0);
	struct fl_mirror_stats st;
	struct fl_access a;
	struct fl_hist cb, re;
	uint32_t h;
	pid_t pid;
	int ret;

	fl_hist_init(&cb);
	fl_hist_init(&re);
	ret = fl_drv_mirror_create(d, buf, len, FL_MIRROR_WRITE, &h);
	ok(!ret, "mirror: create (%d)", ret);
	if (ret)
		return;
	ret = fl_drv_access(d, h, FL_ACCESS_FILL, 0, len, 99, &a);
	ok(!ret && a.refaults > 0 && a.bytes == len,
	   "mirror: device fill faults the range in (%llu fault rounds, %.2f GB/s)",
	   (unsigned long long)a.refaults, a.ns ? (double)a.bytes / a.ns : 0.0);
	ok(cpu_verify(buf, 0, len, 99) == 0, "mirror: CPU sees the device's data");
	ret = fl_drv_access(d, h, FL_ACCESS_VERIFY, 0, len, 99, &a);
	ok(!ret && a.mismatches == 0 && a.refaults == 0,
	   "mirror: second pass needs no fault (%llu)", (unsigned long long)a.refaults);

	/* MADV_DONTNEED: CLEAR event, the device must see zeroes afterwards. */
	madvise(buf, MB, MADV_DONTNEED);
	ret = fl_drv_access(d, h, FL_ACCESS_VERIFY, 0, MB, 99, &a);
	ok(!ret && a.mismatches == MB / 8 && a.refaults > 0,
	   "mirror: after MADV_DONTNEED the device re-faults and sees new (zero) pages (%llu)",
	   (unsigned long long)a.mismatches);

	/* mprotect: PROTECTION_VMA; a device write must now fail. */
	mprotect(buf + MB, MB, PROT_READ);
	ret = fl_drv_access(d, h, FL_ACCESS_FILL, MB, MB, 5, &a);
	ok(ret == -EPERM || ret == -EFAULT,
	   "mirror: device write to a read-only range is refused (%d)", ret);
	ret = fl_drv_access(d, h, FL_ACCESS_VERIFY, MB, MB, 99, &a);
	ok(!ret && a.mismatches == 0, "mirror: ...but reads still see the data");
	mprotect(buf + MB, MB, PROT_READ | PROT_WRITE);

	/* fork: COW write-protects the parent's ptes. */
	ret = fl_drv_access(d, h, FL_ACCESS_FILL, 0, len - MB, 11, &a);
	pid = fork();
	if (pid == 0)
		_exit(0);
	waitpid(pid, NULL, 0);
	buf[2 * MB] = 1;	/* parent breaks COW on one page */
	/* fork invalidated the table; re-mirror it, then compare with the CPU. */
	ret = fl_drv_access(d, h, FL_ACCESS_READ, 0, len - MB, 0, &a);
	ok(!ret && a.refaults > 0, "mirror: re-mirrored after fork (%llu fault rounds)",
	   (unsigned long long)a.refaults);
	ret = fl_drv_access(d, h, FL_ACCESS_CHECK_STALE, 0, len - MB, 0, &a);
	ok(!ret && a.mismatches == 0 && a.bytes == len - MB,
	   "mirror: after fork + COW write, 0 stale of %llu checked",
	   (unsigned long long)a.bytes / PAGE);

	/* munmap the tail: UNMAP event; device access there fails. */
	munmap(buf + len - MB, MB);
	ret = fl_drv_access(d, h, FL_ACCESS_READ, len - MB, MB, 0, &a);
	ok(ret == -EFAULT, "mirror: device access to an unmapped range is EFAULT (%d)", ret);

	ret = fl_drv_access(d, h, FL_ACCESS_CHECK_STALE, 0, len, 0, &a);
	ok(!ret && a.mismatches == 0, "mirror: 0 stale entries over the whole range, %llu valid checked",
	   (unsigned long long)a.bytes / PAGE);

	ret = fl_drv_mirror_stats(d, h, FL_STATS_RESET, &st, &cb, &re);
	ok(!ret, "mirror: stats (%d)", ret);
	printf("# invalidations:");
	for (int e = 0; e < FL_EV_COUNT; e++)
		printf(" %s=%llu", fl_driver_event_name(e), (unsigned long long)st.invalidations[e]);
	printf("\n# pages invalidated=%llu faults=%llu faulted_pages=%llu retries=%llu ebusy=%llu nonblock_busy=%llu valid=%llu stale=%llu/%llu\n",
	       (unsigned long long)st.invalidated_pages, (unsigned long long)st.faults,
	       (unsigned long long)st.faulted_pages, (unsigned long long)st.retries,
	       (unsigned long long)st.ebusy, (unsigned long long)st.nonblock_busy,
	       (unsigned long long)st.valid_pages, (unsigned long long)st.stale,
	       (unsigned long long)st.stale_checks);
	printf("# callback ns: count=%llu min=%llu max=%llu mean=%.0f; remirror ns: count=%llu mean=%.0f\n",
	       (unsigned long long)cb.count, (unsigned long long)cb.min,
	       (unsigned long long)cb.max, cb.count ? cb.sum / cb.count : 0.0,
	       (unsigned long long)re.count, re.count ? re.sum / re.count : 0.0);
	ok(ev(&st, FL_EV_CLEAR) > 0, "mirror: CLEAR (MADV_DONTNEED) counted");
	ok(ev(&st, FL_EV_PROTECTION_VMA) > 0, "mirror: PROTECTION_VMA (mprotect) counted");
	ok(ev(&st, FL_EV_UNMAP) > 0, "mirror: UNMAP (munmap) counted");
	ok(ev(&st, FL_EV_PROTECTION_PAGE) + ev(&st, FL_EV_CLEAR) > 1,
	   "mirror: fork/COW invalidations counted");
	ok(st.stale == 0 && st.stale_checks > 0, "mirror: stale == 0");
	ok(cb.count > 0 && cb.count == st.invalidations[FL_EV_UNMAP] + st.invalidations[FL_EV_CLEAR] +
	   st.invalidations[FL_EV_PROTECTION_VMA] + st.invalidations[FL_EV_PROTECTION_PAGE] +
	   st.invalidations[FL_EV_SOFT_DIRTY] + st.invalidations[FL_EV_RELEASE] +
	   st.invalidations[FL_EV_MIGRATE] + st.invalidations[FL_EV_EXCLUSIVE] +
	   st.invalidations[FL_EV_OTHER], "mirror: one histogram sample per callback");
	ok(re.count > 0, "mirror: re-mirror times recorded");
	ret = fl_drv_mirror_stats(d, h, 0, &st, NULL, NULL);
	ok(!ret && st.callback.count == 0 && st.faults == 0, "mirror: FL_STATS_RESET zeroed counters");
	ret = fl_drv_destroy(d, h, FL_UNPIN_DIRTY, NULL);
	ok(ret == -EINVAL, "mirror: unpin flags refused on a mirror (%d)", ret);
	ret = fl_drv_destroy(d, h, 0, NULL);
	ok(!ret, "mirror: destroy (%d)", ret);
	munmap(buf, len - MB);
}

static void test_gup(struct fl_driver *d)
{
	static const char *const names[FL_GUP_COUNT] = {
		"get_user_pages_fast", "pin_user_pages_fast", "pin_user_pages", "get_user_pages",
	};
	size_t len = 16 * MB;
	char *buf = map_anon(len, 2 * MB);
	unsigned ppc[] = { 1, 512 };

	memset(buf, 1, len);
	for (int op = 0; op < FL_GUP_COUNT; op++) {
		for (unsigned i = 0; i < 2; i++) {
			struct fl_gup_bench g = {
				.addr = (uintptr_t)buf, .len = len, .op = op,
				.flags = FL_GUP_WRITE |
					 (op == FL_GUP_PIN_FAST || op == FL_GUP_PIN ? FL_GUP_LONGTERM : 0),
				.pages_per_call = ppc[i],
			};
			struct fl_hist h;
			int ret;

			if (op == FL_GUP_GET_FAST && !fl_driver_has(d, FL_FEAT_GET_USER_PAGES_FAST)) {
				skip(names[op], fl_driver_why(d, FL_FEAT_GET_USER_PAGES_FAST));
				continue;
			}
			fl_hist_init(&h);
			ret = fl_drv_gup_bench(d, &g, &h);
			ok(!ret && !g.error && g.nr_pages == len / PAGE && g.verified == g.nr_pages &&
			   h.count == g.calls,
			   "gup %s x%u: %.1f ns/page get, %.1f ns/page put, %llu calls, p50 %llu ns (err %d)",
			   names[op], ppc[i], (double)g.get_ns / (g.nr_pages ? g.nr_pages : 1),
			   (double)g.put_ns / (g.nr_pages ? g.nr_pages : 1),
			   (unsigned long long)g.calls,
			   (unsigned long long)fl_hist_percentile(&h, 50), g.error);
		}
	}
	struct fl_gup_bench bad = { .addr = (uintptr_t)buf, .len = len, .op = FL_GUP_GET,
				    .flags = FL_GUP_LONGTERM, .pages_per_call = 1 };
	ok(fl_drv_gup_bench(d, &bad, NULL) == -EINVAL, "gup: FOLL_LONGTERM without FOLL_PIN refused");
	munmap(buf, len);
}

static void test_snapshot(struct fl_driver *d)
{
	size_t len = 4 * MB;
	char *buf = map_anon(len, 2 * MB);
	uint8_t *flags = calloc(len / PAGE, 1);
	struct fl_snapshot s;
	char thp[64] = "";
	FILE *f;
	int ret;

	ret = fl_drv_snapshot(d, buf, len, 0, flags, &s);
	ok(!ret && s.counts[0] == 0, "snapshot: untouched range has no present page");
	/* Read faults map the zero page (or the huge zero page). */
	for (size_t i = 2 * MB; i < len; i += PAGE)
		(void)*(volatile char *)(buf + i);
	madvise(buf, 2 * MB, MADV_HUGEPAGE);
	memset(buf, 1, 2 * MB);
	ret = fl_drv_snapshot(d, buf, len, 0, flags, &s);
	ok(!ret && s.nr_pages == len / PAGE, "snapshot: %llu pages, present %llu write %llu pmd %llu zero %llu in %llu ns",
	   (unsigned long long)s.nr_pages, (unsigned long long)s.counts[0],
	   (unsigned long long)s.counts[1], (unsigned long long)s.counts[2],
	   (unsigned long long)s.counts[4], (unsigned long long)s.ns);
	f = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");
	if (f) {
		if (!fgets(thp, sizeof(thp), f))
			thp[0] = 0;
		fclose(f);
	}
	if (!fl_driver_has(d, FL_FEAT_SNAPSHOT_ORDER))
		skip("snapshot: THP is pmd-mapped", fl_driver_why(d, FL_FEAT_SNAPSHOT_ORDER));
	else if (strstr(thp, "[never]") || !thp[0])
		skip("snapshot: THP is pmd-mapped", "THP disabled");
	else
		ok((flags[0] & FL_SNAP_PMD) && (flags[511] & FL_SNAP_PMD) && (flags[0] & FL_SNAP_WRITE),
		   "snapshot: the MADV_HUGEPAGE half is pmd-mapped and writable (flags 0x%x)", flags[0]);
	ok((flags[512] & FL_SNAP_PRESENT) && !(flags[512] & FL_SNAP_WRITE) &&
	   ((flags[512] & FL_SNAP_ZERO) || (flags[512] & FL_SNAP_PMD)),
	   "snapshot: read-faulted half is the read-only zero page (flags 0x%x)", flags[512]);
	munmap(buf + 3 * MB, MB);
	ret = fl_drv_snapshot(d, buf, len, 0, flags, &s);
	ok(!ret && (flags[len / PAGE - 1] & FL_SNAP_ERROR), "snapshot: unmapped tail flagged error");
	ret = fl_drv_snapshot(d, buf, len, FL_SNAPSHOT_FAULT, flags, &s);
	ok(ret == -EFAULT, "snapshot: faulting an unmapped range is EFAULT (%d)", ret);
	munmap(buf, 3 * MB);
	free(flags);
}

static unsigned snap_count(struct fl_driver *d, void *addr, size_t len, unsigned bit)
{
	struct fl_snapshot s;

	if (fl_drv_snapshot(d, addr, len, 0, NULL, &s))
		return ~0u;
	return (unsigned)s.counts[bit];
}

/* Device-private round trips: data, zero page and holes, CPU faults, fork, eviction. */
static void test_migrate(struct fl_driver *d)
{
	size_t len = 4 * MB;
	char *buf = map_anon(len, 0);
	struct fl_migrate mg;
	uint64_t faults0;
	char why[256];
	pid_t pid;
	int ret, status = -1;

	cpu_fill(buf, 0, MB, 3);				/* data */
	for (size_t i = MB; i < 2 * MB; i += PAGE)		/* zero page */
		(void)*(volatile char *)(buf + i);
	/* 2 MB .. 4 MB: holes */
	ret = fl_drv_migrate(d, buf, len, FL_MIGRATE_TO_DEVICE, &mg);
	ok(!ret && mg.migrated == len / PAGE,
	   "migrate: %llu of %llu pages (data, zero page, holes) to device: setup %llu copy %llu pages %llu finalize %llu ns (%d)",
	   (unsigned long long)mg.migrated, (unsigned long long)mg.npages,
	   (unsigned long long)mg.setup_ns, (unsigned long long)mg.copy_ns,
	   (unsigned long long)mg.pages_ns, (unsigned long long)mg.finalize_ns, ret);
	ok(snap_count(d, buf, len, 5) == len / PAGE, "migrate: snapshot sees %u device-private pages",
	   snap_count(d, buf, len, 5));
	faults0 = mg.cpu_faults;
	ok(cpu_verify(buf, 0, MB, 3) == 0, "migrate: CPU reads the data back through migrate_to_ram");
	fl_drv_migrate(d, buf, PAGE, FL_MIGRATE_TO_SYSTEM, &mg);
	ok(mg.cpu_faults - faults0 == MB / PAGE, "migrate: one CPU fault per page read (%llu)",
	   (unsigned long long)(mg.cpu_faults - faults0));
	ret = fl_drv_migrate(d, buf + MB, len - MB, FL_MIGRATE_TO_SYSTEM, &mg);
	ok(!ret && mg.migrated == (len - MB) / PAGE, "migrate: %llu pages back explicitly",
	   (unsigned long long)mg.migrated);
	ok(snap_count(d, buf, len, 5) == 0, "migrate: nothing left on the device");
	ok(buf[MB] == 0 && buf[3 * MB] == 0, "migrate: zero page and holes came back as zeroes");

	/* fork with device-private entries: each side faults its own copy back. */
	ret = fl_drv_migrate(d, buf, MB, FL_MIGRATE_TO_DEVICE, &mg);
	pid = fork();
	if (pid == 0)
		_exit(cpu_verify(buf, 0, MB, 3) ? 1 : 0);
	waitpid(pid, &status, 0);
	ok(!ret && status == 0 && cpu_verify(buf, 0, MB, 3) == 0,
	   "migrate: after fork child and parent both read the data (status %d)", status);

	/* Close with pages on the device: eviction brings them home. */
	ret = fl_drv_migrate(d, buf, MB, FL_MIGRATE_TO_DEVICE, &mg);
	fl_driver_close(d);
	ok(!ret && cpu_verify(buf, 0, MB, 3) == 0, "migrate: data intact after close evicted the device");
	if (!fl_driver_open(d, why, sizeof(why)))
		ok(snap_count(d, buf, len, 5) == 0, "migrate: close left no device-private page");
	munmap(buf, len);
}

/*
 * Device-exclusive grants on a mirror: atomics while held, CPU touch,
 * mprotect and fork revoke; our own MMU_NOTIFY_EXCLUSIVE is filtered.
 */
static void test_exclusive(struct fl_driver *d)
{
	size_t len = MB;
	char *buf = map_anon(len, 0);
	struct fl_exclusive e;
	struct fl_access acc;
	uint32_t h;
	pid_t pid;
	int ret, status = -1;

	cpu_fill(buf, 0, len, 5);
	ret = fl_drv_mirror_create(d, buf, len, FL_MIRROR_WRITE, &h);
	ok(!ret, "exclusive: writable mirror (%d)", ret);
	ret = fl_drv_exclusive(d, h, FL_EXCL_GRANT, 0, len, 0, 0, &e, NULL, NULL);
	ok(!ret && e.pages == len / PAGE && e.held == len / PAGE && !e.error,
	   "exclusive: %llu of %lu pages granted in %llu ns, error %d, %llu self-filtered callbacks (%d)",
	   (unsigned long long)e.pages, len / PAGE, (unsigned long long)e.ns, e.error,
	   (unsigned long long)e.self_filtered, ret);
	ok(e.self_filtered > 0 && e.revoked == 0,
	   "exclusive: our own MMU_NOTIFY_EXCLUSIVE filtered, nothing revoked");
	ok(snap_count(d, buf, len, 0) == 0, "exclusive: the CPU table maps none of the held pages");
	ret = fl_drv_access(d, h, FL_ACCESS_CHECK_STALE, 0, len, 0, &acc);
	ok(!ret && acc.mismatches == 0, "exclusive: held grants are not stale (%llu)",
	   (unsigned long long)acc.mismatches);
	ret = fl_drv_exclusive(d, h, FL_EXCL_ATOMIC_ADD, 0, len, 1, 0, &e, NULL, NULL);
	ok(!ret && e.pages == len / PAGE && e.not_held == 0,
	   "exclusive: device atomics on %llu pages", (unsigned long long)e.pages);
	ok(((volatile uint64_t *)buf)[0] == fl_pattern(5, 0) + 1,
	   "exclusive: CPU sees the atomic add after its fault revoked page 0");
	ret = fl_drv_exclusive(d, h, FL_EXCL_STATS, 0, 0, 0, 0, &e, NULL, NULL);
	ok(!ret && e.revoked == 1 && e.held == len / PAGE - 1,
	   "exclusive: one touch, one revoke (revoked %llu held %llu; by exclusive %llu clear %llu)",
	   (unsigned long long)e.revoked, (unsigned long long)e.held,
	   (unsigned long long)e.revoked_by[FL_EV_EXCLUSIVE],
	   (unsigned long long)e.revoked_by[FL_EV_CLEAR]);
	ret = fl_drv_exclusive(d, h, FL_EXCL_ATOMIC_ADD, 0, len, 1, 0, &e, NULL, NULL);
	ok(!ret && e.not_held == 1, "exclusive: atomics skip the revoked page (%llu)",
	   (unsigned long long)e.not_held);
	ret = fl_drv_exclusive(d, h, FL_EXCL_ATOMIC_ADD, 0, len, 1, FL_EXCL_REGRANT, &e, NULL, NULL);
	ok(!ret && e.pages == len / PAGE && e.not_held == 0 && e.held == len / PAGE,
	   "exclusive: REGRANT takes it back (%llu pages, held %llu)",
	   (unsigned long long)e.pages, (unsigned long long)e.held);
	mprotect(buf, len / 2, PROT_READ);
	ret = fl_drv_exclusive(d, h, FL_EXCL_STATS, 0, 0, 0, 0, &e, NULL, NULL);
	ok(!ret && e.revoked_by[FL_EV_PROTECTION_VMA] == len / 2 / PAGE,
	   "exclusive: mprotect revoked %llu pages", (unsigned long long)e.revoked_by[FL_EV_PROTECTION_VMA]);
	ret = fl_drv_exclusive(d, h, FL_EXCL_GRANT, 0, PAGE, 0, 0, &e, NULL, NULL);
	ok(!ret && e.error < 0 && e.pages == 0, "exclusive: grant on a read-only page refused with %s",
	   e.error ? strerror(-e.error) : "nothing");
	mprotect(buf, len / 2, PROT_READ | PROT_WRITE);
	pid = fork();
	if (pid == 0)
		_exit(((volatile uint64_t *)buf)[len / 8 - 1] == fl_pattern(5, len - 8) + 3 ? 0 : 1);
	waitpid(pid, &status, 0);
	ret = fl_drv_exclusive(d, h, FL_EXCL_STATS, 0, 0, 0, FL_EXCL_RESET, &e, NULL, NULL);
	ok(!ret && status == 0 && e.held == 0 &&
	   ((volatile uint64_t *)buf)[len / 8 - 1] == fl_pattern(5, len - 8) + 3,
	   "exclusive: fork revoked the rest (held %llu, protection_page %llu), child and parent read the data (status %d)",
	   (unsigned long long)e.held, (unsigned long long)e.revoked_by[FL_EV_PROTECTION_PAGE], status);
	ret = fl_drv_exclusive(d, h, FL_EXCL_GRANT, 0, len, 0, 0, &e, NULL, NULL);
	ok(!ret && e.pages == len / PAGE && !e.error,
	   "exclusive: grant again after fork: %llu pages, error %d, %llu retries (%d)",
	   (unsigned long long)e.pages, e.error, (unsigned long long)e.retries, ret);
	munmap(buf, len);
	ret = fl_drv_exclusive(d, h, FL_EXCL_STATS, 0, 0, 0, 0, &e, NULL, NULL);
	ok(!ret && e.held == 0 && e.revoked_by[FL_EV_UNMAP] == len / PAGE,
	   "exclusive: munmap revoked %llu held pages (clear %llu, exclusive %llu, held %llu)",
	   (unsigned long long)e.revoked_by[FL_EV_UNMAP], (unsigned long long)e.revoked_by[FL_EV_CLEAR],
	   (unsigned long long)e.revoked_by[FL_EV_EXCLUSIVE], (unsigned long long)e.held);
	fl_drv_destroy(d, h, 0, NULL);
}

/*
 * `fl-smoke hold`: keep a pinned buffer and a mirror busy (device passes,
 * MADV_DONTNEED between them) until killed, for the unload test: rmmod
 * must refuse while the file is open, and succeed once the process is
 * killed mid-access and the close released everything.
 */
static int hold(void)
{
	size_t len = 8 * MB;
	char *a = map_anon(len, 0), *b = map_anon(len, 0);
	struct fl_pin_create pc;
	struct fl_access acc;
	struct fl_driver d;
	char why[256];
	uint32_t h;

	if (fl_driver_open(&d, why, sizeof(why))) {
		fprintf(stderr, "%s\n", why);
		return 1;
	}
	memset(a, 1, len);
	if (fl_drv_pin_create(&d, a, len, FL_PIN_WRITE | FL_PIN_LONGTERM | FL_PIN_FAST, &pc) ||
	    fl_drv_mirror_create(&d, b, len, FL_MIRROR_WRITE, &h)) {
		fprintf(stderr, "hold: create failed\n");
		return 1;
	}
	printf("holding pin %u and mirror %u\n", pc.handle, h);
	fflush(stdout);
	for (uint64_t seed = 0;; seed++) {
		fl_drv_access(&d, pc.handle, FL_ACCESS_FILL, 0, len, seed, &acc);
		fl_drv_access(&d, h, FL_ACCESS_FILL, 0, len, seed, &acc);
		madvise(b, len / 2, MADV_DONTNEED);
	}
}

int main(int argc, char **argv)
{
	struct fl_driver d;
	char why[256];
	long acq0 = vmstat("nr_foll_pin_acquired"), rel0 = vmstat("nr_foll_pin_released");
	long acq, rel;

	if (argc > 1 && !strcmp(argv[1], "hold"))
		return hold();
	printf("TAP version 13\n");
	if (fl_driver_open(&d, why, sizeof(why))) {
		printf("1..0 # SKIP %s\n", why);
		return 0;
	}
	printf("# faultline.ko ABI %u for %s, features 0x%llx\n", d.version.abi,
	       d.version.release, (unsigned long long)d.caps.features);
	for (int i = 0; i < FL_FEAT_COUNT; i++) {
		const char *w = fl_driver_why(&d, i);

		printf("#   %-34s %s\n", fl_driver_feature_name(i), w ? w : "yes");
	}
	test_pin(&d, FL_PIN_WRITE | FL_PIN_LONGTERM | FL_PIN_FAST, "fast+longterm");
	test_pin(&d, FL_PIN_WRITE, "slow");
	if (fl_driver_has(&d, FL_FEAT_MIRROR))
		test_mirror(&d);
	else
		skip("mirror", fl_driver_why(&d, FL_FEAT_MIRROR));
	test_gup(&d);
	if (fl_driver_has(&d, FL_FEAT_DEVICE_PRIVATE))
		test_migrate(&d);
	else
		skip("device-private migration", fl_driver_why(&d, FL_FEAT_DEVICE_PRIVATE));
	if (fl_driver_has(&d, FL_FEAT_DEVICE_EXCLUSIVE))
		test_exclusive(&d);
	else
		skip("device-exclusive", fl_driver_why(&d, FL_FEAT_DEVICE_EXCLUSIVE));
	if (fl_driver_has(&d, FL_FEAT_SNAPSHOT))
		test_snapshot(&d);
	else
		skip("snapshot", fl_driver_why(&d, FL_FEAT_SNAPSHOT));

	fl_driver_close(&d);
	acq = vmstat("nr_foll_pin_acquired");
	rel = vmstat("nr_foll_pin_released");
	ok(acq - acq0 == rel - rel0, "vmstat: FOLL_PIN acquired %ld == released %ld during the test",
	   acq - acq0, rel - rel0);
	printf("1..%d\n# %d passed, %d failed\n", ntest, ntest - nfail, nfail);
	return nfail ? 1 : 0;
}
