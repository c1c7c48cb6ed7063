"""Matching cases across runs, verdicts, environment diff, behaviour tables.

The result is one plain dict (the content of report.json); the Markdown and
HTML renderers only format it.

Verdict of one metric, baseline vs run (direction from the metric itself),
with the noise floor F = max(--min-change, --noise-k x the larger cv of the
two sides), raised to the move of the memset calibration when both runs claim
the same machine (taken symmetrically in log space):
  too few repetitions for the exact U test to reach alpha   -> noisy (says how many)
  p < alpha and the CI wholly beyond +-F                    -> regressed / improved
  p < alpha, |%change| >= min-change, CI reaching inside F  -> noisy (says why)
  not significant, cv above threshold or |%change| large    -> noisy
  otherwise                                                 -> unchanged
A case that passes in the baseline and not in the run (skip, fail, error,
hung, or lost by an incomplete run) is one status comparison: regressed
(the reverse: improved), whatever its metrics.
Latency percentiles use a bootstrap over the histogram instead of the U test
(there is one merged histogram per run, not one per repetition).
"""

import datetime
import json
import math

from . import kernels, load, stats
from .load import case_name, params_json

VERDICT_ORDER = {"regressed": 0, "improved": 1, "noisy": 2, "unchanged": 3, "info": 4}
PERCENTILES = (50.0, 99.0, 99.9)


class Settings:
    def __init__(self, alpha=0.05, min_change=2.0, latency_min_change=10.0,
                 cv_threshold=0.05, ci="hl", seed=1, resamples=2000,
                 percentiles=PERCENTILES, noise_k=3.0):
        self.alpha = alpha
        self.noise_k = noise_k
        self.min_change = min_change
        self.latency_min_change = latency_min_change
        self.cv_threshold = cv_threshold
        self.ci = ci
        self.seed = seed
        self.resamples = resamples
        self.percentiles = tuple(percentiles)

    def as_dict(self):
        return dict(vars(self), percentiles=list(self.percentiles))


def pct(new, base):
    if base is None or new is None:
        return None
    if base == 0:
        return 0.0 if new == 0 else (math.inf if new > base else -math.inf)
    return (new - base) / abs(base) * 100.0


