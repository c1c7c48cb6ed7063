/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Holding memory the ways a device does, for the workloads that pin: io_uring
 * registered buffers (io_sqe_buffer_register: FOLL_PIN|FOLL_LONGTERM), reads
 * in flight (O_DIRECT through io_uring: bio_iov_iter_get_pages, FOLL_PIN),
 * pipe references (vmsplice: FOLL_GET) and faultline.ko pins
 * (FL_IOC_PIN_CREATE); and the data patterns that tell whose write a word
 * came from, the pattern file a "device" reads from, RLIMIT_MEMLOCK.
 *
 * Calls return 0 (or a count) or a negative errno and never decide an
 * outcome: whether a refusal is the kernel's documented behaviour or a bug
 * is the workload's call.
 */
#ifndef FL_HOLD_H
#define FL_HOLD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <liburing.h>

#include "driver.h"
#include "faultline.h"		/* fl_pattern(): the driver's device pattern */
#include "workload.h"

/* ------------------------------------------------------------ patterns */

/*
 * Who wrote a word: each actor writes fl_pattern(seed, offset) with its own
 * seed, so a mismatch names the culprit (the child's data in the parent is
 * a different bug from the device's data in the child).
 */
enum fl_actor {
	FL_ACT_ORIG, FL_ACT_PARENT, FL_ACT_CHILD, FL_ACT_DEVICE, FL_ACT_MARKER,
	FL_ACT_COUNT
};

extern const uint64_t fl_actor_seed[FL_ACT_COUNT];
extern const char *const fl_actor_name[FL_ACT_COUNT];

static inline uint64_t fl_word(enum fl_actor a, uint64_t off)
{
	return fl_pattern(fl_actor_seed[a], off);
}

/*
 * Fill @len bytes at @p with the pattern of @seed as it would be at pattern
 * offset @patoff (the buffer offset of @p, or the file offset a device read
 * came from).
 */
void fl_fill_seed(void *p, uint64_t patoff, size_t len, uint64_t seed);
void fl_fill(void *p, uint64_t patoff, size_t len, enum fl_actor a);

/*
 * Words of @len bytes at @p that differ from @seed's pattern at @patoff;
 * the first one's pattern offset in *@first (UINT64_MAX if none).
 */
size_t fl_check_seed(const void *p, uint64_t patoff, size_t len, uint64_t seed, uint64_t *first);

/*
 * Check @len bytes at @p hold actor @want's pattern at @patoff (or @alt's,
 * if alt >= 0).  Returns the number of bad words; the first is reported in
 * @first (pattern offset) and @got.
 */
size_t fl_check(const void *p, uint64_t patoff, size_t len, enum fl_actor want, int alt,
		uint64_t *first, uint64_t *got);

/* Whose data a stray word at @off is, in words (for a fail reason). */
const char *fl_whose(uint64_t off, uint64_t v);

/*
 * Say in the record (detail "verified") what fl_verify() accepted: pages
 * present, in THPs, in hugetlb pages, pmd-mapped.
 */
void fl_note_verified(struct fl_case *c, const struct fl_mapping *m);

/*
 * Map @len bytes of the case's backing for worker @w into @m (*@mapped set
 * once it is mapped), fill it with the original data (FL_ACT_ORIG: the
 * memory is present before anything holds it) and verify it (fl_verify;
 * worker 0 notes what was verified).  0, or -1 with the outcome set: a
 * skip when the memory is not to be had (ENOMEM) or not what was asked.
 */
int fl_map_original(struct fl_worker *w, size_t len, struct fl_mapping *m, bool *mapped);

/*
 * A page of MAP_SHARED memory in *@page (if not there yet), the way back
 * from forked children.  0, or -1 with the case's error set.
 */
int fl_shared_page(struct fl_case *c, void **page);

/*
 * A file of @len bytes in @dir holding @seed's pattern at its own offsets:
 * what the "device" (an io_uring or O_DIRECT read) writes into held memory.
 * Unlinked at once; fsync'd so O_DIRECT reads see it.  Returns an fd
 * (O_RDWR) or -errno with the reason in @why.
 */
