"""scripts/vm run / matrix / cache: resolve kernels, build, boot under qemu,
watch the console, handle crashes and hangs, bring results home."""

import json
import os
import platform
import queue
import re
import shlex
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path

from . import guest, roots, stressmode
from .common import (REPO, UsageError, VmError, cache_dir, host_mirror, log,
                     progress, run)

ALIASES = {"5.10": "bullseye", "6.1": "bookworm", "6.12": "trixie",
           "7.2": "sid"}
SUITE_RE = re.compile(r"^[a-z][a-z0-9.-]*$")

# Kernel parameters: splats end the boot at once (the host records the
# case and boots again), the console carries warnings and worse.
PANIC_ARGS = ("oops=panic panic_on_warn=1 softlockup_panic=1 "
              "hung_task_panic=1 panic=1")



def is_stress(a):
    return getattr(a, "cmd", "") == "stress"


# --------------------------------------------------------------------------
# kernels

class Kernel:
    """A resolved kernel: what to boot and where its root/modules are."""

    def __init__(self, spec, label, suite, kind):
        self.spec, self.label, self.suite, self.kind = spec, label, suite, kind
        self.root = None        # the Debian root (build chroot, guest fs)
        self.vmlinuz = None
        self.modroot = None     # dir holding lib/modules/<release>
        self.release = None
        self.kdir = None        # headers path inside the root (chroot view)
        self.kdir_host = None   # extra host dir bind-mounted for path:/build:
        self.selftests = None   # host dir with built mm selftests
        self.build_dir = None   # faultline + driver build for this kernel
        self.notes = {}


def parse_kernel(spec, kasan=False):
    """Validate a kernel spec (no side effects); UsageError if bad."""
    s = spec.strip()
    if s in ALIASES:
        return Kernel(s, s, ALIASES[s], "debian")
    if s.startswith("debian:"):
        suite = s[len("debian:"):]
        if not SUITE_RE.match(suite):
            raise UsageError(f"bad Debian suite in kernel spec {spec!r}")
        return Kernel(s, suite, suite, "debian")
    if s.startswith("build:"):
        ver = s[len("build:"):]
        var = "kasan" if kasan or ver.endswith("+kasan") else ""
        ver = ver.replace("+kasan", "")
        if not re.match(r"^\d+\.\d+$", ver):
            raise UsageError(f"build:VERSION wants a version like 6.12, "
                             f"got {spec!r}")
        k = Kernel(s, f"build-{ver}" + (f"-{var}" if var else ""), None,
                   "build")
        k.version, k.variant = ver, var
        return k
    if s.startswith("path:"):
        d = Path(s[len("path:"):]).expanduser()
        if not d.is_dir():
            raise UsageError(f"kernel spec {spec!r}: {d} is not a directory")
        return Kernel(s, "path-" + d.resolve().name, None, "path")
    raise UsageError(f"unknown kernel spec {spec!r} (use 5.10, 6.1, 6.12, "
                     "7.2, debian:SUITE, build:VERSION or path:DIR)")


def resolve_kernel(k, a):
    """Make the root, find the kernel image and modules."""
    if k.kind == "debian":
        k.root = roots.ensure_root(k.suite)
        k.release = guest.kernel_releases(k.root)
        k.vmlinuz = k.root / "boot" / f"vmlinuz-{k.release}"
        k.modroot = k.root
        k.kdir = f"/usr/src/linux-headers-{k.release}"
        if k.spec in ALIASES and not k.release.startswith(k.spec + "."):
            k.notes["version"] = (f"{k.suite} now ships {k.release}, not "
                                  f"{k.spec}")
            log(f"note: {k.notes['version']}")
    elif k.kind == "build":
        from . import kbuild
        kbuild.resolve(k, a)
    else:
        resolve_path_kernel(k, a)
    return k


def resolve_path_kernel(k, a):
    d = Path(k.spec[len("path:"):]).expanduser().resolve()
    cands = [d / "arch/x86/boot/bzImage", d / "bzImage"] + sorted(
        d.glob("vmlinuz*")) + sorted(d.glob("boot/vmlinuz*"))
    img = next((c for c in cands if c.is_file()), None)
    if not img:
        raise UsageError(f"{d}: no bzImage or vmlinuz* (path:DIR wants a "
                         "built kernel tree or an install dir)")
    mods = sorted((d / "lib/modules").glob("*/modules.dep"))
    if not mods:
        raise UsageError(f"{d}: no lib/modules/<release>/modules.dep (run "
                         f"make modules_install INSTALL_MOD_PATH={d})")
    k.release = mods[-1].parent.name
    k.vmlinuz, k.modroot = img, d
    k.suite = os.environ.get("FAULTLINE_VM_ROOT_SUITE", "bookworm")
    k.root = roots.ensure_root(k.suite)
    build = d / "lib/modules" / k.release / "build"
    hdr = build if (build / "Makefile").exists() else d
    if (hdr / "Makefile").exists():
        k.kdir_host, k.kdir = hdr.resolve(), "/srv"
    else:
        k.notes["driver"] = f"driver not built: no kernel build tree in {d}"


