// SPDX-License-Identifier: GPL-2.0
/*
 * Userspace side of the faultline.ko ioctls; see bench/driver.h and the ABI
 * in drivers/uapi/faultline.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>

#include "driver.h"

/* The kernel copies its buckets straight into struct fl_hist's array. */
_Static_assert(FL_UHIST_SUB_BITS == FL_HIST_SUB_BITS, "histogram layout");
_Static_assert(FL_UHIST_MAX_BITS == FL_HIST_MAX_BITS, "histogram layout");
_Static_assert(FL_UHIST_BUCKETS == FL_HIST_BUCKETS, "histogram layout");
/* The ABI has no implicit padding: sizes are the same for every ABI user. */
_Static_assert(sizeof(struct fl_uhist) == 56, "ABI");
_Static_assert(sizeof(struct fl_version) == 80, "ABI");
_Static_assert(sizeof(struct fl_caps) == 144, "ABI");
_Static_assert(sizeof(struct fl_pin_create) == 40, "ABI");
_Static_assert(sizeof(struct fl_destroy) == 16, "ABI");
_Static_assert(sizeof(struct fl_mirror_create) == 24, "ABI");
_Static_assert(sizeof(struct fl_mirror_stats) == 320, "ABI");
_Static_assert(sizeof(struct fl_access) == 72, "ABI");
_Static_assert(sizeof(struct fl_gup_bench) == 136, "ABI");
_Static_assert(sizeof(struct fl_snapshot) == 120, "ABI");
_Static_assert(sizeof(struct fl_migrate) == 88, "ABI");
_Static_assert(sizeof(struct fl_exclusive) == 352, "ABI");

static const char *const feature_names[FL_FEAT_COUNT] = {
	[FL_FEAT_PIN] = "pinned buffers",
	[FL_FEAT_MIRROR] = "HMM mirrors",
	[FL_FEAT_GUP_BENCH] = "GUP timing",
	[FL_FEAT_SNAPSHOT] = "HMM snapshot",
	[FL_FEAT_SNAPSHOT_ORDER] = "snapshot mapping order (pmd/pud)",
	[FL_FEAT_GET_USER_PAGES_FAST] = "get_user_pages_fast",
	[FL_FEAT_DEVICE_PRIVATE] = "device-private migration",
	[FL_FEAT_DEVICE_EXCLUSIVE] = "device-exclusive access",
};

static const char *const event_names[FL_EV_COUNT] = {
	[FL_EV_UNMAP] = "unmap",
	[FL_EV_CLEAR] = "clear",
	[FL_EV_PROTECTION_VMA] = "protection_vma",
	[FL_EV_PROTECTION_PAGE] = "protection_page",
	[FL_EV_SOFT_DIRTY] = "soft_dirty",
	[FL_EV_RELEASE] = "release",
	[FL_EV_MIGRATE] = "migrate",
	[FL_EV_EXCLUSIVE] = "exclusive",
	[FL_EV_OTHER] = "other",
};

const char *fl_driver_feature_name(enum fl_feature feat)
{
	return (unsigned)feat < FL_FEAT_COUNT ? feature_names[feat] : "unknown feature";
}

const char *fl_driver_event_name(enum fl_event ev)
{
	return (unsigned)ev < FL_EV_COUNT ? event_names[ev] : "unknown";
}

static int xioctl(struct fl_driver *d, unsigned long cmd, void *arg)
{
	return ioctl(d->fd, cmd, arg) ? -errno : 0;
}

int fl_driver_open(struct fl_driver *d, char *why, size_t whylen)
{
	int ret;

	memset(d, 0, sizeof(*d));
	d->fd = open(FL_DEVICE_PATH, O_RDWR | O_CLOEXEC);
	if (d->fd < 0) {
		ret = -errno;
		if (errno == ENOENT || errno == ENXIO || errno == ENODEV)
			snprintf(why, whylen, "no %s: load drivers/faultline.ko (make driver; insmod)",
				 FL_DEVICE_PATH);
		else if (errno == EPERM || errno == EACCES)
			snprintf(why, whylen, "%s needs CAP_SYS_ADMIN: run as root",
				 FL_DEVICE_PATH);
		else
			snprintf(why, whylen, "cannot open %s: %s", FL_DEVICE_PATH,
				 strerror(errno));
		return ret;
	}
	ret = xioctl(d, FL_IOC_VERSION, &d->version);
	if (ret) {
		snprintf(why, whylen, "%s does not answer FL_IOC_VERSION (%s): not faultline.ko?",
			 FL_DEVICE_PATH, strerror(-ret));
		goto out_close;
	}
	if (d->version.abi != FL_ABI_VERSION) {
		snprintf(why, whylen, "faultline.ko speaks ABI %u, this faultline ABI %u: rebuild and reload the driver",
			 d->version.abi, FL_ABI_VERSION);
		ret = -EPROTO;
		goto out_close;
	}
	ret = xioctl(d, FL_IOC_CAPS, &d->caps);
	if (ret) {
		snprintf(why, whylen, "FL_IOC_CAPS failed: %s", strerror(-ret));
		goto out_close;
	}
	return 0;

out_close:
	close(d->fd);
	d->fd = -1;
	return ret;
}

