/* SPDX-License-Identifier: GPL-2.0 */
/*
 * fs_dax fault events (dax_pmd_fault{,_done}, dax_pte_fault{,_done}, from
 * fs/dax.c: include/trace/events/fs_dax.h) read from one tracefs instance
 * per run.
 *
 * Enabling a tracepoint, and removing an instance that has it enabled,
 * patches kernel text (jump labels: text_poke_bp, an int3 and sync IPIs
 * to every CPU).  Under qemu TCG with two vCPUs that has wedged guests
 * (soft lockup) and left stray int3 traps.  So the events are enabled
 * once, by the first case of a run that asks for them, in an instance
 * named after the runner process; they stay enabled until the runner
 * removes the instance at the end of the run.  Between cases only the
 * instance's buffer is cleared and its recording switched on and off
 * (tracing_on), which patches nothing.  Cases run in forked children; the
 * instance is a kernel object and outlives them.
 *
 * Outside a run (no fl_dax_trace_run_begin(): `faultline stress`, tests)
 * an instance belongs to the case that opened it and goes when it closes.
 */
#ifndef FL_DAX_TRACE_H
#define FL_DAX_TRACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Bits of the events' fields (include/linux/mm_types.h, mm.h). */
#define FL_VM_FAULT_NOPAGE	0x000100
#define FL_VM_FAULT_FALLBACK	0x000800
#define FL_FAULT_FLAG_WRITE	0x01
#define FL_VM_SHARED		0x08

/* One fs_dax event, its fields as the kernel recorded them. */
struct fl_dax_fault {
	bool pmd;		/* dax_pmd_* (else dax_pte_*) */
	bool done;		/* *_fault_done: result is set */
	int cpu;
	uint64_t ts;		/* trace clock, ns */
	uint64_t address, pgoff, flags, vm_flags, result;
	uint64_t vm_start, vm_end, max_pgoff;	/* pmd events only */
};

struct fl_dax_trace;

/* The runner: before the first case, and after the last one. */
void fl_dax_trace_run_begin(void);
void fl_dax_trace_run_end(void);

/*
 * A case's handle on the events, recording on and its window cleared;
 * NULL with the reason in @why (not root, no tracefs, no fs_dax events).
 */
struct fl_dax_trace *fl_dax_trace_open(char *why, size_t whylen);
/* Start a new window: drop whatever was recorded so far. */
void fl_dax_trace_clear(struct fl_dax_trace *t);
/* Hand every event recorded since the last clear or read to @fn, in order per CPU. */
void fl_dax_trace_read(struct fl_dax_trace *t,
		       void (*fn)(const struct fl_dax_fault *f, void *ctx), void *ctx);
/* Recording off (run instance) or instance removed (a case's own). */
void fl_dax_trace_close(struct fl_dax_trace *t);

/* Whether this run's events are attached to the kernel (an earlier case enabled them). */
bool fl_dax_trace_attached(void);

#endif
