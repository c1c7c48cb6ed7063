/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * faultline.h - the ioctl ABI of /dev/faultline (drivers/faultline/).
 *
 * This is the single definition of the ABI: the module and bench/ both
 * include it (bench/ with -Idrivers/uapi).  Every field is fixed-width and
 * marked (in) or (out); structs contain no pointers (user buffers are passed
 * as __u64) and no implicit padding, so 32- and 64-bit userspace agree.
 * Reserved fields (in) must be zero: the module refuses anything else with
 * -EINVAL, which keeps them usable for later extensions.
 *
 * Errors common to every command: -ENOTTY unknown command or wrong struct
 * size for the command number, -EFAULT struct not readable/writable,
 * -EINVAL bad field (reserved non-zero, unknown flag, misaligned or wrapped
 * range, count out of bounds), -ENOENT handle not owned by this open file,
 * -EPERM caller lacks CAP_SYS_ADMIN (checked at open), -EOPNOTSUPP the
 * feature is not in this build/kernel (see FL_IOC_CAPS), -ENOSPC the file
 * already holds FL_MAX_OBJECTS objects or FL_MAX_FILE_LEN bytes of them.
 * Errors of the kernel paths exercised (pin_user_pages, hmm_range_fault:
 * -EFAULT unmapped, -EPERM write to read-only, -EBUSY retry timeout,
 * -EOPNOTSUPP long-term pin refused) are passed through unchanged.
 *
 * Handles are small integers valid only for the file descriptor that
 * created them; closing it releases every pin, notifier and buffer.
 */
#ifndef _UAPI_FAULTLINE_H
#define _UAPI_FAULTLINE_H

#include <linux/types.h>
#include <linux/ioctl.h>

#define FL_DEVICE_PATH		"/dev/faultline"

/*
 * Bumped on any incompatible change.  Userspace refuses a module whose ABI
 * differs from the FL_ABI_VERSION it was compiled with.
 */
#define FL_ABI_VERSION		1

/* Out-of-tree driver: 0xFA is not in ioctl-number.rst, so no collision upstream. */
#define FL_IOC_MAGIC		0xFA

/*
 * Latency histograms use the same log-linear layout as bench/histogram.h
 * (HdrHistogram style): values below 2^SUB_BITS ns are exact; every further
 * power of two is split into 2^SUB_BITS buckets.  Values >= 2^MAX_BITS ns are
 * counted in `overflow`, not clamped.  The module copies the buckets to the
 * user array at buckets_ptr, which userspace adds into its own struct fl_hist
 * without conversion (bench/driver.c checks the layouts agree at compile
 * time).  Bucket index of value v (ns), v >= 2^SUB_BITS:
 *   msb = 63 - clz(v);
 *   idx = (msb - SUB_BITS + 1) * 2^SUB_BITS + ((v >> (msb - SUB_BITS)) & (2^SUB_BITS - 1))
 */
#define FL_UHIST_SUB_BITS	7
#define FL_UHIST_MAX_BITS	40
#define FL_UHIST_BUCKETS	((FL_UHIST_MAX_BITS - FL_UHIST_SUB_BITS + 1) << FL_UHIST_SUB_BITS)

struct fl_uhist {
	__u64 buckets_ptr;	/* (in) user array of FL_UHIST_BUCKETS __u64, or 0 */
	__u32 nr_buckets;	/* (in) FL_UHIST_BUCKETS if buckets_ptr, else 0 */
	__u32 reserved;		/* (in) 0 */
	__u64 count;		/* (out) samples below 2^MAX_BITS ns */
	__u64 overflow;		/* (out) samples at or above 2^MAX_BITS ns */
	__u64 min_ns;		/* (out) over all samples; ~0 if none */
	__u64 max_ns;		/* (out) over all samples */
	__u64 sum_ns;		/* (out) of in-range samples */
};

/* ---------------------------------------------------------------- version */

