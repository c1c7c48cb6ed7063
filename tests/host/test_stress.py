"""Host integration: `faultline stress`: a short clean run, the mismatch path, usage errors.

The mismatch path is proven with the test-only corruption hook
(FAULTLINE_TEST_HOOKS=1 --inject-corruption T): the run stops with the
seed, the workload, the offset and the perturbation history; --replay of
the recorded folder reproduces the same failure with the same schedule;
--shrink writes a reproducer job with fewer workloads that still fails.
"""
import json
import os
import subprocess
import tempfile

from hostlib import FAULTLINE, ROOT, Skip, read_records

HOOKS = dict(os.environ, FAULTLINE_TEST_HOOKS="1")
MIX = ["--mix", "populate,fault-scale", "--backing", "anon-4k", "--set", "size=32M"]


def stress(*args, env=None, timeout=600):
    return subprocess.run([FAULTLINE, "stress", *args], capture_output=True, text=True,
                          cwd=ROOT, env=env, timeout=timeout, stdin=subprocess.DEVNULL)


def load(d):
    with open(os.path.join(d, "stress.json")) as f:
        return json.load(f)


def per_stream(history):
    """The schedule as each case's stream saw it: time-independent fields only."""
    out = {}
    for h in history:
        if h["perturber"] == "test-corrupt":
            continue	# a timer, not a draw: it may land before or after a late event
        out.setdefault(h["workload"], []).append(
            (h["perturber"], h.get("region"), h.get("offset"), h.get("len")))
    return out


def test_stress_short_run_is_clean():
    """10 s of populate + fault-scale under every perturber: no mismatch,
    perturbations and checks counted, one record per case."""
    out = tempfile.mkdtemp(prefix="fl-stress-")
    p = stress(*MIX, "--duration", "10", "--seed", "1", "--out", out)
    assert p.returncode == 0, f"exit {p.returncode}\n{p.stdout[-2000:]}\n{p.stderr[-1000:]}"
    sj = load(out)
    assert sj["schema"] == "faultline.stress/1" and sj["result"] == "pass" and sj["failure"] is None
    assert sj["seed"] == 1
    total = sum(v["count"] for v in sj["perturbers"].values())
    assert total > 20, sj["perturbers"]
    # Errors are errnos (the last one named); a remap that found no gap
    # beside a workload VMA is "elsewhere", not an error.
    for n, v in sj["perturbers"].items():
        assert v["errors"] + v.get("elsewhere", 0) <= v["count"], (n, v)
        assert not v["errors"] or v.get("last_error", "").startswith("E"), (n, v)
        assert n == "remap" or "elsewhere" not in v, (n, v)
    for w in sj["workloads"]:
        assert w["status"] == "pass" and w["ops"] > 0 and w["checks"] > 0 and w["verifies"] > 0, w
    recs = read_records(out)
    assert sorted(r["workload"] for r in recs) == ["fault-scale", "populate"], recs
    assert all(r["mode"] == "stress" for r in recs)
    with open(os.path.join(out, "run.json")) as f:
        assert json.load(f)["complete"] is True
    skipped = {k: v["skip"] for k, v in sj["perturbers"].items() if "skip" in v}
    return f"{total} perturbations, " + ", ".join(
        f"{w['key']}={w['ops']} ops/{w['checks']} checks" for w in sj["workloads"]) + \
        (f"; skipped: {sorted(skipped)}" if skipped else "")


def test_stress_test_hook_is_gated():
    """The corruption hook refuses to run without FAULTLINE_TEST_HOOKS=1 (exit 2, one line)."""
    env = {k: v for k, v in os.environ.items() if k != "FAULTLINE_TEST_HOOKS"}
    with tempfile.TemporaryDirectory() as cwd:
        p = subprocess.run([FAULTLINE, "stress", *MIX, "--inject-corruption", "1"],
                           capture_output=True, text=True, cwd=cwd, env=env, timeout=60)
        assert p.returncode == 2, p
        assert "FAULTLINE_TEST_HOOKS=1" in p.stderr and len(p.stderr.strip().splitlines()) == 1, p.stderr
        assert not os.listdir(cwd), os.listdir(cwd)


