// SPDX-License-Identifier: GPL-2.0
/*
 * faultline.ko: a companion "device" for the faultline suite.  It touches
 * process memory the two ways real drivers do -- through pinned pages
 * (pin_user_pages*, FOLL_LONGTERM) and through an mmu_interval_notifier
 * mirror filled by hmm_range_fault() -- and times the kernel side of GUP.
 *
 * This file is the ioctl template (modelled on lib/test_hmm.c and
 * mm/gup_test.c): accept only known commands with the exact struct size,
 * copy in, validate, dispatch, copy out.  It also owns handles, the
 * histograms and the device thread.  ABI: drivers/uapi/faultline.h.
 *
 * Needs: CONFIG_MMU_NOTIFIER + CONFIG_HMM_MIRROR for mirrors and snapshots
 * (Debian's kernels have both); CAP_SYS_ADMIN to open /dev/faultline.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/module.h>
#include <linux/miscdevice.h>
#include <linux/fs.h>
#include <linux/uaccess.h>
#include <linux/slab.h>
#include <linux/vmalloc.h>
#include <linux/kthread.h>
#include <linux/capability.h>
#include <linux/utsname.h>
#include <linux/sched.h>
#include <linux/sched/mm.h>
#include <linux/wait.h>

#include "fl.h"

/* ------------------------------------------------------------ histograms */

struct fl_khist *fl_khist_alloc(void)
{
	struct fl_khist *h = kvzalloc(sizeof(*h), GFP_KERNEL);

	if (h)
		h->min = U64_MAX;
	return h;
}

void fl_khist_free(struct fl_khist *h)
{
	kvfree(h);
}

void fl_khist_reset(struct fl_khist *h)
{
	memset(h, 0, sizeof(*h));
	h->min = U64_MAX;
}

/* Same index function as bench/histogram.h's fl_hist_index(). */
static unsigned int fl_khist_index(u64 v)
{
	unsigned int msb;

	if (v < (1u << FL_UHIST_SUB_BITS))
		return v;
	msb = fls64(v) - 1;
	return ((msb - FL_UHIST_SUB_BITS + 1) << FL_UHIST_SUB_BITS) +
	       ((v >> (msb - FL_UHIST_SUB_BITS)) & ((1u << FL_UHIST_SUB_BITS) - 1));
}

void fl_khist_add(struct fl_khist *h, u64 ns)
{
	if (ns < h->min)
		h->min = ns;
	if (ns > h->max)
		h->max = ns;
	if (ns >= (1ull << FL_UHIST_MAX_BITS)) {
		h->overflow++;
		return;
	}
	h->bucket[fl_khist_index(ns)]++;
	h->count++;
	h->sum += ns;
}

int fl_uhist_check(const struct fl_uhist *u)
{
	if (u->reserved)
		return -EINVAL;
	if (u->buckets_ptr && u->nr_buckets != FL_UHIST_BUCKETS)
		return -EINVAL;
	if (!u->buckets_ptr && u->nr_buckets)
		return -EINVAL;
	return 0;
}

int fl_khist_to_user(const struct fl_khist *h, struct fl_uhist *u)
{
	u->count = h->count;
	u->overflow = h->overflow;
	u->min_ns = h->min;
	u->max_ns = h->max;
	u->sum_ns = h->sum;
	if (!u->buckets_ptr)
		return 0;
	if (copy_to_user(u64_to_user_ptr(u->buckets_ptr), h->bucket,
			 sizeof(h->bucket)))
		return -EFAULT;
	return 0;
}

/* ---------------------------------------------------------------- handles */

/*
 * addr/len as every range ioctl takes them: page aligned, non-empty, bounded,
 * no wrap, inside the user address space.
 */
int fl_check_range(u64 addr, u64 len)
{
	u64 end;

	if (!len || len > FL_MAX_LEN)
		return -EINVAL;
	if (!PAGE_ALIGNED(addr) || !PAGE_ALIGNED(len))
		return -EINVAL;
	if (check_add_overflow(addr, len, &end))
		return -EINVAL;
	if (!access_ok(u64_to_user_ptr(addr), len))
		return -EINVAL;
	return 0;
}

/*
 * Bound what one open file can make the module allocate and pin: objects,
 * and pages tracked over all of them (page arrays, device tables).
 */
int fl_file_reserve(struct fl_file *f, unsigned long nr_pages)
{
	if (atomic_inc_return(&f->nr_objs) > FL_MAX_OBJECTS)
		goto out_objs;
	if (atomic_long_add_return(nr_pages, &f->nr_pages) >
	    (long)(FL_MAX_FILE_LEN >> PAGE_SHIFT))
		goto out_pages;
	return 0;

out_pages:
	atomic_long_sub(nr_pages, &f->nr_pages);
out_objs:
	atomic_dec(&f->nr_objs);
	return -ENOSPC;
}

