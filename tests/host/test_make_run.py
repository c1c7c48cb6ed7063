"""Host integration: `make run` covers the four pillars in one folder.

`make run RUN_OUT=DIR` runs quick.job on this host and headline-vm.job in
one guest of the default kernel (scripts/quickrun).  Every pillar must be in
DIR's results with a figure: DAX (dax-populate with pmds and with the pte
fallback, dax-gup's long-term pin), pin/COW (cow-pin, cow-race),
notifier-vs-pinned (a pinned and a mirrored buffer) and migration
(numa-migrate with a pin and with a mirror); the report's first screen lists
them.  Where qemu cannot run here, the guest part must be a skip with its
reason in DIR/parts.json and the report.  A few minutes (one TCG boot).
"""
import json
import os
import re
import subprocess
import tempfile

from hostlib import ROOT, Skip

# A screen of report.md: the lines a terminal shows before scrolling.
FIRST_SCREEN = 60

PILLARS = {"DAX": ("dax-populate", "dax-gup"), "pin/COW": ("cow-pin", "cow-race"),
           "notifier-vs-pinned": ("notifier-vs-pinned",), "migration": ("numa-migrate",)}


def _records(folder):
    path = os.path.join(folder, "results.jsonl")
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f if line.endswith("\n")]


def _parts(out):
    with open(os.path.join(out, "parts.json")) as f:
        return {p["name"]: p for p in json.load(f)["parts"]}


def _one(recs, workload, **params):
    """The record of workload whose params include these values."""
    hits = [r for r in recs if r["workload"] == workload and
            all(str(r["params"].get(k)) == str(v) for k, v in params.items())]
    assert len(hits) == 1, (workload, params, [r["case"] for r in hits])
    return hits[0]


def _check_guest(recs):
    """What the guest must show: each case ran with the behaviour its
    pillar is about."""
    for r in recs:
        assert r["status"] in ("pass", "skip"), (r["case"], r["status"], r["reason"])
    aligned = _one(recs, "dax-populate", va_pages=0)
    unaligned = _one(recs, "dax-populate", va_pages=2)
    assert aligned["status"] == unaligned["status"] == "pass", (
        aligned["reason"], unaligned["reason"])
    assert aligned["metrics"]["pmd_share"]["median"] >= 99, aligned["metrics"]["pmd_share"]
    assert unaligned["metrics"]["pmd_share"]["median"] == 0, unaligned["metrics"]["pmd_share"]
    assert unaligned["details"].get("fallback_main") not in (None, "", "none"), \
        unaligned["details"]
    lt = _one(recs, "dax-gup", op="drv-pin-longterm")
    assert lt["status"] == "pass" and lt["details"].get(
        "behaviour.pin_user_pages_longterm"), (lt["reason"], lt["details"])
    for buf in ("pinned", "mirrored"):
        r = _one(recs, "notifier-vs-pinned", buffer=buf)
        assert r["status"] == "pass", (r["case"], r["reason"])
    for hold in ("none", "pin", "mirror"):
        r = _one(recs, "numa-migrate", hold=hold)
        assert r["status"] == "pass", (r["case"], r["reason"])
    dev = [r for r in recs if r["workload"] in ("device-migrate", "device-exclusive")]
    assert dev and all(r["status"] == "pass" or r["reason"].strip() for r in dev), \
        [(r["case"], r["reason"]) for r in dev]
    return (f"dax pmd {aligned['metrics']['pmd_share']['median']:.0f}% aligned, "
            f"{unaligned['metrics']['pmd_share']['median']:.0f}% unaligned "
            f"({unaligned['details']['fallback_main']}); long-term pin "
            f"{lt['details']['behaviour.pin_user_pages_longterm']}; device-private "
            + ", ".join(sorted({r['status'] for r in dev})))


