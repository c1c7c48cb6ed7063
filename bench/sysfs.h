/* SPDX-License-Identifier: GPL-2.0 */
/* Small readers/writers for procfs and sysfs files. */
#ifndef FL_SYSFS_H
#define FL_SYSFS_H

#include <stddef.h>

/* Whole file (trailing newline stripped) into @buf; -1 on error. */
int fl_sysfs_read(const char *path, char *buf, size_t len);
int fl_sysfs_read_ll(const char *path, long long *v);
/* The [selected] word of "always [madvise] never" style files. */
int fl_sysfs_bracketed(const char *path, char *buf, size_t len);
/* Write @val; returns 0 or -errno. */
int fl_sysfs_write(const char *path, const char *val);

int fl_find_dax_mount(char *dir, size_t len);
int fl_find_devdax(char *dev, size_t len);

#endif
