// SPDX-License-Identifier: GPL-2.0
/*
 * fio-style job files, parsed with inih:
 *
 *   [global]            core options and defaults for every section
 *   repeat=5
 *   [thp-populate]      one section per case group
 *   workload=populate   (defaults to the section name)
 *   backing=anon-4k,thp comma lists expand into one case per value
 *   mode=first-touch,map-populate
 *
 * Everything is validated before anything runs; the first problem is
 * reported as "file:line: message" and the run exits 2.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ini.h>

#include "core.h"

static const char *const thp_modes[] = { "keep", "always", "madvise", "never", NULL };
static const char *const worker_kinds[] = { "threads", "processes", NULL };

const struct fl_option fl_core_options[] = {
	FL_OPT_INT_(struct fl_core_conf, repeat, "repeat", 1, 100000, "5",
		    "measured repetitions (samples) per case"),
	FL_OPT_INT_(struct fl_core_conf, warmup, "warmup", 0, 1000, "1",
		    "warm-up repetitions, run and discarded"),
	FL_OPT_INT_(struct fl_core_conf, threads, "threads", 0, 4096, "1",
		    "workers per case, one per core (hwloc); 0 = one per core available"),
	FL_OPT_STR_(struct fl_core_conf, cpus, "cpus", "",
		    "CPUs to bind workers to, e.g. 0-3,8 (default: all)"),
	FL_OPT_INT_(struct fl_core_conf, node, "node", -1, 1023, "-1",
		    "NUMA node to bind workers' memory to (libnuma); -1 = none"),
	FL_OPT_DOUBLE_(struct fl_core_conf, interval, "interval", 0.05, 3600, "1",
		       "seconds per sample for sampled (will-it-scale style) workloads"),
	FL_OPT_DOUBLE_(struct fl_core_conf, timeout, "timeout", 1, 86400, "900",
		       "seconds a case may run before it is killed and recorded as hung"),
	{ .name = "thp_mode", .type = FL_OPT_ENUM, .def = "keep",
	  .help = "THP mode to set with --prepare (restored at exit)",
	  .offset = offsetof(struct fl_core_conf, thp_mode), .choices = thp_modes },
	{ .name = "workers", .type = FL_OPT_ENUM, .def = "threads",
	  .help = "workers are threads of one process, or processes (one mm each; workloads that allow it)",
	  .offset = offsetof(struct fl_core_conf, processes), .choices = worker_kinds },
	FL_OPT_STR_(struct fl_core_conf, bconf.file_dir, "file_dir", "/var/tmp",
		    "directory for page-cache file backings (a disk filesystem)"),
	FL_OPT_STR_(struct fl_core_conf, bconf.dax_dir, "dax_dir", "",
		    "fsdax mount for fsdax backings (default: first -o dax mount)"),
	FL_OPT_STR_(struct fl_core_conf, bconf.devdax, "devdax", "",
		    "devdax device (default: first /dev/daxX.Y)"),
	FL_OPT_END
};

struct parse_state {
	struct fl_job *job;
	const char *path;
	FILE *f;
	int line;
	struct fl_spec *cur;
	char cur_section[64];
	char *err;
	size_t errlen;
	bool failed;
};

static int __attribute__((format(printf, 2, 3)))
fail(struct parse_state *ps, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (ps->failed)
		return 0;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(ps->err, ps->errlen, "%s:%d: %s", ps->path, ps->line, msg);
	ps->failed = true;
	return 0;
}

/* Start (or continue) a section; "global" is the shared one. */
static int enter_section(struct parse_state *ps, const char *section)
{
	struct fl_job *job = ps->job;

	if (ps->cur && !strcmp(section, ps->cur_section))
		return 1;
	if (strlen(section) >= sizeof(ps->cur_section))
		return fail(ps, "section name '%.40s...' too long (max %zu chars)", section,
			    sizeof(ps->cur_section) - 1);
	snprintf(ps->cur_section, sizeof(ps->cur_section), "%s", section);
	if (!strcmp(section, "global")) {
		ps->cur = &job->global;
		return 1;
	}
	if (job->nr_specs == FL_MAX_SPECS)
		return fail(ps, "too many sections (max %d)", FL_MAX_SPECS);
	ps->cur = &job->specs[job->nr_specs++];
	memset(ps->cur, 0, sizeof(*ps->cur));
	snprintf(ps->cur->name, sizeof(ps->cur->name), "%s", section);
	snprintf(ps->cur->origin, sizeof(ps->cur->origin), "%s:%d", ps->path, ps->line);
	return 1;
}

