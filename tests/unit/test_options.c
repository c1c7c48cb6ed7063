// SPDX-License-Identifier: GPL-2.0
/* Option tables and job files: valid inputs parse, invalid ones name the problem. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "core.h"
#include "option.h"

struct conf {
	int64_t n;
	uint64_t size;
	bool flag;
	int mode;
	double ratio;
	char name[FL_OPT_STRLEN];
};

static const char *const modes[] = { "a", "bee", NULL };
static const struct fl_option table[] = {
	FL_OPT_INT_(struct conf, n, "n", -5, 100, "7", "an int"),
	FL_OPT_SIZE_(struct conf, size, "size", 4096, 1ull << 30, "2M", "a size"),
	FL_OPT_BOOL_(struct conf, flag, "flag", "no", "a bool"),
	FL_OPT_ENUM_(struct conf, mode, "mode", modes, "bee", "an enum"),
	FL_OPT_DOUBLE_(struct conf, ratio, "ratio", 0, 1, "0.5", "a float"),
	FL_OPT_STR_(struct conf, name, "name", "x", "a string"),
	FL_OPT_END
};

static void defaults_and_values(void **state)
{
	struct conf c;
	char err[256];

	assert_int_equal(fl_opt_defaults(table, &c, err, sizeof(err)), 0);
	assert_int_equal(c.n, 7);
	assert_int_equal(c.size, 2 << 20);
	assert_false(c.flag);
	assert_int_equal(c.mode, 1);
	assert_int_equal(fl_opt_parse(fl_opt_find(table, "size"), "1G", &c, err, sizeof(err)), 0);
	assert_int_equal(c.size, 1 << 30);
	assert_int_equal(fl_opt_parse(fl_opt_find(table, "size"), "64KiB", &c, err, sizeof(err)), 0);
	assert_int_equal(c.size, 65536);
	assert_int_equal(fl_opt_parse(fl_opt_find(table, "flag"), "on", &c, err, sizeof(err)), 0);
	assert_true(c.flag);
	assert_int_equal(fl_opt_parse(fl_opt_find(table, "n"), "-5", &c, err, sizeof(err)), 0);
	assert_int_equal(c.n, -5);
}

static void errors_name_key_and_range(void **state)
{
	struct conf c;
	char err[256];
	static const struct { const char *key, *val, *want; } bad[] = {
		{ "n", "101", "n: value '101' out of range (valid: -5..100)" },
		{ "n", "1x", "n: invalid int value '1x' (valid: -5..100)" },
		{ "n", "", "n: invalid int" },
		{ "size", "2G", "out of range (valid: 4K..1G)" },
		{ "size", "-4K", "invalid size" },
		{ "size", "12Q", "invalid size" },
		{ "size", "99999999999999999999999G", "invalid size" },
		{ "flag", "maybe", "valid: yes/no" },
		{ "mode", "c", "valid: a|bee" },
		{ "ratio", "nan", "invalid float" },
		{ "ratio", "1.5", "out of range" },
	};

	fl_opt_defaults(table, &c, err, sizeof(err));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		assert_int_equal(fl_opt_parse(fl_opt_find(table, bad[i].key), bad[i].val, &c, err, sizeof(err)), -1);
		if (!strstr(err, bad[i].want))
			fail_msg("%s=%s: got '%s', want '%s'", bad[i].key, bad[i].val, err, bad[i].want);
	}
}

static void cpulist(void **state)
{
	uint64_t m[2];

	assert_int_equal(fl_parse_cpulist("0-3,8", m, 128), 0);
	assert_int_equal(m[0], 0x10f);
	assert_int_equal(fl_parse_cpulist("3-1", m, 128), -1);
	assert_int_equal(fl_parse_cpulist("1,,2", m, 128), -1);
	assert_int_equal(fl_parse_cpulist("200", m, 128), -1);
	assert_int_equal(fl_parse_cpulist("a", m, 128), -1);
}

static char *write_job(const char *text)
{
	static char path[64];
	int fd;

	snprintf(path, sizeof(path), "/tmp/fl-test-XXXXXX.job");
	fd = mkstemps(path, 4);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	return path;
}

static void job_expands_cross_product(void **state)
{
	static struct fl_job job;
	struct fl_plan plan;
	char err[512];
	char *path = write_job("[global]\nrepeat=3\n\n[p]\nworkload=populate\nbacking=anon-4k,thp\n"
			       "mode=first-touch,populate-write\nsize=4M\n[fault-scale]\nthreads=1,2\n");

	assert_int_equal(fl_job_load(path, &job, err, sizeof(err)), 0);
	assert_int_equal(fl_job_expand(&job, NULL, &plan, err, sizeof(err)), 0);
	assert_int_equal(plan.nr_cases, 2 * 2 + 2);
	assert_string_equal(plan.cases[0].label, "populate/anon-4k/mode=first-touch,size=4M");
	assert_int_equal(plan.cases[0].core.repeat, 3);
	assert_string_equal(plan.cases[5].label, "fault-scale/anon-4k/threads=2");
	fl_plan_free(&plan);
	unlink(path);
}

static void job_errors_name_file_and_line(void **state)
{
	static struct fl_job job;
	struct fl_plan plan;
	char err[512];
	char *path = write_job("[global]\nrepeat=3\n\n[p]\nworkload=populate\nsize=3X\n");
	char want[128];

	assert_int_equal(fl_job_load(path, &job, err, sizeof(err)), 0);
	assert_int_equal(fl_job_expand(&job, NULL, &plan, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "%s:6: size: invalid size value '3X'", path);
	if (!strstr(err, want))
		fail_msg("got '%s', want '%s'", err, want);
	unlink(path);
}

static void cli_set_overrides_job(void **state)
{
	static struct fl_job job;
	struct fl_plan plan;
	char err[512];
	char *path = write_job("[p]\nworkload=populate\nsize=4M\n");

	assert_int_equal(fl_job_load(path, &job, err, sizeof(err)), 0);
	assert_int_equal(fl_job_set(&job, "size=8M", err, sizeof(err)), 0);
	assert_int_equal(fl_job_set(&job, "repeat=2", err, sizeof(err)), 0);
	assert_int_equal(fl_job_expand(&job, "anon-4k", &plan, err, sizeof(err)), 0);
	assert_int_equal(plan.nr_cases, 1);
	assert_string_equal(plan.cases[0].label, "populate/anon-4k/size=8M");
	assert_int_equal(plan.cases[0].core.repeat, 2);
	fl_plan_free(&plan);
	unlink(path);
}

static void section_keeps_named_in_job_order(void **state)
{
	static struct fl_job job;
	struct fl_plan plan;
	char err[512];
	char *path = write_job("[a]\nworkload=populate\nsize=4M\n[b]\nworkload=populate\nsize=8M\n"
			       "[c]\nworkload=populate\nsize=2M\n");

	assert_int_equal(fl_job_load(path, &job, err, sizeof(err)), 0);
	assert_int_equal(fl_job_keep_sections(&job, "c,a", err, sizeof(err)), 0);
	assert_int_equal(fl_job_expand(&job, "anon-4k", &plan, err, sizeof(err)), 0);
	assert_int_equal(plan.nr_cases, 2);
	assert_string_equal(plan.cases[0].section, "a");
	assert_string_equal(plan.cases[1].section, "c");
	assert_string_equal(plan.cases[1].label, "populate/anon-4k/size=2M");
	fl_plan_free(&plan);
	assert_int_equal(fl_job_load(path, &job, err, sizeof(err)), 0);
	assert_int_equal(fl_job_keep_sections(&job, "a,d", err, sizeof(err)), -1);
	if (!strstr(err, "no section [d]") || !strstr(err, "it has: a b c"))
		fail_msg("got '%s'", err);
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(defaults_and_values),
		cmocka_unit_test(errors_name_key_and_range),
		cmocka_unit_test(cpulist),
		cmocka_unit_test(job_expands_cross_product),
		cmocka_unit_test(job_errors_name_file_and_line),
		cmocka_unit_test(cli_set_overrides_job),
		cmocka_unit_test(section_keeps_named_in_job_order),
	};

	return cmocka_run_group_tests_name("options", tests, NULL, NULL);
}