struct fl_version {
	__u32 abi;		/* (out) FL_ABI_VERSION of the module */
	__u32 hist_sub_bits;	/* (out) FL_UHIST_SUB_BITS of the module */
	__u32 hist_max_bits;	/* (out) FL_UHIST_MAX_BITS of the module */
	__u32 reserved;		/* (out) 0 */
	char release[64];	/* (out) utsname release the module was built for */
};

/* ----------------------------------------------------------- capabilities */

/* Feature bits; index = bit number. */
enum fl_feature {
	FL_FEAT_PIN = 0,	/* pinned buffers (pin_user_pages*) */
	FL_FEAT_MIRROR,		/* mmu_interval_notifier + hmm_range_fault mirrors */
	FL_FEAT_GUP_BENCH,	/* kernel-timed GUP calls */
	FL_FEAT_SNAPSHOT,	/* hmm_range_fault per-page flags */
	FL_FEAT_SNAPSHOT_ORDER,	/* snapshot can tell pmd/pud mapped (HMM_PFN_ORDER, 5.12) */
	FL_FEAT_GET_USER_PAGES_FAST,	/* FL_GUP_GET_FAST is available */
	FL_FEAT_DEVICE_PRIVATE,	/* FL_IOC_MIGRATE: emulated device-private memory */
	FL_FEAT_DEVICE_EXCLUSIVE,	/* FL_IOC_EXCLUSIVE: make_device_exclusive(_range) */
	FL_FEAT_COUNT
};

/* Why a feature is absent ("why not" codes); userspace turns them into text. */
enum fl_why_not {
	FL_WHY_OK = 0,			/* feature present */
	FL_WHY_NO_HMM_MIRROR,		/* kernel built without CONFIG_HMM_MIRROR */
	FL_WHY_NO_DEVICE_PRIVATE,	/* kernel built without CONFIG_DEVICE_PRIVATE */
	FL_WHY_NO_KERNEL_API,		/* the kernel lacks the API (e.g. no HMM_PFN_ORDER before 5.12) */
	FL_WHY_NOT_IMPLEMENTED,		/* this module version does not implement it */
	FL_WHY_INIT_FAILED,		/* present but failed at load (see dmesg) */
	FL_WHY_COUNT
};

#define FL_CAPS_MAX_FEATURES	32

struct fl_caps {
	__u64 features;		/* (out) bit (1 << enum fl_feature) set if usable */
	__u32 nr_features;	/* (out) FL_FEAT_COUNT of the module */
	__u32 reserved;		/* (out) 0 */
	__u32 why_not[FL_CAPS_MAX_FEATURES];	/* (out) enum fl_why_not per feature */
};

/* ---------------------------------------------------------- pinned buffer */

#define FL_PIN_WRITE		(1u << 0)	/* FOLL_WRITE */
#define FL_PIN_LONGTERM		(1u << 1)	/* FOLL_LONGTERM */
#define FL_PIN_FAST		(1u << 2)	/* pin_user_pages_fast, else pin_user_pages under mmap_read_lock */
#define FL_PIN_FLAGS		(FL_PIN_WRITE | FL_PIN_LONGTERM | FL_PIN_FAST)

/* addr and len page-aligned, len <= FL_MAX_LEN, addr + len must not wrap. */
#define FL_MAX_LEN		(16ull << 30)
#define FL_MAX_OBJECTS		256	/* pinned buffers + mirrors per open file */
#define FL_MAX_FILE_LEN		(32ull << 30)	/* their total length per open file (-ENOSPC) */

struct fl_pin_create {
	__u64 addr;		/* (in) start of the user range */
	__u64 len;		/* (in) bytes */
	__u32 flags;		/* (in) FL_PIN_* */
	__u32 handle;		/* (out) */
	__u64 pin_ns;		/* (out) time spent pinning */
	__u64 nr_pages;		/* (out) pages pinned (== len / PAGE_SIZE on success) */
};