int fl_pattern_file(const char *dir, size_t len, uint64_t seed, char *why, size_t whylen);

/*
 * Reopen @fd with O_DIRECT and @flags (O_RDONLY, O_RDWR); -errno with the
 * reason in @why.
 */
int fl_reopen_direct(int fd, const char *dir, int flags, char *why, size_t whylen);

/* Whether this thread holds capability @cap in its effective set. */
bool fl_has_cap(int cap);

/*
 * Behave like an unprivileged user for RLIMIT_MEMLOCK: drop CAP_IPC_LOCK
 * and CAP_SYS_RESOURCE from this process (threads made after inherit it).
 */
int fl_drop_pin_caps(void);

/*
 * Long-term pins are charged to RLIMIT_MEMLOCK unless the caller has
 * CAP_IPC_LOCK (io_uring buffer registration: io_account_mem; 5.12+
 * charges pinned_vm).  Make the soft limit cover @need bytes when we may,
 * and say in the "memlock" detail what was done or why it could not be.
 * @want_limit > 0 sets that limit instead (tests of the ENOMEM path).
 * Returns true if the pins will not be refused for RLIMIT_MEMLOCK.
 */
bool fl_memlock_ensure(struct fl_case *c, uint64_t need, uint64_t want_limit);

/* ------------------------------------------------------------ refusals */

/* How a hold was asked for, for fl_gup_refusal(). */
#define FL_FOLL_WRITE		(1u << 0)	/* FOLL_WRITE */
#define FL_FOLL_LONGTERM	(1u << 1)	/* FOLL_LONGTERM */
#define FL_FOLL_IO_URING	(1u << 2)	/* through io_uring buffer registration */

/*
 * Whether the kernel documents refusing a hold of present memory of
 * backing @b asked for as @how (FL_FOLL_*) with @err (positive or
 * negative): the reason, naming the check, or NULL when such a refusal is
 * a bug.  Documented: FOLL_LONGTERM on fsdax (check_vma_flags,
 * vma_is_fsdax: EOPNOTSUPP); FOLL_LONGTERM|FOLL_WRITE on a page-cache
 * file that needs dirty tracking (writable_file_mapping_allowed, 6.5:
 * EFAULT); io_uring's own file-backed buffer check before 6.5
 * (EOPNOTSUPP).
 */
const char *fl_gup_refusal(enum fl_backing_id b, unsigned how, int err);

/* ---------------------------------------------------------------- holds */

enum fl_hold_via { FL_HOLD_IO_URING, FL_HOLD_O_DIRECT, FL_HOLD_VMSPLICE, FL_HOLD_DRIVER };

/* One io_uring buffer registration covers at most 1 GiB (io_buffer_validate). */
#define FL_HOLD_URING_BUF_MAX	(1ul << 30)
#define FL_HOLD_URING_BUFS	64

/*
 * The state of one holder.  All zeroes (calloc, fl_hold_init) is a holder
 * holding nothing; every resource it took is given back by fl_hold_close().
 */
struct fl_hold {
	struct io_uring ring;
	bool ring_ok;
	bool registered;	/* buffers registered with the ring */
	char *base;		/* where buffer 0 starts (the rest follow, 1 GiB each) */
	unsigned inflight;	/* queued or submitted, not reaped */
	int bad_res;		/* a reaped completion's res that was not the one wanted */
	bool bad;
	int pipe[2];		/* vmsplice: valid when piped */
	bool piped;
	size_t spliced;		/* bytes the pipe holds */
	struct fl_driver drv;
	bool drv_open;
	uint32_t handle;	/* driver pin */
	bool pinned;
};

void fl_hold_init(struct fl_hold *h);
/* Release every hold and close the ring, pipe and driver. */
void fl_hold_close(struct fl_hold *h);

