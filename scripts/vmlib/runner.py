"""scripts/vm run / matrix / stress / cache: for each kernel, resolve it
(kernels.py), build faultline and the driver in its root and make the guest
disk (guest.py), boot it under qemu (qemu.py) while watching the console
(console.py), boot again after a crash or hang, and write the results
(records.py).
"""

import os
import shlex
import shutil
import time
from pathlib import Path

from . import guest, roots, stressmode
from .common import REPO, UsageError, VmError, cache_dir, log, progress, run
from .console import Boot, watch_qemu
from .kernels import (SUITE_RE, check_kernels, clean_kernel, parse_kernel,
                      resolve_kernel)
from .qemu import detect_accel, layout_note, qemu_command, qemu_version
from .records import (boot_entry, finish_results, host_facts,
                      record_boot_end, save_console_dmesg)
from .stressmode import is_stress


def default_out(label, base=None):
    ts = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    if base:
        return Path(base) / label
    return REPO / "results" / f"vm-{ts}-{label}"


def check_job(path):
    p = Path(path)
    if not p.is_file():
        raise UsageError(f"suite file {path} not found")
    return p.resolve()


def run_kernel(k, a, job, out):
    """Everything for one kernel; returns a summary dict (never raises for
    kernel-side failures: they are recorded)."""
    t0 = time.monotonic()
    progress.kernel = k.label
    out.mkdir(parents=True, exist_ok=True)
    vmd = out / "vm"
    vmd.mkdir(exist_ok=True)
    summary = {"kernel": k.spec, "out": str(out), "phases": {}}
    meta = {"schema": "faultline.vm/1", "kernel": {"spec": k.spec},
            "host": host_facts(), "boots": [], "phases": summary["phases"]}

    def phase(name, t):
        summary["phases"][name] = round(time.monotonic() - t, 1)

    try:
        tp = time.monotonic()
        log("phase: root and kernel")
        resolve_kernel(k, a)
        phase("root", tp)
        meta["kernel"].update({"release": k.release, "suite": k.suite,
                               "kind": k.kind, "image": str(k.vmlinuz),
                               "notes": k.notes})
        if k.source:
            meta["kernel"]["source"] = k.source
        meta["root"] = {"path": str(k.root),
                        "info": roots.root_info(k.suite)}
        tp = time.monotonic()
        log(f"phase: build faultline and driver in root {k.suite}")
        fl, ko, notes = guest.build_faultline(
            k, out / "build.log", Path(a.src).resolve() if a.src else REPO)
        phase("build", tp)
        for n in notes.values():
            log(n)
        meta["build"] = dict(notes)
        meta["build"]["faultline"] = "built" if fl else notes.get(
            "faultline", "not built")
        meta["build"]["driver"] = "built" if ko else notes.get(
            "driver", "not built")
        tp = time.monotonic()
        log("phase: guest image and initramfs")
        image = guest.build_image(k.suite, k.root)
        initrd = guest.build_initramfs(
            k.root, k.modroot, k.release,
            cache_dir() / "initramfs")
        phase("image", tp)
        accel, why = detect_accel(k, a.accel)
        log(f"accel: {accel} ({why})")
        meta["accel"] = {"accel": accel, "why": why}
        env = stage_guest(k, a, job, vmd, fl, ko, notes)
        cmd = qemu_command(k, a, accel, initrd, image, out)
        meta["qemu"] = {"command_line": cmd, "version": qemu_version(),
                        "memory": a.mem, "cpus": a.cpus,
                        "pmem": a.pmem, "numa_nodes": 2,
                        "dax_fs": a.fs, "layout": layout_note(a)}
        (vmd / "qemu-cmdline.txt").write_text(shlex.join(cmd) + "\n")
        boot_until_done(k, a, job, out, cmd, accel, env, meta, summary)
    except (VmError, UsageError) as e:
        meta["error"] = str(e)
        summary["error"] = str(e)
        log(f"error: {e}")
    finally:
        summary["seconds"] = round(time.monotonic() - t0, 1)
        meta["seconds"] = summary["seconds"]
        finish_results(out, meta, summary)
        progress.kernel = ""
    return summary