/* Only for buffers pinned with FL_PIN_WRITE (else -EINVAL). */
#define FL_UNPIN_DIRTY		(1u << 0)	/* unpin_user_pages_dirty_lock(.., true) */

struct fl_destroy {
	__u32 handle;		/* (in) pinned buffer or mirror */
	__u32 flags;		/* (in) FL_UNPIN_DIRTY for pinned buffers, else 0 */
	__u64 ns;		/* (out) time spent unpinning / removing the notifier */
};

/* ------------------------------------------------------- mirrored buffer */

#define FL_MIRROR_WRITE		(1u << 0)	/* mirror with write permission */
#define FL_MIRROR_PREFAULT	(1u << 1)	/* fault the whole range in at create */
#define FL_MIRROR_FLAGS		(FL_MIRROR_WRITE | FL_MIRROR_PREFAULT)

struct fl_mirror_create {
	__u64 addr;		/* (in) page aligned */
	__u64 len;		/* (in) page aligned, <= FL_MAX_LEN */
	__u32 flags;		/* (in) FL_MIRROR_* */
	__u32 handle;		/* (out) */
};

/* Invalidation events, mapped from enum mmu_notifier_event. */
enum fl_event {
	FL_EV_UNMAP = 0,	/* munmap, mremap */
	FL_EV_CLEAR,		/* MADV_DONTNEED, zap, THP split, COW break */
	FL_EV_PROTECTION_VMA,	/* mprotect */
	FL_EV_PROTECTION_PAGE,	/* write-protect of pages (fork COW, KSM) */
	FL_EV_SOFT_DIRTY,
	FL_EV_RELEASE,		/* exit_mmap */
	FL_EV_MIGRATE,		/* migrate_vma (device migration) */
	FL_EV_EXCLUSIVE,	/* make_device_exclusive by another owner */
	FL_EV_OTHER,		/* an event this module does not know */
	FL_EV_COUNT
};

#define FL_EV_MAX		16

#define FL_STATS_RESET		(1u << 0)	/* zero counters and histograms after reading */

struct fl_mirror_stats {
	__u32 handle;		/* (in) */
	__u32 flags;		/* (in) FL_STATS_* */
	struct fl_uhist callback;	/* (in/out) invalidate callback duration */
	struct fl_uhist remirror;	/* (in/out) fault+program time of ranges that had been invalidated */
	__u64 invalidations[FL_EV_MAX];	/* (out) callbacks by enum fl_event */
	__u64 invalidated_pages;	/* (out) valid device entries cleared by callbacks */
	__u64 nonblock_busy;	/* (out) non-blockable callbacks that found the table locked */
	__u64 faults;		/* (out) successful hmm_range_fault + program rounds */
	__u64 faulted_pages;	/* (out) pages programmed */
	__u64 retries;		/* (out) mmu_interval_read_retry hits (programming raced an invalidation) */
	__u64 ebusy;		/* (out) hmm_range_fault returned -EBUSY */
	__u64 valid_pages;	/* (out) device entries valid now */
	__u64 stale_checks;	/* (out) pages compared by FL_ACCESS_CHECK_STALE */
	__u64 stale;		/* (out) valid device entries that disagreed with the CPU page table */
};

/* --------------------------------------------------------- device access */

/*
 * The emulated device (one kernel thread, "faultline-dev") reads or writes
 * the buffer through pinned pages or through the mirror's device page table.
 * Data pattern: the __u64 at byte offset `off` of the buffer is
 * fl_pattern(seed, off); userspace can write or check the same.
 */
enum fl_access_op {
	FL_ACCESS_FILL = 0,	/* device writes the pattern; needs FL_PIN_WRITE / FL_MIRROR_WRITE */
	FL_ACCESS_VERIFY,	/* device reads and counts words != pattern */
	FL_ACCESS_READ,		/* device reads (throughput) */
	FL_ACCESS_CHECK_STALE,	/* mirror only: compare device table with a fresh CPU snapshot */
	FL_ACCESS_COUNT
};

