// SPDX-License-Identifier: GPL-2.0
/*
 * Symbolic errno names for the records: kernel behaviour is compared across
 * versions by name ("EOPNOTSUPP" on 6.1, "EFAULT" on 6.18).  A table, not
 * strerrorname_np(): that is glibc 2.32+, and bullseye (the 5.10 roots of
 * scripts/vm) has 2.31.
 */
#include <errno.h>
#include <stdio.h>

#include "workload.h"

const char *fl_errno_name(int e)
{
#define E(x) [x] = #x
	static const char *const names[] = {
		E(EPERM), E(ENOENT), E(ESRCH), E(EINTR), E(EIO), E(ENXIO), E(E2BIG),
		E(EBADF), E(EAGAIN), E(ENOMEM), E(EACCES), E(EFAULT), E(EBUSY),
		E(EEXIST), E(ENODEV), E(EINVAL), E(ENFILE), E(EMFILE), E(ENOTTY),
		E(EFBIG), E(ENOSPC), E(ESPIPE), E(EROFS), E(ERANGE), E(ENOSYS),
		E(EOPNOTSUPP), E(EOVERFLOW), E(ETIMEDOUT), E(ECANCELED), E(EHWPOISON),
	};
#undef E
	static __thread char buf[24];

	e = e < 0 ? -e : e;
	if ((size_t)e < sizeof(names) / sizeof(names[0]) && names[e])
		return names[e];
	snprintf(buf, sizeof(buf), "errno %d", e);
	return buf;
}
