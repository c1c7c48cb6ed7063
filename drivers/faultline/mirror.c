// SPDX-License-Identifier: GPL-2.0
/*
 * Mirrored buffers: the GPU/HMM way of giving a device process memory.  An
 * mmu_interval_notifier covers the range; hmm_range_fault() fills a device
 * page table; the notifier's invalidate callback clears entries under the
 * table lock; the device re-faults invalid entries with the
 * mmu_interval_read_begin()/mmu_interval_read_retry() protocol
 * (Documentation/mm/hmm.rst).  What this measures:
 *
 *  - invalidations by event (munmap, MADV_DONTNEED, mprotect, fork COW, ...)
 *    and the duration of each callback, lock wait included -- unbounded
 *    callback latency is what stalls munmap/fork on real GPUs;
 *  - retries per successful mirror and the time to re-mirror an
 *    invalidated range;
 *  - stale mappings: a device entry still valid while the CPU page table
 *    maps another page there (the ABA race that the read_begin/retry
 *    protocol exists to close).  Found by taking a fresh hmm snapshot and
 *    comparing PFNs; it must stay 0.
 */
#include <linux/mm.h>
#include <linux/hmm.h>
#include <linux/mmu_notifier.h>
#include <linux/slab.h>
#include <linux/sched/mm.h>
#include <linux/mutex.h>
#include <linux/jiffies.h>
#include <linux/ktime.h>

#include "mirror.h"

/* Pages the device touches per table-lock hold, to bound callback wait. */
#define FL_ACCESS_BATCH		64

static bool fl_mirror_invalidate(struct mmu_interval_notifier *mni,
				 const struct mmu_notifier_range *range,
				 unsigned long cur_seq)
{
	struct fl_mirror *m = container_of(mni, struct fl_mirror, notifier);
	unsigned long start = max(range->start, m->obj.start);
	unsigned long end = min(range->end, m->obj.start + m->obj.len);
	unsigned long i, last;
	u64 t0 = ktime_get_ns(), now;
	unsigned int ev = fl_event_index(range->event);
	bool revoking = false;

	/*
	 * Our own make_device_exclusive() (exclusive.c) changes the CPU pte,
	 * not the page: the device's entries stay right.  The owner field of
	 * MMU_NOTIFY_EXCLUSIVE exists so that a driver can filter its own.
	 */
	if (fl_notifier_own_exclusive(range, m)) {
		atomic64_inc(&m->excl_self);
		return true;
	}
	/* The OOM reaper calls us non-blockable; it retries if we refuse. */
	if (mmu_notifier_range_blockable(range)) {
		mutex_lock(&m->lock);
	} else if (!mutex_trylock(&m->lock)) {
		atomic64_inc(&m->nonblock_busy);
		return false;
	}
	mmu_interval_set_seq(mni, cur_seq);
	last = (end - m->obj.start) >> PAGE_SHIFT;
	for (i = (start - m->obj.start) >> PAGE_SHIFT; i < last; i++) {
		if (!m->pt[i])
			continue;
		m->pt[i] = 0;
		__set_bit(i, m->invalidated);
		m->invalidated_pages++;
		m->valid_pages--;
		if (m->excl && __test_and_clear_bit(i, m->excl->atomic)) {
			/* A revoke: CPU fault, munmap, mprotect, fork, migration... */
			m->excl->held--;
			m->excl->revoked++;
			m->excl->revoked_by[ev]++;
			fl_khist_add(m->excl->hold_hist, t0 - m->excl->grant_ns[i]);
			revoking = true;
		}
	}
	m->inval[ev]++;
	now = ktime_get_ns();
	fl_khist_add(m->cb_hist, now - t0);
	if (revoking)
		fl_khist_add(m->excl->revoke_hist, now - t0);
	mutex_unlock(&m->lock);
	return true;
}

static const struct mmu_interval_notifier_ops fl_mirror_ops = {
	.invalidate = fl_mirror_invalidate,
};

