"""Reading results folders (docs/results.md, schema version 1).

Every problem is recorded against the file it was found in and the run is
kept with whatever was readable: a truncated results.jsonl keeps its complete
lines and marks the run incomplete; a foreign schema major version refuses
that file (or that record) only.  Nothing here raises on bad input.
"""

import copy
import gzip
import json
import math
import os
import re
import zlib

KNOWN_MAJOR = {"faultline.run": 1, "faultline.record": 1, "faultline.parts": 1}
STATUSES = ("pass", "fail", "skip", "error")


def schema_problem(obj, kind):
    """None if obj['schema'] is kind/<known major>[.minor], else the problem."""
    s = obj.get("schema") if isinstance(obj, dict) else None
    if not isinstance(s, str):
        return "no \"schema\" field (expected %s/%d)" % (kind, KNOWN_MAJOR[kind])
    m = re.fullmatch(r"([\w.-]+)/(\d+)(?:\.\d+)*", s)
    if not m or m.group(1) != kind:
        return "schema %r is not %s" % (s, kind)
    if int(m.group(2)) != KNOWN_MAJOR[kind]:
        return ("unknown schema major version %s in %r (this report reads %s/%d)"
                % (m.group(2), s, kind, KNOWN_MAJOR[kind]))
    return None


def params_json(rec):
    return json.dumps(rec.get("params") or {}, sort_keys=True, separators=(",", ":"))


def case_key(rec):
    """Workload, backing and the case name.  The engine builds the name from
    the parameters set in the job, so it also tells apart cases that differ in
    core options not kept in params (fault-scale threads=1 vs threads=0), and
    it survives a faultline version that adds an option with a default (the
    full params then differ: compare.build lists such differences)."""
    return (str(rec.get("workload")), str(rec.get("backing")), case_name(rec))


def case_name(rec):
    if isinstance(rec.get("case"), str) and rec["case"]:
        return rec["case"]
    params = rec.get("params") or {}
    p = ",".join("%s=%s" % (k, params[k]) for k in sorted(params))
    return "%s/%s/%s" % (rec.get("workload"), rec.get("backing"), p)


def _numbers(xs):
    if not isinstance(xs, list):
        return []
    return [float(x) for x in xs
            if isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)]


class Run:
    def __init__(self, path):
        self.path = path
        self.name = os.path.basename(os.path.normpath(path)) or path
        self.label = self.name
        self.meta = None          # run.json, when readable and of a known schema
        self.records = {}         # case key -> record
        self.order = []           # case keys in file order
        self.problems = []        # (file, problem)
        self.complete = True
        self.usable = True        # False: nothing of this run can be compared
        self.lines = 0
        self.members = [path]     # folders pooled into this column (A+B+C)
        self.fleet = None         # fleet-status.json of the host that ran it
        self.parts = []           # a folder made of parts: each part's origin

    def problem(self, fname, text):
        self.problems.append((fname, text))

    @property
    def env(self):
        return (self.meta or {}).get("env") or {}

    @property
    def kernel(self):
        k = self.env.get("kernel") or {}
        return k.get("release")

    @property
    def accel(self):
        v = self.env.get("virt") or {}
        return v.get("accel")

    def describe(self):
        m = self.meta or {}
        return {
            "label": self.label, "path": self.path, "run_id": m.get("run_id"),
            "kernel": self.kernel, "host": self.env.get("hostname"),
            "accel": self.accel, "start": m.get("start"), "end": m.get("end"),
            "faultline_version": m.get("faultline_version"),
            "complete": self.complete, "records": len(self.records),
            "usable": self.usable, "members": self.members, "parts": self.parts,
            "problems": ["%s: %s" % p for p in self.problems],
            "fleet": self.fleet,
        }


def find_file(folder, name):
    """folder/name, else folder/name.gz (a results folder archived with
    gzip), else None."""
    for f in (name, name + ".gz"):
        p = os.path.join(folder, f)
        if os.path.exists(p):
            return p
    return None


