// SPDX-License-Identifier: GPL-2.0
/*
 * faultline: benchmark and stress suite for the kernel's HMM, GUP and DAX
 * paths.  Commands: list, describe, run, stress, env, report, workload-table.
 * run and stress share one option table (cli_opts) and its parser.
 */
#include <getopt.h>
#include <stddef.h>
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
"  workload-table               the README's workload table (Markdown)\n";

static const char stress_usage[] =
"usage: faultline stress [--mix W1,W2,... | --suite FILE.job] [options]\n"
"       faultline stress --replay DIR [--shrink]\n";

static const char run_exit[] =
"Exit status: 0 all cases passed or skipped, 1 a case failed or errored,\n"
"2 usage or input error (nothing ran), 3 internal error, 130 interrupted.\n";

static const char stress_exit[] =
"Exit status: 0 no mismatch, 1 a mismatch, failure or error (details in stress.json),\n"
"2 usage or input error, 130 interrupted.\n";

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

/* ---- the command line of run and stress: one option table, one parser ---- */

enum { CMD_RUN = 1u, CMD_STRESS = 2u };
enum cli_kind {
	CLI_STR,	/* a value kept in struct cli */
	CLI_FLAG,	/* a bool in struct cli */
	CLI_SET,	/* --set KEY=VALUE */
	CLI_CORE,	/* a core option's shorthand: --set KEY=VALUE */
	CLI_STRESS,	/* a stress setting (fl_stress_conf_set) */
};

#define CLI_MAX_SETS	64
#define CLI_MAX_CORE	8

struct cli {
	const char *backing, *out, *sections, *mix, *suite, *replay, *junit;
	bool prepare, resume, quiet, dry_run, shrink, help, tap;
	char *sets[CLI_MAX_SETS + CLI_MAX_CORE];
	unsigned nsets, ncore;
	char core_sets[CLI_MAX_CORE][300];
	struct { const char *flag, *key, *value; } stress[16];
	unsigned nstress;
};

struct cli_opt {
	const char *name;
	int short_name;		/* 0: long only */
	const char *arg;	/* the value in --help; NULL: a flag */
	unsigned cmds;
	enum cli_kind kind;
	size_t off;		/* CLI_STR, CLI_FLAG: the field of struct cli */
	const char *key;	/* CLI_CORE, CLI_STRESS: the setting */
	const char *help;
};

#define O_STR(nm, sh, a, cm, field, h)	{ nm, sh, a, cm, CLI_STR, offsetof(struct cli, field), NULL, h }
#define O_FLAG(nm, sh, cm, field, h)	{ nm, sh, NULL, cm, CLI_FLAG, offsetof(struct cli, field), NULL, h }
#define O_KEY(nm, sh, a, cm, kd, k, h)	{ nm, sh, a, cm, kd, 0, k, h }

