/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the pinning workloads (gup-user, cow-pin, cow-race):
 * the data patterns that tell whose write a word came from, the pattern
 * file the emulated "device" reads from, RLIMIT_MEMLOCK handling and errno
 * names for observed-behaviour details.  Static inline: each workload stays
 * one object file.
 */
#ifndef FL_PINNING_H
#define FL_PINNING_H

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/capability.h>

#include "faultline.h"		/* fl_pattern(): the driver's device pattern */
#include "workload.h"

/*
 * Who wrote a word: each actor writes fl_pattern(seed, offset) with its own
 * seed, so a mismatch names the culprit (the child's data in the parent is
 * a different bug from the device's data in the child).
 */
enum fl_actor { ACT_ORIG, ACT_PARENT, ACT_CHILD, ACT_DEVICE, ACT_MARKER, ACT_COUNT };

static const uint64_t fl_actor_seed[ACT_COUNT] = {
	0x0123456789abcdefull, 0x5eed0000aaaa0001ull, 0x5eed0000cccc0002ull,
	0x5eed0000dddd0003ull, 0x5eed00000000ffffull,
};

static const char *const fl_actor_name[ACT_COUNT] = {
	"original data", "the parent's post-fork write", "the child's write",
	"the device's write", "the pre-read marker",
};

static inline uint64_t fl_word(enum fl_actor a, uint64_t off)
{
	return fl_pattern(fl_actor_seed[a], off);
}

/*
 * Fill @len bytes at @p with actor @a's pattern as it would be at pattern
 * offset @patoff (the buffer offset of @p, or the file offset a device read
 * came from).
 */
static inline void fl_fill(void *p, uint64_t patoff, size_t len, enum fl_actor a)
{
	uint64_t *q = p;

	for (size_t i = 0; i < len / 8; i++)
		q[i] = fl_word(a, patoff + i * 8);
}

/*
 * Check @len bytes at @p hold actor @want's pattern at @patoff (or @alt's,
 * if alt >= 0).  Returns the number of bad words; the first is reported in
 * @first (pattern offset) and @got.
 */
static inline size_t fl_check(const void *p, uint64_t patoff, size_t len, enum fl_actor want,
			      int alt, uint64_t *first, uint64_t *got)
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

/* Whose data a stray word at @off is, in words (for a fail reason). */
static inline const char *fl_whose(uint64_t off, uint64_t v)
{
	if (!v)
		return "zeroes";
	for (int a = 0; a < ACT_COUNT; a++)
		if (v == fl_word((enum fl_actor)a, off))
			return fl_actor_name[a];
	return "data of no actor";
}

/*
 * Say in the record what fl_verify() accepted: what the kernel mapped
 * (pages present, in THPs, in hugetlb pages, pmd-mapped).
 */
static inline void fl_note_verified(struct fl_case *c, const struct fl_mapping *m)
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

/*
 * A file of @len bytes in @dir holding the device pattern at its own
 * offsets: what the "device" (an io_uring or O_DIRECT read) writes into
 * pinned memory.  Unlinked at once; fsync'd so O_DIRECT reads see it.
 * Returns an fd (O_RDWR) or -errno with the reason in @why.
 */
static inline int fl_pattern_file(const char *dir, size_t len, char *why, size_t whylen)
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

		for (size_t i = 0; i < n / 8; i++)
			((uint64_t *)buf)[i] = fl_word(ACT_DEVICE, off + i * 8);
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

/* Reopen @fd (the pattern file) with O_DIRECT; -errno with reason in @why. */
static inline int fl_reopen_direct(int fd, const char *dir, char *why, size_t whylen)
{
	char path[64];
	int dfd;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	dfd = open(path, O_RDONLY | O_DIRECT | O_CLOEXEC);
	if (dfd < 0) {
		int e = errno;

		snprintf(why, whylen, "O_DIRECT open of a file in %s (file_dir): %s%s", dir,
			 strerror(e), e == EINVAL ? " (the filesystem does not support O_DIRECT)" : "");
		return -e;
	}
	return dfd;
}

/* Whether this thread holds capability @cap in its effective set. */
static inline bool fl_has_cap(int cap)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[2];

	if (syscall(SYS_capget, &h, d))
		return false;
	return d[CAP_TO_INDEX(cap)].effective & CAP_TO_MASK(cap);
}

/*
 * Long-term pins are charged to RLIMIT_MEMLOCK unless the caller has
 * CAP_IPC_LOCK (io_uring buffer registration: io_account_mem; 5.12+
 * charges pinned_vm).  Make the soft limit cover @need bytes when we may,
 * and say in the "memlock" detail what was done or why it could not be.
 * @want_limit > 0 sets that limit instead (tests of the ENOMEM path).
 * Returns true if the pins will not be refused for RLIMIT_MEMLOCK.
 */
static inline bool fl_memlock_ensure(struct fl_case *c, uint64_t need, uint64_t want_limit)
{
	bool ipc_lock = fl_has_cap(CAP_IPC_LOCK);
	struct rlimit rl, nr;
	char buf[320];

	if (getrlimit(RLIMIT_MEMLOCK, &rl)) {
		fl_case_detail(c, "memlock", "getrlimit(RLIMIT_MEMLOCK) failed");
		return false;
	}
	if (want_limit) {
		nr.rlim_cur = want_limit;
		nr.rlim_max = rl.rlim_max;
		if (nr.rlim_max != RLIM_INFINITY && nr.rlim_max < nr.rlim_cur)
			nr.rlim_cur = nr.rlim_max;
		snprintf(buf, sizeof(buf), "set RLIMIT_MEMLOCK to %llu KiB as asked (memlock option): %s%s",
			 (unsigned long long)(nr.rlim_cur >> 10),
			 setrlimit(RLIMIT_MEMLOCK, &nr) ? strerror(errno) : "ok",
			 ipc_lock ? "; CAP_IPC_LOCK held, so pins are not charged to it" : "");
		fl_case_detail(c, "memlock", buf);
		return ipc_lock || nr.rlim_cur >= need;
	}
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

#endif
