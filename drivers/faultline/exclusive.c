// SPDX-License-Identifier: GPL-2.0
/*
 * Device-exclusive access (SVM atomics, as nouveau does them) on the pages
 * of a mirror.  A grant replaces the CPU ptes of a range with
 * device-exclusive swap entries (make_device_exclusive_range() up to 6.14,
 * make_device_exclusive() one page at a time from 6.15, chosen by
 * conftest.sh) and maps the pages "atomic" in the mirror's device table;
 * the device thread then does atomic read-modify-writes on them.  The CPU
 * touching such a page faults, and the kernel restores the pte after an
 * invalidation -- MMU_NOTIFY_EXCLUSIVE with no owner up to 6.14,
 * MMU_NOTIFY_CLEAR from 6.15 -- which the mirror's callback counts as a
 * revoke (mirror.c: by event, callback duration, grant-to-revoke time).
 *
 * The grant follows the mmu_interval_read_begin/retry protocol: the pages
 * come back locked (so no CPU fault can restore them yet), the table is
 * programmed under the mirror's lock only if no other invalidation ran in
 * between, and the folio locks are dropped after.  Our own
 * MMU_NOTIFY_EXCLUSIVE carries the mirror as owner and is filtered, so
 * the grant does not invalidate what it programs; test_hmm passes no owner
 * and maps after the fact instead.
 *
 * Exercises: make_device_exclusive(_range), folio_make_device_exclusive's
 * rmap walk, remove_device_exclusive_entry (CPU fault), device-exclusive
 * entries in fork (copy_nonpresent_pte), mprotect, zap and migration.
 * Needs CONFIG_DEVICE_PRIVATE (the API is defined only with it) and a
 * mirror created with FL_MIRROR_WRITE.
 */
#include <linux/mm.h>
#include <linux/highmem.h>
#include <linux/slab.h>
#include <linux/sched/mm.h>
#include <linux/ktime.h>
#include <linux/atomic.h>

#include "mirror.h"

#ifdef FL_EXCL_API

/* Pages per grant call (test_hmm's batch); the device's atomics per lock hold. */
#define FL_EXCL_BATCH		64
/* A grant raced by foreign invalidations this many times in a row is -EBUSY. */
#define FL_EXCL_TRIES		16

/* The exclusive state of @m, allocated outside its lock (see mirror.h). */
static int fl_excl_ensure(struct fl_mirror *m)
{
	struct fl_mirror_excl *x;
	unsigned long nr = m->obj.nr_pages;

	if (READ_ONCE(m->excl))
		return 0;
	x = kzalloc(sizeof(*x), GFP_KERNEL);
	if (!x)
		return -ENOMEM;
	x->atomic = kvcalloc(BITS_TO_LONGS(nr), sizeof(long), GFP_KERNEL);
	x->grant_ns = kvcalloc(nr, sizeof(u64), GFP_KERNEL);
	x->revoke_hist = fl_khist_alloc();
	x->hold_hist = fl_khist_alloc();
	if (!x->atomic || !x->grant_ns || !x->revoke_hist || !x->hold_hist) {
		fl_excl_free(x);
		return -ENOMEM;
	}
	mutex_lock(&m->lock);
	if (!m->excl) {
		m->excl = x;
		x = NULL;
	}
	mutex_unlock(&m->lock);
	fl_excl_free(x);
	return 0;
}

/*
 * Grant pages [first, last) of @m, counted in @granted; pages the kernel
 * declines count in @not_held; the first errno (or -EBUSY for a declined page) goes to
 * arg->error.  The sequence is read before mmap_read_lock, as nouveau's
 * atomic fault path does.
 */
static void fl_excl_grant(struct fl_mirror *m, struct mm_struct *mm,
			  unsigned long first, unsigned long last,
			  struct fl_exclusive *arg, u64 *granted, u64 *not_held)
{
	struct fl_mirror_excl *x = m->excl;
	struct page *pages[FL_EXCL_BATCH];
	unsigned long i = first, j, seq;
	unsigned int tries = 0;
	long n;

