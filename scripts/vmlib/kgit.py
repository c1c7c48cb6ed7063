"""git:PATH@REV kernels: a local git tree built at one revision with the
faultline config fragment, in the root of the Debian suite whose compiler
fits the tree's version (as build:VERSION does), incrementally.  One
directory per tree, <cache>/git/<name>-<path hash>/:
  src/               a `git clone --shared` of the tree, checked out at the
                     revision being built (the user's checkout is never
                     touched; a checkout rewrites only the files that differ,
                     so make rebuilds only what they feed)
  build-<frag>/      the O= build directory, one per fragment set, reused
                     across revisions (the driver's KDIR)
  ccache/            CCACHE_DIR: a revision seen before compiles from cache
  revs/<sha>-<frag>/ install/ (bzImage, lib/modules, selftests), .complete
A lock on the tree directory serialises builds of one tree.
"""

import hashlib
import json
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

from . import kbuild, roots
from .common import UsageError, VmError, cache_dir, flocked, log, run
from .kernels import ALIASES


def parse(spec, kasan):
    """git:PATH@REV -> (tree, rev, variant); UsageError if malformed."""
    body = spec[len("git:"):]
    var = "kasan" if kasan or body.endswith("+kasan") else ""
    body = re.sub(r"\+kasan$", "", body)
    path, sep, rev = body.rpartition("@")
    if not sep or not path or not rev:
        raise UsageError(f"kernel spec {spec!r}: git:PATH@REV wants a tree "
                         "and a revision")
    tree = Path(path).expanduser()
    if not (tree / ".git").exists():
        raise UsageError(f"kernel spec {spec!r}: {tree} is not a git "
                         "work tree")
    return tree.resolve(), rev, var


def git(tree, *args, check=True):
    r = subprocess.run(["git", "-C", str(tree)] + list(args), text=True,
                       capture_output=True)
    if check and r.returncode:
        raise VmError(f"git -C {tree} {' '.join(args)}: "
                      f"{r.stderr.strip().splitlines()[-1:]}")
    return r.stdout.strip()


def commit_info(tree, rev):
    """(full sha, subject) of REV in TREE; UsageError if it is no commit."""
    r = subprocess.run(["git", "-C", str(tree), "rev-parse", "--verify",
                        "--quiet", f"{rev}^{{commit}}"], text=True,
                       capture_output=True)
    if r.returncode:
        raise UsageError(f"{tree}: {rev!r} is not a commit")
    sha = r.stdout.strip()
    return sha, git(tree, "log", "-1", "--format=%s", sha)


def tree_version(tree, sha):
    """'MAJOR.MINOR' from the top Makefile at SHA."""
    mk = git(tree, "show", f"{sha}:Makefile")
    v = dict(re.findall(r"^(VERSION|PATCHLEVEL) = (\d+)", mk, re.M))
    if len(v) < 2:
        raise VmError(f"{tree}@{sha[:12]}: no VERSION/PATCHLEVEL in Makefile")
    return f"{v['VERSION']}.{v['PATCHLEVEL']}"


def suite_for(version):
    """The suite whose Debian kernel is the oldest series not older than
    the tree (its gcc built that series), else the newest; overridden by
    FAULTLINE_GIT_SUITE."""
    if os.environ.get("FAULTLINE_GIT_SUITE"):
        return os.environ["FAULTLINE_GIT_SUITE"]

    def key(v):
        return tuple(int(x) for x in v.split("."))
    series = sorted(ALIASES, key=key)
    for s in series:
        if key(s) >= key(version):
            return ALIASES[s]
    return ALIASES[series[-1]]


def tree_dir(tree):
    h = hashlib.sha256(str(tree).encode()).hexdigest()[:10]
    return cache_dir() / "git" / f"{tree.name}-{h}"


def label(tree, sha, variant):
    """The kernel's label: per revision, so that faultline and the driver
    are built (and cached) per revision too."""
    return f"git-{tree.name}-{sha[:12]}" + (f"-{variant}" if variant else "")


def resolve(k, a):
    sha, subject = k.sha, k.subject
    version = tree_version(k.tree, sha)
    k.suite = suite_for(version)
    k.root = roots.ensure_root(k.suite)
    frags, base, fh = kbuild.fragments(k.variant)
    td = tree_dir(k.tree)
    td.mkdir(parents=True, exist_ok=True)
    rd = td / "revs" / f"{sha[:12]}-{fh}"
    bname = f"build-{fh}"
    with flocked(td / "lock"):
        at = td / bname / "faultline-rev"
        current = at.read_text().strip() if at.exists() else ""
        # The driver builds against build-<frag>/: it must hold this
        # revision even when the install is cached.
        if not (rd / ".complete").exists() or current != sha:
            build(k, td, bname, rd, frags, base, version)
    info = json.loads((rd / ".complete").read_text())
    log(f"kernel {k.spec}: {sha[:12]} {subject!r} cached at {rd} "
        f"({info['release']})")
    k.release = info["release"]
    k.vmlinuz = rd / "install" / "bzImage"
    k.modroot = rd / "install"
    k.kdir_host, k.kdir = td, f"/srv/{bname}"
    st = rd / "install" / "selftests"
    k.selftests = st if st.is_dir() and any(st.iterdir()) else None
    k.notes.update(info.get("notes", {}))
    k.source = {"tree": str(k.tree), "commit": sha, "subject": subject,
                "version": version, "suite": k.suite,
                "build_seconds": info.get("seconds"),
                "incremental": info.get("incremental")}


