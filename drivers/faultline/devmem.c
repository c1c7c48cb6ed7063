// SPDX-License-Identifier: GPL-2.0
/*
 * Emulated device-private memory (CONFIG_DEVICE_PRIVATE only), after
 * lib/test_hmm.c: a 64 MiB region of free physical address space handed to
 * memremap_pages(MEMORY_DEVICE_PRIVATE) gives struct pages the CPU cannot
 * map; each device page keeps its data in an ordinary "backing" page
 * (zone_device_data).  FL_IOC_MIGRATE moves a range there and back with
 * migrate_vma_setup/pages/finalize, timing each phase; a CPU touch of a
 * migrated page faults into migrate_to_ram.  Closing a file that migrated
 * evicts every device page back with migrate_device_range(), so neither
 * close nor unload can leave a process mapping device memory that is gone.
 *
 * Exercises: migrate_vma_collect (holes and the zero page are valid sources
 * with no page), MMU_NOTIFY_MIGRATE with pgmap_owner, device-
 * private swap entries in fork/rmap/zap, do_swap_page -> migrate_to_ram.
 * Needs the 6.1 API (migrate_device_range, migrate_vma.fault_page); the
 * page init and free hooks of 6.1-6.17 or 6.18+ (compat.h), probed by
 * conftest.sh.
 */
#include <linux/mm.h>
#include <linux/memremap.h>
#include <linux/migrate.h>
#include <linux/highmem.h>
#include <linux/ioport.h>
#include <linux/slab.h>
#include <linux/sched/mm.h>
#include <linux/ktime.h>
#include <linux/rwsem.h>

#include "fl.h"

#ifdef FL_DEVMEM_API

#define FL_DEVMEM_SIZE		(64UL << 20)
#define FL_MIGRATE_BATCH	64	/* pages per migrate_vma round */

static struct {
	struct mutex lock;	/* chunk setup and teardown */
	/*
	 * Migrations (read) against eviction (write): an eviction must not
	 * collect device pages a migration has allocated but not yet handed
	 * to migrate_vma_pages().
	 */
	struct rw_semaphore users;
	spinlock_t free_lock;	/* free list */
	struct dev_pagemap pgmap;
	struct resource *res;
	struct page *free;	/* linked through zone_device_data */
	bool ready, removing;
	atomic64_t cpu_faults;
	atomic64_t in_use;
} fl_devmem = {
	.lock = __MUTEX_INITIALIZER(fl_devmem.lock),
	.users = __RWSEM_INITIALIZER(fl_devmem.users),
	.free_lock = __SPIN_LOCK_UNLOCKED(fl_devmem.free_lock),
};

static struct page *fl_backing(struct page *dpage)
{
	return dpage->zone_device_data;
}

static void fl_devmem_page_free(struct page *page)
{
	if (fl_backing(page))	/* NULL once its data left: fl_devmem_emptied() */
		__free_page(fl_backing(page));
	atomic64_dec(&fl_devmem.in_use);
	spin_lock(&fl_devmem.free_lock);
	if (!fl_devmem.removing) {
		page->zone_device_data = fl_devmem.free;
		fl_devmem.free = page;
	}
	spin_unlock(&fl_devmem.free_lock);
}

/*
 * After migrate_{vma,device}_pages() to system memory: a device page whose
 * migration committed gave its data and its memcg charge to the new page
 * (mem_cgroup_migrate() clears old->memcg_data) but may outlive the
 * migration -- do_swap_page() holds a reference across migrate_to_ram()
 * while another migration or an eviction moves the page.  An eviction at
 * close takes every device pfn that has a reference and is unmapped, so it
 * would migrate that dead page a second time:
 * VM_WARN_ON_ONCE_FOLIO(!folio_test_hugetlb(old) && !memcg) in
 * mem_cgroup_migrate() (build:6.12+kasan, fl-fuzz's CPU touches racing
 * close).  Free the backing now, still under the page lock, and mark the
 * page empty so fl_devmem_evict() gives it no destination.  Its mapping is
 * stale too and its anon_vma may be freed by then (an munmap or a
 * MAP_FIXED over the range); finalize's remove_migration_ptes() walks it
 * when the page is its own destination: KASAN slab-use-after-free in
 * rmap_walk_anon from fl_devmem_evict once the WARN was gone.  Clear it
 * (and PG_anon_exclusive) as free_zone_device_folio() does; the committed
 * migration walks the new page's.
 */
