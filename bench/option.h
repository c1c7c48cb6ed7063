/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Typed option tables: the single description of every tunable a workload
 * (or the core) accepts.  The same table drives the CLI (--set k=v), the job
 * file parser, `faultline describe`, `--help` and the README's workload
 * table, so help text cannot drift from what is parsed.
 */
#ifndef FL_OPTION_H
#define FL_OPTION_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

enum fl_opt_type {
	FL_OPT_INT,	/* int64_t, decimal, range-checked */
	FL_OPT_SIZE,	/* uint64_t bytes, accepts K/M/G/T suffixes (binary) */
	FL_OPT_BOOL,	/* bool: 0/1, yes/no, true/false, on/off */
	FL_OPT_ENUM,	/* int index into .choices */
	FL_OPT_STRING,	/* char[FL_OPT_STRLEN] */
	FL_OPT_DOUBLE,	/* double, range-checked */
};

#define FL_OPT_STRLEN 256

struct fl_option {
	const char *name;
	enum fl_opt_type type;
	double min, max;		/* INT, SIZE, DOUBLE: inclusive range */
	const char *def;		/* default, in the same syntax as input */
	const char *help;
	size_t offset;			/* offsetof() into the config struct */
	const char *const *choices;	/* ENUM: NULL-terminated */
};

/* Table terminator. */
#define FL_OPT_END { .name = NULL }

#define FL_OPT_INT_(st, field, nm, lo, hi, dflt, hlp) \
	{ .name = nm, .type = FL_OPT_INT, .min = lo, .max = hi, .def = dflt, \
	  .help = hlp, .offset = offsetof(st, field) }
#define FL_OPT_SIZE_(st, field, nm, lo, hi, dflt, hlp) \
	{ .name = nm, .type = FL_OPT_SIZE, .min = lo, .max = hi, .def = dflt, \
	  .help = hlp, .offset = offsetof(st, field) }
#define FL_OPT_BOOL_(st, field, nm, dflt, hlp) \
	{ .name = nm, .type = FL_OPT_BOOL, .min = 0, .max = 1, .def = dflt, \
	  .help = hlp, .offset = offsetof(st, field) }
#define FL_OPT_ENUM_(st, field, nm, chs, dflt, hlp) \
	{ .name = nm, .type = FL_OPT_ENUM, .def = dflt, .help = hlp, \
	  .offset = offsetof(st, field), .choices = chs }
#define FL_OPT_STR_(st, field, nm, dflt, hlp) \
	{ .name = nm, .type = FL_OPT_STRING, .def = dflt, .help = hlp, \
	  .offset = offsetof(st, field) }
#define FL_OPT_DOUBLE_(st, field, nm, lo, hi, dflt, hlp) \
	{ .name = nm, .type = FL_OPT_DOUBLE, .min = lo, .max = hi, .def = dflt, \
	  .help = hlp, .offset = offsetof(st, field) }

const struct fl_option *fl_opt_find(const struct fl_option *table,
				    const char *name);

/*
 * Parse @value for @opt and store it into @config.  On error returns -1 and
 * writes a one-line message (without the file:line prefix) to @err, naming
 * the key and the valid range or choices.
 */
int fl_opt_parse(const struct fl_option *opt, const char *value, void *config,
		 char *err, size_t errlen);

/* Fill @config with the defaults of every option in @table. */
int fl_opt_defaults(const struct fl_option *table, void *config,
		    char *err, size_t errlen);

/* "64K..1T", "one of: a, b, c", "yes/no": the valid input, for messages. */
void fl_opt_range_str(const struct fl_option *opt, char *buf, size_t len);

/* The value currently in @config, rendered in input syntax. */
void fl_opt_value_str(const struct fl_option *opt, const void *config,
		      char *buf, size_t len);

const char *fl_opt_type_name(enum fl_opt_type t);

/* Parse a size with an optional K/M/G/T suffix (powers of 1024). */
int fl_parse_size(const char *s, uint64_t *out);
void fl_format_size(uint64_t bytes, char *buf, size_t len);

#endif