static const struct cli_opt cli_opts[] = {
	O_STR("mix", 'm', "LIST", CMD_STRESS, mix, "workloads to run side by side (each on its default backings)"),
	O_STR("suite", 'S', "FILE", CMD_STRESS, suite,
	      "a job file: its cases run side by side; an optional [stress]\n"
	      "section sets seed=, duration=, history=, perturbers="),
	O_KEY("duration", 'd', "T", CMD_STRESS, CLI_STRESS, "duration", "how long: 90, 90s, 10m, 1h (default 60s)"),
	O_KEY("seed", 0, "N", CMD_STRESS, CLI_STRESS, "seed", "the schedule's seed (default: from the clock; printed)"),
	O_KEY("perturbers", 'P', "LIST", CMD_STRESS, CLI_STRESS, "perturbers",
	      "perturbers to use (default all): remap, mprotect, dontneed,\n"
	      "pageout, collapse, thp-split, numa-migrate, fork-storm,\ncompact, memcg-pressure"),
	O_STR("backing", 'b', "B[,B...]", CMD_RUN | CMD_STRESS, backing, "memory backings (see 'faultline list')"),
	O_KEY("set", 's', "KEY=VALUE", CMD_RUN | CMD_STRESS, CLI_SET, NULL,
	      "set a workload or core option (repeatable)"),
	O_KEY("repeat", 'r', "N", CMD_RUN, CLI_CORE, "repeat", "measured repetitions per case"),
	O_KEY("warmup", 'w', "N", CMD_RUN, CLI_CORE, "warmup", "warm-up repetitions, discarded"),
	O_KEY("threads", 't', "N", CMD_RUN | CMD_STRESS, CLI_CORE, "threads", "workers per case (0 = one per core)"),
	O_KEY("cpus", 'c', "LIST", CMD_RUN, CLI_CORE, "cpus", "CPUs to bind workers to, e.g. 0-3,8"),
	O_KEY("node", 'n', "N", CMD_RUN, CLI_CORE, "node", "NUMA node for workers' memory"),
	O_FLAG("prepare", 'p', CMD_RUN, prepare, "change system settings cases need; restored at exit"),
	O_STR("out", 'o', "DIR", CMD_RUN | CMD_STRESS, out, "results folder (default results/<run-id>)"),
	O_STR("section", 0, "S[,S...]", CMD_RUN, sections, "run only these sections of the job file (as fio's)"),
	O_FLAG("resume", 0, CMD_RUN, resume, "skip cases already recorded in --out DIR"),
	O_FLAG("dry-run", 0, CMD_RUN, dry_run, "validate and list the cases, run nothing"),
	O_FLAG("quiet", 'q', CMD_RUN | CMD_STRESS, quiet, "no per-case summary or progress lines"),
	O_FLAG("tap", 0, CMD_RUN, tap, "stdout: a kselftest-style TAP stream, one test point per case\n"
	       "(progress and summary lines go to stderr)"),
	O_STR("junit", 0, "FILE", CMD_RUN, junit, "also write the run's cases as JUnit XML to FILE"),
	O_STR("replay", 0, "DIR", CMD_STRESS, replay,
	      "re-run a recorded stress run (its stress.job) into DIR/replay-N"),
	O_FLAG("shrink", 0, CMD_STRESS, shrink,
	       "with --replay: drop cases and perturbers while the failure\n"
	       "persists; writes DIR/reproducer.job"),
	O_KEY("inject-corruption", 0, "T", CMD_STRESS, CLI_STRESS, "inject_corruption",
	      "TEST HOOK (needs FAULTLINE_TEST_HOOKS=1): flip a sentinel byte at T"),
	O_KEY("inject-workload", 0, "KEY", CMD_STRESS, CLI_STRESS, "inject_workload",
	      "TEST HOOK: the case whose sentinel --inject-corruption flips"),
	O_FLAG("help", 'h', CMD_RUN | CMD_STRESS, help, "this help"),
};

#define NR_CLI_OPTS (sizeof(cli_opts) / sizeof(cli_opts[0]))

static void print_cli_options(unsigned cmd)
{
	for (size_t i = 0; i < NR_CLI_OPTS; i++) {
		const struct cli_opt *o = &cli_opts[i];
		char head[64];
		const char *h = o->help;

		if (!(o->cmds & cmd))
			continue;
		snprintf(head, sizeof(head), "%c%c%c --%s%s%s", o->short_name ? '-' : ' ',
			 o->short_name ? o->short_name : ' ', o->short_name ? ',' : ' ', o->name,
			 o->arg ? " " : "", o->arg ? o->arg : "");
		/* Help continues on lines of its own, under the first. */
		for (int first = 1; h; first = 0) {
			const char *nl = strchr(h, '\n');

			printf("  %-28s %.*s\n", first ? head : "", nl ? (int)(nl - h) : (int)strlen(h), h);
			h = nl ? nl + 1 : NULL;
		}
	}
}

static void print_help(unsigned cmd)
{
	if (cmd == CMD_STRESS) {
		printf("%s\n", stress_usage);
		print_cli_options(CMD_STRESS);
		printf("\n%s", stress_exit);
		return;
	}
	printf("%s\nrun options:\n", usage);
	print_cli_options(CMD_RUN);
	printf("\n%s", run_exit);
}

