// SPDX-License-Identifier: GPL-2.0
/*
 * null: an empty workload of populate's shape, to measure what the harness
 * itself costs per page (like fio's null engine).  run() does no work but
 * accounts `size` worth of 4 KiB pages, so its ns/page is the harness
 * overhead inside the timed region.
 *
 * To use:
 *   faultline run null --repeat 100
 */
#include "workload.h"

struct null_conf {
	uint64_t size;
};

static const struct fl_option null_options[] = {
	FL_OPT_SIZE_(struct null_conf, size, "size", 4096, 1ull << 40, "256M",
		     "bytes of pages accounted per batch (no memory is touched)"),
	FL_OPT_END
};

static int null_run(struct fl_worker *w, struct fl_work *done)
{
	const struct null_conf *cf = w->c->config;

	done->ops = cf->size / 4096;
	done->bytes = cf->size;
	return 0;
}

const struct workload wl_null = {
	.name = "null",
	.headline = "ops_rate",
	.summary = "empty workload: the harness's own cost per page (calibration)",
	.kernel_paths = "none",
	.needs = "nothing",
	.backings = FL_BACKINGS_ALL,
	.default_backings = FL_B(FL_BACKING_ANON_4K),
	.mode = FL_MODE_BATCH,
	.op_unit = "page",
	.report_bytes = true,
	.options = null_options,
	.config_size = sizeof(struct null_conf),
	.run = null_run,
};

FL_WORKLOAD_REGISTER(wl_null);