void fl_driver_close(struct fl_driver *d)
{
	if (d->fd >= 0)
		close(d->fd);
	d->fd = -1;
}

bool fl_driver_has(const struct fl_driver *d, enum fl_feature feat)
{
	return (unsigned)feat < FL_FEAT_COUNT && (d->caps.features >> feat) & 1;
}

const char *fl_driver_why(const struct fl_driver *d, enum fl_feature feat)
{
	if ((unsigned)feat >= FL_FEAT_COUNT || feat >= d->caps.nr_features)
		return "feature unknown to the loaded faultline.ko: reload a newer build";
	if (fl_driver_has(d, feat))
		return NULL;
	switch (d->caps.why_not[feat]) {
	case FL_WHY_NO_HMM_MIRROR:
		return "needs CONFIG_HMM_MIRROR in the kernel";
	case FL_WHY_NO_DEVICE_PRIVATE:
		return "needs CONFIG_DEVICE_PRIVATE (a kernel built with scripts/vm build:VERSION)";
	case FL_WHY_NO_KERNEL_API:
		return "this kernel lacks the API (e.g. HMM_PFN_ORDER before 5.12, get_user_pages_fast)";
	case FL_WHY_NOT_IMPLEMENTED:
		return "not implemented by this faultline.ko version";
	case FL_WHY_INIT_FAILED:
		return "faultline.ko failed to set it up at load time: see dmesg";
	default:
		return "faultline.ko reports it absent (unknown reason code)";
	}
}

const char *fl_driver_supported(enum fl_feature feat)
{
	static char why[256];
	struct fl_driver d;
	const char *r;

	if (fl_driver_open(&d, why, sizeof(why)))
		return why;
	r = fl_driver_why(&d, feat);
	if (r) {
		snprintf(why, sizeof(why), "faultline.ko %s: %s",
			 fl_driver_feature_name(feat), r);
		r = why;
	}
	fl_driver_close(&d);
	return r;
}

void fl_driver_hist_merge(struct fl_hist *dst, const struct fl_uhist *u,
			  const uint64_t *buckets)
{
	if (!u->count && !u->overflow)
		return;
	if (buckets)
		for (unsigned i = 0; i < FL_HIST_BUCKETS; i++)
			dst->bucket[i] += buckets[i];
	dst->count += u->count;
	dst->overflow += u->overflow;
	dst->sum += (double)u->sum_ns;
	if (u->min_ns < dst->min)
		dst->min = u->min_ns;
	if (u->max_ns > dst->max)
		dst->max = u->max_ns;
}

int fl_drv_pin_create(struct fl_driver *d, void *addr, size_t len,
		      uint32_t flags, struct fl_pin_create *out)
{
	memset(out, 0, sizeof(*out));
	out->addr = (uintptr_t)addr;
	out->len = len;
	out->flags = flags;
	return xioctl(d, FL_IOC_PIN_CREATE, out);
}

int fl_drv_destroy(struct fl_driver *d, uint32_t handle, uint32_t flags,
		   uint64_t *ns)
{
	struct fl_destroy a = { .handle = handle, .flags = flags };
	int ret = xioctl(d, FL_IOC_DESTROY, &a);

	if (!ret && ns)
		*ns = a.ns;
	return ret;
}

int fl_drv_mirror_create(struct fl_driver *d, void *addr, size_t len,
			 uint32_t flags, uint32_t *handle)
{
	struct fl_mirror_create a = {
		.addr = (uintptr_t)addr, .len = len, .flags = flags,
	};
	int ret = xioctl(d, FL_IOC_MIRROR_CREATE, &a);

	if (!ret)
		*handle = a.handle;
	return ret;
}

