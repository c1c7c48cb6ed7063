"""report.html: one self-contained file (inline CSS and SVG, no script, no
external fetch), the same sections in the same order as report.md."""

import html

from . import fmt
from .render_md import method_text, rule_text

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:1.5em;color:#222;
max-width:1400px}
h1{font-size:1.4em}h2{font-size:1.15em;border-bottom:1px solid #ccc;padding-bottom:2px;
margin-top:1.6em}
table{border-collapse:collapse;font-size:0.85em;margin:0.4em 0}
th,td{border:1px solid #ddd;padding:2px 6px;text-align:left;vertical-align:top}
th{background:#f3f3f3}td.r{text-align:right;font-variant-numeric:tabular-nums}
.regressed{background:#fdd}.improved{background:#dfd}.noisy{background:#ffe9b3}
.unchanged{}.info{color:#777}
.warn{border:3px solid #c00;background:#fee;padding:0.6em;font-weight:bold;margin:0.6em 0}
.problem{color:#900}
pre{background:#f6f6f6;padding:0.5em;font-size:0.8em;overflow-x:auto}
.plot{display:inline-block;margin:0.3em;width:48%;min-width:420px}
.plot svg{max-width:100%;height:auto}
.diff{font-weight:bold}
nav{font-size:0.85em;margin:0.5em 0}
"""


def e(x):
    return html.escape("" if x is None else str(x))


def table(headers, rows, classes=None, num_cols=()):
    out = ["<table><tr>" + "".join("<th>%s</th>" % e(h) for h in headers) + "</tr>"]
    for i, r in enumerate(rows):
        cls = (' class="%s"' % classes[i]) if classes and classes[i] else ""
        cells = "".join('<td%s>%s</td>' % (' class="r"' if j in num_cols else "", e(v))
                        for j, v in enumerate(r))
        out.append("<tr%s>%s</tr>" % (cls, cells))
    out.append("</table>")
    return "\n".join(out)


def cmp_table(cs):
    heads = ["verdict", "run", "case", "metric", "unit", "base", "cv", "new", "cv",
             "%change", "95% CI", "floor", "p", "n", "notes"]
    rows = []
    for c in cs:
        rows.append([c["verdict"], c["run"], c["case"], c["metric"], c["unit"],
                     fmt.num(c["base"], c["unit"]),
                     "-" if c.get("cv_base") is None else "%.1f%%" % (c["cv_base"] * 100),
                     fmt.num(c["new"], c["unit"]),
                     "-" if c.get("cv_new") is None else "%.1f%%" % (c["cv_new"] * 100),
                     fmt.change_of(c), fmt.ci(c), fmt.floor(c), fmt.pval(c["p"]),
                     fmt.n_of(c), "; ".join(c["notes"])])
    return table(heads, rows, [c["verdict"] for c in cs], num_cols=(5, 6, 7, 8, 9, 10, 11, 12))


def _anchor(title):
    return "".join(ch if ch.isalnum() else "-" for ch in title.lower()).strip("-")


def render(rep, plots):
    """plots: [(title, svg text)] in the order to show them."""
    H = []

    def w(text):
        # section headings get an id and an entry in the contents line
        m = text.startswith("<h2>") and text[4:text.index("</h2>")]
        if m:
            text = '<h2 id="%s">%s' % (_anchor(html.unescape(m)), text[4:])
        H.append(text)
    w("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
      "<title>faultline report</title><style>%s</style></head><body>" % CSS)
    w("<h1>faultline report</h1><p>generated %s; baseline <b>%s</b></p>"
      % (e(rep["generated"]), e(rep.get("baseline", "-"))))
    w(table(["run", "kernel", "host", "accel", "start", "records", "complete", "folder"],
            [[("* " if r["baseline"] else "") + r["label"], r["kernel"] or "?",
              r["host"] or "?", r["accel"] or "?", r["start"] or "?", r["records"],
              fmt.completeness(r), r["path"]] for r in rep["runs"]]))
    if rep["problems"]:
        w("<h2>Input problems</h2><ul>")
        for p in rep["problems"]:
            w('<li class="problem"><code>%s</code>: %s</li>' % (e(p["file"]), e(p["problem"])))
        w("</ul>")
    for warning in rep["warnings"]:
        w('<div class="warn">WARNING: %s</div>' % e(warning))
    if "columns" not in rep:
        w("<p>No usable run: nothing to compare.</p></body></html>")
        return "\n".join(H) + "\n"
    cols = rep["columns"]
    env = rep["env"]
    w("<h2>Environment differences</h2>")
    if env["differs"]:
        w(table(["setting"] + cols, [[d["key"]] + ["-" if v is None else v for v in d["values"]]
                                     for d in env["differs"]]))
    else:
        w("<p>none</p>")
    w("<p>%d settings identical%s</p>" % (env["same_count"], e(
        "; " + ", ".join("%s=%s" % kv for kv in env["same"].items()) if env["same"] else "")))

    if env.get("calibration"):
        w("<p>Calibration (measured at the start of each run: the physical reference)</p>")
        w(table(["measure"] + cols, [
            [c["key"].split(".", 1)[1]] + [
                fmt.num(v) + ("" if i == 0 or ch is None else " (%s)" % fmt.change(ch))
                for i, (v, ch) in enumerate(zip(c["values"], c["change_pct"]))]
            for c in env["calibration"]]))
    w("<h2>Correctness: fail / error / hung</h2>")
    if not rep["correctness"]:
        w("<p>none</p>")
    for c in rep["correctness"]:
        w('<p class="problem"><b>%s</b> %s on <b>%s</b>: %s</p>'
          % (e(c["status"].upper()), e(c["case"]), e(c["run"]), e(c["reason"])))
        extra = ["%s: %s" % kv for kv in c["details"].items()] + c["kernel_log"] + \
            (["full logs: " + ", ".join(c["logs"])] if c.get("logs") else [])
        if extra:
            w("<pre>%s</pre>" % e("\n".join(extra)))

    st = rep["settings"]
    w("<h2>Summary</h2>")
    w("<pre>%s</pre>" % e(rule_text(st)))
    if rep["summary"]:
        w(table(["run", "compared", "regressed", "improved", "noisy", "unchanged", "info",
                 "pass->not", "flagged", "tests", "expected false +", "timing"],
                [[s["run"], s["compared"], s["regressed"], s["improved"], s["noisy"],
                  s["unchanged"], s["info"], s["lost"], "%.1f%%" % s["flagged_pct"],
                           s["tests"],
                  "~%g" % s["expected_false_positives"],
                  "comparable" if s["timing_comparable"] else "NOT COMPARABLE (TCG)"]
                 for s in rep["summary"]], num_cols=range(1, 11)))
    else:
        w("<p>one run only: nothing compared</p>")

    cmps = rep["comparisons"]
    ov = fmt.overview(rep)
    if ov:
        w("<h2>Overview</h2><p>%%change against %s (R regressed, I improved, ? noisy)</p>"
          % e(rep["baseline"]))
        w(table(ov[0], ov[1], num_cols=range(2, len(ov[0]))))
    for title, verdict in (("Regressions", "regressed"), ("Improvements", "improved")):
        w("<h2>%s</h2>" % title)
        cs = [c for c in cmps if c["verdict"] == verdict]
        w(cmp_table(cs) if cs else "<p>none</p>")
    if rep["status_changes"]:
        w("<h2>Status differs between runs</h2>")
        w(table(["case"] + cols, [[s["case"]] + [v or "(absent)" for v in s["values"]]
                                  for s in rep["status_changes"]]))
    if rep["unmatched"]:
        w("<h2>Unmatched cases</h2>")
        w(table(["case", "present in", "missing in"],
                [[u["case"], ", ".join(u["present"]), ", ".join(u["missing"])]
                 for u in rep["unmatched"]]))
    if rep["param_diffs"]:
        w("<h2>Cases matched by name whose parameters differ</h2>")
        w(table(["parameter"] + cols + ["cases"], fmt.param_diff_rows(rep)))
    if rep["unmatched_metrics"]:
        w("<h2>Metrics recorded on one side only</h2>")
        w(table(["case", "metric", "run", "only in"],
                [[u["case"], u["metric"], u["run"], u["only_in"]]
                 for u in rep["unmatched_metrics"]]))
    if rep["behaviour"]:
        w("<h2>Behaviour per run</h2>")
        w(table(["case", "observed"] + cols,
                [[b["case"], b["key"]] + ["-" if v is None else v for v in b["values"]]
                 for b in rep["behaviour"]],
                ["diff" if b["differs"] else "" for b in rep["behaviour"]]))
    if plots:
        w("<h2>Latency percentiles</h2>")
        for title, svg in plots:
            w('<div class="plot" title="%s">%s</div>' % (e(title), svg))
    w("<h2>All comparisons (the rest)</h2>")
    rest = [c for c in cmps if c["verdict"] not in ("regressed", "improved")]
    w(cmp_table(rest) if rest else "<p>none</p>")
    w("<h2>Method</h2><pre>%s</pre>" % e(method_text(st)))
    w("</body></html>")
    heads = [(_anchor(html.unescape(t)), t) for t in
             (h[h.index(">") + 1:h.index("</h2>")] for h in H if h.startswith("<h2 id="))]
    nav = "<nav>%s</nav>" % " | ".join('<a href="#%s">%s</a>' % (a, t) for a, t in heads)
    H.insert(2, nav)
    return "\n".join(H) + "\n"
