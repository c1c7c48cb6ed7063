"""git:PATH@REV kernels (scripts/vmlib/kgit.py): the spec's parse and its
errors, the revision and version read from the tree, the suite whose
compiler fits the tree's version; and the build's orchestration (shared
clone, O= directory, first and incremental builds, install, selftests,
the user's tree untouched) on a fake tree whose Makefile only copies
files, in the trixie root when there is one (seconds, no compiler)."""
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from hostlib import ROOT, Skip

sys.path.insert(0, os.path.join(ROOT, "scripts"))
from vmlib import kernels, kgit  # noqa: E402
from vmlib.common import UsageError  # noqa: E402


def tree(d, version=("6", "12")):
    """A git tree with a kernel-like top Makefile and two commits."""
    env = dict(os.environ, GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@t",
               GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@t")
    git = ["git", "-C", str(d)]
    subprocess.run(git + ["init", "-q"], check=True)
    for i, subject in enumerate(("base", "mm: change")):
        (d / "Makefile").write_text(
            f"VERSION = {version[0]}\nPATCHLEVEL = {version[1]}\n"
            f"SUBLEVEL = {i}\n")
        subprocess.run(git + ["add", "Makefile"], check=True)
        subprocess.run(git + ["commit", "-q", "-m", subject], env=env,
                       check=True)
    return d


def raises(fn, *args):
    try:
        fn(*args)
    except UsageError as e:
        return str(e)
    raise AssertionError(f"{fn.__name__}{args} did not raise UsageError")


def test_spec_parse_and_errors():
    with tempfile.TemporaryDirectory() as d:
        t = tree(Path(d))
        k = kernels.parse_kernel(f"git:{t}@HEAD~1")
        assert (k.kind, k.tree, k.rev, k.variant) == ("git", t.resolve(),
                                                      "HEAD~1", "")
        assert k.subject == "base" and k.label == f"git-{t.name}-{k.sha[:12]}"
        k = kernels.parse_kernel(f"git:{t}@HEAD+kasan")
        assert (k.rev, k.variant, k.subject) == ("HEAD", "kasan", "mm: change")
        assert k.label.endswith("-kasan")
        assert kernels.parse_kernel(f"git:{t}@HEAD", kasan=True).variant == \
            "kasan"
        assert "is not a commit" in raises(kernels.parse_kernel,
                                           f"git:{t}@v9.9")
        assert "wants a tree and a revision" in raises(
            kernels.parse_kernel, f"git:{t}")
        assert "not a git work tree" in raises(
            kernels.parse_kernel, f"git:{d}/nothing@HEAD")


def test_commit_and_version_from_the_tree():
    with tempfile.TemporaryDirectory() as d:
        t = tree(Path(d), ("7", "3"))
        sha, subject = kgit.commit_info(t, "HEAD")
        assert len(sha) == 40 and subject == "mm: change"
        assert kgit.commit_info(t, "HEAD~1")[1] == "base"
        assert "is not a commit" in raises(kgit.commit_info, t, "nope")
        assert kgit.tree_version(t, sha) == "7.3"


def test_suite_fits_the_version():
    os.environ.pop("FAULTLINE_GIT_SUITE", None)
    want = {"5.4": "bullseye", "5.10": "bullseye", "6.0": "bookworm",
            "6.1": "bookworm", "6.12": "trixie", "6.13": "sid",
            "7.2": "sid", "7.9": "sid"}
    for version, suite in want.items():
        assert kgit.suite_for(version) == suite, (version,
                                                  kgit.suite_for(version))


def test_tree_dir_is_per_path():
    a, b = Path("/x/linux"), Path("/y/linux")
    assert kgit.tree_dir(a) == kgit.tree_dir(a)
    assert kgit.tree_dir(a) != kgit.tree_dir(b)
    assert kgit.tree_dir(a).name.startswith("linux-")


FAKE_MAKEFILE = """VERSION = 6
PATCHLEVEL = 12
x86_64_defconfig kvm_guest.config:
\tmkdir -p $(O) && echo "# $@" >> $(O)/.config
olddefconfig:
\ttouch $(O)/.config
bzImage:
\tmkdir -p $(O)/arch/x86/boot && cp version.txt $(O)/arch/x86/boot/bzImage
\techo "$(CC)" > $(O)/cc.txt
modules:
modules_install:
\tmkdir -p $(INSTALL_MOD_PATH)/lib/modules/6.12.0-fake
\ttouch $(INSTALL_MOD_PATH)/lib/modules/6.12.0-fake/modules.dep
kernelrelease:
\t@echo 6.12.0-fake
headers:
\tmkdir -p $(O)/usr/include
"""


def fake_kernel_tree(d):
    (d / "scripts/kconfig").mkdir(parents=True)
    (d / "tools/testing/selftests/mm").mkdir(parents=True)
    (d / "Makefile").write_text(FAKE_MAKEFILE)
    m = d / "scripts/kconfig/merge_config.sh"  # -m -O DIR BASE FRAGS...
    m.write_text('#!/bin/sh\nshift 3; b=$1; shift; cat "$@" >> "$b"\n')
    m.chmod(0o755)
    (d / "tools/testing/selftests/mm/Makefile").write_text(
        "all:\n\tmkdir -p $(OUTPUT) && echo $(KHDR_INCLUDES) > "
        "$(OUTPUT)/hmm-tests\n")
    env = dict(os.environ, GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@t",
               GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@t")
    subprocess.run(["git", "-C", str(d), "init", "-q"], check=True)
    for v in ("one", "two"):
        (d / "version.txt").write_text(v + "\n")
        subprocess.run(["git", "-C", str(d), "add", "-A"], check=True)
        subprocess.run(["git", "-C", str(d), "commit", "-q", "-m", v],
                       env=env, check=True)


def test_build_orchestration_on_a_fake_tree():
    real = Path(os.environ.get("FAULTLINE_CACHE", "/var/cache/faultline"))
    if os.geteuid() != 0:
        raise Skip("needs root (chroot into the trixie root)")
    if not (real / "roots/trixie/.complete").exists():
        raise Skip(f"no trixie root in {real} (scripts/vm root trixie)")
    old = os.environ.get("FAULTLINE_CACHE")
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        (d / "cache").mkdir()
        (d / "cache/roots").symlink_to(real / "roots")
        os.environ["FAULTLINE_CACHE"] = str(d / "cache")
        try:
            t = d / "linux"
            fake_kernel_tree(t)
            got = []
            for rev in ("HEAD~1", "HEAD", "HEAD~1"):
                k = kernels.fetch(f"git:{t}@{rev}")
                got.append((k.vmlinuz.read_text().strip(),
                            k.source["incremental"], k.release))
            assert got == [("one", False, "6.12.0-fake"),
                           ("two", True, "6.12.0-fake"),
                           ("one", True, "6.12.0-fake")], got
            td = kgit.tree_dir(t.resolve())
            o = td / k.kdir[len("/srv/"):]
            assert (o / "cc.txt").read_text().strip() == "ccache gcc"
            assert "CONFIG_TEST_HMM=m" in (o / ".config").read_text()
            assert (o / "faultline-rev").read_text().strip() == k.sha
            assert (k.selftests / "hmm-tests").read_text().strip() == \
                f"-isystem {k.kdir}/usr/include"
            st = subprocess.run(["git", "-C", str(t), "status",
                                 "--porcelain"], capture_output=True,
                                text=True).stdout
            assert st == "", st
            head = subprocess.run(["git", "-C", str(t), "log", "-1",
                                   "--format=%s"], capture_output=True,
                                  text=True).stdout.strip()
            assert head == "two", head
        finally:
            if old is None:
                os.environ.pop("FAULTLINE_CACHE")
            else:
                os.environ["FAULTLINE_CACHE"] = old
