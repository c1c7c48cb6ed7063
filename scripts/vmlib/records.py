"""What a VM run leaves in its results folder, host side: results.jsonl
records for the cases a kernel splat, a hang or a dead guest ended
(faultline in the guest could not write them), dmesg.txt from every boot,
vm.json, and run.json with the VM facts merged in.
"""

import json
import os
import platform
import re
from pathlib import Path

from . import guest
from .common import log
from .console import headline


def read_records(out):
    recs = []
    f = out / "results.jsonl"
    if f.exists():
        for line in f.read_text(errors="replace").splitlines():
            try:
                recs.append(json.loads(line))
            except ValueError:
                pass    # a torn last line from a crashed guest
    return recs


def write_records(out, recs):
    f = out / "results.jsonl"
    tmp = out / "results.jsonl.tmp"
    with open(tmp, "w") as fh:
        for r in recs:
            fh.write(json.dumps(r, sort_keys=False) + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, f)


def record_case_error(out, case, reason, kernel_log, hung=False):
    """Mark the case that was running as error (its record if faultline
    wrote one, else a new record) with the kernel excerpt."""
    seq, total, label = case
    recs = read_records(out)
    run_id = None
    try:
        run_id = json.loads((out / "run.json").read_text()).get("run_id")
    except (OSError, ValueError):
        pass
    target = next((r for r in recs if r.get("case") == label), None)
    if target is None:
        parts = label.split("/")
        target = {"schema": "faultline.record/1", "run_id": run_id,
                  "seq": seq - 1, "case": label,
                  "workload": parts[0],
                  "backing": parts[1] if len(parts) > 1 else None,
                  "params": dict(kv.split("=", 1) for kv in
                                 (parts[2].split(",") if len(parts) > 2
                                  else []) if "=" in kv),
                  "metrics": {}, "latency": {}, "details": {}}
        recs.append(target)
    target.update({"status": "error", "reason": reason,
                   "kernel_log": kernel_log})
    target.setdefault("details", {})["vm"] = "recorded by scripts/vm"
    if hung:
        target["hung"] = True
    write_records(out, recs)


def boot_entry(n, seconds, why, boot):
    """One boot in vm.json's `boots`."""
    return {"boot": n, "seconds": seconds, "end": why, "done": boot.done,
            "status": boot.status, "cases_seen": boot.cases_done,
            "splats": [{"case": s["case"][2] if s["case"] else None,
                        "at_s": s["at"], "lines": s["lines"]}
                       for s in boot.splats]}


def save_console_dmesg(bdir, boot):
    """A boot that ended before the guest saved dmesg: its kernel lines
    from the serial console instead."""
    if not (bdir / "dmesg.txt").exists() and boot.kernel_lines:
        bdir.mkdir(exist_ok=True)
        (bdir / "dmesg.txt").write_text(
            "# boot ended before dmesg was saved: kernel lines "
            "from the serial console\n" +
            "\n".join(boot.kernel_lines) + "\n")


def record_boot_end(out, boot, entry, why, timeout, meta):
    """The case a boot's end hit becomes an error record: the first splat
    (or, outside any case, a note in vm.json), a hang, or a guest that died
    without a kernel report."""
    if boot.splats:
        s = boot.splats[0]
        first = headline(s["lines"])
        if s["case"]:
            record_case_error(
                out, s["case"], f"kernel splat: {first.strip()}",
                s["lines"])
            log(f"case {s['case'][2]}: error (kernel splat), "
                "recorded")
        else:
            meta.setdefault("splats_outside_cases", []).append(
                entry["splats"][0])
    elif why == "hung" and boot.running:
        record_case_error(
            out, boot.running,
            f"guest stopped answering: no progress for "
            f"{timeout} s; killed", boot.recent, hung=True)
        log(f"case {boot.running[2]}: hung, guest killed")
    elif not boot.done and boot.running:
        record_case_error(
            out, boot.running, "guest died during the case "
            f"({why}) without a kernel report", boot.recent)


def finish_results(out, meta, summary):
    """dmesg.txt from every boot, vm.json, and run.json merged with the
    host-side facts."""
    vmd = out / "vm"
    parts = []
    for d in sorted(vmd.glob("boot*"), key=lambda p: int(p.name[4:] or 0)):
        f = d / "dmesg.txt"
        if f.exists():
            parts.append(f"===== boot {d.name[4:]} =====\n" +
                         f.read_text(errors="replace"))
    if parts:
        (out / "dmesg.txt").write_text("".join(parts))
    st = tap_summary(out / "selftests")
    if st:
        meta["selftests"] = st
        summary["selftests"] = st
    guest.write_json(out / "vm.json", meta)
    rj = out / "run.json"
    if rj.exists():
        try:
            r = json.loads(rj.read_text())
            r["vm"] = {k: meta.get(k) for k in
                       ("kernel", "accel", "qemu", "host", "boots", "build",
                        "phases", "seconds", "error")}
            env = r.setdefault("env", {})
            virt = env.setdefault("virt", {})
            if meta.get("accel"):
                virt["accel"] = meta["accel"]["accel"]
                virt.setdefault("hypervisor", "qemu")
            guest.write_json(rj, r)
        except ValueError:
            summary["run_json"] = "run.json unreadable (guest crash?)"
    recs = read_records(out)
    counts = {}
    for r in recs:
        s = r.get("status", "?")
        if r.get("hung"):
            s = "hung"
        counts[s] = counts.get(s, 0) + 1
    summary["counts"] = counts
    last = meta["boots"][-1]["status"] if meta.get("boots") else {}
    build = meta.get("build", {})
    summary["driver"] = last.get("driver") or (
        "built, not booted" if build.get("driver") == "built" else
        build.get("driver", "?"))
    summary["pmem"] = last.get("pmem", "?")
    summary["accel"] = (meta.get("accel") or {}).get("accel", "?")
    summary["release"] = meta["kernel"].get("release", "?")
    summary["boots"] = len(meta.get("boots", []))


def tap_summary(d):
    """{test: {pass, fail, skip}} from the kernel selftests' TAP files."""
    res = {}
    for f in sorted(Path(d).glob("*.tap")) if Path(d).is_dir() else []:
        c = {"pass": 0, "fail": 0, "skip": 0}
        for line in f.read_text(errors="replace").splitlines():
            m = re.match(r"^\s*(not ok|ok) \d+", line)
            if not m:
                continue
            if "# SKIP" in line:
                c["skip"] += 1
            elif m.group(1) == "ok":
                c["pass"] += 1
            else:
                c["fail"] += 1
        res[f.stem] = c
    return res


def host_facts():
    cpu = ""
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"hostname": platform.node(), "kernel": platform.release(),
            "cpu": cpu, "cpus": os.cpu_count(),
            "mirror_from": "host apt sources"}