/*
 * One hmm_range_fault() round over [first, last) and the retry protocol;
 * returns with the range programmed (or an error).  @default_flags 0 is a
 * snapshot that faults nothing (used by the stale check, with @program
 * false: then the caller gets m->lock held and the pfns in m->scratch).
 */
int fl_mirror_range(struct fl_mirror *m, struct mm_struct *mm,
			   unsigned long first, unsigned long last,
			   unsigned long default_flags, bool program)
{
	struct hmm_range range = {
		.notifier = &m->notifier,
		.start = m->obj.start + (first << PAGE_SHIFT),
		.end = m->obj.start + (last << PAGE_SHIFT),
		.hmm_pfns = m->scratch,
		.default_flags = default_flags,
	};
	unsigned long timeout = jiffies + msecs_to_jiffies(HMM_RANGE_DEFAULT_TIMEOUT);
	bool was_invalidated = false;
	u64 t0 = ktime_get_ns();
	unsigned long i;
	int ret;

	for (;;) {
		if (time_after(jiffies, timeout))
			return -EBUSY;
		range.notifier_seq = mmu_interval_read_begin(&m->notifier);
		fl_mmap_read_lock(mm);
		ret = hmm_range_fault(&range);
		fl_mmap_read_unlock(mm);
		if (ret == -EBUSY) {
			mutex_lock(&m->lock);
			m->ebusy++;
			mutex_unlock(&m->lock);
			continue;
		}
		if (ret)
			return ret;
		mutex_lock(&m->lock);
		if (!mmu_interval_read_retry(&m->notifier, range.notifier_seq))
			break;
		/* An invalidation ran between the walk and here: redo it. */
		m->retries++;
		mutex_unlock(&m->lock);
	}
	if (!program)
		return 0;	/* m->lock held */

	for (i = first; i < last; i++) {
		if (!m->pt[i])
			m->valid_pages++;
		m->pt[i] = m->scratch[i - first];
		if (__test_and_clear_bit(i, m->invalidated))
			was_invalidated = true;
	}
	m->faults++;
	m->faulted_pages += last - first;
	if (was_invalidated)
		fl_khist_add(m->remirror_hist, ktime_get_ns() - t0);
	mutex_unlock(&m->lock);
	return 0;
}

unsigned long fl_fault_flags(bool write)
{
	return HMM_PFN_REQ_FAULT | (write ? HMM_PFN_REQ_WRITE : 0);
}

static bool fl_pt_usable(unsigned long e, bool write)
{
	return (e & HMM_PFN_VALID) && (!write || (e & HMM_PFN_WRITE));
}

/* Compare every valid device entry with a fresh CPU snapshot. */
static int fl_mirror_check_stale(struct fl_mirror *m, struct mm_struct *mm,
				 struct fl_access *acc)
{
	unsigned long first = acc->offset >> PAGE_SHIFT;
	unsigned long end = DIV_ROUND_UP(acc->offset + acc->len, PAGE_SIZE);
	unsigned long i, last;
	int ret;

	for (; first < end; first = last) {
		last = min(first + FL_FAULT_CHUNK, end);
		ret = fl_mirror_range(m, mm, first, last, 0, false);
		if (ret)
			return ret;
		for (i = first; i < last; i++) {
			unsigned long dev = m->pt[i], cpu = m->scratch[i - first];

			if (!(dev & HMM_PFN_VALID))
				continue;
			/* A held grant is meant to be absent from the CPU table. */
			if (m->excl && test_bit(i, m->excl->atomic))
				continue;
			m->stale_checks++;
			acc->bytes += PAGE_SIZE;
			if ((cpu & HMM_PFN_VALID) &&
			    fl_hmm_pfn_to_pfn(cpu) == fl_hmm_pfn_to_pfn(dev) &&
			    (!(dev & HMM_PFN_WRITE) || (cpu & HMM_PFN_WRITE)))
				continue;
			m->stale++;
			if (!acc->mismatches++)
				acc->first_mismatch = (u64)i << PAGE_SHIFT;
		}
		mutex_unlock(&m->lock);
		cond_resched();
	}
	return 0;
}