void fl_file_unreserve(struct fl_file *f, unsigned long nr_pages)
{
	atomic_long_sub(nr_pages, &f->nr_pages);
	atomic_dec(&f->nr_objs);
}

/*
 * Handles come from one module-wide sequence, never 0, so a handle of
 * another open file (or an uninitialised 0) is -ENOENT rather than silently
 * naming an object of the caller's.
 */
static atomic_t fl_handle_seq = ATOMIC_INIT(0);

const int fl_devmem_owner_token;

/* Publish a fully set up object; the last step of every create. */
int fl_obj_insert(struct fl_file *f, struct fl_obj *obj, u32 *handle)
{
	int tries, ret = -EBUSY;
	u32 id;

	kref_init(&obj->ref);
	for (tries = 0; tries < 16 && ret == -EBUSY; tries++) {
		id = (u32)atomic_inc_return(&fl_handle_seq) & INT_MAX;
		if (!id)
			continue;
		ret = xa_insert(&f->objs, id, obj, GFP_KERNEL);
	}
	if (!ret)
		*handle = id;
	return ret;
}

/* A reference on the object behind @handle, if this file owns it. */
struct fl_obj *fl_obj_get(struct fl_file *f, u32 handle, int type)
{
	struct fl_obj *obj;

	xa_lock(&f->objs);
	obj = xa_load(&f->objs, handle);
	if (obj && (type < 0 || obj->type == type))
		kref_get(&obj->ref);
	else
		obj = NULL;
	xa_unlock(&f->objs);
	return obj;
}

static void fl_obj_release(struct kref *ref)
{
	struct fl_obj *obj = container_of(ref, struct fl_obj, ref);

	obj->free(obj);
}

void fl_obj_put(struct fl_obj *obj)
{
	kref_put(&obj->ref, fl_obj_release);
}

/* ---------------------------------------------------------- device thread */

static struct task_struct *fl_dev_task;
static LIST_HEAD(fl_dev_queue);
static DEFINE_SPINLOCK(fl_dev_lock);
static DECLARE_WAIT_QUEUE_HEAD(fl_dev_wq);

static int fl_dev_thread(void *unused)
{
	struct fl_dev_req *req;

	while (!kthread_should_stop()) {
		wait_event_interruptible(fl_dev_wq, !list_empty(&fl_dev_queue) ||
					 kthread_should_stop());
		spin_lock(&fl_dev_lock);
		req = list_first_entry_or_null(&fl_dev_queue, struct fl_dev_req, node);
		if (req)
			list_del(&req->node);
		spin_unlock(&fl_dev_lock);
		if (!req)
			continue;
		req->ret = req->fn(req);
		complete(&req->done);
	}
	return 0;
}

/*
 * Run @req on the device thread and wait.  The wait is uninterruptible: the
 * request lives on the caller's stack and the thread dereferences it until
 * complete(); requests are bounded by FL_MAX_LEN so the wait is too.
 */
int fl_dev_submit(struct fl_dev_req *req)
{
	init_completion(&req->done);
	spin_lock(&fl_dev_lock);
	list_add_tail(&req->node, &fl_dev_queue);
	spin_unlock(&fl_dev_lock);
	wake_up(&fl_dev_wq);
	wait_for_completion(&req->done);
	return req->ret;
}

/*
 * Device-side data movement on one mapped page: @in_page bytes in, @len
 * bytes long, at buffer offset @buf_off.  Both 8-byte aligned.
 */
void fl_pattern_page(void *kaddr, unsigned long buf_off, unsigned int in_page,
		     unsigned int len, struct fl_access *acc)
{
	u64 *p = kaddr + in_page;
	unsigned int i, n = len / sizeof(u64);
	u64 sum = 0;

	switch (acc->op) {
	case FL_ACCESS_FILL:
		for (i = 0; i < n; i++)
			p[i] = fl_pattern(acc->seed, buf_off + i * sizeof(u64));
		break;
	case FL_ACCESS_VERIFY:
		for (i = 0; i < n; i++) {
			u64 off = buf_off + i * sizeof(u64);

			if (p[i] == fl_pattern(acc->seed, off))
				continue;
			if (!acc->mismatches++)
				acc->first_mismatch = off;
		}
		break;
	case FL_ACCESS_READ:
		for (i = 0; i < n; i++)
			sum += READ_ONCE(p[i]);
		/* keep the loads; the sum itself is meaningless */
		barrier_data(&sum);
		break;
	}
	acc->bytes += len;
}

/* ---------------------------------------------------------------- ioctls */

static int fl_ioc_version(struct fl_file *f, void *data)
{
	struct fl_version *v = data;

	v->abi = FL_ABI_VERSION;
	v->hist_sub_bits = FL_UHIST_SUB_BITS;
	v->hist_max_bits = FL_UHIST_MAX_BITS;
	strscpy(v->release, utsname()->release, sizeof(v->release));
	return 0;
}

