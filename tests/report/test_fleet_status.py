"""Tests of the report's fleet table: scripts/fleet writes
results/<fleet-id>/<host>/fleet-status.json for every host; the report
gives each host's status and reason (unreachable, a failed build, a driver
that is not loaded, a failed run) on report.md's first screen, and a
folder without one is reported as before.

Run from the repository root:
    /usr/bin/python3 -m unittest discover -s tests/report -p test_fleet_status.py
"""

import json
import os
import sys
import unittest

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import fixtures as F  # noqa: E402
from test_report import NO_SCIPY, Tmp, deferred_to_debian_python  # noqa: E402


def fleet_status(folder, host, status, stage="fetch", reason="", driver=None):
    os.makedirs(folder, exist_ok=True)
    rec = {"schema": "faultline.fleet-status/1", "fleet_id": "fleet-fixture",
           "host": host, "status": status, "stage": stage, "reason": reason,
           "kernel": "6.1.0-50-amd64",
           "driver": driver or {"status": "loaded", "reason": "/dev/faultline"}}
    with open(os.path.join(folder, "fleet-status.json"), "w") as f:
        json.dump(rec, f)
    return folder


REFUSED = ("Data could not be sent to remote host \"127.0.0.1\". Make sure this host "
           "can be reached over ssh: ssh: connect to host 127.0.0.1 port 9: "
           "Connection refused")


@unittest.skipIf(NO_SCIPY, NO_SCIPY)
class TestFleetStatus(Tmp):
    def fleet(self):
        """A fleet of five hosts: two ran the suite (one with its driver not
        loaded, one whose run exited 1), one unreachable, one whose build
        failed; the fifth ran a kernel of a matrix share, its results one
        folder below its status."""
        a = F.suite(self.path("f", "alpha"), "a", 1, env_kw={"kernel": "6.1.0-50-amd64"})
        fleet_status(a, "alpha", "ok")
        b = F.suite(self.path("f", "beta"), "b", 2, env_kw={"kernel": "6.12.48-amd64"})
        fleet_status(b, "beta", "run-failed", stage="run",
                     reason="exit 1: null/anon-4k: fail", driver={
                         "status": "not-loadable",
                         "reason": "kernel has no loadable module support"})
        g = fleet_status(self.path("f", "gamma"), "gamma", "unreachable", stage="reach",
                         reason=REFUSED, driver={"status": "not-tried", "reason": ""})
        d = fleet_status(self.path("f", "delta"), "delta", "build-failed", stage="build",
                         reason="Build faultline: bench/run.c:12: error: x undeclared",
                         driver={"status": "not-tried", "reason": ""})
        e = F.suite(self.path("f", "epsilon", "7.2"), "e", 3, env_kw={"kernel": "7.2.13-amd64"})
        fleet_status(self.path("f", "epsilon"), "epsilon", "ok")
        return [a, b, e, g, d]

    def test_first_screen_gives_every_host_status_and_reason(self):
        dirs = self.fleet()
        rep, md, out, err = self.run_report(dirs, "--no-html")
        self.assertEqual(rep["columns"], ["alpha", "beta", "7.2"])
        runs = {r["fleet"]["host"]: r for r in rep["runs"]}
        self.assertEqual({h: r["fleet"]["status"] for h, r in runs.items()},
                         {"alpha": "ok", "beta": "run-failed", "gamma": "unreachable",
                          "delta": "build-failed", "epsilon": "ok"})
        self.assertFalse(runs["gamma"]["usable"])
        self.assertIn("Connection refused", runs["gamma"]["fleet"]["reason"])
        self.assertIn("no results: fleet host gamma unreachable", err)
        with open(os.path.join(out, "report.md")) as f:
            first = f.read().split("Headline per case")[0]
        self.assertIn("Fleet hosts", first)
        rows = {line.split()[0]: line for line in first.splitlines()
                if line.split() and line.split()[0] in runs}
        self.assertRegex(rows["gamma"], r"unreachable\s+reach\s+-\s+not-tried\s+.*"
                                        r"Connection refused$")
        self.assertRegex(rows["delta"], r"build-failed\s+build\s+-.*error: x undeclared$")
        self.assertRegex(rows["beta"], r"run-failed\s+run\s+\S+\s+not-loadable: kernel has "
                                       r"no loadable module support\s+exit 1")
        # the host above a matrix kernel's folder, with the column it made
        self.assertRegex(rows["epsilon"], r"ok\s+\S+\s+loaded\s+-$")

    def test_html_first_screen(self):
        rep, _, out, _ = self.run_report(self.fleet())
        with open(os.path.join(out, "report.html")) as f:
            html = f.read()
        head = html.split('id="kernels"')[0]
        self.assertIn("<h2>Fleet hosts</h2>", head)
        self.assertIn("build-failed", head)
        self.assertIn("Connection refused", head)

    def test_without_fleet_status_no_fleet_table(self):
        a = F.suite(self.path("a"), "a", 1)
        b = F.suite(self.path("b"), "b", 2)
        rep, md, _, _ = self.run_report([a, b], "--no-html")
        self.assertNotIn("Fleet hosts", md)
        self.assertEqual([r["fleet"] for r in rep["runs"]], [None, None])

    def test_damaged_fleet_status_is_a_problem_not_a_crash(self):
        a = F.suite(self.path("a"), "a", 1)
        b = F.suite(self.path("b"), "b", 2)
        with open(os.path.join(b, "fleet-status.json"), "w") as f:
            f.write('{"schema": "faultline.fleet-status/1", "host": ')
        with open(os.path.join(a, "fleet-status.json"), "w") as f:
            f.write('["not", "a", "record"]')
        rep, md, _, _ = self.run_report([a, b], "--no-html")
        self.assertEqual([r["usable"] for r in rep["runs"]], [True, True])
        probs = " ".join(p["problem"] for p in rep["problems"])
        self.assertIn("not a faultline.fleet-status record", probs)
        self.assertIn("unreadable", probs)


def load_tests(loader, tests, pattern):
    # test_report's UnderDebianPython runs this module under Debian's python3
    return unittest.TestSuite() if deferred_to_debian_python() else tests


if __name__ == "__main__":
    unittest.main()
