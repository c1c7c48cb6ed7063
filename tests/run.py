#!/usr/bin/env python3
"""faultline's own tests: `make test` runs this after building.

Groups, in order:
  harness    tests/harness: this runner's own rules (TAP accounting, VM
             tool plans, the TCG retry) on fake binaries and consoles, and
             scripts/vm's kernel specs on fake packages (nothing boots)
  unit       cmocka unit tests (TAP), plain build
  unit-asan  the same under AddressSanitizer + UBSan
  malformed  tests/malformed: job files and CLI invocations that must exit 2
             with a one-line error, under ASan
  host       tests/host/test_*.py: integration on the running kernel
  report     tests/report: the report generator
  vm         tests/vm: a Debian kernel in qemu with the driver and PMEM

Not in the default set (`make bench`, or `tests/run.py bench`):
  bench      tests/bench/test_*.py: speed goals, measured and reported as
             ratios taken in one run (e.g. populate within 5% of a minimal
             C loop).  A shared machine makes single runs swing, so make
             test holds only correctness bounds on the same figures.

The line before the last says how many entries were retried (a VM tool is
run once more only after the TCG text-patching fault described above
run_vm_tool); the last line is 'N passed, N failed, N skipped'; the exit
status is 1 if anything failed.  `tests/run.py GROUP...` runs only those
groups; `host:test_gup` (GROUP:FILE, for host and bench) runs one file of a
group.
"""
import importlib.util
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import tempfile
import time
import traceback
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests"))
sys.path.insert(0, os.path.join(ROOT, "tests", "vm"))
sys.path.insert(0, os.path.join(ROOT, "scripts"))

import checklib  # noqa: E402
from hostlib import Skip  # noqa: E402
from vmlib import splats  # noqa: E402


class Tally:
    """Counts and prints entries; OUT (stdout by default) takes the lines."""

    def __init__(self, out=None):
        self.out = out or sys.stdout
        self.counts = {"pass": 0, "fail": 0, "skip": 0}
        self.retried = 0
        self.failures = []

    def say(self, line):
        print(line, file=self.out, flush=True)

    def add(self, group, name, status, detail="", retried=False):
        self.counts[status] += 1
        self.retried += retried
        mark = {"pass": "ok  ", "fail": "FAIL", "skip": "skip"}[status]
        line = f"{mark} {group}: {name}"
        if detail and status != "pass":
            line += f" — {detail}"
        elif detail:
            line += f" ({detail})"
        self.say(line)
        if status == "fail":
            self.failures.append(line)

    def summary(self, seconds):
        """The closing lines; the last is 'N passed, N failed, N skipped'."""
        c = self.counts
        lines = []
        if self.failures:
            lines.append("\nfailures:\n  " + "\n  ".join(self.failures))
        lines.append(f"\ntests took {seconds:.0f}s")
        lines.append(f"{self.retried} retried after a TCG text-patching fault "
                     "(first attempts shown above)" if self.retried else "0 retried")
        lines.append(f"{c['pass']} passed, {c['fail']} failed, {c['skip']} skipped")
        return lines


def _exit_text(rc):
    if rc < 0:
        try:
            return f"killed by {signal.Signals(-rc).name}"
        except ValueError:
            return f"killed by signal {-rc}"
    return f"exit {rc}"


_SANITIZER = re.compile(r"ERROR: (Address|Leak|Thread|Memory)Sanitizer|runtime error:")