	while (i < last) {
		unsigned long want = min_t(unsigned long, last - i, FL_EXCL_BATCH);
		bool raced;
		u64 now;

		/*
		 * After a race, fault the batch in for write first, outside the
		 * sequence: otherwise the grant's own GUP (FOLL_WRITE) breaks
		 * COW, or restores the entries the failed attempt left
		 * exclusive, and every retry invalidates itself (seen after
		 * fork on 7.2: EBUSY after FL_EXCL_TRIES rounds).
		 */
		if (tries) {
			int r = fl_mirror_range(m, mm, i, i + want, fl_fault_flags(true), true);

			if (r && !arg->error)
				arg->error = r;
		}
		seq = mmu_interval_read_begin(&m->notifier);
		fl_mmap_read_lock(mm);
		n = fl_make_device_exclusive(mm, m->obj.start + (i << PAGE_SHIFT),
					     want, pages, m);
		if (n <= 0) {
			fl_mmap_read_unlock(mm);
			/* This page cannot be made exclusive: note why, go on. */
			if (!arg->error)
				arg->error = n ? (s32)n : -EBUSY;
			(*not_held)++;
			i++;
			tries = 0;
			continue;
		}
		mutex_lock(&m->lock);
		raced = mmu_interval_read_retry(&m->notifier, seq);
		now = ktime_get_ns();
		for (j = 0; j < n && !raced; j++) {
			unsigned long k = i + j;

			if (!pages[j]) {
				if (!arg->error)
					arg->error = -EBUSY;
				(*not_held)++;
				continue;
			}
			if (!m->pt[k])
				m->valid_pages++;
			m->pt[k] = page_to_pfn(pages[j]) | HMM_PFN_VALID | HMM_PFN_WRITE;
			__clear_bit(k, m->invalidated);
			if (!__test_and_set_bit(k, x->atomic))
				x->held++;
			x->grant_ns[k] = now;
			x->granted++;
			(*granted)++;
		}
		mutex_unlock(&m->lock);
		for (j = 0; j < n; j++)
			if (pages[j])
				fl_device_exclusive_release(pages[j]);
		fl_mmap_read_unlock(mm);
		if (raced) {
			/* An invalidation ran between the grant and programming. */
			arg->retries++;
			if (++tries < FL_EXCL_TRIES)
				continue;
			if (!arg->error)
				arg->error = -EBUSY;
			*not_held += n;
		}
		i += n;
		tries = 0;
	}
}

static bool fl_excl_held(struct fl_mirror *m, unsigned long i)
{
	return (m->pt[i] & HMM_PFN_VALID) && test_bit(i, m->excl->atomic);
}

/*
 * The device's atomics: add arg->value to every __u64 of the held pages in
 * [first, last).  Validity is checked under the table lock, which the
 * revoking callback needs too, so a page cannot be revoked mid-update.
 */
static void fl_excl_atomic_add(struct fl_mirror *m, struct mm_struct *mm,
			       unsigned long first, unsigned long last,
			       struct fl_exclusive *arg)
{
	struct fl_mirror_excl *x = m->excl;
	unsigned long i = first, regranted = first, run;
	u64 regrants = 0, declined = 0;	/* the pass below counts pages itself */
	unsigned int n;

	while (i < last) {
		run = i;
		mutex_lock(&m->lock);
		for (n = 0; i < last && n < FL_EXCL_BATCH; n++, i++) {
			atomic64_t *p;
			unsigned int w;

			if (!fl_excl_held(m, i)) {
				if (!(arg->flags & FL_EXCL_REGRANT) || i < regranted) {
					arg->not_held++;	/* revoked, or not granted again */
					continue;
				}
				/* The run of revoked pages from here, to grant again. */
				for (run = i; run < last && run < i + FL_EXCL_BATCH &&
				     !fl_excl_held(m, run); run++)
					;
				break;
			}
			p = fl_kmap(hmm_pfn_to_page(m->pt[i]));
			for (w = 0; w < PAGE_SIZE / sizeof(*p); w++)
				atomic64_add(arg->value, &p[w]);
			fl_kunmap(p);
			x->atomic_words += PAGE_SIZE / sizeof(*p);
			arg->pages++;
		}
		mutex_unlock(&m->lock);
		if (run > i) {
			/* Revoked: ask for it again, once (nouveau's atomic fault path). */
			fl_excl_grant(m, mm, i, run, arg, &regrants, &declined);
			regranted = run;
		}
		cond_resched();
	}
}

struct fl_excl_req {
	struct fl_mirror *m;
	struct fl_exclusive *arg;
	unsigned long first, last;
};

