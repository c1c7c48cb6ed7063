/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Core options (shared by the CLI and job files) and case specifications:
 * what a job file or a command line expands to before anything runs.
 */
#ifndef FL_CORE_H
#define FL_CORE_H

#include <stdint.h>
#include <stdbool.h>

#include "option.h"
#include "backing.h"
#include "workload.h"

enum fl_thp_mode { FL_THP_KEEP, FL_THP_ALWAYS, FL_THP_MADVISE, FL_THP_NEVER };

struct fl_core_conf {
	int64_t repeat;
	int64_t warmup;
	int64_t threads;	/* 0 = one per core */
	char cpus[FL_OPT_STRLEN];
	int64_t node;		/* -1 = no memory binding */
	double interval;	/* seconds per sample, sampled workloads */
	double timeout;		/* seconds a case may run before it is killed */
	int thp_mode;		/* enum fl_thp_mode, applied with --prepare */
	int processes;		/* workers are processes, not threads */
	struct fl_backing_conf bconf;
};

extern const struct fl_option fl_core_options[];

#define FL_MAX_PARAMS	32
#define FL_MAX_SPECS	256

/* key=value as written (value may be a comma list), with its origin. */
struct fl_param {
	char key[64];
	char value[FL_OPT_STRLEN];
	char origin[300];	/* "file.job:12" or "--set" */
};

/* One job section or one workload named on the command line. */
struct fl_spec {
	char name[64];
	char origin[300];
	const struct workload *wl;
	unsigned nr_params;
	struct fl_param params[FL_MAX_PARAMS];
	char backing[FL_OPT_STRLEN];	/* comma list, "" = workload default */
	char backing_origin[300];
};

struct fl_job {
	char source[256];	/* the job file, or "command line" */
	unsigned nr_specs;
	struct fl_spec specs[FL_MAX_SPECS];
	struct fl_spec global;	/* [global] params, wl == NULL */
};

/* A fully expanded, validated case ready to run. */
struct fl_case_def {
	const struct workload *wl;
	enum fl_backing_id backing;
	struct fl_core_conf core;
	void *config;			/* wl->config_size bytes */
	char label[256];		/* workload/backing/explicit params */
	char section[64];
};

struct fl_plan {
	unsigned nr_cases;
	struct fl_case_def *cases;
};

/* Parse a job file into @job.  -1 with "file:line: message" in @err. */
int fl_job_load(const char *path, struct fl_job *job, char *err, size_t errlen);
/*
 * Keep only the sections named in @list (comma-separated, like fio's
 * --section), in job order.  -1 naming the job's sections when a name is
 * not one of them.
 */
int fl_job_keep_sections(struct fl_job *job, const char *list, char *err, size_t errlen);
/* Append a --set key=value (applies to [global]). */
int fl_job_set(struct fl_job *job, const char *kv, char *err, size_t errlen);
/*
 * Add one section running @name, as named on a command line (@origin:
 * "command line", "--mix").  -1 with a message for an unknown workload or
 * a full job.
 */
int fl_job_add_workload(struct fl_job *job, const char *name, const char *origin,
			char *err, size_t errlen);
/* The tail every command shares: apply --set values, then expand. */
int fl_job_finish(struct fl_job *job, char *const *sets, unsigned nsets,
		  const char *backing_override, struct fl_plan *plan, char *err, size_t errlen);
/* Expand and validate every case; nothing is run.  -1 with message in @err. */
int fl_job_expand(const struct fl_job *job, const char *backing_override,
		  struct fl_plan *plan, char *err, size_t errlen);
void fl_plan_free(struct fl_plan *plan);

/* "0-3,6" -> mask of CPUs; -1 on syntax error. */
int fl_parse_cpulist(const char *s, uint64_t *mask, unsigned nbits);

#endif
