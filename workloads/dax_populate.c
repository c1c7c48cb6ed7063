// SPDX-License-Identifier: GPL-2.0
/*
 * dax-populate: making a DAX mapping present, and whether the kernel did it
 * with pmd (2 MiB) or pte (4 KiB) entries, across the alignment matrix that
 * decides it.
 *
 * Kernel paths: mmap(MAP_POPULATE) / mlock / MAP_LOCKED -> __mm_populate ->
 * populate_vma_page_range -> __get_user_pages -> follow_page_mask ->
 * handle_mm_fault -> create_huge_pmd -> dax_iomap_pmd_fault (fsdax) or
 * dev_dax_huge_fault (devdax), falling back to dax_iomap_pte_fault;
 * madvise(MADV_POPULATE_READ/WRITE) -> faultin_page_range (5.14+); first
 * touch -> the same fault handlers.
 *
 * Guards ("mm: Fix mmap MAP_POPULATE for DAX pmd mapping"):
 *  - MAP_POPULATE of a pmd-mapped DAX file oopsed in follow_trans_huge_pmd
 *    (pmd without struct page): every populate mode here walks GUP over
 *    DAX pmds;
 *  - mmap(MAP_POPULATE) at a VA 2 MiB-aligned + 2 pages hung: va_pages=2
 *    with a modest core `timeout` turns a hang into a `fail` ("hung");
 *  - a pfn info block put the data "off by 2 pages", so pmd faults fell
 *    back to pte silently: the pmd share is measured per case and compared
 *    with the expectation written in the job file.
 *
 * Whether a fault was pmd or pte is measured, not assumed, from (in this
 * order of preference) the driver's HMM snapshot (per-page pmd flag, when
 * /dev/faultline is loaded), the fs_dax tracepoints (bench/dax_trace.c:
 * dax_pmd_fault_done NOPAGE vs FALLBACK, with the fallback reason derived
 * from the event's fields the way dax_fault_check_fallback() decides it),
 * or, for devdax, the device alignment (a 2 MiB-aligned device refuses pte
 * faults).  smaps FilePmdMapped is recorded beside them (DAX pmds are not
 * counted there on most kernels: zone-device pages are skipped).
 *
 * Needs: an fsdax mount (dax_dir) or a devdax device; root and tracefs for
 * the tracepoints; optionally /dev/faultline; fio for the side-by-side run
 * (dax_fio.c).
 *
 * To use:
 *   faultline run dax-populate --backing fsdax --set mode=shared-populate \
 *       --set va_pages=0 --set expect=pmd
 *   faultline run workloads/suites/dax.job
 *   faultline describe dax-populate
 *
 * One repetition: create the file (prepare, untimed), populate it (run,
 * timed: the mmap/madvise/mlock call or the touch loop), then account the
 * faults, check the expectation and measure bandwidth through the mapping
 * (check, untimed by the core; bandwidth, dax_bw.c, uses the core's clock).
 */
#include <errno.h>
#include <limits.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "dax_populate.h"
#include "mmflags.h"
#include "sysfs.h"

#define PG_PMD_COLOUR	(SZ_2M / SZ_4K - 1)

static const char *const modes[] = {
	"shared-populate", "private-populate", "sync-populate", "read-touch",
	"write-touch", "populate-read", "populate-write", "mlock", "map-locked", NULL
};
static const char *const allocs[] = { "fallocate", "written", "sparse", NULL };
static const char *const expects[] = { "any", "pmd", "pte-fallback", "mmap-einval", NULL };
static const char *const bw_writes[] = { "none", "store", "persist", NULL };
const char *const dp_fio_engines[] = { "none", "mmap", "libpmem", "dev-dax", NULL };
const char *const dp_read_bufs[] = { "fio", "fio-aslr", "2m-aligned", NULL };

/* Fallback reasons, as dax_fault_check_fallback() and dax_iomap_pmd_fault() decide. */
enum reason { R_COLOUR, R_COW, R_VMA, R_EOF, R_BLOCKS, R_DATA_OFF, R_PFN, R_NO_ATTEMPT, R_COUNT };
static const char *const reason_names[R_COUNT] = {
	"va-pgoff-colour",	/* VA and file offset not congruent modulo 2 MiB */
	"cow-write-private",	/* write fault in a MAP_PRIVATE mapping: COW to anon ptes */
	"pmd-outside-vma",	/* the 2 MiB around the fault crosses the VMA's ends */
	"beyond-eof",		/* the 2 MiB would extend past i_size */
	"fs-blocks-unaligned",	/* FIEMAP: the 2 MiB of file is not one 2 MiB-aligned extent */
	"device-data-offset",	/* blocks aligned on the device, whose data does not start on 2 MiB physically (pfn info block + memmap not padded: "off by 2 pages"; a partition) */
	"pfn-or-entry",		/* blocks aligned, data offset aligned or unknown, still no pmd: pte entries in the file's xarray, other pfn causes */
	"no-pmd-attempt",	/* only pte faults: the kernel never tried a pmd (VMA not pmd-suitable) */
};

