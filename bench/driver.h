/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The userspace side of /dev/faultline (drivers/faultline.ko): open it,
 * check the ABI version, read the capabilities and turn absent features into
 * skip reasons, and one thin wrapper per ioctl.  The ABI itself is
 * drivers/uapi/faultline.h; nothing here redefines it.
 *
 * Wrappers return 0 or a negative errno and never print.
 */
#ifndef FL_DRIVER_H
#define FL_DRIVER_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#include "faultline.h"
#include "histogram.h"

struct fl_driver {
	int fd;
	struct fl_version version;
	struct fl_caps caps;
};

/*
 * Open FL_DEVICE_PATH, check the ABI and read the capabilities.  On failure
 * returns a negative errno and writes the reason to @why ("no
 * /dev/faultline: load drivers/faultline.ko", ...).
 */
int fl_driver_open(struct fl_driver *d, char *why, size_t whylen);
void fl_driver_close(struct fl_driver *d);

bool fl_driver_has(const struct fl_driver *d, enum fl_feature feat);
/* NULL if @feat is usable, else why not, in words (a skip reason). */
const char *fl_driver_why(const struct fl_driver *d, enum fl_feature feat);

/*
 * For workload supported() hooks: NULL if the driver is loaded, speaks our
 * ABI and has @feat; else the skip reason (a static string, not
 * thread-safe).
 */
const char *fl_driver_supported(enum fl_feature feat);

const char *fl_driver_feature_name(enum fl_feature feat);
const char *fl_driver_event_name(enum fl_event ev);

/* Thin ioctl wrappers. */
int fl_drv_pin_create(struct fl_driver *d, void *addr, size_t len,
		      uint32_t flags, struct fl_pin_create *out);
int fl_drv_destroy(struct fl_driver *d, uint32_t handle, uint32_t flags,
		   uint64_t *ns);
int fl_drv_mirror_create(struct fl_driver *d, void *addr, size_t len,
			 uint32_t flags, uint32_t *handle);

/*
 * hmm_range_fault() gives up with -EBUSY after HMM_RANGE_DEFAULT_TIMEOUT
 * (1 s) of invalidations racing its walk, and the driver passes that on
 * (FL_IOC_MIRROR_CREATE with prefault, FL_IOC_ACCESS).  A GPU driver
 * retries the fault; so do the workloads: @call (an ioctl wrapper's
 * return) is made again while it returns -EBUSY, at most
 * FL_DRV_BUSY_RETRIES more times.  Its last return is the value; -EBUSY
 * then is a liveness problem for the caller to report, not wrong data.
 * *@retries, if not NULL, counts the retries.  Under faultline stress on
 * TCG guests a 2M and a 4M mirror prefault got -EBUSY within a minute.
 */
#define FL_DRV_BUSY_RETRIES 30
#define fl_drv_retry_busy(call, retries) ({				\
	uint64_t *retries_ = (retries);					\
	int ret_, t_ = 0;						\
									\
	while ((ret_ = (call)) == -EBUSY && t_++ < FL_DRV_BUSY_RETRIES)	\
		if (retries_)						\
			(*retries_)++;					\
	ret_;								\
})
/*
 * @cb and @remirror, if not NULL, receive the kernel histograms (merged
 * into them, so per-repetition stats with FL_STATS_RESET add up).
 */
int fl_drv_mirror_stats(struct fl_driver *d, uint32_t handle, uint32_t flags,
			struct fl_mirror_stats *out, struct fl_hist *cb,
			struct fl_hist *remirror);
int fl_drv_access(struct fl_driver *d, uint32_t handle, enum fl_access_op op,
		  uint64_t offset, uint64_t len, uint64_t seed,
		  struct fl_access *out);
int fl_drv_gup_bench(struct fl_driver *d, struct fl_gup_bench *arg,
		     struct fl_hist *per_call);
int fl_drv_snapshot(struct fl_driver *d, void *addr, size_t len, uint32_t flags,
		    uint8_t *per_page, struct fl_snapshot *out);

int fl_drv_migrate(struct fl_driver *d, void *addr, size_t len,
		   enum fl_migrate_dir dir, struct fl_migrate *out);

/*
 * FL_IOC_EXCLUSIVE on mirror @handle (op, page-aligned byte range, addend
 * for FL_EXCL_ATOMIC_ADD).  @revoke and @hold, if not NULL, receive the
 * kernel histograms (merged, as fl_drv_mirror_stats does).
 */
int fl_drv_exclusive(struct fl_driver *d, uint32_t handle, enum fl_excl_op op,
		     uint64_t offset, uint64_t len, uint64_t value, uint32_t flags,
		     struct fl_exclusive *out, struct fl_hist *revoke,
		     struct fl_hist *hold);

/* Add a kernel histogram (layout of faultline.h) into a userspace one. */
void fl_driver_hist_merge(struct fl_hist *dst, const struct fl_uhist *u,
			  const uint64_t *buckets);

#endif
