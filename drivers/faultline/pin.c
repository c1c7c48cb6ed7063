// SPDX-License-Identifier: GPL-2.0
/*
 * Pinned buffers: the RDMA/VFIO way of giving a device process memory.
 * pin_user_pages(_fast)() with FOLL_PIN (and optionally FOLL_WRITE,
 * FOLL_LONGTERM), held until destroy or close; the device thread then reads
 * and writes through the pinned pages with no regard for what the CPU page
 * tables say -- which is exactly what fork/COW and long-term pin semantics
 * must cope with (CVE-2020-29374 class).
 */
#include <linux/mm.h>
#include <linux/slab.h>
#include <linux/sched.h>
#include <linux/ktime.h>

#include "fl.h"

/*
 * Pages per pin call.  Before 6.5 __gup_longterm_locked() kcalloc()ed a
 * vmas array of nr_pages pointers without __GFP_NOWARN: 1M pages in one
 * FOLL_LONGTERM call hit the MAX_ORDER WARN in __alloc_pages (seen on
 * Debian 5.10 under fl-fuzz).  16K pages keep that array at 128 KiB.
 */
#define FL_PIN_CHUNK		(1UL << 14)

struct fl_pin {
	struct fl_obj obj;
	struct page **pages;
	unsigned long nr_pinned;
	bool dirty;		/* unpin with unpin_user_pages_dirty_lock(.., true) */
};

static void fl_pin_free(struct fl_obj *obj)
{
	struct fl_pin *p = container_of(obj, struct fl_pin, obj);

	/* Dirtying matters for file pages the device wrote through the pin. */
	unpin_user_pages_dirty_lock(p->pages, p->nr_pinned, p->dirty);
	kvfree(p->pages);
	kfree(p);
}

void fl_pin_set_dirty(struct fl_obj *obj, bool dirty)
{
	container_of(obj, struct fl_pin, obj)->dirty = dirty;
}

int fl_pin_create(struct fl_file *f, struct fl_pin_create *arg)
{
	unsigned int gup_flags = 0;
	unsigned long nr, done = 0;
	struct fl_pin *p;
	u64 t0;
	long n;
	int ret;

	if (arg->flags & ~FL_PIN_FLAGS)
		return -EINVAL;
	ret = fl_check_range(arg->addr, arg->len);
	if (ret)
		return ret;
	if (arg->flags & FL_PIN_WRITE)
		gup_flags |= FOLL_WRITE;
	if (arg->flags & FL_PIN_LONGTERM)
		gup_flags |= FOLL_LONGTERM;

	nr = arg->len >> PAGE_SHIFT;
	ret = fl_file_reserve(f, nr);
	if (ret)
		return ret;
	ret = -ENOMEM;
	p = kzalloc(sizeof(*p), GFP_KERNEL);
	if (!p)
		goto out_unreserve;
	p->pages = kvmalloc_array(nr, sizeof(*p->pages), GFP_KERNEL);
	if (!p->pages)
		goto out_free;

	t0 = ktime_get_ns();
	while (done < nr) {
		unsigned long addr = arg->addr + (done << PAGE_SHIFT);
		int chunk = min_t(unsigned long, nr - done, FL_PIN_CHUNK);

		if (arg->flags & FL_PIN_FAST) {
			n = pin_user_pages_fast(addr, chunk, gup_flags,
						p->pages + done);
		} else {
			fl_mmap_read_lock(current->mm);
			n = fl_pin_user_pages(addr, chunk, gup_flags,
					      p->pages + done);
			fl_mmap_read_unlock(current->mm);
		}
		if (n <= 0) {
			ret = n ? n : -EFAULT;
			goto out_unpin;
		}
		done += n;
		if (fatal_signal_pending(current)) {
			ret = -EINTR;
			goto out_unpin;
		}
	}
	arg->pin_ns = ktime_get_ns() - t0;
	arg->nr_pages = done;

	p->nr_pinned = done;
	p->dirty = arg->flags & FL_PIN_WRITE;
	p->obj.writable = arg->flags & FL_PIN_WRITE;
	p->obj.type = FL_OBJ_PIN;
	p->obj.start = arg->addr;
	p->obj.len = arg->len;
	p->obj.nr_pages = nr;
	p->obj.free = fl_pin_free;
	ret = fl_obj_insert(f, &p->obj, &arg->handle);
	if (ret)
		goto out_unpin;
	return 0;

out_unpin:
	unpin_user_pages(p->pages, done);
	kvfree(p->pages);
out_free:
	kfree(p);
out_unreserve:
	fl_file_unreserve(f, nr);
	return ret;
}

/* Device thread: DMA-like access through the pinned pages. */
int fl_pin_access(struct fl_dev_req *req)
{
	struct fl_pin *p = container_of(req->obj, struct fl_pin, obj);
	struct fl_access *acc = req->acc;
	u64 off = acc->offset, end = acc->offset + acc->len;
	u64 t0 = ktime_get_ns();

	while (off < end) {
		unsigned long idx = off >> PAGE_SHIFT;
		unsigned int in_page = offset_in_page(off);
		unsigned int len = min_t(u64, PAGE_SIZE - in_page, end - off);
		void *kaddr = fl_kmap(p->pages[idx]);

		fl_pattern_page(kaddr, off, in_page, len, acc);
		fl_kunmap(kaddr);
		off += len;
		cond_resched();
	}
	acc->ns = ktime_get_ns() - t0;
	return 0;
}