# --------------------------------------------------------------------------
# accel

def detect_accel(k, want):
    """kvm when a guest actually runs under it, else tcg (and why)."""
    if want in ("kvm", "tcg"):
        return want, "asked for"
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        return "tcg", "no usable /dev/kvm"
    boot_id = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    cf = cache_dir() / "accel.json"
    try:
        c = json.loads(cf.read_text())
        if c.get("boot_id") == boot_id:
            return c["accel"], c["why"] + " (cached for this host boot)"
    except (OSError, ValueError, KeyError):
        pass
    log("probing KVM: booting the kernel under -accel kvm for 20 s")
    cmd = ["qemu-system-x86_64", "-accel", "kvm", "-M", "pc", "-cpu", "host",
           "-m", "512", "-display", "none", "-nodefaults", "-serial",
           "stdio", "-no-reboot", "-kernel", str(k.vmlinuz), "-append",
           "console=ttyS0 earlyprintk=serial,ttyS0,115200 panic=-1"]
    try:
        r = subprocess.run(cmd, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=20)
        out = r.stdout
        fail = (out.decode(errors="replace").strip().splitlines() or
                [f"qemu exited with status {r.returncode}"])[-1]
    except subprocess.TimeoutExpired as e:
        out = e.stdout or b""
        fail = "no kernel banner within 20 s"
    if b"Linux version" in out:
        accel, why = "kvm", "a guest kernel printed its banner under KVM"
    else:
        accel, why = "tcg", (f"/dev/kvm present but a stock kernel does not "
                             f"run under it: {fail[:160]}")
    cf.parent.mkdir(parents=True, exist_ok=True)
    cf.write_text(json.dumps({"boot_id": boot_id, "accel": accel,
                              "why": why}) + "\n")
    return accel, why


# --------------------------------------------------------------------------
# qemu

def parse_size(s):
    m = re.match(r"^(\d+)([KMGT]?)$", s.upper())
    if not m:
        raise UsageError(f"bad size {s!r} (e.g. 6G)")
    return int(m.group(1)) << {"": 0, "K": 10, "M": 20, "G": 30,
                               "T": 40}[m.group(2)]


def layout_note(a):
    """Why the sizes are what they are (see KERNEL-NOTES, emulation)."""
    if a.pmem == "nvdimm":
        return ("qemu nvdimm (NFIT, 2G file-backed) on node 1; RAM split "
                "evenly between the two nodes")
    return (f"-m {a.mem}: node 0 = the 3G the pc machine maps below 4G, "
            "node 1 = the rest, mapped from 4G up; one socket per node "
            "(CPUs sharing an LLC across nodes WARN in topology_sane). "
            f"memmap={a.pmem} must lie in guest RAM at or above 4G, so the "
            "PMEM region sits in node 1. With 6G node 1 keeps only 1G of "
            "RAM (too little for NUMA migration storms and node-local "
            "huge pages); 8G gives 3G of RAM to each node")


