"""The qemu side of a guest: the accelerator (KVM when a guest kernel
really runs under it, else TCG) and the command line: pc machine, vCPUs one
socket per NUMA node, RAM as two NUMA nodes, PMEM as a memmap= legacy
region or a qemu nvdimm on node 1, the guest disk, the 9p results share
and the serial console on stdio.

    cmd = qemu.qemu_command(k, a, accel, initrd, image, out)

`a` carries scripts/vm's options: mem, cpus, pmem, devdax,
numa_balancing (and cmd == "stress" for the stress panic arguments).
"""

import json
import os
import re
import subprocess
from pathlib import Path

from . import stressmode
from .common import UsageError, cache_dir, log, run

# Kernel parameters: splats end the boot at once (the host records the
# case and boots again), the console carries warnings and worse.
PANIC_ARGS = ("oops=panic panic_on_warn=1 softlockup_panic=1 "
              "hung_task_panic=1 panic=1")


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


def parse_size(s):
    m = re.match(r"^(\d+)([KMGT]?)$", s.upper())
    if not m:
        raise UsageError(f"bad size {s!r} (e.g. 6G)")
    return int(m.group(1)) << {"": 0, "K": 10, "M": 20, "G": 30,
                               "T": 40}[m.group(2)]


def layout_note(a):
    """Why the sizes are what they are (recorded in vm.json)."""
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
              stressmode.PANIC_ARGS if stressmode.is_stress(a) else PANIC_ARGS,
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


def qemu_version():
    r = run(["qemu-system-x86_64", "--version"], capture=True, check=False)
    return (r.stdout or "").splitlines()[0] if r.stdout else "?"