static void fl_devmem_emptied(const unsigned long *src, unsigned long npages)
{
	unsigned long i;

	for (i = 0; i < npages; i++) {
		struct page *spage = migrate_pfn_to_page(src[i]);

		if (!spage || !(src[i] & MIGRATE_PFN_MIGRATE))
			continue;
		__free_page(fl_backing(spage));
		spage->zone_device_data = NULL;
		if (PageAnon(spage))
			__ClearPageAnonExclusive(spage);
		spage->mapping = NULL;
	}
}

/* Copy the collected device pages of @args into new system pages. */
static void fl_copy_to_system(struct migrate_vma *args)
{
	unsigned long i;

	for (i = 0; i < args->npages; i++) {
		struct page *spage = migrate_pfn_to_page(args->src[i]);
		struct page *dpage;

		args->dst[i] = 0;
		if (!spage || !(args->src[i] & MIGRATE_PFN_MIGRATE))
			continue;
		dpage = alloc_page_vma(GFP_HIGHUSER_MOVABLE, args->vma,
				       args->start + (i << PAGE_SHIFT));
		if (!dpage)
			continue;	/* stays on the device; the fault retries */
		lock_page(dpage);
		copy_highpage(dpage, fl_backing(spage));
		args->dst[i] = migrate_pfn(page_to_pfn(dpage));
		if (args->src[i] & MIGRATE_PFN_WRITE)
			args->dst[i] |= MIGRATE_PFN_WRITE;
	}
}

static vm_fault_t fl_devmem_migrate_to_ram(struct vm_fault *vmf)
{
	unsigned long src = 0, dst = 0;
	struct migrate_vma args = {
		.vma = vmf->vma,
		.start = vmf->address & PAGE_MASK,
		.end = (vmf->address & PAGE_MASK) + PAGE_SIZE,
		.src = &src,
		.dst = &dst,
		.pgmap_owner = FL_DEVMEM_OWNER,
		.flags = MIGRATE_VMA_SELECT_DEVICE_PRIVATE,
		.fault_page = vmf->page,
	};

	atomic64_inc(&fl_devmem.cpu_faults);
	if (migrate_vma_setup(&args))
		return VM_FAULT_SIGBUS;
	fl_copy_to_system(&args);
	migrate_vma_pages(&args);
	fl_devmem_emptied(args.src, args.npages);
	migrate_vma_finalize(&args);
	return 0;
}

FL_DEVMEM_PAGE_FREE(fl_devmem_page_free)

static const struct dev_pagemap_ops fl_devmem_ops = {
	.FL_DEVMEM_FREE_MEMBER = fl_devmem_page_free_hook,
	.migrate_to_ram = fl_devmem_migrate_to_ram,
};

/* Set up the region on first use; FL_IOC_CAPS stays truthful if it fails. */
static int fl_devmem_init(void)
{
	unsigned long pfn, first, last;
	void *ptr;
	int ret = 0;

	mutex_lock(&fl_devmem.lock);
	if (fl_devmem.ready)
		goto out;
	fl_devmem.res = request_free_mem_region(&iomem_resource, FL_DEVMEM_SIZE,
						"faultline-devmem");
	if (IS_ERR_OR_NULL(fl_devmem.res)) {
		ret = fl_devmem.res ? PTR_ERR(fl_devmem.res) : -ENOMEM;
		fl_devmem.res = NULL;
		goto out;
	}
	fl_devmem.pgmap.type = MEMORY_DEVICE_PRIVATE;
	fl_devmem.pgmap.range.start = fl_devmem.res->start;
	fl_devmem.pgmap.range.end = fl_devmem.res->end;
	fl_devmem.pgmap.nr_range = 1;
	fl_devmem.pgmap.ops = &fl_devmem_ops;
	fl_devmem.pgmap.owner = FL_DEVMEM_OWNER;
	ptr = memremap_pages(&fl_devmem.pgmap, numa_node_id());
	if (IS_ERR_OR_NULL(ptr)) {
		ret = ptr ? PTR_ERR(ptr) : -EFAULT;
		release_mem_region(fl_devmem.res->start, resource_size(fl_devmem.res));
		fl_devmem.res = NULL;
		goto out;
	}
	first = fl_devmem.pgmap.range.start >> PAGE_SHIFT;
	last = first + (range_len(&fl_devmem.pgmap.range) >> PAGE_SHIFT);
	spin_lock(&fl_devmem.free_lock);
	for (pfn = first; pfn < last; pfn++) {
		struct page *page = pfn_to_page(pfn);

		page->zone_device_data = fl_devmem.free;
		fl_devmem.free = page;
	}
	spin_unlock(&fl_devmem.free_lock);
	fl_devmem.ready = true;
	pr_info("faultline: %lu MiB of emulated device-private memory, pfns [%#lx, %#lx)\n",
		FL_DEVMEM_SIZE >> 20, first, last);
out:
	mutex_unlock(&fl_devmem.lock);
	return ret;
}

