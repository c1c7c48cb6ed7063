"""scripts/hmm-agree on made-up folders: pass/pass agrees, a one-sided
failure or an errno mismatch disagrees (exit 1), hmm-tests skips are not
compared, and a folder without hmm-tests TAP is a usage error (exit 2)."""
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
    rc, rows = agree([rec("x/m", "pass", p + "migrate_anon_huge_empty")])
    assert rc == 0 and rows[0]["verdict"] == "n/a", rows
    rc, _ = agree([rec("x/exclusive", "pass", p + "exclusive")], tap=None)
    assert rc == 2
    return "agree/DISAGREE/n-a and exit codes as documented"