/* Device thread: access through the device page table, re-faulting holes. */
int fl_mirror_access(struct fl_dev_req *req)
{
	struct fl_mirror *m = container_of(req->obj, struct fl_mirror, obj);
	struct fl_access *acc = req->acc;
	bool write = acc->op == FL_ACCESS_FILL;
	u64 off = acc->offset, end = acc->offset + acc->len;
	u64 t0 = ktime_get_ns();
	struct mm_struct *mm = m->notifier.mm;
	int ret = 0;

	if (write && !m->write)
		return -EINVAL;
	/* The process may be gone; its mirror then has nothing to map. */
	if (!mmget_not_zero(mm))
		return -ESRCH;
	if (acc->op == FL_ACCESS_CHECK_STALE) {
		ret = fl_mirror_check_stale(m, mm, acc);
		goto out;
	}

	while (off < end) {
		unsigned long idx = off >> PAGE_SHIFT;
		bool need_fault = false;
		unsigned int n;

		mutex_lock(&m->lock);
		for (n = 0; off < end && n < FL_ACCESS_BATCH; n++) {
			unsigned int in_page = offset_in_page(off);
			unsigned int len = min_t(u64, PAGE_SIZE - in_page, end - off);
			void *kaddr;

			idx = off >> PAGE_SHIFT;
			if (!fl_pt_usable(m->pt[idx], write)) {
				need_fault = true;
				break;
			}
			/*
			 * Safe without a page reference: the entry is valid, so
			 * no invalidation has completed for it, and one cannot
			 * start while we hold the table lock.
			 */
			kaddr = fl_kmap(hmm_pfn_to_page(m->pt[idx]));
			fl_pattern_page(kaddr, off, in_page, len, acc);
			fl_kunmap(kaddr);
			off += len;
		}
		mutex_unlock(&m->lock);
		if (need_fault) {
			unsigned long last = min_t(unsigned long, idx + FL_FAULT_CHUNK,
						   DIV_ROUND_UP(end, PAGE_SIZE));

			ret = fl_mirror_range(m, mm, idx, last,
					      fl_fault_flags(write), true);
			if (ret)
				goto out;
			acc->refaults++;
		}
		cond_resched();
	}
out:
	acc->ns = ktime_get_ns() - t0;
	mmput(mm);
	return ret;
}

static void fl_mirror_free(struct fl_obj *obj)
{
	struct fl_mirror *m = container_of(obj, struct fl_mirror, obj);

	/* Waits for running callbacks; none can start afterwards. */
	mmu_interval_notifier_remove(&m->notifier);
	fl_excl_free(m->excl);
	fl_khist_free(m->remirror_hist);
	fl_khist_free(m->cb_hist);
	kfree(m->scratch);
	kvfree(m->invalidated);
	kvfree(m->pt);
	kfree(m);
}

