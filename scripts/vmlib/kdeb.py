"""Kernels from Debian packages: where a debian: kernel came from, and
deb:IMAGE.deb[,HEADERS.deb,...] (a kernel package the user has, e.g. a
vendor or CI build).

A deb: kernel is installed into a derived root (roots.derive_root): a copy
of the root of the Debian suite whose compiler built it (the headers'
CONFIG_CC_VERSION_TEXT: that exact gcc, else the suite whose default gcc
has its major version, else one that has gcc-N at all, else the newest),
so the driver is built with the kernel's compiler and apt brings what the
packages depend on.  Debian ships a kernel as several packages (image or
binary + modules + base, headers-R + headers-X-common + kbuild-X): give
them all.  An image without headers boots without the driver.

    k = kdeb.parse("deb:/tmp/linux-image-6.12.57+deb13-amd64_..._amd64.deb")
"""

import hashlib
import re
import subprocess
from pathlib import Path

from . import roots
from .common import UsageError, VmError, log
from .kernels import ALIASES, Kernel

# Newest first: the fallback when no suite has the kernel's compiler.
SUITES = list(ALIASES.values())[::-1]
# "x86_64-linux-gnu-gcc-16 (Debian 16.2.0-3) 16.2.0": major, Debian version
DEBIAN_GCC = re.compile(r"gcc(?:-(\d+))? \(Debian ([^)]+)\)")

MOD = r"(?:usr/)?lib/modules/([^/]+)/"
PATTERNS = [("image", re.compile(r"boot/vmlinuz-(.+)$")),
            ("image", re.compile(MOD + r"vmlinuz$")),
            ("modules", re.compile(MOD + r"kernel/")),
            ("config", re.compile(r"boot/config-(.+)$")),
            ("config", re.compile(MOD + r"config$")),
            ("headers",
             re.compile(r"usr/src/linux-headers-([^/]+)/Makefile$")),
            ("kernel", re.compile(MOD)),
            ("kernel", re.compile(r"usr/src/linux-headers-([^/]+)/")),
            ("kernel", re.compile(r"usr/lib/linux-kbuild-([^/]+)/"))]


class Deb:
    """One .deb of a deb: spec: control fields, what kernel parts it holds
    ({part: {release: member path}}), sha256."""

    def __init__(self, path):
        self.path = path
        r = subprocess.run(["dpkg-deb", "-f", str(path), "Package",
                            "Version", "Architecture"],
                           capture_output=True, text=True)
        f = dict(ln.split(": ", 1) for ln in r.stdout.splitlines()
                 if ": " in ln)
        if r.returncode or "Package" not in f:
            why = (r.stderr.strip().splitlines() or ["?"])[-1]
            raise UsageError(f"{path} is not a Debian package (dpkg-deb: "
                             f"{why})")
        self.package, self.version = f["Package"], f.get("Version", "?")
        self.arch = f.get("Architecture", "?")
        r = subprocess.run(["dpkg-deb", "-c", str(path)],
                           capture_output=True, text=True, errors="replace")
        self.parts = {}
        for line in r.stdout.splitlines():
            # "-rw-r--r-- root/root 300368 2026-10-16 02:51 ./PATH[ -> T]"
            f = line.split(None, 5)
            p = f[-1].split(" -> ")[0].removeprefix("./") if f else ""
            for part, rx in PATTERNS:
                m = rx.match(p)
                if m:
                    self.parts.setdefault(part, {}).setdefault(m.group(1), p)
        h = hashlib.sha256()
        with open(path, "rb") as fh:
            for blk in iter(lambda: fh.read(1 << 20), b""):
                h.update(blk)
        self.sha256 = h.hexdigest()

    def record(self):
        return {"file": self.path.name, "package": self.package,
                "version": self.version, "architecture": self.arch,
                "sha256": self.sha256}


def parse(spec):
    """deb:A.deb[,B.deb,...] -> Kernel (kind "deb"); UsageError for a
    missing file, a file that is no Debian package or no kernel package,
    no image or two, headers of another release."""
    files = [f for f in spec[len("deb:"):].split(",") if f]
    if not files:
        raise UsageError(f"kernel spec {spec!r}: deb: wants IMAGE.deb"
                         "[,HEADERS.deb,...]")
    debs = []
    for f in files:
        p = Path(f).expanduser()
        if not p.is_file():
            raise UsageError(f"kernel spec {spec!r}: {f}: no such file")
        d = Deb(p.resolve())
        if not d.parts and not d.package.startswith("linux-"):
            raise UsageError(f"{f} ({d.package} {d.version}) is not a "
                             "kernel package: no vmlinuz, lib/modules or "
                             "linux-headers in it")
        debs.append(d)
    images = sorted({r for d in debs for r in d.parts.get("image", {})})
    if len(images) != 1:
        what = ("no kernel image (boot/vmlinuz-R or lib/modules/R/vmlinuz)"
                if not images else f"images of {', '.join(images)}")
        raise UsageError(f"kernel spec {spec!r}: {what} in "
                         f"{', '.join(d.path.name for d in debs)}; deb: "
                         "wants one kernel")
    rel = images[0]
    hdrs = sorted({r for d in debs for r in d.parts.get("headers", {})
                   if not r.endswith("-common")})
    if hdrs and rel not in hdrs:
        raise UsageError(f"kernel spec {spec!r}: headers of "
                         f"{', '.join(hdrs)}, but the image is {rel}")
    k = Kernel(spec, f"deb-{rel}", None, "deb")
    k.debs, k.release, k.headers = debs, rel, rel in hdrs
    key = hashlib.sha256(" ".join(sorted(d.sha256 for d in debs)).encode())
    # the derived root's name: one per set of packages
    k.suite = f"deb-{key.hexdigest()[:12]}"
    return k


