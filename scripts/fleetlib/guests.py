"""Full Debian systems under qemu, reached over SSH, as fleet test hosts.

Unlike scripts/vm's guests (faultline's own init runs a suite and powers
off), these boot Debian's systemd with sshd, as a lab machine would, so the
Ansible role can install faultline, build it, put faultline.ko through DKMS
and run a suite in them.

  image(suite)  -> Image: a raw ext4 disk of an mmdebstrap root (systemd,
                   openssh-server, python3, dkms, the kernel and its
                   headers, faultline's build packages), Debian's kernel and
                   initrd from it, a root login key made for it.  Cached
                   under <cache>/fleet-guests/<suite>/.
  Guest(img, port, workdir).start() / wait_ssh() / stop()
                -> qemu with a copy-on-write overlay of the image (the
                   cached image stays as built), user-mode networking with
                   `restrict=on` (the guest reaches nothing outside) and
                   hostfwd 127.0.0.1:port -> guest port 22.

Python 3 stdlib only; needs root, mmdebstrap, qemu-system-x86, qemu-utils,
e2fsprogs, openssh-client.
"""

import hashlib
import json
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

from vmlib.common import VmError, cache_dir, host_mirror, log, run
from vmlib.roots import BUILD_EXTRAS, PACKAGES

# What a lab machine has beside faultline's build packages: an init that
# brings up the network and sshd, Python for Ansible, git and DKMS.
SYSTEM = ["systemd-sysv", "udev", "openssh-server", "python3", "git", "dkms",
          "iproute2", "tar", "ca-certificates"]
IMAGE_SIZE = "6G"

NETWORK = """[Match]
Name=e*

[Network]
DHCP=yes
"""


class Image:
    def __init__(self, d):
        self.dir = Path(d)
        info = json.loads((self.dir / "image.json").read_text())
        self.suite = info["suite"]
        self.disk = self.dir / "disk.img"
        self.kernel = self.dir / info["vmlinuz"]
        self.initrd = self.dir / info["initrd"]
        self.key = self.dir / "id_ed25519"
        self.host_key = info["host_key"]
        self.release = info["release"]


def _key(suite, pkgs):
    return hashlib.sha256(f"{suite} {' '.join(sorted(pkgs))} {NETWORK}"
                          .encode()).hexdigest()[:12]


def image(suite):
    """The cached image of `suite`, made when missing."""
    pkgs = sorted(set(PACKAGES + BUILD_EXTRAS + SYSTEM))
    d = cache_dir() / "fleet-guests" / suite
    want = _key(suite, pkgs)
    try:
        if json.loads((d / "image.json").read_text()).get("key") == want:
            log(f"fleet guest {suite}: cached image {d}")
            return Image(d)
    except (OSError, ValueError):
        pass
    if d.exists():
        shutil.rmtree(d)
    d.mkdir(parents=True)
    t0 = time.monotonic()
    logf = d / "build.log"
    run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C",
         f"faultline-fleet-guest-{suite}", "-f", d / "id_ed25519"])
    tree = d / "tree"
    hooks = [
        f'mkdir -p -m 700 "$1/root/.ssh" && cp {d}/id_ed25519.pub "$1/root/.ssh/authorized_keys"',
        f"printf '%s' '{NETWORK}' > \"$1/etc/systemd/network/10-dhcp.network\"",
        'chroot "$1" systemctl enable systemd-networkd ssh',
        'echo "/dev/vda / ext4 rw,relatime 0 1" > "$1/etc/fstab"',
        f'echo "fleet-{suite}" > "$1/etc/hostname"',
    ]
    log(f"fleet guest {suite}: mmdebstrap ({len(pkgs)} packages; log {logf})")
    cmd = ["mmdebstrap", "--variant=apt", "--include=" + ",".join(pkgs),
           "--aptopt=Acquire::Retries \"3\""]
    for h in hooks:
        cmd += ["--customize-hook", h]
    run(cmd + [suite, tree, f"deb {host_mirror()} {suite} main"],
        logfile=logf, nice=True)
    boot = sorted((tree / "boot").glob("vmlinuz-*"))
    if not boot:
        raise VmError(f"fleet guest {suite}: no kernel in the root (log {logf})")
    release = boot[-1].name[len("vmlinuz-"):]
    for name in (f"vmlinuz-{release}", f"initrd.img-{release}"):
        shutil.copy(tree / "boot" / name, d / name)
    host_key = " ".join((tree / "etc/ssh/ssh_host_ed25519_key.pub")
                        .read_text().split()[:2])
    run(["mkfs.ext4", "-q", "-F", "-L", "fleet-root", "-d", tree,
         d / "disk.img", IMAGE_SIZE], logfile=logf)
    shutil.rmtree(tree)
    (d / "image.json").write_text(json.dumps({
        "suite": suite, "key": want, "release": release,
        "vmlinuz": f"vmlinuz-{release}", "initrd": f"initrd.img-{release}",
        "host_key": host_key, "packages": pkgs,
        "seconds": round(time.monotonic() - t0)}, indent=1) + "\n")
    log(f"fleet guest {suite}: image ready in {time.monotonic() - t0:.0f} s "
        f"(kernel {release})")
    return Image(d)


