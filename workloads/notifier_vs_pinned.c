// SPDX-License-Identifier: GPL-2.0
/*
 * notifier-vs-pinned: the two ways a device holds process memory, A/B on
 * the same kernel, buffer size and access pattern, under an invalidation
 * storm.  buffer=pinned holds the range with pin_user_pages_fast
 * (FOLL_WRITE|FOLL_LONGTERM), as RDMA/VFIO do; buffer=mirrored keeps an
 * HMM mirror (mmu_interval_notifier + hmm_range_fault), as GPU SVM does;
 * buffer=none lets the CPU do the same writes, the baseline for what a
 * storm operation costs with no device attached.  All through faultline.ko.
 *
 * Each batch runs `rounds` times: one storm operation on the next
 * storm_len-sized chunk of the buffer (timed: "storm" latency), then one
 * device pass writing a fresh pattern over the whole buffer ("access",
 * timed in the kernel; a mirror re-faults what the storm invalidated).
 * Afterwards (untimed) the CPU checks it sees the device's last pattern,
 * and the mirror's table is compared with a fresh CPU snapshot.
 *
 *   mirrored: any word the CPU does not see, or any stale device entry
 *             (an invalidation racing the fault that refills it: ABA), is a fail;
 *   pinned:   pages the CPU no longer sees (the storm replaced the mapping
 *             under the pin) are the semantics of pinning, reported as
 *             the informational metric incoherent_pages.
 *
 * Kernel paths: mmu_interval_notifier invalidate (munmap: unmap_vmas,
 * MADV_DONTNEED: zap_page_range, mprotect: change_protection, fork:
 * copy_page_range COW write-protect, THP split: __split_huge_pmd,
 * compaction/NUMA: migrate_pages -> try_to_migrate), hmm_range_fault,
 * mmu_interval_read_begin/retry; for pins: fork's copy of dma-pinned anon
 * pages (page_needs_cow_for_dma, 5.9+), migration skipping pinned pages.
 *
 * Needs: /dev/faultline (drivers/faultline.ko), root; storm=numa needs two
 * NUMA nodes, storm=compaction a writable /proc/sys/vm/compact_memory.
 *
 * To use:
 *   faultline run notifier-vs-pinned --set buffer=mirrored --set storm=dontneed
 *   faultline run workloads/suites/driver.job
 */
#include <errno.h>
#include <fcntl.h>
#include <numa.h>
#include <numaif.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "hold.h"

enum { BUF_NONE, BUF_PINNED, BUF_MIRRORED };
static const char *const buffers[] = { "none", "pinned", "mirrored", NULL };

enum { ST_NONE, ST_MUNMAP, ST_MPROTECT, ST_DONTNEED, ST_FORK, ST_THP_SPLIT,
       ST_COMPACTION, ST_NUMA };
static const char *const storms[] = { "none", "munmap", "mprotect", "dontneed", "fork",
				      "thp-split", "compaction", "numa", NULL };

enum { LAT_ACCESS, LAT_STORM, LAT_CALLBACK, LAT_REMIRROR };

struct nvp_conf {
	uint64_t size;
	int buffer;
	int storm;
	int64_t rounds;
	uint64_t storm_len;
};

static const struct fl_option nvp_options[] = {
	FL_OPT_SIZE_(struct nvp_conf, size, "size", 2 << 20, FL_MAX_LEN, "32M",
		     "buffer bytes per worker"),
	FL_OPT_ENUM_(struct nvp_conf, buffer, "buffer", buffers, "mirrored",
		     "pinned: pin_user_pages_fast(FOLL_WRITE|FOLL_LONGTERM); mirrored: mmu_interval_notifier + hmm_range_fault; none: the CPU writes instead (storm cost without a device)"),
	FL_OPT_ENUM_(struct nvp_conf, storm, "storm", storms, "dontneed",
		     "invalidation per round on the next storm_len chunk: munmap+mmap, mprotect RO+RW, MADV_DONTNEED, fork+exit, THP split (munmap one 4K page), compaction (whole system), numa (move_pages to the other node)"),
	FL_OPT_INT_(struct nvp_conf, rounds, "rounds", 1, 1 << 20, "8",
		    "storm operation + device pass over the buffer, per batch"),
	FL_OPT_SIZE_(struct nvp_conf, storm_len, "storm_len", 4096, FL_MAX_LEN, "2M",
		     "bytes each storm operation covers"),
	FL_OPT_END
};