static struct page *fl_devmem_alloc(void)
{
	struct page *dpage, *backing = alloc_page(GFP_HIGHUSER);

	if (!backing)
		return NULL;
	spin_lock(&fl_devmem.free_lock);
	dpage = fl_devmem.free;
	if (dpage)
		fl_devmem.free = dpage->zone_device_data;
	spin_unlock(&fl_devmem.free_lock);
	if (!dpage) {
		__free_page(backing);
		return NULL;
	}
	/*
	 * Backing first: zone_device_page_init() makes the page's refcount 1
	 * before it locks it, and in that window an eviction's
	 * migrate_device_range() can take it and read zone_device_data --
	 * which still held the free-list link, a device-private page with no
	 * direct map (copy_page oops on build:6.12 under fl-fuzz's
	 * concurrent close).  test_hmm sets it first too.
	 */
	dpage->zone_device_data = backing;
	fl_zone_device_page_init(dpage, &fl_devmem.pgmap);	/* refcount 1, locked */
	atomic64_inc(&fl_devmem.in_use);
	return dpage;
}

static void fl_copy_to_device(struct migrate_vma *args)
{
	unsigned long i;

	for (i = 0; i < args->npages; i++) {
		struct page *spage = migrate_pfn_to_page(args->src[i]);
		struct page *dpage;

		args->dst[i] = 0;
		if (!(args->src[i] & MIGRATE_PFN_MIGRATE))
			continue;
		/* No source page: a hole or the zero page, both valid sources. */
		dpage = fl_devmem_alloc();
		if (!dpage)
			continue;
		if (spage)
			copy_highpage(fl_backing(dpage), spage);
		else
			clear_highpage(fl_backing(dpage));
		args->dst[i] = migrate_pfn(page_to_pfn(dpage));
		if ((args->src[i] & MIGRATE_PFN_WRITE) ||
		    (!spage && (args->vma->vm_flags & VM_WRITE)))
			args->dst[i] |= MIGRATE_PFN_WRITE;
	}
}

int fl_migrate(struct fl_file *f, struct fl_migrate *arg)
{
	unsigned long src[FL_MIGRATE_BATCH], dst[FL_MIGRATE_BATCH];
	bool to_dev = arg->direction == FL_MIGRATE_TO_DEVICE;
	struct mm_struct *mm = current->mm;
	unsigned long addr, end, next, i;
	struct vm_area_struct *vma;
	u64 t;
	int ret;

	if (arg->direction > FL_MIGRATE_TO_SYSTEM || arg->reserved)
		return -EINVAL;
	ret = fl_check_range(arg->addr, arg->len);
	if (ret)
		return ret;
	if (!mm)
		return -EINVAL;
	ret = fl_devmem_init();
	if (ret)
		return ret;
	f->used_devmem = true;
	arg->npages = arg->len >> PAGE_SHIFT;
	arg->migrated = arg->setup_ns = arg->copy_ns = arg->pages_ns = arg->finalize_ns = 0;

	down_read(&fl_devmem.users);
	fl_mmap_read_lock(mm);
	end = arg->addr + arg->len;
	for (addr = arg->addr; addr < end; addr = next) {
		struct migrate_vma args = {
			.src = src,
			.dst = dst,
			.pgmap_owner = FL_DEVMEM_OWNER,
			.flags = to_dev ? MIGRATE_VMA_SELECT_SYSTEM :
					  MIGRATE_VMA_SELECT_DEVICE_PRIVATE,
		};

		vma = find_vma(mm, addr);
		if (!vma || vma->vm_start > addr) {
			ret = -EFAULT;
			break;
		}
		next = min3(end, addr + (FL_MIGRATE_BATCH << PAGE_SHIFT), vma->vm_end);
		args.vma = vma;
		args.start = addr;
		args.end = next;

		t = ktime_get_ns();
		ret = migrate_vma_setup(&args);
		arg->setup_ns += ktime_get_ns() - t;
		if (ret)
			break;
		t = ktime_get_ns();
		if (to_dev)
			fl_copy_to_device(&args);
		else
			fl_copy_to_system(&args);
		arg->copy_ns += ktime_get_ns() - t;
		t = ktime_get_ns();
		migrate_vma_pages(&args);
		arg->pages_ns += ktime_get_ns() - t;
		for (i = 0; i < args.npages; i++)
			if ((src[i] & MIGRATE_PFN_MIGRATE) && dst[i])
				arg->migrated++;
		if (!to_dev)
			fl_devmem_emptied(src, args.npages);
		t = ktime_get_ns();
		migrate_vma_finalize(&args);
		arg->finalize_ns += ktime_get_ns() - t;
		if (fatal_signal_pending(current)) {
			ret = -EINTR;
			break;
		}
	}
	fl_mmap_read_unlock(mm);
	up_read(&fl_devmem.users);
	arg->cpu_faults = atomic64_read(&fl_devmem.cpu_faults);
	arg->device_pages = atomic64_read(&fl_devmem.in_use);
	return ret;
}

