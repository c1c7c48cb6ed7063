"""The TCG retry of tests/run.py (tcg_text_patch_fault, run_vm_tool) on
guest consoles (tests/harness/consoles/README): a soft lockup under
text_poke_bp and a stray int3 oops are retried once, with both attempts
in the output and the retry counted; a lockup with a driver frame, a
lockup without a text-patching frame, a KVM guest, a hang (exit 3) and an
internal error are not."""
import io
import json
import os
import re
import sys
import tempfile

import checklib
import run
from hostlib import ROOT

CONSOLES = os.path.join(ROOT, "tests/harness/consoles")


def console(name):
    with open(os.path.join(CONSOLES, name)) as f:
        return f.read()


TEXT_POKE = console("6.1-text-poke-lockup.txt")
INT3_72 = console("7.2-stray-int3.txt")
# 5.10 and 6.1 print the stray int3 without the "Oops: " prefix.
INT3_61 = INT3_72.replace("Oops: int3: 0000 [#1]", "int3: 0000 [#1]")
DRIVER = console("6.1-driver-lockup.txt")
# A lockup outside text patching with no driver frame: the patching
# frames of the 6.1 console replaced by a plain fault path.
PLAIN = re.sub(r"text_poke_bp\w*|tracepoint_probe_unregister", "handle_mm_fault", TEXT_POKE)


def verdict(*texts, vm_json=None):
    """tcg_text_patch_fault on a results folder with one console per TEXT."""
    with tempfile.TemporaryDirectory() as d:
        for i, text in enumerate(texts):
            os.makedirs(os.path.join(d, f"boot{i}"))
            with open(os.path.join(d, f"boot{i}", "console.log"), "w") as f:
                f.write(text)
        if vm_json:
            with open(os.path.join(d, "vm.json"), "w") as f:
                json.dump(vm_json, f)
        return run.tcg_text_patch_fault(d)


def test_console_signatures():
    retry, why = verdict(TEXT_POKE)
    assert retry and "self-detected stall" in why and "text_poke_bp" in why, why
    # The same hang killed before its soft lockup printed: the RCU stall alone.
    stall_only = TEXT_POKE[:TEXT_POKE.index("watchdog: BUG: soft lockup")]
    retry, why = verdict(stall_only)
    assert retry and "self-detected stall" in why and "text_poke_bp" in why, why
    for text in (INT3_72, INT3_61):
        retry, why = verdict(text)
        assert retry and "int3: 0000 [#1]" in why, why
    retry, why = verdict(DRIVER)
    assert not retry and "hmm_range_fault" in why, why
    # One driver lockup anywhere under the folder rules the retry out.
    retry, why = verdict(TEXT_POKE, DRIVER)
    assert not retry and "hmm_range_fault" in why, why
    retry, why = verdict(PLAIN)
    assert not retry and "no text-patching frame" in why, why
    retry, why = verdict(TEXT_POKE, vm_json={"accel": {"accel": "kvm"}})
    assert not retry and "KVM" in why, why
    # No lockup at all; text that is not a qemu guest's console.
    assert verdict(TEXT_POKE[:TEXT_POKE.index("rcu: INFO")]) == (False, None)
    assert verdict(TEXT_POKE.replace("QEMU", "ACME")) == (False, None)
    return "text_poke stall/lockup and int3 (7.2, 6.1 forms) retried; driver, plain, KVM not"


def test_lockup_extent_stops_at_the_next_splat():
    """The driver console's lockup ends at its Kernel panic line."""
    found = run.lockups(DRIVER)
    assert len(found) == 1 and found[0][0].startswith("watchdog: BUG: soft lockup"), found
    assert found[0][-1].startswith("Kernel panic"), found[0][-3:]


# A fake VM tool: its --out gets console.log; the first run (no state
# file) fails its check with CONSOLE and exits EXIT, the next passes.
FAKE = """import os, sys
sys.path.insert(0, {vm!r})
import checklib
out, state, console, code = sys.argv[1:5]
c = checklib.Checks()
c.results(out)
c.plan(["guest check", "other check"])
os.makedirs(out, exist_ok=True)
first = not os.path.exists(state)
with open(state, "a") as f:
    f.write("run\\n")
with open(os.path.join(out, "console.log"), "w") as f:
    f.write(open(console).read() if first else "QEMU guest, quiet\\n")
c.check(True, "other check")
c.check(not first, "guest check", "the guest panicked")
sys.exit(int(code) if first else c.finish())
"""


def retry_run(console_text, code=checklib.EXIT_FAIL):
    """run_vm_tool on the fake tool: (tally, printed text, runs made)."""
    with tempfile.TemporaryDirectory() as d:
        tool = os.path.join(d, "tool")
        with open(tool, "w") as f:
            f.write(FAKE.format(vm=os.path.join(ROOT, "tests/vm")))
        con = os.path.join(d, "console.txt")
        with open(con, "w") as f:
            f.write(console_text)
        state = os.path.join(d, "state")
        out = io.StringIO()
        t = run.Tally(out)
        run.run_vm_tool(t, "fake", lambda n: [sys.executable, tool, os.path.join(d, f"out-{n}"),
                                              state, con, str(code)], 60, "fake ")
        with open(state) as f:
            runs = len(f.read().splitlines())
        return t, out.getvalue(), runs


def test_text_patching_failure_retried_once_and_counted():
    for text in (TEXT_POKE, INT3_72):
        t, out, runs = retry_run(text)
        assert runs == 2 and t.counts == {"pass": 2, "fail": 0, "skip": 0}, (runs, t.counts, out)
        assert t.retried == 2, out
        assert "fake attempt 1: 1 passed, 1 failed; retrying once: TCG text patching" in out, out
        assert "attempt 1 FAIL fake guest check — the guest panicked" in out, out
        assert "ok   vm: fake guest check (attempt 2)" in out, out
        lines = t.summary(1.0)
        assert re.fullmatch(r"\d+ passed, \d+ failed, \d+ skipped", lines[-1]), lines
        assert lines[-1] == "2 passed, 0 failed, 0 skipped", lines
        assert lines[-2].startswith("2 retried"), lines


def test_no_retry_for_driver_lockup_hang_or_internal_error():
    cases = [(DRIVER, checklib.EXIT_FAIL, "hmm_range_fault"),
             (PLAIN, checklib.EXIT_FAIL, "no text-patching frame"),
             (TEXT_POKE, checklib.EXIT_TIMEOUT, "exit 3"),
             (TEXT_POKE, checklib.EXIT_INTERNAL, "exit 4")]
    for text, code, said in cases:
        t, out, runs = retry_run(text, code)
        assert runs == 1 and t.retried == 0, (code, runs, out)
        assert t.counts["fail"] >= 1, (code, t.counts, out)
        assert said in out, (said, out)
        assert t.summary(1.0)[-2] == "0 retried", t.summary(1.0)
    return f"{len(cases)} failures reported as they are"
