/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The loop fault-scale and fault-scale-file share: will-it-scale's
 * page_fault1/2/3 write one byte per 4 KiB page of a fresh mapping.
 */
#ifndef FAULTLINE_FAULT_SCALE_H
#define FAULTLINE_FAULT_SCALE_H

#include "workload.h"

/* Counted per page, like will-it-scale, so a sample is not a whole number of batches. */
static inline void fault_scale_touch(struct fl_worker *w, const struct fl_mapping *m,
				     struct fl_work *done)
{
	volatile char *p = m->addr;

	for (size_t off = 0; off < m->len; off += 4096) {
		p[off] = 0;
		(*w->counter)++;
	}
	done->ops = m->len / 4096;
	done->bytes = m->len;
}

#endif
