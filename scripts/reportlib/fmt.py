"""Number and table formatting shared by the Markdown and HTML renderers."""

import math


def num(x, unit=""):
    """A value in at most 4 significant digits; ns latencies get a time unit."""
    if x is None:
        return "-"
    if isinstance(x, str):
        return x
    if unit == "ns":
        for div, u in ((1e9, "s"), (1e6, "ms"), (1e3, "us")):
            if abs(x) >= div:
                return "%.4g%s" % (x / div, u)
        return "%.4gns" % x
    if x == 0:
        return "0"
    if abs(x) >= 1e6 or abs(x) < 1e-3:
        return "%.3e" % x
    return "%.4g" % x


def change(x):
    if x is None:
        return "-"
    if isinstance(x, str):  # "inf" / "-inf" after JSON clean-up
        return ("+" if not x.startswith("-") else "-") + "inf%"
    if math.isinf(x):
        return "+inf%" if x > 0 else "-inf%"
    return "%+.1f%%" % x


def change_of(c):
    """The %change cell of a comparison; a status comparison shows the
    status change (pass->skip) instead."""
    return c["status_change"] if c["kind"] == "status" else change(c["change_pct"])


def n_of(c):
    return "-" if c["kind"] == "status" else "%s/%s" % (c["n_base"], c["n_new"])


def ci(c):
    r = c.get("ci_pct")
    if not r:
        return "-"
    return "[%s,%s]" % tuple(change(x)[:-1] for x in r)


def floor(c):
    """The noise floor a CI had to clear: +UP/-DOWN %, symmetric in log
    space (+-PCT where the two agree to 2 digits)."""
    up, down = c.get("floor_pct"), c.get("floor_down_pct")
    if up is None:
        return "-"
    if down is None or "%.2g" % up == "%.2g" % down:
        return "+-%.2g%%" % up
    return "+%.3g/-%.3g%%" % (up, down)


def pval(p):
    if p is None:
        return "-"
    return "%.3f" % p if p >= 0.001 else "<0.001"


def pct1(fraction):
    """A cv (a fraction) as a percentage with one decimal; '-' when None."""
    return "-" if fraction is None else "%.1f%%" % (fraction * 100)


def cvs(c):
    def one(v):
        return "-" if v is None else "%.1f%%" % (v * 100)
    if c["kind"] != "metric":
        return "-"
    return "%s/%s" % (one(c.get("cv_base")), one(c.get("cv_new")))


def arrow(direction):
    return {"higher": "(higher better)", "lower": "(lower better)"}.get(direction, "(info)")


def completeness(run):
    if not run["usable"]:
        return "unusable"
    return "yes" if run["complete"] else "NO"


RUN_HEADERS = ["run", "kernel", "accel", "records", "complete", "folder"]


def run_rows(rep):
    """The runs table of a report's head: a row per run; a run made of parts
    (make run: host and guest) has a row per part below it, saying where the
    part ran, its kernel and accelerator, or why it did not run."""
    rows = []
    for r in rep["runs"]:
        whole = "(parts)" if r.get("parts") else "?"
        rows.append([("*" if r["baseline"] else " ") + r["label"], r["kernel"] or whole,
                     r["accel"] or whole, r["records"], completeness(r), r["path"]])
        for p in r.get("parts") or []:
            rows.append(["  part %s: %s" % (p["name"], p["where"]), p["kernel"] or "-",
                         p["accel"] or "-", p["records"],
                         "yes" if p["status"] == "pass" else p["status"], p["path"] or "-"])
    return rows


def part_problems(rep):
    """'part guest: skip: why' for each part of a run that did not pass."""
    return ["part %s of %s: %s: %s" % (p["name"], r["label"], p["status"], p["reason"] or "?")
            for r in rep["runs"] for p in r.get("parts") or [] if p["status"] != "pass"]


