"""fault-scale against will-it-scale's page_fault1, the test it reproduces
(`make bench`, or `tests/run.py bench:test_page_fault1`).

will-it-scale is not part of faultline: build it outside the tree
(https://github.com/antonblanchard/will-it-scale, `make`) and point
FAULTLINE_WILL_IT_SCALE at its directory.  Both run one process on CPU 0,
in alternating rounds so that a neighbour's load lands on both sides; the
kernel's own pgfault counter (/proc/vmstat) over each side's measured
time says whether the two loops take faults at the same rate."""
import os
import re
import statistics
import subprocess
import tempfile
import time

from hostlib import FAULTLINE, ROOT, Skip, read_records

ROUNDS = 6
SECONDS = 6


def _pgfault():
    with open("/proc/vmstat") as f:
        for line in f:
            if line.startswith("pgfault "):
                return int(line.split()[1])
    raise AssertionError("/proc/vmstat has no pgfault")


def _will_it_scale(binary):
    """page_fault1_processes -t 1: its average ops/s, and pgfault/s over
    its run (it runs SECONDS plus a second of warm-up)."""
    f0, t0 = _pgfault(), time.monotonic()
    p = subprocess.run(["taskset", "-c", "0", binary, "-t", "1", "-s", str(SECONDS)],
                       capture_output=True, text=True, timeout=120)
    f1, t1 = _pgfault(), time.monotonic()
    m = re.search(r"^average:(\d+)", p.stdout, re.M)
    assert p.returncode == 0 and m, f"{binary}: exit {p.returncode}\n{p.stdout[-500:]}{p.stderr[-500:]}"
    return int(m.group(1)), (f1 - f0) / (t1 - t0)


def _fault_scale():
    """fault-scale, one process on CPU 0: median ops/s, and pgfault/s over
    its measured repetitions (the record's per-repetition vmstat deltas)."""
    out = tempfile.mkdtemp(prefix="fl-bench-")
    p = subprocess.run([FAULTLINE, "run", "fault-scale", "--threads", "1", "--cpus", "0",
                        "--set", "workers=processes", "--repeat", str(SECONDS - 1),
                        "--out", out], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert p.returncode == 0, p.stderr[-1500:]
    (rec,) = read_records(out)
    deltas = rec["kernel_counters"]["vmstat"]["pgfault"]
    # A sampled workload's repetition is one interval (1 s by default).
    return rec["metrics"]["ops_rate"]["median"], statistics.median(deltas) / 1.0


def test_fault_scale_matches_page_fault1():
    wis = os.environ.get("FAULTLINE_WILL_IT_SCALE")
    binary = os.path.join(wis or "", "page_fault1_processes")
    if not wis or not os.access(binary, os.X_OK):
        raise Skip("FAULTLINE_WILL_IT_SCALE does not name a will-it-scale build "
                   "with page_fault1_processes")
    w_ops, w_pf, f_ops, f_pf = [], [], [], []
    for _ in range(ROUNDS):
        ops, pf = _will_it_scale(binary)
        w_ops.append(ops)
        w_pf.append(pf)
        ops, pf = _fault_scale()
        f_ops.append(ops)
        f_pf.append(pf)
    ops_ratio = statistics.median(f_ops) / statistics.median(w_ops)
    pf_ratio = statistics.median(f_pf) / statistics.median(w_pf)
    note = (f"{ROUNDS} alternating rounds on CPU 0: page_fault1 {[round(x) for x in w_ops]} "
            f"vs fault-scale {[round(x) for x in f_ops]} ops/s, ratio of medians "
            f"{ops_ratio:.3f}; pgfault/s page_fault1 {[round(x) for x in w_pf]} vs fault-scale "
            f"{[round(x) for x in f_pf]}, ratio of medians {pf_ratio:.3f}")
    assert 0.97 <= ops_ratio <= 1.03 and 0.97 <= pf_ratio <= 1.03, note
    return note
