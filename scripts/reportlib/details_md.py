"""report-details.md: everything behind report.md, in plain text.

report.md leads with one headline figure per case and kernel; this file
keeps every comparison (each metric and latency percentile against the
baseline, with its CI, floor, p and notes), the whole environment diff, the
verdict counts, every behaviour detail and skip reason per run, and the
method.  Order: input problems and loud warnings, environment differences,
correctness (fail / error / hung with the kernel excerpt), regressions,
improvements, status and behaviour changes, and the rest.
"""

import textwrap

from . import fmt, render_md

CMP_HEAD = ["verdict", "base", "+-cv", "new", "+-cv", "%change", "95% CI", "floor", "p", "n",
            "metric", "case"]
CMP_ALIGN = "lrrrrrrrrrll"


def cmp_rows(cs):
    rows = []
    for c in cs:
        cvb = "-" if c.get("cv_base") is None else "%.1f%%" % (c["cv_base"] * 100)
        cvn = "-" if c.get("cv_new") is None else "%.1f%%" % (c["cv_new"] * 100)
        rows.append([c["verdict"].upper() if c["verdict"] in ("regressed", "improved")
                     else c["verdict"],
                     fmt.num(c["base"], c["unit"]), cvb, fmt.num(c["new"], c["unit"]), cvn,
                     fmt.change_of(c), fmt.ci(c), fmt.floor(c), fmt.pval(c["p"]),
                     fmt.n_of(c),
                     "%s %s" % (c["metric"], c["unit"] if c["unit"] != "ns" else ""),
                     c["case"]])
    return rows


def _notes(cs):
    out = []
    for c in cs:
        notes = [n for n in c["notes"] if not n.startswith("CI from resampling")]
        if notes:
            out.append("  %s %s: %s" % (c["case"], c["metric"], "; ".join(notes)))
    return out


def render(rep):
    L = []
    w = L.append
    st = rep["settings"]
    w("faultline report: details")
    w("=========================")
    w("")
    w("generated %s; baseline: %s; the summary is report.md"
      % (rep["generated"], rep.get("baseline", "-")))
    w("")
    w(fmt.text_table(
        ["run", "kernel", "host", "accel", "start", "records", "complete", "folder"],
        [[("*" if r["baseline"] else " ") + r["label"], r["kernel"] or "?", r["host"] or "?",
          r["accel"] or "?", r["start"] or "?", r["records"],
          fmt.completeness(r), r["path"]] for r in rep["runs"]]))
    w("")
    if rep["problems"]:
        w("Input problems")
        w("--------------")
        for p in rep["problems"]:
            w("  %s: %s" % (p["file"], p["problem"]))
        w("")
    for warning in rep["warnings"]:
        bar = "!" * 78
        w(bar)
        for line in textwrap.wrap("WARNING: " + warning, 74):
            w("!!! " + line)
        w(bar)
        w("")
    if "columns" not in rep:
        w("No usable run: nothing to compare.")
        return "\n".join(L) + "\n"

    _environment(rep, w)
    render_md.correctness(rep, w)
    _summary(rep, w)
    _flagged(rep, w)
    _tables(rep, w)
    _rest(rep, w)
    w("Method")
    w("------")
    w(method_text(st))
    return "\n".join(L) + "\n"


def _environment(rep, w):
    cols = rep["columns"]
    env = rep["env"]
    w("Environment differences")
    w("-----------------------")
    if env["differs"]:
        w(fmt.text_table(["setting"] + cols,
                         [[d["key"]] + [_short(v, 70 if "(words vs" in d["key"] else 40)
                                        for v in d["values"]]
                          for d in env["differs"]]))
    else:
        w("  none")
    render_md.identical_and_calibration(env, cols, w)


