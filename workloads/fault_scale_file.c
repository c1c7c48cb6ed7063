// SPDX-License-Identifier: GPL-2.0
/*
 * fault-scale-file: write faults per second on a file mapping with 1..N
 * workers, will-it-scale page_fault2 (share=private: every write fault
 * copies the page-cache page into a private anonymous page) and page_fault3
 * (share=shared: every write fault makes a page-cache page writable and
 * dirty).  Each worker creates its own file once, unlinked, sized to the
 * mapping, then maps it, writes one byte per 4 KiB page and unmaps it, in
 * a loop; the core samples the workers' counters once per interval.
 *
 * Kernel paths: do_user_addr_fault -> handle_mm_fault -> do_fault ->
 * do_cow_fault (private) or do_shared_fault + page_mkwrite/filemap_map_pages
 * (shared); file: the page cache of file_dir's filesystem (ext4, xfs, ...);
 * shmem: a memfd (tmpfs, as will-it-scale's own /tmp is on many systems).
 *
 * To use:
 *   faultline run fault-scale-file --set share=private,shared
 *   faultline run fault-scale-file --backing shmem --threads 0 --set workers=processes
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fault_scale.h"
#include "workload.h"

enum fsf_share { FSF_PRIVATE, FSF_SHARED };

struct fsf_conf {
	uint64_t size;
	int share;
};

static const char *const fsf_shares[] = { "private", "shared", NULL };

static const struct fl_option fsf_options[] = {
	FL_OPT_SIZE_(struct fsf_conf, size, "size", 1 << 20, 1ull << 40, "128M",
		     "bytes of each worker's file, mapped, written and unmapped per batch (page_fault2/3: 128M)"),
	FL_OPT_ENUM_(struct fsf_conf, share, "share", fsf_shares, "private",
		     "private: MAP_PRIVATE, a copy-on-write fault per page (page_fault2); shared: MAP_SHARED, a page-cache write fault per page (page_fault3)"),
	FL_OPT_END
};

struct fsf_worker {
	int fd;
	struct fl_mapping m;
	bool verified;
};

static size_t fsf_footprint(const struct fl_case *c)
{
	return ((const struct fsf_conf *)c->config)->size;
}

/* The worker's file: an unlinked file in file_dir, or a memfd for shmem. */
static int fsf_open(struct fl_case *c, uint64_t size)
{
	char path[512];
	int fd;

	if (c->backing == FL_BACKING_SHMEM) {
		fd = memfd_create("faultline-fault-scale-file", MFD_CLOEXEC);
	} else {
		snprintf(path, sizeof(path), "%s/faultline-fsf.XXXXXX", c->bconf->file_dir);
		fd = mkstemp(path);
		if (fd >= 0)
			unlink(path);
	}
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)size)) {
		int e = errno;

		close(fd);
		return -e;
	}
	return fd;
}

static int fsf_setup(struct fl_case *c)
{
	const struct fsf_conf *cf = c->config;
	struct fsf_worker *ws = calloc(c->nr_workers, sizeof(*ws));

	if (!ws)
		return -ENOMEM;
	c->priv = ws;
	for (unsigned i = 0; i < c->nr_workers; i++)
		ws[i].fd = -1;
	/* Files made before the workers start: process workers inherit them, one each. */
	for (unsigned i = 0; i < c->nr_workers; i++) {
		ws[i].fd = fsf_open(c, cf->size);
		if (ws[i].fd < 0)
			return fl_case_error(c, "worker %u's file (%s): %s", i,
					     c->backing == FL_BACKING_SHMEM ? "memfd" : c->bconf->file_dir,
					     strerror(-ws[i].fd));
	}
	return 0;
}

static int fsf_prepare(struct fl_worker *w)
{
	const struct fsf_conf *cf = w->c->config;
	struct fsf_worker *fw = (struct fsf_worker *)w->c->priv + w->id;
	int flags = cf->share == FSF_SHARED ? MAP_SHARED : MAP_PRIVATE;
	void *p;

	w->priv = fw;
	p = mmap(NULL, cf->size, PROT_READ | PROT_WRITE, flags, fw->fd, 0);
	if (p == MAP_FAILED)
		return errno == ENOMEM ? fl_case_skip(w->c, "mmap %zu bytes: ENOMEM", (size_t)cf->size)
				       : fl_case_error(w->c, "mmap: %s", strerror(errno));
	/* fd -1: the file stays open for the next batch; fl_unmap only unmaps. */
	fw->m = (struct fl_mapping){ .backing = w->c->backing, .addr = p, .len = cf->size,
				     .map_addr = p, .map_len = cf->size, .fd = -1 };
	return 0;
}

static int fsf_run(struct fl_worker *w, struct fl_work *done)
{
	struct fsf_worker *fw = w->priv;

	fault_scale_touch(w, &fw->m, done);
	return 0;
}

static int fsf_check(struct fl_worker *w)
{
	struct fsf_worker *fw = w->priv;
	char why[256];
	int ret = 0;

	if (!fw->verified) {
		if (fl_verify(&fw->m, why, sizeof(why)))
			ret = fl_case_skip(w->c, "%s", why);
		fw->verified = true;
	}
	fl_unmap(&fw->m);
	return ret;
}

static void fsf_teardown(struct fl_case *c)
{
	struct fsf_worker *ws = c->priv;

	for (unsigned i = 0; ws && i < c->nr_workers; i++) {
		if (ws[i].m.map_addr)
			fl_unmap(&ws[i].m);
		if (ws[i].fd >= 0)
			close(ws[i].fd);
	}
	free(ws);
}

/*
 * Page faults per page written, recorded, not expected: where the page
 * cache holds large folios (ext4 and xfs on 6.x), finish_fault() maps a
 * whole folio on one shared write fault, so page_fault3 takes far fewer
 * faults than pages (0.002 per page on 6.18's ext4).
 */
static const struct fl_evidence fsf_evidence[] = {
	{ FL_EVIDENCE_WORKER_FAULTS, FL_PER_OP, 0, false, 0, 0 },
	{ FL_VS_pgfault, FL_PER_OP, 0, false, 0, 0 },
	{ .per = FL_PER_END }
};

const struct workload wl_fault_scale_file = {
	.name = "fault-scale-file",
	.headline = "ops_rate",
	.evidence = fsf_evidence,
	.summary = "write faults per second on file mappings with N workers (will-it-scale page_fault2/page_fault3)",
	.kernel_paths = "handle_mm_fault -> do_fault -> do_cow_fault (MAP_PRIVATE) / do_shared_fault + "
			"page_mkwrite (MAP_SHARED); filemap_fault, shmem_fault; zap_pte_range on munmap",
	.needs = "file: file_dir on a disk filesystem; shmem: memfd",
	.backings = FL_B(FL_BACKING_FILE) | FL_B(FL_BACKING_SHMEM),
	.default_backings = FL_B(FL_BACKING_FILE),
	.mode = FL_MODE_SAMPLED,
	.op_unit = "fault",
	.report_bytes = false,
	.counts_live = true,
	.allows_processes = true,
	.options = fsf_options,
	.config_size = sizeof(struct fsf_conf),
	.footprint = fsf_footprint,
	.setup = fsf_setup,
	.prepare = fsf_prepare,
	.run = fsf_run,
	.check = fsf_check,
	.teardown = fsf_teardown,
};

FL_WORKLOAD_REGISTER(wl_fault_scale_file);
