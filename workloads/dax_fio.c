// SPDX-License-Identifier: GPL-2.0
/*
 * dax-populate's fio side by side: after a case's repetitions, fio reads
 * the same file (or devdax device) with the mmap, libpmem or dev-dax
 * ioengine, in rounds alternating with our read passes (dax_bw.c), and
 * the case records both figures and their ratio.  Part of the
 * dax-populate workload (dax_populate.c).
 *
 * Needs: fio (/usr/bin or /usr/local/bin).
 *
 * To use:
 *   faultline run dax-populate --backing fsdax --set fio=mmap --set size=512M
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gnu/libc-version.h>
#include <jansson.h>

#include "dax_populate.h"
#include "stats.h"

/* fio_args: appended to fio's command line, split at blanks (checked in dp_fio_supported). */
#define FIO_FIXED_ARGS 11
#define FIO_MAX_EXTRA 8
#define FIO_ARG_SEP " \t"

static const char *const fio_ioengine[] = { NULL, "mmap", "libpmem", "dev-dax" };

static size_t fio_args_count(const char *args)
{
	size_t n = 0;

	for (const char *p = args; *p; p++)
		n += !strchr(FIO_ARG_SEP, *p) && (p == args || strchr(FIO_ARG_SEP, p[-1]));
	return n;
}

static bool have_fio(void)
{
	return !access("/usr/bin/fio", X_OK) || !access("/usr/local/bin/fio", X_OK);
}

const char *dp_fio_supported(const struct fl_case *c)
{
	const struct dp_conf *cf = c->config;

	if (cf->fio == F_DEVDAX && c->backing != FL_BACKING_DEVDAX)
		return "fio=dev-dax needs the devdax backing";
	if ((cf->fio == F_MMAP || cf->fio == F_LIBPMEM) && c->backing != FL_BACKING_FSDAX)
		return "fio=mmap/libpmem run on an fsdax file: use the fsdax backing (fio=dev-dax for devdax)";
	if (cf->fio != F_NONE && !have_fio())
		return "fio not installed (apt install fio)";
	if (cf->fio != F_NONE && fio_args_count(cf->fio_args) > FIO_MAX_EXTRA)
		return "fio_args: at most 8 space-separated arguments";
	return NULL;
}