/*
 * inih reads through this so that every handler call knows its line, and so
 * that what inih would silently accept or mangle is reported here: a bare
 * [section] with no keys (inih never calls back for it), an unclosed
 * section header, a line longer than inih's buffer.
 */
static char *counting_reader(char *str, int num, void *stream)
{
	struct parse_state *ps = stream;
	char *p, *end;

	if (ps->failed || !fgets(str, num, ps->f))
		return NULL;
	ps->line++;
	if (!strchr(str, '\n') && !feof(ps->f)) {
		fail(ps, "line longer than %d characters", num - 2);
		return NULL;
	}
	for (p = str; *p == ' ' || *p == '\t'; p++)
		;
	if (*p != '[')
		return str;
	end = strchr(p, ']');
	if (!end) {
		fail(ps, "unclosed section header (missing ']')");
		return NULL;
	}
	*end = '\0';
	enter_section(ps, p + 1);
	*end = ']';
	return ps->failed ? NULL : str;
}

static int add_param(struct fl_spec *s, const char *key, const char *value,
		     const char *origin, char *err, size_t errlen)
{
	struct fl_param *p = NULL;

	if (strlen(key) >= sizeof(p->key) || strlen(value) >= sizeof(p->value)) {
		snprintf(err, errlen, "%s: key or value too long (max %zu/%zu chars)",
			 origin, sizeof(p->key) - 1, sizeof(p->value) - 1);
		return -1;
	}
	for (unsigned i = 0; i < s->nr_params; i++)
		if (!strcmp(s->params[i].key, key))
			p = &s->params[i];	/* later value wins, as in fio */
	if (!p) {
		if (s->nr_params == FL_MAX_PARAMS) {
			snprintf(err, errlen, "%s: more than %d keys in one section", origin, FL_MAX_PARAMS);
			return -1;
		}
		p = &s->params[s->nr_params++];
	}
	snprintf(p->key, sizeof(p->key), "%s", key);
	snprintf(p->value, sizeof(p->value), "%s", value);
	snprintf(p->origin, sizeof(p->origin), "%s", origin);
	return 0;
}

static int job_ini_handler(void *user, const char *section, const char *name,
		       const char *value)
{
	struct parse_state *ps = user;
	struct fl_job *job = ps->job;
	char origin[300];

	if (ps->failed)
		return 0;
	if (!*section)
		return fail(ps, "key '%s' outside a section (start with [global] or [name])", name);
	if (!value)
		return fail(ps, "key '%s' has no value (write %s=VALUE)", name, name);
	if (!*name)
		return fail(ps, "empty key");
	if (!enter_section(ps, section))
		return 0;
	snprintf(origin, sizeof(origin), "%s:%d", ps->path, ps->line);
	if (!strcmp(name, "workload")) {
		if (ps->cur == &job->global)
			return fail(ps, "'workload' belongs in a case section, not [global]");
		ps->cur->wl = fl_workload_by_name(value);
		if (!ps->cur->wl)
			return fail(ps, "unknown workload '%s' (see 'faultline list')", value);
		return 1;
	}
	if (!strcmp(name, "backing")) {
		if (strlen(value) >= sizeof(ps->cur->backing))
			return fail(ps, "backing list too long");
		snprintf(ps->cur->backing, sizeof(ps->cur->backing), "%s", value);
		snprintf(ps->cur->backing_origin, sizeof(ps->cur->backing_origin), "%s", origin);
		return 1;
	}
	if (add_param(ps->cur, name, value, origin, ps->err, ps->errlen)) {
		ps->failed = true;
		return 0;
	}
	return 1;
}