int fl_mirror_create(struct fl_file *f, struct fl_mirror_create *arg)
{
	unsigned long nr, i;
	struct fl_mirror *m;
	int ret;

	if (arg->flags & ~FL_MIRROR_FLAGS)
		return -EINVAL;
	ret = fl_check_range(arg->addr, arg->len);
	if (ret)
		return ret;
	if (!current->mm)
		return -EINVAL;
	nr = arg->len >> PAGE_SHIFT;
	ret = fl_file_reserve(f, nr);
	if (ret)
		return ret;

	ret = -ENOMEM;
	m = kzalloc(sizeof(*m), GFP_KERNEL);
	if (!m)
		goto out_unreserve;
	mutex_init(&m->lock);
	m->write = arg->flags & FL_MIRROR_WRITE;
	m->obj.writable = m->write;
	m->obj.type = FL_OBJ_MIRROR;
	m->obj.start = arg->addr;
	m->obj.len = arg->len;
	m->obj.nr_pages = nr;
	m->obj.free = fl_mirror_free;
	m->pt = kvcalloc(nr, sizeof(*m->pt), GFP_KERNEL);
	m->invalidated = kvcalloc(BITS_TO_LONGS(nr), sizeof(long), GFP_KERNEL);
	m->scratch = kmalloc_array(FL_FAULT_CHUNK, sizeof(*m->scratch), GFP_KERNEL);
	m->cb_hist = fl_khist_alloc();
	m->remirror_hist = fl_khist_alloc();
	if (!m->pt || !m->invalidated || !m->scratch || !m->cb_hist ||
	    !m->remirror_hist)
		goto out_free;

	ret = mmu_interval_notifier_insert(&m->notifier, current->mm,
					   arg->addr, arg->len, &fl_mirror_ops);
	if (ret)
		goto out_free;

	/* Not yet visible to other threads, so scratch is ours here. */
	if (arg->flags & FL_MIRROR_PREFAULT) {
		for (i = 0; i < nr; i += FL_FAULT_CHUNK) {
			ret = fl_mirror_range(m, current->mm, i,
					      min(i + FL_FAULT_CHUNK, nr),
					      fl_fault_flags(m->write), true);
			if (ret)
				goto out_remove;
		}
	}
	ret = fl_obj_insert(f, &m->obj, &arg->handle);
	if (ret)
		goto out_remove;
	return 0;

out_remove:
	mmu_interval_notifier_remove(&m->notifier);
out_free:
	fl_khist_free(m->remirror_hist);
	fl_khist_free(m->cb_hist);
	kfree(m->scratch);
	kvfree(m->invalidated);
	kvfree(m->pt);
	kfree(m);
out_unreserve:
	fl_file_unreserve(f, nr);
	return ret;
}

int fl_mirror_stats(struct fl_file *f, struct fl_mirror_stats *arg)
{
	struct fl_khist *cb, *re;
	struct fl_mirror *m;
	struct fl_obj *obj;
	int ret;

	if (arg->flags & ~FL_STATS_RESET)
		return -EINVAL;
	ret = fl_uhist_check(&arg->callback);
	if (!ret)
		ret = fl_uhist_check(&arg->remirror);
	if (ret)
		return ret;
	obj = fl_obj_get(f, arg->handle, FL_OBJ_MIRROR);
	if (!obj)
		return -ENOENT;
	m = container_of(obj, struct fl_mirror, obj);

	ret = -ENOMEM;
	cb = fl_khist_alloc();
	re = fl_khist_alloc();
	if (!cb || !re)
		goto out;

	/* Copy under the lock, copy_to_user outside it: a user fault could
	 * invalidate this very mirror and the callback needs the lock. */
	mutex_lock(&m->lock);
	*cb = *m->cb_hist;
	*re = *m->remirror_hist;
	BUILD_BUG_ON(FL_EV_COUNT > FL_EV_MAX);
	memcpy(arg->invalidations, m->inval, sizeof(m->inval));
	arg->invalidated_pages = m->invalidated_pages;
	arg->faults = m->faults;
	arg->faulted_pages = m->faulted_pages;
	arg->retries = m->retries;
	arg->ebusy = m->ebusy;
	arg->valid_pages = m->valid_pages;
	arg->stale_checks = m->stale_checks;
	arg->stale = m->stale;
	arg->nonblock_busy = atomic64_read(&m->nonblock_busy);
	if (arg->flags & FL_STATS_RESET) {
		fl_khist_reset(m->cb_hist);
		fl_khist_reset(m->remirror_hist);
		memset(m->inval, 0, sizeof(m->inval));
		m->invalidated_pages = m->faults = m->faulted_pages = 0;
		m->retries = m->ebusy = m->stale_checks = m->stale = 0;
		atomic64_set(&m->nonblock_busy, 0);
	}
	mutex_unlock(&m->lock);

	ret = fl_khist_to_user(cb, &arg->callback);
	if (!ret)
		ret = fl_khist_to_user(re, &arg->remirror);
out:
	fl_khist_free(re);
	fl_khist_free(cb);
	fl_obj_put(obj);
	return ret;
}
