/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Kernel ABI values the oldest C library we build against lacks (bullseye's
 * glibc 2.31 for the 5.10 guests), in one place, plus the page-size
 * constants the backings and workloads share.  The values are the kernel's
 * uapi ones; they never change once released.
 */
#ifndef FL_MMFLAGS_H
#define FL_MMFLAGS_H

#include <sys/mman.h>
#include <sys/stat.h>

#ifndef MAP_HUGE_2MB
#define MAP_HUGE_2MB		(21 << MAP_HUGE_SHIFT)
#define MAP_HUGE_1GB		(30 << MAP_HUGE_SHIFT)
#endif
#ifndef MAP_SHARED_VALIDATE
#define MAP_SHARED_VALIDATE	0x03		/* 4.15 */
#endif
#ifndef MAP_SYNC
#define MAP_SYNC		0x80000		/* 4.15 */
#endif
#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE	0x100000	/* 4.17 */
#endif
#ifndef MADV_WIPEONFORK
#define MADV_WIPEONFORK		18		/* 4.14 */
#endif
#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT		21		/* 5.4 */
#endif
#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ	22		/* 5.14 */
#define MADV_POPULATE_WRITE	23
#endif
#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE		25		/* 6.1 */
#endif
#ifndef STATX_ATTR_DAX
#define STATX_ATTR_DAX		0x00200000	/* 5.8 */
#endif

#define SZ_4K	4096ul
#define SZ_2M	(2ul << 20)
#define SZ_1G	(1ul << 30)

#endif
