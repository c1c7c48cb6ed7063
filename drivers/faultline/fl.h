/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Internal interfaces of faultline.ko between the ioctl template (main.c)
 * and the features (pin.c, mirror.c, exclusive.c, gup.c, snapshot.c, devmem.c).
 */
#ifndef FL_H
#define FL_H

#include <linux/kref.h>
#include <linux/xarray.h>
#include <linux/completion.h>
#include <linux/list.h>
#include <linux/types.h>

#include "compat.h"

enum fl_obj_type { FL_OBJ_PIN, FL_OBJ_MIRROR };

/* A pinned buffer or a mirror; owned by one open file, looked up by handle. */
struct fl_obj {
	struct kref ref;
	enum fl_obj_type type;
	unsigned long start;
	unsigned long len;
	unsigned long nr_pages;
	/*
	 * Taken with FOLL_WRITE / HMM_PFN_REQ_WRITE.  Device writes and dirty
	 * unpins need it: a read-only pin may be the shared zero page or a
	 * read-only page-cache page, and writing there corrupts them (7.2 maps
	 * the zero page read-only in the direct map and oopses; older kernels
	 * silently corrupt it; tests/driver/fl-fuzz tries it).
	 */
	bool writable;
	void (*free)(struct fl_obj *obj);
};

struct fl_file {
	struct xarray objs;	/* handle -> struct fl_obj */
	atomic_t nr_objs;
	atomic_long_t nr_pages;
	bool used_devmem;	/* migrated to device-private memory: evict at close */
};

/* pgmap owner of our device-private pages (hmm/migrate_vma filter on it). */
extern const int fl_devmem_owner_token;
#define FL_DEVMEM_OWNER		((void *)&fl_devmem_owner_token)

/* Kernel-side histogram, layout of struct fl_uhist (faultline.h). */
struct fl_khist {
	u64 count, overflow, min, max, sum;
	u64 bucket[FL_UHIST_BUCKETS];
};

struct fl_khist *fl_khist_alloc(void);
void fl_khist_free(struct fl_khist *h);
void fl_khist_reset(struct fl_khist *h);
void fl_khist_add(struct fl_khist *h, u64 ns);
/* Copy @h (a private snapshot, not under any lock) to the user's fl_uhist. */
int fl_khist_to_user(const struct fl_khist *h, struct fl_uhist *u);
int fl_uhist_check(const struct fl_uhist *u);

int fl_check_range(u64 addr, u64 len);
int fl_file_reserve(struct fl_file *f, unsigned long nr_pages);
void fl_file_unreserve(struct fl_file *f, unsigned long nr_pages);
int fl_obj_insert(struct fl_file *f, struct fl_obj *obj, u32 *handle);
struct fl_obj *fl_obj_get(struct fl_file *f, u32 handle, int type);
void fl_obj_put(struct fl_obj *obj);

/* The emulated device: one kernel thread running requests in order. */
struct fl_dev_req {
	struct list_head node;
	int (*fn)(struct fl_dev_req *req);
	struct fl_obj *obj;
	struct fl_access *acc;
	void *data;		/* a request's own argument (exclusive.c) */
	struct completion done;
	int ret;
};

int fl_dev_submit(struct fl_dev_req *req);
void fl_pattern_page(void *kaddr, unsigned long buf_off, unsigned int in_page,
		     unsigned int len, struct fl_access *acc);

/* Feature entry points (ioctl handlers run in the caller's context). */
int fl_pin_create(struct fl_file *f, struct fl_pin_create *arg);
int fl_pin_access(struct fl_dev_req *req);
void fl_pin_set_dirty(struct fl_obj *obj, bool dirty);
int fl_gup_bench(struct fl_gup_bench *arg);

#ifdef CONFIG_HMM_MIRROR
#define FL_HMM_AVAILABLE	true
int fl_mirror_create(struct fl_file *f, struct fl_mirror_create *arg);
int fl_mirror_stats(struct fl_file *f, struct fl_mirror_stats *arg);
int fl_mirror_access(struct fl_dev_req *req);
int fl_snapshot(struct fl_snapshot *arg);
#else
#define FL_HMM_AVAILABLE	false
static inline int fl_mirror_create(struct fl_file *f, struct fl_mirror_create *arg)
{
	return -EOPNOTSUPP;
}

static inline int fl_mirror_stats(struct fl_file *f, struct fl_mirror_stats *arg)
{
	return -EOPNOTSUPP;
}

static inline int fl_mirror_access(struct fl_dev_req *req)
{
	return -EOPNOTSUPP;
}

static inline int fl_snapshot(struct fl_snapshot *arg)
{
	return -EOPNOTSUPP;
}
#endif

#ifdef FL_DEVMEM_API
#define FL_DEVMEM_WHY		FL_WHY_OK
int fl_migrate(struct fl_file *f, struct fl_migrate *arg);
void fl_devmem_release_file(struct fl_file *f);
void fl_devmem_exit(void);
#else
#define FL_DEVMEM_WHY		(IS_ENABLED(CONFIG_DEVICE_PRIVATE) ? \
				 FL_WHY_NO_KERNEL_API : FL_WHY_NO_DEVICE_PRIVATE)
static inline int fl_migrate(struct fl_file *f, struct fl_migrate *arg)
{
	return -EOPNOTSUPP;
}

static inline void fl_devmem_release_file(struct fl_file *f)
{
}

static inline void fl_devmem_exit(void)
{
}
#endif

/*
 * Device-exclusive grants on a mirror's pages: needs mirrors (HMM_MIRROR),
 * CONFIG_DEVICE_PRIVATE (where the kernel defines the API) and the API.
 */
#if defined(CONFIG_HMM_MIRROR) && defined(FL_EXCL_API)
#define FL_EXCL_WHY		FL_WHY_OK
int fl_exclusive(struct fl_file *f, struct fl_exclusive *arg);
#else
#define FL_EXCL_WHY		(!FL_HMM_AVAILABLE ? FL_WHY_NO_HMM_MIRROR : \
				 !IS_ENABLED(CONFIG_DEVICE_PRIVATE) ? FL_WHY_NO_DEVICE_PRIVATE : \
				 FL_WHY_NO_KERNEL_API)
static inline int fl_exclusive(struct fl_file *f, struct fl_exclusive *arg)
{
	return -EOPNOTSUPP;
}
#endif

#endif /* FL_H */
