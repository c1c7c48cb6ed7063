"""The compare-kernels view: one headline figure per case, one column per run.

mmtests' compare-kernels answers "what changed between kernel A and B" with
one compact table per benchmark: a row per metric, a column per kernel, the
value and its change.  Here a row is a case (workload/backing/parameters), the
figure is the case's headline metric, and each cell carries the verdict the
comparison of that metric got (compare.py), so the table says what the long
list of comparisons says, case by case.

Headline metric of a record, first that applies:
  1. the record's own declaration: "headline": {"metric": NAME,
     "direction": "higher"|"lower"} (the direction is optional);
  2. HEADLINE_FALLBACK[workload], when the record has that metric;
  3. the core's ops_rate, then throughput, then the first metric in name order
     with a direction.

Behaviour of a case (what the kernel did, not how fast): the pmd share, the
fallback reason, an errno, and the "behaviour.*" / "observed*" details the
workloads record for per-kernel behaviour (an EOPNOTSUPP from a long-term
pin, a mapping that came out 4 KiB off).
"""

import re

from . import stats
from .fmt import change, num
from .load import case_name

# The main figure each workload records, used for records that declare no
# "headline" of their own.
HEADLINE_FALLBACK = {
    "populate": "throughput",               # GB/s made present (report_bytes)
    "fault-scale": "ops_rate",              # faults/s, will-it-scale's figure
    "gup-bench": "get_ns_per_page",         # mm/gup_test's get time per page
    "gup-user": "ops_rate",                 # pages/s got or pinned from user space
    "dax-populate": "populate_ms_per_GiB",  # the timed populate call alone, per GiB
    "dax-gup": "ops_rate",                  # pages/s through O_DIRECT, io_uring, the driver
    "cow-pin": "ops_rate",                  # COW-vs-pin scenarios/s
    "cow-race": "ops_rate",                 # forks/s under DMA
    "device-migrate": "throughput",         # GB/s migrated both ways
    "device-exclusive": "ops_rate",         # pages/s granted exclusive
    "numa-migrate": "throughput",           # GB/s moved between nodes
    "notifier-vs-pinned": "ops_rate",       # storm operations/s
    "null": "ops_rate",                     # the engine's own overhead
}
DEFAULT_HEADLINES = ("ops_rate", "throughput")

# cell verdict marks; the legend line of every table spells them out
MARK = {"regressed": "R", "improved": "I", "noisy": "?", "unchanged": "=", "info": ""}
LEGEND = ("R regressed, I improved, ? noisy (the data cannot tell), = unchanged; "
          "the change is against the baseline")

BEHAVIOUR_COLUMNS = ("pmd share", "fallback", "errno", "behaviour", "counters")

# The order of the workload tables: the pillars faultline exists for first
# (DAX, pin/COW, notifiers vs pins, migration), then the cost of GUP and of
# plain faults, so that the first screen of a report shows each pillar.
# Workloads not listed follow in the order the runs recorded them.
PILLAR_ORDER = ("dax-populate", "dax-gup", "cow-pin", "cow-race", "notifier-vs-pinned",
                "numa-migrate", "device-migrate", "device-exclusive", "gup-bench",
                "gup-user", "populate", "fault-scale", "fault-scale-file")


def counter_medians(rec):
    """{name: median} of the kernel counters a workload declares as its
    evidence, per op or per 2 MiB (metrics named "counter/unit", unit
    "count")."""
    out = {}
    for name, m in ((rec or {}).get("metrics") or {}).items():
        if "/" in name and isinstance(m, dict) and m.get("unit") == "count":
            vals = m.get("samples") or ([m["median"]] if isinstance(m.get("median"), (int, float)) else [])
            if vals:
                out[name] = stats.median(vals)
    return out


def counters_text(rec):
    """The evidence counters' medians to two decimals: a change between runs
    is a change of what the kernel did."""
    return ", ".join("%s %.2f" % (name, v) for name, v in sorted(counter_medians(rec).items()))


# A counter per op is named as changed where a run's median moved from the
# baseline's by at least this much, both ways: /proc/vmstat is system-wide,
# and a neighbour's faults move the small figures a little.
COUNTER_MIN_ABS = 0.05
COUNTER_MIN_REL = 0.10


