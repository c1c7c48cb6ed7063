"""What the guest boots: a tiny initramfs (busybox + the modules needed to
mount the root disk) and an ext4 image of the suite's root, both cached.

The initramfs loads virtio/ext4 modules with busybox insmod, mounts the ext4
image (/dev/vda, opened by qemu with snapshot=on so the cached image stays
pristine) and switch_roots into scripts/guest/init, which then uses the
root's own kmod for everything else (9p, nd_e820, nd_pmem, the driver).
"""

import fcntl
import hashlib
import json
import lzma
import os
import shutil
import stat
import subprocess
import time
from pathlib import Path

from .common import REPO, VmError, cache_dir, flocked, log, run

GUEST_DIR = REPO / "scripts" / "guest"

# Modules the initramfs loads, in this order, with their dependencies.
INITRAMFS_MODULES = ["virtio_pci", "virtio_blk", "crc32c_generic",
                     "crc32c_intel", "ext4", "9pnet_virtio", "9p"]


def _norm(name):
    return name.replace("-", "_")


class ModuleTree:
    """modules.dep / modules.builtin of one /lib/modules/<release>."""

    def __init__(self, moddir):
        self.dir = Path(moddir)
        self.deps, self.path = {}, {}
        dep = self.dir / "modules.dep"
        if not dep.exists():
            raise VmError(f"{dep} missing: modules not installed for "
                          f"{self.dir.name}")
        for line in dep.read_text().splitlines():
            key, _, rest = line.partition(":")
            name = _norm(Path(key).name.split(".ko")[0])
            self.path[name] = key
            self.deps[name] = [_norm(Path(d).name.split(".ko")[0])
                               for d in rest.split()]
        self.builtin = set()
        b = self.dir / "modules.builtin"
        if b.exists():
            self.builtin = {_norm(Path(x).name.split(".ko")[0])
                            for x in b.read_text().split()}

    def closure(self, names):
        """Modules to load (dependencies first); builtins and absent ones
        (e.g. crc32c_intel on a kernel where it is built in) left out."""
        order, seen = [], set()

        def visit(n):
            if n in seen or n not in self.path:
                return
            seen.add(n)
            for d in reversed(self.deps[n]):
                visit(d)
            order.append(n)
        for n in names:
            visit(_norm(n))
        return order


def _read_module(path):
    """Module bytes, decompressed (busybox insmod takes plain .ko only)."""
    data = path.read_bytes()
    if path.name.endswith(".xz"):
        return lzma.decompress(data)
    if path.name.endswith(".zst"):
        r = subprocess.run(["zstd", "-dc", str(path)], capture_output=True)
        if r.returncode:
            raise VmError(f"cannot decompress {path}: zstd missing on the "
                          "host? (apt-get install zstd)")
        return r.stdout
    if path.name.endswith(".gz"):
        import gzip
        return gzip.decompress(data)
    return data


def _cpio_newc(entries):
    """entries: (name, mode, data-bytes or link-target) -> newc archive."""
    out = bytearray()
    ino = 1

    def pad4(b):
        b.extend(b"\0" * (-len(b) % 4))

    for name, mode, data in list(entries) + [("TRAILER!!!", 0, b"")]:
        nb = name.encode() + b"\0"
        rdev = (5, 1) if name == "dev/console" else (0, 0)
        hdr = "070701" + "".join(f"{v:08x}" for v in (
            ino, mode, 0, 0, 1, 0, len(data), 0, 0, *rdev, len(nb), 0))
        out += hdr.encode() + nb
        pad4(out)
        out += data
        pad4(out)
        ino += 1
    return bytes(out)


def _hash(*parts):
    h = hashlib.sha256()
    for p in parts:
        h.update(p if isinstance(p, bytes) else str(p).encode())
    return h.hexdigest()[:16]


def build_initramfs(root, modroot, release, dest_dir):
    """Initramfs for kernel `release`; modules from modroot/lib/modules."""
    tree = ModuleTree(Path(modroot) / "lib/modules" / release)
    mods = tree.closure(INITRAMFS_MODULES)
    init = (GUEST_DIR / "initramfs-init").read_bytes()
    busybox = Path(root) / "bin/busybox"
    if not busybox.exists():
        raise VmError(f"{busybox} missing: the root lacks busybox-static")
    key = _hash(init, busybox.stat().st_size, release, *mods,
                *[(tree.dir / tree.path[m]).stat().st_mtime for m in mods])
    dest = Path(dest_dir) / f"initramfs-{release}-{key}.cpio"
    if dest.exists():
        return dest
    d = lambda n: (n, stat.S_IFDIR | 0o755, b"")  # noqa: E731
    entries = [d("bin"), d("dev"), d("proc"), d("sys"), d("newroot"),
               d("lib"), d("lib/modules"),
               ("bin/busybox", stat.S_IFREG | 0o755, busybox.read_bytes()),
               ("bin/sh", stat.S_IFLNK | 0o777, b"busybox"),
               ("init", stat.S_IFREG | 0o755, init),
               ("dev/console", stat.S_IFCHR | 0o600, b"")]
    names = []
    for m in mods:
        src = tree.dir / tree.path[m]
        entries.append((f"lib/modules/{m}.ko", stat.S_IFREG | 0o644,
                        _read_module(src)))
        names.append(m)
    entries.append(("modules.list", stat.S_IFREG | 0o644,
                    ("\n".join(names) + "\n").encode()))
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_suffix(".tmp")
    tmp.write_bytes(_cpio_newc(entries))
    tmp.rename(dest)
    log(f"initramfs {dest} ({len(names)} modules: {' '.join(names)})")
    return dest


