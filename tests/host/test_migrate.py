"""Host integration: numa-migrate and device-migrate.

On a one-node host (the development machines) numa-migrate must be skip
"needs 2 NUMA nodes, found 1" and nothing else in the suite may change; on
a two-node machine (the kernel matrix guests) the small cases must pass with
per-direction figures.  device-migrate is skip everywhere its driver feature
is absent, with the driver's reason.
"""
import os

from hostlib import ROOT, Skip, faultline, run_cases, thp_mode

JOB = os.path.join(ROOT, "workloads/suites/migrate.job")


def numa_nodes():
    """Nodes with memory, as libnuma counts them (sysfs has_memory)."""
    try:
        with open("/sys/devices/system/node/has_memory") as f:
            spec = f.read().strip()
    except OSError:
        return 1
    n = 0
    for part in spec.split(","):
        lo, _, hi = part.partition("-")
        n += int(hi or lo) - int(lo) + 1
    return n


def test_migrate_job_on_this_host():
    """migrate.job runs to completion here; every record has a status and
    every non-pass a reason; on one node every numa-migrate case is skip
    with the exact reason and nothing is fail or error."""
    recs, run, _ = run_cases(JOB, "--repeat", "2", timeout=1800)
    assert run["complete"] is True and run["exit_status"] == 0, run.get("exit_status")
    wls = {r["workload"] for r in recs}
    assert wls == {"numa-migrate", "device-migrate"}, wls
    for r in recs:
        assert r["status"] in ("pass", "skip"), (r["case"], r["status"], r["reason"])
        if r["status"] != "pass":
            assert r["reason"].strip(), r["case"]
    nodes = numa_nodes()
    if nodes < 2:
        for r in recs:
            if r["workload"] == "numa-migrate":
                assert r["status"] == "skip" and r["reason"].startswith(
                    "needs 2 NUMA nodes, found 1"), (r["case"], r["reason"])
    dev = [r for r in recs if r["workload"] == "device-migrate"]
    assert dev and all(r["status"] == "skip" for r in dev), [r["reason"] for r in dev]
    return f"{len(recs)} records on {nodes} node(s): " + "; ".join(
        sorted({f"{r['workload']}={r['status']}: {r['reason'][:60]}" for r in recs}))


def test_one_node_skip_leaves_other_workloads_alone():
    """With one node only numa-migrate skips; populate in the same
    run still passes."""
    if numa_nodes() >= 2:
        raise Skip(f"this host has {numa_nodes()} NUMA nodes; the one-node skip is not reachable")
    recs, run, _ = run_cases("numa-migrate", "populate", "--backing", "anon-4k",
                             "--repeat", "2", "--set", "size=16M")
    by = {r["workload"]: r for r in recs}
    assert by["numa-migrate"]["status"] == "skip", by["numa-migrate"]
    assert by["numa-migrate"]["reason"].startswith("needs 2 NUMA nodes, found 1"), by["numa-migrate"]["reason"]
    assert by["populate"]["status"] == "pass", by["populate"]["reason"]
    assert "numa-migrate" in faultline("list").stdout


def test_option_errors_are_skips_with_reasons():
    """Inconsistent options are a skip naming the conflict, not a crash (on
    one node the node check answers first, which is also a reason)."""
    recs, _, _ = run_cases("numa-migrate", "--backing", "anon-4k", "--repeat", "1",
                           "--set", "size=1M", "--set", "hold=pin", "--set", "hold_len=2M")
    assert recs[0]["status"] == "skip" and recs[0]["reason"], recs[0]
    want = "hold_len is larger than size" if numa_nodes() >= 2 else "needs 2 NUMA nodes"
    assert want in recs[0]["reason"], recs[0]["reason"]


def test_two_nodes_thp_moves_faster_per_byte():
    """On a two-node machine: 4K and THP pass with per-direction GB/s
    and ns/folio, and THP moves more bytes per second than a 4 KiB range of
    the same size moved in the same batches (pair=4k: a same-moment ratio,
    which host noise cannot tilt the way it tilts one case against another)."""
    if numa_nodes() < 2:
        raise Skip(f"needs 2 NUMA nodes, found {numa_nodes()} (runs in the kernel matrix: scripts/vm run --suite workloads/suites/migrate.job)")
    if thp_mode() not in ("madvise", "always"):
        raise Skip(f"transparent_hugepage is {thp_mode()}")
    recs, _, _ = run_cases("numa-migrate", "--backing", "anon-4k,thp", "--repeat", "6",
                           "--set", "size=16M", "--set", "granule=folio", timeout=1800)
    pair, _, _ = run_cases("numa-migrate", "--backing", "thp", "--repeat", "8", "--set", "size=16M",
                           "--set", "granule=folio", "--set", "pair=4k", timeout=1800)
    for r in recs + pair:
        if r["status"] == "skip":
            raise Skip(f"{r['case']}: {r['reason']}")
        assert r["status"] == "pass", (r["case"], r["reason"])
        for m in ("a_to_b_GBps", "b_to_a_GBps", "a_to_b_folio_ns", "b_to_a_folio_ns"):
            assert r["metrics"][m]["median"] > 0, (r["case"], m)
    ratio = pair[0]["metrics"]["thp_speedup_per_byte"]["median"]
    assert ratio > 1, f"THP moves {ratio:.2f}x the bytes per second of 4 KiB folios"
    return f"THP/4K per-byte migration ratio {ratio:.2f} (same batches)"
