"""How a VM test tool (tests/vm/*) reports its checks to tests/run.py.

A tool names every check it will report before it runs any, then reports
each one exactly once:

    vmcheck: results in DIR            where its guests' consoles are kept
    vmcheck: PLAN NAME                 one line per declared check
    vmcheck: PASS NAME[ — NOTE]
    vmcheck: FAIL NAME — WHY
    vmcheck: SKIP — REASON             the whole tool cannot run here

Exit status: 0 every check passed (or the tool skipped), 1 a check failed,
2 usage, 3 a guest did not finish in time, 4 the tool itself failed (an
exception: traceback on stderr).  tests/run.py fails every declared check
that was never reported, so a tool that dies half way names what it did
not reach instead of losing it, and a failed check (1) is never confused
with a broken tool (4).
"""

import sys
import traceback

PREFIX = "vmcheck: "
SEP = " — "
EXIT_PASS, EXIT_FAIL, EXIT_USAGE, EXIT_TIMEOUT, EXIT_INTERNAL = 0, 1, 2, 3, 4


class Checks:
    """The declared checks of one tool run and what became of them."""

    def __init__(self, out=None):
        self.out = out or sys.stdout
        self.planned = []
        self.reported = {}

    def _say(self, text):
        print(PREFIX + text, file=self.out, flush=True)

    def results(self, path):
        self._say(f"results in {path}")

    def plan(self, names):
        """Declare NAMES (added to any declared before).  A name is one
        line without the separator and unique within the tool."""
        for n in names:
            if not n or "\n" in n or SEP in n or n in self.planned:
                raise ValueError(f"check name {n!r}: empty, multi-line, holds "
                                 f"{SEP!r} or declared twice")
            self.planned.append(n)
            self._say(f"PLAN {n}")

    def check(self, ok, name, detail="", note=""):
        """Report NAME: DETAIL says why it failed, NOTE what it measured
        (shown either way).  Returns OK."""
        if name not in self.planned:
            raise ValueError(f"check {name!r} was not declared")
        if name in self.reported:
            raise ValueError(f"check {name!r} reported twice")
        ok = bool(ok)
        self.reported[name] = ok
        why = "; ".join(str(s) for s in (note, "" if ok else detail) if s)
        why = " ".join(why.split())[:600]
        self._say(f"{'PASS' if ok else 'FAIL'} {name}" + (SEP + why if why else ""))
        return ok

    def unreported(self):
        return [n for n in self.planned if n not in self.reported]

    @property
    def failed(self):
        return sum(not ok for ok in self.reported.values())

    def finish(self, why="not reached"):
        """Fail every declared check not reported (WHY says what stopped
        them); the exit status for what was reported."""
        for n in self.unreported():
            self.check(False, n, why)
        passed = sum(self.reported.values())
        print(f"{passed} passed, {self.failed} failed", file=self.out, flush=True)
        return EXIT_FAIL if self.failed else EXIT_PASS

    def skip(self, reason):
        """The tool cannot run here (no qemu, not root): exit 0."""
        self._say(f"SKIP{SEP}{reason}")
        sys.exit(EXIT_PASS)


def main(fn, *args):
    """sys.exit(fn(*args)), an exception exiting 4 with its traceback."""
    try:
        rc = fn(*args)
    except SystemExit:
        raise
    except BaseException as e:  # noqa: BLE001 - any escape is the tool's failure
        traceback.print_exc()
        print(f"{PREFIX}ERROR{SEP}{type(e).__name__}: {e}", flush=True)
        sys.exit(EXIT_INTERNAL)
    sys.exit(rc)
