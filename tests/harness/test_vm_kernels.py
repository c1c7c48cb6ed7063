"""scripts/vm's kernel specs without booting anything: debian:experimental
resolves to a root derived from sid; deb: packages (small fake .debs made
here with dpkg-deb) are read and refused with one clear line each (missing
file, not a Debian package, not a kernel package, no image or two, headers
of another release); the suite picked for a kernel's compiler; and the
usage errors of `scripts/vm run` (exit 2, one line, before root or qemu
are needed)."""
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from hostlib import ROOT, Skip

sys.path.insert(0, os.path.join(ROOT, "scripts"))
from vmlib import kdeb, kernels, roots  # noqa: E402
from vmlib.common import UsageError  # noqa: E402

VM = os.path.join(ROOT, "scripts", "vm")
SMOKE = os.path.join(ROOT, "workloads", "suites", "vm-smoke.job")


def need_dpkg_deb():
    if not shutil.which("dpkg-deb"):
        raise Skip("dpkg-deb not found (apt-get install dpkg)")


def make_deb(d, package, files, version="1.0-1"):
    """A .deb named PACKAGE_VERSION_amd64.deb holding FILES
    ({path: text}) under d."""
    tree = os.path.join(d, f"tree-{package}")
    os.makedirs(os.path.join(tree, "DEBIAN"))
    with open(os.path.join(tree, "DEBIAN", "control"), "w") as f:
        f.write(f"Package: {package}\nVersion: {version}\nArchitecture: amd64\n"
                "Maintainer: nobody <nobody@localhost>\nDescription: test\n")
    for path, text in files.items():
        p = os.path.join(tree, path)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "w") as f:
            f.write(text)
    out = os.path.join(d, f"{package}_{version}_amd64.deb")
    subprocess.run(["dpkg-deb", "--root-owner-group", "-Zgzip", "--build",
                    tree, out], check=True, capture_output=True)
    shutil.rmtree(tree)
    return out


CONFIG = 'CONFIG_CC_VERSION_TEXT="x86_64-linux-gnu-gcc-14 (Debian 14.2.0-19) 14.2.0"\n'


def image_deb(d, rel="6.99.1-test", split=False):
    """An image package: classic (boot/vmlinuz-R) or Debian's split layout
    (usr/lib/modules/R/vmlinuz)."""
    files = {f"usr/lib/modules/{rel}/kernel/fs/x.ko": "",
             f"usr/lib/modules/{rel}/vmlinuz" if split else
             f"boot/vmlinuz-{rel}": "image",
             f"boot/config-{rel}": CONFIG}
    return make_deb(d, f"linux-image-{rel}", files)


def headers_deb(d, rel="6.99.1-test"):
    return make_deb(d, f"linux-headers-{rel}", {
        f"usr/src/linux-headers-{rel}/Makefile": "include x\n",
        f"usr/src/linux-headers-{rel}/.config": CONFIG})


def usage_error(spec):
    try:
        kernels.parse_kernel(spec)
    except UsageError as e:
        return str(e)
    raise AssertionError(f"{spec!r} parsed; want a UsageError")


def test_debian_experimental_is_a_sid_root():
    k = kernels.parse_kernel("debian:experimental")
    assert (k.kind, k.suite, k.label) == ("debian", "experimental", "experimental"), vars(k)
    assert roots.KERNEL_ONLY["experimental"] == "sid"
    # a root that is not made yet installs from its base's packages
    if roots.root_info("experimental") is None:
        assert roots.apt_suite("experimental") == "sid"
    assert roots.apt_suite("trixie") == "trixie"


def test_deb_image_and_headers():
    need_dpkg_deb()
    with tempfile.TemporaryDirectory() as d:
        img, hdr = image_deb(d), headers_deb(d)
        k = kernels.parse_kernel(f"deb:{img},{hdr}")
        assert (k.kind, k.release, k.label) == ("deb", "6.99.1-test", "deb-6.99.1-test"), vars(k)
        assert k.suite.startswith("deb-") and len(k.suite) == 16, k.suite
        recs = [x.record() for x in k.debs]
        assert [r["package"] for r in recs] == ["linux-image-6.99.1-test",
                                                "linux-headers-6.99.1-test"], recs
        assert all(len(r["sha256"]) == 64 and r["version"] == "1.0-1" for r in recs), recs
        # the same packages in another order are the same root
        assert kernels.parse_kernel(f"deb:{hdr},{img}").suite == k.suite
        # the image alone parses too: the run goes on without the driver
        k1 = kernels.parse_kernel(f"deb:{img}")
        assert k1.release == "6.99.1-test" and k1.suite != k.suite
        assert k.headers and not k1.headers
        # Debian's split packaging: the image under usr/lib/modules/R/
        with tempfile.TemporaryDirectory() as d2:
            k2 = kernels.parse_kernel(f"deb:{image_deb(d2, '7.9-amd64', split=True)}")
            assert k2.release == "7.9-amd64", vars(k2)


