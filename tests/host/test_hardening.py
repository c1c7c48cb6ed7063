"""Host integration: the harness survives what it provokes.

- SIGKILL at a random point, 50 times: results.jsonl stays parseable up to
  the last finished case, run.json is whole JSON and says the run is
  incomplete, and the report reads the folder and calls it incomplete.
- Without root, without a needed device, with a read-only results
  directory: a clear message naming what is missing and exit 2, or a skip
  per case with the reason — never a crash or a half-written file.
"""
import json
import os
import random
import shutil
import signal
import subprocess
import tempfile
import time

from hostlib import FAULTLINE, ROOT, Skip, read_records, thp_mode

CRASH_MARKS = ("AddressSanitizer", "runtime error:", "Segmentation fault", "core dumped",
               "Traceback", "Aborted")
NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]


def session_procs(sid):
    """Processes still alive in session @sid (started by this test)."""
    pids = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[3]) == sid and fields[0] != "Z":
            pids.append(int(d))
    return pids


def kill_session(sid):
    for pid in session_procs(sid):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def check_folder(out):
    """Every complete line of results.jsonl is a record; only the last may be torn."""
    path = os.path.join(out, "results.jsonl")
    if not os.path.exists(path):
        return 0, None
    with open(path, "rb") as f:
        data = f.read()
    lines = data.split(b"\n")
    for i, line in enumerate(lines[:-1]):
        rec = json.loads(line)
        assert rec["schema"] == "faultline.record/1" and rec["status"] in ("pass", "fail", "skip", "error"), rec
        assert rec["seq"] == i, (i, rec["seq"])
    torn = lines[-1]
    run = None
    if os.path.exists(os.path.join(out, "run.json")):
        with open(os.path.join(out, "run.json")) as f:
            run = json.load(f)		# rename()d into place: never half-written
    leftovers = [f for f in os.listdir(out) if f.endswith(".tmp")]
    return len(lines) - 1, (run, torn, leftovers)


def test_sigkill_50_times_leaves_parseable_results():
    """A run killed with SIGKILL at a random point, 50 times.

    The kill points are spread over the whole run: during start-up (env,
    calibration), and a random delay (0-30 ms: mid-case, mid-append, or
    between cases) after the start of a random case."""
    job = os.path.join(tempfile.mkdtemp(prefix="fl-kill-job-"), "kill.job")
    with open(job, "w") as f:
        # Cases of tens of milliseconds, so that a kill 0-30 ms after a
        # case starts lands inside the run, not after its end.
        f.write("[global]\nrepeat=2\nwarmup=0\n[null]\nbacking=anon-4k\nsize=4K\n"
                "[populate]\nbacking=anon-4k,shmem\nsize=16M,32M\nthreads=1,2\n")
    out = tempfile.mkdtemp(prefix="fl-kill-full-")
    t0 = time.monotonic()
    p = subprocess.Popen([FAULTLINE, "run", job, "--out", out, "-q"], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, cwd=ROOT)
    startup = None
    for line in p.stdout:
        if startup is None and line.startswith("faultline: case-start 1/"):
            startup = time.monotonic() - t0	# env capture and calibration
    assert p.wait(timeout=300) == 0, p.stderr.read()
    ncases, _ = check_folder(out)
    shutil.rmtree(out)
    rng = random.Random(int(os.environ.get("FL_TEST_SEED", "8")))
    stats = {"records": 0, "torn": 0, "incomplete": 0, "complete": 0, "no_run_json": 0}
    kept = []
    for i in range(50):
        out = tempfile.mkdtemp(prefix=f"fl-kill-{i}-")
        target = rng.randint(0, ncases)		# 0: during start-up
        # Start-up kills land inside start-up however fast this machine is.
        delay = rng.uniform(0, 0.03 if target else startup)
        proc = subprocess.Popen([FAULTLINE, "run", job, "--out", out, "-q"], cwd=ROOT,
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                                start_new_session=True)
        if target:
            for line in proc.stdout:
                if line.startswith(f"faultline: case-start {target}/"):
                    break
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
        # The case process dies with the runner (PR_SET_PDEATHSIG), not at its case's end.
        deadline = time.monotonic() + 2
        while session_procs(proc.pid) and time.monotonic() < deadline:
            time.sleep(0.02)
        left = session_procs(proc.pid)
        kill_session(proc.pid)
        assert not left, f"case processes outlived the SIGKILLed runner: {left}"
        n, extra = check_folder(out)
        stats["records"] += n
        if extra is None:
            stats["no_run_json"] += 1
            shutil.rmtree(out)
            continue
        run, torn, leftovers = extra
        assert not leftovers, f"half-written file left in {out}: {leftovers}"
        stats["torn"] += bool(torn)
        if run is None:
            stats["no_run_json"] += 1
        elif run.get("complete") is True:
            stats["complete"] += 1
            assert n == ncases, (n, ncases)
        else:
            stats["incomplete"] += 1
            assert n <= ncases
            if n and not kept:
                kept.append(out)
                continue
        shutil.rmtree(out)
    # The report reads a killed run and says it is incomplete.
    if kept:
        rep = tempfile.mkdtemp(prefix="fl-kill-report-")
        p = subprocess.run([os.path.join(ROOT, "scripts/report"), kept[0], "--out", rep, "--no-html",
                            "--quiet"], capture_output=True, text=True, timeout=300)
        assert p.returncode in (0, 1), p.stderr[-2000:]
        with open(os.path.join(rep, "report.md")) as f:
            md = f.read()
        assert "incomplete" in md.lower(), md[:2000]
        shutil.rmtree(rep)
        shutil.rmtree(kept[0])
    assert stats["incomplete"] >= 40, stats
    return (f"{ncases}-case run killed 50 times: {stats['incomplete']} incomplete, "
            f"{stats['complete']} complete, {stats['no_run_json']} before results existed, "
            f"{stats['torn']} torn last lines, {stats['records']} records, all parseable")


