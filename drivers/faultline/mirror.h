/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A mirrored buffer's state, shared by mirror.c (notifier, hmm_range_fault,
 * device access) and exclusive.c (device-exclusive grants on its pages).
 * Everything below `lock` is protected by it; the invalidate callback takes
 * it, so nothing may allocate with GFP_KERNEL while holding it (reclaim can
 * unmap a page of this very mirror and wait for the callback).
 */
#ifndef FL_MIRROR_H
#define FL_MIRROR_H

#include <linux/mmu_notifier.h>
#include <linux/mutex.h>
#include <linux/slab.h>

#include "fl.h"

/* Pages per hmm_range_fault() round: one pmd's worth. */
#define FL_FAULT_CHUNK		512

struct fl_mirror {
	struct fl_obj obj;
	struct mmu_interval_notifier notifier;
	struct mutex lock;	/* pt, invalidated, counters, histograms */
	unsigned long *pt;	/* device page table: hmm pfns, 0 = invalid */
	unsigned long *invalidated;	/* bit per page: cleared by a callback */
	unsigned long *scratch;	/* FL_FAULT_CHUNK hmm pfns (device thread) */
	bool write;
	struct fl_khist *cb_hist;
	struct fl_khist *remirror_hist;
	u64 inval[FL_EV_COUNT];
	u64 invalidated_pages;
	u64 faults;
	u64 faulted_pages;
	u64 retries;
	u64 ebusy;
	u64 valid_pages;
	u64 stale_checks;
	u64 stale;
	atomic64_t nonblock_busy;

	/*
	 * Device-exclusive grants (exclusive.c), allocated at the first one:
	 * a set bit in `atomic` means pt[i] maps a page the CPU cannot
	 * access until it revokes the grant.
	 */
	struct fl_mirror_excl *excl;
	atomic64_t excl_self;	/* our own MMU_NOTIFY_EXCLUSIVE, filtered unlocked */
};

struct fl_mirror_excl {
	unsigned long *atomic;	/* bit per page */
	u64 *grant_ns;		/* ktime of each held grant */
	struct fl_khist *revoke_hist;	/* callbacks that revoked a grant */
	struct fl_khist *hold_hist;	/* grant-to-revoke per page */
	u64 granted, held, revoked, atomic_words;
	u64 revoked_by[FL_EV_COUNT];
};

/*
 * hmm_range_fault() pages [first, last) of @m with the retry protocol and
 * program them (@program), or leave m->lock held with the pfns in scratch.
 */
int fl_mirror_range(struct fl_mirror *m, struct mm_struct *mm,
		    unsigned long first, unsigned long last,
		    unsigned long default_flags, bool program);
unsigned long fl_fault_flags(bool write);

static inline void fl_excl_free(struct fl_mirror_excl *x)
{
	if (!x)
		return;
	fl_khist_free(x->hold_hist);
	fl_khist_free(x->revoke_hist);
	kvfree(x->grant_ns);
	kvfree(x->atomic);
	kfree(x);
}

#endif /* FL_MIRROR_H */