def _summary(rep, w):
    st = rep["settings"]
    w("Summary")
    w("-------")
    w(rule_text(st))
    w("")
    w("baseline %s; alpha %g, min change %g%%, noise k %g, latency min change %g%%,\n"
      "cv threshold %g%%, CI %s" % (rep["baseline"], st["alpha"], st["min_change"],
                                     st["noise_k"], st["latency_min_change"],
                                     st["cv_threshold"] * 100,
                                     "Hodges-Lehmann" if st["ci"] == "hl" else "bootstrap"))
    if rep["summary"]:
        w(fmt.text_table(["run", "compared", "regressed", "improved", "noisy", "unchanged",
                          "info", "pass->not", "flagged", "tests", "expected false +", "timing"],
                         [[s["run"], s["compared"], s["regressed"], s["improved"], s["noisy"],
                           s["unchanged"], s["info"], s["lost"], "%.1f%%" % s["flagged_pct"],
                           s["tests"],
                           "~%g" % s["expected_false_positives"],
                           "comparable" if s["timing_comparable"] else "NOT COMPARABLE (TCG)"]
                          for s in rep["summary"]],
                         "lrrrrrrrrrrl"))
        for sm in rep["summary"]:
            w("  %s vs %s: %d of %d compared metrics flagged (%d regressed, %d improved)%s;"
              % (sm["run"], rep["baseline"], sm["metrics_flagged"], sm["metrics_compared"],
                 sm["metrics_regressed"], sm["metrics_flagged"] - sm["metrics_regressed"],
                 "" if not sm["lost"] else
                 ", and %d case(s) regressed by status (pass->not)" % sm["lost"]))
            w("    if the two are an A/A (same kernel and settings), each flagged metric"
              " is a false positive")
        w("  (pass->not: cases that pass in the baseline and skip, fail, error or hang\n"
          "  here, or that a run which did not complete never recorded: each is one\n"
          "  'regressed' with its reason (status row), whatever the metrics;\n"
          "  flagged: regressed + improved metrics over compared metrics (status rows\n"
          "  left out), the false-positive rate of an A/A;\n"
          "  expected false +: tests x alpha, the number of p < alpha results chance\n"
          "  alone gives if nothing changed; the noise floor filters most of them)")
    else:
        w("  one run only: nothing compared")
    w("")
    if rep.get("metrics_table"):
        w("Every metric of every case")
        w("--------------------------")
        w(fmt.text_table(["case", "metric", "unit", "direction", "median", "cv", "n"],
                         [[m["case"], m["metric"], m["unit"], m["direction"],
                           fmt.num(m["median"], m["unit"]), fmt.pct1(m["cv"]), m["n"]]
                          for m in rep["metrics_table"]], "lllllrr"))
        w("")


def _flagged(rep, w):
    cols = rep["columns"]
    cmps = rep["comparisons"]
    ov = fmt.overview(rep)
    if ov:
        w("Overview: %%change against %s (R regressed, I improved, ? noisy)" % rep["baseline"])
        w("-" * 66)
        w(fmt.text_table(ov[0], ov[1], "ll" + "r" * (len(ov[0]) - 2)))
        w("")
    for title, verdict in (("Regressions", "regressed"), ("Improvements", "improved")):
        cs = [c for c in cmps if c["verdict"] == verdict]
        w(title)
        w("-" * len(title))
        if not cs:
            w("  none")
        else:
            for run in cols[1:]:
                rc = [c for c in cs if c["run"] == run]
                if rc:
                    w("%s vs %s:" % (run, rep["baseline"]))
                    w(fmt.text_table(CMP_HEAD, cmp_rows(rc), CMP_ALIGN))
            notes = _notes(cs)
            if notes:
                w("\n".join(notes))
        w("")


def _tables(rep, w):
    cols = rep["columns"]
    if rep["status_changes"]:
        w("Status differs between runs")
        w("---------------------------")
        w(fmt.text_table(["case"] + cols,
                         [[s["case"]] + [v or "(absent)" for v in s["values"]]
                          for s in rep["status_changes"]]))
        w("")
    if rep["unmatched"]:
        w("Unmatched cases (not in every run)")
        w("----------------------------------")
        w(fmt.text_table(["case", "present in", "missing in"],
                         [[u["case"], ", ".join(u["present"]), ", ".join(u["missing"])]
                          for u in rep["unmatched"]]))
        w("")
    if rep["param_diffs"]:
        w("Cases matched by name whose parameters differ (e.g. another faultline version)")
        w("-" * 78)
        w(fmt.text_table(["parameter"] + cols + ["cases"], fmt.param_diff_rows(rep)))
        w("")
    if rep["unmatched_metrics"]:
        w("Metrics recorded on one side only (not compared)")
        w("------------------------------------------------")
        w(fmt.text_table(["case", "metric", "run", "only in"],
                         [[u["case"], u["metric"], u["run"], u["only_in"]]
                          for u in rep["unmatched_metrics"]]))
        w("")
    if rep["behaviour"]:
        w("Behaviour per run (details behaviour*/observed* and skip reasons)")
        w("-----------------------------------------------------------------")
        w(fmt.text_table(["", "case", "observed"] + cols,
                         [["*" if b["differs"] else " ", b["case"], b["key"]]
                          + [_short(v, 90) for v in b["values"]] for b in rep["behaviour"]]))
        w("  (* = differs between runs)")
        w("")