def test_stress_mismatch_replay_and_shrink():
    """Injected corruption stops the run with seed, workload, offset and
    history; --replay reproduces it with the same schedule; --shrink drops the
    innocent workload and writes a reproducer job that still fails."""
    out = tempfile.mkdtemp(prefix="fl-stress-mm-")
    p = stress(*MIX, "--duration", "60", "--seed", "5", "--perturbers", "mprotect,fork-storm,dontneed",
               "--inject-corruption", "1.5", "--inject-workload", "fault-scale/anon-4k#0",
               "--out", out, "-q", env=HOOKS)
    assert p.returncode == 1, f"exit {p.returncode}\n{p.stdout}\n{p.stderr}"
    sj = load(out)
    f = sj["failure"]
    assert sj["result"] == "fail" and sj["seed"] == 5, sj["result"]
    assert f["kind"] == "sentinel-mismatch" and f["workload"] == "fault-scale/anon-4k#0", f
    assert f["bad_words"] == 1 and f["expected"] != f["got"] and f["offset"] % 8 == 0, f
    assert 1.5 <= f["t_s"] < 5, f["t_s"]
    assert f["history"] and f["history"][-1]["perturber"] == "test-corrupt", f["history"][-3:]
    assert f["history"][-1]["offset"] == f["offset"], (f["history"][-1], f["offset"])
    assert sj["elapsed_s"] < 20, "the mismatch did not stop the run"
    recs = {r["stress_key"]: r for r in read_records(out)}
    assert recs["fault-scale/anon-4k#0"]["status"] == "fail", recs
    assert "sentinel-mismatch" in recs["fault-scale/anon-4k#0"]["reason"]
    assert os.path.exists(os.path.join(out, "stress.job"))

    # Without the hooks the recorded hook run is refused, not silently replayed clean.
    env = {k: v for k, v in os.environ.items() if k != "FAULTLINE_TEST_HOOKS"}
    p = stress("--replay", out, env=env)
    assert p.returncode == 2 and "FAULTLINE_TEST_HOOKS=1" in p.stderr, p

    p = stress("--replay", out, "--shrink", env=HOOKS)
    assert p.returncode == 1, f"exit {p.returncode}\n{p.stdout}\n{p.stderr}"
    assert "replay: reproduced: sentinel-mismatch in fault-scale/anon-4k#0" in p.stdout, p.stdout
    rj = load(os.path.join(out, "replay-1"))
    assert rj["failure"]["offset"] == f["offset"], (rj["failure"], f)
    # --seed replays the schedule: every stream drew the same events in the same order.
    a, b = per_stream(f["history"]), per_stream(rj["failure"]["history"])
    for key in a:
        n = min(len(a[key]), len(b.get(key, [])))
        assert n and a[key][:n] == b[key][:n], (key, a[key][:5], b.get(key, [])[:5])

    repro = os.path.join(out, "reproducer.job")
    with open(repro) as fh:
        text = fh.read()
    assert text.count("\nworkload=") == 1 and "\nworkload=fault-scale" in text, text
    assert "perturbers=none" in text, text
    d = tempfile.mkdtemp(prefix="fl-stress-repro-")
    p = stress("--suite", repro, "--out", d, "-q", env=HOOKS)
    assert p.returncode == 1, f"reproducer did not fail: {p.stdout}\n{p.stderr}"
    assert load(d)["failure"]["kind"] == "sentinel-mismatch"
    return f"offset {f['offset']} at {f['t_s']:.2f}s, {len(f['history'])} history events; reproducer: 1 workload, no perturbers"


def test_stress_usage_errors():
    """Bad stress invocations exit 2 with one line and leave nothing behind."""
    cases = [
        [],
        ["--mix", "nosuch"],
        ["--mix", "populate", "--suite", "x.job"],
        ["--mix", "populate", "--duration", "10parsecs"],
        ["--mix", "populate", "--perturbers", "earthquake"],
        ["--mix", "populate", "--seed", "-3"],
        ["--shrink"],
        ["--replay", "/nonexistent-dir"],
        ["--mix", "populate", "stray"],
    ]
    for args in cases:
        with tempfile.TemporaryDirectory() as cwd:
            p = subprocess.run([FAULTLINE, "stress", *args], capture_output=True, text=True,
                               cwd=cwd, timeout=60)
            assert p.returncode == 2, (args, p.returncode, p.stderr)
            assert len(p.stderr.strip().splitlines()) == 1 and p.stderr.startswith("faultline: "), (args, p.stderr)
            assert not os.listdir(cwd), (args, os.listdir(cwd))


def test_stress_kernel_splat_ends_the_run():
    """A kernel splat in the log ends the run with the excerpt attached to
    stress.json and to every case's record.  Proven with the test marker
    (FAULTLINE_TEST_HOOKS=1 accepts a user record with FAULTLINE-TEST-SPLAT;
    real splats are matched only in kernel-facility records, which userspace
    cannot forge)."""
    if os.geteuid() != 0 or not os.access("/dev/kmsg", os.W_OK):
        raise Skip("needs root to read and write /dev/kmsg")
    out = tempfile.mkdtemp(prefix="fl-stress-splat-")
    proc = subprocess.Popen([FAULTLINE, "stress", "--mix", "fault-scale", "--set", "size=8M",
                             "--duration", "30", "--seed", "4", "--out", out], cwd=ROOT,
                            env=HOOKS, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # The first line comes once /dev/kmsg is watched: a marker written
    # after it is seen however slowly the run started.
    for line in proc.stdout:
        if line.startswith("faultline: stress seed="):
            break
    with open("/dev/kmsg", "w") as f:
        f.write("<6>faultline: FAULTLINE-TEST-SPLAT written by tests/host/test_stress.py (ignore)\n")
    so, se = proc.communicate(timeout=120)
    assert proc.returncode == 1, (proc.returncode, so, se)
    sj = load(out)
    f = sj["failure"]
    assert sj["result"] == "fail" and f["kind"] == "kernel-splat" and f["workload"] is None, f
    assert "FAULTLINE-TEST-SPLAT" in f["where"] and f["kernel_log"], f
    assert sj["elapsed_s"] < 15, sj["elapsed_s"]
    for r in read_records(out):
        assert r["status"] == "fail" and "kernel splat" in r["reason"] and r["kernel_log"], r
