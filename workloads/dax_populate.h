/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The dax-populate workload's parts: dax_populate.c (populate, pmd
 * accounting, expectations), dax_bw.c (bandwidth passes through the
 * mapping), dax_fio.c (fio beside those passes on one file).
 */
#ifndef FL_DAX_POPULATE_H
#define FL_DAX_POPULATE_H

#include "dax_trace.h"
#include "driver.h"
#include "workload.h"

enum dp_mode {
	M_SHARED_POPULATE, M_PRIVATE_POPULATE, M_SYNC_POPULATE, M_READ_TOUCH,
	M_WRITE_TOUCH, M_POPULATE_READ, M_POPULATE_WRITE, M_MLOCK, M_MAP_LOCKED,
};
enum dp_alloc { A_FALLOCATE, A_WRITTEN, A_SPARSE };
enum dp_expect { E_ANY, E_PMD, E_PTE_FALLBACK, E_MMAP_EINVAL };
enum dp_bw_write { W_NONE, W_STORE, W_PERSIST };
enum dp_fio_engine { F_NONE, F_MMAP, F_LIBPMEM, F_DEVDAX };
enum dp_read_buf { B_FIO, B_FIO_ASLR, B_ALIGNED };

extern const char *const dp_read_bufs[];
extern const char *const dp_fio_engines[];

struct dp_conf {
	uint64_t size;
	int mode;
	int64_t va_pages;
	uint64_t file_off;
	int alloc;
	int expect;
	double expect_pmd_share;
	double expect_tol;
	char expect_reason[FL_OPT_STRLEN];
	bool trace;
	int64_t bw_passes;
	int bw_write;
	int fio;
	int64_t fio_loops;
	int64_t fio_rounds;
	uint64_t bs;
	int read_buf;
	char fio_args[FL_OPT_STRLEN];
	int64_t fio_cpu;
};

/* A copy buffer of the bandwidth passes (dp_xbuf_get). */
struct xbuf {
	char *map;
	size_t maplen;
	char *p;
};

struct dp_case {
	struct fl_dax_trace *trace;
	char trace_why[200];
	struct fl_driver drv;
	bool drv_open;
	size_t devdax_align;
	int64_t data_misalign;	/* data_offset(), -1 unknown */
	/* per repetition (one worker) */
	struct fl_mapping m;	/* m.addr NULL: not mapped (yet, or mmap failed) */
	int mmap_errno;
	uint64_t call_ns;
	struct xbuf bounce;	/* write source and file data, filled */
};

/*
 * Open (create, allocate) the case's file or device into dc->m as the
 * options say, with @flags (FL_MAP_*) beyond them, every byte written
 * if @written; sets the outcome on failure.
 */
int dp_open(struct fl_case *c, struct dp_case *dc, unsigned flags, bool written);

/* How a read measurement copies (dp_bw_read). */
struct read_pass {
	const struct fl_mapping *src;	/* the populated mapping; with remap its file */
	size_t bs;
	unsigned passes;
	int buf;		/* enum dp_read_buf */
	bool rawio;		/* the buffer of a FIO_RAWIO engine (dp_xbuf_get) */
	bool remap;		/* map the file afresh each pass, unpopulated */
	uint64_t fastest;	/* out: ns of the shortest bs copy */
	double busy;		/* out: share of the passes' time inside the copies */
	char place[64];		/* out: where the buffer sat */
};

int dp_xbuf_get(struct xbuf *b, size_t bs, int kind, bool rawio, bool fill);
void dp_xbuf_put(struct xbuf *b);
double dp_bw_read(struct read_pass *rp);
/* The read and write passes of one repetition over the populated mapping. */
int dp_bandwidth(struct fl_case *c, struct dp_case *dc);

const char *dp_fio_supported(const struct fl_case *c);
void dp_fio_side_by_side(struct fl_case *c, struct dp_case *dc);

#endif