def test_make_run_covers_every_pillar():
    """make run: every pillar has a passing case with its figure, each part
    says where it ran, the first screen of report.md lists every pillar, and
    make's exit status is 0 exactly when no case failed."""
    out = tempfile.mkdtemp(prefix="fl-make-run-")
    p = subprocess.run(["make", "-s", "run", "RUN_OUT=" + out], cwd=ROOT,
                       capture_output=True, text=True, timeout=1800)
    tail = (p.stdout + p.stderr)[-3000:]
    parts = _parts(out)
    host_recs = _records(os.path.join(out, "host"))
    # The host part must have run to its end; whether each of its cases
    # passes is test_engine's business (system-wide counters make some
    # fail on a busy machine), but make's status must say so when one did.
    with open(os.path.join(out, "host", "run.json")) as f:
        assert json.load(f)["complete"] is True, (parts["host"], tail)
    host_bad = [f"{r['case']}: {r['status']}: {r['reason'][:120]}" for r in host_recs
                if r["status"] in ("fail", "error")]
    assert (parts["host"]["status"] == "pass") == (not host_bad), (parts["host"], host_bad)
    with open(os.path.join(out, "report", "report.md")) as f:
        report = f.read()
    guest = parts["guest"]
    if guest["status"] == "skip":
        assert guest["reason"].strip() and " ".join(guest["reason"].split()) in " ".join(
            report.split()), guest
        assert (p.returncode == 0) == (not host_bad), tail
        raise Skip("the guest part is a skip here, with its reason recorded: "
                   + guest["reason"])
    assert guest["status"] == "pass", (guest, tail)
    assert (p.returncode == 0) == (not host_bad), (p.returncode, host_bad, tail)
    guest_recs = _records(os.path.join(out, "vm"))
    detail = _check_guest(guest_recs)
    recs = host_recs + guest_recs
    screen = "\n".join(report.splitlines()[:FIRST_SCREEN])
    for pillar, wls in PILLARS.items():
        ran = [r for r in recs if r["workload"] in wls and r["status"] == "pass"]
        assert ran, f"{pillar}: no passing case of {wls}"
        for wl in wls:
            # the summary's row: the workload, where it ran, its cases, figures
            assert re.search(r"^%s +\S.* pass" % re.escape(wl), screen, re.M), \
                f"{wl} ({pillar}) has no summary row in the first {FIRST_SCREEN} lines " \
                f"of report.md:\n{screen}"
    assert "guest (tcg)" in report or "guest (kvm)" in report, "no guest provenance"
    return f"{len(host_recs)} host + {len(guest_recs)} guest records; {detail}" + (
        "; host cases that failed here, make run exit %d: %s" % (p.returncode, "; ".join(
            host_bad)) if host_bad else "")


def test_vm_part_skip_without_qemu():
    """Without qemu on PATH the guest part is a skip with the reason, the
    host part and the report are still written, and the exit status is 0."""
    out = tempfile.mkdtemp(prefix="fl-make-run-noqemu-")
    job = os.path.join(out, "tiny.job")
    with open(job, "w") as f:
        f.write("[null]\nsize=16M\nrepeat=2\nwarmup=0\n")
    run_out = os.path.join(out, "run")
    env = dict(os.environ, PATH=os.path.join(out, "empty-path"))
    p = subprocess.run([os.path.join(ROOT, "scripts", "quickrun"), "--out", run_out,
                        "--host-job", job], cwd=ROOT, env=env, capture_output=True,
                       text=True, timeout=600)
    tail = (p.stdout + p.stderr)[-2000:]
    parts = _parts(run_out)
    guest = parts["guest"]
    assert guest["status"] == "skip" and "qemu-system-x86_64 not found" in guest["reason"], \
        (guest, tail)
    assert parts["host"]["status"] == "pass" and _records(os.path.join(run_out, "host")), tail
    with open(os.path.join(run_out, "report", "report.md")) as f:
        report = f.read()
    assert "part guest" in report and " ".join(guest["reason"].split()) in " ".join(
        report.split()), report[:2000]
    assert p.returncode == 0, tail
    return guest["reason"]