def stage_guest(k, a, job, vmd, fl, ko, notes):
    """The guest's inputs in the share (vm/): job file, binaries, driver
    tests, selftests, a built kernel's modules; returns guest.env's
    entries."""
    env = {"FL_JOB": job.name, "FL_FS": a.fs,
           "FL_TEST_HOOKS": "1" if a.test_hooks else "",
           "FL_DEVDAX": "1" if a.devdax else "",
           "FL_PMEM": "nvdimm" if a.pmem == "nvdimm" else "memmap",
           "FL_EXEC": a.exec or "",
           "FL_SET": " ".join(a.set), "FL_ARGS": a.faultline_args,
           "FL_SELFTESTS": "1" if a.selftests and k.selftests else "",
           "FL_SELFTESTS_ONLY": a.selftests_only.replace(",", " "),
           "FL_DRIVER": "", "FL_DRIVER_WHY": notes.get(
               "driver", "").removeprefix("driver not built: "),
           "FL_FAULTLINE_WHY": notes.get("faultline", "")}
    if is_stress(a):
        env.update(stressmode.prepare(a, job))
    shutil.copy2(job, vmd / job.name)
    if fl:
        shutil.copy2(fl, vmd / "faultline")
    elif (vmd / "faultline").exists():
        (vmd / "faultline").unlink()
    if ko:
        shutil.copy2(ko, vmd / "faultline.ko")
        env["FL_DRIVER"] = "faultline.ko"
    for t in ("fl-smoke", "fl-fuzz", "fl-unload"):
        built = k.build_dir / "src" / "tests" / "driver" / t
        if ko and built.exists():
            shutil.copy2(built, vmd / t)
        elif (vmd / t).exists():
            (vmd / t).unlink()
    if env["FL_SELFTESTS"]:
        if (vmd / "selftests").exists():
            shutil.rmtree(vmd / "selftests")
        shutil.copytree(k.selftests, vmd / "selftests", symlinks=True)
        # the runner script of this checkout, not the one cached with
        # the kernel build
        shutil.copy2(REPO / "scripts/guest/selftests-run",
                     vmd / "selftests" / "run")
    if k.modroot != k.root:
        # modules of a built kernel: bind-mounted over /lib/modules
        # (hard links when on the same filesystem: no copy)
        dst = vmd / "lib" / "modules" / k.release
        if not dst.exists():
            dst.parent.mkdir(parents=True, exist_ok=True)
            src = k.modroot / "lib/modules" / k.release
            if run(["cp", "-al", src, dst], check=False,
                   capture=True).returncode:
                shutil.rmtree(dst, ignore_errors=True)
                shutil.copytree(src, dst, symlinks=True)
    return env


def boot_until_done(k, a, job, out, cmd, accel, env, meta, summary):
    """Boot after boot (resuming the suite) until the guest reports done,
    --max-boots runs out, or the guest fails to reach the suite twice."""
    vmd = out / "vm"
    consolef = out / "console.log"
    resume = (out / "results.jsonl").exists()
    boot_fail = 0
    # A stress run is one boot: a splat ends it (no resume).
    for n in range(1, 2 if is_stress(a) else a.max_boots + 1):
        env["FL_BOOT"] = str(n)
        env["FL_RESUME"] = "1" if resume else "0"
        (vmd / "guest.env").write_text("".join(
            f"{kk}={shlex.quote(v)}\n" for kk, v in env.items()))
        boot = Boot(n)
        tp = time.monotonic()
        log(f"phase: boot {n} ({accel}{', resume' if resume else ''})")
        why = watch_qemu(cmd, consolef, boot, a, a.timeout,
                         a.boot_timeout)
        b = boot_entry(n, round(time.monotonic() - tp, 1), why, boot)
        meta["boots"].append(b)
        summary["phases"][f"boot{n}"] = b["seconds"]
        log(f"boot {n} ended: {why} after {b['seconds']} s "
            f"({boot.cases_done} cases finished)")
        save_console_dmesg(vmd / f"boot{n}", boot)
        if is_stress(a):
            meta["stress"] = summary["stress"] = stressmode.conclude(
                k, a, out, job, boot, why)
            break
        record_boot_end(out, boot, b, why, a.timeout, meta)
        if boot.done:
            break
        if not boot.suite_started or (why == "hung" and
                                      not boot.running):
            boot_fail += 1
            if boot_fail >= 2:
                raise VmError(f"guest failed to reach the suite twice "
                              f"({why}); see {consolef}")
        resume = True
    else:
        log(f"gave up after {a.max_boots} boots")
        meta["gave_up"] = True


def check_host():
    for tool in ("qemu-system-x86_64", "mmdebstrap", "mke2fs", "debugfs",
                 "unshare"):
        if not shutil.which(tool):
            raise VmError(f"{tool} not found: run scripts/install-deps "
                          "(packages: qemu-system-x86 mmdebstrap e2fsprogs "
                          "util-linux)")
    if os.geteuid() != 0:
        raise VmError("scripts/vm needs root (mmdebstrap, chroot, mount)")


def print_summary(rows):
    cols = ["kernel", "release", "accel", "boots", "pass", "fail", "skip",
            "error", "hung", "driver", "pmem", "time"]
    table = []
    for s in rows:
        c = s.get("counts", {})
        table.append([s["kernel"], s.get("release", "?"), s.get("accel", "?"),
                      str(s.get("boots", 0))] +
                     [str(c.get(x, 0)) for x in
                      ("pass", "fail", "skip", "error", "hung")] +
                     [str(s.get("driver", "?"))[:28],
                      str(s.get("pmem", "?"))[:28],
                      f"{s.get('seconds', 0):.0f}s"])
    w = [max(len(c), *(len(r[i]) for r in table)) for i, c in
         enumerate(cols)]
    print("  ".join(c.ljust(w[i]) for i, c in enumerate(cols)))
    for r in table:
        print("  ".join(x.ljust(w[i]) for i, x in enumerate(r)))
    for s in rows:
        print(f"{s['kernel']}: {s['out']}" +
              (f"  ERROR: {s['error']}" if s.get("error") else ""))