/* Store one parsed option; an exit status when it is refused, else -1. */
static int cli_take(struct cli *cl, const struct cli_opt *o, char *arg)
{
	switch (o->kind) {
	case CLI_STR:
		*(const char **)((char *)cl + o->off) = arg;
		break;
	case CLI_FLAG:
		*(bool *)((char *)cl + o->off) = true;
		break;
	case CLI_SET:
		if (cl->nsets - cl->ncore == CLI_MAX_SETS)
			return usage_error("too many --set options (max %d)", CLI_MAX_SETS);
		cl->sets[cl->nsets++] = arg;
		break;
	case CLI_CORE:
		if (cl->ncore == CLI_MAX_CORE)
			return usage_error("%s", "too many core options");
		snprintf(cl->core_sets[cl->ncore], sizeof(cl->core_sets[0]), "%s=%s", o->key, arg);
		cl->sets[cl->nsets++] = cl->core_sets[cl->ncore++];
		break;
	case CLI_STRESS:
		if (cl->nstress == sizeof(cl->stress) / sizeof(cl->stress[0]))
			return usage_error("%s", "too many stress options");
		cl->stress[cl->nstress].flag = o->name;
		cl->stress[cl->nstress].key = o->key;
		cl->stress[cl->nstress++].value = arg;
		break;
	}
	return -1;
}

/*
 * Parse the options of @cmd from the table; optind is left at the first
 * operand.  Returns an exit status when the command ends here (--help, a
 * usage error), else -1.
 */
static int parse_cli(unsigned cmd, int argc, char **argv, struct cli *cl)
{
	struct option lopts[NR_CLI_OPTS + 1];
	char shorts[2 * NR_CLI_OPTS + 2] = ":";
	size_t nl = 0, ns = 1;
	int opt, ret;

	memset(cl, 0, sizeof(*cl));
	memset(lopts, 0, sizeof(lopts));
	for (size_t i = 0; i < NR_CLI_OPTS; i++) {
		const struct cli_opt *o = &cli_opts[i];

		if (!(o->cmds & cmd))
			continue;
		lopts[nl++] = (struct option){ o->name, o->arg ? required_argument : no_argument, NULL, 256 + (int)i };
		if (o->short_name) {
			shorts[ns++] = (char)o->short_name;
			if (o->arg)
				shorts[ns++] = ':';
		}
	}
	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, shorts, lopts, NULL)) != -1) {
		const struct cli_opt *o = NULL;

		if (opt == ':')
			return usage_error("option '%s' needs a value", argv[optind - 1]);
		for (size_t i = 0; i < NR_CLI_OPTS && !o; i++)
			if (opt == 256 + (int)i ||
			    (opt == cli_opts[i].short_name && (cli_opts[i].cmds & cmd)))
				o = &cli_opts[i];
		if (!o)
			return usage_error("unknown option '%s' (see 'faultline %s--help')", argv[optind - 1],
					   cmd == CMD_STRESS ? "stress " : "");
		ret = cli_take(cl, o, optarg);
		if (ret >= 0)
			return ret;
	}
	if (cl->help) {
		print_help(cmd);
		return FL_EXIT_OK;
	}
	return -1;
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
	struct fl_run_opts ro = { .argc = full_argc, .argv = full_argv };
	static struct fl_job job;
	struct fl_plan plan;
	struct cli cl;
	char err[1024];
	int ret = parse_cli(CMD_RUN, argc, argv, &cl);

	if (ret >= 0)
		return ret;
	ro.prepare = cl.prepare;
	ro.out_dir = cl.out;
	ro.resume = cl.resume;
	ro.quiet = cl.quiet;
	ro.tap = cl.tap;
	ro.junit = cl.junit;
	if (ro.resume && !ro.out_dir)
		return usage_error("%s", "--resume needs --out DIR");
	if (optind >= argc)
		return usage_error("%s", "run: name a job file or at least one workload");

	memset(&job, 0, sizeof(job));
	if (is_job_file(argv[optind])) {
		if (argc - optind > 1)
			return usage_error("run: give one job file, or workloads, not both ('%s')", argv[optind + 1]);
		if (fl_job_load(argv[optind], &job, err, sizeof(err)))
			return usage_error("%s", err);
	} else {
		snprintf(job.source, sizeof(job.source), "command line");
		for (int i = optind; i < argc; i++)
			if (fl_job_add_workload(&job, argv[i], "command line", err, sizeof(err)))
				return usage_error("%s", err);
	}
	if (cl.sections && fl_job_keep_sections(&job, cl.sections, err, sizeof(err)))
		return usage_error("%s", err);
	if (fl_job_finish(&job, cl.sets, cl.nsets, cl.backing, &plan, err, sizeof(err)))
		return usage_error("%s", err);
	if (cl.dry_run) {
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

/* --mix W1,W2,...: one section per workload, on its default backings. */
static int stress_mix(struct fl_job *job, const char *mix)
{
	char buf[1024], err[1024], *save = NULL;

	snprintf(job->source, sizeof(job->source), "--mix");
	snprintf(buf, sizeof(buf), "%s", mix);
	for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		if (job->nr_specs == FL_STRESS_MAX_CASES)
			return usage_error("--mix: more than %d workloads", FL_STRESS_MAX_CASES);
		if (fl_job_add_workload(job, t, "--mix", err, sizeof(err)))
			return usage_error("%s", err);
	}
	return job->nr_specs ? -1 : usage_error("%s", "--mix: no workloads");
}