def read_bytes(fname):
    """The content of fname, gunzipped when it ends in .gz; (data, problem).
    A gzip stream cut short (a copy interrupted) gives what it holds up to
    the cut, with the problem said; OSError propagates."""
    with open(fname, "rb") as f:
        data = f.read()
    if not fname.endswith(".gz"):
        return data, None
    try:
        return gzip.decompress(data), None
    except (EOFError, OSError, zlib.error) as e:
        d = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            part = d.decompress(data)
        except zlib.error:
            part = b""
        return part, "gzip stream damaged (%s): the %d bytes before the damage are read" % (
            e, len(part))


def _load_meta(run):
    fname = find_file(run.path, "run.json")
    if fname is None:
        run.problem(os.path.join(run.path, "run.json"),
                    "missing: environment unknown, records still compared")
        return
    try:
        data, damaged = read_bytes(fname)
        if damaged:
            run.problem(fname, damaged)
        meta = json.loads(data.decode("utf-8"))
    except (OSError, UnicodeDecodeError) as e:
        run.problem(fname, "unreadable: %s" % e)
        return
    except json.JSONDecodeError as e:
        run.problem(fname, "not valid JSON (%s): environment unknown" % e)
        run.complete = False
        return
    if not isinstance(meta, dict):
        run.problem(fname, "not a JSON object")
        return
    bad = schema_problem(meta, "faultline.run")
    if bad:
        run.problem(fname, bad + ": run refused")
        run.usable = False
        return
    run.meta = meta
    if meta.get("complete") is False or not meta.get("end"):
        run.complete = False
        why = "\"complete\": false" if meta.get("complete") is False else "no \"end\""
        run.problem(fname, "run incomplete (%s): interrupted or still running" % why)


def _check_record(rec):
    if not isinstance(rec, dict):
        return "not a JSON object"
    bad = schema_problem(rec, "faultline.record")
    if bad:
        return bad
    for field in ("workload", "backing", "status"):
        if not isinstance(rec.get(field), str):
            return "no %r" % field
    if rec["status"] not in STATUSES:
        return "unknown status %r" % rec["status"]
    for field in ("params", "metrics", "latency", "details"):
        if rec.get(field) is not None and not isinstance(rec.get(field), dict):
            return "%r is not an object" % field
    return None


def _percentile_mismatch(lat):
    """Names of the percentiles a record states that its own buckets do not
    give (same rule as bench/histogram.c): a corrupt or foreign histogram."""
    from .stats import Hist  # numpy: only when there are histograms
    bad = []
    for name, h in lat.items():
        hist = Hist(h["buckets"], h.get("overflow"), h.get("min"), h.get("max"))
        if not hist.total:
            continue
        for key in ("p50", "p99", "p99.9"):
            v = h.get(key)
            if isinstance(v, (int, float)) and abs(hist.percentile(float(key[1:])) - v) > 1:
                bad.append("%s %s" % (name, key))
    return bad


def _num(x):
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def _normalise(rec):
    """Keep what a comparison can use; drop what has the wrong shape (the
    record itself was checked by _check_record)."""
    metrics = {}
    for name, m in (rec.get("metrics") or {}).items():
        if not isinstance(m, dict):
            continue
        samples = _numbers(m.get("samples"))
        if not samples and _num(m.get("median")):
            samples = [float(m["median"])]
        d = m.get("direction")
        metrics[str(name)] = {"unit": m["unit"] if isinstance(m.get("unit"), str) else "",
                              "direction": d if d in ("higher", "lower", "info") else "info",
                              "samples": samples}
    rec["metrics"] = metrics
    lat = {}
    for name, h in (rec.get("latency") or {}).items():
        if not isinstance(h, dict) or not isinstance(h.get("buckets"), list):
            continue
        rows = [[int(b[0]), int(b[1]), int(b[2])] for b in h["buckets"]
                if isinstance(b, list) and len(b) == 3 and all(_num(x) for x in b)
                and 0 <= b[0] <= b[1] and b[2] >= 0]
        h = dict(h, buckets=rows)
        h["overflow"] = int(h["overflow"]) if _num(h.get("overflow")) and h["overflow"] > 0 \
            else 0
        for k in ("min", "max"):
            h[k] = h[k] if _num(h.get(k)) else None
        if not isinstance(h.get("unit"), str):
            h["unit"] = "ns"
        lat[str(name)] = h
    rec["latency"] = lat
    rec["_pct_mismatch"] = _percentile_mismatch(lat)
    if not isinstance(rec.get("details"), dict):
        rec["details"] = {}
    if not isinstance(rec.get("reason"), str):
        rec["reason"] = "" if rec.get("reason") is None else json.dumps(rec["reason"])
    if not isinstance(rec.get("case"), str):
        rec.pop("case", None)
    rec["hung"] = rec.get("hung") is True
    return rec