/*
 * Every device page back to system memory, wherever it is mapped.  @mm, the
 * closing process's, is read-locked across it: between the unmap in
 * migrate_device_range() and finalize's remove_migration_ptes() nothing
 * holds the anon_vmas of the migrating pages, and an munmap or MAP_FIXED
 * over them (fl-fuzz's remapping thread) would free one under the walk.
 * Mappings in other processes keep that race (migrate_device_range() takes
 * no anon_vma reference in 6.12).
 */
static void fl_devmem_evict(struct mm_struct *mm)
{
	unsigned long start = fl_devmem.pgmap.range.start >> PAGE_SHIFT;
	unsigned long npages = range_len(&fl_devmem.pgmap.range) >> PAGE_SHIFT;
	unsigned long *src, *dst, i;

	src = kvcalloc(npages, sizeof(*src), GFP_KERNEL | __GFP_NOFAIL);
	dst = kvcalloc(npages, sizeof(*dst), GFP_KERNEL | __GFP_NOFAIL);
	down_write(&fl_devmem.users);
	if (mm)
		fl_mmap_read_lock(mm);
	migrate_device_range(src, start, npages);
	for (i = 0; i < npages; i++) {
		struct page *spage = migrate_pfn_to_page(src[i]);
		struct page *dpage;

		/* Emptied: its data already left, it only awaits a put. */
		if (!spage || !(src[i] & MIGRATE_PFN_MIGRATE) || !fl_backing(spage))
			continue;
		dpage = alloc_page(GFP_HIGHUSER_MOVABLE | __GFP_NOFAIL);
		lock_page(dpage);
		copy_highpage(dpage, fl_backing(spage));
		dst[i] = migrate_pfn(page_to_pfn(dpage));
		if (src[i] & MIGRATE_PFN_WRITE)
			dst[i] |= MIGRATE_PFN_WRITE;
	}
	migrate_device_pages(src, dst, npages);
	fl_devmem_emptied(src, npages);
	migrate_device_finalize(src, dst, npages);
	if (mm)
		fl_mmap_read_unlock(mm);
	up_write(&fl_devmem.users);
	kvfree(src);
	kvfree(dst);
}

void fl_devmem_release_file(struct fl_file *f)
{
	if (!f->used_devmem)
		return;
	mutex_lock(&fl_devmem.lock);
	if (fl_devmem.ready)
		fl_devmem_evict(current->mm);
	mutex_unlock(&fl_devmem.lock);
}

void fl_devmem_exit(void)
{
	if (!fl_devmem.ready)
		return;
	spin_lock(&fl_devmem.free_lock);
	fl_devmem.removing = true;
	fl_devmem.free = NULL;
	spin_unlock(&fl_devmem.free_lock);
	fl_devmem_evict(NULL);
	/* Waits until every device page is freed. */
	memunmap_pages(&fl_devmem.pgmap);
	release_mem_region(fl_devmem.res->start, resource_size(fl_devmem.res));
}

#endif /* FL_DEVMEM_API */
