"""tests/run.py's account of a cmocka binary (run_tap, tap_entries): a
binary that skipped and then aborted, died by a signal, exited non-zero or
reported fewer results than its plan is a failure whatever its TAP lines
said; one honest failed test is one failure."""
import io
import os
import shutil
import stat
import subprocess
import tempfile

import run
from hostlib import ROOT, Skip


def tally_of(binary):
    """run.run_tap on BINARY into a fresh Tally: (counts, printed lines)."""
    out = io.StringIO()
    t = run.Tally(out)
    run.run_tap(t, "unit", binary)
    return t.counts, out.getvalue()


def fake_binary(d, name, body):
    """A shell script standing in for a unit-test binary."""
    path = os.path.join(d, name)
    with open(path, "w") as f:
        f.write("#!/bin/sh\n" + body)
    os.chmod(path, os.stat(path).st_mode | stat.S_IXUSR)
    return path


def test_cmocka_skip_then_abort_is_failed():
    """A real cmocka binary (tests/harness/skip_then_abort.c)."""
    if not shutil.which("cc"):
        raise Skip("no C compiler (cc) to build tests/harness/skip_then_abort.c")
    exe = os.path.join(ROOT, "build/tests/harness/skip_then_abort")
    os.makedirs(os.path.dirname(exe), exist_ok=True)
    p = subprocess.run(["cc", "-o", exe, os.path.join(ROOT, "tests/harness/skip_then_abort.c"),
                        "-lcmocka"], capture_output=True, text=True)
    if p.returncode:
        raise Skip(f"cannot build against cmocka (libcmocka-dev): {p.stderr.strip()[-200:]}")
    counts, text = tally_of(exe)
    assert counts == {"pass": 1, "skip": 1, "fail": 1}, (counts, text)
    assert "FAIL unit: skip_then_abort — killed by SIGABRT" in text, text
    assert "TAP plan says 3 tests, 2 reported" in text, text
    assert "skip unit: skip_then_abort.skips — skip: nothing to test here" in text, text


CASES = [
    # (name, script, counts, text the output must hold)
    ("asan_after_skip",
     "echo 1..1; echo 'not ok 1 # SKIP s'\n"
     "echo '==7==ERROR: AddressSanitizer: heap-use-after-free' >&2; exit 1\n",
     {"pass": 0, "skip": 1, "fail": 1}, "exit 1: ==7==ERROR: AddressSanitizer"),
    ("killed_after_pass",
     "echo 1..2; echo 'ok 1 - a'; kill -SEGV $$\n",
     {"pass": 1, "skip": 0, "fail": 1}, "killed by SIGSEGV"),
    ("nonzero_all_ok",
     "echo 1..1; echo 'ok 1 - a'; exit 3\n",
     {"pass": 1, "skip": 0, "fail": 1}, "exit 3"),
    ("short_of_plan",
     "echo 1..3; echo 'ok 1 - a'; echo 'ok 2 - b'\n",
     {"pass": 2, "skip": 0, "fail": 1}, "TAP plan says 3 tests, 2 reported"),
    ("no_tap",
     "echo hello\n",
     {"pass": 0, "skip": 0, "fail": 1}, "no TAP results"),
    ("two_groups",
     "echo 1..1; echo 'ok 1 - a'; echo '# ok - g1'; echo 1..2; echo 'ok 1 - b'\n"
     "echo 'not ok 2 # SKIP c'; echo '# ok - g2'\n",
     {"pass": 2, "skip": 1, "fail": 0}, "ok   unit: two_groups.b"),
    ("one_failed_test",
     "echo 1..2; echo 'ok 1 - a'; echo 'not ok 2 - b'; echo '# 0x1 != 0x2'\n"
     "echo '# t.c:9: error: Failure!'; echo '# not ok - g'; exit 1\n",
     {"pass": 1, "skip": 0, "fail": 1}, "FAIL unit: one_failed_test.b — 0x1 != 0x2 t.c:9"),
    ("failed_test_and_asan",
     "echo 1..1; echo 'not ok 1 - b'\n"
     "echo '==7==ERROR: LeakSanitizer: detected memory leaks' >&2; exit 1\n",
     {"pass": 0, "skip": 0, "fail": 2}, "exit 1 with 1 failed test(s)"),
]


def test_fake_binaries_counted_by_exit_and_plan():
    with tempfile.TemporaryDirectory() as d:
        for name, script, want, text_has in CASES:
            counts, text = tally_of(fake_binary(d, name, script))
            assert counts == want, (name, counts, text)
            assert text_has in text, (name, text)
    return f"{len(CASES)} fake binaries"
