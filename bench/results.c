// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "calibrate.h"
#include "env.h"
#include "metrics.h"
#include "prepare.h"
#include "results.h"

void fl_iso_time(char *buf, size_t len)
{
	time_t t = time(NULL);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

json_t *fl_json_real(double v)
{
	return isfinite(v) ? json_real(v) : json_null();
}

json_t *fl_hist_json(const struct fl_hist *h)
{
	json_t *buckets = json_array();
	uint64_t lo, hi;
	bool any = h->count || h->overflow;

	for (unsigned i = 0; i < FL_HIST_BUCKETS; i++) {
		if (!h->bucket[i])
			continue;
		fl_hist_bucket_range(i, &lo, &hi);
		json_array_append_new(buckets, json_pack("[I, I, I]", (json_int_t)lo,
							 (json_int_t)hi, (json_int_t)h->bucket[i]));
	}
	return json_pack("{s:s, s:I, s:I, s:I, s:I, s:o, s:I, s:I, s:I, s:I, s:I, s:o}",
			 "unit", "ns",
			 "count", (json_int_t)h->count,
			 "overflow", (json_int_t)h->overflow,
			 "min", (json_int_t)(any ? h->min : 0),
			 "max", (json_int_t)(any ? h->max : 0),
			 "mean", fl_json_real(h->count ? fl_hist_mean(h) : NAN),
			 "p50", (json_int_t)fl_hist_percentile(h, 50),
			 "p90", (json_int_t)fl_hist_percentile(h, 90),
			 "p99", (json_int_t)fl_hist_percentile(h, 99),
			 "p99.9", (json_int_t)fl_hist_percentile(h, 99.9),
			 "limit", (json_int_t)FL_HIST_LIMIT,
			 "buckets", buckets);
}

static int mkdir_p(const char *path)
{
	char tmp[512];

	snprintf(tmp, sizeof(tmp), "%s", path);
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, 0755) && errno != EEXIST)
			return -1;
		*p = '/';
	}
	return mkdir(tmp, 0755) && errno != EEXIST ? -1 : 0;
}

/*
 * Replace @path with @len bytes, never leaving a half-written file behind,
 * even under SIGKILL: the data goes to an unnamed O_TMPFILE inode, is
 * fsync'd, gets a temporary name only once complete, and is rename()d over
 * @path.  Filesystems without O_TMPFILE fall back to writing PATH.tmp.
 */
int fl_write_file_atomic(const char *path, const char *data, size_t len)
{
	char tmp[PATH_MAX + 8], dir[PATH_MAX], fdpath[64];
	const char *slash = strrchr(path, '/');
	bool named = false;
	int fd, err;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	snprintf(dir, sizeof(dir), "%.*s", slash ? (int)(slash - path) : 1, slash ? path : ".");
	if (slash == path)
		snprintf(dir, sizeof(dir), "/");
	fd = open(dir, O_TMPFILE | O_WRONLY | O_CLOEXEC, 0644);
	if (fd < 0) {
		fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		named = true;
	}
	if (fd < 0)
		return -1;
	for (size_t off = 0; off < len;) {
		ssize_t n = write(fd, data + off, len - off);

		if (n <= 0)
			goto fail;
		off += (size_t)n;
	}
	if (fsync(fd))
		goto fail;
	if (!named) {
		snprintf(fdpath, sizeof(fdpath), "/proc/self/fd/%d", fd);
		unlink(tmp);	/* a stale one from a pre-O_TMPFILE kill */
		if (linkat(AT_FDCWD, fdpath, AT_FDCWD, tmp, AT_SYMLINK_FOLLOW))
			goto fail;
	}
	close(fd);
	if (rename(tmp, path)) {
		err = errno;
		unlink(tmp);
		errno = err;
		return -1;
	}
	return 0;
fail:
	err = errno;
	close(fd);
	if (named)
		unlink(tmp);
	errno = err;
	return -1;
}

