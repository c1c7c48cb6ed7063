"""scripts/hmm-agree on made-up folders: pass/pass agrees, a one-sided
failure or an errno mismatch disagrees (exit 1), hmm-tests skips are not
compared, and a folder where nothing could be compared (no hmm-tests TAP,
no records, every peer n/a) exits 2, never 0."""
import json
import os
import subprocess
import tempfile

from hostlib import ROOT

TAP = """TAP version 13
1..4
# Starting 4 tests from 2 test cases.
#  RUN           hmm.hmm_device_private.exclusive ...
#            OK  hmm.hmm_device_private.exclusive
ok 1 hmm.hmm_device_private.exclusive
#  RUN           hmm.hmm_device_private.exclusive_cow ...
# hmm-tests.c:1925:exclusive_cow:Expected 0 (0) == ret (-16)
# exclusive_cow: Test terminated by assertion
#          FAIL  hmm.hmm_device_private.exclusive_cow
not ok 2 hmm.hmm_device_private.exclusive_cow
#  RUN           hmm.hmm_device_coherent.exclusive ...
#      SKIP      DEVICE_COHERENT not available
ok 3 hmm.hmm_device_coherent.exclusive # SKIP DEVICE_COHERENT not available
#  RUN           hmm.hmm_device_private.exclusive_mprotect ...
ok 4 hmm.hmm_device_private.exclusive_mprotect
"""


def rec(case, status, peer, reason="", errno=None):
    d = {"hmm_tests": peer}
    if errno:
        d["errno"] = errno
    return {"case": case, "status": status, "reason": reason, "details": d}


def agree(recs, tap=TAP):
    with tempfile.TemporaryDirectory() as d:
        os.mkdir(os.path.join(d, "selftests"))
        if tap is not None:
            with open(os.path.join(d, "selftests", "hmm-tests.tap"), "w") as f:
                f.write(tap)
        with open(os.path.join(d, "results.jsonl"), "w") as f:
            for r in recs:
                f.write(json.dumps(r) + "\n")
        p = subprocess.run([os.path.join(ROOT, "scripts/hmm-agree"), d, "--json"],
                           capture_output=True, text=True, timeout=60)
        return p.returncode, json.loads(p.stdout) if p.stdout.strip() else []


def agree_stderr(recs, tap=TAP):
    """(exit status, stderr) of hmm-agree on a folder of RECS and TAP."""
    with tempfile.TemporaryDirectory() as d:
        os.mkdir(os.path.join(d, "selftests"))
        with open(os.path.join(d, "selftests", "hmm-tests.tap"), "w") as f:
            f.write(tap)
        with open(os.path.join(d, "results.jsonl"), "w") as f:
            f.writelines(json.dumps(r) + "\n" for r in recs)
        p = subprocess.run([os.path.join(ROOT, "scripts/hmm-agree"), d],
                           capture_output=True, text=True, timeout=60)
        return p.returncode, p.stderr


def test_hmm_agree_verdicts():
    p = "hmm.hmm_device_private."
    rc, rows = agree([rec("x/exclusive", "pass", p + "exclusive"),
                      rec("x/cow", "fail", p + "exclusive_cow", "make_device_exclusive: EBUSY", "EBUSY"),
                      rec("x/coherent", "pass", "hmm.hmm_device_coherent.exclusive")])
    assert rc == 0, rows
    v = {r["case"]: r["verdict"] for r in rows}
    assert v == {"x/exclusive": "agree", "x/cow": "agree", "x/coherent": "n/a"}, v
    assert rows[1]["hmm_errno"] == "EBUSY", rows[1]

    rc, rows = agree([rec("x/cow", "fail", p + "exclusive_cow", "EFAULT", "EFAULT")])
    assert rc == 1 and rows[0]["verdict"] == "DISAGREE", rows
    rc, rows = agree([rec("x/cow", "pass", p + "exclusive_cow")])
    assert rc == 1 and rows[0]["verdict"] == "DISAGREE", rows
    rc, rows = agree([rec("x/mp", "skip", p + "exclusive_mprotect", "no /dev/faultline")])
    assert rc == 1 and rows[0]["verdict"] == "DISAGREE", rows
    rc, rows = agree([rec("x/m", "pass", p + "migrate_anon_huge_empty"),
                      rec("x/e", "pass", p + "exclusive")])
    assert rc == 0 and [r["verdict"] for r in rows] == ["n/a", "agree"], rows
    rc, _ = agree([rec("x/exclusive", "pass", p + "exclusive")], tap=None)
    assert rc == 2
    return "agree/DISAGREE/n-a and exit codes as documented"


def test_hmm_agree_nothing_compared_is_not_a_pass():
    p = "hmm.hmm_device_private."
    # Every peer n/a (no such case, or hmm-tests skipped it): 0 of 0 agree.
    rc, rows = agree([rec("x/m", "pass", p + "migrate_anon_huge_empty"),
                      rec("x/c", "pass", "hmm.hmm_device_coherent.exclusive")])
    assert rc == 2 and [r["verdict"] for r in rows] == ["n/a", "n/a"], (rc, rows)
    rc, err = agree_stderr([rec("x/m", "pass", p + "migrate_anon_huge_empty")])
    assert rc == 2 and "nothing compared" in err, (rc, err)
    # Records without a peer, and an empty results.jsonl.
    rc, err = agree_stderr([{"case": "x/y", "status": "pass", "details": {}}])
    assert rc == 2 and "names an hmm-tests peer" in err, (rc, err)
    rc, err = agree_stderr([])
    assert rc == 2 and "names an hmm-tests peer" in err, (rc, err)
    # An empty folder.
    with tempfile.TemporaryDirectory() as d:
        q = subprocess.run([os.path.join(ROOT, "scripts/hmm-agree"), d],
                           capture_output=True, text=True, timeout=60)
    assert q.returncode == 2 and "need" in q.stderr, (q.returncode, q.stderr)
    return "all n/a, no peer, empty results and an empty folder exit 2"
