"""Kernel specs of scripts/vm and what they resolve to: the Debian suite
whose root builds faultline and becomes the guest's filesystem, the image
to boot and the modules beside it.

  5.10 6.1 6.12 7.2     the suite that ships that series (ALIASES)
  debian:SUITE          that suite's linux-image-amd64 (experimental: in a
                        sid root, roots.KERNEL_ONLY)
  deb:IMAGE.deb[,...]   kernel packages the user has (kdeb.py)
  build:VERSION[+kasan] Debian's linux-source-VERSION built (kbuild.py)
  path:DIR              a built tree or install dir (bzImage, lib/modules)
  git:PATH@REV[+kasan]  a local git tree built at REV (kgit.py)

    k = kernels.fetch("6.12")     # root made or reused, k.vmlinuz, k.release
"""

import os
import re
import shutil
from pathlib import Path

from . import guest, roots
from .common import UsageError, VmError, cache_dir, host_mirror, log

ALIASES = {"5.10": "bullseye", "6.1": "bookworm", "6.12": "trixie",
           "7.2": "sid"}
SUITE_RE = re.compile(r"^[a-z][a-z0-9.-]*$")


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
        self.source = {}        # where it came from (run.json vm.kernel)
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
    if s.startswith("deb:"):
        from . import kdeb
        return kdeb.parse(s)
    if s.startswith("git:"):
        from . import kgit
        tree, rev, var = kgit.parse(s, kasan)
        sha, subject = kgit.commit_info(tree, rev)
        k = Kernel(s, kgit.label(tree, sha, var), None, "git")
        k.tree, k.rev, k.variant = tree, rev, var
        k.sha, k.subject = sha, subject
        return k
    if s.startswith("path:"):
        d = Path(s[len("path:"):]).expanduser()
        if not d.is_dir():
            raise UsageError(f"kernel spec {spec!r}: {d} is not a directory")
        return Kernel(s, "path-" + d.resolve().name, None, "path")
    raise UsageError(f"unknown kernel spec {spec!r} (use 5.10, 6.1, 6.12, "
                     "7.2, debian:SUITE, deb:IMAGE.deb[,HEADERS.deb], "
                     "build:VERSION, git:PATH@REV or path:DIR)")


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


def resolve_kernel(k, a=None):
    """Make the root, find the kernel image and modules."""
    if k.kind == "debian":
        from . import kdeb
        k.root = roots.ensure_root(k.suite)
        # a derived root names its kernel; a suite's has the one it ships
        k.release = (roots.root_info(k.suite) or {}).get(
            "release") or guest.kernel_releases(k.root)
        k.vmlinuz = kdeb.image_path(k.root, k.release)
        k.modroot = k.root
        k.kdir = f"/usr/src/linux-headers-{k.release}"
        k.source = kdeb.provenance(k.root, k.release, k.suite)
        if k.spec in ALIASES and not k.release.startswith(k.spec + "."):
            k.notes["version"] = (f"{k.suite} now ships {k.release}, not "
                                  f"{k.spec}")
            log(f"note: {k.notes['version']}")
    elif k.kind == "build":
        from . import kbuild
        kbuild.resolve(k, a)
    elif k.kind == "deb":
        from . import kdeb
        kdeb.resolve(k)
    elif k.kind == "git":
        from . import kgit
        kgit.resolve(k, a)
    else:
        resolve_path_kernel(k)
    return k


def resolve_path_kernel(k):
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


def fetch(spec, kasan=False):
    """Parse, check and resolve one spec: the Kernel with its root made (or
    reused) and its image and modules found."""
    k = parse_kernel(spec, kasan)
    check_kernels([k])
    return resolve_kernel(k)


def clean_kernel(k):
    """Drop what the cache holds for this kernel (scripts/vm --clean)."""
    if k.kind in ("debian", "deb"):
        roots.drop_root(k.suite)
        for p in (cache_dir() / "images").glob(f"{k.suite}-*"):
            p.unlink()
    elif k.kind == "build":
        d = cache_dir() / "kernels"
        for p in d.glob(f"{k.label}-*"):
            shutil.rmtree(p, ignore_errors=True)
            log(f"removed {p}")
    elif k.kind == "git":
        from . import kgit
        p = kgit.tree_dir(k.tree)
        shutil.rmtree(p, ignore_errors=True)
        log(f"removed {p} (the tree's clone, build directory, ccache)")
