// SPDX-License-Identifier: GPL-2.0
/*
 * Backing verification against the running kernel: what is asked for is
 * accepted when the kernel gives it, and a mapping that is not what was
 * asked (THP asked, 4 KiB given) is caught.  Cases the host cannot provide
 * are skipped, and say so.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "backing.h"
#include "mmflags.h"
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

/* What fl_map maps for a size the backing's page does not divide, and what it reports. */
static void length_is_what_is_mapped(void **s)
{
	struct fl_mapping m;
	char why[256];

	assert_int_equal(fl_map_len(FL_BACKING_THP, 8 << 10, 0), SZ_2M);
	assert_int_equal(fl_map_len(FL_BACKING_HUGETLB_1G, SZ_2M, 0), SZ_1G);
	assert_int_equal(fl_map_len(FL_BACKING_FSDAX, 3 << 20, 0), 4 << 20);
	assert_int_equal(fl_map_len(FL_BACKING_FSDAX, 3 << 20, FL_MAP_EXACT), 3 << 20);
	assert_int_equal(fl_map_len(FL_BACKING_FSDAX, 5000, FL_MAP_EXACT), 8192);
	assert_int_equal(fl_map(&conf, FL_BACKING_ANON_4K, 5000, 0, &m, why, sizeof(why)), 0);
	assert_int_equal(m.len, 8192);
	fl_unmap(&m);
	/* THP's page is 2 MiB whether or not THP is enabled: the mapping is made all the same. */
	assert_int_equal(fl_map(&conf, FL_BACKING_THP, 8 << 10, FL_MAP_NO_ADVISE, &m, why, sizeof(why)), 0);
	assert_int_equal(m.len, SZ_2M);
	assert_int_equal((uintptr_t)m.addr % SZ_2M, 0);
	fl_unmap(&m);
}

/* VA at a page boundary + va_off, reserved before the mmap, which lands there. */
static void va_offset_from_the_page_boundary(void **s)
{
	struct fl_map_layout lay = { .va_off = 2 * SZ_4K };
	struct fl_mapping m;
	char why[256];
	void *resv;

	assert_int_equal(fl_map_open(&conf, FL_BACKING_THP, 4 << 20, FL_MAP_NO_ADVISE, &lay, &m,
				     why, sizeof(why)), 0);
	assert_null(m.addr);
	resv = m.map_addr;
	assert_int_equal((uintptr_t)resv % SZ_2M, 2 * SZ_4K);
	assert_int_equal(fl_map_mmap(&m), 0);
	assert_ptr_equal(m.addr, resv);
	touch(&m);
	fl_unmap(&m);
	assert_int_equal(fl_map_open(&conf, FL_BACKING_ANON_4K, SZ_4K, FL_MAP_VA_ANY, NULL, &m,
				     why, sizeof(why)), 0);
	assert_null(m.map_addr);
	assert_int_equal(fl_map_mmap(&m), 0);
	assert_non_null(m.addr);
	fl_unmap(&m);
}

/* A file at an offset, written or sparse, named until fl_unmap when asked. */
static void file_offset_and_allocation(void **s)
{
	static char fill[3000];
	struct fl_map_layout lay = { .file_off = 2 * SZ_4K, .alloc = FL_ALLOC_WRITTEN,
				     .fill = fill, .fill_len = sizeof(fill) };
	uint64_t mark = 0xfa17f00d, back = 0;
	struct fl_mapping m;
	struct stat st;
	char why[256], path[512];

	memset(fill, 0x5a, sizeof(fill));
	assert_int_equal(fl_map_open(&conf, FL_BACKING_FILE, 16 << 10, FL_MAP_KEEP_NAME, &lay, &m,
				     why, sizeof(why)), 0);
	assert_int_equal(fl_map_mmap(&m), 0);
	assert_int_equal(fstat(m.fd, &st), 0);
	assert_int_equal(st.st_size, (2 * SZ_4K) + (16 << 10));
	assert_int_equal(((unsigned char *)m.addr)[100], 0x5a);
	memcpy(m.addr, &mark, sizeof(mark));
	assert_int_equal(pread(m.fd, &back, sizeof(back), 2 * SZ_4K), sizeof(back));
	assert_int_equal(back, mark);
	snprintf(path, sizeof(path), "%s", m.path);
	assert_int_equal(access(path, F_OK), 0);
	fl_unmap(&m);
	assert_int_not_equal(access(path, F_OK), 0);

	lay.alloc = FL_ALLOC_SPARSE;
	assert_int_equal(fl_map_open(&conf, FL_BACKING_FILE, 16 << 10, 0, &lay, &m, why, sizeof(why)), 0);
	assert_int_equal(fstat(m.fd, &st), 0);
	assert_int_equal(st.st_blocks, 0);
	fl_unmap(&m);

	lay.fill = NULL;
	lay.alloc = FL_ALLOC_WRITTEN;
	assert_int_equal(fl_map_open(&conf, FL_BACKING_FILE, 16 << 10, 0, &lay, &m, why, sizeof(why)), -EINVAL);
}

/* One flag per whole 2 MiB file chunk of the mapped range. */
static void extents_per_2m_chunk(void **s)
{
	struct fl_map_layout lay = { .file_off = SZ_4K };
	struct fl_mapping m;
	uint64_t base = 0;
	uint8_t *ok = NULL;
	char why[256];
	long n;

	assert_int_equal(fl_map_open(&conf, FL_BACKING_FILE, 6 << 20, FL_MAP_EXACT | FL_MAP_VA_ANY, &lay, &m,
				     why, sizeof(why)), 0);
	assert_int_equal(fallocate(m.fd, 0, 0, (off_t)(SZ_4K + (6 << 20))), 0);
	n = fl_map_extents(&m, &base, &ok);
	fl_unmap(&m);
	if (n < 0) {
		print_message("skip: no FIEMAP on %s\n", conf.file_dir);
		skip();
	}
	/* [4K, 6M + 4K): the chunks at 2M and 4M lie wholly inside. */
	assert_int_equal(n, 2);
	assert_int_equal(base, SZ_2M);
	free(ok);
}

/* A failed mmap leaves the reservation and the file to fl_unmap. */
static void failed_mmap_is_unmapped(void **s)
{
	struct fl_mapping m;
	char why[256];

	assert_int_equal(fl_map_open(&conf, FL_BACKING_FILE, 64 << 10, FL_MAP_SYNC, NULL, &m, why, sizeof(why)), 0);
	assert_int_equal(fl_map_mmap(&m), -EOPNOTSUPP);
	assert_null(m.addr);
	assert_non_null(m.map_addr);
	fl_unmap(&m);
	assert_null(m.map_addr);
	assert_int_equal(m.fd, -1);
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
		cmocka_unit_test(length_is_what_is_mapped),
		cmocka_unit_test(va_offset_from_the_page_boundary),
		cmocka_unit_test(file_offset_and_allocation),
		cmocka_unit_test(extents_per_2m_chunk),
		cmocka_unit_test(failed_mmap_is_unmapped),
		cmocka_unit_test(unknown_backing_name),
	};

	return cmocka_run_group_tests_name("backing", tests, NULL, NULL);
}
