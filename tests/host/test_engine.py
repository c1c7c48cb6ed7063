"""Host integration: the engine on the running kernel."""
import json
import os
import signal
import subprocess
import tempfile
import time

from hostlib import FAULTLINE, ROOT, Skip, faultline, read_records, read_run, thp_mode

STATUSES = {"pass", "fail", "skip", "error"}


def test_quick_suite_completes():
    """`make run`'s host part: quick.job, every record has a status, every
    non-pass a reason, the cases it promises pass here, and its report is
    written.  The guest part is left out (FAULTLINE_SKIP_VM):
    test_make_run covers it."""
    top = os.path.join(tempfile.mkdtemp(prefix="fl-make-run-"), "quick")
    p = subprocess.run(["make", "-s", "-C", ROOT, "run", f"RUN_OUT={top}"],
                       capture_output=True, text=True, timeout=900,
                       env=dict(os.environ, FAULTLINE_SKIP_VM="1"))
    assert p.returncode == 0, f"make run: exit {p.returncode}\n{p.stdout[-1500:]}\n{p.stderr[-1500:]}"
    out = os.path.join(top, "host")
    recs, run = read_records(out), read_run(out)
    for f in ("report.md", "report.html", "report.json"):
        assert os.path.getsize(os.path.join(top, "report", f)) > 0, f
    with open(os.path.join(top, "report", "report.md")) as f:
        assert "one run only" in f.read()
    assert run["complete"] is True and run["exit_status"] == 0, run.get("exit_status")
    assert run["calibration"]["memset_GBps"] > 0
    by_case = {}
    for r in recs:
        assert r["schema"] == "faultline.record/1"
        assert r["status"] in STATUSES, r
        if r["status"] != "pass":
            assert r["reason"].strip(), f"{r['case']}: {r['status']} without a reason"
        by_case[r["case"]] = r
    must = ["populate/anon-4k/mode=first-touch,size=256M", "fault-scale/anon-4k/threads=1"]
    if thp_mode() in ("madvise", "always"):
        must.append("populate/thp/mode=first-touch,size=256M")
    for case in must:
        assert by_case[case]["status"] == "pass", (case, by_case[case]["reason"])
        for m in by_case[case]["metrics"].values():
            assert len(m["samples"]) == 5 and m["unit"] and m["direction"] in ("higher", "lower", "info")
    lat = by_case[must[0]]["latency"]["fault"]
    assert lat["count"] > 0 and lat["p50"] <= lat["p99"] <= lat["max"], lat
    return f"{len(recs)} records, " + ", ".join(f"{r['case']}={r['status']}" for r in recs
                                                 if r["status"] != "pass")


def test_list_and_describe():
    p = faultline("list")
    names = [l.split()[0] for l in p.stdout.splitlines()[1:] if l and not l.startswith(" ")]
    for wl in ("populate", "fault-scale", "null"):
        assert wl in names, p.stdout
    for wl in names:
        if wl in ("BACKING",):
            break
        d = faultline("describe", wl).stdout
        assert "kernel paths:" in d and "options" in d, d


def test_env_record():
    env = json.loads(faultline("env").stdout)
    for key in ("kernel", "cpu", "thp", "hugetlb", "numa", "pmem", "virt", "driver"):
        assert key in env, key
    assert env["kernel"]["release"] == os.uname().release
    assert env["cpu"]["cores"] >= 1 and env["cpu"]["topology_source"] == "hwloc"


def test_readme_workload_table_is_generated():
    """The README's table comes from the option tables (faultline workload-table)."""
    table = faultline("workload-table").stdout.strip()
    with open(os.path.join(ROOT, "README.md")) as f:
        readme = f.read()
    assert table in readme, "README.md workload table is stale: run `make readme`"


def test_resume_skips_recorded_cases():
    out = tempfile.mkdtemp(prefix="fl-resume-")
    common = ["run", "null", "--repeat", "2", "--out", out]
    faultline(*common, "--backing", "anon-4k")
    faultline(*common, "--backing", "anon-4k,shmem", "--resume")
    recs = read_records(out)
    assert [r["backing"] for r in recs] == ["anon-4k", "shmem"], [r["case"] for r in recs]


def test_sigint_keeps_finished_cases_and_restores_settings():
    """SIGINT stops after the current repetition, keeps every finished case,
    and --prepare's THP change is undone."""
    before = thp_mode()
    if before is None:
        raise Skip("kernel without THP: nothing for --prepare to change")
    if os.geteuid() != 0:
        raise Skip("needs root to change the THP mode")
    target = "never" if before != "never" else "madvise"
    out = tempfile.mkdtemp(prefix="fl-sigint-")
    p = subprocess.Popen([FAULTLINE, "run", "populate", "--backing", "anon-4k", "--set",
                          "size=16M,32M,64M", "--repeat", "400", "--prepare", "--set",
                          f"thp_mode={target}", "--out", out],
                         stdout=subprocess.PIPE, text=True, cwd=ROOT)
    seen_end = False
    try:
        for line in p.stdout:
            if "case-end 1/3" in line:
                seen_end = True
            if "case-start 2/3" in line:
                assert thp_mode() == target, "--prepare did not apply thp_mode"
                time.sleep(0.3)
                p.send_signal(signal.SIGINT)
                break
        rc = p.wait(timeout=120)
    finally:
        if p.poll() is None:
            p.kill()
    assert seen_end
    assert rc == 130, rc
    assert thp_mode() == before, f"THP mode left at {thp_mode()}, was {before}"
    recs = read_records(out)
    run = read_run(out)
    assert run["complete"] is False
    assert recs[0]["status"] == "pass" and len(recs) in (1, 2), [r["status"] for r in recs]
    if len(recs) == 2:
        assert recs[1]["status"] == "error" and "interrupted" in recs[1]["reason"], recs[1]
    changes = run["prepare"]["changes"]
    assert changes and all(c["restored"] for c in changes), changes


def test_every_suite_job_file_is_valid():
    """Each job file in workloads/suites expands (stress.job is for `faultline stress`)."""
    suites = os.path.join(ROOT, "workloads/suites")
    counts = []
    for f in sorted(os.listdir(suites)):
        if not f.endswith(".job") or f == "stress.job":
            continue
        p = faultline("run", os.path.join(suites, f), "--dry-run")
        n = len(p.stdout.splitlines())
        assert n > 0, f
        counts.append(f"{f}={n}")
    return ", ".join(counts)
