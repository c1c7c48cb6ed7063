"""A VM test tool's checks as tests/run.py counts them (run_vm_tool,
ToolRun) with tests/vm/checklib.py: a tool that raises exits 4 and every
check it declared but did not reach fails by name; so do those of a tool
killed by a signal; a tool that reports a check it did not declare, or
declares none, fails."""
import io
import os
import sys
import tempfile

import checklib
import run
from hostlib import ROOT

HEAD = f"""import os, signal, sys
sys.path.insert(0, {os.path.join(ROOT, "tests", "vm")!r})
import checklib
c = checklib.Checks()
"""


def fake_tool(d, name, body):
    path = os.path.join(d, name)
    with open(path, "w") as f:
        f.write(HEAD + body)
    return [sys.executable, path]


def tally_tool(argv):
    """run.run_vm_tool on a fake tool: (counts, printed lines, ToolRun)."""
    out = io.StringIO()
    t = run.Tally(out)
    r = run.run_vm_tool(t, "fake", lambda _: argv, 60, "fake ")
    return t.counts, out.getvalue(), r


def test_raise_after_one_check_names_the_rest():
    with tempfile.TemporaryDirectory() as d:
        counts, text, r = tally_tool(fake_tool(d, "raises", """
def main():
    c.plan(["first", "second", "third"])
    c.check(True, "first")
    {}["missing"]
checklib.main(main)
"""))
    assert r.rc == checklib.EXIT_INTERNAL, (r.rc, text)
    assert counts == {"pass": 1, "fail": 3, "skip": 0}, (counts, text)
    for name in ("second", "third"):
        assert f"FAIL vm: fake {name} — not reached (fake exit 4 (the tool broke" in text, text
    assert "FAIL vm: fake — exit 4 (the tool broke: traceback below): Traceback" in text, text
    assert "KeyError: 'missing'" in text, text


def test_killed_tool_names_the_rest():
    with tempfile.TemporaryDirectory() as d:
        counts, text, _ = tally_tool(fake_tool(d, "killed", """
c.plan(["first", "second"])
c.check(False, "first", "wrong answer")
os.kill(os.getpid(), signal.SIGKILL)
"""))
    assert counts == {"pass": 0, "fail": 3, "skip": 0}, (counts, text)
    assert "FAIL vm: fake first — wrong answer" in text, text
    assert "FAIL vm: fake second — not reached (fake killed by SIGKILL)" in text, text


def test_finish_fails_what_the_tool_did_not_reach():
    with tempfile.TemporaryDirectory() as d:
        counts, text, r = tally_tool(fake_tool(d, "early", """
def main():
    c.plan(["boot", "records"])
    if not c.check(False, "boot", "scripts/vm exit 2"):
        return c.finish("not reached: no boot")
checklib.main(main)
"""))
    assert r.rc == checklib.EXIT_FAIL, (r.rc, text)
    assert counts == {"pass": 0, "fail": 2, "skip": 0}, (counts, text)
    assert "FAIL vm: fake records — not reached: no boot" in text, text


def test_undeclared_or_missing_plan_fails():
    with tempfile.TemporaryDirectory() as d:
        # checklib refuses a check nobody declared: the tool breaks (4).
        counts, text, r = tally_tool(fake_tool(d, "undeclared", """
def main():
    c.plan(["a"])
    c.check(True, "a")
    c.check(True, "b")
checklib.main(main)
"""))
        assert r.rc == checklib.EXIT_INTERNAL and counts["fail"] == 1, (r.rc, counts, text)
        assert "check 'b' was not declared" in text, text
        # A tool printing the lines by hand past the plan.
        counts, text, _ = tally_tool(fake_tool(d, "byhand", """
print("vmcheck: PLAN a")
print("vmcheck: PASS a")
print("vmcheck: PASS b")
"""))
        assert counts == {"pass": 1, "fail": 1, "skip": 0}, (counts, text)
        assert "FAIL vm: fake b — reported but not declared" in text, text
        # Exit 0 having declared nothing.
        counts, text, _ = tally_tool(fake_tool(d, "silent", "print('all good')\n"))
        assert counts == {"pass": 0, "fail": 1, "skip": 0}, (counts, text)
        assert "exit 0 without declaring a check" in text, text
        # A skip is a skip with its reason.
        counts, text, r = tally_tool(fake_tool(d, "skips", "c.skip('no qemu here')\n"))
        assert counts == {"pass": 0, "fail": 0, "skip": 1}, (counts, text)
        assert r.skip == "no qemu here" and "skip vm: fake — no qemu here" in text, text


def test_vm_run_reports_only_declared_names():
    """tests/vm/run: every check() whose name is a literal names a declared
    check, and no name is declared twice (checklib would exit 4 in the
    guest run, minutes in)."""
    import ast
    import importlib.machinery
    import importlib.util
    path = os.path.join(ROOT, "tests/vm/run")
    loader = importlib.machinery.SourceFileLoader("vm_run_tool", path)
    spec = importlib.util.spec_from_loader("vm_run_tool", loader)
    mod = importlib.util.module_from_spec(spec)
    loader.exec_module(mod)
    declared = [n for part in (mod.SMOKE_CHECKS, mod.CRASH_CHECKS, mod.STRESS_CHECKS,
                               mod.STRESS_WARN_CHECKS, mod.STRESS_SPLAT_CHECKS) for n in part]
    assert len(set(declared)) == len(declared), declared
    with open(path) as f:
        tree = ast.parse(f.read())
    literal = [c.args[1].value for c in ast.walk(tree)
               if isinstance(c, ast.Call) and getattr(c.func, "id", "") == "check"
               and len(c.args) > 1 and isinstance(c.args[1], ast.Constant)]
    assert literal and not set(literal) - set(declared), set(literal) - set(declared)
    return f"{len(set(declared))} declared, {len(literal)} literal names checked"
