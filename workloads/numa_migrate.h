/* SPDX-License-Identifier: GPL-2.0 */
/*
 * numa-migrate's parts (workloads/numa_migrate.c): the case and worker
 * state they share.  numa_migrate.c moves the range and checks where it
 * went; numa_migrate_access.c owns the data pattern and the threads that
 * read, write or race the range while it moves; numa_migrate_hold.c the
 * device holding it (pin, io_uring registration, HMM mirror) and the twin
 * range of pair=.
 */
#ifndef FL_NUMA_MIGRATE_H
#define FL_NUMA_MIGRATE_H

#include <limits.h>
#include <numaif.h>
#include <stdatomic.h>
#include <stdint.h>

#include "hold.h"
#include "placement.h"
#include "workload.h"

#ifndef MPOL_MF_MOVE_ALL
#define MPOL_MF_MOVE_ALL (1 << 2)
#endif

enum { M_MOVE_PAGES, M_MOVE_PAGES_ALL, M_MBIND, M_MIGRATE_PAGES };

enum { H_NONE, H_PIN, H_URING, H_MIRROR };

enum { R_NONE, R_FORK, R_MUNMAP };

enum { G_4K, G_FOLIO };

enum { P_NONE, P_4K, P_UNHELD };

enum { LAT_MOVE, LAT_REMIRROR, LAT_CALLBACK };

struct nm_conf {
	uint64_t size;
	int method;
	int granule;
	int hold;
	uint64_t hold_len;
	int64_t readers;
	int64_t writers;
	int race;
	uint64_t race_len;
	int pair;
};

/* Where the per-page status of a migration call is not written. */
#define ST_UNSET	INT_MIN
#define NR_ERRNO	134
#define NR_VMSTAT	7

struct accessor {
	struct fl_helper helper;
	struct nm_worker *nw;
	unsigned idx;		/* reader or writer index */
	int kind;		/* 0 reader, 1 writer, 2 racer */
	/* writer: pass being written and next page of its slice at pause */
	uint64_t pass, next;
	uint64_t ops;
	uint64_t mismatches;	/* reader/fork children: words != pattern */
	uint64_t first_bad;
	uint64_t forks, munmaps;
	char err[128];
};

struct nm_worker {
	struct fl_case *c;
	struct fl_mapping m;
	bool mapped;
	size_t npages;		/* 4 KiB pages in the range */
	size_t stable;		/* pages not touched by race=munmap */
	size_t held;		/* pages held by the device */
	void **pages;		/* every 4 KiB page, for the location query */
	void **mv_pages;	/* the addresses passed to move_pages */
	size_t nmv;
	int *nodes, *status, *where;
	int node[2];		/* a, b */
	int at;			/* 0: the range is on a, 1: on b */
	uint64_t seed;
	/* last move */
	uint64_t move_ns;
	long move_ret;
	int move_errno;
	uint64_t folios_before;
	/* device */
	struct fl_hold h;	/* pin, registration, or the driver holding the mirror */
	uint32_t mirror;
	bool have_mirror;
	/* accessors */
	struct accessor *acc;
	unsigned nacc;
	atomic_int pause, parked, quit;
	/* case totals, for details */
	int *prev;		/* where each page was before the move */
	/* pair: the twin range */
	struct fl_mapping pm;
	bool pmapped;
	void **ppages, **pmv;
	size_t npmv;
	int *pnodes, *pstatus, *pwhere;
	uint64_t pmove_ns;
	/* case totals: why pages did not move (their per-page status) */
	uint64_t why_err[NR_ERRNO + 1], why_unset, why_node, err_moved;
	uint64_t ret_positive, failed_held, failed_other;
	uint64_t moves, inval_ev[FL_EV_MAX], remirror_retries, access_retries;
	uint64_t vm_before[NR_VMSTAT], vm_total[NR_VMSTAT];
};

/* The range's MPOL_BIND {a, b} policy (see numa_migrate.c). */
int nm_bind_both(struct nm_worker *nw, void *addr, size_t len);

/* The data pattern; the version words writers own are skipped. */
void nm_fill(struct nm_worker *nw, size_t from_pg, size_t to_pg);
uint64_t nm_verify(struct nm_worker *nw, size_t from_pg, size_t to_pg, uint64_t *first);

/* Threads reading, writing or racing the range (helpers of the worker). */
uint64_t nm_writer_check(struct nm_worker *nw, struct accessor *a, uint64_t *first);
void nm_accessors_pause(struct nm_worker *nw);
int nm_accessors_start(struct fl_worker *w, struct nm_worker *nw);
void nm_accessors_stop(struct nm_worker *nw);

/* The device's hold on the first hold_len bytes, and the twin range. */
int nm_hold_create(struct fl_worker *w, struct nm_worker *nw);
void nm_hold_release(struct nm_worker *nw);
int nm_pair_setup(struct fl_worker *w, struct nm_worker *nw);
int nm_pair_move(struct fl_worker *w, struct nm_worker *nw, int node);
int nm_pair_check(struct fl_worker *w, struct nm_worker *nw, int node, uint64_t moved, uint64_t folios);
int nm_check_device(struct fl_worker *w, struct nm_worker *nw);

#endif