def _jsonable(x):
    if isinstance(x, float) and not math.isfinite(x):
        return "inf" if x > 0 else ("-inf" if x < 0 else None)
    if isinstance(x, dict):
        return {k: _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    return x


def _worse(direction, change):
    """+1 when the change is in the bad direction, -1 good, 0 none."""
    if not change:
        return 0
    s = 1 if change > 0 else -1
    return s if direction == "lower" else -s


def _bounds(floor, factor):
    """(up, down): the %increase and %decrease a CI must clear, from the
    noise floor (%) and factor >= 1, how much the machine itself moved
    between the runs (same host, memset calibration): a shift it could
    explain is not the kernel's.  Symmetric in log space, so that a metric
    and its reciprocal (ops_rate, time_per_op) get the same verdict: a floor
    of 25% or a machine 1.25x slower asks for +25% or -20%; 180% for +180%
    or -64% (a decrease can never reach -100%)."""
    r = max(1.0 + floor / 100.0, factor)
    return (r - 1.0) * 100.0, (1.0 - 1.0 / r) * 100.0


def compare_metric(name, unit, direction, base, new, st, seed_keys, factor=1.0):
    """factor: how much the same machine moved between the runs (>= 1)."""
    c = {"kind": "metric", "metric": name, "stat": "median", "unit": unit,
         "direction": direction, "n_base": len(base), "n_new": len(new),
         "base": stats.median(base), "new": stats.median(new),
         "cv_base": stats.cv(base), "cv_new": stats.cv(new),
         "p": None, "ci_pct": None, "ci_conf": None, "notes": []}
    c["change_pct"] = pct(c["new"], c["base"])
    if not base or not new:
        c["verdict"] = "noisy"
        c["notes"].append("no samples")
        return c
    if direction == "info":
        c["verdict"] = "info"
        return c
    nb, nn = len(base), len(new)
    if stats.min_p_exact(nb, nn) >= st.alpha:
        need = stats.reps_needed(st.alpha)
        c["verdict"] = "noisy"
        note = ("too few repetitions (%d vs %d): Mann-Whitney two-sided at alpha=%g "
                "needs >=%d per side (--repeat %d)" % (nb, nn, st.alpha, need, need))
        small = min(nb, nn)
        other = stats.reps_needed(st.alpha, have_other=small)
        if nb != nn and small < need and other:
            note += ", or >=%d against %d" % (other, small)
        c["notes"].append(note)
        return c
    c["p"] = stats.mann_whitney(base, new)
    scale = abs(c["base"]) if c["base"] else None
    if st.ci == "bootstrap":
        lo, hi = stats.bootstrap_median_diff(
            base, new, st.alpha, stats.stable_seed(st.seed, *seed_keys), st.resamples)
        conf = 1 - st.alpha
    else:
        _, lo, hi, conf = stats.hodges_lehmann(base, new, st.alpha)
    if lo is not None and scale:
        c["ci_pct"] = [lo / scale * 100.0, hi / scale * 100.0]
        c["ci_conf"] = conf
    elif lo is not None:
        c["ci_abs"] = [lo, hi]
        c["ci_conf"] = conf
    sig = c["p"] < st.alpha
    change = c["change_pct"]
    big = change is not None and abs(change) >= st.min_change
    cvs = [v for v in (c["cv_base"], c["cv_new"]) if v is not None]
    high_cv = bool(cvs) and max(cvs) > st.cv_threshold
    worse = _worse(direction, (c["new"] or 0) - (c["base"] or 0))
    ci = c["ci_pct"]
    # Practical significance: the smallest change that counts, the noise
    # floor, is max(--min-change, --noise-k x the larger cv of the two
    # sides), raised further when the same machine measurably moved between
    # the runs (calibration).  Repetitions inside one run do not see what
    # changes between runs (other load, frequency, page allocator state): on
    # a shared 2-core host two runs seconds apart differed by 10% to 4x with
    # within-run cvs of 2-20%.  A shift must therefore clear a few standard
    # deviations of the noisier run, not only be significant; pooled runs
    # (A1+A2) fold the run-to-run spread into the cv.
    cv_max = max(cvs) if cvs else 0.0
    floor = max(st.min_change, st.noise_k * cv_max * 100.0)
    up, down = _bounds(floor, factor)
    c["floor_pct"], c["floor_down_pct"] = up, down
    if ci:
        # the whole interval beyond the floor, on one side
        beyond = ci[0] >= up or ci[1] <= -down
    else:
        beyond = sig  # baseline median 0: no percentage scale
    if sig and big and beyond and worse:
        c["verdict"] = "regressed" if worse > 0 else "improved"
    elif sig and big:
        c["verdict"] = "noisy"
        if factor > 1 and (up, down) != _bounds(floor, 1.0):
            c["notes"].append("%+.1f%% (p=%.2g) but the machine itself moved %.2gx "
                              "between the runs (calibration)" % (change, c["p"], factor))
        elif floor > st.min_change:
            c["notes"].append("%+.1f%% (p=%.2g) but the CI reaches inside the noise floor "
                              "+-%.1f%% (%g x cv %.1f%%)" % (change, c["p"], floor, st.noise_k,
                                                            cv_max * 100))
        else:
            c["notes"].append("%+.1f%% (p=%.2g) but the CI reaches inside +-%g%%: "
                              "more repetitions needed" % (change, c["p"], st.min_change))
    elif not sig and (high_cv or big):
        c["verdict"] = "noisy"
        if high_cv:
            c["notes"].append("cv %.1f%% > %.1f%%" % (max(cvs) * 100, st.cv_threshold * 100))
        if big:
            c["notes"].append("%+.1f%% not significant (p=%.2g)" % (change, c["p"]))
    else:
        c["verdict"] = "unchanged"
        if sig:
            c["notes"].append("significant but below --min-change %g%%" % st.min_change)
    return c


def compare_status(rb, x, run):
    """A case that passed in the baseline and did not pass in a run (skip,
    fail, error, hung; or never recorded by a run that did not complete) is
    that run's regression, whatever the reason: the engine rightly skips a
    THP case that got 4K pages instead of measuring it, and a comparison
    must not read that as "nothing to compare".  The reverse is an
    improvement.  None when the status did not cross pass/not-pass (or the
    case is simply not in the run's suite)."""
    sb = _status(rb)
    if x is None:
        if sb != "pass" or run.complete:
            return None  # a complete run without the case ran another suite: "unmatched"
        sn, reason = "lost", "not recorded: the run did not complete"
    else:
        sn, reason = _status(x), (x.get("reason") or "")
    if sb is None or (sb == "pass") == (sn == "pass"):
        return None
    regressed = sb == "pass"
    if not regressed:
        reason = (rb.get("reason") or "") if rb else ""
        reason = "the baseline's %s: %s" % (sb, reason) if reason else ""
    return {"kind": "status", "metric": "status", "stat": "status", "unit": "",
            "direction": "info", "n_base": None, "n_new": None,
            "base": sb, "new": sn, "change_pct": None, "cv_base": None, "cv_new": None,
            "p": None, "ci_pct": None, "ci_conf": None,
            "status_change": "%s->%s" % (sb, sn),
            "verdict": "regressed" if regressed else "improved",
            "notes": [reason] if reason else []}


def _member_cv(h, p):
    """cv of percentile p across the runs pooled into one histogram (A1+A2):
    the run-to-run spread of that percentile; None for a single run."""
    parts = h.get("parts") or []
    if len(parts) < 2:
        return None
    vals = [stats.Hist(x["buckets"], x.get("overflow"), x.get("min"), x.get("max"))
            .percentile(p) for x in parts]
    return stats.cv([v for v in vals if v is not None])


def compare_latency(name, hb, hn, st, seed_keys, factor=1.0, tails_suspect=False,
                    case_cv=None):
    """p50/p99/p99.9 of two merged histograms.  Tails (p99 and up) are the
    first thing other load on the machine moves (preemption, interrupts), so
    when the calibration says the machine changed between the runs a tail
    shift is reported as noisy, not as the kernel's.

    The bootstrap CI covers the sampling error of one histogram only, so the
    noise floor comes from the data as for metrics: --noise-k x the larger of
    the spread of this percentile across pooled runs (A1+A2+A3) and the cv of
    the case's own per-repetition metrics (case_cv: how much this case's
    timing moves with the machine), at least --latency-min-change."""
    out = []
    hist_b = stats.Hist(hb["buckets"], hb.get("overflow"), hb.get("min"), hb.get("max"))
    hist_n = stats.Hist(hn["buckets"], hn.get("overflow"), hn.get("min"), hn.get("max"))
    ps = list(st.percentiles)
    boot = None
    for j, p in enumerate(ps):
        label = "p%g" % p
        c = {"kind": "latency", "metric": "%s %s" % (name, label), "latency": name,
             "stat": label, "unit": hb.get("unit") or "ns", "direction": "lower",
             "n_base": hist_b.total, "n_new": hist_n.total,
             "base": hist_b.percentile(p), "new": hist_n.percentile(p),
             "overflow_base": hist_b.overflow, "overflow_new": hist_n.overflow,
             "p": None, "ci_pct": None, "ci_conf": None, "notes": []}
        c["change_pct"] = pct(c["new"], c["base"])
        need = stats.tail_samples_needed(p)
        if c["base"] is None or c["new"] is None:
            c["verdict"] = "noisy"
            c["notes"].append("empty histogram")
        elif need and min(hist_b.total, hist_n.total) < need:
            c["verdict"] = "noisy"
            c["notes"].append("too few samples (%d vs %d): %s needs >=%d so that 10 lie above it"
                              % (hist_b.total, hist_n.total, label, need))
        else:
            if boot is None:
                bb = hist_b.bootstrap_percentiles(ps, stats.stable_seed(st.seed, *seed_keys, "b"),
                                                  st.resamples // 2)
                bn = hist_n.bootstrap_percentiles(ps, stats.stable_seed(st.seed, *seed_keys, "n"),
                                                  st.resamples // 2)
                boot = (bb, bn)
            bb, bn = boot
            base = max(c["base"], 1e-9)
            d = (bn[:, j] - bb[:, j]) / base * 100.0
            lo, hi = (float(x) for x in stats.np.quantile(d, [st.alpha / 2, 1 - st.alpha / 2]))
            c["ci_pct"] = [lo, hi]
            c["ci_conf"] = 1 - st.alpha
            sig = lo > 0 or hi < 0
            change = c["change_pct"]
            # (cv, where it comes from): the larger one sets the floor
            cvs = [(v, w) for v, w in ((_member_cv(hb, p), "pooled runs' " + label),
                                       (_member_cv(hn, p), "pooled runs' " + label),
                                       (case_cv, "case's repetitions")) if v is not None]
            cv_max, source = max(cvs) if cvs else (0.0, "")
            floor = max(st.latency_min_change, st.noise_k * cv_max * 100.0)
            up, down = _bounds(floor, factor)
            c["floor_pct"], c["floor_down_pct"] = up, down
            beyond = lo >= up or hi <= -down
            if sig and beyond and tails_suspect and p >= 99:
                c["verdict"] = "noisy"
                c["notes"].append("%+.1f%% but the machine's calibration moved between "
                                  "the runs: a tail shift is not attributable" % change)
            elif sig and beyond:
                c["verdict"] = "regressed" if change > 0 else "improved"
            elif sig and factor > 1 and (lo >= _bounds(floor, 1.0)[0]
                                         or hi <= -_bounds(floor, 1.0)[1]):
                c["verdict"] = "noisy"
                c["notes"].append("%+.1f%% but the machine moved %.2gx between the runs "
                                  "(calibration)" % (change, factor))
            elif sig and (lo >= st.latency_min_change or hi <= -st.latency_min_change):
                c["verdict"] = "noisy"
                c["notes"].append("%+.1f%% but the CI reaches inside the noise floor +-%.1f%% "
                                  "(%g x cv %.1f%% of the %s)"
                                  % (change, floor, st.noise_k, cv_max * 100, source))
            else:
                c["verdict"] = "unchanged"
                if sig:
                    c["notes"].append("outside sampling error but below "
                                      "--latency-min-change %g%%" % st.latency_min_change)
        out.append(c)
    return out


# ---- environment ------------------------------------------------------

ENV_ORDER = ["hostname", "kernel.release", "virt", "kernel.version", "kernel.cmdline",
             "kernel.config", "thp", "hugetlb", "cpu", "topology", "numa", "memory",
             "pmem", "driver", "faultline_version", "options", "placement",
             "calibration", "prepare"]
ENV_SKIP = {"kernel.config_source"}
# measured, not configured: shown as a physical reference with its %difference
CALIBRATION = ("calibration.memset_GBps", "calibration.clock_read_ns")
# On an idle machine memset bandwidth repeats within a few percent and a clock
# read within a few ns; beyond these the two runs did not see the same machine.
CALIBRATION_WARN = (("memset_GBps", 10.0, "GB/s"), ("clock_read_ns", 25.0, "ns"))


def _flatten(prefix, obj, out):
    if isinstance(obj, dict):
        for k, v in obj.items():
            _flatten("%s.%s" % (prefix, k) if prefix else str(k), v, out)
    elif isinstance(obj, list) and obj and all(isinstance(x, dict) for x in obj):
        out[prefix] = "; ".join(
            " ".join("%s=%s" % (k, v) for k, v in x.items()) for x in obj)
    elif isinstance(obj, list):
        out[prefix] = " ".join(str(x) for x in obj)
    else:
        out[prefix] = obj


def _env_flat(run):
    m = run.meta or {}
    out = {}
    _flatten("", m.get("env") or {}, out)
    for k in ("faultline_version", "options", "placement", "calibration", "prepare"):
        if k in m:
            _flatten(k, m[k], out)
    return {k: v for k, v in out.items() if k not in ENV_SKIP}


def _env_show(key, flat):
    """Display form: absent key, JSON null (for config: not set) and empty
    string kept apart, since each means something different."""
    if flat is None:
        return None
    if key not in flat:
        return "(not recorded)"
    v = flat[key]
    if v is None:
        return "not set" if key.startswith("kernel.config.") else "null"
    if v == "":
        return '""'
    return v if isinstance(v, str) else json.dumps(v)


def _mostly_same(a, b):
    """A word diff helps only where most words are shared (a kernel command
    line with one option added), not between unrelated texts."""
    wa, wb = set(a.split()), set(b.split())
    return len(wa & wb) * 2 >= max(len(wa), len(wb))


def _word_diff(base, v):
    if v is None:
        return None
    b, n = base.split(), v.split()
    out = ["-" + w for w in b if w not in n] + ["+" + w for w in n if w not in b]
    return " ".join(out) or "same words"


def _env_rank(key):
    for i, p in enumerate(ENV_ORDER):
        if key == p or key.startswith(p + "."):
            return (i, key)
    return (len(ENV_ORDER), key)


def env_diff(runs):
    flats = [_env_flat(r) if r.meta else None for r in runs]
    keys = sorted({k for f in flats if f for k in f
                   if not k.startswith("calibration.")}, key=_env_rank)
    rows, same = [], []
    for k in keys:
        vals = [_env_show(k, f) for f in flats]
        known = [v for v, f in zip(vals, flats) if f is not None]
        if len(set(known)) > 1:
            rows.append({"key": k, "values": vals})
            if all(isinstance(v, str) and len(v.split()) > 3 for v in known) \
                    and vals[0] is not None and all(_mostly_same(vals[0], v) for v in known):
                rows.append({"key": k + " (words vs %s)" % runs[0].label,
                             "values": [_word_diff(vals[0], v) for v in vals]})
        else:
            same.append(k)
    for i, r in enumerate(runs):
        if r.meta is None:
            rows.insert(0, {"key": "run.json", "values": [
                ("missing or unreadable" if j == i else "") for j in range(len(runs))]})
    calib = []
    for k in CALIBRATION:
        vals = [(f.get(k) if f is not None else None) for f in flats]
        if any(isinstance(v, (int, float)) for v in vals):
            calib.append({"key": k, "values": vals,
                          "change_pct": [pct(v, vals[0]) if isinstance(v, (int, float))
                                         and isinstance(vals[0], (int, float)) else None
                                         for v in vals]})
    return {"differs": rows, "same_count": len(same), "calibration": calib,
            "same": {k: flats[0].get(k) if flats[0] else None for k in same
                     if k in ("kernel.release", "virt.accel", "virt.hypervisor",
                              "cpu.model", "thp.enabled", "hostname")}}


def machine_moved(base, r):
    """The calibration figures that moved beyond CALIBRATION_WARN between two
    runs, as text; empty when the machine looked the same to both."""
    base_cal = (base.meta or {}).get("calibration") or {}
    cal = (r.meta or {}).get("calibration") or {}
    moved = []
    for key, limit, unit in CALIBRATION_WARN:
        a, b = base_cal.get(key), cal.get(key)
        if isinstance(a, (int, float)) and isinstance(b, (int, float)) and a > 0 \
                and abs(b - a) / a * 100 > limit:
            moved.append("%s %+.0f%% (%.3g vs %.3g %s)"
                         % (key, (b - a) / a * 100, b, a, unit))
    return moved


def _machine_factor(base, r):
    """How much the memset calibration moved (a ratio >= 1) when both runs
    claim the same machine (host and CPU model) and it moved beyond
    CALIBRATION_WARN; else 1.  Between different machines the calibration
    differs by design and the comparison is about the machines."""
    same = _same_machine(base, r)
    a = ((base.meta or {}).get("calibration") or {}).get("memset_GBps")
    b = ((r.meta or {}).get("calibration") or {}).get("memset_GBps")
    if not same or not isinstance(a, (int, float)) or not isinstance(b, (int, float)) \
            or a <= 0 or b <= 0:
        return 1.0
    ch = abs(b - a) / a * 100.0
    return max(a / b, b / a) if ch > CALIBRATION_WARN[0][1] else 1.0


def _same_machine(a, b):
    return all(_get_env(a, k) == _get_env(b, k) for k in ("hostname", "cpu.model"))


def _get_env(run, dotted):
    d = run.env
    for k in dotted.split("."):
        d = d.get(k) if isinstance(d, dict) else None
    return d


def env_warnings(runs):
    w = []
    accels = [(r.label, (r.accel or "unknown")) for r in runs if r.meta]
    tcg = [l for l, a in accels if a == "tcg"]
    other = [l for l, a in accels if a not in ("tcg", "unknown")]
    if tcg and not other and len(tcg) == len(accels):
        w.append("All runs ran under TCG (software emulation): timings measure the "
                 "emulator as much as the kernel; trust correctness and behaviour, and "
                 "only large timing differences.")
    if tcg and other:
        w.append("TCG vs NATIVE: %s ran under TCG (software emulation) while %s ran natively "
                 "or under KVM; timings differ by an order of magnitude for reasons "
                 "unrelated to the kernel: compare correctness and behaviour only."
                 % (", ".join(tcg), ", ".join(other)))
    hyp = {r.label: ((r.env.get("virt") or {}).get("hypervisor") or "unknown")
           for r in runs if r.meta}
    if len({v for v in hyp.values() if v != "unknown"}) > 1:
        w.append("Different virtualisation: " +
                 ", ".join("%s=%s" % kv for kv in hyp.items()))
    for r in runs[1:]:
        moved = machine_moved(runs[0], r)
        if moved:
            w.append("Machine state differs between %s and %s: %s. Changes of that "
                     "order can come from the machine (other load, frequency, "
                     "placement), not the kernel; repeat both runs (A1+A2 pools them)."
                     % (runs[0].label, r.label, "; ".join(moved)))
    hosts = {r.env.get("hostname") for r in runs if r.meta}
    cpus = {(r.env.get("cpu") or {}).get("model") for r in runs if r.meta}
    if len(cpus) > 1:
        w.append("Different CPU models: differences mix hardware and kernel effects.")
    elif len(hosts) > 1:
        w.append("Different hosts (same CPU model).")
    return w


# ---- cases ----------------------------------------------------------------

def _excerpt(lines, limit=20):
    if isinstance(lines, str):
        lines = lines.splitlines()
    if not isinstance(lines, list):
        return []
    lines = [str(x) for x in lines]
    return lines[:limit] + (["... (%d more lines)" % (len(lines) - limit)]
                            if len(lines) > limit else [])


def _vm_logs(run):
    """The whole guest console and kernel log of a VM run, for the reader
    who wants more than the excerpt."""
    out = []
    for m in run.members:
        for f in ("dmesg.txt", "console.log"):
            p = load.find_file(m, f)
            if p:
                out.append(p)
    return out


def _status(rec):
    if rec is None:
        return None
    return "hung" if rec.get("hung") else rec["status"]


def build(runs, baseline, st, fail_on=None):
    """runs: loaded Run objects (usable or not); baseline: index into usable runs."""
    usable = [r for r in runs if r.usable]
    rep = {"schema": "faultline.report/1",
           "generated": datetime.datetime.now(datetime.timezone.utc)
           .strftime("%Y-%m-%dT%H:%M:%SZ"),
           "settings": dict(st.as_dict(), calibration_warn_pct={
               k: v for k, v, _ in CALIBRATION_WARN}),
           "runs": [], "problems": [], "warnings": [], "correctness": [],
           "status_changes": [], "unmatched": [], "unmatched_metrics": [], "param_diffs": [],
           "comparisons": [],
           "behaviour": [], "summary": [], "latency_plots": []}
    for r in runs:
        d = r.describe()
        d["baseline"] = bool(usable) and r is usable[baseline]
        rep["runs"].append(d)
        rep["problems"].extend({"run": r.label, "file": f, "problem": p} for f, p in r.problems)
    if not usable:
        return rep
    base = usable[baseline]
    others = [r for r in usable if r is not base]
    cols = [base] + others
    rep["columns"] = [r.label for r in cols]
    rep["baseline"] = base.label
    rep["env"] = env_diff(cols)
    rep["warnings"] = env_warnings(cols)
    moved = {r.label: machine_moved(base, r) for r in others}
    factor = {r.label: _machine_factor(base, r) for r in others}
    tails_suspect = {r.label: bool(moved[r.label]) and _same_machine(base, r)
                     for r in others}

    keys = []
    seen = set()
    for r in cols:
        for k in r.order:
            if k not in seen:
                seen.add(k)
                keys.append(k)

    for k in keys:
        recs = [r.records.get(k) for r in cols]
        name = case_name(next(x for x in recs if x))
        sts = [_status(x) for x in recs]
        missing = [r.label for r, x in zip(cols, recs) if x is None]
        if missing:
            rep["unmatched"].append({"case": name,
                                     "present": [r.label for r, x in zip(cols, recs) if x],
                                     "missing": missing})
        for r, x in zip(cols, recs):
            if x is not None and _status(x) in ("fail", "error", "hung"):
                rep["correctness"].append({
                    "case": name, "run": r.label, "status": _status(x),
                    "reason": x.get("reason") or "",
                    "kernel_log": _excerpt(x.get("kernel_log")),
                    "logs": _vm_logs(r),
                    "details": {kk: vv for kk, vv in x["details"].items()
                                if not isinstance(vv, (dict, list))}})
        pdiff = _param_diff(recs)
        if pdiff:
            rep["param_diffs"].append({"case": name, "params": pdiff})
        present = [s for s in sts if s is not None]
        if len(set(present)) > 1:
            rep["status_changes"].append({"case": name, "values": sts})
        _behaviour(rep, name, recs)
        for r, x in zip(others, recs[1:]):
            c = compare_status(recs[0], x, r)
            if c:
                c.update(case=name, run=r.label)
                rep["comparisons"].append(c)
        rb = recs[0]
        if rb is None or rb["status"] != "pass":
            continue
        for r, x in zip(others, recs[1:]):
            if x is not None and x["status"] == "pass":
                _compare_pair(rep, name, rb, x, r, base, cols, pdiff, st,
                              factor[r.label], tails_suspect[r.label])
        for lname in rb["latency"]:
            if _hist_empty(rb["latency"][lname]):
                continue
            if any(x is not None and x["status"] == "pass" and lname in x["latency"]
                   for x in recs[1:]) or not others:
                rep["latency_plots"].append({"case": name, "latency": lname, "key": list(k)})

    rep["comparisons"].sort(key=lambda c: (VERDICT_ORDER[c["verdict"]], c["kind"] != "status",
                                           -abs(c["change_pct"] or 0)
                                           if c["verdict"] in ("regressed", "improved") else 0))
    order = {"hung": 0, "error": 1, "fail": 2}
    rep["correctness"].sort(key=lambda c: order[c["status"]])
    for r in others:
        cs = [c for c in rep["comparisons"] if c["run"] == r.label]
        s = {"run": r.label, "compared": len([c for c in cs if c["verdict"] != "info"]),
             "timing_comparable": _timing_comparable(base, r),
             "machine_moved": moved[r.label], "machine_factor": factor[r.label]}
        for v in VERDICT_ORDER:
            s[v] = len([c for c in cs if c["verdict"] == v])
        s["lost"] = len([c for c in cs if c["kind"] == "status" and c["verdict"] == "regressed"])
        s["gained"] = len([c for c in cs if c["kind"] == "status" and c["verdict"] == "improved"])
        ms = [c for c in cs if c["kind"] != "status" and c["verdict"] != "info"]
        s["metrics_compared"] = len(ms)
        s["metrics_regressed"] = len([c for c in ms if c["verdict"] == "regressed"])
        s["metrics_flagged"] = len([c for c in ms if c["verdict"] in ("regressed", "improved")])
        # the A/A false-positive rate: metrics only (a status change is no chance event)
        s["flagged_pct"] = (100.0 * s["metrics_flagged"] / s["metrics_compared"]
                            if s["metrics_compared"] else 0.0)
        tested = [c for c in cs if c["p"] is not None]
        s["tests"] = len(tested)
        s["expected_false_positives"] = round(len(tested) * st.alpha, 1)
        rep["summary"].append(s)
    rep["fail_on"] = _gate(rep, fail_on)
    kernels.build(rep, cols, keys, _status)
    return _jsonable(rep)


def _compare_pair(rep, name, rb, x, r, base, cols, pdiff, st, factor, tails_suspect):
    """Every metric and latency comparison of one case that passed in both
    the baseline (rb) and run r (x), appended to rep["comparisons"]."""
    tcg_note = None if _timing_comparable(base, r) else \
        "TCG vs native/KVM: timing not comparable"
    if pdiff and params_json(rb) != params_json(x):
        tcg_note = "; ".join(filter(None, [tcg_note, "parameters differ: " + ", ".join(
            "%s %s->%s" % (k, v[0], v[cols.index(r)]) for k, v in pdiff.items()
            if v[0] != v[cols.index(r)])]))
    for mname in sorted(set(rb["metrics"]) ^ set(x["metrics"])):
        rep["unmatched_metrics"].append({
            "case": name, "metric": mname, "run": r.label,
            "only_in": rep["baseline"] if mname in rb["metrics"] else r.label})
    head = kernels.headline(rb)
    for mname, mb in rb["metrics"].items():
        mn = x["metrics"].get(mname)
        if mn is None:
            continue
        if mn["unit"] != mb["unit"] or mn["direction"] != mb["direction"]:
            rep["unmatched_metrics"].append({
                "case": name, "metric": mname, "run": r.label,
                "only_in": "both, but %s %s vs %s %s" % (
                    mb["unit"], mb["direction"], mn["unit"], mn["direction"])})
            continue
        direction = mb["direction"]
        if head and head["source"] == "record" and head["metric"] == mname:
            direction = head["direction"]  # the workload's declaration wins
        c = compare_metric(mname, mb["unit"], direction, mb["samples"],
                           mn["samples"], st, (name, mname, r.label), factor)
        c.update(case=name, run=r.label)
        if tcg_note:
            c["notes"].insert(0, tcg_note)
        rep["comparisons"].append(c)
    for lname, hb in rb["latency"].items():
        hn = x["latency"].get(lname)
        if hn is None or (_hist_empty(hb) and _hist_empty(hn)):
            continue  # e.g. a mode that times no single fault
        for c in compare_latency(lname, hb, hn, st, (name, lname, r.label),
                                 factor, tails_suspect,
                                 _case_cv(rb, x)):
            c.update(case=name, run=r.label)
            if tcg_note:
                c["notes"].insert(0, tcg_note)
            rep["comparisons"].append(c)


def _case_cv(*recs):
    """The largest cv of the per-repetition performance metrics of a case
    in either run; None without any."""
    cvs = [stats.cv(m["samples"]) for r in recs for m in r["metrics"].values()
           if m.get("direction") in ("higher", "lower")]
    cvs = [v for v in cvs if v is not None]
    return max(cvs) if cvs else None


def _param_diff(recs):
    """{param: value per run} for the parameters that differ between the
    records of one case (matched by name); {} when all agree."""
    present = [r for r in recs if r is not None]
    if len({params_json(r) for r in present}) <= 1:
        return {}
    keys = sorted({k for r in present for k in (r.get("params") or {})})
    out = {}
    for k in keys:
        vals = [None if r is None else (r.get("params") or {}).get(k, "(absent)")
                for r in recs]
        if len({json.dumps(v) for v, r in zip(vals, recs) if r is not None}) > 1:
            out[k] = vals
    return out


def _hist_empty(h):
    return not h.get("buckets") and not h.get("overflow")


def _timing_comparable(a, b):
    """False when exactly one of the two ran under TCG (both known)."""
    ta, tb = a.accel, b.accel
    if not ta or not tb or "unknown" in (ta, tb):
        return True
    return (ta == "tcg") == (tb == "tcg")


def _behaviour(rep, name, recs):
    keys = []
    for x in recs:
        for k in (x or {}).get("details", {}):
            if (k.startswith("behaviour") or k.startswith("behavior")
                    or k.startswith("observed")) and k not in keys:
                keys.append(k)
    for k in keys:
        vals = [None if x is None else x["details"].get(k) for x in recs]
        vals = [v if v is None or isinstance(v, str) else json.dumps(v, sort_keys=True)
                for v in vals]
        rep["behaviour"].append({"case": name, "key": k, "values": vals,
                                 "differs": len(set(vals)) > 1})
    sts = [None if x is None else x["status"] for x in recs]
    if "skip" in sts:
        vals = [None if x is None else
                ("skip: " + (x.get("reason") or "?") if x["status"] == "skip" else x["status"])
                for x in recs]
        if len(set(vals)) > 1:
            rep["behaviour"].append({"case": name, "key": "skip reason", "values": vals,
                                     "differs": True})


def parse_fail_on(text):
    """'regression[:PCT]' or 'failure' -> the rule _gate takes; ValueError
    with the message otherwise."""
    kind, _, limit = text.partition(":")
    if kind == "regression":
        try:
            pct = float(limit) if limit else 0.0
        except ValueError:
            raise ValueError("PCT in regression:PCT must be a number, got %r" % limit) from None
        if pct < 0:
            raise ValueError("PCT must be >= 0")
        return ("regression", pct)
    if kind == "failure" and not limit:
        return ("failure", None)
    raise ValueError("expected regression[:PCT] or failure, got %r" % text)


def _gate(rep, fail_on):
    """--fail-on: ("regression", pct) and/or ("failure", None)."""
    res = {"rules": [], "triggered": []}
    for kind, limit in fail_on or []:
        res["rules"].append("%s:%g" % (kind, limit) if limit is not None else kind)
        if kind == "regression":
            incomparable = {s["run"] for s in rep["summary"] if not s["timing_comparable"]}
            for c in rep["comparisons"]:
                ch = c["change_pct"]
                if c["verdict"] == "regressed" and c["kind"] == "status":
                    # a case that no longer runs is a regression of any size
                    res["triggered"].append("regression %s on %s: %s (%s)"
                                            % (c["case"], c["run"], c["status_change"],
                                               "; ".join(c["notes"])))
                elif c["verdict"] == "regressed" and c["run"] in incomparable:
                    res.setdefault("ignored", []).append(
                        "%s %s on %s (TCG vs native)" % (c["case"], c["metric"], c["run"]))
                elif c["verdict"] == "regressed" and (ch is None or abs(ch) > (limit or 0)):
                    res["triggered"].append("regression %s %s on %s: %s"
                                            % (c["case"], c["metric"], c["run"],
                                               "%+.1f%%" % ch if ch is not None else "n/a"))
        elif kind == "failure":
            base = rep.get("baseline")
            for c in rep["correctness"]:
                if c["run"] != base:
                    res["triggered"].append("%s %s on %s" % (c["status"], c["case"], c["run"]))
    return res