struct fl_access {
	__u32 handle;		/* (in) */
	__u32 op;		/* (in) enum fl_access_op */
	__u64 offset;		/* (in) byte offset in the buffer, 8-byte aligned */
	__u64 len;		/* (in) bytes, 8-byte aligned, offset + len <= buffer length */
	__u64 seed;		/* (in) pattern seed */
	__u64 ns;		/* (out) device time, including re-faults */
	__u64 bytes;		/* (out) bytes accessed */
	__u64 mismatches;	/* (out) VERIFY: words differing; CHECK_STALE: stale entries */
	__u64 first_mismatch;	/* (out) byte offset of the first mismatch, ~0 if none */
	__u64 refaults;		/* (out) mirror: fault rounds needed during this access */
};

static inline __u64 fl_pattern(__u64 seed, __u64 off)
{
	__u64 x = seed ^ (off * 0x9E3779B97F4A7C15ull);

	x ^= x >> 31;
	return x ^ off;
}

/* ------------------------------------------------------------ GUP timing */

enum fl_gup_op {
	FL_GUP_GET_FAST = 0,	/* get_user_pages_fast + put_page */
	FL_GUP_PIN_FAST,	/* pin_user_pages_fast + unpin_user_pages */
	FL_GUP_PIN,		/* pin_user_pages under mmap_read_lock */
	FL_GUP_GET,		/* get_user_pages under mmap_read_lock */
	FL_GUP_COUNT
};

#define FL_GUP_WRITE		(1u << 0)	/* FOLL_WRITE */
#define FL_GUP_LONGTERM		(1u << 1)	/* FOLL_LONGTERM (pin ops only) */
#define FL_GUP_FLAGS		(FL_GUP_WRITE | FL_GUP_LONGTERM)

struct fl_gup_bench {
	__u64 addr;		/* (in) page aligned */
	__u64 len;		/* (in) page aligned, <= FL_MAX_LEN */
	__u32 op;		/* (in) enum fl_gup_op */
	__u32 flags;		/* (in) FL_GUP_* */
	__u32 pages_per_call;	/* (in) 1..FL_GUP_MAX_PER_CALL */
	__u32 sample_every;	/* (in) time 1 call in N into per_call; 0 = every call */
	struct fl_uhist per_call;	/* (in/out) duration of the sampled get/pin calls */
	__u64 get_ns;		/* (out) the whole get/pin loop, one ktime pair (as gup_test) */
	__u64 put_ns;		/* (out) total time releasing every page */
	__u64 nr_pages;		/* (out) pages got/pinned */
	__u64 calls;		/* (out) get/pin calls made */
	__u64 verified;		/* (out) pages seen dma-pinned after pinning (pin ops), got (get ops) */
	__s32 error;		/* (out) first negative errno from the kernel, 0 if none */
	__u32 reserved2;	/* (out) 0 */
};

#define FL_GUP_MAX_PER_CALL	65536

/* -------------------------------------------------------------- snapshot */

/* Per-page flags written to the user byte array. */
#define FL_SNAP_PRESENT		(1u << 0)	/* HMM_PFN_VALID */
#define FL_SNAP_WRITE		(1u << 1)	/* HMM_PFN_WRITE */
#define FL_SNAP_PMD		(1u << 2)	/* mapped by a pmd (order >= PMD_ORDER) */
#define FL_SNAP_PUD		(1u << 3)	/* mapped by a pud (order >= PUD_ORDER) */
#define FL_SNAP_ZERO		(1u << 4)	/* the shared zero page (or huge zero page) */
#define FL_SNAP_DEVICE_PRIVATE	(1u << 5)	/* a device-private page */
#define FL_SNAP_ERROR		(1u << 6)	/* HMM_PFN_ERROR: no vma / not accessible */
#define FL_SNAP_NR_FLAGS	7