def test_deb_refusals():
    need_dpkg_deb()
    with tempfile.TemporaryDirectory() as d:
        assert "deb: wants IMAGE.deb" in usage_error("deb:")
        assert "no such file" in usage_error(f"deb:{d}/nope.deb")
        txt = os.path.join(d, "notes.deb")
        with open(txt, "w") as f:
            f.write("not an archive\n")
        assert "is not a Debian package" in usage_error(f"deb:{txt}")
        other = make_deb(d, "hello", {"usr/share/doc/hello/README": "hi"})
        e = usage_error(f"deb:{other}")
        assert "hello 1.0-1) is not a kernel package" in e, e
        hdr = headers_deb(d)
        e = usage_error(f"deb:{hdr}")
        assert "no kernel image" in e and "linux-headers-6.99.1-test_1.0-1_amd64.deb" in e, e
        img = image_deb(d)
        e = usage_error(f"deb:{img},{image_deb(d, '6.99.2-test')}")
        assert "images of 6.99.1-test, 6.99.2-test" in e, e
        e = usage_error(f"deb:{img},{headers_deb(d, '6.99.3-test')}")
        assert "headers of 6.99.3-test, but the image is 6.99.1-test" in e, e


class FakeApt:
    """roots.AptConfig's candidates() from a table {suite: {pkg: ver}}."""
    table = {}

    def __init__(self, suite):
        self.suite = suite

    def candidates(self, pkgs):
        return {p: self.table.get(self.suite, {}).get(p) for p in pkgs}


def test_pick_suite_follows_the_kernels_compiler():
    saved = roots.AptConfig
    FakeApt.table = {
        "sid": {"gcc": "4:16.1.0-3", "gcc-16": "16.2.0-4", "gcc-14": "14.3.0-9"},
        "trixie": {"gcc": "4:14.2.0-1", "gcc-14": "14.2.0-19"},
        "bookworm": {"gcc": "4:12.2.0-3", "gcc-12": "12.2.0-14"},
        "bullseye": {"gcc": "4:10.2.1-1", "gcc-10": "10.2.1-6"}}
    roots.AptConfig = FakeApt
    try:
        def pick(cc):
            return kdeb.pick_suite(cc)[0]
        # the exact gcc wins over the newest suite that also has gcc-14
        assert pick("x86_64-linux-gnu-gcc-14 (Debian 14.2.0-19) 14.2.0") == "trixie"
        # no exact version: the suite whose default gcc has that major
        assert pick("x86_64-linux-gnu-gcc-16 (Debian 16.2.0-3) 16.2.0") == "sid"
        assert pick("gcc (Debian 12.2.0-13) 12.2.0") == "bookworm"
        # a major only one suite has as a second compiler
        FakeApt.table["sid"]["gcc-13"] = "13.4.0-2"
        assert pick("x86_64-linux-gnu-gcc-13 (Debian 13.3.0-1) 13.3.0") == "sid"
        # nothing fits, or not Debian's gcc: the newest suite
        assert pick("x86_64-linux-gnu-gcc-9 (Debian 9.3.0-22) 9.3.0") == "sid"
        s, why = kdeb.pick_suite("gcc (GCC) 13.2.1")
        assert s == "sid" and "not a Debian gcc" in why, why
    finally:
        roots.AptConfig = saved
    assert kdeb.cc_text(CONFIG) == "x86_64-linux-gnu-gcc-14 (Debian 14.2.0-19) 14.2.0"
    assert kdeb.cc_text("CONFIG_X=y\n") is None


def test_vm_usage_errors_exit_2_in_one_line():
    """scripts/vm run refuses bad kernel specs before it needs root, qemu
    or the network: exit 2, one 'scripts/vm: ...' line, nothing on stdout."""
    need_dpkg_deb()
    with tempfile.TemporaryDirectory() as d:
        other = make_deb(d, "hello", {"usr/share/doc/hello/README": "hi"})
        cases = [("deb:", "deb: wants IMAGE.deb"),
                 (f"deb:{d}/nope.deb", "no such file"),
                 (f"deb:{other}", "is not a kernel package"),
                 (f"deb:{headers_deb(d)}", "no kernel image"),
                 ("debian:Sid!", "bad Debian suite"),
                 ("linux-7.3", "unknown kernel spec")]
        for spec, want in cases:
            p = subprocess.run([sys.executable, VM, "run", "--kernel", spec,
                                "--suite", SMOKE], capture_output=True,
                               text=True, timeout=120, cwd=d)
            err = p.stderr.strip().splitlines()
            assert p.returncode == 2, (spec, p.returncode, p.stderr[-400:])
            assert len(err) == 1 and err[0].startswith("scripts/vm: ") and want in err[0], (spec, err)
            assert not p.stdout.strip(), (spec, p.stdout)
    return f"{len(cases)} specs"


