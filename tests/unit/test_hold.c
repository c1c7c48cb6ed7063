// SPDX-License-Identifier: GPL-2.0
/*
 * The hold library's patterns (fill, check, whose word, the pattern file),
 * its table of documented GUP refusals, and where helper threads are
 * placed beside their worker.
 */
#include <errno.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "hold.h"
#include "placement.h"

static void fill_then_check_is_clean(void **state)
{
	uint64_t buf[1024], first = 0, got = 0;

	for (int a = 0; a < FL_ACT_COUNT; a++) {
		fl_fill(buf, 4096, sizeof(buf), (enum fl_actor)a);
		assert_int_equal(fl_check(buf, 4096, sizeof(buf), (enum fl_actor)a, -1, &first, &got), 0);
		/* The same data at another pattern offset is not the pattern. */
		assert_int_equal(fl_check(buf, 0, sizeof(buf), (enum fl_actor)a, -1, &first, &got), 1024);
	}
}

static void check_reports_first_bad_word(void **state)
{
	uint64_t buf[512], first = 0, got = 0;

	fl_fill(buf, 0, sizeof(buf), FL_ACT_ORIG);
	buf[100] = fl_word(FL_ACT_CHILD, 800);
	buf[300] = 0;
	assert_int_equal(fl_check(buf, 0, sizeof(buf), FL_ACT_ORIG, -1, &first, &got), 2);
	assert_int_equal(first, 800);
	assert_int_equal(got, fl_word(FL_ACT_CHILD, 800));
	assert_string_equal(fl_whose(first, got), "the child's write");
	/* The alternative actor is accepted, zeroes are not. */
	assert_int_equal(fl_check(buf, 0, sizeof(buf), FL_ACT_ORIG, FL_ACT_CHILD, &first, &got), 1);
	assert_int_equal(first, 2400);
	assert_string_equal(fl_whose(first, got), "zeroes");
	assert_string_equal(fl_whose(8, 0x1234), "data of no actor");
	for (int a = 0; a < FL_ACT_COUNT; a++)
		assert_string_equal(fl_whose(64, fl_word((enum fl_actor)a, 64)), fl_actor_name[a]);
}

static void seed_check_counts_and_offsets(void **state)
{
	uint64_t buf[512], first;

	fl_fill_seed(buf, 8192, sizeof(buf), 77);
	assert_int_equal(fl_check_seed(buf, 8192, sizeof(buf), 77, &first), 0);
	assert_true(first == UINT64_MAX);
	buf[7] ^= 1;
	buf[9] ^= 1;
	assert_int_equal(fl_check_seed(buf, 8192, sizeof(buf), 77, &first), 2);
	assert_int_equal(first, 8192 + 7 * 8);
	/* fl_fill is the seed fill with the actor's seed. */
	fl_fill(buf, 0, sizeof(buf), FL_ACT_DEVICE);
	assert_int_equal(fl_check_seed(buf, 0, sizeof(buf), fl_actor_seed[FL_ACT_DEVICE], &first), 0);
}

static void fill_stays_inside_len(void **state)
{
	uint64_t buf[4] = { 1, 2, 3, 4 };

	fl_fill(buf, 0, 20, FL_ACT_PARENT);	/* two whole words; the rest is left alone */
	assert_int_equal(buf[0], fl_word(FL_ACT_PARENT, 0));
	assert_int_equal(buf[1], fl_word(FL_ACT_PARENT, 8));
	assert_int_equal(buf[2], 3);
	assert_int_equal(buf[3], 4);
}

static void pattern_file_holds_the_pattern(void **state)
{
	size_t len = (1 << 20) + 8192;	/* more than one write chunk */
	uint64_t *buf = malloc(len), first;
	char why[256];
	int fd = fl_pattern_file("/tmp", len, 0x5eed, why, sizeof(why));

	assert_true(fd >= 0);
	assert_non_null(buf);
	assert_int_equal(pread(fd, buf, len, 0), (ssize_t)len);
	assert_int_equal(fl_check_seed(buf, 0, len, 0x5eed, &first), 0);
	assert_int_equal(lseek(fd, 0, SEEK_END), (off_t)len);
	close(fd);
	free(buf);
	fd = fl_pattern_file("/nonexistent-dir", 4096, 1, why, sizeof(why));
	assert_int_equal(fd, -ENOENT);
	assert_non_null(strstr(why, "/nonexistent-dir"));
}

