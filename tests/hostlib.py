"""Helpers shared by the Python tests (host, vm)."""
import json
import os
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