static void fl_cap(struct fl_caps *c, unsigned int feat, u32 why)
{
	c->why_not[feat] = why;
	if (why == FL_WHY_OK)
		c->features |= 1ull << feat;
}

static int fl_ioc_caps(struct fl_file *f, void *data)
{
	struct fl_caps *c = data;
	u32 no_hmm = FL_HMM_AVAILABLE ? FL_WHY_OK : FL_WHY_NO_HMM_MIRROR;

	BUILD_BUG_ON(FL_FEAT_COUNT > FL_CAPS_MAX_FEATURES);
	c->nr_features = FL_FEAT_COUNT;
	fl_cap(c, FL_FEAT_PIN, FL_WHY_OK);
	fl_cap(c, FL_FEAT_MIRROR, no_hmm);
	fl_cap(c, FL_FEAT_GUP_BENCH, FL_WHY_OK);
	fl_cap(c, FL_FEAT_SNAPSHOT, no_hmm);
	fl_cap(c, FL_FEAT_SNAPSHOT_ORDER, no_hmm != FL_WHY_OK ? no_hmm :
	       FL_SNAPSHOT_ORDER_AVAILABLE ? FL_WHY_OK : FL_WHY_NO_KERNEL_API);
	fl_cap(c, FL_FEAT_GET_USER_PAGES_FAST,
	       FL_GUP_FAST_AVAILABLE ? FL_WHY_OK : FL_WHY_NO_KERNEL_API);
	fl_cap(c, FL_FEAT_DEVICE_PRIVATE, FL_DEVMEM_WHY);
	fl_cap(c, FL_FEAT_DEVICE_EXCLUSIVE, FL_EXCL_WHY);
	return 0;
}

static int fl_ioc_pin_create(struct fl_file *f, void *data)
{
	return fl_pin_create(f, data);
}

static int fl_ioc_destroy(struct fl_file *f, void *data)
{
	struct fl_destroy *d = data;
	struct fl_obj *obj;
	u64 t0;

	if (d->flags & ~FL_UNPIN_DIRTY)
		return -EINVAL;
	/* Look up and unlink under one lock: the table's reference becomes ours. */
	xa_lock(&f->objs);
	obj = xa_load(&f->objs, d->handle);
	if (!obj || (d->flags && (obj->type != FL_OBJ_PIN || !obj->writable))) {
		xa_unlock(&f->objs);
		return obj ? -EINVAL : -ENOENT;
	}
	__xa_erase(&f->objs, d->handle);
	xa_unlock(&f->objs);
	fl_file_unreserve(f, obj->nr_pages);
	if (obj->type == FL_OBJ_PIN)
		fl_pin_set_dirty(obj, d->flags & FL_UNPIN_DIRTY);
	/* Measures the release only if no device access still holds it. */
	t0 = ktime_get_ns();
	fl_obj_put(obj);
	d->ns = ktime_get_ns() - t0;
	return 0;
}

static int fl_ioc_mirror_create(struct fl_file *f, void *data)
{
	return fl_mirror_create(f, data);
}

static int fl_ioc_mirror_stats(struct fl_file *f, void *data)
{
	return fl_mirror_stats(f, data);
}

static int fl_ioc_access(struct fl_file *f, void *data)
{
	struct fl_access *acc = data;
	struct fl_dev_req req = { .acc = acc };
	u64 end;
	int ret;

	if (acc->op >= FL_ACCESS_COUNT)
		return -EINVAL;
	if (!IS_ALIGNED(acc->offset, 8) || !IS_ALIGNED(acc->len, 8))
		return -EINVAL;
	if (check_add_overflow(acc->offset, acc->len, &end))
		return -EINVAL;
	req.obj = fl_obj_get(f, acc->handle, -1);
	if (!req.obj)
		return -ENOENT;
	ret = -EINVAL;
	if (end > req.obj->len)
		goto out_put;
	if (acc->op == FL_ACCESS_CHECK_STALE && req.obj->type != FL_OBJ_MIRROR)
		goto out_put;
	if (acc->op == FL_ACCESS_FILL && !req.obj->writable)
		goto out_put;
	req.fn = req.obj->type == FL_OBJ_PIN ? fl_pin_access : fl_mirror_access;
	acc->ns = acc->bytes = acc->mismatches = acc->refaults = 0;
	acc->first_mismatch = U64_MAX;
	ret = fl_dev_submit(&req);
out_put:
	fl_obj_put(req.obj);
	return ret;
}

static int fl_ioc_gup_bench(struct fl_file *f, void *data)
{
	return fl_gup_bench(data);
}

static int fl_ioc_snapshot(struct fl_file *f, void *data)
{
	return fl_snapshot(data);
}