int fl_job_load(const char *path, struct fl_job *job, char *err, size_t errlen)
{
	struct parse_state ps = { .job = job, .path = path, .err = err, .errlen = errlen };
	int ret;

	memset(job, 0, sizeof(*job));
	snprintf(job->source, sizeof(job->source), "%s", path);
	snprintf(job->global.name, sizeof(job->global.name), "global");
	ps.f = fopen(path, "r");
	if (!ps.f) {
		snprintf(err, errlen, "%s: cannot open job file: %s", path, strerror(errno));
		return -1;
	}
	ret = ini_parse_stream(counting_reader, &ps, job_ini_handler, &ps);
	fclose(ps.f);
	if (ps.failed)
		return -1;
	if (ret > 0) {
		snprintf(err, errlen, "%s:%d: syntax error (expected [section], key=value or a ; comment)",
			 path, ret);
		return -1;
	}
	if (ret < 0) {
		snprintf(err, errlen, "%s: cannot parse job file", path);
		return -1;
	}
	if (!job->nr_specs) {
		snprintf(err, errlen, "%s: no case sections (only [global]): nothing to run", path);
		return -1;
	}
	return 0;
}

int fl_job_set(struct fl_job *job, const char *kv, char *err, size_t errlen)
{
	const char *eq = strchr(kv, '=');
	char key[64];

	if (!eq || eq == kv || (size_t)(eq - kv) >= sizeof(key)) {
		snprintf(err, errlen, "--set '%s': expected KEY=VALUE", kv);
		return -1;
	}
	memcpy(key, kv, (size_t)(eq - kv));
	key[eq - kv] = '\0';
	if (!strcmp(key, "workload")) {
		snprintf(err, errlen, "--set workload=...: name workloads as arguments instead");
		return -1;
	}
	if (!strcmp(key, "backing")) {
		snprintf(err, errlen, "--set backing=...: use --backing");
		return -1;
	}
	/* CLI values override the job file: they go last into every section. */
	if (add_param(&job->global, key, eq + 1, "--set", err, errlen))
		return -1;
	for (unsigned i = 0; i < job->nr_specs; i++) {
		for (unsigned j = 0; j < job->specs[i].nr_params; j++) {
			struct fl_param *p = &job->specs[i].params[j];

			if (!strcmp(p->key, key)) {
				snprintf(p->value, sizeof(p->value), "%s", eq + 1);
				snprintf(p->origin, sizeof(p->origin), "--set");
			}
		}
	}
	return 0;
}

int fl_job_keep_sections(struct fl_job *job, const char *list, char *err, size_t errlen)
{
	char buf[FL_OPT_STRLEN], *names[FL_MAX_SPECS], *save = NULL;
	bool keep[FL_MAX_SPECS] = { false };
	unsigned nnames = 0, kept = 0;

	if (strlen(list) >= sizeof(buf)) {
		snprintf(err, errlen, "--section: list too long");
		return -1;
	}
	snprintf(buf, sizeof(buf), "%s", list);
	for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (nnames == FL_MAX_SPECS) {
			snprintf(err, errlen, "--section: more than %d names", FL_MAX_SPECS);
			return -1;
		}
		names[nnames++] = tok;
	}
	if (!nnames) {
		snprintf(err, errlen, "--section: name at least one section");
		return -1;
	}
	for (unsigned n = 0; n < nnames; n++) {
		bool found = false;

		for (unsigned i = 0; i < job->nr_specs; i++) {
			if (!strcmp(job->specs[i].name, names[n]))
				keep[i] = found = true;
		}
		if (!found) {
			int off = snprintf(err, errlen, "--section: no section [%s] in %s (it has:",
					   names[n], job->source);

			for (unsigned i = 0; i < job->nr_specs && off > 0 && (size_t)off < errlen; i++)
				off += snprintf(err + off, errlen - off, " %s", job->specs[i].name);
			if (off > 0 && (size_t)off < errlen)
				snprintf(err + off, errlen - off, ")");
			return -1;
		}
	}
	/* Job order, not the order named: results read like the job file. */
	for (unsigned i = 0; i < job->nr_specs; i++) {
		if (keep[i] && kept != i)
			job->specs[kept] = job->specs[i];
		kept += keep[i];
	}
	job->nr_specs = kept;
	return 0;
}

