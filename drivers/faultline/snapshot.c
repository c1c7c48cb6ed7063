// SPDX-License-Identifier: GPL-2.0
/*
 * Snapshot: what the CPU page table maps over a range, as the HMM walker
 * (hmm_range_fault) sees it -- present, writable, pmd/pud-mapped, zero
 * page, device-private.  Workloads use it to verify a backing instead of
 * trusting timing (e.g. that an fsdax mapping really got pmd faults, seed
 * 001's "silent fallback to pte").  Mapping order needs HMM_PFN_ORDER (5.12).
 */
#include <linux/mm.h>
#include <linux/hmm.h>
#include <linux/memremap.h>
#include <linux/mmu_notifier.h>
#include <linux/slab.h>
#include <linux/sched/signal.h>
#include <linux/uaccess.h>
#include <linux/jiffies.h>
#include <linux/ktime.h>

#include "fl.h"

#define FL_SNAP_CHUNK		512

/* Only the sequence matters: a snapshot racing an invalidation is redone. */
static bool fl_snap_invalidate(struct mmu_interval_notifier *mni,
			       const struct mmu_notifier_range *range,
			       unsigned long cur_seq)
{
	mmu_interval_set_seq(mni, cur_seq);
	return true;
}

static const struct mmu_interval_notifier_ops fl_snap_ops = {
	.invalidate = fl_snap_invalidate,
};

static u8 fl_snap_flags(unsigned long hpfn)
{
	unsigned int order;
	unsigned long pfn;
	struct page *page;
	u8 f;

	if (hpfn & HMM_PFN_ERROR)
		return FL_SNAP_ERROR;
	if (!(hpfn & HMM_PFN_VALID))
		return 0;
	f = FL_SNAP_PRESENT;
	if (hpfn & HMM_PFN_WRITE)
		f |= FL_SNAP_WRITE;
	order = fl_hmm_pfn_order(hpfn);
	if (order >= PUD_SHIFT - PAGE_SHIFT)
		f |= FL_SNAP_PUD;
	else if (order >= PMD_SHIFT - PAGE_SHIFT)
		f |= FL_SNAP_PMD;
	pfn = fl_hmm_pfn_to_pfn(hpfn);
	if (!pfn_valid(pfn))
		return f;
	page = pfn_to_page(pfn);
	if (fl_is_zero_page(page))
		f |= FL_SNAP_ZERO;
	if (is_device_private_page(page))
		f |= FL_SNAP_DEVICE_PRIVATE;
	return f;
}

static int fl_snap_chunk(struct hmm_range *range, struct mm_struct *mm,
			 u64 *retries)
{
	unsigned long timeout = jiffies + msecs_to_jiffies(HMM_RANGE_DEFAULT_TIMEOUT);
	int ret;

	for (;;) {
		if (time_after(jiffies, timeout))
			return -EBUSY;
		range->notifier_seq = mmu_interval_read_begin(range->notifier);
		fl_mmap_read_lock(mm);
		ret = hmm_range_fault(range);
		fl_mmap_read_unlock(mm);
		if (ret == -EBUSY) {
			(*retries)++;
			continue;
		}
		if (ret)
			return ret;
		if (!mmu_interval_read_retry(range->notifier, range->notifier_seq))
			return 0;
		(*retries)++;
	}
}

int fl_snapshot(struct fl_snapshot *arg)
{
	struct mm_struct *mm = current->mm;
	struct mmu_interval_notifier notifier;
	unsigned long *pfns;
	unsigned long nr, done, i, n;
	u8 __user *uflags = u64_to_user_ptr(arg->flags_ptr);
	u8 *out;
	u64 t0 = ktime_get_ns();
	int ret, bit;

	if ((arg->flags & ~FL_SNAPSHOT_FLAGS) || arg->reserved)
		return -EINVAL;
	ret = fl_check_range(arg->addr, arg->len);
	if (ret)
		return ret;
	nr = arg->len >> PAGE_SHIFT;
	if (arg->flags_ptr && !access_ok(uflags, nr))
		return -EFAULT;
	if (!mm)
		return -EINVAL;

	pfns = kmalloc_array(FL_SNAP_CHUNK, sizeof(*pfns), GFP_KERNEL);
	out = kmalloc(FL_SNAP_CHUNK, GFP_KERNEL);
	ret = -ENOMEM;
	if (!pfns || !out)
		goto out_free;
	ret = mmu_interval_notifier_insert(&notifier, mm, arg->addr, arg->len,
					   &fl_snap_ops);
	if (ret)
		goto out_free;

	memset(arg->counts, 0, sizeof(arg->counts));
	arg->retries = 0;
	for (done = 0; done < nr; done += n) {
		struct hmm_range range = {
			.notifier = &notifier,
			.start = arg->addr + (done << PAGE_SHIFT),
			.hmm_pfns = pfns,
			/* Report our device-private pages instead of faulting them back. */
			.dev_private_owner = FL_DEVMEM_OWNER,
		};
		n = min_t(unsigned long, nr - done, FL_SNAP_CHUNK);
		range.end = range.start + (n << PAGE_SHIFT);
		if (arg->flags & FL_SNAPSHOT_FAULT_WRITE)
			range.default_flags = HMM_PFN_REQ_FAULT | HMM_PFN_REQ_WRITE;
		else if (arg->flags & FL_SNAPSHOT_FAULT)
			range.default_flags = HMM_PFN_REQ_FAULT;
		ret = fl_snap_chunk(&range, mm, &arg->retries);
		if (ret)
			goto out_remove;
		for (i = 0; i < n; i++) {
			out[i] = fl_snap_flags(pfns[i]);
			for (bit = 0; bit < FL_SNAP_NR_FLAGS; bit++)
				if (out[i] & (1u << bit))
					arg->counts[bit]++;
		}
		if (uflags && copy_to_user(uflags + done, out, n)) {
			ret = -EFAULT;
			goto out_remove;
		}
		if (fatal_signal_pending(current)) {
			ret = -EINTR;
			goto out_remove;
		}
	}
	arg->nr_pages = nr;
	arg->ns = ktime_get_ns() - t0;
	ret = 0;

out_remove:
	mmu_interval_notifier_remove(&notifier);
out_free:
	kfree(out);
	kfree(pfns);
	return ret;
}