static int fl_ioc_migrate(struct fl_file *f, void *data)
{
	return fl_migrate(f, data);
}

static int fl_ioc_exclusive(struct fl_file *f, void *data)
{
	return fl_exclusive(f, data);
}

union fl_ioc_buf {
	struct fl_version version;
	struct fl_caps caps;
	struct fl_pin_create pin_create;
	struct fl_destroy destroy;
	struct fl_mirror_create mirror_create;
	struct fl_mirror_stats mirror_stats;
	struct fl_access access;
	struct fl_gup_bench gup_bench;
	struct fl_snapshot snapshot;
	struct fl_migrate migrate;
	struct fl_exclusive exclusive;
};

static const struct {
	unsigned int cmd;
	int (*fn)(struct fl_file *f, void *data);
} fl_ioctls[] = {
	{ FL_IOC_VERSION, fl_ioc_version },
	{ FL_IOC_CAPS, fl_ioc_caps },
	{ FL_IOC_PIN_CREATE, fl_ioc_pin_create },
	{ FL_IOC_DESTROY, fl_ioc_destroy },
	{ FL_IOC_MIRROR_CREATE, fl_ioc_mirror_create },
	{ FL_IOC_MIRROR_STATS, fl_ioc_mirror_stats },
	{ FL_IOC_ACCESS, fl_ioc_access },
	{ FL_IOC_GUP_BENCH, fl_ioc_gup_bench },
	{ FL_IOC_SNAPSHOT, fl_ioc_snapshot },
	{ FL_IOC_MIGRATE, fl_ioc_migrate },
	{ FL_IOC_EXCLUSIVE, fl_ioc_exclusive },
};

static long fl_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	void __user *uarg = (void __user *)arg;
	struct fl_file *f = file->private_data;
	union fl_ioc_buf buf;
	unsigned int i, size = _IOC_SIZE(cmd);
	int ret;

	/* The whole cmd (number, direction and size) must match exactly. */
	for (i = 0; i < ARRAY_SIZE(fl_ioctls); i++)
		if (fl_ioctls[i].cmd == cmd)
			break;
	if (i == ARRAY_SIZE(fl_ioctls) || size > sizeof(buf))
		return -ENOTTY;

	memset(&buf, 0, sizeof(buf));
	if ((_IOC_DIR(cmd) & _IOC_WRITE) && copy_from_user(&buf, uarg, size))
		return -EFAULT;
	ret = fl_ioctls[i].fn(f, &buf);
	if (ret)
		return ret;
	if ((_IOC_DIR(cmd) & _IOC_READ) && copy_to_user(uarg, &buf, size))
		return -EFAULT;
	return 0;
}

static int fl_open(struct inode *inode, struct file *file)
{
	struct fl_file *f;

	/* The device pins and mirrors arbitrary memory of the caller. */
	if (!capable(CAP_SYS_ADMIN))
		return -EPERM;
	f = kzalloc(sizeof(*f), GFP_KERNEL);
	if (!f)
		return -ENOMEM;
	xa_init(&f->objs);
	file->private_data = f;
	return 0;
}

/* Close or exit: every pin, notifier and table of this file goes. */
static int fl_release(struct inode *inode, struct file *file)
{
	struct fl_file *f = file->private_data;
	struct fl_obj *obj;
	unsigned long idx;

	xa_for_each(&f->objs, idx, obj) {
		xa_erase(&f->objs, idx);
		fl_file_unreserve(f, obj->nr_pages);
		fl_obj_put(obj);
	}
	xa_destroy(&f->objs);
	fl_devmem_release_file(f);
	kfree(f);
	return 0;
}

static const struct file_operations fl_fops = {
	.owner = THIS_MODULE,
	.open = fl_open,
	.release = fl_release,
	.unlocked_ioctl = fl_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.llseek = noop_llseek,
};

static struct miscdevice fl_misc = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "faultline",
	.fops = &fl_fops,
	.mode = 0600,
};

static int __init fl_init(void)
{
	int ret;

	fl_dev_task = kthread_run(fl_dev_thread, NULL, "faultline-dev");
	if (IS_ERR(fl_dev_task))
		return PTR_ERR(fl_dev_task);
	ret = misc_register(&fl_misc);
	if (ret)
		goto out_stop;
	pr_info("ABI %u, /dev/faultline ready\n", FL_ABI_VERSION);
	return 0;

out_stop:
	kthread_stop(fl_dev_task);
	return ret;
}

/*
 * No file can be open here (fops.owner pins the module while one is), so
 * every object is already gone; only the device thread remains.
 */
static void __exit fl_exit(void)
{
	misc_deregister(&fl_misc);
	fl_devmem_exit();
	kthread_stop(fl_dev_task);
}

module_init(fl_init);
module_exit(fl_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("faultline companion device: pinned and HMM-mirrored buffers, GUP timing");
