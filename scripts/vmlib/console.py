"""Watching a guest's serial console: which case runs (the guest's
`faultline: case-start/case-end` lines), the guest init's `faultline-vm:`
status lines, and kernel splats (bench/kernel_splats.def, via splats.py)
attached to the case they hit; qemu is killed when the guest stops making
progress.

    boot = console.Boot(n)
    why = console.watch_qemu(cmd, consolef, boot, a, timeout, boot_timeout)
    # why: exit | hung | splat | boot-timeout; boot.splats, boot.running
"""

import os
import queue
import re
import signal
import subprocess
import threading
import time

from . import splats, stressmode
from .common import progress

TS_RE = re.compile(r"^\[\s*\d+\.\d+\]\s?")
CASE_RE = re.compile(r"faultline: case-(start|end) (\d+)/(\d+) (\S+)"
                     r"(?: (\S+))?")

# Lines kept in a splat excerpt before it is closed without an end line.
SPLAT_MAX_LINES = 120

# A splat that did not panic (lockdep, say): seconds the guest gets to print
# the rest of it before it is killed (stress runs: stressmode.SPLAT_GRACE_S).
SPLAT_GRACE_S = 20


def headline(lines):
    """The line that names a splat best (not `cut here` or a ==== rule when
    a better one is there)."""
    body = [TS_RE.sub("", x) for x in lines]
    return next((b for b in body if splats.matches("headline", b)),
                next((b for b in body if splats.matches("start", b) or
                      splats.matches("rule", b)), body[0]))


class Boot:
    """State of one guest boot, fed line by line from the console."""

    def __init__(self, n):
        self.n = n
        self.started = time.monotonic()
        self.last_event = self.started
        self.running = None         # (seq, total, label) of the open case
        self.cases_done = 0
        self.total = None
        self.suite_started = False
        self.done = False
        self.splats = []            # [{"case":..., "lines": [...]}]
        self.cur_splat = None
        self.recent = []
        self.status = {}
        self.outcome = None
        self.kernel_lines = []      # for dmesg.txt when the boot crashed
        self.stress = stressmode.Watch()
        self.suite_at = None        # when the suite (or stress run) began

    def feed(self, line):
        line = line.rstrip("\r\n")
        kern = TS_RE.match(line)
        body = line[kern.end():] if kern else line
        if kern:
            self.kernel_lines.append(line)
            if self.cur_splat is not None:
                self.cur_splat["lines"].append(line)
                if splats.matches("end", body) or len(
                        self.cur_splat["lines"]) >= SPLAT_MAX_LINES:
                    self.cur_splat = None
            elif splats.matches("start", body) and not splats.matches(
                    "rule", body):
                ctx = [x for x in self.recent[-3:] if TS_RE.match(x)]
                self.cur_splat = {"case": self.running,
                                  "lines": ctx + [line],
                                  "at": round(time.monotonic() -
                                              self.started, 1)}
                self.splats.append(self.cur_splat)
                progress.line(f"boot {self.n}: kernel splat: {body[:100]}")
            # A ==== rule (lockdep and KASAN open their reports with one)
            # starts nothing; it stays in `recent`, so the excerpt of the
            # report that follows starts there.
            self.recent = (self.recent + [line])[-5:]
            return
        self.recent = (self.recent + [line])[-5:]
        sp = self.stress.feed(line)
        if sp:
            self.last_event = time.monotonic()
            progress.status(f"boot {self.n}: {sp}")
            return
        m = CASE_RE.search(line)
        if m:
            kind, seq, total, label = m.group(1), int(m.group(2)), \
                int(m.group(3)), m.group(4)
            self.total = total
            self.last_event = time.monotonic()
            self.suite_started = True
            if kind == "start":
                self.running = (seq, total, label)
                progress.status(f"boot {self.n}: case {seq}/{total} {label}")
            else:
                self.running = None
                self.cases_done += 1
                progress.status(f"boot {self.n}: case {seq}/{total} {label} "
                                f"-> {m.group(5)}")
            return
        if line.startswith("faultline-vm: "):
            msg = line[len("faultline-vm: "):]
            self.last_event = time.monotonic()
            if msg.startswith("run faultline"):
                self.suite_started = True
                self.suite_at = time.monotonic()
            if msg.startswith("done"):
                self.done = True
            if "=" in msg and not msg.startswith(("run ", "done")):
                key, _, val = msg.partition("=")
                self.status[key] = val
            progress.line(f"boot {self.n}: {msg}")


def watch_qemu(cmd, consolef, boot, a, timeout_case, boot_timeout):
    """Run qemu until it exits or is killed; returns 'exit'|'hung'|
    'splat'|'boot-timeout'."""
    stress = stressmode.is_stress(a)
    grace = stressmode.SPLAT_GRACE_S if stress else SPLAT_GRACE_S
    with open(consolef, "ab") as cf:
        cf.write(f"\n===== faultline-vm boot {boot.n} "
                 f"{time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())} "
                 "=====\n".encode())
        p = subprocess.Popen(["nice", "-n", "5"] + cmd,
                             stdin=subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             start_new_session=True)
        q = queue.Queue()

        def reader():
            for raw in iter(p.stdout.readline, b""):
                cf.write(raw)
                cf.flush()
                q.put(raw.decode("utf-8", "replace"))
            q.put(None)
        t = threading.Thread(target=reader, daemon=True)
        t.start()
        why, splat_at = "exit", None
        while True:
            try:
                line = q.get(timeout=1)
            except queue.Empty:
                line = ""
            if line is None:
                break
            if line:
                nsplat = len(boot.splats)
                boot.feed(line)
                if len(boot.splats) > nsplat and splat_at is None:
                    splat_at = time.monotonic()
            now = time.monotonic()
            if splat_at and now - splat_at > grace:
                why = "splat"   # a splat that did not panic (e.g. lockdep)
                break
            if stress and boot.suite_at and not boot.done and \
                    now - boot.suite_at > a.stress_s + stressmode.OVERRUN_S:
                why = "hung"    # progress lines, but no end
                break
            if not boot.suite_started and now - boot.started > boot_timeout:
                why = "boot-timeout"
                break
            if boot.suite_started and not boot.done and \
                    now - boot.last_event > timeout_case:
                why = "hung"
                break
            if boot.done and now - boot.last_event > 60:
                why = "exit"    # powered off too slowly: done anyway
                break
        if p.poll() is None:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        p.wait()
        t.join(timeout=5)
        cf.write(f"\n===== faultline-vm boot {boot.n} ended: {why}, qemu "
                 f"status {p.returncode} =====\n".encode())
        return why

