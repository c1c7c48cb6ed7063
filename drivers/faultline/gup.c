// SPDX-License-Identifier: GPL-2.0
/*
 * Kernel-timed GUP, in the manner of mm/gup_test.c (GUP_FAST_BENCHMARK,
 * PIN_FAST_BENCHMARK, PIN_LONGTERM_BENCHMARK): walk a range of the caller's
 * memory in calls of pages_per_call pages, time each call with ktime into a
 * histogram, check that pin ops really left the pages dma-pinned
 * (folio_maybe_dma_pinned), then release everything and time that too.
 * Userspace entry points (io_uring, O_DIRECT) add syscall and setup cost;
 * this is the bare get/pin cost to compare them with.
 */
#include <linux/mm.h>
#include <linux/slab.h>
#include <linux/sched.h>
#include <linux/ktime.h>

#include "fl.h"

static long fl_gup_call(u32 op, unsigned long addr, int n,
			unsigned int gup_flags, struct page **pages)
{
	long ret;

	switch (op) {
	case FL_GUP_GET_FAST:
		return fl_get_user_pages_fast(addr, n, gup_flags, pages);
	case FL_GUP_PIN_FAST:
		return pin_user_pages_fast(addr, n, gup_flags, pages);
	case FL_GUP_PIN:
		fl_mmap_read_lock(current->mm);
		ret = fl_pin_user_pages(addr, n, gup_flags, pages);
		fl_mmap_read_unlock(current->mm);
		return ret;
	case FL_GUP_GET:
		fl_mmap_read_lock(current->mm);
		ret = fl_get_user_pages(addr, n, gup_flags, pages);
		fl_mmap_read_unlock(current->mm);
		return ret;
	}
	return -EINVAL;
}

static bool fl_gup_is_pin(u32 op)
{
	return op == FL_GUP_PIN_FAST || op == FL_GUP_PIN;
}

int fl_gup_bench(struct fl_gup_bench *arg)
{
	unsigned int gup_flags = 0;
	unsigned long nr, done = 0, i;
	struct fl_khist *hist;
	struct page **pages;
	bool pin;
	u64 start, t0 = 0, t1;
	u32 every;
	long n;
	int ret;

	if (arg->op >= FL_GUP_COUNT || (arg->flags & ~FL_GUP_FLAGS))
		return -EINVAL;
	pin = fl_gup_is_pin(arg->op);
	/* FOLL_LONGTERM is only defined together with FOLL_PIN. */
	if ((arg->flags & FL_GUP_LONGTERM) && !pin)
		return -EINVAL;
	if (arg->op == FL_GUP_GET_FAST && !FL_GUP_FAST_AVAILABLE)
		return -EOPNOTSUPP;
	if (!arg->pages_per_call || arg->pages_per_call > FL_GUP_MAX_PER_CALL)
		return -EINVAL;
	ret = fl_uhist_check(&arg->per_call);
	if (ret)
		return ret;
	ret = fl_check_range(arg->addr, arg->len);
	if (ret)
		return ret;
	if (arg->flags & FL_GUP_WRITE)
		gup_flags |= FOLL_WRITE;
	if (arg->flags & FL_GUP_LONGTERM)
		gup_flags |= FOLL_LONGTERM;

	nr = arg->len >> PAGE_SHIFT;
	pages = kvmalloc_array(nr, sizeof(*pages), GFP_KERNEL);
	if (!pages)
		return -ENOMEM;
	hist = fl_khist_alloc();
	if (!hist) {
		ret = -ENOMEM;
		goto out_pages;
	}

	arg->get_ns = arg->calls = arg->verified = 0;
	arg->error = 0;
	/*
	 * The total is one ktime pair around the loop, as mm/gup_test.c times
	 * it; only every sample_every-th call is timed on its own.  Two ktime
	 * reads and a histogram update per call cost a visible share of a
	 * 1-page pin_user_pages_fast (gup-bench read 1.07-2.1x gup_test's
	 * ns/page at pages_per_call=1 on build:6.12 under TCG when every call
	 * was timed; tests/vm/gup-peer).
	 */
	every = arg->sample_every ? arg->sample_every : 1;
	start = ktime_get_ns();
	while (done < nr) {
		int chunk = min_t(unsigned long, nr - done, arg->pages_per_call);
		bool timed = arg->calls % every == 0;

		if (timed)
			t0 = ktime_get_ns();
		n = fl_gup_call(arg->op, arg->addr + (done << PAGE_SHIFT),
				chunk, gup_flags, pages + done);
		if (timed) {
			t1 = ktime_get_ns();
			fl_khist_add(hist, t1 - t0);
		}
		arg->calls++;
		if (n <= 0) {
			/* A refusal (e.g. EOPNOTSUPP for longterm on fsdax) is a result. */
			arg->error = n ? n : -EFAULT;
			break;
		}
		done += n;
		if (fatal_signal_pending(current)) {
			arg->error = -EINTR;
			break;
		}
	}
	arg->get_ns = ktime_get_ns() - start;
	arg->nr_pages = done;

	for (i = 0; i < done; i++)
		if (!pin || fl_page_dma_pinned(pages[i]))
			arg->verified++;

	t0 = ktime_get_ns();
	if (pin) {
		unpin_user_pages(pages, done);
	} else {
		for (i = 0; i < done; i++)
			put_page(pages[i]);
	}
	arg->put_ns = ktime_get_ns() - t0;

	ret = fl_khist_to_user(hist, &arg->per_call);
	fl_khist_free(hist);
out_pages:
	kvfree(pages);
	return ret;
}