static const struct fl_option dp_options[] = {
	FL_OPT_SIZE_(struct dp_conf, size, "size", SZ_4K, 1ull << 40, "64M",
		     "bytes mapped and populated per repetition (also the file size beyond file_off)"),
	FL_OPT_ENUM_(struct dp_conf, mode, "mode", modes, "shared-populate",
		     "shared-populate: MAP_SHARED|MAP_POPULATE; private-populate: MAP_PRIVATE|MAP_POPULATE; "
		     "sync-populate: MAP_SHARED_VALIDATE|MAP_SYNC|MAP_POPULATE; read-touch/write-touch: "
		     "first-touch loads/stores per 4 KiB; populate-read/-write: MADV_POPULATE_READ/WRITE (5.14+); "
		     "mlock: mlock() of a MAP_SHARED mapping; map-locked: MAP_SHARED|MAP_LOCKED"),
	FL_OPT_INT_(struct dp_conf, va_pages, "va_pages", -1, 511, "0",
		    "VA = a 2 MiB boundary + this many 4 KiB pages (0 = 2 MiB aligned; 2: where mmap(MAP_POPULATE) hung); -1 = wherever mmap(NULL) puts it"),
	FL_OPT_SIZE_(struct dp_conf, file_off, "file_off", 0, 1ull << 40, "0",
		     "file (or device) offset of the mapping, a multiple of 4 KiB; 0 or 2M = aligned"),
	FL_OPT_ENUM_(struct dp_conf, alloc, "alloc", allocs, "fallocate",
		     "fsdax file blocks: fallocate (unwritten extents), written (fallocate + pwrite of every byte), sparse (holes only)"),
	FL_OPT_ENUM_(struct dp_conf, expect, "expect", expects, "any",
		     "expected outcome, a mismatch fails the case: pmd (share >= 100 - expect_tol), pte-fallback (share 0), mmap-einval (devdax refuses the mapping)"),
	FL_OPT_DOUBLE_(struct dp_conf, expect_pmd_share, "expect_pmd_share", -1, 100, "-1",
		       "expected pmd share in percent (+- expect_tol); -1 = not checked"),
	FL_OPT_DOUBLE_(struct dp_conf, expect_tol, "expect_tol", 0, 100, "1",
		       "tolerance of expect_pmd_share and expect=pmd, percentage points"),
	FL_OPT_STR_(struct dp_conf, expect_reason, "expect_reason", "",
		    "expected dominant fallback reason (va-pgoff-colour, cow-write-private, pmd-outside-vma, beyond-eof, fs-blocks-unaligned, device-data-offset, pfn-or-entry, no-pmd-attempt); \"\" = not checked"),
	FL_OPT_BOOL_(struct dp_conf, trace, "trace", "yes",
		     "count faults with the fs_dax tracepoints (root, tracefs); adds the tracing cost to each fault"),
	FL_OPT_INT_(struct dp_conf, bw_passes, "bw_passes", 0, 1000, "2",
		    "read/write passes over the mapping after populating (0 = no bandwidth figures)"),
	FL_OPT_ENUM_(struct dp_conf, bw_write, "bw_write", bw_writes, "store",
		     "write pass: plain stores (memcpy), persist (libpmem pmem_memcpy_persist), or none; read-only and private mappings skip it"),
	FL_OPT_ENUM_(struct dp_conf, fio, "fio", dp_fio_engines, "none",
		     "after the repetitions, run fio with this ioengine (read, bs) on a file/device populated the same way and record its figures beside ours"),
	FL_OPT_INT_(struct dp_conf, fio_loops, "fio_loops", 1, 1000, "4",
		    "fio --loops, and our read passes over the same file for the side-by-side ratio"),
	FL_OPT_INT_(struct dp_conf, fio_rounds, "fio_rounds", 1, 100, "3",
		    "rounds of (our read passes, one fio run) in turn; each round is one sample"),
	FL_OPT_STR_(struct dp_conf, fio_args, "fio_args", "--thread",
		    "further fio arguments, space-separated (at most 8), e.g. --cpus_allowed=0 or --gtod_reduce=1"),
	FL_OPT_INT_(struct dp_conf, fio_cpu, "fio_cpu", -1, 1023, "-1",
		    "bind our read passes and the whole fio process (all its threads) to this CPU; -1 = where the scheduler puts them"),
	FL_OPT_SIZE_(struct dp_conf, bs, "bs", SZ_4K, 1ull << 30, "2M",
		     "copy unit of the bandwidth passes and fio's bs"),
	FL_OPT_ENUM_(struct dp_conf, read_buf, "read_buf", dp_read_bufs, "fio",
		     "buffer the bandwidth passes copy into/out of: fio = placed like fio's io buffer (malloc(bs): "
		     "an anonymous mapping of its own, data 16 bytes in; a fresh one per read measurement, first "
		     "touched by the copy); fio-aslr = the same at a random 4 KiB colour within 2 MiB each time, as "
		     "ASLR moves fio's buffer every run; 2m-aligned = 2 MiB-aligned and pre-touched (under qemu TCG with "
		     "glibc < 2.33 its pages collide with the source's in the emulated TLB: 10x slower reads)"),
	FL_OPT_END
};


enum { LAT_PMD, LAT_PTE, LAT_TOUCH, LAT_CALL };

/* Fault accounting of one repetition, from the fs_dax tracepoints. */
struct fault_count {
	uint64_t pmd_nopage, pmd_fallback, pmd_other, pte;
	uint64_t reasons[R_COUNT];
	uint64_t start_ts[2][256];	/* [pmd/pte][cpu]: last *_fault event */
	uintptr_t lo, hi;		/* our mapping */
	struct fl_worker *w;
	/* FIEMAP: per 2 MiB file chunk from chunk_base, on one 2 MiB-aligned extent? */
	const uint8_t *chunk_ok;
	uint64_t chunk_base;
	size_t nchunks;
	int64_t data_misalign;	/* fsdax device data start mod 2 MiB, -1 unknown */
};