/* io_uring: a ring of @entries; -errno from io_uring_queue_init. */
int fl_hold_ring(struct fl_hold *h, unsigned entries);
/*
 * Register @len bytes at @addr as fixed buffers (one per GiB, buffer 0
 * first): the long-term pin.  -errno as io_uring_register(2) refused.
 */
int fl_hold_register(struct fl_hold *h, void *addr, size_t len);
/* Unregister them (unpin_user_page for each). */
int fl_hold_unregister(struct fl_hold *h);
/*
 * Queue a read of @len bytes at file offset @off of @fd into @buf:
 * READ_FIXED from the registered buffer holding @buf when @fixed, a plain read (O_DIRECT: pinned
 * while in flight) otherwise.  A full submission queue is submitted and one
 * completion reaped first.  0 or -errno.
 */
int fl_hold_queue_read(struct fl_hold *h, int fd, void *buf, unsigned len, uint64_t off, bool fixed);
/* Submit what is queued; -errno from io_uring_submit. */
int fl_hold_submit(struct fl_hold *h);
/*
 * Reap up to @n completions, waiting for each if @wait, else only those
 * done.  A completion whose res is not @want stops the reaping: h->bad is
 * set and h->bad_res holds it.  Returns the number reaped or -errno.
 */
int fl_hold_reap(struct fl_hold *h, unsigned n, bool wait, int want);
/*
 * One fixed-buffer transfer of @len bytes between @buf (in the registered
 * buffer) and @fd at @off, submitted and waited for: READ_FIXED (the
 * device writes memory) or WRITE_FIXED (it reads it).  Returns the
 * completion's res: bytes moved or -errno.
 */
int fl_hold_rw_fixed(struct fl_hold *h, bool write, int fd, void *buf, unsigned len, uint64_t off);

/*
 * vmsplice: a pipe sized for @size bytes (F_SETPIPE_SZ; 0: as made).  Returns the
 * pipe's size, which may be smaller than asked when it was refused and
 * @exact is false; -errno when it could not be made (or resized, @exact).
 */
int fl_hold_pipe(struct fl_hold *h, size_t size, bool exact);
/* vmsplice @len bytes at @addr into the pipe: bytes taken (added to h->spliced) or -errno. */
ssize_t fl_hold_vmsplice(struct fl_hold *h, void *addr, size_t len);
/* Read @len bytes the pipe holds into @dst: 0 or -errno (-EIO at EOF). */
int fl_hold_pipe_read(struct fl_hold *h, void *dst, size_t len);
/* Drop @len bytes the pipe holds without copying (splice to @devnull): 0 or -errno. */
int fl_hold_pipe_drop(struct fl_hold *h, int devnull, size_t len);

/* The driver: open /dev/faultline; -errno with the skip reason in @why. */
int fl_hold_driver(struct fl_hold *h, char *why, size_t whylen);
/* FL_IOC_PIN_CREATE of @len bytes at @addr with @flags (FL_PIN_*); the pin's figures in @out. */
int fl_hold_pin(struct fl_hold *h, void *addr, size_t len, uint32_t flags, struct fl_pin_create *out);
/* FL_IOC_DESTROY of the pin with @flags (FL_UNPIN_DIRTY); kernel time in *@ns if not NULL. */
int fl_hold_unpin(struct fl_hold *h, uint32_t flags, uint64_t *ns);

/*
 * Hold @len bytes at @addr for a while via @via (not O_DIRECT, whose holds
 * are the reads in flight): io_uring registers it (a ring of @entries is
 * made if none is), vmsplice puts what a pipe of up to @len takes into one
 * (h->spliced says how much), the driver pins it FOLL_WRITE|FOLL_LONGTERM
 * (pin_user_pages_fast).  0, or -errno with what failed in @why: when
 * *@refused is set it was the kernel refusing the hold itself, else the
 * setup around it (a ring, a pipe, no driver: @why is then a skip reason).
 */
int fl_hold_take(struct fl_hold *h, enum fl_hold_via via, void *addr, size_t len, unsigned entries,
		 bool *refused, char *why, size_t whylen);

#endif
