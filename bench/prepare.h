/* SPDX-License-Identifier: GPL-2.0 */
/*
 * --prepare: the system settings a case needs (hugetlb reservations, THP
 * mode, clean and compacted memory before huge-page cases), changed only
 * when asked and restored at exit, SIGINT included.  Without --prepare
 * faultline changes no system setting; cases that need one are skipped
 * with the reason.
 */
#ifndef FL_PREPARE_H
#define FL_PREPARE_H

#include <jansson.h>

#include "core.h"

int fl_prepare_begin(const struct fl_plan *plan, char *err, size_t errlen);
void fl_prepare_case(const struct fl_case_def *def, unsigned nr_cores);
void fl_prepare_end(void);
json_t *fl_prepare_json(void);

#endif
