"""build:VERSION kernels: Debian's linux-source-VERSION compiled in the root
of the Debian suite that ships it (its compiler), with the faultline config
fragment (scripts/kconfig/faultline.config, + kasan.config for --kasan),
plus the kernel's own mm selftests.  Cached under
<cache>/kernels/<label>-<source version>-<fragment hash>/:
  src/        the configured and built tree (the driver's KDIR, /srv)
  install/    bzImage, lib/modules/<release>/, selftests/
  .complete   marker (JSON)
"""

import hashlib
import json
import os
import shutil
import time

from . import roots
from .common import REPO, UsageError, VmError, cache_dir, flocked, log, run

KCONFIG = REPO / "scripts" / "kconfig"
SUITES = ["bookworm", "trixie", "sid", "bullseye"]
KBUILD_PKGS = ["bc", "bison", "flex", "libelf-dev", "libssl-dev", "cpio",
               "xz-utils", "rsync", "libcap-dev"]
SELFTESTS = ["hmm-tests", "gup_test", "cow", "gup_longterm", "migration"]


def _source_suite(ver):
    pkg = f"linux-source-{ver}"
    for s in SUITES:
        v = roots.AptConfig(s).candidates([pkg]).get(pkg)
        if v:
            return s, v
    raise UsageError(f"build:{ver}: no Debian suite of {', '.join(SUITES)} "
                     f"has {pkg}")


def source_deb(ver, suite=None, srcver=None):
    """The linux-source-VER .deb of the suite that ships it, from
    <cache>/sources/ or downloaded there through the private apt config."""
    if suite is None:
        suite, srcver = _source_suite(ver)
    sd = cache_dir() / "sources"
    pkg = f"linux-source-{ver}"
    debs = sorted(sd.glob(f"{pkg}_{srcver.replace(':', '%3a')}_*.deb"))
    if debs:
        log(f"source {debs[-1]} (cached)")
        return debs[-1]
    log(f"downloading {pkg} {srcver} from {suite}")
    return roots.AptConfig(suite).download(pkg, sd)


def _in_root(root, srv, cmd, logf):
    script = ('set -e; mount --bind "$2" "$1/srv"; '
              'mount -t proc proc "$1/proc"; r=$1; shift 2; '
              'exec chroot "$r" "$@"')
    env = dict(os.environ, LC_ALL="C.UTF-8",
               PATH="/usr/sbin:/usr/bin:/sbin:/bin")
    return run(["unshare", "-m", "--propagation", "private", "sh", "-c",
                script, "sh", root, srv, "sh", "-c", cmd], logfile=logf,
               env=env, nice=True, check=False)


def fragments(variant):
    """(config fragments, FAULTLINE_KCONFIG_BASE, 12-hex hash of both)."""
    frags = [KCONFIG / "faultline.config"] + (
        [KCONFIG / "kasan.config"] if variant == "kasan" else [])
    base = os.environ.get("FAULTLINE_KCONFIG_BASE", "defconfig")
    h = hashlib.sha256(base.encode())
    for f in frags:
        h.update(f.read_bytes())
    return frags, base, h.hexdigest()[:12]


def unmet_options(frags, config):
    """Fragment options enabled there but not in .config (e.g. renamed
    across versions): recorded, not fatal."""
    unmet = [line for f in frags for line in f.read_text().splitlines()
             if line.startswith("CONFIG_") and line.endswith(("=y", "=m"))
             and line not in config]
    if unmet:
        log(f"fragment options not in .config: {' '.join(unmet)}")
    return unmet


def build_selftests(k, srv, obj, install, logf, notes):
    """The kernel's own mm selftests, as peers (TAP results in the guest),
    into install/selftests/.  SRV is the host dir seen as /srv; OBJ the
    O= build dir under it (None: built in /srv/src).  Returns the built."""
    log(f"kernel {k.spec}: building mm selftests")
    if obj:
        out = f"/srv/{obj}/kselftest-mm"
        # selftests/lib.mk writes into OUTPUT but, called on its own
        # (not through selftests/Makefile), does not create it
        cmd = (f"cd /srv/src && make O=/srv/{obj} headers && mkdir -p {out} && make -k -C "
               f"tools/testing/selftests/mm OUTPUT={out} "
               f"KHDR_INCLUDES='-isystem /srv/{obj}/usr/include'")
        bins = srv / obj / "kselftest-mm"
    else:
        cmd = ("cd /srv/src && make headers && "
               "make -k -C tools/testing/selftests/mm")
        bins = srv / "src/tools/testing/selftests/mm"
    _in_root(k.root, srv, cmd, logf)
    st = install / "selftests"
    st.mkdir(parents=True, exist_ok=True)
    built = []
    for t in SELFTESTS:
        if (bins / t).is_file():
            shutil.copy2(bins / t, st / t)
            built.append(t)
    shutil.copy2(REPO / "scripts/guest/selftests-run", st / "run")
    (st / "list").write_text("\n".join(built) + "\n")
    if len(built) < len(SELFTESTS):
        notes["selftests"] = ("not built: " + ", ".join(
            sorted(set(SELFTESTS) - set(built))) + f" (log {logf})")
    return built


