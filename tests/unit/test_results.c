// SPDX-License-Identifier: GPL-2.0
/* JSON records: written through the results module, parsed back, validated. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <jansson.h>

#include "results.h"

extern const struct workload wl_populate;

static void record_round_trip(void **state)
{
	struct fl_results res;
	struct fl_plan plan = { 0 };
	struct fl_case_def def = { .wl = &wl_populate, .backing = FL_BACKING_THP };
	char dir[] = "/tmp/fl-results-XXXXXX", err[256], path[600], line[1 << 16];
	struct fl_hist *h = malloc(sizeof(*h));
	json_t *rec, *back, *lat;
	json_error_t jerr;
	uint64_t sum = 0;
	char *argv[] = { "faultline", "run" };
	FILE *f;
	size_t i;

	assert_non_null(mkdtemp(dir));
	def.config = calloc(1, wl_populate.config_size);
	assert_int_equal(fl_opt_defaults(wl_populate.options, def.config, err, sizeof(err)), 0);
	assert_int_equal(fl_opt_defaults(fl_core_options, &def.core, err, sizeof(err)), 0);
	snprintf(def.label, sizeof(def.label), "populate/thp");
	assert_int_equal(fl_results_open(&res, dir, false, 2, argv, err, sizeof(err)), 0);

	fl_hist_init(h);
	for (uint64_t v = 1000; v < 100000; v += 7)
		fl_hist_add(h, v);
	rec = fl_record_new(&def, "skip", "needs something", 1, 0);
	json_object_set_new(rec, "latency", json_pack("{s:o}", "fault", fl_hist_json(h)));
	assert_int_equal(fl_results_append(&res, rec, 0), 0);
	json_decref(rec);
	(void)plan;

	snprintf(path, sizeof(path), "%s/results.jsonl", dir);
	f = fopen(path, "r");
	assert_non_null(f);
	assert_non_null(fgets(line, sizeof(line), f));
	fclose(f);
	back = json_loads(line, 0, &jerr);
	assert_non_null(back);
	assert_string_equal(json_string_value(json_object_get(back, "schema")), FL_RECORD_SCHEMA);
	assert_string_equal(json_string_value(json_object_get(back, "status")), "skip");
	assert_string_equal(json_string_value(json_object_get(back, "reason")), "needs something");
	assert_string_equal(json_string_value(json_object_get(back, "backing")), "thp");
	assert_string_equal(json_string_value(json_object_get(json_object_get(back, "params"), "size")), "256M");
	lat = json_object_get(json_object_get(back, "latency"), "fault");
	assert_int_equal(json_integer_value(json_object_get(lat, "count")), h->count);
	for (i = 0; i < json_array_size(json_object_get(lat, "buckets")); i++) {
		json_t *b = json_array_get(json_object_get(lat, "buckets"), i);

		assert_true(json_integer_value(json_array_get(b, 0)) <= json_integer_value(json_array_get(b, 1)));
		sum += (uint64_t)json_integer_value(json_array_get(b, 2));
	}
	assert_int_equal(sum, h->count);
	assert_true(json_integer_value(json_object_get(lat, "p50")) <= json_integer_value(json_object_get(lat, "p99")));
	json_decref(back);

	/* run.json exists and is valid JSON before the run even starts. */
	snprintf(path, sizeof(path), "%s/run.json", dir);
	back = json_load_file(path, 0, &jerr);
	assert_non_null(back);
	assert_string_equal(json_string_value(json_object_get(back, "schema")), FL_RUN_SCHEMA);
	json_decref(back);

	/* A second open without --resume refuses to mix two runs in one folder. */
	assert_int_equal(fl_results_open(&res, dir, false, 2, argv, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "already exists"));
	free(h);
	free(def.config);
}

static void nan_is_null(void **state)
{
	json_t *j = fl_json_real(0.0 / 0.0);

	assert_true(json_is_null(j));
	json_decref(j);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(record_round_trip),
		cmocka_unit_test(nan_is_null),
	};

	return cmocka_run_group_tests_name("results", tests, NULL, NULL);
}
