// SPDX-License-Identifier: GPL-2.0
/*
 * Backing verification against the running kernel: what is asked for is
 * accepted when the kernel gives it, and a mapping that is not what was
 * asked (THP asked, 4 KiB given) is caught.  Cases the host cannot provide
 * are skipped, and say so.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "backing.h"
#include "sysfs.h"

static struct fl_backing_conf conf = { .file_dir = "/var/tmp" };

static void touch(struct fl_mapping *m)
{
	for (size_t off = 0; off < m->len; off += 4096)
		((volatile char *)m->addr)[off] = 1;
}

static const char *thp_mode(void)
{
	static char mode[32];

	if (fl_sysfs_bracketed("/sys/kernel/mm/transparent_hugepage/enabled", mode, sizeof(mode)))
		return "none";
	return mode;
}

static void map_verify(enum fl_backing_id b, size_t len)
{
	struct fl_mapping m;
	struct fl_range_stat st;
	char why[256], buf[256];
	const char *na = fl_backings[b].available ? fl_backings[b].available(&conf, len, buf, sizeof(buf)) : NULL;

	if (na) {
		print_message("skip %s: %s\n", fl_backings[b].name, na);
		skip();
	}
	assert_int_equal(fl_map(&conf, b, len, 0, &m, why, sizeof(why)), 0);
	assert_int_equal((uintptr_t)m.addr % fl_backings[b].page_size, 0);
	touch(&m);
	if (fl_verify(&m, why, sizeof(why)))
		fail_msg("%s: %s", fl_backings[b].name, why);
	assert_int_equal(fl_range_stat(m.addr, m.len, &st), 0);
	assert_int_equal(st.present_pages, len / 4096);
	fl_unmap(&m);
}

static void anon_4k(void **s) { map_verify(FL_BACKING_ANON_4K, 8 << 20); }
static void shmem(void **s) { map_verify(FL_BACKING_SHMEM, 8 << 20); }
static void file(void **s) { map_verify(FL_BACKING_FILE, 8 << 20); }
static void hugetlb_2m(void **s) { map_verify(FL_BACKING_HUGETLB_2M, 4 << 20); }

static void thp(void **s)
{
	struct fl_mapping m;
	char why[256];
	const char *v;

	if (strcmp(thp_mode(), "madvise") && strcmp(thp_mode(), "always")) {
		print_message("skip: THP mode is %s\n", thp_mode());
		skip();
	}
	assert_int_equal(fl_map(&conf, FL_BACKING_THP, 16 << 20, 0, &m, why, sizeof(why)), 0);
	touch(&m);
	v = fl_verify(&m, why, sizeof(why));
	fl_unmap(&m);
	/* Fragmentation can deny THP; then the verifier must say so, not pass. */
	if (v) {
		assert_non_null(strstr(v, "asked for THP"));
		print_message("skip: kernel gave no THP here: %s\n", v);
		skip();
	}
}

/* The detector can fail: THP asked, advice withheld, madvise mode -> 4 KiB. */
static void thp_mismatch_is_caught(void **s)
{
	struct fl_mapping m;
	char why[256];
	const char *v;

	if (strcmp(thp_mode(), "madvise")) {
		print_message("skip: needs THP mode madvise, is %s\n", thp_mode());
		skip();
	}
	assert_int_equal(fl_map(&conf, FL_BACKING_THP, 16 << 20, FL_MAP_NO_ADVISE, &m, why, sizeof(why)), 0);
	touch(&m);
	v = fl_verify(&m, why, sizeof(why));
	fl_unmap(&m);
	assert_non_null(v);
	assert_non_null(strstr(v, "asked for THP, got 0 of 16384 kB"));
}

static void unknown_backing_name(void **s)
{
	assert_null(fl_backing_by_name("anon-8k"));
	assert_non_null(fl_backing_by_name("THP"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(anon_4k),
		cmocka_unit_test(thp),
		cmocka_unit_test(thp_mismatch_is_caught),
		cmocka_unit_test(shmem),
		cmocka_unit_test(file),
		cmocka_unit_test(hugetlb_2m),
		cmocka_unit_test(unknown_backing_name),
	};

	return cmocka_run_group_tests_name("backing", tests, NULL, NULL);
}