/* Run fio and return its parsed JSON (NULL with @why on failure). */
static json_t *run_fio(const char *const *argv, char *why, size_t whylen)
{
	int pfd[2], st;
	char *out = NULL;
	size_t len = 0, cap = 0;
	json_error_t jerr;
	json_t *j = NULL;
	pid_t pid;
	ssize_t n;

	if (pipe(pfd))
		return snprintf(why, whylen, "pipe: %s", strerror(errno)), NULL;
	pid = fork();
	if (pid < 0)
		return snprintf(why, whylen, "fork: %s", strerror(errno)), NULL;
	if (!pid) {
		int devnull = open("/dev/null", O_RDWR);

		dup2(pfd[1], 1);
		if (devnull >= 0)
			dup2(devnull, 2);
		close(pfd[0]);
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(pfd[1]);
	for (;;) {
		if (len + 4096 > cap) {
			char *nb = realloc(out, cap = cap ? cap * 2 : 65536);

			if (!nb)
				break;
			out = nb;
		}
		n = read(pfd[0], out + len, cap - len - 1);
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(pfd[0]);
	waitpid(pid, &st, 0);
	if (!out || !WIFEXITED(st) || WEXITSTATUS(st)) {
		snprintf(why, whylen, "fio exited with status %d", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
		goto out;
	}
	out[len] = '\0';
	/* fio may print notes before the JSON object. */
	j = json_loads(strchr(out, '{') ? strchr(out, '{') : out, JSON_DISABLE_EOF_CHECK, &jerr);
	if (!j)
		snprintf(why, whylen, "fio JSON: %s", jerr.text);
out:
	free(out);
	return j;
}

struct fio_read {
	double bw;		/* GB/s: bytes / fio's runtime */
	double clat_min;	/* ns: the fastest io */
	double busy;		/* share of the runtime inside the ios: total_ios * clat mean / runtime */
};

/* One fio run; false with fio.error set when it gave no read figures. */
static bool fio_once(struct fl_case *c, const char *const *argv, bool first, struct fio_read *fr)
{
	json_t *j, *rd, *pct;
	char why[256], buf[300];

	j = run_fio(argv, why, sizeof(why));
	if (!j) {
		fl_case_detail(c, "fio.error", why);
		return false;
	}
	rd = json_object_get(json_array_get(json_object_get(j, "jobs"), 0), "read");
	fr->bw = (double)json_integer_value(json_object_get(rd, "bw_bytes")) / 1e9;
	pct = json_object_get(json_object_get(rd, "clat_ns"), "percentile");
	fr->clat_min = json_number_value(json_object_get(json_object_get(rd, "clat_ns"), "min"));
	fr->busy = (double)json_integer_value(json_object_get(rd, "total_ios")) *
		   json_number_value(json_object_get(json_object_get(rd, "clat_ns"), "mean")) /
		   ((double)json_integer_value(json_object_get(rd, "runtime")) * 1e6);
	if (first) {
		snprintf(buf, sizeof(buf), "%s: bw %.3f GB/s, iops %.0f, clat p50 %.0f ns, p99 %.0f ns",
			 json_string_value(json_object_get(j, "fio version")) ?
			 json_string_value(json_object_get(j, "fio version")) : "fio",
			 fr->bw, json_number_value(json_object_get(rd, "iops")),
			 json_number_value(json_object_get(pct, "50.000000")),
			 json_number_value(json_object_get(pct, "99.000000")));
		fl_case_detail(c, "fio.read", buf);
	}
	json_decref(j);
	/* No clat with --gtod_reduce=1 (fio_args): the fastest-io ratio is left out then. */
	if (fr->bw <= 0) {
		fl_case_detail(c, "fio.error", "no read.bw_bytes in fio's JSON");
		return false;
	}
	return true;
}

/* "median 0.97 (IQR 0.93-1.02, min 0.61, max 1.40) over 21 rounds" */
static void ratio_str(const double *r, size_t n, char *out, size_t len)
{
	struct fl_summary s;

	fl_summarize(r, n, &s);
	snprintf(out, len, "median %.3f (IQR %.3f-%.3f, min %.3f, max %.3f) over %zu rounds",
		 s.median, s.p25, s.p75, s.min, s.max, n);
}

/* fio's command line, NULL-terminated, in @argv with its strings in @a. */
struct fio_cmd {
	const char *argv[FIO_FIXED_ARGS + FIO_MAX_EXTRA + 1];
	char size[32], off[32], bs[32], loops[32], fname[600], engine[40];
	char extra[FL_OPT_STRLEN];
};

static void fio_cmd_build(struct fl_case *c, const struct dp_case *dc, struct fio_cmd *a)
{
	const struct dp_conf *cf = c->config;
	char *save = NULL, buf[700];

	snprintf(a->engine, sizeof(a->engine), "--ioengine=%s", fio_ioengine[cf->fio]);
	snprintf(a->fname, sizeof(a->fname), "--filename=%s", dc->m.path);
	snprintf(a->size, sizeof(a->size), "--size=%zu", dc->m.len);
	snprintf(a->off, sizeof(a->off), "--offset=%" PRIu64, cf->file_off);
	snprintf(a->bs, sizeof(a->bs), "--bs=%" PRIu64, cf->bs);
	snprintf(a->loops, sizeof(a->loops), "--loops=%" PRId64, cf->fio_loops);
	{
		/* --invalidate=0: nothing to drop from a page cache on DAX. */
		const char *fixed[FIO_FIXED_ARGS] = { "fio", "--name=faultline-peer", "--output-format=json",
						      "--rw=read", "--invalidate=0", a->engine, a->fname,
						      a->size, a->off, a->bs, a->loops };

		memset(a->argv, 0, sizeof(a->argv));
		memcpy(a->argv, fixed, sizeof(fixed));
	}
	/* At most FIO_MAX_EXTRA words (dp_fio_supported); argv stays NULL-terminated. */
	snprintf(a->extra, sizeof(a->extra), "%s", cf->fio_args);
	for (size_t n = FIO_FIXED_ARGS; n < FIO_FIXED_ARGS + FIO_MAX_EXTRA; n++)
		if (!(a->argv[n] = strtok_r(n == FIO_FIXED_ARGS ? a->extra : NULL, FIO_ARG_SEP, &save)))
			break;
	buf[0] = 0;
	for (size_t i = 0, n = 0; a->argv[i] && n < sizeof(buf); i++)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s%s", i ? " " : "", a->argv[i]);
	fl_case_detail(c, "fio.command", buf);
}

/*
 * The rounds: each one sample of fio_read_GBps, dax_read_same_file_GBps
 * and their ratios (see dp_fio_side_by_side); the order swapped every
 * round so that a drift in host load favours neither.  Fills @tput and
 * @minio (fio_rounds each), returns their counts in *nr and *nm.
 */
static void fio_rounds(struct fl_case *c, const struct fio_cmd *a, struct read_pass *rp,
		       double *tput, size_t *nr, double *minio, size_t *nm)
{
	const struct dp_conf *cf = c->config;
	double io_bytes = (double)(cf->bs < rp->src->len ? cf->bs : rp->src->len);
	double ours = 0, ours_min, fio_min;
	struct fio_read fr = { 0 };
	char why[256];

	for (int64_t r = 0; r < cf->fio_rounds; r++) {
		bool ok;

		if (r % 2 == 0)
			ours = dp_bw_read(rp);
		ok = fio_once(c, a->argv, !r, &fr);
		if (r % 2 == 1)
			ours = dp_bw_read(rp);
		if (ours < 0) {
			snprintf(why, sizeof(why), "our read of the fio file: %s", strerror(errno));
			fl_case_detail(c, "fio.error", why);
			break;
		}
		if (!ok || !ours)
			break;
		fl_metric(c, "fio_read_GBps", "GB/s", FL_INFORMATIONAL, fr.bw);
		fl_metric(c, "dax_read_same_file_GBps", "GB/s", FL_INFORMATIONAL, ours);
		fl_metric(c, "dax_vs_fio_read", "ratio", FL_INFORMATIONAL, ours / fr.bw);
		fl_metric(c, "dax_read_busy", "%", FL_INFORMATIONAL, 100 * rp->busy);
		tput[(*nr)++] = ours / fr.bw;
		if (fr.clat_min > 0) {
			ours_min = io_bytes / (double)rp->fastest;
			fio_min = io_bytes / fr.clat_min;
			fl_metric(c, "fio_read_minio_GBps", "GB/s", FL_INFORMATIONAL, fio_min);
			fl_metric(c, "dax_read_minio_GBps", "GB/s", FL_INFORMATIONAL, ours_min);
			fl_metric(c, "dax_vs_fio_read_minio", "ratio", FL_INFORMATIONAL, ours_min / fio_min);
			fl_metric(c, "fio_read_busy", "%", FL_INFORMATIONAL, 100 * fr.busy);
			minio[(*nm)++] = ours_min / fio_min;
		}
	}
}

/* fio_cpu: the forked fio inherits this thread's mask, so one call binds both sides. */
static bool bind_cpu(struct fl_case *c, cpu_set_t *saved)
{
	const struct dp_conf *cf = c->config;
	cpu_set_t one;
	char why[256];

	CPU_ZERO(&one);
	CPU_SET((int)cf->fio_cpu, &one);
	if (!sched_getaffinity(0, sizeof(*saved), saved) && !sched_setaffinity(0, sizeof(one), &one))
		return true;
	snprintf(why, sizeof(why), "fio_cpu=%" PRId64 ": %s", cf->fio_cpu, strerror(errno));
	fl_case_detail(c, "fio.error", why);
	return false;
}

/*
 * fio beside us on one file, rounds of (our read passes, one fio run with
 * --loops) in turn.  Our passes read the way fio's mmap engine does
 * (dp_bw_read with remap: same memcpy, buffer placement, fresh mapping
 * per loop), so the ratio compares like with like; read_GBps of the case
 * is the populated mapping's.  Each round is one sample of two ratios:
 *  - throughput: bytes over the wall time of the passes (fio: bw_bytes),
 *    dax_vs_fio_read; fio.ratio_read has the median and spread;
 *  - fastest io: bs over the shortest time of one bs copy (fio: clat
 *    min), dax_vs_fio_read_minio.  Host noise (other VMs, a qemu TCG vCPU
 *    descheduled) stretches ios and whole runs alike; the fastest io of
 *    each side is the one it disturbed least, so this ratio stays steady
 *    where the throughput ratio of single rounds swings by 2x or more.
 * fio_read_busy / dax_read_busy: the share of each side's run spent inside
 * its copies (fio: total_ios * clat mean / runtime).  What fio does between
 * ios (io_u bookkeeping, per-io stats, clock reads) lowers its throughput,
 * not its io times; under TCG that code runs far slower than a memcpy.
 */
void dp_fio_side_by_side(struct fl_case *c, struct dp_case *dc)
{
	const struct dp_conf *cf = c->config;
	struct read_pass rp = { .src = &dc->m, .bs = cf->bs, .passes = (unsigned)cf->fio_loops,
				.buf = cf->read_buf, .rawio = cf->fio == F_LIBPMEM, .remap = true };
	double *tput = calloc((size_t)cf->fio_rounds, sizeof(double));
	double *minio = calloc((size_t)cf->fio_rounds, sizeof(double));
	struct fio_cmd *cmd = calloc(1, sizeof(*cmd));
	size_t nr = 0, nm = 0;
	char buf[700];
	cpu_set_t saved;
	bool bound = false;

	if (!tput || !minio || !cmd) {
		fl_case_detail(c, "fio.error", "no memory for the per-round ratios");
		goto out_free;
	}
	/* One file for both: named (fio opens it by name), written (a reader reads data, not unwritten extents). */
	if (dp_open(c, dc, FL_MAP_VA_ANY | FL_MAP_KEEP_NAME, true))
		goto out;
	if (cf->fio_cpu >= 0 && !(bound = bind_cpu(c, &saved)))
		goto out;
	fio_cmd_build(c, dc, cmd);
	fio_rounds(c, cmd, &rp, tput, &nr, minio, &nm);
	if (nr) {
		ratio_str(tput, nr, buf, sizeof(buf));
		fl_case_detail(c, "fio.ratio_read", buf);
		if (nm) {
			ratio_str(minio, nm, buf, sizeof(buf));
			fl_case_detail(c, "fio.ratio_read_minio", buf);
		}
		snprintf(buf, sizeof(buf), "glibc %s memcpy, bs %" PRIu64 ", %s buffer at %s%s, a fresh mapping per "
			 "pass (remapped before its last io, as fio does), %s %d", gnu_get_libc_version(), cf->bs,
			 dp_read_bufs[cf->read_buf], rp.place, cf->read_buf == B_FIO_ASLR ? " (last round)" : "",
			 cf->fio_cpu >= 0 ? "both sides bound to CPU" : "unbound, last on CPU", sched_getcpu());
		fl_case_detail(c, "fio.ours", buf);
	}
out:
	if (bound)
		sched_setaffinity(0, sizeof(saved), &saved);
	fl_unmap(&dc->m);
out_free:
	free(tput);
	free(minio);
	free(cmd);
}