def parts_note(rep):
    """The line under a one-run table head when the run is made of parts."""
    parts = [p for r in rep["runs"] for p in r.get("parts") or []]
    if not parts:
        return None
    tcg = [p["name"] for p in parts if p["accel"] == "tcg"]
    return ("where: the part each case ran in (the runs table above gives its kernel and "
            "accelerator)" + ("; %s ran under TCG (software emulation): its timings measure "
                              "the emulator as much as the kernel, read them as ratios within "
                              "that part, never against the host" % " and ".join(tcg)
                              if tcg else ""))


def text_table(headers, rows, align=None):
    """Plain fixed-width table; align is a string of 'l'/'r' per column."""
    cols = len(headers)
    align = align or "l" * cols
    widths = [len(h) for h in headers]
    for r in rows:
        for i, v in enumerate(r):
            widths[i] = max(widths[i], len(str(v)))

    def line(vals):
        out = []
        for i, v in enumerate(vals):
            v = str(v)
            out.append(v.rjust(widths[i]) if align[i] == "r" else v.ljust(widths[i]))
        return "  ".join(out).rstrip()
    sep = "  ".join("-" * w for w in widths)
    return "\n".join([line(headers), sep] + [line(r) for r in rows])


FLEET_HEAD = ["host", "status", "stage", "columns", "driver", "reason"]


def _short(text, width):
    """text cut in the middle: the step that failed comes first in a fleet
    reason, the cause (ssh's "Connection refused", a compiler's error) last."""
    if len(text) <= width:
        return text
    head = width // 3
    return text[:head] + "..." + text[len(text) - (width - head - 3):]


def fleet_rows(rep):
    """One row per host of a fleet run (scripts/fleet's fleet-status.json):
    its status, the stage that failed, the report columns it made, its
    driver (with the reason when not loaded) and the reason; [] when no
    run came from a fleet.  The whole record: the host's fleet-status.json."""
    hosts = {}
    for r in rep["runs"]:
        f = r.get("fleet")
        if f:
            labels = hosts.setdefault(f["host"] or r["label"], (f, []))[1]
            if r["usable"]:
                labels.append(r["label"])
    rows = []
    for host, (f, labels) in hosts.items():
        good = f["status"] in ("ok", "idle")
        driver = f["driver"] or "-"
        if f["driver_reason"] and f["driver"] != "loaded":
            driver += ": " + f["driver_reason"]
        rows.append([host, f["status"] or "?", "" if good else f["stage"],
                     ", ".join(labels) or "-",
                     driver if len(driver) <= 70 else driver[:67] + "...",
                     _short(f["reason"], 100) or "-"])
    return rows


VERDICT_MARK = {"regressed": "R", "improved": "I", "noisy": "?", "unchanged": "", "info": ""}


def overview(rep):
    """Rows for a case x metric by run table of %change with a verdict mark
    (LKP's multi-commit %change view); None with fewer than two compared runs."""
    cols = rep.get("columns") or []
    if len(cols) < 3:
        return None
    cells = {}
    order = []
    for c in rep["comparisons"]:
        if c["verdict"] == "info":
            continue
        k = (c["case"], c["metric"])
        if k not in cells:
            cells[k] = {}
            order.append(k)
        mark = VERDICT_MARK[c["verdict"]]
        cells[k][c["run"]] = change_of(c) + " " + (mark or " ")
    flagged = [k for k in order if any(v.endswith((" R", " I")) for v in cells[k].values())]
    rest = [k for k in order if k not in flagged]
    rows = [[case, metric] + [cells[(case, metric)].get(r, "-  ") for r in cols[1:]]
            for case, metric in sorted(flagged) + sorted(rest)]
    return ["case", "metric"] + cols[1:], rows


def param_diff_rows(rep):
    """One row per parameter and set of values, with the cases it affects
    (a new faultline option shows once, not once per case)."""
    groups = {}
    for d in rep["param_diffs"]:
        for k, vals in d["params"].items():
            key = (k, tuple("-" if v is None else str(v) for v in vals))
            groups.setdefault(key, []).append(d["case"])
    rows = []
    for (k, vals), cases in groups.items():
        where = cases[0] if len(cases) == 1 else "%d cases, e.g. %s" % (len(cases), cases[0])
        rows.append([k] + list(vals) + [where])
    return rows
