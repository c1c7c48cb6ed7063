// SPDX-License-Identifier: GPL-2.0
/* The kernel-counter snapshot parser and the TAP/JUnit renderings of records. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <jansson.h>

#include "ciout.h"
#include "vmstat.h"

static void vmstat_parse_picks_named_counters(void **state)
{
	struct fl_vmstat s;

	fl_vmstat_parse("nr_free_pages 100\npgfault 12345\npgfaults 7\nthp_fault_alloc 3\n"
			"thp_fault_fallback_charge 9\nthp_fault_fallback 0\n", &s);
	assert_int_equal(s.v[FL_VS_pgfault], 12345);
	assert_int_equal(s.v[FL_VS_thp_fault_alloc], 3);
	assert_int_equal(s.v[FL_VS_thp_fault_fallback], 0);
	assert_true(s.present & (1u << FL_VS_thp_fault_fallback));
	assert_false(s.present & (1u << FL_VS_pgmigrate_success));
}

static void vmstat_reads_this_kernel(void **state)
{
	struct fl_vmstat a, b;

	assert_int_equal(fl_vmstat_read(&a), 0);
	assert_true(a.present & (1u << FL_VS_pgfault));
	assert_int_equal(fl_vmstat_read(&b), 0);
	assert_true(b.v[FL_VS_pgfault] >= a.v[FL_VS_pgfault]);
}

static json_t *rec(const char *cs, const char *status, const char *reason)
{
	return json_pack("{s:s, s:s, s:s, s:f, s:{s:{s:f, s:s}}, s:{}}", "case", cs, "status", status,
			 "reason", reason, "elapsed_s", 1.5, "metrics", "ops_rate", "median", 2.5e6,
			 "unit", "page/s", "details");
}

static char *render_tap(json_t *recs)
{
	char *buf = NULL;
	size_t len = 0, i;
	FILE *f = open_memstream(&buf, &len);
	json_t *r;

	fl_tap_plan(f, (unsigned)json_array_size(recs));
	json_array_foreach(recs, i, r)
		fl_tap_case(f, (unsigned)i + 1, r);
	fclose(f);
	return buf;
}

static void tap_marks_each_outcome(void **state)
{
	json_t *recs = json_pack("[o,o,o,o]", rec("populate/thp", "pass", ""),
				 rec("populate/hugetlb-2m", "skip", "no hugetlb pool # reserve one"),
				 rec("gup-bench/anon-4k", "fail", "pin-fast refused\nEFAULT"),
				 rec("cow-pin/thp", "error", "worker crashed"));
	char *tap = render_tap(recs);

	assert_non_null(strstr(tap, "TAP version 13\n1..4\n"));
	assert_non_null(strstr(tap, "\nok 1 populate/thp # ops_rate 2.5e+06 page/s\n"));
	assert_non_null(strstr(tap, "\nok 2 populate/hugetlb-2m # SKIP no hugetlb pool _ reserve one\n"));
	assert_non_null(strstr(tap, "\nnot ok 3 gup-bench/anon-4k # fail: pin-fast refused EFAULT\n"));
	assert_non_null(strstr(tap, "\nnot ok 4 cow-pin/thp # error: worker crashed\n"));
	free(tap);
	json_decref(recs);
}

static void junit_counts_and_escapes(void **state)
{
	json_t *recs = json_pack("[o,o,o]", rec("a/anon-4k", "pass", ""),
				 rec("b/thp", "skip", "THP <never>"), rec("c/file", "fail", "x & y"));
	char path[] = "/tmp/fl-junit-XXXXXX", text[4096];
	int fd = mkstemp(path);
	ssize_t n;

	assert_true(fd >= 0);
	assert_int_equal(fl_junit_write(path, recs, "quick", 4.5), 0);
	n = pread(fd, text, sizeof(text) - 1, 0);
	assert_true(n > 0);
	text[n] = '\0';
	assert_non_null(strstr(text, "tests=\"3\" failures=\"1\" errors=\"0\" skipped=\"1\""));
	assert_non_null(strstr(text, "<skipped message=\"THP &lt;never&gt;\" type=\"skip\"/>"));
	assert_non_null(strstr(text, "<failure message=\"x &amp; y\" type=\"fail\"/>"));
	assert_non_null(strstr(text, "classname=\"faultline.b\" name=\"b/thp\""));
	close(fd);
	unlink(path);
	json_decref(recs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(vmstat_parse_picks_named_counters),
		cmocka_unit_test(vmstat_reads_this_kernel),
		cmocka_unit_test(tap_marks_each_outcome),
		cmocka_unit_test(junit_counts_and_escapes),
	};

	return cmocka_run_group_tests_name("ciout", tests, NULL, NULL);
}
