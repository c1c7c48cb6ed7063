"""scripts/hmm-agree on made-up folders: pass/pass agrees, a one-sided
failure or an errno mismatch disagrees (exit 1), hmm-tests skips are not
compared, and a folder where nothing could be compared (no hmm-tests TAP,
no records, every peer n/a) exits 2, never 0.  benchmark_thp_migration's
tables are read and set beside device-migrate's ioctl GB/s of the same
pages and size."""
import gzip
import json
import os
import subprocess
import tempfile

from hostlib import ROOT

TAP = """TAP version 13
1..4
# Starting 4 tests from 2 test cases.
#  RUN           hmm.hmm_device_private.exclusive ...
#            OK  hmm.hmm_device_private.exclusive
ok 1 hmm.hmm_device_private.exclusive
#  RUN           hmm.hmm_device_private.exclusive_cow ...
# hmm-tests.c:1925:exclusive_cow:Expected 0 (0) == ret (-16)
# exclusive_cow: Test terminated by assertion
#          FAIL  hmm.hmm_device_private.exclusive_cow
not ok 2 hmm.hmm_device_private.exclusive_cow
#  RUN           hmm.hmm_device_coherent.exclusive ...
#      SKIP      DEVICE_COHERENT not available
ok 3 hmm.hmm_device_coherent.exclusive # SKIP DEVICE_COHERENT not available
#  RUN           hmm.hmm_device_private.exclusive_mprotect ...
ok 4 hmm.hmm_device_private.exclusive_mprotect
"""


def rec(case, status, peer, reason="", errno=None):
    d = {"hmm_tests": peer}
    if errno:
        d["errno"] = errno
    return {"case": case, "status": status, "reason": reason, "details": d}


def agree(recs, tap=TAP, gz=False):
    with tempfile.TemporaryDirectory() as d:
        os.mkdir(os.path.join(d, "selftests"))
        if tap is not None:
            with open(os.path.join(d, "selftests", "hmm-tests.tap"), "w") as f:
                f.write(tap)
        text = "".join(json.dumps(r) + "\n" for r in recs)
        if gz:
            with gzip.open(os.path.join(d, "results.jsonl.gz"), "wt") as f:
                f.write(text)
        else:
            with open(os.path.join(d, "results.jsonl"), "w") as f:
                f.write(text)
        p = subprocess.run([os.path.join(ROOT, "scripts/hmm-agree"), d, "--json"],
                           capture_output=True, text=True, timeout=60)
        return p.returncode, json.loads(p.stdout)["pairs"] if p.stdout.strip() else []


def agree_stderr(recs, tap=TAP):
    """(exit status, stderr) of hmm-agree on a folder of RECS and TAP."""
    with tempfile.TemporaryDirectory() as d:
        os.mkdir(os.path.join(d, "selftests"))
        with open(os.path.join(d, "selftests", "hmm-tests.tap"), "w") as f:
            f.write(tap)
        with open(os.path.join(d, "results.jsonl"), "w") as f:
            f.writelines(json.dumps(r) + "\n" for r in recs)
        p = subprocess.run([os.path.join(ROOT, "scripts/hmm-agree"), d],
                           capture_output=True, text=True, timeout=60)
        return p.returncode, p.stderr


def test_hmm_agree_verdicts():
    p = "hmm.hmm_device_private."
    rc, rows = agree([rec("x/exclusive", "pass", p + "exclusive"),
                      rec("x/cow", "fail", p + "exclusive_cow", "make_device_exclusive: EBUSY", "EBUSY"),
                      rec("x/coherent", "pass", "hmm.hmm_device_coherent.exclusive")])
    assert rc == 0, rows
    v = {r["case"]: r["verdict"] for r in rows}
    assert v == {"x/exclusive": "agree", "x/cow": "agree", "x/coherent": "n/a"}, v
    assert rows[1]["hmm_errno"] == "EBUSY", rows[1]

    rc, rows = agree([rec("x/cow", "fail", p + "exclusive_cow", "EFAULT", "EFAULT")])
    assert rc == 1 and rows[0]["verdict"] == "DISAGREE", rows
    rc, rows = agree([rec("x/cow", "pass", p + "exclusive_cow")])
    assert rc == 1 and rows[0]["verdict"] == "DISAGREE", rows
    rc, rows = agree([rec("x/mp", "skip", p + "exclusive_mprotect", "no /dev/faultline")])
    assert rc == 1 and rows[0]["verdict"] == "DISAGREE", rows
    rc, rows = agree([rec("x/m", "pass", p + "migrate_anon_huge_empty"),
                      rec("x/e", "pass", p + "exclusive")])
    assert rc == 0 and [r["verdict"] for r in rows] == ["n/a", "agree"], rows
    rc, _ = agree([rec("x/exclusive", "pass", p + "exclusive")], tap=None)
    assert rc == 2
    return "agree/DISAGREE/n-a and exit codes as documented"


def test_hmm_agree_nothing_compared_is_not_a_pass():
    p = "hmm.hmm_device_private."
    # Every peer n/a (no such case, or hmm-tests skipped it): 0 of 0 agree.
    rc, rows = agree([rec("x/m", "pass", p + "migrate_anon_huge_empty"),
                      rec("x/c", "pass", "hmm.hmm_device_coherent.exclusive")])
    assert rc == 2 and [r["verdict"] for r in rows] == ["n/a", "n/a"], (rc, rows)
    rc, err = agree_stderr([rec("x/m", "pass", p + "migrate_anon_huge_empty")])
    assert rc == 2 and "nothing compared" in err, (rc, err)
    # Records without a peer, and an empty results.jsonl.
    rc, err = agree_stderr([{"case": "x/y", "status": "pass", "details": {}}])
    assert rc == 2 and "names an hmm-tests peer" in err, (rc, err)
    rc, err = agree_stderr([])
    assert rc == 2 and "names an hmm-tests peer" in err, (rc, err)
    # An empty folder.
    with tempfile.TemporaryDirectory() as d:
        q = subprocess.run([os.path.join(ROOT, "scripts/hmm-agree"), d],
                           capture_output=True, text=True, timeout=60)
    assert q.returncode == 2 and "need" in q.stderr, (q.returncode, q.stderr)
    return "all n/a, no peer, empty results and an empty folder exit 2"


