"""Debian roots made with mmdebstrap, shared with the driver's build scripts.

SHARED CONVENTION (drivers/ uses the same; whoever comes first creates):
  ${FAULTLINE_CACHE:-/var/cache/faultline}/roots/<suite>/   the root
  .../roots/<suite>.lock      flock(2) held while creating or checking
  .../roots/<suite>.tmp       mmdebstrap target, renamed into place
  .../roots/<suite>/.complete marker (JSON: packages, dropped, created)

A root holds the kernel (linux-image-amd64 + headers), the compiler the
kernel's headers were built with, faultline's build dependencies and the
tools the workloads need in a guest.  It is both the build chroot and the
source of the guest's root filesystem.

Any other apt use goes through a private apt configuration (AptConfig):
own sources list derived from the host's mirror, own state and cache dirs
under the cache; the system's apt sources are never edited.

A derived root (derive_root) is a copy of a suite's root with other kernel
packages in place of the suite's own: experimental's (a suite that carries
only kernel packages: KERNEL_ONLY) or the .deb files of a deb: kernel.
Same layout, lock and marker; .complete names the base and the kernel.
"""

import json
import os
import shutil
import time
from pathlib import Path

from .common import (VmError, cache_dir, flocked, host_mirror, log, run,
                     tail)

PACKAGES = ("build-essential,pkg-config,kmod,linux-image-amd64,"
            "linux-headers-amd64,libnuma-dev,libhwloc-dev,libjansson-dev,"
            "libinih-dev,liburing-dev,libndctl-dev,libdaxctl-dev,"
            "libtracefs-dev,libtraceevent-dev,libpmem-dev,libcmocka-dev,"
            "ndctl,daxctl,fio,numactl,xfsprogs,e2fsprogs,busybox-static,"
            "util-linux").split(",")

# Packages without which a root is useless for us: never dropped.
ESSENTIAL = {"build-essential", "kmod", "linux-image-amd64",
             "linux-headers-amd64", "e2fsprogs", "util-linux"}

# Build dependencies of faultline beyond the shared list (the engine reads
# /proc/config.gz with zlib).  Part of every new root; added to an older
# root under its lock and recorded in .complete as "extras".
BUILD_EXTRAS = ["zlib1g-dev"]

KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"

# Suites that carry a kernel but not a system to build and run it: their
# root is the base suite's with the suite's linux-image and linux-headers.
KERNEL_ONLY = {"experimental": "sid"}

# Where a derived root's .deb files sit, as the chroot sees them.
DEB_DIR = "/var/cache/faultline-debs"


class AptConfig:
    """A private apt for one Debian suite, under <cache>/apt/<suite>/."""

    def __init__(self, suite):
        self.suite = suite
        self.dir = cache_dir() / "apt" / suite
        self.log = self.dir / "apt.log"

    def _setup(self):
        d = self.dir
        for sub in ("state/lists/partial", "cache/archives/partial",
                    "etc/preferences.d", "etc/sources.list.d"):
            (d / sub).mkdir(parents=True, exist_ok=True)
        status = d / "state/status"
        if not status.exists():
            status.write_text("")
        signed = f"[signed-by={KEYRING}] " if Path(KEYRING).exists() else ""
        line = f"deb {signed}{host_mirror()} {self.suite} main\n"
        src = d / "etc/sources.list"
        if not src.exists() or src.read_text() != line:
            src.write_text(line)

    def opts(self):
        d = self.dir
        o = {"Dir::Etc::SourceList": d / "etc/sources.list",
             "Dir::Etc::SourceParts": d / "etc/sources.list.d",
             "Dir::Etc::Preferences": d / "etc/preferences",
             "Dir::Etc::PreferencesParts": d / "etc/preferences.d",
             "Dir::State": d / "state",
             "Dir::State::status": d / "state/status",
             "Dir::Cache": d / "cache",
             "APT::Architecture": "amd64",
             "APT::Architectures": "amd64",
             "Acquire::Retries": "3",
             # The configured mirror may be a frozen snapshot whose
             # Release files are past Valid-Until (sid's are, here).
             "Acquire::Check-Valid-Until": "false",
             "DPkg::Lock::Timeout": "600"}
        out = []
        for k, v in o.items():
            out += ["-o", f"{k}={v}"]
        return out

    def update(self, force=False):
        self._setup()
        lists = list((self.dir / "state/lists").glob("*_Packages*"))
        if lists and not force:
            return
        log(f"apt: updating package lists for {self.suite} "
            f"(private config {self.dir})")
        run(["apt-get"] + self.opts() + ["update"], logfile=self.log)

    def candidates(self, pkgs):
        """{pkg: version or None} for the suite's candidates."""
        self.update()
        r = run(["apt-cache"] + self.opts() + ["policy"] + list(pkgs),
                capture=True, check=False)
        found, cur = {}, None
        for line in r.stdout.splitlines():
            if line and not line[0].isspace() and line.endswith(":"):
                cur = line[:-1]
            elif cur and line.strip().startswith("Candidate:"):
                v = line.split(":", 1)[1].strip()
                found[cur] = None if v == "(none)" else v
        return {p: found.get(p) for p in pkgs}

    def download(self, pkg, dest):
        """apt-get download PKG into dest; returns the .deb path."""
        self.update()
        dest = Path(dest)
        dest.mkdir(parents=True, exist_ok=True)
        run(["apt-get"] + self.opts() + ["download", pkg], cwd=dest,
            logfile=self.log)
        debs = sorted(dest.glob(f"{pkg}_*.deb"), key=os.path.getmtime)
        if not debs:
            raise VmError(f"apt-get download {pkg} left no .deb in {dest}")
        return debs[-1]


