/* SPDX-License-Identifier: GPL-2.0 */
/* TAP output of the driver tests: one "ok N - ..." line per check. */
#ifndef FL_TEST_TAP_H
#define FL_TEST_TAP_H

#include <stdarg.h>
#include <stdio.h>

static int ntest, nfail;

static void __attribute__((format(printf, 2, 3))) ok(int cond, const char *fmt, ...)
{
	va_list ap;

	printf("%sok %d - ", cond ? "" : "not ", ++ntest);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	/* Flushed per line: a test that ends in a kernel oops keeps its TAP. */
	fflush(stdout);
	if (!cond)
		nfail++;
}

#endif
