// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer harness: the option parser.  The first input byte picks an
 * option from the core table or any registered workload's table (so every
 * type — int, size, bool, enum, string, float — and every real range is
 * reached); the rest, NUL-terminated, is the value given to fl_opt_parse(),
 * then rendered back with fl_opt_value_str() and parsed again (the rendered
 * form must parse: `describe` and results print it).  The same value also
 * goes through fl_parse_size(), fl_parse_cpulist() and fl_job_set() as
 * KEY=VALUE text, the paths --set, --cpus and sizes take from the command
 * line.
 *
 * To use: make fuzz
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"

static struct fl_job job;

static const struct fl_option *pick(uint8_t sel, const struct fl_option **table)
{
	unsigned n = 0, want;

	for (const struct fl_option *o = fl_core_options; o->name; o++)
		n++;
	for (const struct workload *const *w = fl_workloads; *w; w++)
		for (const struct fl_option *o = (*w)->options; o && o->name; o++)
			n++;
	want = sel % n;
	for (const struct fl_option *o = fl_core_options; o->name; o++, want--)
		if (!want) {
			*table = fl_core_options;
			return o;
		}
	for (const struct workload *const *w = fl_workloads; *w; w++)
		for (const struct fl_option *o = (*w)->options; o && o->name; o++, want--)
			if (!want) {
				*table = (*w)->options;
				return o;
			}
	return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* Big enough for any config struct: the option offsets index into it. */
	static union { char c[1 << 16]; long double align; } cfg, cfg2;
	const struct fl_option *table = NULL, *opt;
	char *val, err[1024], shown[FL_OPT_STRLEN + 64], range[256];
	uint64_t mask[16], sz;

	if (!size)
		return 0;
	opt = pick(data[0], &table);
	val = malloc(size);
	if (!val || !opt)
		goto out;
	memcpy(val, data + 1, size - 1);
	val[size - 1] = '\0';
	fl_opt_range_str(opt, range, sizeof(range));
	if (fl_opt_defaults(table, cfg.c, err, sizeof(err)))
		abort();	/* a table's own default must parse */
	if (fl_opt_parse(opt, val, cfg.c, err, sizeof(err)) == 0) {
		fl_opt_value_str(opt, cfg.c, shown, sizeof(shown));
		if (fl_opt_parse(opt, shown, cfg2.c, err, sizeof(err))) {
			fprintf(stderr, "%s: accepted '%s' but not its rendering '%s': %s\n",
				opt->name, val, shown, err);
			abort();
		}
	}
	fl_parse_size(val, &sz);
	fl_parse_cpulist(val, mask, 1024);
	memset(&job, 0, sizeof(job));
	fl_job_set(&job, val, err, sizeof(err));
out:
	free(val);
	return 0;
}