def exit_status(rows):
    for s in rows:
        c = s.get("counts", {})
        if s.get("error") or c.get("fail") or c.get("error") or \
                c.get("hung") or not c:
            return 1
    return 0


def cmd_run(a):
    job = check_job(a.suite)
    k = parse_kernel(a.kernel, a.kasan)
    check_host()
    check_kernels([k])
    if a.clean:
        clean_kernel(k)
    out = Path(a.out).resolve() if a.out else default_out(k.label)
    s = run_kernel(k, a, job, out)
    print_summary([s])
    return exit_status([s])


def cmd_stress(a):
    job = check_job(a.suite)
    k = parse_kernel(a.kernel, a.kasan)
    stressmode.parse_duration(a.duration or "0")
    out = Path(a.out).resolve() if a.out else default_out(
        "stress-" + k.label)
    if (out / "results.jsonl").exists():
        raise UsageError(f"{out} holds a run already (a stress run does not "
                         "resume): choose another --out")
    check_host()
    check_kernels([k])
    if a.clean:
        clean_kernel(k)
    s = run_kernel(k, a, job, out)
    print_summary([s])
    st = s.get("stress")
    if st:
        stressmode.print_summary(st)
    return 0 if st and st["result"] == "pass" and not s.get("error") else 1


def cmd_matrix(a):
    job = check_job(a.suite)
    ks = [parse_kernel(x, a.kasan) for x in a.kernels.split(",") if x]
    if not ks:
        raise UsageError("--kernels is empty")
    check_host()
    check_kernels(ks)
    base = Path(a.out).resolve() if a.out else (
        REPO / "results" /
        f"matrix-{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}")
    rows = []
    for i, k in enumerate(ks, 1):
        log(f"matrix: kernel {i}/{len(ks)}: {k.spec}")
        if a.clean:
            clean_kernel(k)
        rows.append(run_kernel(k, a, job, base / k.label))
    guest.write_json(base / "matrix.json", {"schema": "faultline.matrix/1",
                                            "suite": str(job),
                                            "kernels": rows})
    print_summary(rows)
    print(f"matrix: {base}")
    if a.fail_on:
        return matrix_gate(base, rows, a.fail_on)
    return exit_status(rows)


def matrix_gate(base, rows, rules):
    """--fail-on: the report of the matrix against its first kernel
    (BASE/report.md, report.json; reportlib's verdicts and gate, as
    `scripts/report --fail-on` has them).  1 when a rule triggered or a
    kernel left no results to compare, else 0: a case that fails on every
    kernel alike is no regression."""
    from reportlib import compare, load, render_md
    runs = [load.load_run(r["out"]) for r in rows]
    load.assign_labels(runs)
    lost = [f"{s['kernel']}: no results to compare ({s['out']})"
            for s, r in zip(rows, runs) if not r.usable]
    trig = []
    if runs[0].usable:
        rep = compare.build(runs, 0, compare.Settings(), rules)
        (base / "report.md").write_text(render_md.render(rep))
        guest.write_json(base / "report.json", rep)
        trig = rep["fail_on"]["triggered"]
        for t in rep["fail_on"].get("ignored", []):
            print(f"matrix: --fail-on: not gating on {t}")
        print(f"matrix: report against {rows[0]['kernel']}: "
              f"{base / 'report.md'}")
    for t in lost + trig:
        print(f"matrix: --fail-on: {t}")
    if not lost and not trig:
        print(f"matrix: --fail-on: no regression against "
              f"{rows[0]['kernel']}")
    return 1 if lost or trig else 0


def cmd_cache(a):
    c = cache_dir()
    what = a.clean
    if what is None:
        print(f"cache: {c}")
        for sub in ("roots", "images", "initramfs", "kernels", "git", "apt",
                    "build"):
            d = c / sub
            if d.exists():
                r = run(["du", "-sh", d], capture=True, check=False)
                print(f"  {sub:10s} {r.stdout.split()[0] if r.stdout else '?'}"
                      f"  {d}")
        return 0
    if what == "all":
        targets = [c / s for s in ("roots", "images", "initramfs", "kernels",
                                   "git", "apt", "build", "sources")]
    elif what in ("roots", "images", "initramfs", "kernels", "git", "apt",
                  "build", "sources"):
        targets = [c / what]
    elif SUITE_RE.match(what):
        roots.drop_root(what)
        targets = list((c / "images").glob(f"{what}-*"))
    else:
        raise UsageError(f"--clean {what!r}: use all, roots, images, "
                         "initramfs, kernels, git, apt, build, sources or a "
                         "suite")
    for t in targets:
        if t.is_dir():
            shutil.rmtree(t)
        elif t.exists():
            t.unlink()
        log(f"removed {t}")
    return 0