def counter_changes(name, wl, short, recs, labels):
    """The evidence counters of one case whose per-op median changed against
    the baseline (recs[0]): [{"case", "workload", "short", "counter",
    "values": text per run, "changed": [labels]}]."""
    others = [counter_medians(r) for r in recs]
    base = others[0]
    out = []
    for counter in sorted(base):
        changed = []
        for label, med in zip(labels[1:], others[1:]):
            v, b = med.get(counter), base[counter]
            if v is not None and abs(v - b) >= COUNTER_MIN_ABS and \
                    abs(v - b) >= COUNTER_MIN_REL * abs(b):
                changed.append(label)
        if changed:
            out.append({"case": name, "workload": wl, "short": short, "counter": counter,
                        "values": ["%.2f" % m[counter] if counter in m else "-"
                                   for m in others],
                        "changed": changed})
    return out


def headline(rec):
    """{"metric", "direction", "source"} for a record; None when the record
    has no metric to headline."""
    metrics = rec.get("metrics") or {}
    decl = rec.get("headline")
    if isinstance(decl, dict) and isinstance(decl.get("metric"), str) and decl["metric"]:
        m = metrics.get(decl["metric"]) or {}
        d = decl.get("direction")
        if d not in ("higher", "lower"):
            d = m.get("direction", "info")
        return {"metric": decl["metric"], "direction": d, "source": "record"}
    name = HEADLINE_FALLBACK.get(rec.get("workload"))
    if name not in metrics:
        name = next((n for n in DEFAULT_HEADLINES if n in metrics), None)
    if name is None:
        name = next((n for n in sorted(metrics)
                     if metrics[n].get("direction") in ("higher", "lower")), None)
    if name is None:
        return None
    source = "table" if name == HEADLINE_FALLBACK.get(rec.get("workload")) else "default"
    return {"metric": name, "direction": metrics[name].get("direction", "info"),
            "source": source}


def figure(rec, metric):
    """(median, cv, unit) of a record's metric; Nones when absent."""
    m = (rec or {}).get("metrics", {}).get(metric)
    if not m or not m.get("samples"):
        return None, None, (m or {}).get("unit")
    return stats.median(m["samples"]), stats.cv(m["samples"]), m.get("unit")


def _pct_text(v):
    return "%.4g%%" % v


def behaviour(rec):
    """{column: text} of what the kernel did in this case (BEHAVIOUR_COLUMNS);
    empty strings where the record says nothing."""
    out = dict.fromkeys(BEHAVIOUR_COLUMNS, "")
    if rec is None:
        return out
    share, _, _ = figure(rec, "pmd_share")
    if share is not None:
        out["pmd share"] = _pct_text(share)
    det = rec.get("details") or {}
    fb = det.get("fallback_main")
    if isinstance(fb, str) and fb not in ("", "none"):
        out["fallback"] = fb
    if det.get("errno") not in (None, ""):
        out["errno"] = str(det["errno"])
    seen = []
    for k in sorted(det):
        if k.startswith(("behaviour", "behavior", "observed")):
            v = det[k]
            v = v if isinstance(v, str) else str(v)
            name = k.split(".", 1)[1] if "." in k else k
            seen.append((name, v))
    out["counters"] = counters_text(rec)
    odd = ["%s %s" % (n, v) for n, v in seen if v != "ok"]
    if odd:
        out["behaviour"] = ", ".join(odd)
    elif seen:
        out["behaviour"] = "ok"
    return out


def behaviour_text(rec, status):
    """One matrix cell: the behaviour columns joined, after the status when
    the case did not pass."""
    if rec is None:
        return "(absent)"
    b = behaviour(rec)
    parts = [("pmd " + b["pmd share"]) if b["pmd share"] else "",
             ("fallback " + b["fallback"]) if b["fallback"] else "",
             ("errno " + b["errno"]) if b["errno"] else "",
             b["counters"]]
    if b["behaviour"] != "ok" or not any(parts):  # a bare "ok" only where it is all
        parts.append(b["behaviour"])
    text = ", ".join(p for p in parts if p)
    if status != "pass":
        text = status.upper() + (": " + text if text else "")
    return text


def short_case(name, workload):
    """The case name without its workload (the table's title says it)."""
    prefix = workload + "/"
    return name[len(prefix):] if name.startswith(prefix) else name


