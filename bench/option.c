// SPDX-License-Identifier: GPL-2.0
/*
 * One generic parser for every option table (see option.h).
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "option.h"

const struct fl_option *fl_opt_find(const struct fl_option *table,
				    const char *name)
{
	for (; table && table->name; table++)
		if (!strcmp(table->name, name))
			return table;
	return NULL;
}

const char *fl_opt_type_name(enum fl_opt_type t)
{
	switch (t) {
	case FL_OPT_INT:	return "int";
	case FL_OPT_SIZE:	return "size";
	case FL_OPT_BOOL:	return "bool";
	case FL_OPT_ENUM:	return "enum";
	case FL_OPT_STRING:	return "string";
	case FL_OPT_DOUBLE:	return "float";
	}
	return "?";
}

int fl_parse_size(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;
	unsigned shift = 0;

	if (!s || !*s || *s == '-' || isspace((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s)
		return -1;
	switch (toupper((unsigned char)*end)) {
	case '\0':		break;
	case 'K': shift = 10;	break;
	case 'M': shift = 20;	break;
	case 'G': shift = 30;	break;
	case 'T': shift = 40;	break;
	default:		return -1;
	}
	if (*end) {
		end++;
		/* Accept "K", "KB", "KiB". */
		if (toupper((unsigned char)*end) == 'I')
			end++;
		if (toupper((unsigned char)*end) == 'B')
			end++;
		if (*end)
			return -1;
	}
	if (shift && v > (UINT64_MAX >> shift))
		return -1;
	*out = (uint64_t)v << shift;
	return 0;
}

void fl_format_size(uint64_t bytes, char *buf, size_t len)
{
	static const char sfx[] = "KMGT";
	int i;

	for (i = 3; i >= 0; i--) {
		uint64_t unit = 1ull << (10 * (i + 1));

		if (bytes && bytes % unit == 0) {
			snprintf(buf, len, "%" PRIu64 "%c", bytes / unit, sfx[i]);
			return;
		}
	}
	snprintf(buf, len, "%" PRIu64, bytes);
}

static int parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = { "1", "yes", "true", "on", NULL };
	static const char *const no[] = { "0", "no", "false", "off", NULL };

	for (int i = 0; yes[i]; i++) {
		if (!strcasecmp(s, yes[i])) {
			*out = true;
			return 0;
		}
		if (!strcasecmp(s, no[i])) {
			*out = false;
			return 0;
		}
	}
	return -1;
}

static void fmt_num(const struct fl_option *opt, double v, char *buf, size_t len)
{
	if (opt->type == FL_OPT_SIZE)
		fl_format_size((uint64_t)v, buf, len);
	else if (opt->type == FL_OPT_DOUBLE)
		snprintf(buf, len, "%g", v);
	else
		snprintf(buf, len, "%.0f", v);
}

void fl_opt_range_str(const struct fl_option *opt, char *buf, size_t len)
{
	char lo[32], hi[32];
	size_t off;

	switch (opt->type) {
	case FL_OPT_INT:
	case FL_OPT_SIZE:
	case FL_OPT_DOUBLE:
		fmt_num(opt, opt->min, lo, sizeof(lo));
		fmt_num(opt, opt->max, hi, sizeof(hi));
		snprintf(buf, len, "%s..%s", lo, hi);
		break;
	case FL_OPT_BOOL:
		snprintf(buf, len, "yes/no");
		break;
	case FL_OPT_ENUM:
		off = 0;
		buf[0] = '\0';
		for (int i = 0; opt->choices[i] && off < len; i++)
			off += snprintf(buf + off, len - off, "%s%s",
					i ? "|" : "", opt->choices[i]);
		break;
	case FL_OPT_STRING:
		snprintf(buf, len, "text (< %d chars)", FL_OPT_STRLEN);
		break;
	}
}

int fl_opt_parse(const struct fl_option *opt, const char *value, void *config,
		 char *err, size_t errlen)
{
	char *p = (char *)config + opt->offset;
	char range[256];
	char *end;
	double d;
	uint64_t u;
	long long ll;

	fl_opt_range_str(opt, range, sizeof(range));
	switch (opt->type) {
	case FL_OPT_INT:
		errno = 0;
		ll = strtoll(value, &end, 10);
		if (errno || end == value || *end)
			goto bad;
		if ((double)ll < opt->min || (double)ll > opt->max)
			goto range;
		*(int64_t *)p = ll;
		return 0;
	case FL_OPT_SIZE:
		if (fl_parse_size(value, &u))
			goto bad;
		if ((double)u < opt->min || (double)u > opt->max)
			goto range;
		*(uint64_t *)p = u;
		return 0;
	case FL_OPT_DOUBLE:
		errno = 0;
		d = strtod(value, &end);
		if (errno || end == value || *end || !isfinite(d))
			goto bad;
		if (d < opt->min || d > opt->max)
			goto range;
		*(double *)p = d;
		return 0;
	case FL_OPT_BOOL:
		if (parse_bool(value, (bool *)p))
			goto bad;
		return 0;
	case FL_OPT_ENUM:
		for (int i = 0; opt->choices[i]; i++) {
			if (!strcmp(value, opt->choices[i])) {
				*(int *)p = i;
				return 0;
			}
		}
		goto bad;
	case FL_OPT_STRING:
		if (strlen(value) >= FL_OPT_STRLEN)
			goto range;
		strcpy(p, value);
		return 0;
	}
bad:
	snprintf(err, errlen, "%s: invalid %s value '%s' (valid: %s)",
		 opt->name, fl_opt_type_name(opt->type), value, range);
	return -1;
range:
	snprintf(err, errlen, "%s: value '%s' out of range (valid: %s)",
		 opt->name, value, range);
	return -1;
}

int fl_opt_defaults(const struct fl_option *table, void *config,
		    char *err, size_t errlen)
{
	for (; table && table->name; table++)
		if (fl_opt_parse(table, table->def, config, err, errlen))
			return -1;
	return 0;
}

void fl_opt_value_str(const struct fl_option *opt, const void *config,
		      char *buf, size_t len)
{
	const char *p = (const char *)config + opt->offset;

	switch (opt->type) {
	case FL_OPT_INT:
		snprintf(buf, len, "%" PRId64, *(const int64_t *)p);
		break;
	case FL_OPT_SIZE:
		fl_format_size(*(const uint64_t *)p, buf, len);
		break;
	case FL_OPT_DOUBLE:
		snprintf(buf, len, "%g", *(const double *)p);
		break;
	case FL_OPT_BOOL:
		snprintf(buf, len, "%s", *(const bool *)p ? "yes" : "no");
		break;
	case FL_OPT_ENUM:
		snprintf(buf, len, "%s", opt->choices[*(const int *)p]);
		break;
	case FL_OPT_STRING:
		snprintf(buf, len, "%s", p);
		break;
	}
}
