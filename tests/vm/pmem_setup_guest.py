#!/usr/bin/python3
"""Guest half of tests/vm/pmem-setup (runs as root inside a scripts/vm guest,
before the guest init formats /dev/pmem0).

Checks scripts/pmem-setup on the emulated namespace, in order:
  1. list works;
  2. a zeroed namespace is accepted without --force (--dry-run);
  3. a namespace with a mounted ext4 holding a file is refused (exit 2),
     the output names the mount and the signature, the file survives;
  4. unmounted but with the ext4 signature: devdax refused (exit 2);
  5. fsdax --force --fs xfs: mounted -o dax at /mnt/pmem; DAX_JOB's
     FSDAX_SECTIONS all pass on it (results in /host/fsdax-xfs);
  6. devdax while xfs is mounted: refused (exit 2);
  7. devdax --force --align 2M: /dev/daxX.Y with align 2 MiB;
     DEVDAX_SECTIONS all pass on it (results in /host/devdax).
Writes /host/pmem-setup-test.json: one entry per check with rc and output.
"""

import json
import os
import shutil
import subprocess
import sys

HOST = "/host"
VM = HOST + "/vm"
SETUP = [sys.executable, VM + "/pmem-setup"]
checks = []
# dax.job's sections that tell a right setup from a wrong one (pmds where
# aligned, pte or EINVAL where not), and GUP on it.  Not the whole job: its
# [dax-fio] reads 2 GiB per fio run for 11 rounds, a timing that belongs
# to tests/vm/dax-fio, not to a setup check.
FSDAX_SECTIONS = "dax-modes,dax-va-misaligned,dax-size-above,dax-gup"
DEVDAX_SECTIONS = "dax-devdax,dax-devdax-misaligned,dax-gup-devdax"

# Every check main() records, in order: the host (tests/vm/pmem-setup)
# declares them before the boot and fails those the guest never records.
CHECKS = (
    "list",
    "zeroed namespace accepted (dry run)",
    "mounted ext4 refused",
    "ext4 signature refused (devdax)",
    "fsdax --force xfs",
    f"fsdax xfs: faultline's [{FSDAX_SECTIONS}] cases all pass",
    "mounted xfs refused (devdax)",
    "devdax --force",
    "daxctl list",
    f"devdax: faultline's [{DEVDAX_SECTIONS}] cases all pass",
)


def record(entry):
    """One finished check, saved at once (below)."""
    checks.append(entry)
    save()


def save(done=False):
    """Written after every check: a guest that hangs later still leaves
    the checks it finished for the host to report."""
    with open(HOST + "/pmem-setup-test.json.tmp", "w") as f:
        json.dump({"kernel": os.uname().release, "done": done,
                   "checks": checks}, f, indent=1)
    os.replace(HOST + "/pmem-setup-test.json.tmp", HOST + "/pmem-setup-test.json")


def run(cmd, **kw):
    if cmd[0] in ("mount", "umount") and not shutil.which(cmd[0]):
        cmd = ["busybox"] + cmd
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, **kw)
    except OSError as e:
        return 127, f"{cmd[0]}: {e}"
    return p.returncode, p.stdout + p.stderr


def check(name, cmd, want_rc, must_contain=(), then=None):
    rc, out = run(cmd)
    ok = rc == want_rc and all(s in out for s in must_contain)
    extra = then() if then and ok else None
    if extra:
        ok, out = False, out + "\n" + extra
    record({"check": name, "command": cmd, "rc": rc,
            "want_rc": want_rc, "pass": ok, "output": out})
    print(f"pmem-setup-test: {'PASS' if ok else 'FAIL'} {name} (rc {rc})",
          flush=True)
    print(out, flush=True)
    return ok


def mount_line(mnt):
    with open("/proc/mounts") as f:
        return next((l for l in f if l.split()[1] == mnt), "")