/* A bucket array for one call, or NULL when the caller wants no histogram. */
static uint64_t *bucket_buf(struct fl_hist *h, struct fl_uhist *u)
{
	uint64_t *b;

	if (!h)
		return NULL;
	b = calloc(FL_UHIST_BUCKETS, sizeof(*b));
	if (b) {
		u->buckets_ptr = (uintptr_t)b;
		u->nr_buckets = FL_UHIST_BUCKETS;
	}
	return b;
}

/*
 * @cmd on @arg, whose kernel histograms @ua and @ub (if @ha, @hb) are
 * merged into @ha and @hb; the bucket arrays live for the call only.
 */
static int xioctl_hists(struct fl_driver *d, unsigned long cmd, void *arg, struct fl_uhist *ua,
			struct fl_hist *ha, struct fl_uhist *ub, struct fl_hist *hb)
{
	uint64_t *ba = bucket_buf(ha, ua), *bb = bucket_buf(hb, ub);
	int ret = -ENOMEM;

	if ((ha && !ba) || (hb && !bb))
		goto out;
	ret = xioctl(d, cmd, arg);
	if (ret)
		goto out;
	if (ha)
		fl_driver_hist_merge(ha, ua, ba);
	if (hb)
		fl_driver_hist_merge(hb, ub, bb);
out:
	free(ba);
	free(bb);
	ua->buckets_ptr = ub->buckets_ptr = 0;
	ua->nr_buckets = ub->nr_buckets = 0;
	return ret;
}

int fl_drv_mirror_stats(struct fl_driver *d, uint32_t handle, uint32_t flags,
			struct fl_mirror_stats *out, struct fl_hist *cb,
			struct fl_hist *remirror)
{
	memset(out, 0, sizeof(*out));
	out->handle = handle;
	out->flags = flags;
	return xioctl_hists(d, FL_IOC_MIRROR_STATS, out, &out->callback, cb, &out->remirror, remirror);
}

int fl_drv_access(struct fl_driver *d, uint32_t handle, enum fl_access_op op,
		  uint64_t offset, uint64_t len, uint64_t seed,
		  struct fl_access *out)
{
	memset(out, 0, sizeof(*out));
	out->handle = handle;
	out->op = op;
	out->offset = offset;
	out->len = len;
	out->seed = seed;
	return xioctl(d, FL_IOC_ACCESS, out);
}

int fl_drv_gup_bench(struct fl_driver *d, struct fl_gup_bench *arg,
		     struct fl_hist *per_call)
{
	uint64_t *b = bucket_buf(per_call, &arg->per_call);
	int ret;

	if (per_call && !b)
		return -ENOMEM;
	ret = xioctl(d, FL_IOC_GUP_BENCH, arg);
	if (!ret && per_call)
		fl_driver_hist_merge(per_call, &arg->per_call, b);
	free(b);
	arg->per_call.buckets_ptr = 0;
	arg->per_call.nr_buckets = 0;
	return ret;
}

int fl_drv_snapshot(struct fl_driver *d, void *addr, size_t len, uint32_t flags,
		    uint8_t *per_page, struct fl_snapshot *out)
{
	memset(out, 0, sizeof(*out));
	out->addr = (uintptr_t)addr;
	out->len = len;
	out->flags = flags;
	out->flags_ptr = (uintptr_t)per_page;
	return xioctl(d, FL_IOC_SNAPSHOT, out);
}

int fl_drv_migrate(struct fl_driver *d, void *addr, size_t len,
		   enum fl_migrate_dir dir, struct fl_migrate *out)
{
	memset(out, 0, sizeof(*out));
	out->addr = (uintptr_t)addr;
	out->len = len;
	out->direction = dir;
	return xioctl(d, FL_IOC_MIGRATE, out);
}

int fl_drv_exclusive(struct fl_driver *d, uint32_t handle, enum fl_excl_op op,
		     uint64_t offset, uint64_t len, uint64_t value, uint32_t flags,
		     struct fl_exclusive *out, struct fl_hist *revoke,
		     struct fl_hist *hold)
{
	memset(out, 0, sizeof(*out));
	out->handle = handle;
	out->op = op;
	out->offset = offset;
	out->len = len;
	out->value = value;
	out->flags = flags;
	return xioctl_hists(d, FL_IOC_EXCLUSIVE, out, &out->revoke, revoke, &out->hold, hold);
}