static bool is_populate_mode(int m)
{
	return m == M_SHARED_POPULATE || m == M_PRIVATE_POPULATE || m == M_SYNC_POPULATE ||
	       m == M_MAP_LOCKED;
}

static size_t dp_footprint(const struct fl_case *c)
{
	const struct dp_conf *cf = c->config;

	return cf->size + cf->file_off;
}

static const char *dax_target(const struct fl_case *c, char *out, size_t n)
{
	if (c->backing == FL_BACKING_DEVDAX) {
		if (c->bconf->devdax[0])
			snprintf(out, n, "%s", c->bconf->devdax);
		else if (fl_find_devdax(out, n))
			return "no devdax device";
		return NULL;
	}
	if (c->bconf->dax_dir[0])
		snprintf(out, n, "%s", c->bconf->dax_dir);
	else if (fl_find_dax_mount(out, n))
		return "no dax mount";
	return NULL;
}

static size_t devdax_align(const char *dev)
{
	struct stat st;
	char path[128];
	long long a;

	if (stat(dev, &st))
		return 0;
	snprintf(path, sizeof(path), "/sys/dev/char/%u:%u/align", major(st.st_rdev), minor(st.st_rdev));
	if (fl_sysfs_read_ll(path, &a))
		return 0;
	return (size_t)a;
}

/*
 * Where the fsdax filesystem's data starts physically, modulo 2 MiB (pfn
 * devices put pmd-mapped data "off by 2 pages" when their metadata was
 * not padded to 2 MiB).  The filesystem aligns its blocks to the block device
 * (FIEMAP sees them aligned); a pmd needs the pfn aligned.  A pfn device
 * puts its data after the info block (8 KiB) and, with -M dev, the memmap,
 * rounded up to the namespace's align only (ndctl create-namespace -a 4K
 * leaves it 2 pages off); a partition adds its start.  sysfs: the mount's
 * /sys/dev/block/M:m (a partition has `start`, in sectors), its disk's
 * `device` (pfnX.Y, or namespaceX.Y for a raw or e820 namespace) and that
 * device's `resource`, the physical address of the data (root only).
 * Returns the misalignment in bytes with @desc saying where it came from,
 * or -1 when it cannot be read (@desc says why).
 */
static int64_t data_offset(const char *dir, char *desc, size_t n)
{
	char real[PATH_MAX], path[PATH_MAX + 64], dev[PATH_MAX], val[64];
	unsigned long long res, data;
	long long start = 0;
	struct stat st;
	bool part;

	if (stat(dir, &st))
		return snprintf(desc, n, "stat %.200s: %s", dir, strerror(errno)), -1;
	snprintf(path, sizeof(path), "/sys/dev/block/%u:%u", major(st.st_dev), minor(st.st_dev));
	if (!realpath(path, real))
		return snprintf(desc, n, "%.200s: %s", path, strerror(errno)), -1;
	snprintf(path, sizeof(path), "%s/partition", real);
	part = !access(path, F_OK);
	if (part) {
		snprintf(path, sizeof(path), "%s/start", real);
		if (fl_sysfs_read_ll(path, &start))
			return snprintf(desc, n, "cannot read %.200s", path), -1;
		*strrchr(real, '/') = '\0';
	}
	snprintf(path, sizeof(path), "%s/device", real);
	if (!realpath(path, dev))
		return snprintf(desc, n, "%.200s: no device (not a pmem disk)", real), -1;
	snprintf(path, sizeof(path), "%s/resource", dev);
	if (fl_sysfs_read(path, val, sizeof(val)))
		return snprintf(desc, n, "cannot read %.200s (root only)", path), -1;
	res = strtoull(val, NULL, 0);
	data = res + (unsigned long long)start * 512;
	snprintf(desc, n, "%.40s data at %#llx = 2 MiB + %llu KiB (%.40s resource %#llx + partition start %lld sectors)",
		 strrchr(real, '/') + 1, data, (data & (SZ_2M - 1)) >> 10, strrchr(dev, '/') + 1, res, start);
	return (int64_t)(data & (SZ_2M - 1));
}

