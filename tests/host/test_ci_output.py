"""Results that CI systems read: `faultline run --tap` (a kselftest-style
TAP stream that `prove` accepts) and `--junit FILE` (JUnit XML whose
counts match results.jsonl), on a run with a pass, a skip and a fail."""
import os
import shutil
import subprocess
import tempfile
import xml.etree.ElementTree as ET

from hostlib import FAULTLINE, ROOT, Skip, read_records

JOB = """[global]
repeat=2
[pass]
workload=populate
backing=anon-4k
size=4M
[skip]
workload=dax-populate
dax_dir=/nonexistent-dax-mount
[fail]
workload=fault-scale
repeat=1000
timeout=2
"""


def _run():
    d = tempfile.mkdtemp(prefix="fl-ci-")
    job = os.path.join(d, "ci.job")
    with open(job, "w") as f:
        f.write(JOB)
    out, xml = os.path.join(d, "out"), os.path.join(d, "junit.xml")
    p = subprocess.run([FAULTLINE, "run", job, "--tap", "--junit", xml, "--out", out],
                       capture_output=True, text=True, timeout=300, cwd=ROOT)
    return p, out, xml, d


def test_tap_and_junit_agree_with_the_records():
    p, out, xml, d = _run()
    assert p.returncode == 1, (p.returncode, p.stderr[-800:])
    recs = read_records(out)
    status = {r["case"]: r["status"] for r in recs}
    assert sorted(status.values()) == ["fail", "pass", "skip"], status

    lines = p.stdout.splitlines()
    assert lines[:2] == ["TAP version 13", "1..3"], lines[:2]
    points = [x for x in lines[2:] if x.startswith(("ok ", "not ok "))]
    assert len(points) == 3 and len(lines) == 5, lines
    for x in points:
        case = x.split(" ", 3)[-1].split(" # ")[0] if x.startswith("not") else x.split(" ", 2)[-1].split(" # ")[0]
        st = status[case]
        if st == "pass":
            assert x.startswith("ok ") and " # SKIP" not in x, x
        elif st == "skip":
            assert x.startswith("ok ") and " # SKIP " in x, x
        else:
            assert x.startswith("not ok ") and "hung" in x, x
    prove = shutil.which("prove")
    if prove:
        tap = os.path.join(d, "run.tap")
        with open(tap, "w") as f:
            f.write(p.stdout)
        q = subprocess.run([prove, "--exec", "cat", tap], capture_output=True, text=True)
        # prove parses it and reports the one failing test point, nothing else
        assert "Failed 1/3 subtests" in q.stdout, q.stdout

    root = ET.parse(xml).getroot()
    assert root.tag == "testsuites"
    suite = root.find("testsuite")
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors"), suite.get("skipped")) == \
        ("3", "1", "0", "1"), suite.attrib
    cases = {c.get("name"): c for c in suite.findall("testcase")}
    assert set(cases) == set(status)
    for name, c in cases.items():
        kids = [k.tag for k in c if k.tag != "system-out"]
        want = {"pass": [], "skip": ["skipped"], "fail": ["failure"]}[status[name]]
        assert kids == want, (name, kids)
    props = {x.get("name") for x in suite.find("properties")}
    passed = [n for n, s in status.items() if s == "pass"]
    assert any(n.startswith(passed[0]) for n in props), props
    xmllint, xsd = shutil.which("xmllint"), os.environ.get("FAULTLINE_JUNIT_XSD")
    if xmllint and xsd:
        q = subprocess.run([xmllint, "--noout", "--schema", xsd, xml], capture_output=True, text=True)
        assert q.returncode == 0, q.stderr
