/* SPDX-License-Identifier: GPL-2.0 */
/*
 * `faultline stress`: workloads run concurrently for a duration while
 * perturbers chosen by a seeded generator disturb the memory around them;
 * every workload keeps verifying its data.  A mismatch stops the run and
 * leaves stress.json (seed, workload, offsets, perturbation history) and a
 * job file that replays it.  Format: docs/results.md, "stress.json".
 */
#ifndef FL_STRESS_H
#define FL_STRESS_H

/* argv[0] is "stress"; full_argc/full_argv are recorded in run.json. */
int fl_stress_main(int argc, char **argv, int full_argc, char **full_argv);

#endif
