/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The physical reference every run records: single-thread memset bandwidth
 * into an already populated buffer larger than the last-level cache, and
 * the cost of one read of the core's clock.  Populate and fault figures are
 * read against it.
 */
#ifndef FL_CALIBRATE_H
#define FL_CALIBRATE_H

#include <jansson.h>

json_t *fl_calibrate_json(void);
double fl_clock_read_ns(void);

#endif
