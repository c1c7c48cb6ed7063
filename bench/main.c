// SPDX-License-Identifier: GPL-2.0
/*
 * faultline: benchmark and stress suite for the kernel's HMM, GUP and DAX
 * paths.  Commands: list, describe, run, env, report, workload-table.
 */
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "core.h"
#include "env.h"
#include "runner.h"
#include "stress.h"

static const char usage[] =
"usage: faultline COMMAND [ARGS]\n"
"\n"
"  list                         workloads, backings, and whether each can run here\n"
"  describe WORKLOAD            options, kernel paths and prerequisites of a workload\n"
"  run [FILE.job | WORKLOAD...] [options]\n"
"                               run cases; results go to results/<run-id>/\n"
"  env                          the environment record (JSON)\n"
"  report DIR... [options]      compare result folders (scripts/report)\n"
"  stress [--mix W1,W2 | --suite FILE] [--duration T] [--seed N] [--threads N]\n"
"                               workloads side by side under seeded perturbations,\n"
"                               verifying data; --replay DIR [--shrink] (stress --help)\n"
"  workload-table               the README's workload table (Markdown)\n"
"\n"
"run options:\n"
"  -b, --backing B[,B...]       memory backings (see 'faultline list')\n"
"  -s, --set KEY=VALUE          set a workload or core option (repeatable)\n"
"  -r, --repeat N               measured repetitions per case\n"
"  -w, --warmup N               warm-up repetitions, discarded\n"
"  -t, --threads N              workers per case (0 = one per core)\n"
"  -c, --cpus LIST              CPUs to bind workers to, e.g. 0-3,8\n"
"  -n, --node N                 NUMA node for workers' memory\n"
"  -p, --prepare                change system settings cases need; restored at exit\n"
"  -o, --out DIR                results folder (default results/<run-id>)\n"
"      --section S[,S...]       run only these sections of the job file (as fio's)\n"
"      --resume                 skip cases already recorded in --out DIR\n"
"      --dry-run                validate and list the cases, run nothing\n"
"  -q, --quiet                  no per-case summary lines\n"
"\n"
"Exit status: 0 all cases passed or skipped, 1 a case failed or errored,\n"
"2 usage or input error (nothing ran), 3 internal error, 130 interrupted.\n";

static int __attribute__((format(printf, 1, 2)))
usage_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "faultline: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return FL_EXIT_USAGE;
}

static const char *default_reason(const struct workload *wl, char *buf, size_t len)
{
	struct fl_core_conf core;
	void *cfg = calloc(1, wl->config_size ? wl->config_size : 1);
	struct fl_case c = { 0 };
	const char *why = NULL;
	char err[256];

	fl_opt_defaults(fl_core_options, &core, err, sizeof(err));
	fl_opt_defaults(wl->options, cfg, err, sizeof(err));
	c.wl = wl;
	c.config = cfg;
	c.bconf = &core.bconf;
	c.nr_workers = 1;
	c.backing = (enum fl_backing_id)__builtin_ctz(wl->default_backings ? wl->default_backings :
						      wl->backings);
	if (wl->supported)
		why = wl->supported(&c);
	if (why) {
		snprintf(buf, len, "%s", why);
		why = buf;
	}
	free(cfg);
	return why;
}

static int cmd_list(void)
{
	struct fl_core_conf core;
	char err[256], bk[256], buf[512];

	fl_opt_defaults(fl_core_options, &core, err, sizeof(err));
	printf("%-20s %-8s %-44s %s\n", "WORKLOAD", "STATUS", "BACKINGS", "SUMMARY");
	for (const struct workload *const *w = fl_workloads; *w; w++) {
		const char *why = default_reason(*w, buf, sizeof(buf));

		fl_backing_mask_str((*w)->backings, bk, sizeof(bk));
		printf("%-20s %-8s %-44s %s\n", (*w)->name, why ? "skip" : "ready", bk, (*w)->summary);
		if (why)
			printf("%-20s   skip: %s\n", "", why);
	}
	printf("\n%-12s %-8s %s\n", "BACKING", "STATUS", "SUMMARY");
	for (int b = 0; b < FL_BACKING_COUNT; b++) {
		const struct fl_backing *bd = &fl_backings[b];
		/* Availability of one page of it; sizes are checked per case. */
		const char *why = bd->available ? bd->available(&core.bconf, bd->page_size, buf, sizeof(buf)) : NULL;

		printf("%-12s %-8s %s\n", bd->name, why ? "skip" : "ready", bd->summary);
		if (why)
			printf("%-12s   skip: %s\n", "", why);
	}
	return 0;
}

static void print_options(const struct fl_option *o)
{
	char range[256];

	printf("  %-14s %-7s %-22s %-10s %s\n", "OPTION", "TYPE", "RANGE", "DEFAULT", "HELP");
	for (; o && o->name; o++) {
		fl_opt_range_str(o, range, sizeof(range));
		printf("  %-14s %-7s %-22s %-10s %s\n", o->name, fl_opt_type_name(o->type), range,
		       *o->def ? o->def : "\"\"", o->help);
	}
}