def faultline(name, outdir, sections, *args):
    """faultline's dax cases of SECTIONS (the job's) on the namespace as
    pmem-setup left it.  The check passes when every case passed: the
    sections chosen expect pmds where the geometry is right (aligned cases,
    devdax align 2M) and a pte fallback or a refused mmap where it is not,
    so a namespace set up without su=2m or the wrong align fails here."""
    rc, out = run(["/usr/local/bin/faultline", "run", "--prepare", "-q",
                   "--out", outdir, "--section", sections, *args,
                   VM + "/" + os.environ["DAX_JOB"]])
    status = {}
    try:
        with open(outdir + "/results.jsonl") as f:
            for line in f:
                r = json.loads(line)
                status.setdefault(r["status"], []).append(r["case"])
    except (OSError, ValueError) as e:
        out += f"\nresults.jsonl: {e}"
    summary = ", ".join(f"{len(v)} {k}" for k, v in sorted(status.items()))
    bad = [c for k, v in status.items() if k != "pass" for c in v]
    ok = rc == 0 and status.get("pass") and not bad
    record({"check": f"{name}: faultline's [{sections}] cases all pass",
            "summary": summary, "rc": rc, "pass": bool(ok),
            "output": ("not passed: " + "; ".join(bad) + "\n" if bad else "")
            + out[-4000:]})
    print(f"pmem-setup-test: {'PASS' if ok else 'FAIL'} {name}: faultline {summary}",
          flush=True)
    print(out[-4000:], flush=True)


def main():
    for m in ("nd_e820", "nd_pmem", "dax_pmem", "device_dax", "dax_pmem_core",
              "dax_pmem_compat"):
        run(["modprobe", m])
    run(["cp", VM + "/faultline", "/usr/local/bin/faultline"])
    if os.path.exists(VM + "/faultline.ko"):
        run(["insmod", VM + "/faultline.ko"])
    os.makedirs("/mnt/user", exist_ok=True)
    os.makedirs("/mnt/pmem", exist_ok=True)

    check("list", SETUP + ["list"], 0, ["namespace0.0"])
    check("zeroed namespace accepted (dry run)",
          SETUP + ["fsdax", "namespace0.0", "--dry-run"], 0,
          ["no filesystem, mount or data found"])

    # A user's filesystem with a file on it.
    run(["mkfs.ext4", "-q", "-F", "-L", "userdata", "/dev/pmem0"])
    run(["mount", "/dev/pmem0", "/mnt/user"])
    with open("/mnt/user/precious", "w") as f:
        f.write("keep me\n")
    check("mounted ext4 refused", SETUP + ["fsdax", "namespace0.0"], 2,
          ["mounted at /mnt/user", "ext4", "refusing"],
          then=lambda: None if open("/mnt/user/precious").read() == "keep me\n"
          else "the file did not survive the refusal")
    run(["umount", "/mnt/user"])
    check("ext4 signature refused (devdax)",
          SETUP + ["devdax", "namespace0.0"], 2, ["ext4", "refusing"])

    check("fsdax --force xfs", SETUP + ["fsdax", "namespace0.0", "--force",
                                        "--fs", "xfs", "--mount", "/mnt/pmem"],
          0, ["fsdax ready"],
          then=lambda: None if " xfs " in mount_line("/mnt/pmem") and
          "dax" in mount_line("/mnt/pmem") else
          "not xfs -o dax: " + mount_line("/mnt/pmem"))
    if " xfs " in mount_line("/mnt/pmem"):
        faultline("fsdax xfs", HOST + "/fsdax-xfs", FSDAX_SECTIONS,
                  "--set", "dax_dir=/mnt/pmem")

    check("mounted xfs refused (devdax)", SETUP + ["devdax", "namespace0.0"],
          2, ["mounted at /mnt/pmem", "xfs", "refusing"])
    check("devdax --force", SETUP + ["devdax", "namespace0.0", "--force",
                                     "--align", "2M"], 0, ["devdax ready"])
    rc, out = run(["daxctl", "list"])
    record({"check": "daxctl list", "rc": rc, "pass": rc == 0, "output": out})
    dev = next((f"/dev/{d}" for d in sorted(os.listdir("/dev"))
                if d.startswith("dax")), None)
    if dev:
        faultline("devdax", HOST + "/devdax", DEVDAX_SECTIONS,
                  "--set", "devdax=" + dev)
    save(done=True)
    print("pmem-setup-test: done "
          f"{sum(c['pass'] for c in checks)}/{len(checks)} passed", flush=True)


if __name__ == "__main__":
    main()