def qemu_command(k, a, accel, initrd, image, out):
    mem = parse_size(a.mem)
    # Node 0 = the 3G the pc machine maps below 4G (when there is that
    # much), node 1 = everything from 4G up, where memmap= PMEM lives.
    half = 3072 if mem >= 6 << 30 else (mem // 2) >> 20
    rest = (mem >> 20) - half
    ncpu = a.cpus
    c0 = f"0-{max(0, ncpu // 2 - 1)}" if ncpu > 1 else "0"
    c1 = f"{ncpu // 2}-{ncpu - 1}" if ncpu > 1 else None
    cmd = ["qemu-system-x86_64", "-name", f"faultline-{k.label}",
           "-machine", "pc,accel=" + accel + (",nvdimm=on"
                                              if a.pmem == "nvdimm" else ""),
           "-cpu", "host" if accel == "kvm" else "max",
           # One socket per NUMA node: CPUs of two nodes sharing an LLC
           # make the guest WARN in topology_sane() at boot.
           "-smp", (f"{ncpu},sockets=2,cores={ncpu // 2},threads=1"
                    if ncpu > 1 and ncpu % 2 == 0 else str(ncpu))]
    if a.pmem == "nvdimm":
        cmd += ["-m", f"{mem >> 20}M,slots=2,maxmem={(mem >> 20) + 4096}M"]
    else:
        cmd += ["-m", f"{mem >> 20}M"]
    cmd += ["-object", f"memory-backend-ram,id=m0,size={half}M",
            "-numa", f"node,nodeid=0,cpus={c0},memdev=m0",
            "-object", f"memory-backend-ram,id=m1,size={rest}M",
            "-numa", "node,nodeid=1" + (f",cpus={c1}" if c1 else "") +
            ",memdev=m1"]
    append = ["console=ttyS0,115200", "loglevel=5", "rw",
              stressmode.PANIC_ARGS if is_stress(a) else PANIC_ARGS,
              "no_hash_pointers", "transparent_hugepage=madvise"]
    if not a.numa_balancing:
        # Automatic NUMA balancing (on by default with 2 nodes) turns THP
        # pmds PROT_NONE and migrates pages under the workloads: on 6.1 a
        # fresh 256M MADV_HUGEPAGE buffer showed 40 of 256 MB in
        # AnonHugePages with it on, all 256 MB with it off.
        append.append("numa_balancing=disable")
    if a.pmem == "nvdimm":
        # the DIMM's backing file: fresh (sparse) each run, outside the
        # results folder the guest sees over 9p
        pm = cache_dir() / "nvdimm" / f"{k.label}.img"
        pm.parent.mkdir(parents=True, exist_ok=True)
        with open(pm, "wb") as f:
            f.truncate(2 << 30)
        cmd += ["-object", f"memory-backend-file,id=nv0,share=on,"
                f"mem-path={pm},size=2G,align=2M",
                "-device", "nvdimm,id=nvdimm0,memdev=nv0,node=1"]
    else:
        append.append(f"memmap={a.pmem}")
        if a.devdax:
            # a second legacy region right after the first, for devdax
            size, _, off = a.pmem.partition("!")
            end = parse_size(size) + parse_size(off)
            append.append(f"memmap=1G!{end >> 20}M")
            # keep 1G of RAM in node 1 beside both regions
            if end + (2 << 30) > (4 << 30) + mem - (3 << 30):
                raise UsageError("--devdax needs --mem "
                                 f"{(end >> 30) + 1}G or more")
    cmd += ["-kernel", str(k.vmlinuz), "-initrd", str(initrd),
            "-append", " ".join(append),
            "-drive", f"file={image},format=raw,if=virtio,snapshot=on,"
            "cache=unsafe",
            "-virtfs", f"local,path={out},mount_tag=host,"
            "security_model=none,id=host",
            "-display", "none", "-nodefaults", "-no-reboot",
            "-serial", "stdio", "-monitor", "none"]
    return cmd


# --------------------------------------------------------------------------
# console watching

TS_RE = re.compile(r"^\[\s*\d+\.\d+\]\s?")
SPLAT_START = re.compile(
    r"(------------\[ cut here \]------------|^BUG: |^kernel BUG at |"
    r"^Oops: |^general protection fault|^WARNING: |^Kernel panic|"
    r"^INFO: task .* blocked for more than|watchdog: BUG: soft lockup|"
    r"[Hh]ard LOCKUP|^UBSAN: |^=+$|^BUG: KASAN|^BUG: KFENCE|"
    r"^Unable to handle kernel|^sysrq: Trigger a crash)")
SPLAT_END = re.compile(r"---\[ end (trace|Kernel panic)")
CASE_RE = re.compile(r"faultline: case-(start|end) (\d+)/(\d+) (\S+)"
                     r"(?: (\S+))?")


HEADLINE = re.compile(r"BUG:|Oops:|WARNING:|Kernel panic|general protection|"
                      r"KASAN|INFO: task|soft lockup|LOCKUP|UBSAN|"
                      r"kernel BUG|Unable to handle")


def headline(lines):
    """The line that names a splat best (not `cut here` or a ==== rule)."""
    body = [TS_RE.sub("", x) for x in lines]
    return next((b for b in body if HEADLINE.search(b)),
                next((b for b in body if SPLAT_START.search(b)), body[0]))


class Boot:
    """State of one guest boot, fed line by line from the console."""

    def __init__(self, n):
        self.n = n
        self.started = time.monotonic()
        self.last_event = self.started
        self.running = None         # (seq, total, label) of the open case
        self.cases_done = 0
        self.total = None
        self.suite_started = False
        self.done = False
        self.splats = []            # [{"case":..., "lines": [...]}]
        self.cur_splat = None
        self.recent = []
        self.status = {}
        self.outcome = None
        self.kernel_lines = []      # for dmesg.txt when the boot crashed
        self.stress = stressmode.Watch()
        self.suite_at = None        # when the suite (or stress run) began

    def feed(self, line):
        line = line.rstrip("\r\n")
        kern = TS_RE.match(line)
        body = line[kern.end():] if kern else line
        if kern:
            self.kernel_lines.append(line)
            if self.cur_splat is not None:
                self.cur_splat["lines"].append(line)
                if SPLAT_END.search(body) or len(
                        self.cur_splat["lines"]) >= 120:
                    self.cur_splat = None
            elif SPLAT_START.search(body) and not re.match(r"^=+$", body):
                ctx = [x for x in self.recent[-3:] if TS_RE.match(x)]
                self.cur_splat = {"case": self.running,
                                  "lines": ctx + [line],
                                  "at": round(time.monotonic() -
                                              self.started, 1)}
                self.splats.append(self.cur_splat)
                progress.line(f"boot {self.n}: kernel splat: {body[:100]}")
            elif re.match(r"^=+$", body):
                # lockdep/KASAN reports open with a ==== rule: keep it in
                # `recent` so the excerpt starts there
                pass
            self.recent = (self.recent + [line])[-5:]
            return
        self.recent = (self.recent + [line])[-5:]
        sp = self.stress.feed(line)
        if sp:
            self.last_event = time.monotonic()
            progress.status(f"boot {self.n}: {sp}")
            return
        m = CASE_RE.search(line)
        if m:
            kind, seq, total, label = m.group(1), int(m.group(2)), \
                int(m.group(3)), m.group(4)
            self.total = total
            self.last_event = time.monotonic()
            self.suite_started = True
            if kind == "start":
                self.running = (seq, total, label)
                progress.status(f"boot {self.n}: case {seq}/{total} {label}")
            else:
                self.running = None
                self.cases_done += 1
                progress.status(f"boot {self.n}: case {seq}/{total} {label} "
                                f"-> {m.group(5)}")
            return
        if line.startswith("faultline-vm: "):
            msg = line[len("faultline-vm: "):]
            self.last_event = time.monotonic()
            if msg.startswith("run faultline"):
                self.suite_started = True
                self.suite_at = time.monotonic()
            if msg.startswith("done"):
                self.done = True
            if "=" in msg and not msg.startswith(("run ", "done")):
                key, _, val = msg.partition("=")
                self.status[key] = val
            progress.line(f"boot {self.n}: {msg}")


def watch_qemu(cmd, consolef, boot, a, timeout_case, boot_timeout):
    """Run qemu until it exits or is killed; returns 'exit'|'hung'|
    'splat'|'boot-timeout'."""
    with open(consolef, "ab") as cf:
        cf.write(f"\n===== faultline-vm boot {boot.n} "
                 f"{time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())} "
                 "=====\n".encode())
        p = subprocess.Popen(["nice", "-n", "5"] + cmd,
                             stdin=subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             start_new_session=True)
        q = queue.Queue()

        def reader():
            for raw in iter(p.stdout.readline, b""):
                cf.write(raw)
                cf.flush()
                q.put(raw.decode("utf-8", "replace"))
            q.put(None)
        t = threading.Thread(target=reader, daemon=True)
        t.start()
        why, splat_at = "exit", None
        while True:
            try:
                line = q.get(timeout=1)
            except queue.Empty:
                line = ""
            if line is None:
                break
            if line:
                nsplat = len(boot.splats)
                boot.feed(line)
                if len(boot.splats) > nsplat and splat_at is None:
                    splat_at = time.monotonic()
            now = time.monotonic()
            if splat_at and now - splat_at > (
                    stressmode.SPLAT_GRACE_S if is_stress(a) else 20):
                why = "splat"   # a splat that did not panic (e.g. lockdep)
                break
            if is_stress(a) and boot.suite_at and not boot.done and \
                    now - boot.suite_at > a.stress_s + stressmode.OVERRUN_S:
                why = "hung"    # progress lines, but no end
                break
            if not boot.suite_started and now - boot.started > boot_timeout:
                why = "boot-timeout"
                break
            if boot.suite_started and not boot.done and \
                    now - boot.last_event > timeout_case:
                why = "hung"
                break
            if boot.done and now - boot.last_event > 60:
                why = "exit"    # powered off too slowly: done anyway
                break
        if p.poll() is None:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        p.wait()
        t.join(timeout=5)
        cf.write(f"\n===== faultline-vm boot {boot.n} ended: {why}, qemu "
                 f"status {p.returncode} =====\n".encode())
        return why


# --------------------------------------------------------------------------
# results

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


# --------------------------------------------------------------------------
# one kernel

def default_out(label, base=None):
    ts = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    if base:
        return Path(base) / label
    return REPO / "results" / f"vm-{ts}-{label}"


def check_kernels(ks):
    """Bad specs are usage errors before anything runs: a Debian suite
    the mirror does not have, a build: version no suite ships."""
    for k in ks:
        if k.kind == "debian" and roots.root_info(k.suite) is None:
            try:
                roots.AptConfig(k.suite).update()
            except VmError:
                shutil.rmtree(roots.AptConfig(k.suite).dir,
                              ignore_errors=True)
                raise UsageError(f"kernel {k.spec}: Debian suite {k.suite} "
                                 f"not found on {host_mirror()}") from None
    log(f"cache {cache_dir()}")


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
        # Guest inputs in the share.
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
        cmd = qemu_command(k, a, accel, initrd, image, out)
        meta["qemu"] = {"command_line": cmd, "version": qemu_version(),
                        "memory": a.mem, "cpus": a.cpus,
                        "pmem": a.pmem, "numa_nodes": 2,
                        "dax_fs": a.fs, "layout": layout_note(a)}
        (vmd / "qemu-cmdline.txt").write_text(shlex.join(cmd) + "\n")
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
            b = {"boot": n, "seconds": round(time.monotonic() - tp, 1),
                 "end": why, "done": boot.done, "status": boot.status,
                 "cases_seen": boot.cases_done,
                 "splats": [{"case": s["case"][2] if s["case"] else None,
                             "at_s": s["at"], "lines": s["lines"]}
                            for s in boot.splats]}
            meta["boots"].append(b)
            summary["phases"][f"boot{n}"] = b["seconds"]
            log(f"boot {n} ended: {why} after {b['seconds']} s "
                f"({boot.cases_done} cases finished)")
            bdir = vmd / f"boot{n}"
            if not (bdir / "dmesg.txt").exists() and boot.kernel_lines:
                bdir.mkdir(exist_ok=True)
                (bdir / "dmesg.txt").write_text(
                    "# boot ended before dmesg was saved: kernel lines "
                    "from the serial console\n" +
                    "\n".join(boot.kernel_lines) + "\n")
            if is_stress(a):
                meta["stress"] = summary["stress"] = stressmode.conclude(
                    k, a, out, job, boot, why)
                break
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
                        b["splats"][0])
            elif why == "hung" and boot.running:
                record_case_error(
                    out, boot.running,
                    f"guest stopped answering: no progress for "
                    f"{a.timeout} s; killed", boot.recent, hung=True)
                log(f"case {boot.running[2]}: hung, guest killed")
            elif not boot.done and boot.running:
                record_case_error(
                    out, boot.running, "guest died during the case "
                    f"({why}) without a kernel report", boot.recent)
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