def _rest(rep, w):
    cols = rep["columns"]
    cmps = rep["comparisons"]
    w("All comparisons (the rest)")
    w("--------------------------")
    rest = [c for c in cmps if c["verdict"] not in ("regressed", "improved")]
    for run in cols[1:]:
        rc = [c for c in rest if c["run"] == run]
        if rc:
            w("%s vs %s:" % (run, rep["baseline"]))
            w(fmt.text_table(CMP_HEAD, cmp_rows(rc), CMP_ALIGN))
            notes = _notes([c for c in rc if c["verdict"] == "noisy"])
            if notes:
                w("noisy:")
                w("\n".join(notes))
            w("")
    if not rest:
        w("  none")
        w("")


def rule_text(st):
    """The verdict rule in a few lines: above the Summary of report.md and
    report.html, so that a reader sees what "regressed" means before the
    counts."""
    return "\n".join([
        "Verdict rule: a metric is REGRESSED (or IMPROVED) only when the change is",
        "significant (two-sided Mann-Whitney U, p < %g) AND its whole 95%% CI lies"
        % st["alpha"],
        "beyond the noise floor max(%g%%, %g x the larger cv of the two runs), in the"
        % (st["min_change"], st["noise_k"]),
        "metric's bad (good) direction (symmetric in log space: +F% or -F/(1+F));",
        "the floor is raised to the machine's own move when the same host's memset",
        "calibration moved by more than %g%% between the runs.  Latency percentiles:"
        % st["calibration_warn_pct"]["memset_GBps"],
        "bootstrap CI wholly beyond max(%g%%, %g x the spread of the percentile across"
        % (st["latency_min_change"], st["noise_k"]),
        "pooled runs or of the case's repetitions).  A case that passes in the",
        "baseline and is skipped, failed, hung or lost in a run is REGRESSED",
        "whatever its numbers (status row, with the reason).  Everything else is",
        "noisy (the data cannot tell; the note says why) or unchanged.",
    ])


def method_text(st):
    ci = ("Hodges-Lehmann shift with its exact distribution-free interval"
          if st["ci"] == "hl" else
          "seeded percentile bootstrap of the difference of medians (seed %d, %d resamples)"
          % (st["seed"], st["resamples"]))
    return "\n".join([
        "  Metrics: median of the per-repetition samples; %change = (new - base) / base;",
        "  95%% CI of the difference as %% of the baseline median:\n    %s;" % ci,
        "  p: two-sided Mann-Whitney U (exact when small and tie-free).",
        "  regressed/improved: p < %g and the whole CI beyond the noise floor" % st["alpha"],
        "  +-max(%g%%, %g x max(cv base, cv new)) (the 'floor' column), in the metric's"
        % (st["min_change"], st["noise_k"]),
        "  own direction.  Statistical significance alone is not enough: the",
        "  repetitions of one run do not see what changes between runs (other load,",
        "  frequency, memory state), so a shift must also clear a few standard",
        "  deviations of the noisier run (practical significance, as LKP hides changes",
        "  whose runs' ranges overlap).  noisy: too few repetitions for p < %g to be"
        % st["alpha"],
        "  possible, or a change >= %g%% that is not significant or whose CI reaches"
        % st["min_change"],
        "  inside the floor, or cv > %g%% without a significant change; unchanged"
        % (st["cv_threshold"] * 100),
        "  otherwise.",
        "  Status: a case that passes in the baseline and not in a run (skip, fail,",
        "  error, hung, or not recorded by a run that did not complete) is regressed,",
        "  with the run's reason; the reverse is improved.  --fail-on regression gates",
        "  on these at any PCT.",
        "  Latency: percentiles of the merged histogram rebuilt from its buckets; CI from",
        "  the bootstrap distribution of each run's histogram (sampling error only: one",
        "  histogram per run says nothing about run-to-run variation); verdict needs the",
        "  whole CI beyond the floor max(%g%%, %g x the larger of the cv of that"
        % (st["latency_min_change"], st["noise_k"]),
        "  percentile across the runs pooled into a column and the cv of the case's",
        "  per-repetition metrics); a percentile needs >= 10 samples above it; p99 and",
        "  up are called noisy when the calibration says the same machine changed.",
        "  When both runs claim the same host and CPU but the memset calibration moved",
        "  by more than %g%% (a factor f), a change must exceed f (both ways: +(f-1),"
        % st["calibration_warn_pct"]["memset_GBps"],
        "  -(1-1/f)) to be attributed to the kernel.",
        "  False positives: in an A/A (same kernel and settings) every flagged metric",
        "  is one; the Summary's 'flagged' column is that rate.  On a shared machine",
        "  single runs can differ by far more than any floor derived from one run's",
        "  repetitions: run each side several times, interleaved (A1 B1 A2 B2 ...),",
        "  and pool them (A1+A2+A3): the pooled cv then carries the run-to-run spread.",
    ])


def _short(v, width=40):
    s = "-" if v is None else str(v)
    return s if len(s) <= width else s[:width - 3] + "..."