def tap_entries(name, stdout, stderr, rc):
    """A cmocka binary's outcome as [(entry, status, detail)]: one per TAP
    result, then one failure for the binary itself unless it exited the
    way its results say.  cmocka prints a skip as 'not ok N # SKIP name',
    so a run that skipped and then aborted, died by a signal or exited
    non-zero is a failure whatever its TAP said; so is a plan (1..N, one
    per group) that the results do not add up to.  The binary's exit status
    is the number of failed tests: that many 'not ok' results account for
    it, unless a sanitizer spoke."""
    entries, plan, failed, note = [], 0, 0, []
    last_fail = None
    for line in stdout.splitlines():
        m = re.match(r"(not ok|ok) \d+ - (\S+)|not ok \d+ # SKIP (\S+)", line)
        if m:
            if m.group(3):
                entries.append([f"{name}.{m.group(3)}", "skip", " ".join(note)])
            else:
                ok = m.group(1) == "ok"
                entries.append([f"{name}.{m.group(2)}", "pass" if ok else "fail", ""])
                failed += not ok
            last_fail = None if m.group(3) or m.group(1) == "ok" else entries[-1]
            note = []
        elif re.match(r"1\.\.\d+$", line):
            plan += int(line[3:])
        elif line.startswith("# ") and last_fail is not None:
            # cmocka's diagnostics follow the failed result
            last_fail[2] = (last_fail[2] + " " + line[2:].strip()).strip()
        elif line.strip() and not line.startswith(("# ok", "# not ok")):
            # a skipping test prints why before its result
            note.append(line.strip())
    problems = []
    if rc != 0 and (rc != failed or _SANITIZER.search(stderr + stdout)):
        problems.append(_exit_text(rc) + (f" with {failed} failed test(s)" if failed else ""))
    if not entries:
        problems.append("no TAP results")
    elif plan != len(entries):
        problems.append(f"TAP plan says {plan} tests, {len(entries)} reported")
    if problems:
        entries.append([name, "fail", "; ".join(problems) + ": " +
                        (stderr.strip() or stdout.strip())[-800:]])
    return [tuple(e) for e in entries]


def run_tap(tally, group, binary, env=None):
    e = dict(os.environ, CMOCKA_MESSAGE_OUTPUT="TAP", **(env or {}))
    p = subprocess.run([binary], capture_output=True, text=True, env=e, timeout=600)
    for entry, status, detail in tap_entries(os.path.basename(binary), p.stdout,
                                             p.stderr, p.returncode):
        tally.add(group, entry, status, detail)


def group_unit(tally, build, group):
    tests = sorted(f for f in os.listdir(os.path.join(ROOT, build, "tests"))
                   if f.startswith("test_"))
    for t in tests:
        run_tap(tally, group, os.path.join(ROOT, build, "tests", t),
                env={"ASAN_OPTIONS": "detect_leaks=0"} if "asan" in build else None)


SANITIZER_MARKS = ("AddressSanitizer", "runtime error:", "LeakSanitizer", "Segmentation fault")


def check_usage_error(argv, cwd):
    env = dict(os.environ, ASAN_OPTIONS="detect_leaks=1:exitcode=99",
               UBSAN_OPTIONS="halt_on_error=1:exitcode=98")
    p = subprocess.run(argv, capture_output=True, text=True, cwd=cwd, env=env,
                       stdin=subprocess.DEVNULL, timeout=60)
    err = p.stderr.strip("\n")
    for mark in SANITIZER_MARKS:
        if mark in p.stderr:
            return f"sanitizer report: {p.stderr[-600:]}"
    if p.returncode != 2:
        return f"exit {p.returncode}, want 2; stderr: {err[-300:]}"
    if len(err.splitlines()) != 1 or not err.startswith("faultline: "):
        return f"want one 'faultline: ...' line on stderr, got: {err!r}"
    if p.stdout.strip():
        return f"printed to stdout: {p.stdout[:200]!r}"
    if os.listdir(cwd):
        return f"left files behind: {os.listdir(cwd)}"
    return None


def group_malformed(tally):
    fl = os.path.join(ROOT, "build/asan/faultline")
    mdir = os.path.join(ROOT, "tests/malformed")
    cases = []
    for f in sorted(os.listdir(mdir)):
        if f.endswith(".job"):
            cases.append((f, [fl, "run", os.path.join(mdir, f)]))
    with open(os.path.join(mdir, "cli.txt")) as fh:
        for line in fh:
            line = line.strip()
            if line and not line.startswith("#"):
                args = [a if not a.startswith("tests/") else os.path.join(ROOT, a)
                        for a in shlex.split(line)]
                cases.append((f"cli: {line}", [fl] + args))
    for name, argv in cases:
        with tempfile.TemporaryDirectory() as cwd:
            why = check_usage_error(argv, cwd)
        tally.add("malformed", name, "fail" if why else "pass", why or "")