static const char *dp_supported(struct fl_case *c)
{
	const struct dp_conf *cf = c->config;
	static char buf[512];
	const char *why;

	/* The missing PMEM is the first thing to say, before any option detail. */
	why = fl_backings[c->backing].available(c->bconf, dp_footprint(c), buf, sizeof(buf));
	if (why)
		return why;
	if (c->nr_workers != 1)
		return "dax-populate runs one worker (fault accounting is per case): set threads=1";
	if (cf->file_off % SZ_4K)
		return "file_off must be a multiple of 4 KiB (mmap offsets are page units)";
	if (c->backing == FL_BACKING_DEVDAX && cf->alloc != A_FALLOCATE)
		return "alloc=written/sparse applies to fsdax files; a devdax device has no holes";
	if (cf->mode == M_SYNC_POPULATE && c->backing == FL_BACKING_DEVDAX)
		return "sync-populate (MAP_SYNC) is for fsdax files; devdax needs no metadata sync";
	if (cf->mode == M_POPULATE_READ || cf->mode == M_POPULATE_WRITE) {
		void *p = mmap(NULL, SZ_4K, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		int ret = p == MAP_FAILED ? -1 : madvise(p, SZ_4K, MADV_POPULATE_READ);

		if (p != MAP_FAILED)
			munmap(p, SZ_4K);
		if (ret)
			return "kernel lacks MADV_POPULATE_READ/WRITE (added in 5.14)";
	}
	why = dp_fio_supported(c);
	if (why)
		return why;
	if (cf->expect == E_MMAP_EINVAL && c->backing != FL_BACKING_DEVDAX)
		return "expect=mmap-einval describes devdax (fsdax maps any page-aligned VA)";
	return NULL;
}

/* ------------------------------------------------------------ fault accounting */

static bool chunk_aligned(const struct fault_count *fc, uint64_t off)
{
	size_t i;

	if (!fc->chunk_ok || off < fc->chunk_base)
		return true;	/* unknown: do not blame the blocks */
	i = (size_t)((off - fc->chunk_base) / SZ_2M);
	return i >= fc->nchunks || fc->chunk_ok[i];
}

static enum reason fallback_reason(const struct fault_count *fc, const struct fl_dax_fault *f)
{
	uint64_t pmd_addr = f->address & ~(uint64_t)(SZ_2M - 1);

	if ((f->pgoff & PG_PMD_COLOUR) != ((f->address / SZ_4K) & PG_PMD_COLOUR))
		return R_COLOUR;
	if ((f->flags & FL_FAULT_FLAG_WRITE) && !(f->vm_flags & FL_VM_SHARED))
		return R_COW;
	if (pmd_addr < f->vm_start || pmd_addr + SZ_2M > f->vm_end)
		return R_VMA;
	if ((f->pgoff | PG_PMD_COLOUR) >= f->max_pgoff)
		return R_EOF;
	if (!chunk_aligned(fc, (f->pgoff & ~(uint64_t)PG_PMD_COLOUR) * SZ_4K))
		return R_BLOCKS;
	return fc->data_misalign > 0 ? R_DATA_OFF : R_PFN;
}

/* One fs_dax event: pairs *_fault with *_done per CPU for the fault's kernel time. */
static void count_fault(const struct fl_dax_fault *f, void *ctx)
{
	struct fault_count *fc = ctx;
	uint64_t *start = &fc->start_ts[!f->pmd][f->cpu & 255];

	if (f->address < fc->lo || f->address >= fc->hi)
		return;
	if (!f->done) {
		*start = f->ts;
		return;
	}
	if (fc->w && *start && f->ts >= *start)
		fl_lat_record(fc->w, f->pmd ? LAT_PMD : LAT_PTE, f->ts - *start);
	*start = 0;
	if (!f->pmd) {
		fc->pte++;
	} else if (f->result & FL_VM_FAULT_FALLBACK) {
		fc->pmd_fallback++;
		fc->reasons[fallback_reason(fc, f)]++;
	} else if (f->result & FL_VM_FAULT_NOPAGE) {
		fc->pmd_nopage++;
	} else {
		fc->pmd_other++;
	}
}

/* ------------------------------------------------------------ setup, populate */

static int dp_setup(struct fl_case *c)
{
	struct dp_conf *cf = c->config;
	struct dp_case *dc = calloc(1, sizeof(*dc));
	char why[320], tgt[256];

	if (!dc)
		return -ENOMEM;
	c->priv = dc;
	dc->m.fd = -1;
	/* The mapping is whole 4 KiB pages: the record gives the size that runs. */
	fl_map_size_as_run(c, &cf->size, FL_MAP_EXACT);
	if (dp_xbuf_get(&dc->bounce, cf->bs, cf->read_buf, false, true))
		return -ENOMEM;
	if (c->backing == FL_BACKING_FSDAX && cf->trace)
		dc->trace = fl_dax_trace_open(dc->trace_why, sizeof(dc->trace_why));
	if (c->backing == FL_BACKING_FSDAX)
		fl_case_detail(c, "trace", dc->trace ? "fs_dax:dax_pmd_fault{,_done}, dax_pte_fault{,_done}" :
			       dc->trace_why[0] || !fl_dax_trace_attached() ? dc->trace_why :
			       "off; the fs_dax events an earlier case of this run enabled stay attached, recording off");
	if (!fl_driver_supported(FL_FEAT_SNAPSHOT_ORDER) && !fl_driver_open(&dc->drv, why, sizeof(why)))
		dc->drv_open = true;
	dc->data_misalign = -1;
	if (c->backing == FL_BACKING_FSDAX && !dax_target(c, tgt, sizeof(tgt))) {
		dc->data_misalign = data_offset(tgt, why, sizeof(why));
		fl_case_detail(c, "data_offset", why);
	}
	if (c->backing == FL_BACKING_DEVDAX && !dax_target(c, tgt, sizeof(tgt))) {
		dc->devdax_align = devdax_align(tgt);
		snprintf(why, sizeof(why), "%s align %zu", tgt, dc->devdax_align);
		fl_case_detail(c, "devdax", why);
	}
	if (!dc->trace && !dc->drv_open &&
	    !(c->backing == FL_BACKING_DEVDAX && dc->devdax_align >= SZ_2M))
		return fl_case_skip(c, "cannot tell pmd from pte faults: needs root with tracefs and fs_dax events (%s) or /dev/faultline (drivers/faultline.ko)",
				    dc->trace_why[0] ? dc->trace_why : "trace=no");
	return 0;
}

int dp_open(struct fl_case *c, struct dp_case *dc, unsigned flags, bool written)
{
	static const enum fl_alloc alloc[] = {
		[A_FALLOCATE] = FL_ALLOC_DEFAULT, [A_WRITTEN] = FL_ALLOC_WRITTEN, [A_SPARSE] = FL_ALLOC_SPARSE,
	};
	const struct dp_conf *cf = c->config;
	struct fl_map_layout lay = {
		.va_off = cf->va_pages > 0 ? (size_t)cf->va_pages * SZ_4K : 0,
		.file_off = cf->file_off,
		.alloc = written ? FL_ALLOC_WRITTEN : alloc[cf->alloc],
		.fill = dc->bounce.p,
		.fill_len = cf->bs,
	};
	char why[640];
	int ret;

	if (cf->va_pages < 0)
		flags |= FL_MAP_VA_ANY;
	ret = fl_map_open(c->bconf, c->backing, cf->size, flags | FL_MAP_EXACT, &lay, &dc->m, why, sizeof(why));
	if (!ret)
		return 0;
	return ret == -ENODEV || ret == -ENOSPC ? fl_case_skip(c, "%s", why) : fl_case_error(c, "%s", why);
}

static unsigned map_flags(int mode)
{
	switch (mode) {
	case M_SHARED_POPULATE: return FL_MAP_POPULATE;
	case M_PRIVATE_POPULATE: return FL_MAP_PRIVATE | FL_MAP_POPULATE;
	case M_SYNC_POPULATE: return FL_MAP_SYNC | FL_MAP_POPULATE;
	case M_MAP_LOCKED: return FL_MAP_LOCKED;
	default: return 0;
	}
}

static int do_mmap(struct dp_case *dc)
{
	dc->mmap_errno = -fl_map_mmap(&dc->m);
	return dc->mmap_errno ? -1 : 0;
}

static int dp_prepare(struct fl_worker *w)
{
	struct fl_case *c = w->c;
	const struct dp_conf *cf = c->config;
	struct dp_case *dc = c->priv;
	int ret;

	w->priv = dc;
	dc->mmap_errno = 0;
	ret = dp_open(c, dc, map_flags(cf->mode), false);
	if (ret)
		return ret;
	if (!is_populate_mode(cf->mode) && do_mmap(dc))
		return cf->expect == E_MMAP_EINVAL && dc->mmap_errno == EINVAL ? 0 :
			fl_case_fail(c, "mmap %zu bytes of %s at VA +%" PRId64 " pages, offset %" PRIu64 ": %s",
				     dc->m.len, dc->m.path, cf->va_pages, cf->file_off, strerror(dc->mmap_errno));
	/* Only this repetition's faults count. */
	if (dc->trace)
		fl_dax_trace_clear(dc->trace);
	return 0;
}

static void touch(struct fl_worker *w, volatile char *p, size_t len, bool write)
{
	for (size_t off = 0; off < len; off += SZ_4K) {
		fl_lat_begin(w);
		if (write)
			p[off] = 1;
		else
			(void)p[off];
		fl_lat_end(w, LAT_TOUCH);
	}
}

static int dp_run(struct fl_worker *w, struct fl_work *done)
{
	struct fl_case *c = w->c;
	const struct dp_conf *cf = c->config;
	struct dp_case *dc = w->priv;
	struct fl_mapping *m = &dc->m;
	uint64_t t0 = fl_now_ns();
	int ret = 0;

	fl_lat_begin(w);
	switch (cf->mode) {
	case M_SHARED_POPULATE:
	case M_PRIVATE_POPULATE:
	case M_SYNC_POPULATE:
	case M_MAP_LOCKED:
		ret = do_mmap(dc);
		break;
	case M_POPULATE_READ:
	case M_POPULATE_WRITE:
		if (m->addr && madvise(m->addr, m->len, cf->mode == M_POPULATE_READ ?
				       MADV_POPULATE_READ : MADV_POPULATE_WRITE))
			return fl_case_fail(c, "madvise(MADV_POPULATE_%s) of %zu bytes: %s",
					    cf->mode == M_POPULATE_READ ? "READ" : "WRITE", m->len, strerror(errno));
		break;
	case M_MLOCK:
		if (m->addr && mlock(m->addr, m->len))
			return errno == ENOMEM || errno == EPERM ?
				fl_case_skip(c, "mlock %zu bytes: %s (RLIMIT_MEMLOCK; run as root)", m->len, strerror(errno)) :
				fl_case_fail(c, "mlock %zu bytes: %s", m->len, strerror(errno));
		break;
	default:
		if (m->addr)
			touch(w, m->addr, m->len, cf->mode == M_WRITE_TOUCH);
		break;
	}
	if (cf->mode != M_READ_TOUCH && cf->mode != M_WRITE_TOUCH)
		fl_lat_end(w, LAT_CALL);
	dc->call_ns = fl_now_ns() - t0;
	if (ret && !(cf->expect == E_MMAP_EINVAL && dc->mmap_errno == EINVAL))
		return fl_case_fail(c, "mmap(%s) %zu bytes of %s at VA +%" PRId64 " pages, offset %" PRIu64 ": %s",
				    modes[cf->mode], m->len, m->path, cf->va_pages, cf->file_off,
				    strerror(dc->mmap_errno));
	done->ops = m->len / SZ_4K;
	done->bytes = m->len;
	return 0;
}

/* ------------------------------------------------------------ check */

struct pmd_measure {
	double share;		/* percent, -1 = unknown */
	const char *source;
	double trace_share, snap_share;
	uint64_t smaps_pmd_kb;
};

static void measure_pmd(struct fl_worker *w, struct dp_case *dc, struct fault_count *fc,
			struct pmd_measure *pm)
{
	struct fl_case *c = w->c;
	struct fl_range_stat st;
	struct fl_snapshot snap;
	uint64_t pages = dc->m.len / SZ_4K;

	pm->share = pm->trace_share = pm->snap_share = -1;
	pm->source = "none";
	if (dc->trace) {
		uint64_t pmd_pages = fc->pmd_nopage * (SZ_2M / SZ_4K);

		pm->trace_share = 100.0 * (double)(pmd_pages < pages ? pmd_pages : pages) / (double)pages;
		pm->share = pm->trace_share;
		pm->source = "tracepoint";
	}
	if (c->backing == FL_BACKING_DEVDAX && dc->devdax_align >= SZ_2M) {
		/* dev_dax pte faults return SIGBUS when align > 4K: a present page is pmd mapped. */
		pm->share = 100;
		pm->source = "devdax-align";
	}
	if (dc->drv_open && !fl_drv_snapshot(&dc->drv, dc->m.addr, dc->m.len, 0, NULL, &snap) &&
	    snap.counts[0]) {
		pm->snap_share = 100.0 * (double)snap.counts[2] / (double)pages;
		pm->share = pm->snap_share;
		pm->source = "driver-snapshot";
	}
	pm->smaps_pmd_kb = fl_range_stat(dc->m.addr, dc->m.len, &st) ? 0 : st.file_pmd_kb;
}

static enum reason dominant_reason(const struct fault_count *fc)
{
	enum reason best = R_COUNT;

	for (int r = 0; r < R_COUNT; r++)
		if (fc->reasons[r] && (best == R_COUNT || fc->reasons[r] > fc->reasons[best]))
			best = r;
	return best;
}

static int check_expect(struct fl_case *c, const struct pmd_measure *pm, const struct fault_count *fc,
			enum reason dom)
{
	const struct dp_conf *cf = c->config;

	/*
	 * The aligned case presupposes 2 MiB-aligned blocks; ext4 does not
	 * guarantee them (xfs -d su=2m does).  Blocks the filesystem placed
	 * unaligned make this repetition not the case asked for.
	 */
	double want = cf->expect == E_PMD ? 100 : cf->expect_pmd_share;

	if (want >= 0 && pm->share < want - cf->expect_tol && fc->reasons[R_BLOCKS] &&
	    fc->reasons[R_BLOCKS] + fc->reasons[R_VMA] + fc->reasons[R_EOF] == fc->pmd_fallback)
		return fl_case_skip(c, "the filesystem placed %" PRIu64 " 2 MiB chunks on blocks that are not one 2 MiB-aligned extent (FIEMAP): not the aligned case; pmd share %.2f%%, expected %.2f%% (xfs -d su=2m,sw=1 aligns them)",
				    fc->reasons[R_BLOCKS], pm->share, want);
	if (cf->expect == E_PMD && pm->share < 100 - cf->expect_tol)
		return fl_case_fail(c, "expected pmd mappings (share >= %.1f%%), measured pmd share %.2f%% (%s; pmd NOPAGE %" PRIu64 ", FALLBACK %" PRIu64 ", pte %" PRIu64 ", main fallback reason %s)",
				    100 - cf->expect_tol, pm->share, pm->source, fc->pmd_nopage, fc->pmd_fallback,
				    fc->pte, dom < R_COUNT ? reason_names[dom] : "none");
	if (cf->expect == E_PTE_FALLBACK && pm->share != 0)
		return fl_case_fail(c, "expected pte fallback (pmd share 0%%), measured pmd share %.2f%% (%s; pmd NOPAGE %" PRIu64 ")",
				    pm->share, pm->source, fc->pmd_nopage);
	if (cf->expect_pmd_share >= 0 &&
	    (pm->share < cf->expect_pmd_share - cf->expect_tol || pm->share > cf->expect_pmd_share + cf->expect_tol))
		return fl_case_fail(c, "expected pmd share %.1f%% +- %.1f, measured %.2f%% (%s)",
				    cf->expect_pmd_share, cf->expect_tol, pm->share, pm->source);
	if (cf->expect_reason[0] && strcmp(cf->expect_reason, dom < R_COUNT ? reason_names[dom] : "none"))
		return fl_case_fail(c, "expected fallback reason %s, measured %s (trace: %s)", cf->expect_reason,
				    dom < R_COUNT ? reason_names[dom] : "none",
				    c->backing == FL_BACKING_FSDAX ? "fs_dax events" : "n/a on devdax");
	return 0;
}

/*
 * The mapping must show the file/device at file_off: markers stored
 * through it at a few offsets have to appear at file_off + offset when
 * read another way (pread for fsdax; a second, 2 MiB-aligned mapping from
 * offset 0 for devdax, which has no read(2)).  Guards pmd mappings built
 * from a pfn that is not 2 MiB aligned (a device offset the VA check let
 * through, the pfn info block "off by 2 pages"): the pmd would map the
 * aligned-down memory.  Returns NULL, or what is wrong.
 */
static const char *check_offsets(struct fl_case *c, struct dp_case *dc, char *buf, size_t n)
{
	const struct dp_conf *cf = c->config;
	const size_t offs[] = { 0, SZ_4K, dc->m.len / 2, dc->m.len - 8 };
	const size_t nr = sizeof(offs) / sizeof(offs[0]);
	size_t rlen = (cf->file_off + dc->m.len + SZ_2M - 1) & ~(SZ_2M - 1);
	uint64_t marks[4];
	char *ref = NULL;
	const char *ret = NULL;

	for (size_t i = 0; i < nr; i++) {
		marks[i] = 0xfa17f00d00000000ull ^ fl_now_ns() ^ ((uint64_t)i << 56);
		memcpy(dc->m.addr + offs[i], &marks[i], 8);
	}
	if (c->backing == FL_BACKING_DEVDAX) {
		ref = mmap(NULL, rlen, PROT_READ, MAP_SHARED, dc->m.fd, 0);
		if (ref == MAP_FAILED)
			return NULL;	/* an odd device size: nothing to compare with */
	}
	for (size_t i = 0; i < nr && !ret; i++) {
		uint64_t v = 0;
		off_t at = (off_t)(cf->file_off + offs[i]);

		if (ref)
			memcpy(&v, ref + at, 8);
		else if (pread(dc->m.fd, &v, 8, at) != 8)
			continue;
		if (v == marks[i])
			continue;
		snprintf(buf, n, "a store at mapping offset %zu is not at %s offset %jd", offs[i],
			 ref ? "device" : "file", (intmax_t)at);
		/* Where did it go?  Look a 2 MiB either way (devdax). */
		for (size_t o = 0; ref && o + 8 <= rlen; o += 8) {
			if (!memcmp(ref + o, &marks[i], 8)) {
				snprintf(buf, n, "a store at mapping offset %zu (device offset %jd) landed at device offset %zu: the mapping is off by %jd bytes",
					 offs[i], (intmax_t)at, o, (intmax_t)o - (intmax_t)at);
				break;
			}
		}
		ret = buf;
	}
	if (ref)
		munmap(ref, rlen);
	return ret;
}

/* What the fault accounting found, in the record. */
static void record_pmd(struct fl_case *c, const struct dp_case *dc, const struct fault_count *fc,
		       const struct pmd_measure *pm, enum reason dom)
{
	const struct dp_conf *cf = c->config;
	char buf[512];
	size_t off = 0;

	fl_metric(c, "pmd_share", "%", FL_INFORMATIONAL, pm->share);
	fl_metric(c, "populate_ms_per_GiB", "ms/GiB", FL_LOWER_IS_BETTER,
		  (double)dc->call_ns / 1e6 * (double)(1ull << 30) / (double)dc->m.len);
	if (dc->trace) {
		fl_metric(c, "pmd_faults", "faults", FL_INFORMATIONAL, (double)fc->pmd_nopage);
		fl_metric(c, "pmd_fallbacks", "faults", FL_INFORMATIONAL, (double)fc->pmd_fallback);
		fl_metric(c, "pte_faults", "faults", FL_INFORMATIONAL, (double)fc->pte);
		for (int r = 0; r < R_COUNT; r++)
			if (fc->reasons[r])
				off += (size_t)snprintf(buf + off, sizeof(buf) - off, "%s%s=%" PRIu64,
							off ? "," : "", reason_names[r], fc->reasons[r]);
		fl_case_detail(c, "fallback_reasons", off ? buf : "none");
		fl_case_detail(c, "fallback_main", dom < R_COUNT ? reason_names[dom] : "none");
	}
	fl_case_detail(c, "pmd_share.source", pm->source);
	if (pm->trace_share >= 0) {
		snprintf(buf, sizeof(buf), "%.2f", pm->trace_share);
		fl_case_detail(c, "pmd_share.tracepoint", buf);
	}
	if (pm->snap_share >= 0) {
		snprintf(buf, sizeof(buf), "%.2f", pm->snap_share);
		fl_case_detail(c, "pmd_share.driver_snapshot", buf);
	}
	snprintf(buf, sizeof(buf), "%" PRIu64 " kB of %zu kB", pm->smaps_pmd_kb, dc->m.len >> 10);
	fl_case_detail(c, "smaps.FilePmdMapped", buf);
	snprintf(buf, sizeof(buf), "%p (2 MiB + %" PRIuPTR " pages), file offset %" PRIu64,
		 dc->m.addr, ((uintptr_t)dc->m.addr & (SZ_2M - 1)) / SZ_4K, cf->file_off);
	fl_case_detail(c, "mapping", buf);
}

/* Where the filesystem put the blocks, to tell fs alignment from pfn causes. */
static uint8_t *note_extents(struct fl_case *c, const struct dp_case *dc, struct fault_count *fc)
{
	uint8_t *chunk_ok = NULL;
	long n = fl_map_extents(&dc->m, &fc->chunk_base, &chunk_ok);
	size_t good = 0;
	char buf[128];

	if (n < 0)
		return NULL;
	fc->chunk_ok = chunk_ok;
	fc->nchunks = (size_t)n;
	for (long i = 0; i < n; i++)
		good += chunk_ok[i];
	snprintf(buf, sizeof(buf), "%zu of %ld 2 MiB file chunks on one 2 MiB-aligned extent", good, n);
	fl_case_detail(c, "fiemap", buf);
	return chunk_ok;
}

static int dp_check(struct fl_worker *w)
{
	struct fl_case *c = w->c;
	const struct dp_conf *cf = c->config;
	struct dp_case *dc = w->priv;
	struct fl_mapping *m = &dc->m;
	struct fault_count fc = { .lo = (uintptr_t)m->addr, .hi = (uintptr_t)m->addr + m->len, .w = w,
				  .data_misalign = dc->data_misalign };
	struct pmd_measure pm;
	struct fl_range_stat st;
	uint8_t *chunk_ok = NULL;
	enum reason dom;
	char buf[512];
	int ret = 0;

	if (!m->addr) {
		if (cf->expect == E_MMAP_EINVAL && dc->mmap_errno == EINVAL) {
			fl_case_detail(c, "behaviour.mmap", "EINVAL");
			goto out;
		}
		ret = fl_case_error(c, "nothing mapped");
		goto out;
	}
	fl_case_detail(c, "behaviour.mmap", "ok");
	if (cf->expect == E_MMAP_EINVAL) {
		ret = fl_case_fail(c, "expected mmap to fail with EINVAL (devdax align %zu, VA +%" PRId64 " pages, offset %" PRIu64 "), it succeeded",
				   dc->devdax_align, cf->va_pages, cf->file_off);
		goto out;
	}
	if (c->backing == FL_BACKING_FSDAX)
		chunk_ok = note_extents(c, dc, &fc);
	if (dc->trace)
		fl_dax_trace_read(dc->trace, count_fault, &fc);
	measure_pmd(w, dc, &fc, &pm);
	if (fc.pmd_nopage + fc.pmd_fallback + fc.pmd_other == 0 && fc.pte)
		fc.reasons[R_NO_ATTEMPT] = fc.pte;
	dom = dominant_reason(&fc);

	if (!fl_range_stat(m->addr, m->len, &st) && st.present_pages < m->len / SZ_4K) {
		snprintf(buf, sizeof(buf), "%" PRIu64 " of %zu pages present", st.present_pages, m->len / SZ_4K);
		fl_case_detail(c, "behaviour.populate", buf);
		/* expect=any records what an odd case (e.g. devdax at a 4 KiB offset) gave. */
		if (cf->expect != E_ANY)
			ret = fl_case_fail(c, "only %" PRIu64 " of %zu pages present after %s", st.present_pages,
					   m->len / SZ_4K, modes[cf->mode]);
		goto out;
	}
	record_pmd(c, dc, &fc, &pm, dom);
	ret = check_expect(c, &pm, &fc, dom);
	if (cf->mode != M_PRIVATE_POPULATE) {
		const char *bad = check_offsets(c, dc, buf, sizeof(buf));

		fl_case_detail(c, "behaviour.offset_integrity", bad ? "wrong" : "ok");
		if (bad) {
			ret = fl_case_fail(c, "%s (pmd share %.2f%%, %s)", bad, pm.share, pm.source);
			goto out;
		}
	}
	if (cf->bw_passes && dp_bandwidth(c, dc))
		ret = -1;
out:
	free(chunk_ok);
	fl_unmap(m);
	return ret;
}

static void dp_teardown(struct fl_case *c)
{
	struct dp_case *dc = c->priv;
	const struct dp_conf *cf = c->config;

	if (!dc)
		return;
	fl_unmap(&dc->m);
	if (cf->fio != F_NONE && c->status == FL_PASS)
		dp_fio_side_by_side(c, dc);
	fl_dax_trace_close(dc->trace);
	if (dc->drv_open)
		fl_driver_close(&dc->drv);
	dp_xbuf_put(&dc->bounce);
	free(dc);
	c->priv = NULL;
}

/* Faults per page populated: a pmd mapping takes one per 2 MiB. */
static const struct fl_evidence dax_populate_evidence[] = {
	{ FL_VS_pgfault, FL_PER_OP, 0, false, 0, 0 },
	{ .per = FL_PER_END }
};

const struct workload wl_dax_populate = {
	.name = "dax-populate",
	.headline = "populate_ms_per_GiB",
	.headline_dir = FL_LOWER_IS_BETTER,
	.evidence = dax_populate_evidence,
	.summary = "populating fsdax/devdax mappings: pmd vs pte per alignment case, populate cost, fallback reasons, bandwidth, fio beside",
	.kernel_paths = "__mm_populate -> __get_user_pages -> follow_page_mask (follow_devmap_pmd); "
			"handle_mm_fault -> create_huge_pmd -> dax_iomap_pmd_fault / dev_dax_huge_fault, "
			"dax_iomap_pte_fault; madvise_populate (5.14+); mlock -> populate_vma_page_range",
	.needs = "an fsdax mount (dax_dir) or devdax device; root + tracefs (fs_dax events) or /dev/faultline to tell pmd from pte; fio for fio=",
	.backings = FL_BACKINGS_DAX,
	.default_backings = FL_B(FL_BACKING_FSDAX),
	.mode = FL_MODE_BATCH,
	.op_unit = "page",
	.report_bytes = true,
	.lat = {
		{ "pmd_fault", "kernel time of one pmd fault (fs_dax:dax_pmd_fault -> _done timestamps)" },
		{ "pte_fault", "kernel time of one pte fault (fs_dax:dax_pte_fault -> _done timestamps)" },
		{ "touch", "read-/write-touch: first access of each 4 KiB page (a fault, or a hit inside a pmd)" },
		{ "populate_call", "the mmap(MAP_POPULATE)/madvise/mlock call" },
	},
	.options = dp_options,
	.config_size = sizeof(struct dp_conf),
	.footprint = dp_footprint,
	.supported = dp_supported,
	.setup = dp_setup,
	.prepare = dp_prepare,
	.run = dp_run,
	.check = dp_check,
	.teardown = dp_teardown,
};

FL_WORKLOAD_REGISTER(wl_dax_populate);