def build(rep, cols, keys, status_of):
    """rep["workloads"]: per workload, its headline table; rep["behaviour_matrix"]
    per case.  cols: the Run columns, baseline first; keys: case keys in
    report order; status_of(rec): pass/skip/fail/error/hung or None."""
    index = {}
    for c in rep["comparisons"]:
        index[(c["case"], c["run"], c["kind"], c["metric"])] = c
    groups = {}
    matrix = []
    changes = []
    for k in keys:
        recs = [r.records.get(k) for r in cols]
        first = next(x for x in recs if x is not None)
        name = case_name(first)
        wl = str(first.get("workload"))
        # the baseline's headline, else the first run's that has one (a case
        # skipped in the baseline records no metrics)
        head = next((h for h in (headline(x) for x in recs if x is not None) if h), None)
        cells = []
        for i, (r, x) in enumerate(zip(cols, recs)):
            cells.append(_cell(index, name, r.label, i == 0, x, status_of(x), head))
        row = {"case": name, "short": short_case(name, wl), "headline": head, "cells": cells,
               "where": first.get("_where")}
        if head:
            _, _, row["unit"] = figure(recs[0] or first, head["metric"])
            if row["unit"] is None:
                row["unit"] = next((figure(x, head["metric"])[2] for x in recs
                                    if figure(x, head["metric"])[2]), "")
        groups.setdefault(wl, []).append(row)
        texts = [behaviour_text(x, status_of(x) or "absent") for x in recs]
        if any(t and t != "(absent)" for t in texts):
            matrix.append({"case": name, "workload": wl, "short": row["short"],
                           "values": texts, "differs": len(set(texts)) > 1})
        if len(cols) > 1 and recs[0] is not None:
            changes += counter_changes(name, wl, row["short"], recs, [r.label for r in cols])
    order = sorted(groups, key=lambda wl: PILLAR_ORDER.index(wl) if wl in PILLAR_ORDER
                   else len(PILLAR_ORDER))
    rep["workloads"] = [_group(wl, groups[wl]) for wl in order]
    rep["behaviour_matrix"] = matrix
    rep["counter_changes"] = changes
    if len(cols) == 1:
        rep["metrics_table"] = _metrics_table(cols[0], keys)


def _metrics_table(run, keys):
    """Every metric of every case of one run (a single run has no
    comparisons to carry them)."""
    out = []
    for k in keys:
        rec = run.records[k]
        for name in sorted(rec["metrics"]):
            m = rec["metrics"][name]
            med, cv, unit = figure(rec, name)
            out.append({"case": case_name(rec), "metric": name, "unit": unit or "",
                        "direction": m.get("direction"), "median": med, "cv": cv,
                        "n": len(m.get("samples") or [])})
    return out


def _group(wl, rows):
    """A workload's table: its most common headline metric goes in the
    title; a case that headlines another one says so after its name."""
    count = {}
    for r in rows:
        if r["headline"]:
            m = r["headline"]["metric"]
            count[m] = count.get(m, 0) + 1
    main = max(count, key=lambda m: (count[m], m == HEADLINE_FALLBACK.get(wl))) \
        if count else None
    head = next((r["headline"] for r in rows if r["headline"]
                 and r["headline"]["metric"] == main), None)
    unit = next((r.get("unit") for r in rows if r["headline"]
                 and r["headline"]["metric"] == main and r.get("unit")), "")
    for r in rows:
        h = r["headline"]
        r["label"] = r["short"] if h is None or h["metric"] == main else \
            "%s [%s%s]" % (r["short"], h["metric"], ", " + r["unit"] if r.get("unit") else "")
    return {"workload": wl, "headline": head, "unit": unit, "cases": rows}


def _cell(index, case, run, is_base, rec, status, head):
    cell = {"run": run, "status": status or "absent", "value": None, "cv": None,
            "change_pct": None, "verdict": None, "notes": [],
            "behaviour": behaviour(rec)}
    if rec is not None and head:
        cell["value"], cell["cv"], _ = figure(rec, head["metric"])
    if rec is not None and rec.get("reason"):
        cell["notes"].append(rec["reason"])
    if is_base:
        return cell
    st = index.get((case, run, "status", "status"))
    mc = index.get((case, run, "metric", head["metric"])) if head else None
    pick = st or mc
    if pick is not None:
        cell["verdict"] = pick["verdict"]
        cell["change_pct"] = pick.get("change_pct") if pick is mc else None
        cell["notes"] = cell["notes"] + [n for n in pick.get("notes", [])
                                         if n not in cell["notes"]]
        if st is not None and mc is not None:
            cell["change_pct"] = mc.get("change_pct")
    return cell


