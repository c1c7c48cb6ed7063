/* SPDX-License-Identifier: GPL-2.0 */
/*
 * `faultline stress`: workloads run concurrently for a duration while
 * perturbers chosen by a seeded generator disturb the memory around them;
 * every workload keeps verifying its data.  A mismatch stops the run and
 * leaves stress.json (seed, workload, offsets, perturbation history) and a
 * job file that replays it.  Format: docs/results.md, "stress.json".
 * The command line is bench/main.c's; this is what it calls.
 */
#ifndef FL_STRESS_H
#define FL_STRESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core.h"

#define FL_STRESS_MAX_CASES	16

/* A stress run's settings: the [stress] section's keys, or the command line. */
struct fl_stress_conf {
	uint64_t seed;
	bool seed_set;			/* else fl_stress_run() draws one from the clock */
	double duration;		/* seconds */
	double history;			/* seconds of history kept in stress.json */
	unsigned perturbers;		/* mask of the perturbers asked for */
	double inject_at;		/* test hook: < 0 = off */
	char inject_key[96];		/* test hook: case key, "" = first case */
	bool quiet;
};

void fl_stress_conf_init(struct fl_stress_conf *sc);
/*
 * Set one key (seed, duration, history, perturbers; the test hooks
 * inject_corruption and inject_workload need FAULTLINE_TEST_HOOKS=1).
 * -1 with a message about @value (or the key) in @err.
 */
int fl_stress_conf_set(struct fl_stress_conf *sc, const char *key, const char *value,
		       char *err, size_t errlen);
/* Load a stress job file: its [stress] section into @sc, the rest into @job. */
int fl_stress_load_job(const char *path, struct fl_job *job, struct fl_stress_conf *sc,
		       char *err, size_t errlen);

/* One stress run of @plan's cases into @out_dir (NULL = results/<run-id>); the exit status. */
int fl_stress_run(const struct fl_plan *plan, const struct fl_stress_conf *sc, const char *out_dir,
		  int argc, char **argv);
/* Re-run the run recorded in @dir into DIR/replay-N; @shrink: write DIR/reproducer.job. */
int fl_stress_replay(const char *dir, bool shrink, bool quiet, int argc, char **argv);

#endif