int fl_parse_cpulist(const char *s, uint64_t *mask, unsigned nbits)
{
	const char *p = s;

	memset(mask, 0, (nbits + 63) / 64 * sizeof(uint64_t));
	if (!*s)
		return -1;
	while (*p) {
		char *end;
		unsigned long a, b;

		errno = 0;
		a = strtoul(p, &end, 10);
		if (end == p || errno)
			return -1;
		b = a;
		p = end;
		if (*p == '-') {
			p++;
			b = strtoul(p, &end, 10);
			if (end == p || errno || b < a)
				return -1;
			p = end;
		}
		if (b >= nbits)
			return -1;
		for (unsigned long c = a; c <= b; c++)
			mask[c / 64] |= 1ull << (c % 64);
		if (*p == ',')
			p++;
		else if (*p)
			return -1;
	}
	return 0;
}

/* Merged view of a section: [global] params then its own, later wins. */
struct merged {
	unsigned n;
	const struct fl_param *p[2 * FL_MAX_PARAMS];
	bool from_global[2 * FL_MAX_PARAMS];
};

static void merge_params(const struct fl_job *job, const struct fl_spec *s, struct merged *m)
{
	m->n = 0;
	for (int pass = 0; pass < 2; pass++) {
		const struct fl_spec *src = pass ? s : &job->global;

		for (unsigned i = 0; i < src->nr_params; i++) {
			unsigned k;

			for (k = 0; k < m->n; k++)
				if (!strcmp(m->p[k]->key, src->params[i].key))
					break;
			/* A --set in [global] beats the section's own value. */
			if (k < m->n && pass && !strcmp(m->p[k]->origin, "--set"))
				continue;
			m->p[k] = &src->params[i];
			m->from_global[k] = !pass;
			if (k == m->n)
				m->n++;
		}
	}
}

/* Split a comma list in place; returns the count. */
static unsigned split_list(char *buf, char **items, unsigned max)
{
	unsigned n = 0;
	char *save = NULL;

	for (char *t = strtok_r(buf, ",", &save); t && n < max; t = strtok_r(NULL, ",", &save)) {
		while (*t == ' ')
			t++;
		items[n++] = t;
	}
	return n;
}

#define MAX_VALUES 64

struct axis {
	const struct fl_param *param;
	const struct fl_option *opt;
	bool core;
	bool explicit_label;
	char buf[FL_OPT_STRLEN];
	char *values[MAX_VALUES];
	unsigned n;
};

static int push_case(struct fl_plan *plan, const struct fl_case_def *def)
{
	struct fl_case_def *n;

	if (plan->nr_cases >= 100000)
		return -1;
	n = realloc(plan->cases, (plan->nr_cases + 1) * sizeof(*n));
	if (!n)
		return -1;
	plan->cases = n;
	plan->cases[plan->nr_cases++] = *def;
	return 0;
}

/* A [global] key no section's workload knows of is an error; one another section's knows is not. */
static bool global_key_used(const struct fl_job *job, const char *key)
{
	for (unsigned j = 0; j < job->nr_specs; j++) {
		const struct workload *w2 = job->specs[j].wl ? job->specs[j].wl :
			fl_workload_by_name(job->specs[j].name);

		if (w2 && fl_opt_find(w2->options, key))
			return true;
	}
	return false;
}

/* One axis per key of the merged parameters; the number of axes, or -1. */
static int build_axes(const struct fl_job *job, const struct workload *wl, const struct merged *m,
		      struct axis *axes, char *err, size_t errlen)
{
	unsigned nax = 0;

	for (unsigned i = 0; i < m->n; i++) {
		struct axis *a = &axes[nax];
		const struct fl_option *co = fl_opt_find(fl_core_options, m->p[i]->key);
		const struct fl_option *wo = fl_opt_find(wl->options, m->p[i]->key);

		if (!co && !wo) {
			if (m->from_global[i] && global_key_used(job, m->p[i]->key))
				continue;
			snprintf(err, errlen, "%s: unknown key '%s' for workload %s (see 'faultline describe %s')",
				 m->p[i]->origin, m->p[i]->key, wl->name, wl->name);
			return -1;
		}
		a->param = m->p[i];
		a->opt = wo ? wo : co;
		a->core = !wo;
		a->explicit_label = wo || !strcmp(a->opt->name, "threads") ||
				    !strcmp(a->opt->name, "workers");
		snprintf(a->buf, sizeof(a->buf), "%s", m->p[i]->value);
		if (a->opt->type == FL_OPT_STRING) {
			a->values[0] = a->buf;
			a->n = 1;
		} else {
			a->n = split_list(a->buf, a->values, MAX_VALUES);
		}
		if (!a->n) {
			snprintf(err, errlen, "%s: key '%s' has an empty value", m->p[i]->origin, m->p[i]->key);
			return -1;
		}
		nax++;
	}
	return (int)nax;
}