int fl_write_json_atomic(const char *path, json_t *j)
{
	char *text = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS);
	size_t len;
	int ret;

	if (!text)
		return -1;
	len = strlen(text);
	text[len] = '\n';	/* json_dumps leaves room: the NUL becomes the newline */
	ret = fl_write_file_atomic(path, text, len + 1);
	free(text);
	return ret;
}

int fl_results_open(struct fl_results *r, const char *out_dir, bool resume,
		    int argc, char **argv, char *err, size_t errlen)
{
	char host[64] = "host", stamp[32], path[600];
	time_t t = time(NULL);
	struct tm tm;
	json_t *cmd;
	int flags = O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC;

	memset(r, 0, sizeof(*r));
	r->jsonl_fd = -1;
	gethostname(host, sizeof(host) - 1);
	gmtime_r(&t, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%d-%H%M%S", &tm);
	snprintf(r->run_id, sizeof(r->run_id), "%s-%s-%d", stamp, host, (int)getpid());
	if (out_dir)
		snprintf(r->dir, sizeof(r->dir), "%s", out_dir);
	else
		snprintf(r->dir, sizeof(r->dir), "results/%s", r->run_id);
	if (mkdir_p(r->dir)) {
		snprintf(err, errlen, "cannot create results directory %s: %s", r->dir, strerror(errno));
		return -1;
	}
	snprintf(path, sizeof(path), "%s/results.jsonl", r->dir);
	if (!resume && !access(path, F_OK)) {
		snprintf(err, errlen, "%s already exists: choose another --out or use --resume", path);
		return -1;
	}
	r->jsonl_fd = open(path, flags, 0644);
	if (r->jsonl_fd < 0) {
		snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
		return -1;
	}
	cmd = json_array();
	for (int i = 0; i < argc; i++)
		json_array_append_new(cmd, json_string(argv[i]));
	r->run = json_pack("{s:s, s:s, s:s, s:o, s:b}", "schema", FL_RUN_SCHEMA,
			   "run_id", r->run_id, "faultline_version", FL_VERSION,
			   "command_line", cmd, "complete", 0);
	/* Probe writability of run.json now, not after the first case. */
	snprintf(path, sizeof(path), "%s/run.json", r->dir);
	if (fl_write_json_atomic(path, r->run)) {
		snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
		close(r->jsonl_fd);
		return -1;
	}
	return 0;
}

json_t *fl_results_done_labels(struct fl_results *r)
{
	json_t *done = json_object();
	char path[600], line[1 << 16];
	FILE *f;

	snprintf(path, sizeof(path), "%s/results.jsonl", r->dir);
	f = fopen(path, "r");
	if (!f)
		return done;
	while (fgets(line, sizeof(line), f)) {
		json_t *rec = json_loads(line, 0, NULL);
		const char *label = json_string_value(json_object_get(rec, "case"));

		if (label)
			json_object_set_new(done, label, json_true());
		json_decref(rec);
	}
	fclose(f);
	return done;
}

static void save_run(struct fl_results *r)
{
	char path[600];

	snprintf(path, sizeof(path), "%s/run.json", r->dir);
	if (fl_write_json_atomic(path, r->run))
		fprintf(stderr, "faultline: cannot write %s: %s\n", path, strerror(errno));
}

void fl_results_begin(struct fl_results *r, const struct fl_plan *plan, bool prepare)
{
	char now[32];
	json_t *opts;

	fl_iso_time(now, sizeof(now));
	json_object_set_new(r->run, "start", json_string(now));
	json_object_set_new(r->run, "env", fl_env_json());
	json_object_set_new(r->run, "calibration", fl_calibrate_json());
	opts = json_pack("{s:b, s:i}", "prepare", prepare, "cases", (int)plan->nr_cases);
	if (plan->nr_cases) {
		const struct fl_core_conf *c = &plan->cases[0].core;

		json_object_set_new(opts, "repeat", json_integer(c->repeat));
		json_object_set_new(opts, "warmup", json_integer(c->warmup));
		json_object_set_new(opts, "threads", json_integer(c->threads));
		json_object_set_new(opts, "cpus", json_string(c->cpus));
		json_object_set_new(opts, "node", json_integer(c->node));
		json_object_set_new(opts, "interval_s", json_real(c->interval));
	}
	json_object_set_new(r->run, "options", opts);
	save_run(r);
}

void fl_results_note_placement(struct fl_results *r, const struct fl_placement *pl)
{
	if (!json_object_get(r->run, "placement")) {
		json_object_set_new(r->run, "placement", fl_placement_json(pl));
		save_run(r);
	}
}

int fl_results_append(struct fl_results *r, json_t *rec, unsigned seq)
{
	char *text;
	size_t len;
	int ret = 0;

	json_object_set_new(rec, "run_id", json_string(r->run_id));
	json_object_set_new(rec, "seq", json_integer(seq));
	text = json_dumps(rec, JSON_COMPACT | JSON_SORT_KEYS);
	if (!text)
		return -1;
	len = strlen(text);
	text[len] = '\n';
	/* One write() of the whole line: a kill leaves at most a torn last line. */
	if (write(r->jsonl_fd, text, len + 1) != (ssize_t)(len + 1) || fsync(r->jsonl_fd)) {
		fprintf(stderr, "faultline: cannot append to %s/results.jsonl: %s\n", r->dir,
			strerror(errno));
		ret = -1;
	}
	free(text);
	return ret;
}

void fl_results_finish(struct fl_results *r, bool complete, int exit_status)
{
	char now[32];

	fl_iso_time(now, sizeof(now));
	json_object_set_new(r->run, "end", json_string(now));
	json_object_set_new(r->run, "complete", json_boolean(complete));
	json_object_set_new(r->run, "exit_status", json_integer(exit_status));
	json_object_set_new(r->run, "prepare", fl_prepare_json());
	save_run(r);
	close(r->jsonl_fd);
	json_decref(r->run);
}

json_t *fl_record_new(const struct fl_case_def *def, const char *status,
		      const char *reason, unsigned workers, uint64_t t_start_mono)
{
	const struct workload *wl = def->wl;
	json_t *params = json_object();
	char now[32], val[FL_OPT_STRLEN];
	struct timespec ts;
	double elapsed;

	for (const struct fl_option *o = wl->options; o && o->name; o++) {
		fl_opt_value_str(o, def->config, val, sizeof(val));
		json_object_set_new(params, o->name, json_string(val));
	}
	clock_gettime(CLOCK_MONOTONIC, &ts);
	elapsed = ((double)ts.tv_sec * 1e9 + (double)ts.tv_nsec - (double)t_start_mono) / 1e9;
	fl_iso_time(now, sizeof(now));
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:o, s:s, s:s, s:i, s:i, s:i, s:s, s:o, s:n, "
			 "s:{s:s, s:s}}",
			 "schema", FL_RECORD_SCHEMA,
			 "case", def->label,
			 "section", def->section,
			 "workload", wl->name,
			 "backing", fl_backings[def->backing].name,
			 "params", params,
			 "status", status,
			 "reason", reason ? reason : "",
			 "workers", (int)workers,
			 "repeat", (int)def->core.repeat,
			 "warmup", (int)def->core.warmup,
			 "end", now,
			 "elapsed_s", fl_json_real(elapsed),
			 "kernel_log",
			 "headline", "metric", wl->headline ? wl->headline : "ops_rate",
			 "direction", wl->headline_dir == FL_LOWER_IS_BETTER ? "lower" : "higher");
}

json_t *fl_case_record(const struct fl_case_def *def, const char *status, const char *reason,
		       unsigned workers, uint64_t t_start_mono, const struct fl_case_metrics *cm,
		       json_t *latency)
{
	json_t *rec = fl_record_new(def, status, reason, workers, t_start_mono);

	json_object_set_new(rec, "metrics", fl_metrics_json(cm));
	json_object_set_new(rec, "latency", latency);
	json_object_set_new(rec, "details", fl_metrics_details(cm));
	return rec;
}
