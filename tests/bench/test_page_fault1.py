"""fault-scale against will-it-scale's page_fault1, the test it reproduces
(`make bench`, or `tests/run.py bench:test_page_fault1`).

will-it-scale is not part of faultline: build it outside the tree
(https://github.com/antonblanchard/will-it-scale, `make`) and point
FAULTLINE_WILL_IT_SCALE at its directory.  Both run one process on CPU 0,
in alternating rounds (FAULTLINE_PF1_ROUNDS, default 6) so that a
neighbour's load lands on both sides.

Both sides' fault rates are read over the window their ops figure covers:
page_fault1's from its "measurement" line to the last per-second line
read while its worker lived (the seconds its average is made of, not its
start and warm-up), fault-scale's over each measured repetition.  Each side gives two figures: the system's pgfault
(/proc/vmstat) over that window, and the faults of the process that
touched the pages (page_fault1's child: minflt in /proc/PID/stat;
fault-scale's worker: its perf page-fault count).  The second is immune to
a neighbour's faults, so it is the one held to 3%."""
import os
import statistics
import subprocess
import tempfile
import time

from hostlib import FAULTLINE, ROOT, Skip, read_records

ROUNDS = int(os.environ.get("FAULTLINE_PF1_ROUNDS", "6"))
SECONDS = 6


def _pgfault():
    with open("/proc/vmstat") as f:
        for line in f:
            if line.startswith("pgfault "):
                return int(line.split()[1])
    raise AssertionError("/proc/vmstat has no pgfault")


def _stat(pid):
    """/proc/PID/stat's fields after the command name (state is [0])."""
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()


def _children(pid):
    """PIDs whose parent is pid (the kernel may lack /proc/PID/task/*/children)."""
    kids = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                fields = _stat(name)
            except OSError:
                continue
            if int(fields[1]) == pid:
                kids.append(int(name))
    return kids


def _minflt(pids):
    return sum(int(_stat(pid)[7]) for pid in pids)


def _will_it_scale(binary):
    """page_fault1_processes -t 1 over its measured seconds: ops/s, the
    system's pgfault/s, and its worker's own faults/s.  Each per-second line
    is sampled as it is read; the window runs from the "measurement" line to
    the last line read while the worker still lived (will-it-scale kills it
    right after printing its average)."""
    p = subprocess.Popen(["stdbuf", "-oL", "taskset", "-c", "0", binary, "-t", "1",
                          "-s", str(SECONDS)], stdout=subprocess.PIPE, text=True)
    points, lines, workers, ops = [], [], [], 0
    for line in p.stdout:
        lines.append(line)
        if line.startswith("measurement"):
            workers = _children(p.pid)
        elif not workers or not line.startswith("min:"):
            continue
        if points:
            ops += int(line.rsplit("total:", 1)[1])
        try:
            points.append((time.monotonic(), _pgfault(), _minflt(workers), ops))
        except OSError:
            break
    p.stdout.read()
    p.wait(timeout=60)
    assert p.returncode == 0 and len(points) > 2, f"{binary}: exit {p.returncode}\n{''.join(lines)[-500:]}"
    (t0, f0, m0, o0), (t1, f1, m1, o1) = points[0], points[-1]
    return (o1 - o0) / (t1 - t0), (f1 - f0) / (t1 - t0), (m1 - m0) / (t1 - t0)


def _fault_scale():
    """fault-scale, one process on CPU 0, medians over its measured
    repetitions: ops/s, the system's pgfault/s, the worker's own faults/s."""
    out = tempfile.mkdtemp(prefix="fl-bench-")
    p = subprocess.run([FAULTLINE, "run", "fault-scale", "--threads", "1", "--cpus", "0",
                        "--set", "workers=processes", "--repeat", str(SECONDS - 1),
                        "--out", out], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert p.returncode == 0, p.stderr[-1500:]
    (rec,) = read_records(out)
    rates = rec["metrics"]["ops_rate"]["samples"]
    # Faults per op of each repetition times that repetition's ops/s: the
    # repetition's fault rate over its own timed region.
    per_op = rec["metrics"]["pgfault/fault"]["samples"]
    own_per_op = rec["metrics"]["worker_page_faults/fault"]["samples"]
    return (statistics.median(rates),
            statistics.median(r * f for r, f in zip(rates, per_op)),
            statistics.median(r * f for r, f in zip(rates, own_per_op)))


def _show(xs):
    return "[" + " ".join(f"{x / 1000:.1f}k" for x in xs) + "]"


def test_fault_scale_matches_page_fault1():
    wis = os.environ.get("FAULTLINE_WILL_IT_SCALE")
    binary = os.path.join(wis or "", "page_fault1_processes")
    if not wis or not os.access(binary, os.X_OK):
        raise Skip("FAULTLINE_WILL_IT_SCALE does not name a will-it-scale build "
                   "with page_fault1_processes")
    sides = {"page_fault1": ([], [], []), "fault-scale": ([], [], [])}
    for _ in range(ROUNDS):
        for name, run in (("page_fault1", lambda: _will_it_scale(binary)),
                          ("fault-scale", _fault_scale)):
            for series, value in zip(sides[name], run()):
                series.append(value)
    med = {name: [statistics.median(s) for s in series] for name, series in sides.items()}
    ratios = [f / w for f, w in zip(med["fault-scale"], med["page_fault1"])]
    lines = [f"{ROUNDS} alternating rounds on CPU 0, medians (fault-scale / page_fault1): "
             f"ops/s {ratios[0]:.3f}, system pgfault/s {ratios[1]:.3f}, "
             f"own faults/s {ratios[2]:.3f}"]
    for name, (ops, pf, own) in sides.items():
        lines.append(f"{name}: ops/s {_show(ops)} pgfault/s {_show(pf)} own faults/s {_show(own)}")
    note = "\n".join(lines)
    assert 0.97 <= ratios[0] <= 1.03 and 0.97 <= ratios[2] <= 1.03, note
    return note