/*
 * The section's backings: its own, else the command line's, else
 * [global]'s, else the workload's default.  Returns the mask, 0 on error.
 */
static unsigned resolve_backings(const struct fl_job *job, const struct fl_spec *s,
				 const struct workload *wl, const char *backing_override,
				 char *err, size_t errlen)
{
	char bbuf[FL_OPT_STRLEN], *bnames[FL_BACKING_COUNT * 2], all[256];
	bool b_explicit = s->backing[0];
	const char *blist = s->backing[0] ? s->backing : backing_override && *backing_override ?
		backing_override : job->global.backing;
	unsigned nb, bmask = 0;

	if (!blist || !*blist)
		return wl->default_backings ? wl->default_backings : wl->backings;
	snprintf(bbuf, sizeof(bbuf), "%s", blist);
	nb = split_list(bbuf, bnames, FL_BACKING_COUNT * 2);
	for (unsigned i = 0; i < nb; i++) {
		const struct fl_backing *b = fl_backing_by_name(bnames[i]);

		fl_backing_mask_str(FL_BACKINGS_ALL, all, sizeof(all));
		if (!b) {
			snprintf(err, errlen, "%s: unknown backing '%s' (valid: %s)",
				 b_explicit ? s->backing_origin : job->global.backing[0] && blist == job->global.backing ?
				 job->global.backing_origin : "--backing", bnames[i], all);
			return 0;
		}
		if (!(wl->backings & FL_B(b->id))) {
			fl_backing_mask_str(wl->backings, all, sizeof(all));
			if (b_explicit) {
				snprintf(err, errlen, "%s: workload %s does not run on backing '%s' (valid: %s)",
					 s->backing_origin, wl->name, b->name, all);
				return 0;
			}
			continue;
		}
		bmask |= FL_B(b->id);
	}
	if (!bmask) {
		fl_backing_mask_str(wl->backings, all, sizeof(all));
		snprintf(err, errlen, "%s: workload %s accepts none of the backings '%s' (valid: %s)",
			 s->origin, wl->name, blist, all);
	}
	return bmask;
}

/* The case at odometer position @idx of @axes on backing @b, into @def. */
static int make_case(const struct fl_spec *s, const struct workload *wl, int b, const struct axis *axes,
		     unsigned nax, const unsigned *idx, struct fl_case_def *def, char *err, size_t errlen)
{
	char msg[512];
	size_t off;

	memset(def, 0, sizeof(*def));
	def->wl = wl;
	def->backing = (enum fl_backing_id)b;
	snprintf(def->section, sizeof(def->section), "%s", s->name);
	def->config = calloc(1, wl->config_size ? wl->config_size : 1);
	if (!def->config)
		return -1;
	if (fl_opt_defaults(fl_core_options, &def->core, msg, sizeof(msg)) ||
	    fl_opt_defaults(wl->options, def->config, msg, sizeof(msg))) {
		snprintf(err, errlen, "internal: bad default: %s", msg);
		return -1;
	}
	off = (size_t)snprintf(def->label, sizeof(def->label), "%s/%s", wl->name, fl_backings[b].name);
	for (unsigned i = 0, first = 1; i < nax; i++) {
		const struct axis *a = &axes[i];
		void *dst = a->core ? (void *)&def->core : def->config;

		if (fl_opt_parse(a->opt, a->values[idx[i]], dst, msg, sizeof(msg))) {
			snprintf(err, errlen, "%s: %s", a->param->origin, msg);
			return -1;
		}
		if (a->explicit_label && off < sizeof(def->label)) {
			off += (size_t)snprintf(def->label + off, sizeof(def->label) - off,
						"%s%s=%s", first ? "/" : ",", a->opt->name, a->values[idx[i]]);
			first = 0;
		}
	}
	if (def->core.cpus[0]) {
		uint64_t mask[16];

		if (fl_parse_cpulist(def->core.cpus, mask, 1024)) {
			const char *where = "--cpus";

			for (unsigned i = 0; i < nax; i++)
				if (!strcmp(axes[i].opt->name, "cpus"))
					where = axes[i].param->origin;
			snprintf(err, errlen, "%s: cpus: invalid CPU list '%s' (valid: e.g. 0-3,8, CPUs below 1024)",
				 where, def->core.cpus);
			return -1;
		}
	}
	return 0;
}

