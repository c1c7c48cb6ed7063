#!/usr/bin/python3
"""Guest half of tests/vm/pmem-setup (runs as root inside a scripts/vm guest,
before the guest init formats /dev/pmem0).

Checks scripts/pmem-setup on the emulated namespace, in order:
  1. list works;
  2. a zeroed namespace is accepted without --force (--dry-run);
  3. a namespace with a mounted ext4 holding a file is refused (exit 2),
     the output names the mount and the signature, the file survives;
  4. unmounted but with the ext4 signature: devdax refused (exit 2);
  5. fsdax --force --fs xfs: mounted -o dax at /mnt/pmem; faultline's
     dax cases run on it (DAX_JOB, results in /host/fsdax-xfs);
  6. devdax while xfs is mounted: refused (exit 2);
  7. devdax --force --align 2M: /dev/daxX.Y with align 2 MiB; faultline's
     devdax cases run on it (results in /host/devdax).
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
    checks.append({"check": name, "command": cmd, "rc": rc,
                   "want_rc": want_rc, "pass": ok, "output": out})
    print(f"pmem-setup-test: {'PASS' if ok else 'FAIL'} {name} (rc {rc})",
          flush=True)
    print(out, flush=True)
    return ok


def mount_line(mnt):
    with open("/proc/mounts") as f:
        return next((l for l in f if l.split()[1] == mnt), "")


def faultline(outdir, *args):
    rc, out = run(["/usr/local/bin/faultline", "run", "--prepare", "-q",
                   "--out", outdir, *args, VM + "/" + os.environ["DAX_JOB"]])
    checks.append({"check": "faultline " + outdir, "rc": rc,
                   "pass": rc in (0, 1), "output": out[-4000:]})
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
        faultline(HOST + "/fsdax-xfs", "--set", "dax_dir=/mnt/pmem")

    check("mounted xfs refused (devdax)", SETUP + ["devdax", "namespace0.0"],
          2, ["mounted at /mnt/pmem", "xfs", "refusing"])
    check("devdax --force", SETUP + ["devdax", "namespace0.0", "--force",
                                     "--align", "2M"], 0, ["devdax ready"])
    rc, out = run(["daxctl", "list"])
    checks.append({"check": "daxctl list", "rc": rc, "pass": rc == 0,
                   "output": out})
    dev = next((f"/dev/{d}" for d in sorted(os.listdir("/dev"))
                if d.startswith("dax")), None)
    if dev:
        faultline(HOST + "/devdax", "--set", "devdax=" + dev)
    with open(HOST + "/pmem-setup-test.json", "w") as f:
        json.dump({"kernel": os.uname().release, "checks": checks}, f,
                  indent=1)
    print("pmem-setup-test: done "
          f"{sum(c['pass'] for c in checks)}/{len(checks)} passed", flush=True)


if __name__ == "__main__":
    main()