static int cmd_stress(int argc, char **argv, int full_argc, char **full_argv)
{
	static struct fl_job job;
	struct fl_stress_conf sc;
	struct fl_plan plan;
	struct cli cl;
	char err[1024];
	int ret = parse_cli(CMD_STRESS, argc, argv, &cl);

	if (ret >= 0)
		return ret;
	if (optind < argc)
		return usage_error("stress: unexpected argument '%s' (use --mix or --suite)", argv[optind]);
	if (cl.replay) {
		if (cl.mix || cl.suite || cl.out || cl.nstress || cl.nsets || cl.backing)
			return usage_error("%s", "--replay DIR takes no other run options (the run is DIR/stress.job)");
		return fl_stress_replay(cl.replay, cl.shrink, cl.quiet, full_argc, full_argv);
	}
	if (cl.shrink)
		return usage_error("%s", "--shrink needs --replay DIR");
	if (!!cl.mix == !!cl.suite)
		return usage_error("%s", "stress: give one of --mix W1,W2,... or --suite FILE");
	fl_stress_conf_init(&sc);
	sc.quiet = cl.quiet;
	memset(&job, 0, sizeof(job));
	if (cl.suite && fl_stress_load_job(cl.suite, &job, &sc, err, sizeof(err)))
		return usage_error("%s", err);
	if (cl.mix && (ret = stress_mix(&job, cl.mix)) >= 0)
		return ret;
	/* The command line's settings override the [stress] section's. */
	for (unsigned i = 0; i < cl.nstress; i++)
		if (fl_stress_conf_set(&sc, cl.stress[i].key, cl.stress[i].value, err, sizeof(err)))
			return usage_error("--%s: %s", cl.stress[i].flag, err);
	if (fl_job_finish(&job, cl.sets, cl.nsets, cl.backing, &plan, err, sizeof(err)))
		return usage_error("%s", err);
	ret = fl_stress_run(&plan, &sc, cl.out, full_argc, full_argv);
	fl_plan_free(&plan);
	return ret;
}

int main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : NULL;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!cmd) {
		fputs(usage, stderr);
		return FL_EXIT_USAGE;
	}
	if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help") || !strcmp(cmd, "help")) {
		print_help(CMD_RUN);
		return 0;
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
		return cmd_stress(argc - 1, argv + 1, argc, argv);
	if (!strcmp(cmd, "report"))
		return cmd_report(argc - 1, argv + 1, argv[0]);
	return usage_error("unknown command '%s' (see 'faultline --help')", cmd);
}
