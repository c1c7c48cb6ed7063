"""report.md: the kernel comparison in plain text, for a mailing list.

Several runs: per workload one compare-kernels table (a row per case, its
headline metric; a column per run with the value, the change against the
baseline and the verdict mark), then the behaviour matrix (what each kernel
did), correctness (fail / error / hung first), the verdict counts and the
environment differences.  One run: per workload a table of every case with
its headline figure, status, reason and behaviour.  Everything else (every
metric and latency comparison, the whole environment, the method) is in
report-details.md, written beside it.
"""

import textwrap

from . import fmt, kernels

DETAILS = "report-details.md"


def _title(w, text, under="-"):
    w(text)
    w(under * len(text))


def _head(rep, w):
    cols = rep.get("columns") or []
    _title(w, "faultline report: " + (" vs ".join(cols) if cols else "no usable run"), "=")
    w("")
    w("generated %s; baseline %s; every comparison, metric and environment setting: %s"
      % (rep["generated"], rep.get("baseline", "-"), DETAILS))
    w("")
    w(fmt.text_table(fmt.RUN_HEADERS, fmt.run_rows(rep)))
    for line in fmt.part_problems(rep):
        w("\n".join(textwrap.wrap(line, 100, subsequent_indent="    ",
                                   break_on_hyphens=False)))
    w("")
    fleet = fmt.fleet_rows(rep)
    if fleet:
        _title(w, "Fleet hosts")
        w(fmt.text_table(fmt.FLEET_HEAD, fleet))
        w("")
    if rep["problems"]:
        _title(w, "Input problems")
        for p in rep["problems"]:
            w("  %s: %s" % (p["file"], p["problem"]))
        w("")
    for warning in rep["warnings"]:
        lines = textwrap.wrap("WARNING: " + warning, 76)
        w("! " + "\n! ".join(lines))
    if rep["warnings"]:
        w("")


def compare_tables(rep, w):
    cols = rep["columns"]
    _title(w, "Headline per case: %s" % " vs ".join(cols))
    w(kernels.LEGEND + " %s" % rep["baseline"])
    w("")
    for g in rep["workloads"]:
        w(kernels.workload_title(g))
        rows, notes = [], []
        for r in g["cases"]:
            unit = r.get("unit") or ""
            rows.append([r["label"]] + [kernels.cell_text(c, unit) for c in r["cells"]])
            for c in r["cells"]:
                if c["status"] not in ("pass", "absent") and c["notes"]:
                    notes.append("  %s on %s: %s: %s" % (r["short"], c["run"], c["status"],
                                                          c["notes"][0]))
        w(fmt.text_table(["case"] + cols, rows, "l" + "r" * len(cols)))
        if notes:
            w("\n".join(notes))
        w("")


def one_run_tables(rep, w):
    _title(w, "Summary of %s: a row per workload, every case below" % rep["columns"][0])
    w(fmt.text_table(kernels.SUMMARY_HEADERS, kernels.summary_rows(rep)))
    w("")
    _title(w, "Cases of %s" % rep["columns"][0])
    w("one run only: nothing compared; give two or more folders to compare runs")
    if fmt.parts_note(rep):
        w("\n".join(textwrap.wrap(fmt.parts_note(rep), 100)))
    w("")
    for g in rep["workloads"]:
        w(kernels.workload_title(g))
        head, rows, _ = kernels.one_run_table(g)
        w(fmt.text_table(head, rows, "".join("r" if h in ("median", "cv") else "l"
                                             for h in head)))
        w("")


def behaviour_matrix(rep, w):
    if not rep["behaviour_matrix"]:
        return
    cols = rep["columns"]
    _title(w, "Behaviour: what each kernel did (pmd share, fallback, errno, behaviour)")
    w("* = differs between runs; 'ok' = every recorded behaviour succeeded")
    for wl in dict.fromkeys(b["workload"] for b in rep["behaviour_matrix"]):
        rows = [b for b in rep["behaviour_matrix"] if b["workload"] == wl]
        w("")
        w(wl)
        w(fmt.text_table([" ", "case"] + cols,
                         [["*" if b["differs"] else " ", b["short"]] + list(b["values"])
                          for b in rows]))
    w("")


