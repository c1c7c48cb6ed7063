"""git:PATH@REV kernel specs (scripts/vmlib/kgit.py) without a build:
the spec's parse and its errors, the revision and version read from the
tree, and the suite whose compiler fits the tree's version."""
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from hostlib import ROOT

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
