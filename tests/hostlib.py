"""Helpers shared by the Python tests (host, vm)."""
import json
import os
import statistics
import subprocess
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FAULTLINE = os.path.join(ROOT, "build", "faultline")


class Skip(Exception):
    """Raised by a test that cannot run here; the message says why."""


def read_records(outdir):
    """Every complete line of results.jsonl, parsed."""
    recs = []
    with open(os.path.join(outdir, "results.jsonl")) as f:
        for line in f:
            if line.endswith("\n"):
                recs.append(json.loads(line))
    return recs


def read_run(outdir):
    with open(os.path.join(outdir, "run.json")) as f:
        return json.load(f)


def faultline(*args, timeout=900, check=True):
    """Run build/faultline; returns (CompletedProcess, outdir or None)."""
    p = subprocess.run([FAULTLINE, *args], capture_output=True, text=True, timeout=timeout,
                       cwd=ROOT)
    if check and p.returncode != 0:
        raise AssertionError(f"faultline {' '.join(args)}: exit {p.returncode}\n{p.stderr[-2000:]}")
    return p


def run_cases(*args, timeout=900, expect_exit=0):
    """faultline run ARGS --out TMP; returns (records, run.json, stdout)."""
    out = tempfile.mkdtemp(prefix="fl-test-")
    p = faultline("run", *args, "--out", out, timeout=timeout, check=False)
    if p.returncode != expect_exit:
        bad = []
        if os.path.exists(os.path.join(out, "results.jsonl")):
            bad = [f"{r['case']}: {r['status']}: {r['reason']}" for r in read_records(out)
                   if r["status"] in ("fail", "error")]
        raise AssertionError(f"faultline run {' '.join(args)}: exit {p.returncode}, "
                             f"want {expect_exit}\n" + "\n".join(bad) +
                             f"\n{p.stderr[-1500:]}")
    return read_records(out), read_run(out), p.stdout


def metric(rec, name):
    return rec["metrics"][name]["median"]


def thp_mode():
    try:
        with open("/sys/kernel/mm/transparent_hugepage/enabled") as f:
            return f.read().split("[")[1].split("]")[0]
    except (OSError, IndexError):
        return None


ROUNDS_FIDELITY = 6


def _build_loop():
    src = os.path.join(ROOT, "tests/host/thp_touch_loop.c")
    out = os.path.join(ROOT, "build/tests/thp_touch_loop")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    subprocess.run(["cc", "-O2", "-o", out, src], check=True)
    return out


def thp_first_touch_vs_minimal_loop(rounds=ROUNDS_FIDELITY):
    """populate thp first-touch against tests/host/thp_touch_loop.c, same CPU,
    alternating rounds: (best ratio, median ratio, note).  Skip without THP."""
    if thp_mode() not in ("madvise", "always"):
        raise Skip(f"THP mode is {thp_mode()}: no THP to compare")
    loop = _build_loop()
    # Both on the same CPU, alternating rounds: on a shared machine the load
    # on one CPU moves the figure by tens of percent.
    cpu = str(min(os.sched_getaffinity(0)))
    ref, ours = [], []
    for _ in range(rounds):
        p = subprocess.run(["taskset", "-c", cpu, loop, "256", "1", "3"], capture_output=True,
                           text=True, check=True)
        ref += [float(x) for x in p.stdout.split()]
        recs, run, _ = run_cases("populate", "--backing", "thp", "--set", "size=256M",
                                 "--set", "mode=first-touch", "--repeat", "3", "--warmup", "1",
                                 "--cpus", cpu)
        if recs[0]["status"] == "skip":
            raise Skip(recs[0]["reason"])
        assert recs[0]["status"] == "pass", recs[0]["reason"]
        ours += recs[0]["metrics"]["throughput"]["samples"]
        memset = run["calibration"]["memset_GBps"]
    # Interference from other tenants only ever slows a sample down, so the
    # best sample of each side is its interference-free estimate (lmbench
    # reports minimum times for the same reason); the medians are reported.
    best = max(ours) / max(ref)
    med = statistics.median(ours) / statistics.median(ref)
    note = (f"best {max(ours):.2f} vs {max(ref):.2f} GB/s = {best:.3f}, median "
            f"{statistics.median(ours):.2f} vs {statistics.median(ref):.2f} GB/s = {med:.3f} "
            f"over {len(ours)}+{len(ref)} samples; memset reference {memset:.2f} GB/s")
    return best, med, note