class Guest:
    """One booted image: qemu in the background, SSH on 127.0.0.1:port."""

    def __init__(self, img, port, workdir, cpus=2, mem="3G"):
        self.img, self.port, self.dir = img, port, Path(workdir)
        self.cpus, self.mem = cpus, mem
        self.proc = None
        self.console = self.dir / "console.log"

    def start(self):
        self.dir.mkdir(parents=True, exist_ok=True)
        overlay = self.dir / "disk.qcow2"
        run(["qemu-img", "create", "-q", "-f", "qcow2", "-F", "raw", "-b",
             self.img.disk, overlay])
        accel = "kvm" if os.access("/dev/kvm", os.R_OK | os.W_OK) else "tcg"
        cmd = ["qemu-system-x86_64", "-accel", accel, "-cpu",
               "host" if accel == "kvm" else "max", "-smp", str(self.cpus),
               "-m", self.mem, "-display", "none", "-no-reboot",
               "-kernel", self.img.kernel, "-initrd", self.img.initrd,
               "-append", "root=/dev/vda rw console=ttyS0 net.ifnames=0 "
               "panic=-1",
               "-drive", f"file={overlay},format=qcow2,if=virtio",
               "-netdev", f"user,id=n0,restrict=on,"
               f"hostfwd=tcp:127.0.0.1:{self.port}-:22",
               "-device", "virtio-net-pci,netdev=n0",
               "-serial", f"file:{self.console}"]
        log(f"fleet guest {self.img.suite}: boot ({accel}), ssh on "
            f"127.0.0.1:{self.port}")
        self.proc = subprocess.Popen([str(c) for c in cmd],
                                     stdout=subprocess.DEVNULL,
                                     stderr=open(self.dir / "qemu.log", "w"))
        return self

    def wait_ssh(self, timeout=900):
        """Until sshd answers with its banner; VmError after timeout."""
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            if self.proc.poll() is not None:
                raise VmError(f"qemu exited {self.proc.returncode} "
                              f"(console {self.console})")
            try:
                with socket.create_connection(("127.0.0.1", self.port),
                                              timeout=5) as s:
                    s.settimeout(10)
                    if s.recv(64).startswith(b"SSH-"):
                        log(f"fleet guest {self.img.suite}: sshd up after "
                            f"{time.monotonic() - t0:.0f} s")
                        return time.monotonic() - t0
            except OSError:
                pass
            time.sleep(3)
        raise VmError(f"no sshd on 127.0.0.1:{self.port} after {timeout} s "
                      f"(console {self.console})")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