def load_module(path):
    spec = importlib.util.spec_from_file_location(os.path.basename(path)[:-3], path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def group_pyfuncs(tally, group, directory, only=None):
    d = os.path.join(ROOT, directory)
    if not os.path.isdir(d):
        tally.add(group, directory, "skip", f"{directory} does not exist")
        return
    for f in sorted(os.listdir(d)):
        if not (f.startswith("test_") and f.endswith(".py")):
            continue
        if only and f[:-3] != only:
            continue
        mod = load_module(os.path.join(d, f))
        for name in sorted(n for n in dir(mod) if n.startswith("test_")):
            fn = getattr(mod, name)
            if not callable(fn):
                continue
            t0 = time.monotonic()
            try:
                note = fn()
                tally.add(group, f"{f[:-3]}.{name}", "pass",
                          f"{note}; {time.monotonic() - t0:.1f}s" if note else
                          f"{time.monotonic() - t0:.1f}s")
            except Skip as e:
                tally.add(group, f"{f[:-3]}.{name}", "skip", str(e))
            except Exception as e:  # noqa: BLE001 - a test's failure, reported
                tb = traceback.format_exception_only(type(e), e)[-1].strip()
                tally.add(group, f"{f[:-3]}.{name}", "fail", tb[:2000])


class _TallyResult(unittest.TextTestResult):
    pass


def group_unittest(tally, group, directory):
    d = os.path.join(ROOT, directory)
    if not os.path.isdir(d):
        tally.add(group, directory, "skip", f"{directory} does not exist")
        return
    suite = unittest.defaultTestLoader.discover(d, top_level_dir=d)

    class Result(unittest.TestResult):
        def addSuccess(self, test):
            tally.add(group, test.id(), "pass")

        def addFailure(self, test, err):
            tally.add(group, test.id(), "fail", self._exc_info_to_string(err, test)[-1500:])

        def addError(self, test, err):
            tally.add(group, test.id(), "fail", self._exc_info_to_string(err, test)[-1500:])

        def addSkip(self, test, reason):
            tally.add(group, test.id(), "skip", reason)

        def addExpectedFailure(self, test, err):
            tally.add(group, test.id(), "pass")

        def addUnexpectedSuccess(self, test):
            tally.add(group, test.id(), "fail", "unexpected success")

    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        suite.run(Result())
    finally:
        os.chdir(cwd)


# --------------------------------------------------------------------------
# The TCG retry.  Text patching across two qemu TCG vCPUs (text_poke_bp:
# int3, sync IPI, write, sync IPI; smp_text_poke_* from 6.16) fails in two
# ways that never happen on hardware: a soft lockup in
# smp_call_function_many_cond waiting for the other vCPU's IPI, under
# text_poke_bp and the tracepoint (un)registration that asked for it
# (6.1, removing a tracefs instance: tests/harness/consoles/), and an int3
# trap on a site whose patching had finished, which poke_int3_handler no
# longer claims ("Oops: int3: 0000 [#1]" on 7.2, "int3: 0000 [#1]" on
# 5.10/6.1).  A VM tool whose checks failed (exit 1) is run once more only
# when every such splat in its consoles is that signature; a soft lockup
# with a frame of the code under test, any other lockup, a KVM guest, an
# internal error or a hang (exit 3, a timeout) is reported as it is.


def splat_patterns(cls):
    """bench/kernel_splats.def's compiled patterns of CLS (scripts/vmlib/splats.py)."""
    return splats.patterns(cls)


# The splats a retry may excuse: a soft lockup, an oops by int3, or the RCU
# stall the same text-patching hang prints some 20 s before its soft lockup
# (the host kills a guest 20 s after a splat that did not panic, so the
# stall may be all the console holds).
_LOCKUP = re.compile(r"watchdog: BUG: soft lockup|int3: [0-9a-f]{4} \[#[0-9]+\]|"
                     r"rcu_.* self-detected stall")
# Frames of the code under test: a lockup there is a finding, never TCG.
_DRIVER_FRAME = re.compile(r"\[faultline\]|hmm_range_fault|mmu_notifier|mmu_interval_|"
                           r"migrate_vma_|make_device_exclusive")
_TIMESTAMP = re.compile(r"^\[\s*[0-9]+\.[0-9]+\] ?")


def lockups(text):
    """Each soft lockup or int3 oops of a console as its lines (timestamps
    removed), from the headline to the splat's end line or the next splat."""
    lines = [_TIMESTAMP.sub("", l) for l in text.splitlines()]
    bound = splat_patterns("start") + splat_patterns("end")
    found = []
    for i, head in enumerate(lines):
        if not _LOCKUP.search(head):
            continue
        body = [head]
        for line in lines[i + 1:i + 400]:
            if _LOCKUP.search(line) or line.startswith("===== faultline-vm"):
                break
            if any(p.search(line) for p in bound):
                body.append(line)
                break
            body.append(line)
        found.append(body)
    return found


def tcg_text_patch_fault(base):
    """(retry, why): retry is True when BASE's guest consoles hold at least
    one lockup and each is the TCG text-patching signature (above); WHY
    names the first such splat, or the splat that rules a retry out, or is
    None when no console shows a lockup."""
    if not base or not os.path.isdir(base):
        return False, None
    tcg, real = None, None
    for d, _, files in sorted(os.walk(base)):
        if "vm.json" in files:
            try:
                with open(os.path.join(d, "vm.json")) as f:
                    if (json.load(f).get("accel") or {}).get("accel") == "kvm":
                        real = real or f"a KVM guest ({d}): text patching is not emulated"
            except (OSError, ValueError):
                pass
        if "console.log" not in files:
            continue
        path = os.path.join(d, "console.log")
        with open(path, errors="replace") as f:
            text = f.read()
        if "QEMU" not in text:
            continue
        for body in lockups(text):
            frame = next((l for l in body if _DRIVER_FRAME.search(l)), None)
            patch = next((l for l in body if any(p.search(l) for p in
                                                  splat_patterns("tcg_text_patch"))), None)
            if frame:
                real = real or f"{body[0].strip()} in {path}, frame {frame.strip()}"
            elif not patch:
                real = real or f"{body[0].strip()} in {path}, no text-patching frame"
            else:
                tcg = tcg or f"TCG text patching: {body[0].strip()} at {patch.strip()} in {path}"
    if real:
        return False, real
    return bool(tcg), tcg


def run_killable(argv, timeout):
    """Run ARGV in its own session; still running after TIMEOUT s, it is
    killed with its guests (no qemu is left behind) and returns 124 with
    what it had printed."""
    with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True, cwd=ROOT, start_new_session=True) as proc:
        try:
            out, err = proc.communicate(timeout=timeout)
            rc = proc.returncode
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            out, err = proc.communicate()
            rc = 124
            err = f"{err}\n{os.path.basename(argv[0])}: killed after {timeout} s"
    return subprocess.CompletedProcess(argv, rc, out, err)