def _load_records(run):
    fname = find_file(run.path, "results.jsonl")
    if fname is None:
        fname = os.path.join(run.path, "results.jsonl")
        if os.path.exists(os.path.join(run.path, "report.json")):
            run.problem(fname, "missing: this folder is a report's output, not a results folder")
        else:
            run.problem(fname, "missing: no results to compare")
        return
    try:
        data, damaged = read_bytes(fname)
    except OSError as e:
        run.problem(fname, "unreadable: %s" % e)
        return
    if damaged:
        run.problem(fname, damaged + "; run marked incomplete")
        run.complete = False
    lines = data.split(b"\n")
    # the last non-empty line: where a killed writer leaves half a record
    last = max((i for i, raw in enumerate(lines) if raw.strip()), default=-1)
    refused = {}
    for i, raw in enumerate(lines):
        if not raw.strip():
            continue
        lineno = i + 1
        try:
            rec = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            if i == last:
                run.problem(fname, "line %d truncated (the run was killed?): "
                                   "%d complete records kept, run marked incomplete"
                            % (lineno, len(run.records)))
                run.complete = False
            else:
                run.problem(fname, "line %d: not valid JSON (%s), skipped"
                            % (lineno, str(e).split(":")[0]))
            continue
        bad = _check_record(rec)
        if bad:
            # one message per kind of problem, not one per line
            refused.setdefault(bad, []).append(lineno)
            continue
        rec = _normalise(rec)
        if rec["_pct_mismatch"]:
            run.problem(fname, "line %d: %s: stated %s differ from the histogram's "
                               "buckets; the buckets are used"
                        % (lineno, case_name(rec), ", ".join(rec["_pct_mismatch"])))
        key = case_key(rec)
        if key in run.records and params_json(run.records[key]) != params_json(rec):
            # same name, other parameters: keep both apart
            key = key + (params_json(rec),)
        if key in run.records:
            run.problem(fname, "line %d: case %s appears again; the later record is used"
                        % (lineno, case_name(rec)))
        else:
            run.order.append(key)
        run.records[key] = rec
        run.lines += 1
    for bad, nums in refused.items():
        where = ", ".join(str(n) for n in nums[:5]) + (", ..." if len(nums) > 5 else "")
        run.problem(fname, "%d record(s) refused (line %s): %s" % (len(nums), where, bad))
    if not run.records:
        run.problem(fname, "no usable records (empty run)")


FLEET_STATUS = "fleet-status.json"
FLEET_OK = ("ok", "idle")


def _load_fleet(run):
    """The status scripts/fleet wrote for the host that ran this folder:
    in the folder (a host's run), else in the folder above it (a kernel of
    a matrix share, results/<fleet-id>/<host>/<kernel>/)."""
    real = os.path.realpath(run.path)
    for d in (real, os.path.dirname(real)):
        fname = os.path.join(d, FLEET_STATUS)
        if not os.path.exists(fname):
            continue
        try:
            with open(fname, encoding="utf-8") as f:
                st = json.load(f)
        except (OSError, ValueError) as e:
            run.problem(fname, "unreadable: %s" % e)
            return
        if not isinstance(st, dict) or not str(st.get("schema", "")).startswith(
                "faultline.fleet-status/"):
            run.problem(fname, "not a faultline.fleet-status record: ignored")
            return
        drv = st.get("driver") if isinstance(st.get("driver"), dict) else {}
        run.fleet = {k: " ".join(str(st.get(k) or "").split())
                     for k in ("host", "status", "stage", "reason", "kernel")}
        run.fleet["driver"] = " ".join(str(drv.get("status") or "").split())
        run.fleet["driver_reason"] = " ".join(str(drv.get("reason") or "").split())
        return


