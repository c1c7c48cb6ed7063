"""report.html: one self-contained file (inline CSS and SVG, no script, no
external fetch).  It opens with what report.md says (the compare-kernels
tables, the behaviour matrix, correctness, the verdict counts, the
environment differences); everything report-details.md says follows in
collapsed <details> sections, with the latency plots."""

import html

from . import fmt, kernels
from .details_md import method_text, rule_text

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:1em 1.5em;color:#222;
max-width:1400px}
h1{font-size:1.3em;margin:0.2em 0}h2{font-size:1.1em;border-bottom:1px solid #ccc;
padding-bottom:2px;margin:1.2em 0 0.4em}h3{font-size:1em;margin:0.9em 0 0.2em}
p{margin:0.3em 0}
table{border-collapse:collapse;font-size:0.85em;margin:0.3em 0}
th,td{border:1px solid #ddd;padding:1px 6px;text-align:left;vertical-align:top}
th{background:#f3f3f3}td.r,table.kt td+td{text-align:right;font-variant-numeric:tabular-nums}
table.cmp td:nth-child(n+6){text-align:right;font-variant-numeric:tabular-nums}
table.cmp td:last-child{text-align:left}
table.kt th{background:#dce6f4;white-space:nowrap}table.kt td{white-space:nowrap}
table.kt td:first-child{text-align:left;white-space:normal;overflow-wrap:anywhere;
min-width:22em;max-width:36em}
table.one td,table.one th{white-space:nowrap}table.one td:first-child{white-space:normal;
overflow-wrap:anywhere;min-width:22em;max-width:34em}
table.one td:last-child{white-space:normal;min-width:12em;max-width:30em}
table.sum td:nth-child(-n+3){white-space:nowrap}
table.bm td:first-child{overflow-wrap:anywhere;min-width:20em;max-width:32em}
.regressed{background:#fdd}.improved{background:#dfd}.noisy{background:#fff6dc}
.unchanged{}.info{color:#777}.notpass{background:#eee;font-weight:bold}
.warn{border:2px solid #c00;background:#fee;padding:0.1em 0.4em;margin:0.4em 0;
font-size:0.8em}.warn ul{margin:0.2em 0;padding-left:1.2em}.warn li{margin:0}
.problem{color:#900}
pre{background:#f6f6f6;padding:0.5em;font-size:0.8em;overflow-x:auto}
.plot{display:inline-block;margin:0.3em;width:48%;min-width:420px}
.plot svg{max-width:100%;height:auto}
.diff{font-weight:bold}
details{margin:0.3em 0}summary{cursor:pointer;font-weight:bold}
nav{font-size:0.85em;margin:0.3em 0}
"""


def e(x):
    return html.escape("" if x is None else str(x))


def table(headers, rows, classes=None, num_cols=(), cls=None):
    """An HTML table; cells and rows leave their optional end tags out and
    right alignment comes from the table's class where it can (a details
    table of a few thousand rows stays a few hundred KB)."""
    out = ["<table%s><tr>" % (' class="%s"' % cls if cls else "")
           + "".join("<th>%s" % e(h) for h in headers)]
    for i, r in enumerate(rows):
        rc = (' class="%s"' % classes[i]) if classes and classes[i] else ""
        cells = "".join('<td%s>%s' % (' class="r"' if j in num_cols else "", e(v))
                        for j, v in enumerate(r))
        out.append("<tr%s>%s" % (rc, cells))
    out.append("</table>")
    return "\n".join(out)


def cmp_table(cs):
    heads = ["verdict", "run", "case", "metric", "unit", "base", "cv", "new", "cv",
             "%change", "95% CI", "floor", "p", "n", "notes"]
    rows = []
    for c in cs:
        rows.append([c["verdict"], c["run"], c["case"], c["metric"], c["unit"],
                     fmt.num(c["base"], c["unit"]), fmt.pct1(c.get("cv_base")),
                     fmt.num(c["new"], c["unit"]), fmt.pct1(c.get("cv_new")),
                     fmt.change_of(c), fmt.ci(c), fmt.floor(c), fmt.pval(c["p"]),
                     fmt.n_of(c), "; ".join(c["notes"])])
    return table(heads, rows, [c["verdict"] for c in cs], cls="cmp")


def _anchor(title):
    return "".join(ch if ch.isalnum() else "-" for ch in title.lower()).strip("-")


def _head(rep):
    cols = rep.get("columns") or []
    H = ["<h1>faultline report: %s</h1>" % e(" vs ".join(cols) if cols else "no usable run"),
         "<p>generated %s; baseline <b>%s</b>; every comparison, metric and environment "
         "setting in the sections below the tables (and report-details.md)</p>"
         % (e(rep["generated"]), e(rep.get("baseline", "-"))),
         table(fmt.RUN_HEADERS, fmt.run_rows(rep))]
    H += ['<p class="problem">%s</p>' % e(line) for line in fmt.part_problems(rep)]
    fleet = fmt.fleet_rows(rep)
    if fleet:
        H += ["<h2>Fleet hosts</h2>", table(fmt.FLEET_HEAD, fleet)]
    if rep["problems"]:
        H.append('<div class="warn">Input problems<ul>%s</ul></div>' % "".join(
            '<li class="problem"><code>%s</code>: %s</li>' % (e(p["file"]), e(p["problem"]))
            for p in rep["problems"]))
    if rep["warnings"]:
        H.append('<div class="warn"><ul>%s</ul></div>' % "".join(
            "<li>WARNING: %s</li>" % e(x) for x in rep["warnings"]))
    return H


def _cell_class(c):
    if c["status"] not in ("pass", "absent"):
        return "notpass"
    return c.get("verdict") or ""


def compare_tables(rep):
    cols = rep["columns"]
    H = ['<h2 id="kernels">Headline per case: %s</h2>' % e(" vs ".join(cols)),
         "<p>%s %s</p>" % (e(kernels.LEGEND), e(rep["baseline"]))]
    for i, g in enumerate(rep["workloads"]):
        H.append("<h3>%s</h3>" % e(kernels.workload_title(g)))
        out = ['<table class="kt"%s><tr>%s' % (' id="kernel-table"' if i == 0 else "",
                                               "".join("<th>%s" % e(h) for h in ["case"] + cols))]
        for r in g["cases"]:
            unit = r.get("unit") or ""
            cells = ["<td>%s" % e(r["label"])]
            for c in r["cells"]:
                tip = "; ".join(c["notes"])
                cls = _cell_class(c)
                cells.append('<td%s%s>%s' % (' class="%s"' % cls if cls else "",
                                             ' title="%s"' % e(tip) if tip else "",
                                             e(kernels.cell_text(c, unit))))
            out.append("<tr>%s" % "".join(cells))
        out.append("</table>")
        H.append("\n".join(out))
    return H


def one_run_tables(rep):
    H = ["<h2>Summary of %s: a row per workload, every case below</h2>" % e(rep["columns"][0]),
         table(kernels.SUMMARY_HEADERS, kernels.summary_rows(rep), cls="sum"),
         '<h2 id="kernels">Cases of %s</h2>' % e(rep["columns"][0])]
    if fmt.parts_note(rep):
        H.append("<p>%s</p>" % e(fmt.parts_note(rep)))
    for i, g in enumerate(rep["workloads"]):
        H.append("<h3>%s</h3>" % e(kernels.workload_title(g)))
        head, rows, cells = kernels.one_run_table(g)
        t = table(head, rows, [_cell_class(c) for c in cells],
                  num_cols=(head.index("median"), head.index("cv")), cls="one")
        if i == 0:
            t = t.replace('<table class="one">', '<table class="one" id="kernel-table">', 1)
        H.append(t)
    return H


def behaviour_matrix(rep):
    if not rep["behaviour_matrix"]:
        return []
    cols = rep["columns"]
    H = ["<h2>Behaviour: what each kernel did</h2>",
         "<p>pmd share, fallback reason, errno, behaviour details; bold rows differ "
         "between runs; 'ok': every recorded behaviour succeeded</p>"]
    for wl in dict.fromkeys(b["workload"] for b in rep["behaviour_matrix"]):
        rows = [b for b in rep["behaviour_matrix"] if b["workload"] == wl]
        H.append("<h3>%s</h3>" % e(wl))
        H.append(table(["case"] + cols, [[b["short"]] + list(b["values"]) for b in rows],
                       ["diff" if b["differs"] else "" for b in rows], cls="bm"))
    return H


def counter_changes(rep):
    rows = rep.get("counter_changes") or []
    if not rows:
        return []
    return ["<h2>Kernel counters that changed</h2>",
            "<p>per op or per 2 MiB, medians; named where a run moved from the baseline "
            "by at least %.2f and %d%%</p>" % (kernels.COUNTER_MIN_ABS, 100 * kernels.COUNTER_MIN_REL),
            table(["case", "counter"] + rep["columns"] + ["changed in"],
                  [[c["case"], c["counter"]] + c["values"] + [", ".join(c["changed"])]
                   for c in rows])]


def correctness(rep):
    H = ["<h2>Correctness: fail / error / hung</h2>"]
    if not rep["correctness"]:
        H.append("<p>none</p>")
    for c in rep["correctness"]:
        H.append('<p class="problem"><b>%s</b> %s on <b>%s</b>: %s</p>'
                 % (e(c["status"].upper()), e(c["case"]), e(c["run"]), e(c["reason"])))
        extra = ["%s: %s" % kv for kv in c["details"].items()] + c["kernel_log"] + \
            (["full logs: " + ", ".join(c["logs"])] if c.get("logs") else [])
        if extra:
            H.append("<pre>%s</pre>" % e("\n".join(extra)))
    return H


def summary(rep):
    st = rep["settings"]
    H = ["<h2>Verdicts</h2>"]
    if rep["summary"]:
        H.append(table(["run", "compared", "regressed", "improved", "noisy", "unchanged",
                        "info", "pass->not", "flagged", "tests", "expected false +", "timing"],
                       [[s["run"], s["compared"], s["regressed"], s["improved"], s["noisy"],
                         s["unchanged"], s["info"], s["lost"], "%.1f%%" % s["flagged_pct"],
                         s["tests"], "~%g" % s["expected_false_positives"],
                         "comparable" if s["timing_comparable"] else "NOT COMPARABLE (TCG)"]
                        for s in rep["summary"]], num_cols=range(1, 11)))
    else:
        H.append("<p>one run only: nothing compared</p>")
    H.append("<details><summary>Verdict rule</summary><pre>%s</pre></details>"
             % e(rule_text(st)))
    return H


def environment(rep):
    env = rep["env"]
    cols = rep["columns"]
    H = ["<h2>Environment differences</h2>"]
    if env["differs"]:
        H.append(table(["setting"] + cols,
                       [[d["key"]] + ["-" if v is None else v for v in d["values"]]
                        for d in env["differs"]]))
    else:
        H.append("<p>none</p>")
    H.append("<p>%d settings identical%s</p>" % (env["same_count"], e(
        "; " + ", ".join("%s=%s" % kv for kv in env["same"].items()) if env["same"] else "")))
    if env.get("calibration"):
        H.append("<p>Calibration (measured at the start of each run: the physical "
                 "reference)</p>")
        H.append(table(["measure"] + cols, [
            [c["key"].split(".", 1)[1]] + [
                fmt.num(v) + ("" if i == 0 or ch is None else " (%s)" % fmt.change(ch))
                for i, (v, ch) in enumerate(zip(c["values"], c["change_pct"]))]
            for c in env["calibration"]]))
    return H


def _plots_html(plots):
    return "\n".join('<div class="plot" title="%s">%s</div>' % (e(t), svg) for t, svg in plots)


def detail_sections(rep, plots):
    """[(title, html)]: what report-details.md says beyond report.md."""
    cols = rep["columns"]
    cmps = rep["comparisons"]
    out = []
    ov = fmt.overview(rep)
    if ov:
        out.append(("Overview: %%change of every metric against %s" % rep["baseline"],
                    "<p>R regressed, I improved, ? noisy</p>" +
                    table(ov[0], ov[1], num_cols=range(2, len(ov[0])))))
    for title, verdict in (("Regressions", "regressed"), ("Improvements", "improved")):
        cs = [c for c in cmps if c["verdict"] == verdict]
        if len(cols) > 1:
            out.append(("%s (%d)" % (title, len(cs)), cmp_table(cs) if cs else "<p>none</p>"))
    if rep["status_changes"]:
        out.append(("Status differs between runs", table(
            ["case"] + cols, [[s["case"]] + [v or "(absent)" for v in s["values"]]
                              for s in rep["status_changes"]])))
    if rep["unmatched"]:
        out.append(("Unmatched cases", table(
            ["case", "present in", "missing in"],
            [[u["case"], ", ".join(u["present"]), ", ".join(u["missing"])]
             for u in rep["unmatched"]])))
    if rep["param_diffs"]:
        out.append(("Cases matched by name whose parameters differ",
                    table(["parameter"] + cols + ["cases"], fmt.param_diff_rows(rep))))
    if rep["unmatched_metrics"]:
        out.append(("Metrics recorded on one side only", table(
            ["case", "metric", "run", "only in"],
            [[u["case"], u["metric"], u["run"], u["only_in"]] for u in rep["unmatched_metrics"]])))
    if rep["behaviour"]:
        out.append(("Behaviour details and skip reasons per run", table(
            ["case", "observed"] + cols,
            [[b["case"], b["key"]] + ["-" if v is None else v for v in b["values"]]
             for b in rep["behaviour"]],
            ["diff" if b["differs"] else "" for b in rep["behaviour"]])))
    if plots and len(cols) > 1:
        out.append(("Latency percentiles (%d plots)" % len(plots), _plots_html(plots)))
    if rep.get("metrics_table"):
        out.append(("Every metric of every case", table(
            ["case", "metric", "unit", "direction", "median", "cv", "n"],
            [[m["case"], m["metric"], m["unit"], m["direction"], fmt.num(m["median"], m["unit"]),
              fmt.pct1(m["cv"]), m["n"]] for m in rep["metrics_table"]], num_cols=(4, 5, 6))))
    rest = [c for c in cmps if c["verdict"] not in ("regressed", "improved")]
    if len(cols) > 1:
        out.append(("All other comparisons (%d)" % len(rest),
                    cmp_table(rest) if rest else "<p>none</p>"))
    out.append(("Method", "<pre>%s</pre>" % e(method_text(rep["settings"]))))
    return out


def render(rep, plots):
    """plots: [(title, svg text)] in the order to show them."""
    H = ['<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
         "<title>faultline report</title><style>%s</style></head><body>" % CSS]
    H += _head(rep)
    if "columns" not in rep:
        H.append("<p>No usable run: nothing to compare.</p></body></html>")
        return "\n".join(H) + "\n"
    if len(rep["columns"]) == 1:
        H += one_run_tables(rep)
        if plots:
            H.append("<h2>Latency percentiles</h2>")
            H.append(_plots_html(plots))
        H += correctness(rep)
    else:
        H += compare_tables(rep)
        H += behaviour_matrix(rep)
        H += counter_changes(rep)
        H += correctness(rep)
        H += summary(rep)
    H += environment(rep)
    H.append('<h2 id="details">Details</h2>')
    for title, body in detail_sections(rep, plots):
        H.append('<details id="%s"><summary>%s</summary>\n%s\n</details>'
                 % (_anchor(title), e(title), body))
    H.append("</body></html>")
    return "\n".join(H) + "\n"