#define FL_SNAPSHOT_FAULT	(1u << 0)	/* fault pages in (read) instead of looking */
#define FL_SNAPSHOT_FAULT_WRITE	(1u << 1)	/* fault pages in for write */
#define FL_SNAPSHOT_FLAGS	(FL_SNAPSHOT_FAULT | FL_SNAPSHOT_FAULT_WRITE)

struct fl_snapshot {
	__u64 addr;		/* (in) page aligned */
	__u64 len;		/* (in) page aligned, <= FL_MAX_LEN */
	__u64 flags_ptr;	/* (in) user __u8[len / PAGE_SIZE] for per-page FL_SNAP_*, or 0 */
	__u32 flags;		/* (in) FL_SNAPSHOT_* */
	__u32 reserved;		/* (in) 0 */
	__u64 counts[8];	/* (out) pages with FL_SNAP_* bit i set */
	__u64 nr_pages;		/* (out) pages examined */
	__u64 retries;		/* (out) sequence retries */
	__u64 ns;		/* (out) time */
};

/* --------------------------------------------- device-private migration */

/*
 * FL_FEAT_DEVICE_PRIVATE only.  Moves the anonymous pages of a range to the
 * module's emulated device-private memory (migrate_vma_* with
 * MIGRATE_VMA_SELECT_SYSTEM; holes and the zero page included) or back
 * (MIGRATE_VMA_SELECT_DEVICE_PRIVATE).  A CPU access to a page left on the
 * device faults it back through migrate_to_ram.  Closing the file evicts
 * every device page back to system memory.  Pages the kernel declines to
 * migrate (pinned, shared, locked) are counted as not migrated, not errors.
 */
enum fl_migrate_dir {
	FL_MIGRATE_TO_DEVICE = 0,
	FL_MIGRATE_TO_SYSTEM,
};

struct fl_migrate {
	__u64 addr;		/* (in) page aligned */
	__u64 len;		/* (in) page aligned, <= FL_MAX_LEN */
	__u32 direction;	/* (in) enum fl_migrate_dir */
	__u32 reserved;		/* (in) 0 */
	__u64 npages;		/* (out) pages in the range */
	__u64 migrated;		/* (out) pages that moved */
	__u64 setup_ns;		/* (out) migrate_vma_setup (collect + unmap) */
	__u64 copy_ns;		/* (out) page allocation and copy */
	__u64 pages_ns;		/* (out) migrate_vma_pages */
	__u64 finalize_ns;	/* (out) migrate_vma_finalize */
	__u64 cpu_faults;	/* (out) module-wide migrate_to_ram calls so far */
	__u64 device_pages;	/* (out) module-wide device-private pages in use */
};

/* ------------------------------------------------------ device-exclusive */

/*
 * FL_FEAT_DEVICE_EXCLUSIVE only.  SVM atomics the way nouveau does them: the
 * device asks for exclusive access to pages of one of its mirrors
 * (make_device_exclusive_range() up to 6.14, make_device_exclusive() from
 * 6.15), which replaces the CPU ptes with device-exclusive swap entries;
 * while a page is held the device does atomic read-modify-writes on it
 * through the mirror's table.  A CPU access faults and restores the pte
 * after an invalidation (MMU_NOTIFY_EXCLUSIVE with no owner up to 6.14,
 * MMU_NOTIFY_CLEAR from 6.15): the grant is revoked.  munmap, mprotect,
 * fork and migration revoke it too.  The MMU_NOTIFY_EXCLUSIVE that our own
 * grant raises carries this module as owner and is filtered: counted in
 * self_filtered, it clears nothing.
 *
 * Every call also returns the mirror's exclusive counters (since create or
 * the last FL_EXCL_RESET).
 */