_VM_EXIT = {checklib.EXIT_USAGE: "exit 2 (usage)",
            checklib.EXIT_TIMEOUT: "exit 3 (a guest did not finish in time)",
            checklib.EXIT_INTERNAL: "exit 4 (the tool broke: traceback below)",
            124: "killed after run.py's timeout"}


class ToolRun:
    """One run of a VM tool, read through tests/vm/checklib.py's lines:
    entries [(name, status, detail)], results (its folder), skip (reason)."""

    def __init__(self, tool, label, p):
        self.rc, self.results, self.skip = p.returncode, None, None
        plan, got, dup = [], {}, []
        for line in p.stdout.splitlines():
            if not line.startswith(checklib.PREFIX):
                continue
            body = line[len(checklib.PREFIX):]
            if body.startswith("results in "):
                self.results = body[len("results in "):].strip()
            elif body.startswith("PLAN "):
                plan.append(body[5:])
            elif body.startswith(("PASS ", "FAIL ")):
                name, _, why = body[5:].partition(checklib.SEP)
                if name in got:
                    dup.append(name)
                got[name] = ("pass" if body.startswith("PASS") else "fail", why)
            elif body.startswith("SKIP" + checklib.SEP):
                self.skip = body[len("SKIP" + checklib.SEP):]
        ended = _VM_EXIT.get(self.rc, _exit_text(self.rc))
        self.entries = []
        for name, (status, why) in got.items():
            if name not in plan:
                status, why = "fail", f"reported but not declared: {why}"
            self.entries.append((label + name, status, why))
        self.entries += [(label + n, "fail", f"not reached ({tool} {ended})")
                         for n in plan if n not in got]
        problems = [f"{n!r} reported twice" for n in dup]
        failed = any(s == "fail" for s in (v[0] for v in got.values()))
        if self.skip is not None and self.rc == 0 and not got:
            self.entries = [(tool, "skip", self.skip)]
        elif self.rc not in (checklib.EXIT_PASS, checklib.EXIT_FAIL):
            problems.append(ended)
        elif not plan:
            problems.append(f"{ended} without declaring a check")
        elif self.rc == checklib.EXIT_FAIL and not failed:
            problems.append("exit 1 but no check failed")
        elif self.rc == checklib.EXIT_PASS and failed:
            problems.append("exit 0 but a check failed")
        if problems:
            self.entries.append((tool, "fail", "; ".join(problems) + ": " +
                                 (p.stderr.strip() or p.stdout.strip())[-1500:]))

    def counts(self):
        return {s: sum(e[1] == s for e in self.entries) for s in ("pass", "fail", "skip")}