def test_sigkill_stress_leaves_no_orphans():
    """`faultline stress` killed with SIGKILL: its case processes die with it
    (PR_SET_PDEATHSIG), and results.jsonl/stress files are whole or absent."""
    rng = random.Random(3)
    for i in range(5):
        out = tempfile.mkdtemp(prefix=f"fl-kill-stress-{i}-")
        proc = subprocess.Popen([FAULTLINE, "stress", "--mix", "populate,fault-scale", "--backing",
                                 "anon-4k", "--set", "size=16M", "--duration", "30", "--out", out, "-q"],
                                cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                start_new_session=True)
        time.sleep(rng.uniform(0.2, 3))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        deadline = time.monotonic() + 5
        while session_procs(proc.pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        left = session_procs(proc.pid)
        kill_session(proc.pid)
        assert not left, f"stress case processes outlived a SIGKILLed coordinator: {left}"
        check_folder(out)
        assert not [f for f in os.listdir(out) if f.endswith(".tmp")], os.listdir(out)
        shutil.rmtree(out)


def _as_nobody(args, cwd, timeout=300):
    return subprocess.run(NOBODY + [FAULTLINE, *args], capture_output=True, text=True, cwd=cwd,
                          timeout=timeout, stdin=subprocess.DEVNULL)


def _need_nobody():
    if os.geteuid() != 0:
        raise Skip("needs root to switch to nobody with setpriv")
    if not shutil.which("setpriv"):
        raise Skip("needs setpriv (util-linux)")
    p = subprocess.run(NOBODY + [FAULTLINE, "--version"], capture_output=True, text=True)
    if p.returncode:
        raise Skip(f"nobody cannot run {FAULTLINE}: {p.stderr.strip()}")


def _no_crash(p, what):
    for mark in CRASH_MARKS:
        assert mark not in p.stderr and mark not in p.stdout, f"{what}: {mark}: {p.stderr[-1500:]}"
    assert p.returncode in (0, 1, 2), f"{what}: exit {p.returncode}: {p.stderr[-1500:]}"


def test_without_root():
    """As nobody: the run works or skips per case with the reason; root-only
    settings and devices are named; nothing crashes."""
    _need_nobody()
    d = tempfile.mkdtemp(prefix="fl-nobody-")
    os.chmod(d, 0o777)
    notes = []
    out = os.path.join(d, "r1")
    p = _as_nobody(["run", "populate", "gup-bench", "--backing", "anon-4k", "--set", "size=8M",
                    "--repeat", "1", "--warmup", "0", "--out", out, "-q"], d)
    _no_crash(p, "run as nobody")
    assert p.returncode == 0, p.stderr
    recs = {r["workload"]: r for r in read_records(out)}
    assert recs["populate"]["status"] == "pass", recs["populate"]
    assert recs["gup-bench"]["status"] == "skip" and "/dev/faultline" in recs["gup-bench"]["reason"], recs["gup-bench"]
    notes.append(f"gup-bench: {recs['gup-bench']['reason']}")

    # --prepare needs root for THP/hugetlb settings: the message says so, the cases still run or skip.
    out = os.path.join(d, "r2")
    p = _as_nobody(["run", "populate", "--backing", "thp", "--set", "size=8M", "--set", "thp_mode=always",
                    "--prepare", "--repeat", "1", "--warmup", "0", "--out", out, "-q"], d)
    _no_crash(p, "--prepare as nobody")
    assert p.returncode in (0, 2), p
    if p.returncode == 2:
        assert p.stderr.startswith("faultline: ") and "root" in p.stderr.lower(), p.stderr
    if thp_mode() not in (None, "always"):
        assert "(needs root)" in p.stderr and "transparent_hugepage" in p.stderr, p.stderr
    notes.append(f"--prepare: exit {p.returncode} {p.stderr.strip()[:160]}")

    # stress as nobody: root-only perturbers are skipped with the reason.
    out = os.path.join(d, "r3")
    p = _as_nobody(["stress", "--mix", "populate", "--backing", "anon-4k", "--set", "size=8M",
                    "--duration", "4", "--out", out, "-q"], d)
    _no_crash(p, "stress as nobody")
    assert p.returncode == 0, p.stdout + p.stderr
    with open(os.path.join(out, "stress.json")) as f:
        sj = json.load(f)
    assert "not writable" in sj["perturbers"]["compact"].get("skip", ""), sj["perturbers"]["compact"]
    notes.append(f"stress compact: {sj['perturbers']['compact']['skip']}")
    shutil.rmtree(d)
    return "; ".join(notes)


def test_read_only_results_directory():
    """A results directory that cannot be written: exit 2, one line naming the
    path, nothing created, nothing half-written."""
    _need_nobody()
    d = tempfile.mkdtemp(prefix="fl-ro-")
    ro = os.path.join(d, "ro")
    os.mkdir(ro, 0o555)
    os.chmod(d, 0o755)
    for args in (["run", "null", "--out", os.path.join(ro, "out")],
                 ["run", "null", "--out", ro],
                 ["stress", "--mix", "null", "--duration", "2", "--out", ro]):
        p = _as_nobody(args, d)
        _no_crash(p, " ".join(args))
        assert p.returncode == 2, (args, p.returncode, p.stdout, p.stderr)
        err = p.stderr.strip()
        assert len(err.splitlines()) == 1 and err.startswith("faultline: ") and ro in err, (args, err)
        assert "Permission denied" in err, err
        assert os.listdir(ro) == [], (args, os.listdir(ro))
    shutil.rmtree(d)


def test_read_only_mount_as_root():
    """As root, permissions do not stop writes: a read-only mount does."""
    if os.geteuid() != 0:
        raise Skip("needs root to mount a read-only tmpfs")
    d = tempfile.mkdtemp(prefix="fl-romnt-")
    p = subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "faultline-test", d],
                       capture_output=True, text=True)
    if p.returncode:
        os.rmdir(d)
        raise Skip(f"cannot mount tmpfs here: {p.stderr.strip()}")
    try:
        for args in (["run", "null", "--out", os.path.join(d, "out")], ["run", "null", "--out", d],
                     ["stress", "--mix", "null", "--duration", "2", "--out", d]):
            p = subprocess.run([FAULTLINE, *args], capture_output=True, text=True, cwd=ROOT, timeout=120)
            _no_crash(p, " ".join(args))
            assert p.returncode == 2, (args, p.returncode, p.stderr)
            err = p.stderr.strip()
            assert len(err.splitlines()) == 1 and d in err and "Read-only file system" in err, (args, err)
    finally:
        subprocess.run(["umount", d])
        os.rmdir(d)


def test_missing_devices_are_skips():
    """Backings and workloads whose device is missing are skip per case with
    the missing piece named; the run exits 0."""
    out = tempfile.mkdtemp(prefix="fl-nodev-")
    p = subprocess.run([FAULTLINE, "run", "populate", "--backing", "devdax,fsdax,anon-4k", "--set", "size=8M",
                        "--repeat", "1", "--warmup", "0", "--out", out, "-q"],
                       capture_output=True, text=True, cwd=ROOT, timeout=300)
    _no_crash(p, "missing devices")
    assert p.returncode == 0, p.stderr
    recs = {r["backing"]: r for r in read_records(out)}
    notes = []
    for b in ("devdax", "fsdax"):
        r = recs[b]
        if r["status"] == "skip":
            assert r["reason"].strip(), r
            notes.append(f"{b}: {r['reason'][:80]}")
    assert recs["anon-4k"]["status"] == "pass", recs["anon-4k"]
    shutil.rmtree(out)
    return "; ".join(notes) or "devices present here"
