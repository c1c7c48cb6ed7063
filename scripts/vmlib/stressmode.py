"""scripts/vm stress: one long `faultline stress` run in the guest (e.g. a
--kasan kernel under notifier-vs-pinned, numa-migrate, dax-populate and
cow-race).

The host fixes the seed before the boot (random when not given), so a run
that ends in a kernel panic, before faultline could write stress.json,
still has its reproducer.  WARN, KASAN and lockdep reports do not panic the
guest in this mode (no panic_on_warn): faultline stress sees them on
/dev/kmsg, stops, and writes stress.json with the perturbation history of
the last seconds; the host records the console excerpt beside it.  An oops,
a soft lockup or a hung task still panics the guest at once.
"""

import json
import random
import re
import shlex
from pathlib import Path

from .common import UsageError, log

# Kernel parameters of a stress boot: see the module docstring.
PANIC_ARGS = "oops=panic softlockup_panic=1 hung_task_panic=1 panic=1"

# How long past --duration the run may go, counted from the guest's `run
# faultline` line: faultline's own stop (60 s grace for a case process that
# does not stop, then stress.json) under a slow (TCG, KASAN) guest.  Past
# it the guest is killed and the run recorded as hung.
OVERRUN_S = 300

# A splat that did not panic: faultline stress stops within its 60 s grace
# and writes stress.json; give it that, the write and the power-off.
SPLAT_GRACE_S = 150

PROGRESS_RE = re.compile(r"^stress:\s+(\d+)s/(\d+)s (.*) ops; (\d+) "
                         r"perturbations; (\d+) checks ok")


def is_stress(a):
    """scripts/vm's options are those of a stress run."""
    return getattr(a, "cmd", "") == "stress"


def parse_duration(s):
    """faultline's duration syntax: 90, 90s, 10m, 1h."""
    m = re.match(r"^\s*(\d+(?:\.\d+)?)\s*([smh]?)\s*$", str(s))
    if not m:
        raise UsageError(f"--duration {s!r}: expected seconds or 30s, 10m, "
                         "1h")
    return float(m.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600}[
        m.group(2)]


def job_duration(job):
    """duration= of the job's [stress] section (faultline's default 60 s
    when there is none)."""
    sect = None
    for line in Path(job).read_text(errors="replace").splitlines():
        line = line.strip()
        if line.startswith("["):
            sect = line.strip("[]").strip()
        elif sect == "stress" and line.split("=", 1)[0].strip() == \
                "duration" and "=" in line:
            return line.split("=", 1)[1].strip()
    return "60"


def prepare(a, job):
    """Fix duration and seed before the boot; the guest's env entries."""
    dur = a.duration or job_duration(job)
    a.stress_s = parse_duration(dur)
    if a.seed is None:
        a.seed = random.SystemRandom().randrange(1, 10 ** 9)
    log(f"stress: seed {a.seed}, duration {a.stress_s:.0f} s, "
        f"suite {job.name}")
    return {"FL_MODE": "stress", "FL_DURATION": f"{a.stress_s:g}",
            "FL_SEED": str(a.seed)}


class Watch:
    """Stress progress seen on the console (the guest may die before it
    writes stress.json: the last line is what survives)."""

    def __init__(self):
        self.last = None
        self.started_at = None

    def feed(self, line):
        m = PROGRESS_RE.match(line)
        if not m:
            return None
        ops = {}
        for kv in m.group(3).split():
            k, _, v = kv.rpartition("=")
            if k and v.isdigit():
                ops[k] = int(v)
        self.last = {"elapsed_s": int(m.group(1)),
                     "duration_s": int(m.group(2)), "ops": ops,
                     "perturbations": int(m.group(4)),
                     "checks_ok": int(m.group(5))}
        return (f"stress {m.group(1)}/{m.group(2)} s: "
                f"{sum(ops.values())} ops, {m.group(4)} perturbations, "
                f"{m.group(5)} checks ok")


def reproducer(k, a, out, job):
    """The commands that run the same schedule again (on a guest set up the
    same way: the options that differ from their defaults come along)."""
    same = []
    for opt, val, default in (("--mem", a.mem, "8G"), ("--cpus", a.cpus, 2),
                              ("--pmem", a.pmem, "2G!4G"),
                              ("--fs", a.fs, "ext4")):
        if val != default:
            same += [opt, str(val)]
    for opt, on in (("--kasan", a.kasan and "+kasan" not in k.spec),
                    ("--devdax", a.devdax),
                    ("--numa-balancing", a.numa_balancing),
                    ("--test-hooks", a.test_hooks)):
        if on:
            same.append(opt)
    for kv in a.set:
        same += ["--set", kv]
    return {
        "seed": a.seed, "duration_s": a.stress_s,
        "scripts_vm": shlex.join(
            ["scripts/vm", "stress", "--kernel", k.spec, "--suite",
             str(out / "vm" / job.name), "--seed", str(a.seed),
             "--duration", f"{a.stress_s:g}"] + same),
        "guest": shlex.join(
            ["faultline", "stress", "--suite", job.name, "--seed",
             str(a.seed), "--duration", f"{a.stress_s:g}", "--set",
             "dax_dir=/mnt/pmem"]),
    }