def counter_changes(rep, w):
    """What the kernel counted differently: an evidence counter per op or
    per 2 MiB whose median moved against the baseline."""
    rows = rep.get("counter_changes") or []
    if not rows:
        return
    _title(w, "Kernel counters that changed (per op or per 2 MiB, medians)")
    w("named where a run moved from the baseline by at least %.2f and %d%%"
      % (kernels.COUNTER_MIN_ABS, 100 * kernels.COUNTER_MIN_REL))
    w("")
    for c in rows:
        w("- %s: %s %s (%s)" % (c["case"], c["counter"], " -> ".join(c["values"]),
                               ", ".join(c["changed"])))
    w("")


def correctness(rep, w):
    _title(w, "Correctness: fail / error / hung")
    if not rep["correctness"]:
        w("  none")
    for c in rep["correctness"]:
        w("  %-5s %s on %s: %s" % (c["status"].upper(), c["case"], c["run"], c["reason"]))
        for k, v in c["details"].items():
            w("        %s: %s" % (k, v))
        for line in c["kernel_log"]:
            w("        | " + line)
        if c.get("logs"):
            w("        full logs: " + ", ".join(c["logs"]))
    w("")


def summary(rep, w):
    if not rep["summary"]:
        return
    _title(w, "Verdicts against %s (every metric and latency percentile)" % rep["baseline"])
    for s in rep["summary"]:
        w("  %s: %d regressed, %d improved, %d noisy, %d unchanged, %d info%s%s"
          % (s["run"], s["regressed"], s["improved"], s["noisy"], s["unchanged"], s["info"],
             "; %d passed in the baseline only" % s["lost"] if s["lost"] else "",
             "" if s["timing_comparable"] else "; TCG vs native: timing NOT comparable"))
    w("  each one with its CI, noise floor, p and notes: %s (verdict rule and method "
      "at its end)" % DETAILS)
    w("")


def environment(rep, w):
    env = rep["env"]
    cols = rep["columns"]
    _title(w, "Environment differences" if len(cols) > 1 else "Environment")
    if env["differs"]:
        w(fmt.text_table(["setting"] + cols,
                         [[d["key"]] + [_short(v, 40) for v in d["values"]]
                          for d in env["differs"] if "(words vs" not in d["key"]]))
    else:
        w("  none")
    identical_and_calibration(env, cols, w)


def identical_and_calibration(env, cols, w):
    """The end of the environment section, in report.md and
    report-details.md alike: what every run shares, and the calibration."""
    w("  (%d settings identical%s)" % (
        env["same_count"],
        "; " + ", ".join("%s=%s" % kv for kv in env["same"].items()) if env["same"] else ""))
    if env.get("calibration"):
        w("Calibration (measured at the start of each run: the physical reference)")
        w(fmt.text_table(["measure"] + cols, [
            [c["key"].split(".", 1)[1]] + [
                fmt.num(v) + ("" if i == 0 or ch is None else " (%s)" % fmt.change(ch))
                for i, (v, ch) in enumerate(zip(c["values"], c["change_pct"]))]
            for c in env["calibration"]]))
    w("")


def render(rep):
    L = []
    w = L.append
    _head(rep, w)
    if "columns" not in rep:
        w("No usable run: nothing to compare.")
        return "\n".join(L) + "\n"
    if len(rep["columns"]) == 1:
        one_run_tables(rep, w)
        w("Latency percentile plots: report.html")
        w("")
        correctness(rep, w)
    else:
        compare_tables(rep, w)
        behaviour_matrix(rep, w)
        counter_changes(rep, w)
        correctness(rep, w)
        summary(rep, w)
    environment(rep, w)
    w("More: %s (every comparison, behaviour detail, skip reason, the method), "
      "report.html (the same with latency plots), report.json (all of it as data)." % DETAILS)
    return "\n".join(L) + "\n"


def _short(v, width=40):
    s = "-" if v is None else str(v)
    return s if len(s) <= width else s[:width - 3] + "..."