def load_run(path):
    run = Run(path)
    if not os.path.exists(path):
        run.problem(path, "no such directory")
        run.usable = False
        return run
    if not os.path.isdir(path):
        run.problem(path, "not a directory (expected a results folder with run.json "
                          "and results.jsonl)")
        run.usable = False
        return run
    _load_fleet(run)
    if run.fleet and run.fleet["status"] not in FLEET_OK and find_file(path, "run.json") is None:
        # a host that never ran the suite: its status is the whole story
        run.problem(path, "no results: fleet host %s %s: %s"
                    % (run.fleet["host"], run.fleet["status"], run.fleet["reason"]))
        run.usable = False
        return run
    parts = find_file(path, "parts.json")
    if parts and not find_file(path, "results.jsonl"):
        _load_parts(run, parts)
    else:
        _load_meta(run)
        if not run.usable:
            return run
        _load_records(run)
    if not run.records:
        run.usable = False
    return run


# ---- a folder made of parts -------------------------------------------------
#
# `make run` (scripts/quickrun) writes one folder holding the host's run and a
# guest's run as sub-folders, and parts.json naming them: {"schema":
# "faultline.parts/1", "parts": [{"name", "folder", "where", "status",
# "reason", ...}]}.  It reads as one run: the records of every part, each
# marked with the part it came from ("_part"), the kernel and accelerator of
# each part kept in run.parts, the environment of each under its part's name.