def _member(deb, member):
    """One file of a .deb's data, as text ("" if it is not there)."""
    tar = subprocess.Popen(["dpkg-deb", "--fsys-tarfile", str(deb)],
                           stdout=subprocess.PIPE)
    r = subprocess.run(["tar", "-xO", "-f", "-", "./" + member],
                       stdin=tar.stdout, capture_output=True)
    tar.stdout.close()
    tar.wait()
    return r.stdout.decode(errors="replace") if not r.returncode else ""


def cc_text(config):
    m = re.search(r'^CONFIG_CC_VERSION_TEXT="(.*)"$', config, re.M)
    return m.group(1) if m else None


def pick_suite(cc):
    """The suite whose gcc built the kernel (see the module's doc); returns
    (suite, why)."""
    m = DEBIAN_GCC.search(cc or "")
    if not m:
        return SUITES[0], (f"kernel compiler {cc!r} not a Debian gcc: the "
                           "newest suite")
    ver = m.group(2)
    major = m.group(1) or ver.split(".")[0]
    have = {s: roots.AptConfig(s).candidates(["gcc", f"gcc-{major}"])
            for s in SUITES}
    for s in SUITES:
        if have[s][f"gcc-{major}"] == ver:
            return s, f"{s} has gcc-{major} {ver}, the kernel's compiler"
    for s in SUITES:
        dflt = (have[s]["gcc"] or "").split(":")[-1].split(".")[0]
        if dflt == major:
            return s, (f"{s}'s default gcc is {major} (gcc-{major} "
                       f"{have[s][f'gcc-{major}']}; the kernel's: {ver})")
    for s in SUITES:
        if have[s][f"gcc-{major}"]:
            return s, f"{s} has gcc-{major} {have[s][f'gcc-{major}']}"
    return SUITES[0], f"no suite has gcc-{major}: the newest suite"


def resolve(k):
    """Install the packages into a derived root of the suite of their
    compiler; the image and modules from there."""
    rel = k.release
    cc = cc_text(_config(k))
    base, why = pick_suite(cc)
    log(f"kernel {k.label}: {rel} built with {cc or '?'}; root from {base} "
        f"({why})")
    k.root = roots.derive_root(
        k.suite, base, [f"{roots.DEB_DIR}/{d.path.name}" for d in k.debs],
        debs=[d.path for d in k.debs], release=rel)
    k.vmlinuz = image_path(k.root, rel)
    k.modroot = k.root
    k.kdir = f"/usr/src/linux-headers-{rel}"
    # Only the headers given: the base suite's of the same release may
    # come from another build of it.
    if not k.headers or not (k.root / k.kdir.lstrip("/") /
                             "Makefile").exists():
        k.notes["driver"] = ("driver not built: deb: got no headers of "
                             f"{rel} (add linux-headers-{rel}.deb and, for "
                             "Debian's, its -common and linux-kbuild "
                             "packages)")
    k.source = provenance(k.root, rel)
    k.source.update({"debs": [d.record() for d in k.debs],
                     "root_suite_why": why})


def _config(k):
    """The kernel's config from its packages: the headers' .config, else
    the image's."""
    for part in ("headers", "config"):
        for d in k.debs:
            m = d.parts.get(part, {}).get(k.release)
            text = m and _member(d.path, m.rsplit("/", 1)[0] + "/.config"
                                 if part == "headers" else m)
            if text:
                return text
    return ""


def image_path(root, release):
    for p in (root / "boot" / f"vmlinuz-{release}",
              root / "usr/lib/modules" / release / "vmlinuz"):
        if p.is_file():
            return p
    raise VmError(f"{root}: no vmlinuz of {release}")


def provenance(root, release, suite=None):
    """Where a packaged kernel came from: the suite (for debian: kernels),
    the root it runs in (and the suite that root was copied from), the
    packages that hold it with their versions, and its compiler beside the
    root's."""
    pkgs = roots.package_versions(root, roots.kernel_packages(root, release))
    owner = roots.package_owners(root, [
        f"/boot/vmlinuz-{release}", f"/usr/lib/modules/{release}/vmlinuz"])
    img = next((ps[0] for ps in owner.values()), None)
    out = {"suite": suite} if suite else {}
    out["root"] = root.name
    base = (roots.root_info(root.name) or {}).get("base")
    if base:
        out["root_base"] = base
    out.update({"image_package": img, "image_version": pkgs.get(img),
                "packages": pkgs, "compiler": compiler(root, release)})
    return out


def compiler(root, release):
    """The kernel's compiler (its config) and the root's gcc of that major
    version, which builds the driver (Debian's headers call gcc-N)."""
    cfg = ""
    for p in (root / "boot" / f"config-{release}",
              root / "usr/lib/modules" / release / "config",
              root / "usr/src" / f"linux-headers-{release}" / ".config"):
        if p.is_file():
            cfg = p.read_text(errors="replace")
            break
    cc = cc_text(cfg)
    out = {"kernel": cc}
    m = DEBIAN_GCC.search(cc or "")
    if m:
        gcc = f"gcc-{m.group(1) or m.group(2).split('.')[0]}"
        have = roots.package_versions(root, [gcc]).get(gcc)
        out["root"] = f"{gcc} {have}" if have else f"no {gcc}"
        out["same"] = have == m.group(2)
    return out
