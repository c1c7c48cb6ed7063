"""Harness fidelity on the running kernel: populate against a minimal C loop
(issue 2, check 3) and the cost of the harness itself (check 5).  These are
ratios taken in one run, interleaved, so machine noise hits both sides."""
import os
import statistics
import subprocess

from hostlib import ROOT, Skip, metric, run_cases, thp_mode

ROUNDS = 6


def _build_loop():
    src = os.path.join(ROOT, "tests/host/thp_touch_loop.c")
    out = os.path.join(ROOT, "build/tests/thp_touch_loop")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    subprocess.run(["cc", "-O2", "-o", out, src], check=True)
    return out


def test_thp_first_touch_vs_minimal_loop():
    if thp_mode() not in ("madvise", "always"):
        raise Skip(f"THP mode is {thp_mode()}: no THP to compare")
    loop = _build_loop()
    # Both on the same CPU, alternating rounds: on a shared machine the load
    # on one CPU moves the figure by tens of percent.
    cpu = str(min(os.sched_getaffinity(0)))
    ref, ours = [], []
    for _ in range(ROUNDS):
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
    assert best >= 0.95, note
    return note


def test_harness_overhead_below_one_percent_of_a_page():
    """null has populate's shape and does nothing: its ns/page is what the
    harness adds inside the timed region."""
    recs, _, _ = run_cases("null", "--set", "size=256M", "--repeat", "20", "--warmup", "2")
    null_ns = metric(recs[0], "time_per_op")
    # Informational: the whole case (fork, barriers, record) spread over its pages.
    whole_ns = recs[0]["elapsed_s"] * 1e9 / (22 * (256 << 20) / 4096)
    recs, _, _ = run_cases("populate", "--backing", "anon-4k", "--set", "size=256M",
                           "--set", "mode=first-touch", "--repeat", "5")
    page_ns = metric(recs[0], "time_per_op")
    ratio = null_ns / page_ns
    note = (f"harness {null_ns:.5f} ns/page in the timed region vs populate anon-4k "
            f"{page_ns:.1f} ns/page = {100 * ratio:.4f}%; whole case incl. fork and barriers "
            f"{whole_ns:.2f} ns/page = {100 * whole_ns / page_ns:.3f}%")
    assert ratio <= 0.01, note
    return note