static void documented_refusals_only(void **state)
{
	const unsigned lt = FL_FOLL_WRITE | FL_FOLL_LONGTERM;

	assert_non_null(fl_gup_refusal(FL_BACKING_FSDAX, FL_FOLL_LONGTERM, -EOPNOTSUPP));
	assert_non_null(fl_gup_refusal(FL_BACKING_FILE, lt, EFAULT));
	assert_non_null(fl_gup_refusal(FL_BACKING_FILE, lt | FL_FOLL_IO_URING, -EOPNOTSUPP));
	/* A refusal of anonymous memory is a bug, whatever the errno. */
	for (int b = FL_BACKING_ANON_4K; b <= FL_BACKING_SHMEM; b++) {
		assert_null(fl_gup_refusal((enum fl_backing_id)b, lt, -EFAULT));
		assert_null(fl_gup_refusal((enum fl_backing_id)b, lt, -EOPNOTSUPP));
		assert_null(fl_gup_refusal((enum fl_backing_id)b, lt | FL_FOLL_IO_URING, -ENOMEM));
	}
	/* Without FOLL_LONGTERM fsdax and page cache may be pinned. */
	assert_null(fl_gup_refusal(FL_BACKING_FSDAX, FL_FOLL_WRITE, -EOPNOTSUPP));
	assert_null(fl_gup_refusal(FL_BACKING_FILE, FL_FOLL_WRITE, -EFAULT));
	/* A read-only long-term pin of page cache needs no dirty tracking. */
	assert_null(fl_gup_refusal(FL_BACKING_FILE, FL_FOLL_LONGTERM, -EFAULT));
	/* The right check, the wrong errno. */
	assert_null(fl_gup_refusal(FL_BACKING_FSDAX, lt, -EFAULT));
	assert_null(fl_gup_refusal(FL_BACKING_DEVDAX, lt, -EOPNOTSUPP));
}

static void helper_cpu_is_not_the_workers(void **state)
{
	struct fl_placement p = { .nr_cpus = 4, .cpus = { 0, 2, 4, 6 }, .node = -1 };

	/* Spare CPUs: those no worker has, spread by worker and helper number. */
	assert_int_equal(fl_helper_cpu(&p, 1, 0, 0, 0), 2);
	assert_int_equal(fl_helper_cpu(&p, 1, 0, 0, 1), 4);
	assert_int_equal(fl_helper_cpu(&p, 1, 0, 0, 3), 2);
	assert_int_equal(fl_helper_cpu(&p, 2, 1, 2, 0), 6);
	/* Every CPU has a worker: never the worker's own. */
	for (unsigned wk = 0; wk < 4; wk++)
		for (unsigned seq = 0; seq < 9; seq++)
			assert_int_not_equal(fl_helper_cpu(&p, 4, wk, p.cpus[wk], seq), p.cpus[wk]);
	for (unsigned seq = 0; seq < 9; seq++)
		assert_int_not_equal(fl_helper_cpu(&p, 8, 5, 4, seq), 4);
	/* One CPU: shared with the worker; an unbound worker: unbound helpers. */
	p.nr_cpus = 1;
	assert_int_equal(fl_helper_cpu(&p, 1, 0, 0, 0), 0);
	assert_int_equal(fl_helper_cpu(&p, 1, 0, -1, 0), -1);
}

static void *where_am_i(void *arg)
{
	cpu_set_t *set = arg;

	sched_getaffinity(0, sizeof(*set), set);
	return NULL;
}

static void helper_runs_where_placed(void **state)
{
	const struct workload wl = { .name = "unit" };
	struct fl_case c = { .wl = &wl, .nr_workers = 1 };
	struct fl_placement p;
	struct fl_worker w = { .c = &c, .id = 1 };	/* not worker 0: no detail to record */
	struct fl_helper h;
	cpu_set_t set;
	char err[256];

	assert_int_equal(fl_placement_init(&p, "", -1, err, sizeof(err)), 0);
	w.cpu = p.cpus[0];
	CPU_ZERO(&set);
	assert_int_equal(fl_helper_start(&h, &w, "probe", 0, where_am_i, &set), 0);
	fl_helper_join(&h);
	assert_false(h.started);
	assert_int_equal(h.cpu, fl_helper_cpu(&p, 1, 1, p.cpus[0], 0));
	assert_int_equal(CPU_COUNT(&set), 1);
	assert_true(CPU_ISSET(h.cpu, &set));
	if (p.nr_cpus > 1)
		assert_int_not_equal(h.cpu, w.cpu);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(fill_then_check_is_clean),
		cmocka_unit_test(check_reports_first_bad_word),
		cmocka_unit_test(seed_check_counts_and_offsets),
		cmocka_unit_test(fill_stays_inside_len),
		cmocka_unit_test(pattern_file_holds_the_pattern),
		cmocka_unit_test(documented_refusals_only),
		cmocka_unit_test(helper_cpu_is_not_the_workers),
		cmocka_unit_test(helper_runs_where_placed),
	};

	return cmocka_run_group_tests_name("hold", tests, NULL, NULL);
}