def checkout(td, tree, sha, logf):
    src = td / "src"
    if not (src / ".git").exists():
        shutil.rmtree(src, ignore_errors=True)
        run(["git", "clone", "-q", "--shared", "--no-checkout", str(tree),
             str(src)], logfile=logf)
    # --shared borrows the tree's object store: every commit of the tree,
    # fetched or not, is readable here.
    run(["git", "-C", str(src), "checkout", "-q", "-f", "--detach", sha],
        logfile=logf, nice=True)


def build(k, td, bname, rd, frags, base, version):
    t0 = time.monotonic()
    absent = roots.ensure_packages(k.suite, kbuild.KBUILD_PKGS + ["ccache"])
    if absent:
        raise VmError(f"{k.suite} lacks kernel build tools {absent}")
    logf = td / "build.log"
    with open(logf, "a") as f:
        f.write(f"\n=== {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}"
                f" {k.sha} {k.subject}\n")
    log(f"kernel {k.spec}: checking out {k.sha[:12]} {k.subject!r}")
    checkout(td, k.tree, k.sha, logf)
    o = f"/srv/{bname}"
    fr = td / f"fragments-{bname[len('build-'):]}"
    fr.mkdir(exist_ok=True)
    for f in frags:
        shutil.copy2(f, fr / f.name)
    incremental = (td / bname / ".config").exists()
    steps = []
    if not incremental:
        cfg = ("make O=$O x86_64_defconfig && make O=$O kvm_guest.config"
               if base == "defconfig" else
               "cp /boot/config-$(ls /lib/modules | sort -V | tail -1) "
               "$O/.config")
        names = " ".join(f"/srv/{fr.name}/{f.name}" for f in frags)
        steps.append(("configure", f"{cfg} && scripts/kconfig/merge_config.sh"
                      f" -m -O $O $O/.config {names}"))
    jobs = os.environ.get("FAULTLINE_KBUILD_JOBS", "2")
    make = 'make O=$O CC="ccache gcc" HOSTCC="ccache gcc"'
    inst = rd / "install"
    steps += [
        ("compile", f"{make} olddefconfig && {make} -j{jobs} bzImage modules"),
        ("install", f"rm -rf /srv/_install && mkdir -p /srv/_install && "
         f"cp $O/arch/x86/boot/bzImage /srv/_install/ && {make} "
         "modules_install INSTALL_MOD_PATH=/srv/_install "
         "INSTALL_MOD_STRIP=1 && make -s O=$O kernelrelease > "
         "/srv/_install/release")]
    env = f"export O={o} CCACHE_DIR=/srv/ccache; cd /srv/src && "
    for name, cmd in steps:
        tp = time.monotonic()
        log(f"kernel {k.spec}: {name} (log {logf})")
        r = kbuild._in_root(k.root, td, env + cmd, logf)
        if r.returncode:
            raise VmError(f"kernel build step {name} failed at "
                          f"{k.sha[:12]}; see {logf}")
        log(f"kernel {k.spec}: {name} done in {time.monotonic() - tp:.0f} s")
    if rd.exists():
        shutil.rmtree(rd)
    rd.mkdir(parents=True)
    (td / "_install").rename(inst)
    release = (inst / "release").read_text().split()[-1]
    notes = {}
    unmet = kbuild.unmet_options(frags, (td / bname / ".config").read_text())
    if unmet:
        notes["config_unmet"] = unmet
    built = kbuild.build_selftests(k, td, bname, inst, logf, notes)
    (td / bname / "faultline-rev").write_text(k.sha + "\n")
    info = {"spec": k.spec, "tree": str(k.tree), "commit": k.sha,
            "subject": k.subject, "version": version, "release": release,
            "suite": k.suite, "config_base": base,
            "fragments": [f.name for f in frags], "selftests": built,
            "incremental": incremental, "notes": notes,
            "seconds": round(time.monotonic() - t0)}
    (rd / ".complete").write_text(json.dumps(info, indent=1) + "\n")
    log(f"kernel {k.spec}: built {release} at {k.sha[:12]} in "
        f"{info['seconds']} s ({'incremental' if incremental else 'first'}"
        " build of this tree)")