struct nvp_worker {
	struct fl_hold h;	/* the driver, and with buffer=pinned the pin */
	struct fl_mapping m;
	bool mapped;
	uint32_t handle;	/* the pin's or the mirror's */
	bool have_handle;
	uint64_t seed;
	uint64_t dev_ns, dev_bytes, refaults, ebusy_retries;
	unsigned chunk;
	int node;		/* storm=numa: where the next move goes */
};

static size_t nvp_footprint(const struct fl_case *c)
{
	return ((const struct nvp_conf *)c->config)->size;
}

static const char *nvp_supported(struct fl_case *c)
{
	const struct nvp_conf *cf = c->config;

	if (cf->storm_len > cf->size)
		return "storm_len is larger than size";
	if (cf->storm == ST_THP_SPLIT && c->backing != FL_BACKING_THP)
		return "storm=thp-split needs the thp backing";
	if (cf->storm == ST_NUMA && (numa_available() < 0 || numa_num_configured_nodes() < 2))
		return "storm=numa needs 2 NUMA nodes (qemu -numa, or numa=fake=2 on the kernel command line)";
	if (cf->storm == ST_COMPACTION && access("/proc/sys/vm/compact_memory", W_OK))
		return "storm=compaction needs a writable /proc/sys/vm/compact_memory (root, CONFIG_COMPACTION)";
	if (cf->buffer == BUF_PINNED)
		return fl_driver_supported(FL_FEAT_PIN);
	if (cf->buffer == BUF_MIRRORED)
		return fl_driver_supported(FL_FEAT_MIRROR);
	return NULL;
}

static int nvp_setup(struct fl_case *c)
{
	c->priv = calloc(c->nr_workers, sizeof(struct nvp_worker));
	return c->priv ? 0 : -ENOMEM;
}

/* Pages where the CPU does not see the last pattern. */
static uint64_t cpu_mismatched_pages(struct nvp_worker *nw, uint64_t *first)
{
	uint64_t bad = 0, at;

	*first = UINT64_MAX;
	for (uint64_t off = 0; off < nw->m.len; off += 4096) {
		if (!fl_check_seed((char *)nw->m.addr + off, off, 4096, nw->seed, &at))
			continue;
		if (*first == UINT64_MAX)
			*first = at;
		bad++;
	}
	return bad;
}

static int nvp_prepare(struct fl_worker *w)
{
	const struct nvp_conf *cf = w->c->config;
	struct nvp_worker *nw = (struct nvp_worker *)w->c->priv + w->id;
	char why[256];
	bool refused;
	int ret;

	w->priv = nw;
	if (cf->buffer != BUF_NONE && fl_hold_driver(&nw->h, why, sizeof(why)))
		return fl_case_skip(w->c, "%s", why);
	ret = fl_map(w->c->bconf, w->c->backing, cf->size, 0, &nw->m, why, sizeof(why));
	if (ret)
		return ret == -ENOMEM ? fl_case_skip(w->c, "%s", why) : fl_case_error(w->c, "%s", why);
	nw->mapped = true;
	memset(nw->m.addr, 0x5a, nw->m.len);
	if (fl_verify(&nw->m, why, sizeof(why)))
		return fl_case_skip(w->c, "%s", why);
	nw->dev_ns = nw->dev_bytes = nw->refaults = nw->ebusy_retries = 0;

	switch (cf->buffer) {
	case BUF_PINNED:
		ret = fl_hold_take(&nw->h, FL_HOLD_DRIVER, nw->m.addr, nw->m.len, 0, &refused, why, sizeof(why));
		if (ret)
			return fl_case_skip(w->c, "pin_user_pages_fast(FOLL_LONGTERM) of %s refused: %s (observed behaviour)",
					    fl_backings[w->c->backing].name, strerror(-ret));
		nw->handle = nw->h.handle;
		nw->have_handle = true;
		break;
	case BUF_MIRRORED:
		ret = fl_drv_retry_busy(fl_drv_mirror_create(&nw->h.drv, nw->m.addr, nw->m.len,
							     FL_MIRROR_WRITE | FL_MIRROR_PREFAULT, &nw->handle),
					&nw->ebusy_retries);
		if (ret)
			return fl_case_error(w->c, "FL_IOC_MIRROR_CREATE: %s", strerror(-ret));
		nw->have_handle = true;
		/* Steady state: only the storm's invalidations count. */
		ret = fl_drv_mirror_stats(&nw->h.drv, nw->handle, FL_STATS_RESET,
					  &(struct fl_mirror_stats){ 0 }, NULL, NULL);
		if (ret)
			return fl_case_error(w->c, "FL_IOC_MIRROR_STATS: %s", strerror(-ret));
		break;
	}
	return 0;
}