def qemu_version():
    r = run(["qemu-system-x86_64", "--version"], capture=True, check=False)
    return (r.stdout or "").splitlines()[0] if r.stdout else "?"


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
    return exit_status(rows)


def clean_kernel(k):
    if k.kind == "debian":
        roots.drop_root(k.suite)
        for p in (cache_dir() / "images").glob(f"{k.suite}-*"):
            p.unlink()
    elif k.kind == "build":
        d = cache_dir() / "kernels"
        for p in d.glob(f"{k.label}-*"):
            shutil.rmtree(p, ignore_errors=True)
            log(f"removed {p}")


def cmd_cache(a):
    c = cache_dir()
    what = a.clean
    if what is None:
        print(f"cache: {c}")
        for sub in ("roots", "images", "initramfs", "kernels", "apt",
                    "build"):
            d = c / sub
            if d.exists():
                r = run(["du", "-sh", d], capture=True, check=False)
                print(f"  {sub:10s} {r.stdout.split()[0] if r.stdout else '?'}"
                      f"  {d}")
        return 0
    if what == "all":
        targets = [c / s for s in ("roots", "images", "initramfs", "kernels",
                                   "apt", "build", "sources")]
    elif what in ("roots", "images", "initramfs", "kernels", "apt", "build",
                  "sources"):
        targets = [c / what]
    elif SUITE_RE.match(what):
        roots.drop_root(what)
        targets = list((c / "images").glob(f"{what}-*"))
    else:
        raise UsageError(f"--clean {what!r}: use all, roots, images, "
                         "initramfs, kernels, apt, build, sources or a suite")
    for t in targets:
        if t.is_dir():
            shutil.rmtree(t)
        elif t.exists():
            t.unlink()
        log(f"removed {t}")
    return 0
