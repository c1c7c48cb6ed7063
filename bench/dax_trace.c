// SPDX-License-Identifier: GPL-2.0
/*
 * fs_dax fault events from one tracefs instance per run (see dax_trace.h).
 * Only libtracefs calls that the oldest Debian suite scripts/vm builds on
 * (bullseye, libtracefs 1.0) provides: instance files are read and
 * written by name.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <tracefs.h>

#include "dax_trace.h"

/* Set in the runner before any case is forked; the children inherit it. */
static char run_name[64];

struct fl_dax_trace {
	struct tracefs_instance *inst;
	struct tep_handle *tep;
	bool own;		/* no run: this case's instance, removed at close */
};

/* Even index: the fault starts; odd: it is done, with its result. */
static const char *const events[] = {
	"dax_pmd_fault", "dax_pmd_fault_done", "dax_pte_fault", "dax_pte_fault_done", NULL
};

void fl_dax_trace_run_begin(void)
{
	snprintf(run_name, sizeof(run_name), "faultline-dax-%d", (int)getpid());
}

/*
 * Looked up in /proc/mounts, not through libtracefs, which mounts tracefs
 * when it is not: a run that never traced must not change the system.
 */
bool fl_dax_trace_attached(void)
{
	FILE *f = run_name[0] ? fopen("/proc/mounts", "r") : NULL;
	char src[256], mnt[256], type[64], path[600];
	bool found = false;

	if (!f)
		return false;
	while (!found && fscanf(f, "%255s %255s %63s %*[^\n]", src, mnt, type) == 3) {
		if (strcmp(type, "tracefs"))
			continue;
		snprintf(path, sizeof(path), "%s/instances/%s", mnt, run_name);
		found = !access(path, F_OK);
	}
	fclose(f);
	return found;
}

void fl_dax_trace_run_end(void)
{
	struct tracefs_instance *inst;

	/* Opens the existing instance: removing it disables the events. */
	if (fl_dax_trace_attached() && (inst = tracefs_instance_create(run_name))) {
		tracefs_instance_destroy(inst);
		tracefs_instance_free(inst);
	}
	run_name[0] = '\0';
}

/* Enable what is not enabled yet: only the run's first tracing case patches text. */
static int enable_events(struct tracefs_instance *inst, char *why, size_t whylen)
{
	char file[128], *val;
	bool on;

	for (const char *const *e = events; *e; e++) {
		snprintf(file, sizeof(file), "events/fs_dax/%s/enable", *e);
		val = tracefs_instance_file_read(inst, file, NULL);
		on = val && val[0] == '1';
		free(val);
		if (!on && tracefs_instance_file_write(inst, file, "1") < 0)
			return snprintf(why, whylen, "cannot enable fs_dax:%s", *e), -1;
	}
	return 0;
}

struct fl_dax_trace *fl_dax_trace_open(char *why, size_t whylen)
{
	static const char *const systems[] = { "fs_dax", NULL };
	struct fl_dax_trace *t;
	char name[64];

	if (geteuid())
		return snprintf(why, whylen, "not root: no tracefs"), NULL;
	t = calloc(1, sizeof(*t));
	if (!t)
		return snprintf(why, whylen, "no memory"), NULL;
	t->own = !run_name[0];
	if (t->own)
		snprintf(name, sizeof(name), "faultline-dax-%d", (int)getpid());
	else
		snprintf(name, sizeof(name), "%s", run_name);
	t->inst = tracefs_instance_create(name);
	if (!t->inst) {
		snprintf(why, whylen, "cannot create tracefs instance %s: %s", name, strerror(errno));
		goto fail;
	}
	t->tep = tracefs_local_events_system(NULL, systems);
	if (!t->tep) {
		snprintf(why, whylen, "no fs_dax trace events (CONFIG_FS_DAX, tracefs mounted?)");
		goto fail;
	}
	/* pte fallback of 256 MiB is 65536 pairs of events. */
	if (tracefs_instance_is_new(t->inst))
		tracefs_instance_file_write(t->inst, "buffer_size_kb", "16384");
	if (enable_events(t->inst, why, whylen))
		goto fail;
	tracefs_instance_file_write(t->inst, "tracing_on", "1");
	fl_dax_trace_clear(t);
	return t;
fail:
	fl_dax_trace_close(t);
	return NULL;
}

/* Opening "trace" with O_TRUNC resets the instance's buffer. */
void fl_dax_trace_clear(struct fl_dax_trace *t)
{
	tracefs_instance_file_write(t->inst, "trace", "");
}

struct reader {
	void (*fn)(const struct fl_dax_fault *f, void *ctx);
	void *ctx;
};

static uint64_t field(struct tep_event *ev, struct tep_record *rec, const char *name)
{
	unsigned long long v = 0;

	tep_get_field_val(NULL, ev, name, rec, &v, 0);
	return v;
}

static int event_cb(struct tep_event *ev, struct tep_record *rec, int cpu, void *arg)
{
	const struct reader *r = arg;
	struct fl_dax_fault f = { .cpu = cpu, .ts = rec->ts };
	int i;

	if (strcmp(ev->system, "fs_dax"))
		return 0;
	for (i = 0; events[i] && strcmp(ev->name, events[i]); i++)
		;
	if (!events[i])
		return 0;
	f.pmd = i < 2;
	f.done = i % 2;
	f.address = field(ev, rec, "address");
	f.pgoff = field(ev, rec, "pgoff");
	f.flags = field(ev, rec, "flags");
	f.vm_flags = field(ev, rec, "vm_flags");
	f.result = field(ev, rec, "result");
	if (f.pmd) {
		f.vm_start = field(ev, rec, "vm_start");
		f.vm_end = field(ev, rec, "vm_end");
		f.max_pgoff = field(ev, rec, "max_pgoff");
	}
	r->fn(&f, r->ctx);
	return 0;
}

void fl_dax_trace_read(struct fl_dax_trace *t,
		       void (*fn)(const struct fl_dax_fault *f, void *ctx), void *ctx)
{
	struct reader r = { fn, ctx };

	tracefs_iterate_raw_events(t->tep, t->inst, NULL, 0, event_cb, &r);
}

void fl_dax_trace_close(struct fl_dax_trace *t)
{
	if (!t)
		return;
	if (t->inst) {
		if (t->own)
			tracefs_instance_destroy(t->inst);
		else
			tracefs_instance_file_write(t->inst, "tracing_on", "0");
		tracefs_instance_free(t->inst);
	}
	if (t->tep)
		tep_free(t->tep);
	free(t);
}
