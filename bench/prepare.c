// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "prepare.h"
#include "sysfs.h"

#define MAX_CHANGES 16

struct change {
	char path[160];
	char from[64];
	char to[64];
	bool restored;
	int restore_err;
};

static struct change changes[MAX_CHANGES];
static unsigned nr_changes;
static json_t *actions;

static int set_setting(const char *path, const char *value, bool bracketed)
{
	char old[64];
	struct change *c = NULL;
	int ret;

	if ((bracketed ? fl_sysfs_bracketed(path, old, sizeof(old)) :
			 fl_sysfs_read(path, old, sizeof(old))))
		return -ENOENT;
	for (unsigned i = 0; i < nr_changes; i++)
		if (!strcmp(changes[i].path, path))
			c = &changes[i];
	if (!c && nr_changes < MAX_CHANGES) {
		c = &changes[nr_changes++];
		snprintf(c->path, sizeof(c->path), "%s", path);
		snprintf(c->from, sizeof(c->from), "%s", old);
	}
	ret = fl_sysfs_write(path, value);
	if (c && !ret)
		snprintf(c->to, sizeof(c->to), "%s", value);
	return ret;
}

static void action(const char *what, int err)
{
	if (!actions)
		actions = json_array();
	json_array_append_new(actions, json_pack("{s:s, s:s}", "action", what,
						 "result", err ? strerror(-err) : "ok"));
}

int fl_prepare_begin(const struct fl_plan *plan, char *err, size_t errlen)
{
	static const char *const modes[] = { NULL, "always", "madvise", "never" };
	struct rlimit rl = { RLIM_INFINITY, RLIM_INFINITY };
	int mode = plan->nr_cases ? plan->cases[0].core.thp_mode : FL_THP_KEEP;
	int ret = 0;

	atexit(fl_prepare_end);
	/* Process-local: pinning workloads need it; nothing to restore. */
	action("setrlimit(RLIMIT_MEMLOCK, unlimited)", setrlimit(RLIMIT_MEMLOCK, &rl) ? -errno : 0);
	if (mode != FL_THP_KEEP) {
		ret = set_setting("/sys/kernel/mm/transparent_hugepage/enabled", modes[mode], true);
		action("transparent_hugepage/enabled", ret);
		if (ret)
			snprintf(err, errlen, "cannot set THP mode %s in /sys/kernel/mm/transparent_hugepage/enabled: %s%s",
				 modes[mode], strerror(-ret), ret == -EACCES || ret == -EPERM ? " (needs root)" : "");
	}
	return ret;
}

static void reserve_hugetlb(size_t page, uint64_t need)
{
	char dir[96], path[160], val[32];
	long long nr = 0, fr = 0;
	int ret;

	snprintf(dir, sizeof(dir), "/sys/kernel/mm/hugepages/hugepages-%zukB", page >> 10);
	snprintf(path, sizeof(path), "%s/free_hugepages", dir);
	if (fl_sysfs_read_ll(path, &fr) || (uint64_t)fr >= need)
		return;
	snprintf(path, sizeof(path), "%s/nr_hugepages", dir);
	if (fl_sysfs_read_ll(path, &nr))
		return;
	/* Compact first: the pool grows only from free contiguous memory. */
	fl_sysfs_write("/proc/sys/vm/drop_caches", "3");
	fl_sysfs_write("/proc/sys/vm/compact_memory", "1");
	snprintf(val, sizeof(val), "%lld", nr + (long long)(need - (uint64_t)fr));
	ret = set_setting(path, val, false);
	snprintf(path, sizeof(path), "reserve %" PRIu64 " x %zu kB hugetlb pages", need, page >> 10);
	action(path, ret);
}

void fl_prepare_case(const struct fl_case_def *def, unsigned nr_cores)
{
	struct fl_case c = { .wl = def->wl, .backing = def->backing, .config = def->config,
			     .bconf = &def->core.bconf };
	unsigned nw = def->core.threads ? (unsigned)def->core.threads : nr_cores;
	size_t bytes;

	c.nr_workers = nw;
	bytes = def->wl->footprint ? def->wl->footprint(&c) * nw : 0;
	switch (def->backing) {
	case FL_BACKING_HUGETLB_2M:
		reserve_hugetlb(2ul << 20, (bytes + (2ul << 20) - 1) >> 21);
		break;
	case FL_BACKING_HUGETLB_1G:
		reserve_hugetlb(1ul << 30, (bytes + (1ul << 30) - 1) >> 30);
		break;
	case FL_BACKING_THP:
		/* Huge pages need free contiguous memory: start every THP case from the same state. */
		action("drop_caches", fl_sysfs_write("/proc/sys/vm/drop_caches", "3"));
		action("compact_memory", fl_sysfs_write("/proc/sys/vm/compact_memory", "1"));
		break;
	default:
		break;
	}
}

void fl_prepare_end(void)
{
	/* Reverse order, each setting back to what it was before the first change. */
	for (unsigned i = nr_changes; i-- > 0;) {
		struct change *c = &changes[i];

		if (c->restored)
			continue;
		c->restore_err = fl_sysfs_write(c->path, c->from);
		c->restored = true;
	}
}

json_t *fl_prepare_json(void)
{
	json_t *a = json_array();

	for (unsigned i = 0; i < nr_changes; i++)
		json_array_append_new(a, json_pack("{s:s, s:s, s:s, s:b, s:s}", "setting", changes[i].path,
						   "from", changes[i].from, "to", changes[i].to,
						   "restored", changes[i].restored,
						   "restore_result", changes[i].restore_err ?
						   strerror(-changes[i].restore_err) : "ok"));
	return json_pack("{s:o, s:o}", "changes", a, "actions", actions ? json_incref(actions) : json_array());
}