static int remap(struct fl_worker *w, char *p, size_t len)
{
	if (mmap(p, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED,
		 -1, 0) == MAP_FAILED)
		return fl_case_error(w->c, "mmap(MAP_FIXED) after munmap: %s", strerror(errno));
	madvise(p, len, w->c->backing == FL_BACKING_THP ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
	return 0;
}

static int storm_numa(struct fl_worker *w, struct nvp_worker *nw, char *p, size_t len)
{
	size_t n = len / 4096;
	void **pages = malloc(n * sizeof(*pages));
	int *nodes = malloc(n * sizeof(*nodes)), *status = malloc(n * sizeof(*status));
	long ret = -1;

	if (pages && nodes && status) {
		nw->node = (nw->node + 1) % numa_num_configured_nodes();
		for (size_t i = 0; i < n; i++) {
			pages[i] = p + i * 4096;
			nodes[i] = nw->node;
		}
		ret = move_pages(0, n, pages, nodes, status, MPOL_MF_MOVE);
	}
	free(pages);
	free(nodes);
	free(status);
	/* Pinned pages stay where they are (-EBUSY per page): that is the result. */
	return ret < 0 ? fl_case_error(w->c, "move_pages: %s", strerror(errno)) : 0;
}

static int storm_op(struct fl_worker *w, struct nvp_worker *nw)
{
	const struct nvp_conf *cf = w->c->config;
	size_t chunks = nw->m.len / cf->storm_len;
	char *p = (char *)nw->m.addr + (nw->chunk++ % chunks) * cf->storm_len;
	size_t len = cf->storm_len;
	pid_t pid;
	int fd;

	switch (cf->storm) {
	case ST_MUNMAP:
		munmap(p, len);
		return remap(w, p, len);
	case ST_MPROTECT:
		mprotect(p, len, PROT_READ);
		mprotect(p, len, PROT_READ | PROT_WRITE);
		return 0;
	case ST_DONTNEED:
		madvise(p, len, MADV_DONTNEED);
		return 0;
	case ST_FORK:
		pid = fork();
		if (pid < 0)
			return fl_case_error(w->c, "fork: %s", strerror(errno));
		if (pid == 0)
			_exit(0);
		waitpid(pid, NULL, 0);
		return 0;
	case ST_THP_SPLIT:
		/* Unmapping one 4 KiB page splits the pmd mapping around it. */
		p += (len / 2) & ~4095ul;
		munmap(p, 4096);
		return remap(w, p, 4096);
	case ST_COMPACTION:
		fd = open("/proc/sys/vm/compact_memory", O_WRONLY);
		if (fd < 0 || write(fd, "1", 1) != 1) {
			if (fd >= 0)
				close(fd);
			return fl_case_error(w->c, "compact_memory: %s", strerror(errno));
		}
		close(fd);
		return 0;
	case ST_NUMA:
		return storm_numa(w, nw, p, len);
	default:
		return 0;
	}
}

static int nvp_run(struct fl_worker *w, struct fl_work *done)
{
	const struct nvp_conf *cf = w->c->config;
	struct nvp_worker *nw = w->priv;
	struct fl_access a;
	int ret;

	for (int64_t r = 0; r < cf->rounds; r++) {
		fl_lat_begin(w);
		ret = storm_op(w, nw);
		fl_lat_end(w, LAT_STORM);
		if (ret)
			return ret;
		nw->seed++;
		if (cf->buffer == BUF_NONE) {
			fl_lat_begin(w);
			fl_fill_seed(nw->m.addr, 0, nw->m.len, nw->seed);
			fl_lat_end(w, LAT_ACCESS);
			continue;
		}
		ret = fl_drv_retry_busy(fl_drv_access(&nw->h.drv, nw->handle, FL_ACCESS_FILL, 0, nw->m.len,
						      nw->seed, &a), &nw->ebusy_retries);
		if (ret == -EBUSY)
			return fl_case_error(w->c, "device write pass %lld after storm=%s: hmm_range_fault busy %d times in a row",
					     (long long)r, storms[cf->storm], FL_DRV_BUSY_RETRIES + 1);
		if (ret)
			return fl_case_fail(w->c, "device write pass %lld after storm=%s: %s",
					    (long long)r, storms[cf->storm], strerror(-ret));
		fl_lat_record(w, LAT_ACCESS, a.ns);
		nw->dev_ns += a.ns;
		nw->dev_bytes += a.bytes;
		nw->refaults += a.refaults;
	}
	done->ops = cf->rounds;
	done->bytes = cf->rounds * nw->m.len;
	return 0;
}

static int nvp_check_mirror(struct fl_worker *w, struct nvp_worker *nw)
{
	struct fl_mirror_stats st;
	struct fl_access a;
	uint64_t inval = 0;
	char ev[256];
	size_t o = 0;
	int ret;

	ret = fl_drv_retry_busy(fl_drv_access(&nw->h.drv, nw->handle, FL_ACCESS_CHECK_STALE, 0, nw->m.len, 0, &a),
				&nw->ebusy_retries);
	if (ret)
		return fl_case_error(w->c, "stale check: %s", strerror(-ret));
	ret = fl_drv_mirror_stats(&nw->h.drv, nw->handle, FL_STATS_RESET, &st,
				  w->lat[LAT_CALLBACK], w->lat[LAT_REMIRROR]);
	if (ret)
		return fl_case_error(w->c, "FL_IOC_MIRROR_STATS: %s", strerror(-ret));
	for (int e = 0; e < FL_EV_COUNT; e++) {
		inval += st.invalidations[e];
		if (st.invalidations[e] && o < sizeof(ev))
			o += snprintf(ev + o, sizeof(ev) - o, "%s%s=%llu", o ? " " : "",
				      fl_driver_event_name(e), (unsigned long long)st.invalidations[e]);
	}
	if (o)
		fl_case_detail(w->c, "invalidations_by_event", ev);
	fl_metric(w->c, "invalidations", "callbacks", FL_INFORMATIONAL, (double)inval);
	fl_metric(w->c, "invalidated_pages", "pages", FL_INFORMATIONAL, (double)st.invalidated_pages);
	fl_metric(w->c, "retries", "retries", FL_LOWER_IS_BETTER, (double)st.retries + (double)st.ebusy);
	fl_metric(w->c, "refault_rounds", "faults", FL_INFORMATIONAL, (double)nw->refaults);
	fl_metric(w->c, "ebusy_retries", "tries", FL_INFORMATIONAL, (double)nw->ebusy_retries);
	fl_metric(w->c, "stale", "entries", FL_LOWER_IS_BETTER, (double)st.stale);
	if (st.stale)
		return fl_case_fail(w->c, "%llu stale device entries of %llu checked (first at byte %llu): the mirror kept pages the CPU no longer maps",
				    (unsigned long long)st.stale, (unsigned long long)st.stale_checks,
				    (unsigned long long)a.first_mismatch);
	return 0;
}

static int nvp_check(struct fl_worker *w)
{
	const struct nvp_conf *cf = w->c->config;
	struct nvp_worker *nw = w->priv;
	uint64_t first, bad;
	int ret = 0;

	if (!nw->mapped)
		return 0;
	if (cf->buffer != BUF_NONE && nw->dev_ns)
		fl_metric(w->c, "device_GBps", "GB/s", FL_HIGHER_IS_BETTER,
			  (double)nw->dev_bytes / (double)nw->dev_ns);
	if (cf->buffer == BUF_MIRRORED)
		ret = nvp_check_mirror(w, nw);
	bad = cpu_mismatched_pages(nw, &first);
	if (cf->buffer == BUF_PINNED)
		fl_metric(w->c, "incoherent_pages", "pages", FL_INFORMATIONAL, (double)bad);
	else if (bad && !ret)
		ret = fl_case_fail(w->c, "the CPU does not see the last %s write on %llu pages (first at byte %llu)",
				   cf->buffer == BUF_MIRRORED ? "device" : "CPU",
				   (unsigned long long)bad, (unsigned long long)first);
	if (nw->have_handle && cf->buffer == BUF_PINNED)
		fl_hold_unpin(&nw->h, FL_UNPIN_DIRTY, NULL);
	else if (nw->have_handle)
		fl_drv_destroy(&nw->h.drv, nw->handle, 0, NULL);
	nw->have_handle = false;
	fl_unmap(&nw->m);
	nw->mapped = false;
	return ret;
}

static void nvp_teardown(struct fl_case *c)
{
	struct nvp_worker *nws = c->priv;

	for (unsigned i = 0; nws && i < c->nr_workers; i++) {
		if (nws[i].have_handle && !nws[i].h.pinned)
			fl_drv_destroy(&nws[i].h.drv, nws[i].handle, 0, NULL);
		fl_hold_close(&nws[i].h);	/* unpins */
		if (nws[i].mapped)
			fl_unmap(&nws[i].m);
	}
	free(nws);
}

const struct workload wl_notifier_vs_pinned = {
	.name = "notifier-vs-pinned",
	.headline = "ops_rate",
	.summary = "pinned vs HMM-mirrored device buffer under an invalidation storm (faultline.ko)",
	.kernel_paths = "mmu_interval_notifier invalidate (unmap_vmas, zap_page_range, change_protection, "
			"copy_page_range, __split_huge_pmd, migrate_pages), hmm_range_fault, "
			"mmu_interval_read_begin/retry; pin_user_pages_fast(FOLL_LONGTERM), fork copy of pinned pages",
	.needs = "/dev/faultline (drivers/faultline.ko), root; storm=numa: 2 NUMA nodes",
	.backings = FL_B(FL_BACKING_ANON_4K) | FL_B(FL_BACKING_THP),
	.default_backings = FL_B(FL_BACKING_ANON_4K) | FL_B(FL_BACKING_THP),
	.mode = FL_MODE_BATCH,
	.op_unit = "pass",
	.report_bytes = true,
	.lat = {
		[LAT_ACCESS] = { "access", "one device pass over the buffer (kernel ktime; CPU pass for buffer=none)" },
		[LAT_STORM] = { "storm", "one storm operation (munmap, mprotect, fork, ...), as the process sees it" },
		[LAT_CALLBACK] = { "callback", "mirror invalidate callback, table lock wait included (buffer=mirrored)" },
		[LAT_REMIRROR] = { "remirror", "hmm_range_fault + program of an invalidated range (buffer=mirrored)" },
	},
	.options = nvp_options,
	.config_size = sizeof(struct nvp_conf),
	.footprint = nvp_footprint,
	.supported = nvp_supported,
	.setup = nvp_setup,
	.prepare = nvp_prepare,
	.run = nvp_run,
	.check = nvp_check,
	.teardown = nvp_teardown,
};

FL_WORKLOAD_REGISTER(wl_notifier_vs_pinned);
