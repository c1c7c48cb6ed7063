// SPDX-License-Identifier: GPL-2.0
/*
 * TAP and JUnit renderings of case records (bench/ciout.h).
 *
 * TAP follows the kernel selftests' ktap/kselftest output: "TAP version 13",
 * the plan, then "ok N name", "not ok N name # reason" for fail and error,
 * "ok N name # SKIP reason" for skip, so `prove` and the kselftest runner's
 * consumers read it.  JUnit follows the schema Jenkins' xUnit plugin
 * validates against (junit-10.xsd): testsuites > testsuite(properties,
 * testcase*) with tests/failures/errors/skipped counts, each testcase with
 * at most one of skipped, failure or error and its system-out.  That schema
 * has no properties inside a testcase, so each case's headline figure is a
 * suite property named after the case (and is repeated in its system-out).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ciout.h"

static const char *rec_str(const json_t *rec, const char *key)
{
	const char *s = json_string_value(json_object_get(rec, key));

	return s ? s : "";
}

/* One line, no '#' (TAP's directive mark) nor newlines. */
static void tap_text(FILE *f, const char *s)
{
	for (; *s; s++)
		fputc(*s == '\n' || *s == '\r' ? ' ' : *s == '#' ? '_' : *s, f);
}

void fl_tap_plan(FILE *f, unsigned nr_cases)
{
	fprintf(f, "TAP version 13\n1..%u\n", nr_cases);
	fflush(f);
}

/* The headline figure the workload declares (record "headline"), else ops_rate. */
static bool headline(const json_t *rec, const char **name, double *median, const char **unit)
{
	const json_t *metrics = json_object_get(rec, "metrics"), *m;

	*name = json_string_value(json_object_get(json_object_get(rec, "headline"), "metric"));
	if (!*name || !json_object_get(metrics, *name))
		*name = "ops_rate";
	m = json_object_get(metrics, *name);
	if (!m)
		return false;
	if (!json_is_number(json_object_get(m, "median")))
		return false;
	*median = json_number_value(json_object_get(m, "median"));
	*unit = json_string_value(json_object_get(m, "unit"));
	if (!*unit)
		*unit = "";
	return true;
}

void fl_tap_case(FILE *f, unsigned seq, const json_t *rec)
{
	const char *st = rec_str(rec, "status"), *name, *unit;
	double med;

	fprintf(f, "%s %u ", strcmp(st, "pass") && strcmp(st, "skip") ? "not ok" : "ok", seq);
	tap_text(f, rec_str(rec, "case"));
	if (!strcmp(st, "skip")) {
		fputs(" # SKIP ", f);
		tap_text(f, rec_str(rec, "reason"));
	} else if (strcmp(st, "pass")) {
		fprintf(f, " # %s: ", st);
		tap_text(f, rec_str(rec, "reason"));
	} else if (headline(rec, &name, &med, &unit)) {
		fprintf(f, " # %s %.4g %s", name, med, unit);
	}
	fputc('\n', f);
	fflush(f);
}

static void xml_text(FILE *f, const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '<')
			fputs("&lt;", f);
		else if (c == '>')
			fputs("&gt;", f);
		else if (c == '&')
			fputs("&amp;", f);
		else if (c == '"')
			fputs("&quot;", f);
		else if (c < 0x20 && c != '\n' && c != '\t')
			fputc(' ', f);		/* not allowed in XML 1.0 */
		else
			fputc(c, f);
	}
}

static void junit_case(FILE *f, const json_t *rec)
{
	const char *st = rec_str(rec, "status"), *label = rec_str(rec, "case"), *name, *unit;
	const char *elem = !strcmp(st, "skip") ? "skipped" : !strcmp(st, "fail") ? "failure"
			 : !strcmp(st, "error") ? "error" : NULL;
	double med, secs = json_number_value(json_object_get(rec, "elapsed_s"));
	size_t wl_len = strcspn(label, "/");
	char *out = NULL;

	fputs("    <testcase classname=\"faultline.", f);
	fprintf(f, "%.*s\" name=\"", (int)wl_len, label);
	xml_text(f, label);
	fprintf(f, "\" time=\"%.3f\">\n", secs);
	if (elem) {
		fprintf(f, "      <%s message=\"", elem);
		xml_text(f, rec_str(rec, "reason"));
		fprintf(f, "\" type=\"%s\"/>\n", st);
	}
	out = json_dumps(json_object_get(rec, "details"), JSON_COMPACT | JSON_SORT_KEYS);
	fputs("      <system-out>", f);
	if (headline(rec, &name, &med, &unit))
		fprintf(f, "%s: %.6g %s\n", name, med, unit);
	if (out)
		xml_text(f, out);
	fputs("</system-out>\n    </testcase>\n", f);
	free(out);
}

int fl_junit_write(const char *path, const json_t *records, const char *suite, double seconds)
{
	unsigned n = 0, fails = 0, errors = 0, skips = 0;
	const json_t *rec;
	size_t i;
	FILE *f = fopen(path, "w");

	if (!f)
		return -errno;
	json_array_foreach(records, i, rec) {
		const char *st = rec_str(rec, "status");

		n++;
		fails += !strcmp(st, "fail");
		errors += !strcmp(st, "error");
		skips += !strcmp(st, "skip");
	}
	fputs("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n", f);
	fprintf(f, "<testsuites tests=\"%u\" failures=\"%u\" errors=\"%u\" time=\"%.3f\">\n",
		n, fails, errors, seconds);
	fputs("  <testsuite name=\"", f);
	xml_text(f, suite);
	fprintf(f, "\" tests=\"%u\" failures=\"%u\" errors=\"%u\" skipped=\"%u\" time=\"%.3f\">\n",
		n, fails, errors, skips, seconds);
	fputs("    <properties>\n", f);
	json_array_foreach(records, i, rec) {
		const char *name, *unit;
		double med;

		if (!headline(rec, &name, &med, &unit))
			continue;
		fputs("      <property name=\"", f);
		xml_text(f, rec_str(rec, "case"));
		fprintf(f, " %s\" value=\"%.6g ", name, med);
		xml_text(f, unit);
		fputs("\"/>\n", f);
	}
	fputs("    </properties>\n", f);
	json_array_foreach(records, i, rec)
		junit_case(f, rec);
	fputs("  </testsuite>\n</testsuites>\n", f);
	if (fflush(f) || fsync(fileno(f))) {
		int e = errno;

		fclose(f);
		return -e;
	}
	return fclose(f) ? -errno : 0;
}