enum fl_excl_op {
	FL_EXCL_GRANT = 0,	/* make [offset, offset + len) device-exclusive and map it atomic */
	FL_EXCL_ATOMIC_ADD,	/* device atomically adds `value` to each __u64 of held pages */
	FL_EXCL_STATS,		/* only read the counters (offset and len 0) */
	FL_EXCL_COUNT
};

#define FL_EXCL_REGRANT		(1u << 0)	/* ATOMIC_ADD: grant revoked pages again first */
#define FL_EXCL_RESET		(1u << 1)	/* zero the counters and histograms after reading */
#define FL_EXCL_FLAGS		(FL_EXCL_REGRANT | FL_EXCL_RESET)

struct fl_exclusive {
	__u32 handle;		/* (in) a mirror created with FL_MIRROR_WRITE */
	__u32 op;		/* (in) enum fl_excl_op */
	__u64 offset;		/* (in) page-aligned byte offset in the mirror */
	__u64 len;		/* (in) page-aligned bytes, offset + len <= mirror length */
	__u64 value;		/* (in) ATOMIC_ADD: the addend */
	__u32 flags;		/* (in) FL_EXCL_* */
	__s32 error;		/* (out) GRANT (and REGRANT): first negative errno of the kernel,
				 * -EBUSY for a page it would not make exclusive; 0 if none */
	__u64 ns;		/* (out) time of the operation */
	__u64 pages;		/* (out) GRANT: pages granted; ATOMIC_ADD: pages updated */
	__u64 not_held;		/* (out) GRANT: pages not granted; ATOMIC_ADD: pages skipped
				 * because their grant was revoked (and not granted again) */
	__u64 retries;		/* (out) grants redone because an invalidation raced programming */
	/* the mirror's counters */
	__u64 granted;		/* (out) pages granted */
	__u64 held;		/* (out) pages device-exclusive now */
	__u64 revoked;		/* (out) held pages whose grant an invalidation cleared */
	__u64 revoked_by[FL_EV_MAX];	/* (out) those by enum fl_event */
	__u64 self_filtered;	/* (out) our own MMU_NOTIFY_EXCLUSIVE callbacks, ignored */
	__u64 atomic_words;	/* (out) __u64 words updated atomically */
	struct fl_uhist revoke;	/* (in/out) duration of callbacks that revoked grants */
	struct fl_uhist hold;	/* (in/out) grant-to-revoke time per revoked page */
};

/* ----------------------------------------------------------------- ioctls */

#define FL_IOC_VERSION		_IOR(FL_IOC_MAGIC, 0x00, struct fl_version)
#define FL_IOC_CAPS		_IOR(FL_IOC_MAGIC, 0x01, struct fl_caps)
#define FL_IOC_PIN_CREATE	_IOWR(FL_IOC_MAGIC, 0x10, struct fl_pin_create)
#define FL_IOC_DESTROY		_IOWR(FL_IOC_MAGIC, 0x11, struct fl_destroy)
#define FL_IOC_MIRROR_CREATE	_IOWR(FL_IOC_MAGIC, 0x20, struct fl_mirror_create)
#define FL_IOC_MIRROR_STATS	_IOWR(FL_IOC_MAGIC, 0x21, struct fl_mirror_stats)
#define FL_IOC_ACCESS		_IOWR(FL_IOC_MAGIC, 0x30, struct fl_access)
#define FL_IOC_GUP_BENCH	_IOWR(FL_IOC_MAGIC, 0x40, struct fl_gup_bench)
#define FL_IOC_SNAPSHOT		_IOWR(FL_IOC_MAGIC, 0x50, struct fl_snapshot)
#define FL_IOC_MIGRATE		_IOWR(FL_IOC_MAGIC, 0x60, struct fl_migrate)
#define FL_IOC_EXCLUSIVE	_IOWR(FL_IOC_MAGIC, 0x61, struct fl_exclusive)

#endif /* _UAPI_FAULTLINE_H */