def conclude(k, a, out, job, boot, why):
    """After the (single) stress boot: the stress section of vm.json and a
    record for a splat faultline could not record itself."""
    sj = None
    try:
        sj = json.loads((out / "stress.json").read_text())
    except (OSError, ValueError):
        pass
    st = {"seed": a.seed, "duration_s": a.stress_s, "suite": job.name,
          "boot_end": why, "faultline_exit": boot.status.get(
              "faultline_exit"), "last_progress": boot.stress.last,
          "reproducer": reproducer(k, a, out, job)}
    if sj:
        # faultline's own job of the run (seed and duration in it)
        st["reproducer"]["stress_job"] = str(out / "stress.job")
        st["faultline_result"] = sj.get("result")
        st["elapsed_s"] = sj.get("elapsed_s")
        st["workloads"] = [{x: w.get(x) for x in
                            ("key", "case", "status", "reason", "ops",
                             "checks", "verifies", "degraded_checks")}
                           for w in sj.get("workloads", [])]
        st["perturbers"] = {p: {"count": v.get("count"),
                                "errors": v.get("errors"),
                                **{x: v[x] for x in
                                   ("last_error", "elsewhere", "skip")
                                   if x in v}}
                            for p, v in sj.get("perturbers", {}).items()}
        if sj.get("failure"):
            f = sj["failure"]
            st["failure"] = {x: f.get(x) for x in
                             ("kind", "workload", "case", "t_s", "where")}
    if boot.splats:
        s = boot.splats[0]
        from .console import headline
        st["splat"] = {"headline": headline(s["lines"]).strip(),
                       "at_s": s["at"], "lines": s["lines"]}
    # Outcome: a kernel splat or a dead guest first, then faultline's word.
    if boot.splats:
        st["result"] = "splat"
    elif why == "hung":
        st["result"] = "hung"
    elif not boot.done:
        st["result"] = f"guest ended without finishing ({why})"
    elif not sj:
        st["result"] = "no stress.json (see vm/stress-output.txt)"
    else:
        st["result"] = sj.get("result", "?")
    if (boot.splats or why == "hung" or not boot.done) and not (
            sj and (sj.get("failure") or {}).get("kind") == "kernel-splat"):
        record(out, st)
    return st


def record(out, st):
    """One `error` record in results.jsonl for what faultline could not
    record: the splat excerpt (or the hang) with the reproducer."""
    sp = st.get("splat")
    reason = (f"kernel splat during the stress run: {sp['headline']}" if sp
              else f"stress run ended: {st['result']}")
    rec = {"schema": "faultline.record/1", "case": f"stress/{st['suite']}",
           "workload": "stress", "backing": None, "status": "error",
           "reason": reason, "mode": "stress",
           "kernel_log": sp["lines"] if sp else [],
           "params": {"seed": st["seed"], "duration_s": st["duration_s"]},
           "metrics": {}, "latency": {},
           "details": {"vm": "recorded by scripts/vm stress",
                       "last_progress": st["last_progress"],
                       "reproducer": st["reproducer"]}}
    if st["result"] == "hung":
        rec["hung"] = True
    with open(out / "results.jsonl", "a") as fh:
        fh.write(json.dumps(rec) + "\n")


def print_summary(st):
    print(f"stress: result {st['result']} (seed {st['seed']}, "
          f"{st['duration_s']:g} s asked, "
          f"{st.get('elapsed_s') or 0:.0f} s run)")
    for w in st.get("workloads", []):
        print(f"  {w['status']:5s} {w['key']:32s} ops={w['ops']} "
              f"checks={w['checks']} sweeps={w['verifies']}"
              + (f"  {w['reason'][:90]}" if w.get("reason") else ""))
    p = st.get("perturbers") or {}
    if p:
        print("  perturbations: " + ", ".join(
            f"{n}={v['count']}"
            + (f" ({v['errors']} errors, last {v.get('last_error', '?')})"
               if v.get("errors") else "")
            + (f" ({v['elsewhere']} elsewhere)" if v.get("elsewhere") else "")
            for n, v in p.items() if v.get("count")))
        for n, v in p.items():
            if v.get("skip"):
                print(f"  perturber {n} skipped: {v['skip']}")
    elif st.get("last_progress"):
        lp = st["last_progress"]
        print(f"  last progress at {lp['elapsed_s']} s: "
              f"{sum(lp['ops'].values())} ops, {lp['perturbations']} "
              f"perturbations, {lp['checks_ok']} checks ok")
    if st.get("failure"):
        f = st["failure"]
        print(f"  failure: {f['kind']} in {f.get('workload') or 'the kernel'} at "
              f"{f.get('t_s')} s: {(f.get('where') or '')[:160]}")
    if st.get("splat"):
        print(f"  kernel splat at {st['splat']['at_s']} s into the boot: "
              f"{st['splat']['headline'][:160]}")
    r = st["reproducer"]
    print(f"  reproducer: {r['scripts_vm']}")