static int cmd_describe(const char *name)
{
	const struct workload *wl = fl_workload_by_name(name);
	char bk[256], buf[512];
	const char *why;

	if (!wl)
		return usage_error("unknown workload '%s' (see 'faultline list')", name);
	why = default_reason(wl, buf, sizeof(buf));
	fl_backing_mask_str(wl->backings, bk, sizeof(bk));
	printf("%s: %s\n\n", wl->name, wl->summary);
	printf("kernel paths: %s\n", wl->kernel_paths);
	printf("needs:        %s\n", wl->needs);
	printf("backings:     %s\n", bk);
	fl_backing_mask_str(wl->default_backings ? wl->default_backings : wl->backings, bk, sizeof(bk));
	printf("default:      %s\n", bk);
	printf("mode:         %s, unit: %s\n", wl->mode == FL_MODE_SAMPLED ?
	       "sampled (free-running workers, one sample per interval)" :
	       "batch (one timed batch per worker per repetition)", wl->op_unit);
	for (int i = 0; i < FL_MAX_LAT && wl->lat[i].name; i++)
		printf("latency:      %s — %s\n", wl->lat[i].name, wl->lat[i].help);
	printf("here:         %s\n\noptions (--set NAME=VALUE, or NAME=VALUE in a job section):\n",
	       why ? why : "ready");
	print_options(wl->options);
	printf("\ncore options (any workload; [global] or a section):\n");
	print_options(fl_core_options);
	return 0;
}

/* A Markdown table cell: '|' would end the cell. */
static void md_cell(const char *s)
{
	for (; *s; s++) {
		if (*s == '|')
			putchar('\\');
		putchar(*s);
	}
}

/* Markdown for the README, from the same tables `describe` prints. */
static int cmd_workload_table(void)
{
	char bk[256], range[256];

	printf("| workload | what it measures | backings | options |\n|---|---|---|---|\n");
	for (const struct workload *const *w = fl_workloads; *w; w++) {
		fl_backing_mask_str((*w)->backings, bk, sizeof(bk));
		printf("| `%s` | ", (*w)->name);
		md_cell((*w)->summary);
		printf(" | %s | ", bk);
		for (const struct fl_option *o = (*w)->options; o && o->name; o++) {
			fl_opt_range_str(o, range, sizeof(range));
			printf("%s`%s`=%s (", o == (*w)->options ? "" : "<br>", o->name,
			       *o->def ? o->def : "\"\"");
			md_cell(range);
			printf("): ");
			md_cell(o->help);
		}
		printf(" |\n");
	}
	return 0;
}

static int cmd_env(void)
{
	json_t *env = fl_env_json();

	json_dumpf(env, stdout, JSON_INDENT(2) | JSON_SORT_KEYS);
	putchar('\n');
	json_decref(env);
	return 0;
}

static int cmd_report(int argc, char **argv, const char *self)
{
	char dir[PATH_MAX], script[PATH_MAX + 32];
	ssize_t n = readlink("/proc/self/exe", dir, sizeof(dir) - 1);
	char *slash;

	(void)self;
	if (n <= 0)
		return FL_EXIT_INTERNAL;
	dir[n] = '\0';
	/* build/faultline -> scripts/report beside build/ */
	slash = strrchr(dir, '/');
	if (slash)
		*slash = '\0';
	snprintf(script, sizeof(script), "%s/../scripts/report", dir);
	if (access(script, X_OK)) {
		snprintf(script, sizeof(script), "%s/../share/faultline/report", dir);
		if (access(script, X_OK)) {
			fprintf(stderr, "faultline: report: scripts/report not found beside %s\n", dir);
			return FL_EXIT_INTERNAL;
		}
	}
	argv[0] = script;
	execv(script, argv);
	perror("faultline: exec scripts/report");
	return FL_EXIT_INTERNAL;
}

static bool is_job_file(const char *arg)
{
	size_t n = strlen(arg);

	return n > 4 && !strcmp(arg + n - 4, ".job");
}