static int expand_spec(const struct fl_job *job, const struct fl_spec *s,
		       const char *backing_override, struct fl_plan *plan,
		       char *err, size_t errlen)
{
	const struct workload *wl = s->wl ? s->wl : fl_workload_by_name(s->name);
	struct merged m;
	struct axis *axes;
	unsigned idx[2 * FL_MAX_PARAMS] = { 0 }, bmask, nax;
	int ret = -1, n;

	if (!wl) {
		snprintf(err, errlen, "%s: section [%s] has no workload= and '%s' is not a workload (see 'faultline list')",
			 s->origin, s->name, s->name);
		return -1;
	}
	merge_params(job, s, &m);
	axes = calloc(m.n ? m.n : 1, sizeof(*axes));
	if (!axes)
		return -1;
	n = build_axes(job, wl, &m, axes, err, errlen);
	if (n < 0)
		goto out;
	nax = (unsigned)n;
	bmask = resolve_backings(job, s, wl, backing_override, err, errlen);
	if (!bmask)
		goto out;
	for (int b = 0; b < FL_BACKING_COUNT; b++) {
		if (!(bmask & FL_B(b)))
			continue;
		memset(idx, 0, sizeof(idx));
		for (;;) {
			struct fl_case_def def;
			unsigned k;

			if (make_case(s, wl, b, axes, nax, idx, &def, err, errlen)) {
				free(def.config);
				goto out;
			}
			if (push_case(plan, &def)) {
				free(def.config);
				snprintf(err, errlen, "too many cases");
				goto out;
			}
			/* Odometer over the list-valued axes. */
			for (k = 0; k < nax; k++) {
				if (++idx[k] < axes[k].n)
					break;
				idx[k] = 0;
			}
			if (k == nax)
				break;
		}
	}
	ret = 0;
out:
	free(axes);
	return ret;
}

int fl_job_add_workload(struct fl_job *job, const char *name, const char *origin,
			char *err, size_t errlen)
{
	struct fl_spec *s;

	if (!fl_workload_by_name(name)) {
		snprintf(err, errlen, "%s: unknown workload '%s' (see 'faultline list')", origin, name);
		return -1;
	}
	if (job->nr_specs == FL_MAX_SPECS) {
		snprintf(err, errlen, "%s: more than %d workloads", origin, FL_MAX_SPECS);
		return -1;
	}
	if (!job->global.name[0])
		snprintf(job->global.name, sizeof(job->global.name), "global");
	s = &job->specs[job->nr_specs++];
	memset(s, 0, sizeof(*s));
	snprintf(s->name, sizeof(s->name), "%s", name);
	snprintf(s->origin, sizeof(s->origin), "%s", origin);
	s->wl = fl_workload_by_name(name);
	return 0;
}

int fl_job_finish(struct fl_job *job, char *const *sets, unsigned nsets,
		  const char *backing_override, struct fl_plan *plan, char *err, size_t errlen)
{
	for (unsigned i = 0; i < nsets; i++)
		if (fl_job_set(job, sets[i], err, errlen))
			return -1;
	return fl_job_expand(job, backing_override, plan, err, errlen);
}

int fl_job_expand(const struct fl_job *job, const char *backing_override,
		  struct fl_plan *plan, char *err, size_t errlen)
{
	memset(plan, 0, sizeof(*plan));
	for (unsigned i = 0; i < job->nr_specs; i++) {
		if (expand_spec(job, &job->specs[i], backing_override, plan, err, errlen)) {
			fl_plan_free(plan);
			return -1;
		}
	}
	return 0;
}

void fl_plan_free(struct fl_plan *plan)
{
	for (unsigned i = 0; i < plan->nr_cases; i++)
		free(plan->cases[i].config);
	free(plan->cases);
	memset(plan, 0, sizeof(*plan));
}