def build_image(suite, root):
    """ext4 image of the root with scripts/guest installed as /faultline;
    cached by the root's marker and the guest scripts' contents."""
    marker = Path(root) / ".complete"
    gfiles = sorted(p for p in GUEST_DIR.iterdir() if p.is_file())
    key = _hash(marker.stat().st_mtime, *[p.name for p in gfiles],
                *[p.read_bytes() for p in gfiles])
    idir = cache_dir() / "images"
    img = idir / f"{suite}-{key}.ext4"
    if img.exists():
        log(f"image {img}: cached")
        return img
    idir.mkdir(parents=True, exist_ok=True)
    for old in idir.glob(f"{suite}-*.ext4"):
        # stale keys; a run that started within the hour may still use it
        if time.time() - old.stat().st_mtime > 3600:
            old.unlink()
    used = int(subprocess.run(["du", "-sxb", str(root)], capture_output=True,
                              text=True).stdout.split()[0])
    # Room for faultline's page-cache files and the build outputs.
    size_mb = used // (1 << 20) + 3072
    tmp = img.with_suffix(".tmp")
    logf = idir / f"{suite}.log"
    log(f"image {img}: mke2fs -d {root} ({size_mb} MiB sparse)")
    # A non-recursive bind in a private mount namespace: mke2fs sees the
    # root's own files only, not a /proc or /mnt someone mounted inside it.
    view = idir / ".view"
    view.mkdir(exist_ok=True)
    run(["unshare", "-m", "--propagation", "private", "sh", "-c",
         'mount --bind "$1" "$2" && shift 2 && exec "$@"', "sh", root, view,
         "mke2fs", "-q", "-F", "-t", "ext4", "-L", "faultline-root",
         "-E", "root_owner=0:0", "-d", view, tmp, f"{size_mb}M"],
        logfile=logf, nice=True)
    # Install the guest scripts without touching the shared root.
    cmds = ["mkdir /faultline", "mkdir /host", "mkdir /mnt/pmem"]
    for p in gfiles:
        cmds.append(f"write {p} /faultline/{p.name}")
        cmds.append(f"sif /faultline/{p.name} mode 0100755")
    run(["debugfs", "-w", "-f", "-", tmp], input="\n".join(cmds).encode(),
        logfile=logf)
    tmp.rename(img)
    return img


def build_faultline(k, logf, repo=REPO):
    """Build faultline and the driver inside the kernel's Debian root, in a
    copy of the repository (the host's build/ is never touched; the shared
    root is not written: the copy is bind-mounted in a private mount
    namespace).  Returns (faultline path or None, driver .ko or None,
    notes: why something was not built)."""
    notes = dict(k.notes)
    from .roots import BUILD_EXTRAS, ensure_packages
    extra = os.environ.get("FAULTLINE_VM_EXTRA_PKGS", "").split(",")
    absent = ensure_packages(k.suite, BUILD_EXTRAS + extra)
    if absent:
        notes["packages"] = f"{k.suite} lacks {', '.join(absent)}"
    label_dir = cache_dir() / "build" / k.label
    # Tracked and untracked-but-not-ignored files: what a clone would have.
    files = [f.decode() for f in subprocess.run(
        ["git", "-C", str(repo), "ls-files", "-z", "--cached", "--others",
         "--exclude-standard"], capture_output=True).stdout.split(b"\0")
        if f and (repo / f.decode()).is_file()]
    h = hashlib.sha256()
    for f in sorted(files):
        # what `make` and `make -C drivers` read (not scripts, docs, tests)
        # (tests/driver/ is built too: the driver's userspace tests)
        if (f.startswith(("scripts/", "docs/", "tests/", "results/", ".ci/"))
                and not f.startswith("tests/driver/")) or f.endswith(".md"):
            continue
        h.update(f.encode() + b"\0" + (repo / f).read_bytes())
    marker = Path(k.root) / ".complete"
    h.update(f"{k.release} {k.kdir} {marker.stat().st_mtime}".encode())
    key = h.hexdigest()
    # One directory per source hash: runs from different checkouts (or
    # two runs of one kernel at once) never rebuild each other's tree.
    work = label_dir / key[:16]
    k.build_dir = work
    with flocked(label_dir / f"{key[:16]}.lock"):
        built = _build_in(k, repo, files, key, work, notes, logf)
    _prune_builds(label_dir, keep=6)
    return built