def fake_root(d, rel, packages):
    """A root with a dpkg database only: PACKAGES {name: (version,
    [paths])}, the kernel's config in /boot."""
    info = os.path.join(d, "var/lib/dpkg/info")
    os.makedirs(info)
    os.makedirs(os.path.join(d, "var/lib/dpkg/updates"))
    with open(os.path.join(d, "var/lib/dpkg/status"), "w") as st:
        for name, (ver, paths) in packages.items():
            st.write(f"Package: {name}\nStatus: install ok installed\n"
                     f"Architecture: amd64\nVersion: {ver}\n\n")
            with open(os.path.join(info, f"{name}.list"), "w") as f:
                f.write("\n".join(["/."] + paths) + "\n")
    os.makedirs(os.path.join(d, "boot"))
    with open(os.path.join(d, "boot", f"config-{rel}"), "w") as f:
        f.write(CONFIG)
    return d


def test_provenance_names_packages_and_compiler():
    """What run.json's vm.kernel.source says of a packaged kernel, read
    from a root's dpkg database: the package holding the vmlinuz (Debian's
    split layout), every package of the release, the kernel's gcc beside
    the root's."""
    if not shutil.which("dpkg-query"):
        raise Skip("dpkg-query not found (apt-get install dpkg)")
    rel = "7.9-amd64"
    with tempfile.TemporaryDirectory() as d:
        root = Path(fake_root(d, rel, {
            "linux-binary-7.9-amd64": ("7.9~rc1-1", [
                "/usr", "/usr/lib", "/usr/lib/modules", f"/usr/lib/modules/{rel}",
                f"/usr/lib/modules/{rel}/vmlinuz"]),
            "linux-modules-7.9-amd64": ("7.9~rc1-1", [
                "/usr", "/usr/lib", "/usr/lib/modules", f"/usr/lib/modules/{rel}",
                f"/usr/lib/modules/{rel}/kernel"]),
            "linux-headers-7.9-amd64": ("7.9~rc1-1", [
                "/usr", "/usr/src", f"/usr/src/linux-headers-{rel}"]),
            "linux-image-6.1.0-9-amd64": ("6.1.20-1", [
                "/boot", "/boot/vmlinuz-6.1.0-9-amd64"]),
            "gcc-14": ("14.2.0-19", ["/usr/bin/gcc-14"])}))
        assert roots.kernel_packages(root, rel) == [
            "linux-binary-7.9-amd64", "linux-headers-7.9-amd64", "linux-modules-7.9-amd64"]
        src = kdeb.provenance(root, rel, "experimental")
        assert src["suite"] == "experimental" and src["root"] == root.name, src
        assert (src["image_package"], src["image_version"]) == \
            ("linux-binary-7.9-amd64", "7.9~rc1-1"), src
        assert set(src["packages"]) == set(roots.kernel_packages(root, rel)), src
        assert src["compiler"] == {
            "kernel": "x86_64-linux-gnu-gcc-14 (Debian 14.2.0-19) 14.2.0",
            "root": "gcc-14 14.2.0-19", "same": True}, src
        # the other release's packages are what a derived root purges
        assert roots.kernel_packages(root, "6.1.0-9-amd64") == ["linux-image-6.1.0-9-amd64"]


def test_deb_image_without_headers_runs_without_the_driver():
    """An image given without its headers: the driver is not built (the
    guest's driver cases skip with this reason), even where the root's
    suite has headers of the same release, which may come from another
    build of it; with the headers given there is no such note."""
    need_dpkg_deb()
    saved = roots.derive_root, kdeb.pick_suite
    rel = "6.99.1-test"
    with tempfile.TemporaryDirectory() as d:
        root = os.path.join(d, "root")
        for p in (f"boot/vmlinuz-{rel}", f"usr/src/linux-headers-{rel}/Makefile"):
            os.makedirs(os.path.dirname(os.path.join(root, p)), exist_ok=True)
            open(os.path.join(root, p), "w").close()
        roots.derive_root = lambda name, base, install, **kw: Path(root)
        kdeb.pick_suite = lambda cc: ("trixie", "test")
        try:
            img = image_deb(d)
            k = kernels.parse_kernel(f"deb:{img}")
            kdeb.resolve(k)
            assert k.notes.get("driver", "").startswith(
                f"driver not built: deb: got no headers of {rel}"), k.notes
            assert k.vmlinuz == Path(root) / "boot" / f"vmlinuz-{rel}", k.vmlinuz
            assert [x["package"] for x in k.source["debs"]] == [f"linux-image-{rel}"], k.source
            k = kernels.parse_kernel(f"deb:{img},{headers_deb(d)}")
            kdeb.resolve(k)
            assert "driver" not in k.notes and k.kdir == f"/usr/src/linux-headers-{rel}", (k.notes, k.kdir)
        finally:
            roots.derive_root, kdeb.pick_suite = saved
