// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sysfs.h"

int fl_sysfs_read(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -1;
	buf[n] = '\0';
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		buf[--n] = '\0';
	return 0;
}

int fl_sysfs_read_ll(const char *path, long long *v)
{
	char buf[64], *end;

	if (fl_sysfs_read(path, buf, sizeof(buf)))
		return -1;
	*v = strtoll(buf, &end, 10);
	return end == buf ? -1 : 0;
}

int fl_sysfs_bracketed(const char *path, char *buf, size_t len)
{
	char all[256], *l, *r;

	if (fl_sysfs_read(path, all, sizeof(all)))
		return -1;
	l = strchr(all, '[');
	r = l ? strchr(l, ']') : NULL;
	if (!l || !r) {
		snprintf(buf, len, "%s", all);
		return 0;
	}
	*r = '\0';
	snprintf(buf, len, "%s", l + 1);
	return 0;
}

int fl_sysfs_write(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;
	int e;

	if (fd < 0)
		return -errno;
	n = write(fd, val, strlen(val));
	e = errno;
	close(fd);
	return n < 0 ? -e : 0;
}