BENCH_TAP = """TAP version 13
1..2
#  RUN           hmm.hmm_device_private.benchmark_thp_migration ...

HMM THP Migration Benchmark
---------------------------
System page size: 4096 bytes

=== Small Buffer (0.5 MB) ===
                     | With THP        | Without THP     | Improvement
---------------------------------------------------------------------
Sys->Dev Migration   | 2.000 ms        | 2.500 ms        | 20.0%
Dev->Sys Migration   | 1.000 ms        | 1.250 ms        | 20.0%
S->D Throughput      | 0.24 GB/s      | 0.20 GB/s      | 25.0%
D->S Throughput      | 0.49 GB/s      | 0.39 GB/s      | 25.0%

=== Single THP Size (2.0 MB) ===
                     | With THP        | Without THP     | Improvement
---------------------------------------------------------------------
Sys->Dev Migration   | 4.000 ms        | 8.000 ms        | 50.0%
Dev->Sys Migration   | 2.000 ms        | 4.000 ms        | 50.0%
S->D Throughput      | 0.49 GB/s      | 0.24 GB/s      | 100.0%
D->S Throughput      | 0.98 GB/s      | 0.49 GB/s      | 100.0%
#            OK  hmm.hmm_device_private.benchmark_thp_migration
ok 1 hmm.hmm_device_private.benchmark_thp_migration
#  RUN           hmm.hmm_device_private.migrate ...
ok 2 hmm.hmm_device_private.migrate
"""


def bench_rec(size, pages, to_dev, to_sys):
    r = rec(f"device-migrate/{pages}/size={size}", "pass", "hmm.hmm_device_private.migrate")
    r["details"].update(hmm_bench="hmm.hmm_device_private.benchmark_thp_migration",
                        hmm_bench_pages=pages)
    r["params"] = {"size": size}
    r["metrics"] = {"to_device_ioctl_GBps": {"median": to_dev},
                    "to_system_ioctl_GBps": {"median": to_sys}}
    return r


def gbps(recs, tap=BENCH_TAP, *extra):
    with tempfile.TemporaryDirectory() as d:
        os.mkdir(os.path.join(d, "selftests"))
        with open(os.path.join(d, "selftests", "hmm-tests.tap"), "w") as f:
            f.write(tap)
        with open(os.path.join(d, "results.jsonl"), "w") as f:
            f.writelines(json.dumps(r) + "\n" for r in recs)
        p = subprocess.run([os.path.join(ROOT, "scripts/hmm-agree"), d, "--json", *extra],
                           capture_output=True, text=True, timeout=60)
        return p.returncode, json.loads(p.stdout)["gbps"]


def test_hmm_agree_benchmark_gbps():
    # 2 MiB in 8 ms (4k column) is 0.262 GB/s (10^9 B/s, not the GiB/s it prints).
    rc, rows = gbps([bench_rec("2M", "4k", 0.262, 0.40), bench_rec("2M", "thp", 0.30, 1.05),
                     bench_rec("8M", "4k", 0.3, 0.3)])
    assert rc == 0, rows
    g = {(r["pages"], r["bytes"], r["direction"]): r for r in rows}
    assert abs(g[("4k", 2 << 20, "to_device")]["hmm_GBps"] - 0.2621) < 1e-3, g
    assert g[("4k", 2 << 20, "to_device")]["band"] == "in", g
    assert g[("4k", 2 << 20, "to_system")]["band"] == "OUT", g    # 0.40 / 0.524
    assert abs(g[("thp", 2 << 20, "to_system")]["ratio"] - 1.05 / 1.0486) < 1e-3, g
    assert g[("thp", 2 << 20, "to_device")]["band"] == "OUT", g   # 0.30 / 0.524
    assert g[("4k", 8 << 20, "to_device")]["band"] == "n/a", g    # no 8 MB table
    # An OUT ratio fails only when asked to.
    rc, _ = gbps([bench_rec("2M", "thp", 0.30, 1.05)], BENCH_TAP, "--fail-outside-band")
    assert rc == 1
    rc, _ = gbps([bench_rec("2M", "thp", 0.30, 1.05)], BENCH_TAP, "--band", "0.5,1.1",
                 "--fail-outside-band")
    assert rc == 0
    # No table (an hmm-tests without the benchmark): nothing is in band.
    rc, rows = gbps([bench_rec("2M", "4k", 0.262, 0.40)], TAP.replace("exclusive", "migrate"))
    assert [r["band"] for r in rows] == ["n/a", "n/a"], rows
    return "tables parsed per size and column, ratios banded, --fail-outside-band gates"


def test_hmm_agree_reads_gzipped_records():
    """A sample keeps results.jsonl.gz: the same verdicts as the plain file."""
    recs = [rec("device-exclusive/anon-4k/scenario=exclusive", "pass",
                "hmm.hmm_device_private.exclusive")]
    plain, gz = agree(recs), agree(recs, gz=True)
    assert plain == gz and gz[0] == 0 and [r["verdict"] for r in gz[1]] == ["agree"], (plain, gz)