static int cmd_run(int argc, char **argv, int full_argc, char **full_argv)
{
	static const struct option lopts[] = {
		{ "backing", required_argument, NULL, 'b' },
		{ "set", required_argument, NULL, 's' },
		{ "repeat", required_argument, NULL, 'r' },
		{ "warmup", required_argument, NULL, 'w' },
		{ "threads", required_argument, NULL, 't' },
		{ "cpus", required_argument, NULL, 'c' },
		{ "node", required_argument, NULL, 'n' },
		{ "prepare", no_argument, NULL, 'p' },
		{ "out", required_argument, NULL, 'o' },
		{ "resume", no_argument, NULL, 'R' },
		{ "section", required_argument, NULL, 'S' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "dry-run", no_argument, NULL, 'D' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct fl_run_opts ro = { .argc = full_argc, .argv = full_argv };
	static struct fl_job job;
	struct fl_plan plan;
	const char *backing = NULL, *sections = NULL;
	char *sets[64], core_sets[8][300];
	unsigned nsets = 0, ncore = 0;
	bool dry_run = false;
	char err[1024];
	int opt, ret;

	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "b:s:r:w:t:c:n:po:qh", lopts, NULL)) != -1) {
		switch (opt) {
		case 'b': backing = optarg; break;
		case 's':
			if (nsets == 64)
				return usage_error("%s", "too many --set options (max 64)");
			sets[nsets++] = optarg;
			break;
		case 'r': case 'w': case 't': case 'c': case 'n': {
			const char *key = opt == 'r' ? "repeat" : opt == 'w' ? "warmup" :
					  opt == 't' ? "threads" : opt == 'c' ? "cpus" : "node";

			snprintf(core_sets[ncore], sizeof(core_sets[0]), "%s=%s", key, optarg);
			sets[nsets++] = core_sets[ncore++];
			if (ncore == 8)
				return usage_error("%s", "too many core options");
			break;
		}
		case 'p': ro.prepare = true; break;
		case 'o': ro.out_dir = optarg; break;
		case 'R': ro.resume = true; break;
		case 'S': sections = optarg; break;
		case 'q': ro.quiet = true; break;
		case 'D': dry_run = true; break;
		case 'h': fputs(usage, stdout); return 0;
		case ':':
			return usage_error("option '%s' needs a value", argv[optind - 1]);
		default:
			return usage_error("unknown option '%s' (see 'faultline --help')", argv[optind - 1]);
		}
	}
	if (ro.resume && !ro.out_dir)
		return usage_error("%s", "--resume needs --out DIR");
	if (optind >= argc)
		return usage_error("%s", "run: name a job file or at least one workload");

	memset(&job, 0, sizeof(job));
	if (is_job_file(argv[optind])) {
		if (argc - optind > 1)
			return usage_error("run: give one job file, or workloads, not both ('%s')", argv[optind + 1]);
		if (fl_job_load(argv[optind], &job, err, sizeof(err))) {
			fprintf(stderr, "faultline: %s\n", err);
			return FL_EXIT_USAGE;
		}
	} else {
		snprintf(job.source, sizeof(job.source), "command line");
		for (int i = optind; i < argc; i++) {
			if (fl_job_add_workload(&job, argv[i], "command line", err, sizeof(err))) {
				fprintf(stderr, "faultline: %s\n", err);
				return FL_EXIT_USAGE;
			}
		}
	}
	if (sections && fl_job_keep_sections(&job, sections, err, sizeof(err))) {
		fprintf(stderr, "faultline: %s\n", err);
		return FL_EXIT_USAGE;
	}
	if (fl_job_finish(&job, sets, nsets, backing, &plan, err, sizeof(err))) {
		fprintf(stderr, "faultline: %s\n", err);
		return FL_EXIT_USAGE;
	}
	if (dry_run) {
		/* Validated and expanded; nothing runs. */
		for (unsigned i = 0; i < plan.nr_cases; i++)
			printf("%s\n", plan.cases[i].label);
		fl_plan_free(&plan);
		return FL_EXIT_OK;
	}
	ret = fl_run_plan(&plan, &ro);
	fl_plan_free(&plan);
	return ret;
}

int main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : NULL;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!cmd || !strcmp(cmd, "-h") || !strcmp(cmd, "--help") || !strcmp(cmd, "help")) {
		fputs(usage, cmd ? stdout : stderr);
		return cmd ? 0 : FL_EXIT_USAGE;
	}
	if (!strcmp(cmd, "--version")) {
		printf("faultline %s\n", FL_VERSION);
		return 0;
	}
	if (!strcmp(cmd, "list"))
		return argc == 2 ? cmd_list() : usage_error("list takes no arguments ('%s')", argv[2]);
	if (!strcmp(cmd, "describe")) {
		if (argc != 3)
			return usage_error("%s", "describe takes one workload name");
		return cmd_describe(argv[2]);
	}
	if (!strcmp(cmd, "workload-table"))
		return cmd_workload_table();
	if (!strcmp(cmd, "env"))
		return argc == 2 ? cmd_env() : usage_error("env takes no arguments ('%s')", argv[2]);
	if (!strcmp(cmd, "run"))
		return cmd_run(argc - 1, argv + 1, argc, argv);
	if (!strcmp(cmd, "stress"))
		return fl_stress_main(argc - 1, argv + 1, argc, argv);
	if (!strcmp(cmd, "report"))
		return cmd_report(argc - 1, argv + 1, argv[0]);
	return usage_error("unknown command '%s' (see 'faultline --help')", cmd);
}