def cell_text(cell, unit):
    """'16.51 +4.1% ?' : value, change against the baseline, verdict mark."""
    if cell["status"] != "pass":
        s = cell["status"].upper() if cell["status"] != "absent" else "-"
    else:
        s = num(cell["value"], unit)
    if cell.get("change_pct") is not None and cell["status"] == "pass":
        s += " " + change(cell["change_pct"])
    mark = MARK.get(cell.get("verdict") or "", "")
    return s + (" " + mark if mark else "")


def workload_title(group):
    """'dax-populate: populate_ms_per_GiB (ms/GiB, lower is better)'."""
    h = group["headline"]
    if h is None:
        return "%s: no metric recorded" % group["workload"]
    better = {"higher": "higher is better", "lower": "lower is better"}.get(
        h["direction"], "not a performance figure")
    src = {"record": "; declared by the workload", "table": "",
           "default": "; by default: neither declared nor listed"}[h["source"]]
    return "%s: %s (%s%s%s)" % (group["workload"], h["metric"],
                                group["unit"] + ", " if group["unit"] else "", better, src)


def one_run_table(group):
    """(headers, rows, cells) of one run's cases of a workload: headline
    figure, status, the behaviour columns any case has, the reason; where
    each case ran when the run is made of parts (host and guest).  Cases
    that ran come before the skipped ones."""
    bcols = [b for b in BEHAVIOUR_COLUMNS
             if any(r["cells"][0]["behaviour"][b] for r in group["cases"])]
    where = any(r.get("where") for r in group["cases"])
    head = ["case"] + (["where"] if where else []) + ["status", "median", "cv", "unit"] \
        + bcols + ["reason"]
    rows, cells = [], []
    for r in sorted(group["cases"], key=lambda r: r["cells"][0]["status"] == "skip"):
        c = r["cells"][0]
        rows.append([r["label"]] + ([r.get("where") or ""] if where else []) +
                    [c["status"], num(c["value"], r.get("unit")),
                     "-" if c["cv"] is None else "%.1f%%" % (c["cv"] * 100),
                     r.get("unit") or ""] + [c["behaviour"][b] for b in bcols]
                    + ["; ".join(c["notes"])])
        cells.append(c)
    return head, rows, cells


SUMMARY_HEADERS = ["workload", "where", "cases", "headline figures", "behaviour"]


def summary_rows(rep, most=4):
    """One run: a row per workload (pillars first): where its cases ran,
    their statuses, the headline figures of those that passed (up to
    `most`, in table order) and what the kernel did, so that the first
    screen shows every pillar; the per-workload tables follow."""
    rows = []
    for g in rep["workloads"]:
        cases = g["cases"]
        ran = [r for r in cases if r["cells"][0]["status"] != "skip"] or cases
        count = {}
        for r in cases:
            st = r["cells"][0]["status"]
            count[st] = count.get(st, 0) + 1
        passed = [r for r in cases if r["cells"][0]["status"] == "pass"]
        figs = _labelled_figures(passed)
        more = " (+%d more)" % (len(figs) - most) if len(figs) > most else ""
        units = {r.get("unit") or "" for r in passed}
        seen = []
        for r in ran:
            b = r["cells"][0]["behaviour"]
            text = ", ".join(x for x in (("pmd " + b["pmd share"]) if b["pmd share"] else "",
                                         b["fallback"], ("errno " + b["errno"]) if b["errno"]
                                         else "", b["behaviour"]) if x and x != "ok")
            if text and text not in seen:
                seen.append(text)
        rows.append([g["workload"],
                     ", ".join(dict.fromkeys(r.get("where") or "-" for r in ran)),
                     ", ".join("%d %s" % (n, st) for st, n in count.items()),
                     "; ".join(figs[:most]) + more + (" " + units.pop() if len(units) == 1
                                                       else ""), "; ".join(seen)])
    return rows


def _labelled_figures(rows):
    """'buffer=pinned 61.98', a figure per case labelled with what sets
    the case apart from the workload's other cases (the unit follows once
    when all share it, else after each figure)."""
    toks = [re.split("[/,]", r["short"]) for r in rows]
    common = set.intersection(*map(set, toks)) if toks else set()
    one_unit = len({r.get("unit") or "" for r in rows}) == 1
    out = []
    for r, t in zip(rows, toks):
        label = ",".join(x for x in t if x not in common)
        fig = num(r["cells"][0]["value"], r.get("unit")) + (
            "" if one_unit or not r.get("unit") else " " + r["unit"])
        out.append((label + " " if label else "") + fig)
    return out