def root_path(suite):
    return cache_dir() / "roots" / suite


def root_info(suite):
    """The .complete marker of a finished root, or None."""
    m = root_path(suite) / ".complete"
    if not m.exists():
        return None
    try:
        return json.loads(m.read_text() or "{}")
    except ValueError:
        return {}


def ensure_root(suite, extra=()):
    """Create (or reuse) the root of a Debian suite; return its path."""
    if suite in KERNEL_ONLY:
        return derive_root(suite, KERNEL_ONLY[suite],
                           [f"linux-image-amd64/{suite}",
                            f"linux-headers-amd64/{suite}"], sources=[suite])
    root = root_path(suite)
    if root_info(suite) is not None:
        log(f"root {suite}: cached at {root}")
        return root
    base = cache_dir() / "roots"
    base.mkdir(parents=True, exist_ok=True)
    with flocked(base / f"{suite}.lock"):
        if root_info(suite) is not None:
            log(f"root {suite}: cached at {root} (made meanwhile)")
            return root
        t0 = time.monotonic()
        # A new root gets the build extras at once: adding them later
        # costs another apt update.
        want = list(dict.fromkeys(PACKAGES + BUILD_EXTRAS + list(extra)))
        have = AptConfig(suite).candidates(want)
        dropped = sorted(p for p, v in have.items() if v is None)
        lost = [p for p in dropped if p in ESSENTIAL]
        if lost:
            raise VmError(f"suite {suite} lacks {', '.join(lost)} on "
                          f"{host_mirror()}: cannot make a root")
        if dropped:
            log(f"root {suite}: suite lacks {', '.join(dropped)} "
                "(dropped, recorded in .complete)")
        pkgs = [p for p in want if p not in dropped]
        tmp = base / f"{suite}.tmp"
        if tmp.exists():
            shutil.rmtree(tmp)
        logf = base / f"{suite}.log"
        log(f"root {suite}: mmdebstrap into {tmp} ({len(pkgs)} packages; "
            f"log {logf})")
        try:
            run(["mmdebstrap", "--variant=apt", "--include=" + ",".join(pkgs),
                 "--aptopt=Acquire::Retries \"3\"",
                 "--aptopt=Acquire::Check-Valid-Until \"false\"",
                 suite, tmp, f"deb {host_mirror()} {suite} main"],
                logfile=logf, nice=True,
                # as apt_in_root: the kernel package's hook (dracut,
                # initramfs-tools) reads it and makes no initrd
                env=dict(os.environ, INITRD="No"))
        except VmError as e:
            raise VmError(f"{e}\n{tail(logf)}") from None
        kernels = sorted(p.name[len("vmlinuz-"):]
                         for p in (tmp / "boot").glob("vmlinuz-*"))
        info = {"suite": suite, "packages": pkgs, "dropped": dropped,
                "kernels": kernels,
                "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "seconds": round(time.monotonic() - t0, 1)}
        _complete(tmp, root, info)
        log(f"root {suite}: ready at {root} in {info['seconds']} s "
            f"(kernel {', '.join(kernels) or 'none'})")
        return root


def _complete(tmp, root, info):
    """Mark the root made in TMP complete and put it in ROOT's place."""
    (tmp / ".complete").write_text(json.dumps(info, indent=1) + "\n")
    if root.exists():
        shutil.rmtree(root)
    tmp.rename(root)


def drop_root(suite):
    base = cache_dir() / "roots"
    with flocked(base / f"{suite}.lock"):
        for p in (base / suite, base / f"{suite}.tmp"):
            if p.exists():
                shutil.rmtree(p)
                log(f"removed {p}")


def ensure_packages(suite, pkgs):
    """Install packages missing from an existing root (additive; under the
    root's lock; recorded in .complete).  Returns the ones it could not."""
    root = root_path(suite)
    pkgs = [p for p in pkgs if p]
    if not pkgs:
        return []

    def missing():
        r = run(["chroot", root, "dpkg-query", "-W", "-f",
                 "${Package} ${db:Status-Status}\\n"] + pkgs,
                capture=True, check=False)
        ok = {ln.split()[0] for ln in r.stdout.splitlines()
              if ln.endswith(" installed")}
        return [p for p in pkgs if p not in ok]

    if not missing():
        return []
    with flocked(cache_dir() / "roots" / f"{suite}.lock"):
        need = missing()
        if not need:
            return []
        avail = AptConfig(apt_suite(suite)).candidates(need)
        absent = [p for p, v in avail.items() if v is None]
        need = [p for p in need if p not in absent]
        if need:
            log(f"root {suite}: adding {' '.join(need)}")
            logf = cache_dir() / "roots" / f"{suite}.log"
            apt_in_root(root, ["update"], logf)
            apt_in_root(root, ["install"] + need, logf)
        m = root / ".complete"
        try:
            info = json.loads(m.read_text() or "{}")
        except ValueError:
            info = {}
        info["extras"] = sorted(set(info.get("extras", [])) | set(need))
        if absent:
            info["extras_absent"] = sorted(set(info.get("extras_absent", []))
                                           | set(absent))
        m.write_text(json.dumps(info, indent=1) + "\n")
        return absent


def apt_in_root(root, args, logf):
    """apt-get ARGS run inside the root (its own sources), /proc mounted
    in a private mount namespace.  INITRD=No: the guest boots faultline's
    own initramfs, so a kernel package's hook need not make one."""
    script = 'mount -t proc proc "$1/proc" && shift && exec chroot "$@"'
    run(["unshare", "-m", "--propagation", "private", "sh", "-c", script,
         "sh", root, root, "env", "DEBIAN_FRONTEND=noninteractive",
         "INITRD=No", "apt-get", "-y", "--no-install-recommends",
         "-o", "Acquire::Check-Valid-Until=false",
         "-o", "Acquire::Retries=3"] + list(args), logfile=logf, nice=True)


def apt_suite(name):
    """The suite whose packages a root's apt installs: the base of a
    derived root, else the suite itself."""
    info = root_info(name) or {}
    return info.get("base") or KERNEL_ONLY.get(name, name)


def root_kernels(root):
    """Kernel releases a root holds: /boot/vmlinuz-R, or the
    /usr/lib/modules/R/vmlinuz of Debian's split kernel packages."""
    root = Path(root)
    return sorted({p.name[len("vmlinuz-"):]
                   for p in (root / "boot").glob("vmlinuz-*")} |
                  {p.parent.name
                   for p in (root / "usr/lib/modules").glob("*/vmlinuz")})


def package_owners(root, paths):
    """{path: [packages]} of the root's dpkg database (host's dpkg-query
    on the root's admindir; paths dpkg does not know are left out)."""
    r = run(["dpkg-query", f"--admindir={root}/var/lib/dpkg", "-S"] +
            list(paths), capture=True, check=False)
    out = {}
    for line in r.stdout.splitlines():
        pkgs, sep, path = line.partition(": ")
        if sep and path in paths:
            out[path] = [p.strip().split(":")[0] for p in pkgs.split(",")]
    return out


def package_versions(root, pkgs):
    """{package: version} of the packages installed in the root."""
    r = run(["dpkg-query", f"--admindir={root}/var/lib/dpkg", "-W", "-f",
             "${Package} ${Version} ${db:Status-Status}\\n"] + list(pkgs),
            capture=True, check=False)
    return {ln.split()[0]: ln.split()[1] for ln in r.stdout.splitlines()
            if ln.endswith(" installed")}


def kernel_packages(root, release):
    """The packages that hold a kernel release in a root: image, modules,
    headers (those dpkg knows)."""
    paths = [f"/boot/vmlinuz-{release}", f"/usr/lib/modules/{release}/vmlinuz",
             f"/lib/modules/{release}", f"/usr/lib/modules/{release}",
             f"/usr/src/linux-headers-{release}"]
    return sorted({p for ps in package_owners(root, paths).values()
                   for p in ps})


def derive_root(name, base, install, sources=(), debs=(), release=None):
    """Make (or reuse) roots/<name>: a copy of the base suite's root with
    `install` (apt-get install arguments: pkg/suite, or DEB_DIR paths of
    `debs`, copied in) from the base's sources plus `sources` (other
    suites of the host's mirror).  The kernel left is `release` (default:
    the one the install added); the base's own kernel is purged."""
    root = root_path(name)
    if root_info(name) is not None:
        log(f"root {name}: cached at {root}")
        return root
    src = ensure_root(base)
    rdir = cache_dir() / "roots"
    with flocked(rdir / f"{name}.lock"):
        if root_info(name) is not None:
            return root
        t0 = time.monotonic()
        tmp, logf = rdir / f"{name}.tmp", rdir / f"{name}.log"
        if tmp.exists():
            shutil.rmtree(tmp)
        log(f"root {name}: copy of the {base} root + "
            f"{' '.join(Path(i).name for i in install)} (log {logf})")
        with flocked(rdir / f"{base}.lock"):
            run(["cp", "-a", "--reflink=auto", src, tmp], nice=True,
                logfile=logf)
        (tmp / ".complete").unlink()
        old = root_kernels(tmp)
        listd = tmp / "etc/apt/sources.list.d"
        for s in sources:
            (listd / f"faultline-{s}.list").write_text(
                f"deb {host_mirror()} {s} main\n")
        if debs:
            (tmp / DEB_DIR.lstrip("/")).mkdir(parents=True, exist_ok=True)
            for d in debs:
                shutil.copy2(d, tmp / DEB_DIR.lstrip("/") / Path(d).name)
        try:
            apt_in_root(tmp, ["update"], logf)
            apt_in_root(tmp, ["install", "--reinstall"] + list(install), logf)
        except VmError as e:
            raise VmError(f"root {name}: {e}\n{tail(logf)}") from None
        if release is None:
            new = sorted(set(root_kernels(tmp)) - set(old))
            if len(new) != 1:
                raise VmError(f"root {name}: installing {' '.join(install)} "
                              f"added kernels {new or 'none'}, want one "
                              f"(log {logf})")
            release = new[0]
        purged = sorted({p for r in old if r != release
                         for p in kernel_packages(tmp, r)})
        if purged:
            log(f"root {name}: purging the {base} kernel "
                f"({' '.join(purged)})")
            apt_in_root(tmp, ["purge"] + purged, logf)
            apt_in_root(tmp, ["autoremove", "--purge"], logf)
        if debs:
            shutil.rmtree(tmp / DEB_DIR.lstrip("/"))
        info = dict(root_info(base) or {})
        info.update({
            "suite": name, "base": base, "sources": list(sources),
            "install": list(install), "purged": purged,
            "kernels": root_kernels(tmp), "release": release,
            "kernel_packages": package_versions(
                tmp, kernel_packages(tmp, release)),
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "seconds": round(time.monotonic() - t0, 1)})
        _complete(tmp, root, info)
        log(f"root {name}: ready at {root} in {info['seconds']} s "
            f"(kernel {release})")
        return root