def run_vm_tool(tally, tool, argv_of, timeout, label=""):
    """Run TOOL (argv_of(attempt)) and tally its checks, each name after
    LABEL.  A run that failed checks (exit 1) on the TCG text-patching
    signature is run once more: the first attempt's outcome is printed,
    the second is tallied and counted as retried.  Returns the ToolRun."""
    first = None
    for attempt in (1, 2):
        run = ToolRun(tool, label, run_killable(argv_of(attempt), timeout))
        retry, why = (tcg_text_patch_fault(run.results) if run.rc == checklib.EXIT_FAIL
                      else (False, None))
        if not retry or attempt == 2:
            if why and not retry:
                tally.say(f"     vm: {tool}: not retried: {why}")
            break
        first = run
        c = run.counts()
        tally.say(f"     vm: {tool} attempt 1: {c['pass']} passed, {c['fail']} failed; "
                  f"retrying once: {why}")
        for name, status, detail in run.entries:
            if status != "pass":
                tally.say(f"     vm: attempt 1 FAIL {name} — {detail}")
    for name, status, detail in run.entries:
        if first:
            detail = f"{detail}; attempt 2" if detail else "attempt 2"
        tally.add("vm", name, status, detail, retried=first is not None)
    return run


def group_vm(tally):
    """tests/vm/run boots a Debian kernel with the driver and PMEM (scripts/vm);
    tests/vm/pmem-setup then reuses that boot's build to test scripts/pmem-setup
    in a guest, and tests/vm/dax-dataoff boots it with an nvdimm twice."""
    if os.environ.get("FAULTLINE_SKIP_VM"):
        tally.add("vm", "tests/vm", "skip", "FAULTLINE_SKIP_VM is set")
        return
    vm = os.path.join(ROOT, "tests/vm")
    run = run_vm_tool(tally, "tests/vm/run", lambda _: [os.path.join(vm, "run"), "--keep"], 3600)
    if run.skip is not None or not run.results:
        return
    base = run.results
    smoke = os.path.join(base, "smoke")
    if os.path.isdir(smoke):
        run_vm_tool(tally, "tests/vm/pmem-setup", lambda n: [
            os.path.join(vm, "pmem-setup"), "--from", smoke,
            "--out", os.path.join(base, f"pmem-setup-{n}")], 1800, "pmem-setup ")
    # Data 2 pages past 2 MiB: every pmd fault falls back and dax-populate
    # names why (two nvdimm boots).
    run_vm_tool(tally, "tests/vm/dax-dataoff", lambda n: [
        os.path.join(vm, "dax-dataoff"), "--out", os.path.join(base, f"dax-dataoff-{n}")],
        1800, "dax-dataoff ")


GROUPS = ["harness", "unit", "unit-asan", "malformed", "host", "report", "vm"]
OPT_IN = ["bench"]


def main():
    want = sys.argv[1:] or GROUPS
    only = dict(w.split(":", 1) for w in want if ":" in w)
    want = [w.split(":", 1)[0] for w in want]
    unknown = [g for g in want if g not in GROUPS + OPT_IN]
    if unknown:
        print(f"run.py: unknown group(s) {unknown}; groups: {' '.join(GROUPS + OPT_IN)}",
              file=sys.stderr)
        return 2
    tally = Tally()
    t0 = time.monotonic()
    for g in want:
        print(f"== {g}", flush=True)
        if g == "harness":
            group_pyfuncs(tally, g, "tests/harness")
        elif g == "unit":
            group_unit(tally, "build", g)
        elif g == "unit-asan":
            group_unit(tally, "build/asan", g)
        elif g == "malformed":
            group_malformed(tally)
        elif g == "host":
            group_pyfuncs(tally, g, "tests/host", only.get(g))
        elif g == "report":
            group_unittest(tally, g, "tests/report")
        elif g == "vm":
            group_vm(tally)
        elif g == "bench":
            group_pyfuncs(tally, g, "tests/bench", only.get(g))
    for line in tally.summary(time.monotonic() - t0):
        print(line)
    return 1 if tally.counts["fail"] else 0


if __name__ == "__main__":
    sys.exit(main())
