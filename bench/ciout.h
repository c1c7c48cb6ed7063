/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Results that CI systems read without a parser of ours: a kselftest-style
 * TAP stream (`faultline run --tap`, one test point per case, written as
 * each case ends) and a JUnit XML file (`--junit FILE`, one testcase per
 * case, written at the end from the records).
 */
#ifndef FL_CIOUT_H
#define FL_CIOUT_H

#include <stdio.h>
#include <jansson.h>

void fl_tap_plan(FILE *f, unsigned nr_cases);
void fl_tap_case(FILE *f, unsigned seq, const json_t *rec);

/* Write @records (a JSON array of case records) as JUnit XML; 0 or -errno. */
int fl_junit_write(const char *path, const json_t *records, const char *suite, double seconds);

#endif