/* Device thread: grants and atomics run where a device's fault handler would. */
static int fl_excl_run(struct fl_dev_req *req)
{
	struct fl_excl_req *r = req->data;
	struct mm_struct *mm = r->m->notifier.mm;
	u64 t0 = ktime_get_ns();

	/* The process may be gone; its mirror then has nothing to grant. */
	if (!mmget_not_zero(mm))
		return -ESRCH;
	if (r->arg->op == FL_EXCL_GRANT) {
		fl_excl_grant(r->m, mm, r->first, r->last, r->arg, &r->arg->pages,
			      &r->arg->not_held);
	} else {
		fl_excl_atomic_add(r->m, mm, r->first, r->last, r->arg);
	}
	r->arg->ns = ktime_get_ns() - t0;
	mmput(mm);
	return 0;
}

static int fl_excl_stats(struct fl_mirror *m, struct fl_exclusive *arg)
{
	struct fl_khist *rv, *hd;
	struct fl_mirror_excl *x;
	int ret = -ENOMEM;

	rv = fl_khist_alloc();
	hd = fl_khist_alloc();
	if (!rv || !hd)
		goto out;
	/* Copy under the lock, copy_to_user outside it (mirror.c's rule). */
	mutex_lock(&m->lock);
	x = m->excl;
	arg->self_filtered = atomic64_read(&m->excl_self);
	if (x) {
		*rv = *x->revoke_hist;
		*hd = *x->hold_hist;
		arg->granted = x->granted;
		arg->held = x->held;
		arg->revoked = x->revoked;
		arg->atomic_words = x->atomic_words;
		BUILD_BUG_ON(FL_EV_COUNT > FL_EV_MAX);
		memcpy(arg->revoked_by, x->revoked_by, sizeof(x->revoked_by));
	}
	if (x && (arg->flags & FL_EXCL_RESET)) {
		fl_khist_reset(x->revoke_hist);
		fl_khist_reset(x->hold_hist);
		x->granted = x->revoked = x->atomic_words = 0;
		memset(x->revoked_by, 0, sizeof(x->revoked_by));
	}
	if (arg->flags & FL_EXCL_RESET)
		atomic64_set(&m->excl_self, 0);
	mutex_unlock(&m->lock);
	ret = fl_khist_to_user(rv, &arg->revoke);
	if (!ret)
		ret = fl_khist_to_user(hd, &arg->hold);
out:
	fl_khist_free(hd);
	fl_khist_free(rv);
	return ret;
}

int fl_exclusive(struct fl_file *f, struct fl_exclusive *arg)
{
	struct fl_excl_req r = { .arg = arg };
	struct fl_dev_req req = { .data = &r };
	struct fl_obj *obj;
	u64 end;
	int ret;

	if (arg->op >= FL_EXCL_COUNT || (arg->flags & ~FL_EXCL_FLAGS))
		return -EINVAL;
	if ((arg->flags & FL_EXCL_REGRANT) && arg->op != FL_EXCL_ATOMIC_ADD)
		return -EINVAL;
	if (arg->op == FL_EXCL_STATS ? arg->offset || arg->len || arg->value :
	    !arg->len || !PAGE_ALIGNED(arg->offset) || !PAGE_ALIGNED(arg->len))
		return -EINVAL;
	if (check_add_overflow(arg->offset, arg->len, &end))
		return -EINVAL;
	ret = fl_uhist_check(&arg->revoke);
	if (!ret)
		ret = fl_uhist_check(&arg->hold);
	if (ret)
		return ret;
	obj = fl_obj_get(f, arg->handle, FL_OBJ_MIRROR);
	if (!obj)
		return -ENOENT;
	r.m = container_of(obj, struct fl_mirror, obj);
	ret = -EINVAL;
	/* Exclusive access is write access (GUP with FOLL_WRITE). */
	if (end > obj->len || !r.m->write)
		goto out_put;
	arg->error = 0;
	arg->ns = arg->pages = arg->not_held = arg->retries = 0;
	if (arg->op != FL_EXCL_STATS) {
		ret = fl_excl_ensure(r.m);
		if (ret)
			goto out_put;
		r.first = arg->offset >> PAGE_SHIFT;
		r.last = end >> PAGE_SHIFT;
		req.fn = fl_excl_run;
		req.obj = obj;
		ret = fl_dev_submit(&req);
		if (ret)
			goto out_put;
	}
	ret = fl_excl_stats(r.m, arg);
out_put:
	fl_obj_put(obj);
	return ret;
}

#endif /* FL_EXCL_API */