def resolve(k, a):
    ver, var = k.version, k.variant
    suite, srcver = _source_suite(ver)
    frags, base, fh = fragments(var)
    key = f"{k.label}-{srcver}-{fh}"
    kd = cache_dir() / "kernels" / key
    k.suite = suite
    k.root = roots.ensure_root(suite)
    if not (kd / ".complete").exists():
        with flocked(cache_dir() / "kernels" / f"{key}.lock"):
            if not (kd / ".complete").exists():
                build(k, kd, suite, srcver, frags, base)
    info = json.loads((kd / ".complete").read_text())
    log(f"kernel {k.spec}: cached at {kd} ({info['release']})")
    k.release = info["release"]
    k.vmlinuz = kd / "install" / "bzImage"
    k.modroot = kd / "install"
    k.kdir_host, k.kdir = kd / "src", "/srv"
    st = kd / "install" / "selftests"
    k.selftests = st if st.is_dir() and any(st.iterdir()) else None
    k.notes.update(info.get("notes", {}))


def build(k, kd, suite, srcver, frags, base):
    t0 = time.monotonic()
    ver = k.version
    absent = roots.ensure_packages(suite, KBUILD_PKGS)
    if absent:
        raise VmError(f"{suite} lacks kernel build tools {absent}")
    logf = kd / "build.log"
    if (kd / "src" / ".config").exists() and (kd / "configured").exists():
        # an interrupted build of the same key: make picks up where it was
        log(f"kernel {k.spec}: resuming the build in {kd}")
        (kd / "resumed").write_text("")
        compile_and_finish(k, kd, suite, srcver, frags, base, logf, t0)
        return
    if kd.exists():
        shutil.rmtree(kd)
    kd.mkdir(parents=True)
    deb = source_deb(ver, suite, srcver)
    log(f"kernel {k.spec}: unpacking {deb.name} (log {logf})")
    tmp = kd / "deb"
    run(["dpkg-deb", "-x", deb, tmp], logfile=logf)
    tars = sorted((tmp / "usr/src").glob(f"linux-source-{ver}.tar.*"))
    if not tars:
        raise VmError(f"{deb} has no usr/src/linux-source-{ver}.tar.*")
    run(["tar", "-C", kd, "-xf", tars[0]], logfile=logf, nice=True)
    shutil.rmtree(tmp)
    (kd / f"linux-source-{ver}").rename(kd / "src")
    fr = kd / "src" / ".faultline-fragments"
    fr.mkdir()
    for f in frags:
        shutil.copy2(f, fr / f.name)
    cfg = ("make x86_64_defconfig && make kvm_guest.config"
           if base == "defconfig" else
           "cp /boot/config-$(ls /lib/modules | sort -V | tail -1) .config")
    names = " ".join(f".faultline-fragments/{f.name}" for f in frags)
    steps = [
        ("configure", f"cd /srv/src && {cfg} && "
         f"scripts/kconfig/merge_config.sh -m .config {names} && "
         "make olddefconfig"),
    ]
    run_steps(k, kd, steps[:1], logf)
    (kd / "configured").write_text("")
    compile_and_finish(k, kd, suite, srcver, frags, base, logf, t0)


def run_steps(k, kd, steps, logf):
    for name, cmd in steps:
        tp = time.monotonic()
        log(f"kernel {k.spec}: {name} (log {logf})")
        r = _in_root(k.root, kd, cmd, logf)
        if r.returncode:
            raise VmError(f"kernel build step {name} failed; see {logf}")
        log(f"kernel {k.spec}: {name} done in "
            f"{time.monotonic() - tp:.0f} s")


def compile_and_finish(k, kd, suite, srcver, frags, base, logf, t0):
    jobs = os.environ.get("FAULTLINE_KBUILD_JOBS", "2")
    run_steps(k, kd, [
        ("compile", f"cd /srv/src && make -j{jobs} bzImage modules"),
        ("install", "cd /srv/src && rm -rf /srv/install && "
         "mkdir -p /srv/install && cp arch/x86/boot/bzImage /srv/install/ && "
         "make modules_install INSTALL_MOD_PATH=/srv/install "
         "INSTALL_MOD_STRIP=1 && make -s kernelrelease > /srv/release")],
        logf)
    release = (kd / "release").read_text().strip()
    notes = {}
    unmet = unmet_options(frags, (kd / "src" / ".config").read_text())
    if unmet:
        notes["config_unmet"] = unmet
    built = build_selftests(k, kd, None, kd / "install", logf, notes)
    info = {"spec": k.spec, "release": release, "suite": suite,
            "source": f"linux-source-{k.version} {srcver}",
            "config_base": base,
            # seconds of this (possibly resumed) build process only
            "resumed": (kd / "resumed").exists(),
            "fragments": [f.name for f in frags], "selftests": built,
            "notes": notes, "seconds": round(time.monotonic() - t0)}
    (kd / ".complete").write_text(json.dumps(info, indent=1) + "\n")
    log(f"kernel {k.spec}: built {release} in {info['seconds']} s")
