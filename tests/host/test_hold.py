"""Host integration: what cow-pin accepts as the kernel's known hugetlb/vmsplice
leak, and where helper threads run.

selftests/mm/cow.c marks exactly one leak XFAIL on hugetlb: a vmsplice'd page
(FOLL_GET, not a pin) that the other mm's write reaches after fork, seen in
the pipe ("vmsplice() + unmap in child", "vmsplice() before fork(), unmap in
parent after fork()").  cow-pin records that shape as known_issue; any other
mismatch on hugetlb + vmsplice is a fail.
"""
import os
import re

from hostlib import Skip, run_cases

VMSPLICE_SCENARIOS = "dma-after-fork,write-after-pin,mprotect,vmsplice-child"


def _hugetlb_records(recs):
    ran = [r for r in recs if r["status"] != "skip"]
    if not ran:
        raise Skip("no hugetlb-2m case could run here: " + recs[0]["reason"])
    return ran


def test_cow_pin_hugetlb_vmsplice_known_issue_is_cow_c_xfail():
    """Every hugetlb + vmsplice case passes clean, or passes with known_issue
    naming cow.c's XFAIL test and a mismatch of exactly that shape."""
    recs, _, _ = run_cases("cow-pin", "--prepare", "--backing", "hugetlb-2m", "--set", "pin=vmsplice",
                           "--set", f"scenario={VMSPLICE_SCENARIOS}", "--repeat", "1", "--warmup", "0")
    xfail = 0
    for r in _hugetlb_records(recs):
        d = r["details"]
        assert r["status"] == "pass", (r["case"], r["status"], r["reason"])
        if "known_issue" not in d:
            assert d.get("behaviour.cow") == "as expected", (r["case"], d)
            continue
        xfail += 1
        assert "selftests/mm/cow.c" in d["known_issue"], d["known_issue"]
        if r["params"]["scenario"] == "vmsplice-child":
            assert "vmsplice() + unmap in child" in d["known_issue"], d["known_issue"]
            assert d["behaviour.cow"] == "the child's vmsplice'd pages saw the parent's post-fork write", d
        else:
            assert "vmsplice() before fork()" in d["known_issue"], d["known_issue"]
            assert d["behaviour.cow"] == "the device (read back through the pin) saw the child's write", d
            assert d["mismatch"].endswith("child region)"), d["mismatch"]
    return f"{xfail} of {len(recs)} cases showed cow.c's XFAIL leak (recorded as known_issue)"


def test_cow_pin_hugetlb_vmsplice_other_mismatch_fails():
    """inject=lost-cow puts the parent's write in the child's copy: not the
    XFAIL shape, so a fail even on hugetlb + vmsplice."""
    recs, _, _ = run_cases("cow-pin", "--prepare", "--backing", "hugetlb-2m", "--set", "pin=vmsplice",
                           "--set", "scenario=dma-after-fork", "--set", "inject=lost-cow",
                           "--repeat", "1", "--warmup", "0", expect_exit=1)
    for r in _hugetlb_records(recs):
        assert r["status"] == "fail", (r["case"], r["status"], r["reason"])
        assert "known_issue" not in r["details"], r["details"]
        assert "the child saw the parent's post-fork write" in r["reason"], r["reason"]
    return recs[0]["reason"][:100]


def test_helper_threads_run_off_the_workers_cpu():
    """cow-race's DMA and toucher threads are placed by the core: recorded,
    and on another CPU than the worker's where the host has one."""
    recs, _, _ = run_cases("cow-race", "--backing", "anon-4k", "--set", "dma=o_direct", "--set", "pinned=no",
                           "--set", "forks=50", "--repeat", "1", "--warmup", "0", "--threads", "1")
    r = recs[0]
    if r["status"] == "skip":
        raise Skip(r["reason"])
    assert r["status"] == "pass", (r["reason"], r["details"])
    notes = []
    for name in ("dma0", "toucher"):
        where = r["details"][f"helper_cpu.{name}"]
        m = re.match(r"cpu (\d+) \(worker 0 on cpu (\d+)", where)
        assert m, where
        if len(os.sched_getaffinity(0)) > 1:
            assert m.group(1) != m.group(2), where
        notes.append(f"{name}: {where}")
    return "; ".join(notes)