def _read_manifest(run, fname):
    try:
        data, damaged = read_bytes(fname)
        m = json.loads(data.decode("utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as e:
        run.problem(fname, "unreadable: %s" % e)
        return None
    bad = schema_problem(m, "faultline.parts") or (
        None if isinstance(m.get("parts"), list) else "no \"parts\" list")
    if damaged or bad:
        run.problem(fname, (damaged or bad) + ": folder refused")
        return None
    return [p for p in m["parts"] if isinstance(p, dict) and isinstance(p.get("name"), str)]


def _load_parts(run, fname):
    manifest = _read_manifest(run, fname)
    if manifest is None:
        run.usable = False
        return
    metas = []
    for p in manifest:
        name = p["name"]
        info = {"name": name, "where": str(p.get("where") or ""),
                "status": str(p.get("status") or "?"), "reason": str(p.get("reason") or ""),
                "path": None, "kernel": None, "accel": None, "records": 0}
        run.parts.append(info)
        if not isinstance(p.get("folder"), str):
            continue
        sub = load_run(os.path.join(run.path, p["folder"]))
        info.update(path=sub.path, kernel=sub.kernel, accel=sub.accel, records=len(sub.records))
        run.problems.extend(sub.problems)
        run.complete = run.complete and sub.complete
        if sub.meta:
            metas.append((name, sub.meta))
        where = name + (" (%s)" % sub.accel if sub.accel in ("tcg", "kvm") else "")
        for k in sub.order:
            rec = sub.records[k]
            rec["_part"], rec["_where"] = name, where
            key = k if k not in run.records else k + ("@" + name,)
            run.records[key] = rec
            run.order.append(key)
    if metas:
        first = metas[0][1]
        run.meta = {"schema": first.get("schema"), "run_id": first.get("run_id"),
                    "start": first.get("start"), "end": metas[-1][1].get("end"),
                    "faultline_version": first.get("faultline_version"),
                    # the physical reference: the first part's (the host's)
                    "calibration": first.get("calibration")}
        for k in ("env", "options", "placement", "prepare"):
            run.meta[k] = {name: m.get(k) for name, m in metas if m.get(k) is not None}


def assign_labels(runs, labels=None):
    """Short column labels: the given ones, else kernel releases when they
    tell the runs apart, else the folder names; made unique with #N."""
    if labels:
        for r, l in zip(runs, labels):
            r.label = l
    else:
        kernels = [r.kernel for r in runs]
        use_kernel = all(kernels) and len(set(kernels)) == len(kernels)
        for r in runs:
            r.label = r.kernel if use_kernel else r.name
    seen = {}
    for i, r in enumerate(runs):
        if r.label in seen:
            r.label = "%s#%d" % (r.label, i)
        seen[r.label] = i


# ---- groups of runs ---------------------------------------------------------
#
# A+B+C on the command line pools several runs of one configuration: the
# samples of a metric are concatenated and histograms summed, so the
# run-to-run variation of the machine becomes part of the sample instead of
# a systematic difference that a test of repetitions from one run would call
# significant.

SEVERITY = {"pass": 0, "skip": 1, "fail": 2, "error": 3}
GROUP_MUST_MATCH = ("kernel.release", "virt.accel", "cpu.model", "thp.enabled")


def split_group(arg):
    """'A+B' -> ['A', 'B'] unless 'A+B' is itself an existing path."""
    if "+" not in arg or os.path.exists(arg):
        return [arg]
    return [p for p in arg.split("+") if p]


def _get(d, dotted):
    for k in dotted.split("."):
        if not isinstance(d, dict):
            return None
        d = d.get(k)
    return d


def _merge_hist(hs):
    buckets = {}
    for h in hs:
        for lo, hi, c in h["buckets"]:
            buckets[(lo, hi)] = buckets.get((lo, hi), 0) + c
    out = dict(hs[0])
    out["buckets"] = [[lo, hi, c] for (lo, hi), c in sorted(buckets.items())]
    out["overflow"] = sum(int(h.get("overflow") or 0) for h in hs)
    mins = [h["min"] for h in hs if isinstance(h.get("min"), (int, float))]
    maxs = [h["max"] for h in hs if isinstance(h.get("max"), (int, float))]
    out["min"] = min(mins) if mins else None
    out["max"] = max(maxs) if maxs else None
    out["count"] = sum(c for _, _, c in out["buckets"])
    # each run's own histogram, for the run-to-run spread of a percentile
    out["parts"] = [{k: h.get(k) for k in ("buckets", "overflow", "min", "max")} for h in hs]
    return out


def _merge_records(recs):
    worst = max(recs, key=lambda r: (SEVERITY[r["status"]], bool(r.get("hung"))))
    if worst["status"] != "pass":
        return worst
    out = dict(recs[0])
    out["metrics"] = {}
    for name, m in recs[0]["metrics"].items():
        parts = [r["metrics"].get(name) for r in recs]
        if all(parts):
            out["metrics"][name] = dict(m, samples=[x for p in parts for x in p["samples"]])
    out["latency"] = {}
    for name in recs[0]["latency"]:
        parts = [r["latency"].get(name) for r in recs]
        if all(parts):
            out["latency"][name] = _merge_hist(parts)
    details = {}
    for r in recs:
        for k, v in r["details"].items():
            if k not in details:
                details[k] = v
            elif details[k] != v:
                details[k] = "%s | %s" % (details[k], v)
    out["details"] = details
    return out


def merge_runs(members, arg):
    """One Run standing for several runs of the same configuration."""
    usable = [m for m in members if m.usable]
    g = Run(arg)
    g.name = "+".join(m.name for m in members)
    g.members = [m.path for m in members]
    g.fleet = members[0].fleet
    for m in members:
        g.problems.extend(m.problems)
    if not usable:
        g.usable = False
        return g
    g.meta = copy.deepcopy(usable[0].meta)
    if g.meta is not None:
        cals = [_get(m.meta, "calibration.memset_GBps") for m in usable if m.meta]
        cals = sorted(c for c in cals if isinstance(c, (int, float)))
        if cals and isinstance(g.meta.get("calibration"), dict):
            g.meta["calibration"]["memset_GBps"] = cals[len(cals) // 2]
    g.complete = all(m.complete for m in members)
    for key in GROUP_MUST_MATCH:
        vals = {json.dumps(_get(m.env, key)) for m in usable if m.meta}
        if len(vals) > 1:
            g.problem(arg, "group members differ in %s (%s): pooled anyway, but this is "
                           "not one configuration" % (key, ", ".join(sorted(vals))))
    keys = []
    for m in usable:
        keys.extend(k for k in m.order if k not in keys)
    for k in keys:
        recs = [m.records[k] for m in usable if k in m.records]
        if len(recs) < len(usable):
            g.problem(arg, "case %s is in %d of %d group members"
                      % (case_name(recs[0]), len(recs), len(usable)))
        sts = sorted({r["status"] for r in recs})
        if len(sts) > 1:
            g.problem(arg, "case %s is %s in different members: the group shows the worst"
                      % (case_name(recs[0]), "/".join(sts)))
        g.records[k] = _merge_records(recs)
        g.order.append(k)
    return g


def load_arg(arg):
    parts = split_group(arg)
    if len(parts) == 1:
        return load_run(parts[0])
    return merge_runs([load_run(p) for p in parts], arg)