def _prune_builds(label_dir, keep):
    """Drop all but the newest `keep` source builds of one kernel, skipping
    any whose lock another run holds."""
    dirs = sorted((d for d in label_dir.iterdir()
                   if d.is_dir() and (d / "key.json").exists()),
                  key=lambda d: (d / "key.json").stat().st_mtime,
                  reverse=True)
    for d in dirs[keep:]:
        fd = os.open(label_dir / f"{d.name}.lock", os.O_RDWR | os.O_CREAT)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        try:
            shutil.rmtree(d, ignore_errors=True)
        finally:
            os.close(fd)


def _build_in(k, repo, files, key, work, notes, logf):
    src = work / "src"
    stamp = work / "key.json"
    try:
        old = json.loads(stamp.read_text())
    except (OSError, ValueError):
        old = {}
    if old.get("key") == key:
        fl = Path(old["faultline"]) if old.get("faultline") else None
        ko = Path(old["driver"]) if old.get("driver") else None
        if (not fl or fl.exists()) and (not ko or ko.exists()):
            log(f"build: cached in {work} (same sources, root and kernel)")
            return fl, ko, old.get("notes", {})
    if src.exists():
        shutil.rmtree(src)
    src.mkdir(parents=True)
    for f in files:
        t = src / f
        t.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(repo / f, t)
    ver = subprocess.run(["git", "-C", str(repo), "describe", "--always",
                          "--dirty", "--tags"], capture_output=True,
                         text=True).stdout.strip() or "unknown"
    # $1 = repo copy -> /mnt, $2 = extra kernel tree -> /srv (or "-").
    script = (
        "set -e\n"
        "mount --bind \"$1\" \"$ROOT/mnt\"\n"
        "[ \"$2\" = - ] || mount --bind \"$2\" \"$ROOT/srv\"\n"
        "mount -t proc proc \"$ROOT/proc\"\n"
        "shift 2\n"
        "exec chroot \"$ROOT\" \"$@\"\n")
    extra = str(k.kdir_host) if k.kdir_host else "-"

    def in_root(*cmd):
        env = dict(os.environ, ROOT=str(k.root), LC_ALL="C.UTF-8",
                   PATH="/usr/sbin:/usr/bin:/sbin:/bin")
        return run(["unshare", "-m", "--propagation", "private", "sh", "-c",
                    script, "sh", src, extra] + list(cmd), logfile=logf,
                   check=False, env=env, nice=True)

    r = in_root("make", "-C", "/mnt", f"VERSION={ver}", "-j2")
    fl = src / "build" / "faultline"
    if r.returncode or not fl.exists():
        notes["faultline"] = f"faultline not built: make failed (log {logf})"
        fl = None
    ko = None
    if "driver" in notes:
        pass
    elif not any((repo / "drivers" / n).exists()
                 for n in ("Makefile", "Kbuild")):
        notes["driver"] = "driver not built: drivers/ has no Makefile"
    else:
        r = in_root("make", "-C", "/mnt/drivers", f"KDIR={k.kdir}")
        kos = sorted((src / "drivers").rglob("faultline.ko"))
        if r.returncode or not kos:
            notes["driver"] = ("driver not built: make -C drivers "
                               f"KDIR={k.kdir} failed (log {logf})")
        else:
            ko = kos[0]
            # fl-smoke, fl-fuzz and fl-unload, static: scripts/vm copies
            # them into the share.
            r = in_root("make", "-C", "/mnt/tests/driver", "STATIC=1")
            if r.returncode:
                notes["driver_tests"] = ("driver tests not built: make -C tests/driver "
                                         f"failed (log {logf})")
    write_json(stamp, {"key": key, "faultline": str(fl) if fl else None,
                       "driver": str(ko) if ko else None, "notes": notes})
    return fl, ko, notes


def kernel_releases_all(root):
    return sorted(p.name[len("vmlinuz-"):]
                  for p in (Path(root) / "boot").glob("vmlinuz-*"))


def kernel_releases(root):
    """The root's (newest) Debian kernel release."""
    rels = kernel_releases_all(root)
    if not rels:
        raise VmError(f"no /boot/vmlinuz-* in {root}")
    return sorted(rels, key=_vkey)[-1]


def _vkey(r):
    import re
    return [int(x) if x.isdigit() else x for x in re.split(r"[.-]", r)]


def write_json(path, obj):
    tmp = Path(str(path) + ".tmp")
    tmp.write_text(json.dumps(obj, indent=1, sort_keys=False) + "\n")
    os.replace(tmp, path)
