"""Tests of scripts/report: statistics, verdicts, bad input, HTML.

Run from the repository root:
    /usr/bin/python3 -m unittest discover -s tests/report

The CLI tests run scripts/report as a subprocess (its shebang is Debian's
/usr/bin/python3, which has python3-scipy); the statistics tests import
reportlib and skip, saying why, under an interpreter without scipy.

test_kernel_report.py: the compare-kernels tables, the one-run table,
gzipped input, the sample matrix's sizes and first screen.  test_live.py:
the A/A and A/B checks on this host with build/faultline (as root; about
1.5 min; FAULTLINE_REPORT_LIVE=0 skips it) and on folders made elsewhere
(FAULTLINE_AA_RUNS=DIR1,DIR2).
"""

import contextlib
import io
import itertools
import json
import math
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
REPORT = os.path.join(ROOT, "scripts", "report")
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(ROOT, "scripts"))

import fixtures as F  # noqa: E402

try:
    from reportlib import stats  # noqa: E402
    from scipy.stats import mannwhitneyu  # noqa: E402
    NO_SCIPY = None
except ImportError as exc:
    NO_SCIPY = "%s under %s: run with /usr/bin/python3 (python3-scipy)" % (exc, sys.executable)


def _load_cli():
    import importlib.machinery
    import importlib.util
    loader = importlib.machinery.SourceFileLoader("faultline_report_cli", REPORT)
    spec = importlib.util.spec_from_loader(loader.name, loader)
    mod = importlib.util.module_from_spec(spec)
    loader.exec_module(mod)
    return mod


CLI = None if NO_SCIPY else _load_cli()


def report(*args):
    """Run scripts/report; returns (rc, stdout, stderr).  In-process when this
    interpreter has scipy (saves an interpreter and scipy import per call),
    else as a subprocess under the script's own /usr/bin/python3."""
    args = [str(a) for a in args]
    if CLI is None:
        p = subprocess.run([REPORT] + args, capture_output=True, text=True, timeout=120)
        return p.returncode, p.stdout, p.stderr
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            rc = CLI.main(args)
        except SystemExit as e:  # argparse usage errors
            rc = e.code
    return rc, out.getvalue(), err.getvalue()


class Tmp(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="fl-report-test-")
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def path(self, *p):
        return os.path.join(self.tmp, *p)

    def run_report(self, dirs, *extra, expect=0):
        """(report.json, the text of report.md followed by report-details.md:
        everything the report says in text, the output folder, stderr)."""
        out = self.path("out-%d" % len(os.listdir(self.tmp)))
        rc, so, se = report(*dirs, "--out", out, *extra)
        self.assertEqual(rc, expect, "exit %d, stderr:\n%s" % (rc, se))
        with open(os.path.join(out, "report.json")) as f:
            rep = json.load(f)
        md = ""
        for name in ("report.md", "report-details.md"):
            with open(os.path.join(out, name)) as f:
                md += f.read()
        return rep, md, out, se

    def verdicts(self, rep, run=None):
        return [c for c in rep["comparisons"] if run is None or c["run"] == run]


@unittest.skipIf(NO_SCIPY, NO_SCIPY)
class TestStats(unittest.TestCase):
    def test_min_reps_for_mann_whitney_computed_from_exact_test(self):
        # the smallest exact two-sided p is that of fully separated samples
        for m, n in [(2, 2), (3, 3), (3, 5), (4, 4), (5, 5)]:
            p = mannwhitneyu(list(range(m)), list(range(10, 10 + n)),
                             alternative="two-sided", method="exact").pvalue
            self.assertAlmostEqual(stats.min_p_exact(m, n), p, places=12)
        k = stats.reps_needed(0.05)
        self.assertLess(stats.min_p_exact(k, k), 0.05)
        self.assertGreaterEqual(stats.min_p_exact(k - 1, k - 1), 0.05)
        self.assertEqual(k, 4)  # the known answer for alpha = 0.05

    def test_u_null_distribution_matches_enumeration(self):
        m, n = 3, 4
        counts = stats._u_null_counts(m, n)
        brute = [0] * (m * n + 1)
        for xs in itertools.combinations(range(m + n), m):
            ys = [v for v in range(m + n) if v not in xs]
            brute[sum(1 for x in xs for y in ys if x > y)] += 1
        self.assertEqual(counts, brute)

    def test_hodges_lehmann_interval_inverts_the_exact_test(self):
        rng = random.Random(7)
        for m, n in [(5, 5), (6, 8), (10, 10)]:
            base = [rng.gauss(100, 3) for _ in range(m)]
            new = [rng.gauss(104, 3) for _ in range(n)]
            est, lo, hi, conf = stats.hodges_lehmann(base, new, 0.05)
            self.assertTrue(lo <= est <= hi)
            self.assertGreaterEqual(conf, 0.95)

            def p(shift):
                return mannwhitneyu([y - shift for y in new], base, alternative="two-sided",
                                    method="exact").pvalue
            eps = 1e-6
            self.assertGreaterEqual(p(lo + eps), 0.05)
            self.assertGreaterEqual(p(hi - eps), 0.05)
            self.assertLess(p(lo - eps), 0.05)
            self.assertLess(p(hi + eps), 0.05)

    def test_histogram_percentiles_within_bucket_error(self):
        rng = random.Random(3)
        vals = sorted(int(5000 * math.exp(rng.gauss(0, 0.6))) for _ in range(50000))
        h = F.histogram(vals)
        hist = stats.Hist(h["buckets"], h["overflow"], h["min"], h["max"])
        for p in (50, 90, 99, 99.9):
            ref = vals[math.ceil(p / 100 * len(vals)) - 1]
            self.assertLess(abs(hist.percentile(p) - ref) / ref, 1 / 128.0, p)

    def test_overflow_ranks_above_every_bucket(self):
        h = F.histogram([1000] * 98 + [2 ** 41] * 2)
        hist = stats.Hist(h["buckets"], h["overflow"], h["min"], h["max"])
        self.assertEqual(hist.total, 100)
        self.assertLess(hist.percentile(98), 1100)
        self.assertEqual(hist.percentile(99), stats.HIST_LIMIT_NS)

    def test_exact_percentile_bootstrap_matches_resampling(self):
        """The binomial-tail shortcut gives the distribution that brute-force
        multinomial resampling of the whole histogram gives."""
        import numpy as np
        rng = random.Random(5)
        h = F.histogram([int(3000 * math.exp(rng.gauss(0, 0.5))) for _ in range(3000)])
        hist = stats.Hist(h["buckets"], 0, h["min"], h["max"])
        ps = [50, 99, 99.9]
        fast = hist.bootstrap_percentiles(ps, 1, 20000)
        vals, counts = hist._values_counts()
        n = int(counts.sum())
        cum = np.cumsum(np.random.default_rng(2).multinomial(n, counts / n, size=3000), axis=1)
        for j, p in enumerate(ps):
            brute = vals[(cum < math.ceil(p / 100 * n)).sum(axis=1)]
            for q in (0.025, 0.5, 0.975):
                a, b = np.quantile(fast[:, j], q), np.quantile(brute, q)
                self.assertLess(abs(a - b) / b, 0.03, (p, q, a, b))

    def test_bootstrap_is_seeded(self):
        a, b = [1.0, 2.0, 3.0, 4.0, 5.0], [2.0, 3.0, 4.0, 5.0, 7.0]
        s = stats.stable_seed(1, "case", "metric")
        self.assertEqual(stats.bootstrap_median_diff(a, b, 0.05, s),
                         stats.bootstrap_median_diff(a, b, 0.05, s))


class TestComparisons(Tmp):
    def test_aa_no_false_regressions(self):
        """The A/A check on synthetic data: A/A pairs of runs drawn from the same
        distributions; no regression and a false-positive rate <= alpha."""
        flagged = total = 0
        for i in range(3):
            a = F.suite(self.path("a%d" % i), "a%d" % i, 100 + i, cv=0.02)
            b = F.suite(self.path("b%d" % i), "b%d" % i, 200 + i, cv=0.02)
            rep, md, _, _ = self.run_report([a, b], "--no-html")
            cs = [c for c in rep["comparisons"] if c["verdict"] != "info"]
            self.assertGreaterEqual(len(cs), 20)
            total += len(cs)
            flagged += len([c for c in cs if c["verdict"] in ("regressed", "improved")])
            self.assertEqual([c for c in cs if c["verdict"] == "regressed"], [])
        rate = flagged / total
        sys.stderr.write("\nA/A synthetic: %d of %d metrics flagged (%.1f%%)\n"
                         % (flagged, total, 100 * rate))
        self.assertLessEqual(rate, 0.05)

    def test_ab_thp_disabled_regresses_thp_only(self):
        """The A/B check on synthetic data: THP throughput at 60% in the second run."""
        a = F.suite(self.path("a"), "a", 1)
        b = F.suite(self.path("b"), "b", 2, thp_factor=0.6, env_kw={"thp": "never"})
        rep, md, _, _ = self.run_report([a, b], "--no-html")
        for c in rep["comparisons"]:
            if c["verdict"] == "info":
                continue
            if "/thp/" in c["case"]:
                self.assertEqual(c["verdict"], "regressed", c)
            elif "/anon-4k/" in c["case"]:
                self.assertNotIn(c["verdict"], ("regressed", "improved"), c)
        self.assertIn("thp.enabled", md)
        self.assertLess(md.index("Regressions"), md.index("All comparisons"))

    def test_pass_to_skip_is_a_regression(self):
        """The A/B check as the engine records it: with THP never the THP cases are
        skipped (a THP run that got 4K pages is a skip, not a number), and a
        case that passed in the baseline and does not pass in the run is that
        run's regression, gated by --fail-on regression at any PCT."""
        why = "THP disabled (transparent_hugepage/enabled=never): --prepare ..."
        a = F.suite(self.path("a"), "a", 1)
        b = F.suite(self.path("b"), "b", 2, skip={"thp": why}, env_kw={"thp": "never"})
        rep, md, _, se = self.run_report([a, b], "--no-html", "--fail-on", "regression:50",
                                         expect=1)
        status = [c for c in rep["comparisons"] if c["kind"] == "status"]
        self.assertEqual(sorted(c["case"] for c in status),
                         sorted(x["case"] for x in rep["status_changes"]))
        self.assertEqual(len(status), 4)  # three populate modes and fault-scale on THP
        for c in status:
            self.assertTrue("/thp/" in c["case"], c)
            self.assertEqual((c["verdict"], c["status_change"], c["notes"]),
                             ("regressed", "pass->skip", [why]))
        for c in rep["comparisons"]:
            if "/anon-4k/" in c["case"]:
                self.assertIn(c["verdict"], ("unchanged", "info"), c)
        self.assertEqual(rep["summary"][0]["lost"], 4)
        self.assertEqual(rep["summary"][0]["regressed"], 4)
        self.assertIn("pass->skip", md[md.index("Regressions"):md.index("Improvements")])
        self.assertIn(why, md[md.index("Regressions"):md.index("Improvements")])
        self.assertEqual(se.count("--fail-on: regression"), 4, se)
        # the other way round the same cases are improvements, and not gated
        rep, _, _, _ = self.run_report([b, a], "--no-html", "--fail-on", "regression")
        self.assertEqual([(c["verdict"], c["status_change"]) for c in rep["comparisons"]
                          if c["kind"] == "status"], [("improved", "skip->pass")] * 4)

    def test_case_lost_by_an_incomplete_run_is_a_regression(self):
        a = F.suite(self.path("a"), "a", 1)
        cut = F.suite(self.path("cut"), "cut", 2, drop=("hugetlb-2m",), complete=False)
        other = F.suite(self.path("other"), "other", 3, drop=("hugetlb-2m",))
        rep, _, _, _ = self.run_report([a, cut, other], "--no-html")
        lost = [c for c in rep["comparisons"] if c["kind"] == "status"]
        self.assertEqual({(c["run"], c["status_change"]) for c in lost}, {("cut", "pass->lost")})
        self.assertEqual(len(lost), 4)
        self.assertIn("did not complete", lost[0]["notes"][0])
        # a complete run without the cases ran another suite: listed, not regressed
        self.assertTrue(any(u["missing"] == ["cut", "other"] for u in rep["unmatched"]))

    def test_improvement_direction(self):
        a = F.suite(self.path("a"), "a", 1)
        b = F.suite(self.path("b"), "b", 2, thp_factor=1.5)
        rep, _, _, _ = self.run_report([a, b], "--no-html")
        thp = [c for c in rep["comparisons"] if "/thp/" in c["case"] and c["verdict"] != "info"]
        self.assertTrue(thp)
        self.assertTrue(all(c["verdict"] == "improved" for c in thp), thp)
        lower = [c for c in thp if c["direction"] == "lower"]
        self.assertTrue(lower and all(c["change_pct"] < 0 for c in lower))

    def test_too_few_repetitions_says_how_many(self):
        a = F.suite(self.path("a"), "a", 1, repeat=3)
        b = F.suite(self.path("b"), "b", 2, repeat=3, thp_factor=0.5)
        rep, md, _, _ = self.run_report([a, b], "--no-html")
        metric = [c for c in rep["comparisons"] if c["kind"] == "metric"
                  and c["verdict"] != "info"]
        self.assertTrue(all(c["verdict"] == "noisy" for c in metric))
        self.assertIn("needs >=4 per side", md)

    def test_noisy_when_cv_high(self):
        a = F.suite(self.path("a"), "a", 1, cv=0.15)
        b = F.suite(self.path("b"), "b", 2, cv=0.15)
        rep, _, _, _ = self.run_report([a, b], "--no-html")
        noisy = [c for c in rep["comparisons"] if c["verdict"] == "noisy"]
        self.assertTrue(noisy)
        self.assertTrue(any("cv" in n for c in noisy for n in c["notes"]))

    def test_shift_within_the_noise_is_noisy(self):
        """With cv above the threshold, a shift must clear the spread itself."""
        def run(name, seed, factor):
            rng = random.Random(seed)
            rec = F.record(name, 60, "cow-race", "anon-4k", {}, repeat=8, metrics={
                "ops_rate": F.metric(rng, "fork/s", "higher", 1000 * factor, 0.10, 8)})
            return F.suite(self.path(name), name, seed, extra=[rec])
        a = run("a", 1, 1.0)
        small = run("small", 2, 0.85)
        big = run("big", 3, 0.4)
        rep, _, _, _ = self.run_report([a, small, big], "--no-html")
        got = {c["run"]: c for c in rep["comparisons"] if c["case"] == "cow-race/anon-4k/"}
        self.assertEqual(got["big"]["verdict"], "regressed")
        self.assertEqual(got["small"]["verdict"], "noisy", got["small"])

    def test_tail_shift_on_a_changed_machine_is_noisy(self):
        a = F.suite(self.path("a"), "a", 1)
        b = F.suite(self.path("b"), "b", 2, tail=2.0, memset=5.0)
        c = F.suite(self.path("c"), "c", 3, tail=2.0)
        rep, md, _, _ = self.run_report([a, b, c], "--no-html")
        self.assertIn("Machine state differs between a and b: memset_GBps -49%", md)
        tails = [x for x in rep["comparisons"] if x["stat"] == "p99"]
        self.assertTrue(tails)
        for x in tails:
            self.assertEqual(x["verdict"], "noisy" if x["run"] == "b" else "regressed", x)

    def test_same_machine_moved_raises_the_bar(self):
        """Same host, memset calibration 20% lower: a 10% shift is not the
        kernel's, a 50% one still is; on another host the calibration is
        part of the comparison and does not raise the bar."""
        a = F.suite(self.path("a"), "a", 1)
        small = F.suite(self.path("small"), "small", 2, thp_factor=0.9, memset=7.8)
        big = F.suite(self.path("big"), "big", 3, thp_factor=0.5, memset=7.8)
        other = F.suite(self.path("other"), "other", 4, thp_factor=0.9, memset=7.8,
                        env_kw={"host": "otherhost"})
        rep, _, _, _ = self.run_report([a, small, big, other], "--no-html")
        factors = {s["run"]: s["machine_factor"] for s in rep["summary"]}
        self.assertAlmostEqual(factors["small"], 9.8 / 7.8, places=9)
        self.assertEqual(factors["other"], 1.0)
        for c in rep["comparisons"]:
            if c["kind"] != "metric" or "/thp/" not in c["case"] or c["verdict"] == "info":
                continue
            want = {"small": "noisy", "big": "regressed", "other": "regressed"}[c["run"]]
            self.assertEqual(c["verdict"], want, c)

    def test_latency_tail_needs_samples(self):
        a = F.suite(self.path("a"), "a", 1, latency_n=500)
        b = F.suite(self.path("b"), "b", 2, latency_n=500)
        rep, _, _, _ = self.run_report([a, b], "--no-html")
        p999 = [c for c in rep["comparisons"] if c["stat"] == "p99.9"]
        self.assertTrue(p999)
        for c in p999:
            self.assertEqual(c["verdict"], "noisy")
            self.assertIn("needs >=10000", " ".join(c["notes"]))

    def test_bootstrap_reruns_identical(self):
        a = F.suite(self.path("a"), "a", 1)
        b = F.suite(self.path("b"), "b", 2, thp_factor=0.9)
        r1, md1, _, _ = self.run_report([a, b], "--no-html", "--ci", "bootstrap")
        r2, md2, _, _ = self.run_report([a, b], "--no-html", "--ci", "bootstrap")
        r1.pop("generated")
        r2.pop("generated")
        self.assertEqual(r1, r2)

    def test_correctness_first_with_kernel_log(self):
        oops = ["BUG: unable to handle page fault for address: 0000000000000008",
                "RIP: 0010:follow_trans_huge_pmd+0x3c/0x1d0"]
        extra = [
            F.record("b", 90, "dax-populate", "fsdax", {"mode": "map-populate"},
                     status="error", reason="kernel oops during case", kernel_log=oops),
            F.record("b", 91, "cow-pin", "thp", {"scenario": "fork-after-pin"},
                     status="fail", reason="child saw parent data at offset 0x1000",
                     details={"offsets": "0x1000-0x2000"}),
            F.record("b", 92, "dax-populate", "fsdax", {"mode": "va-2m+2"}, status="error",
                     reason="guest stopped answering; killed after 600 s", hung=True),
        ]
        base = [F.record("a", 90, "dax-populate", "fsdax", {"mode": "map-populate"}),
                F.record("a", 91, "cow-pin", "thp", {"scenario": "fork-after-pin"}),
                F.record("a", 92, "dax-populate", "fsdax", {"mode": "va-2m+2"})]
        a = F.suite(self.path("a"), "a", 1, extra=base)
        b = F.suite(self.path("b"), "b", 2, extra=extra, thp_factor=0.5)
        with open(os.path.join(b, "dmesg.txt"), "w") as f:
            f.write("\n".join(oops) + "\n")
        rep, md, _, _ = self.run_report([a, b], "--no-html")
        self.assertEqual([c["status"] for c in rep["correctness"]], ["hung", "error", "fail"])
        self.assertEqual(rep["summary"][0]["lost"], 3)
        i = md.index("Correctness")
        self.assertLess(i, md.index("Regressions"))
        self.assertIn("follow_trans_huge_pmd", md[i:md.index("Regressions")])
        self.assertIn("0x1000-0x2000", md)
        self.assertIn("full logs: " + os.path.join(b, "dmesg.txt"), md)
        rc, _, se = report(a, b, "--out", self.path("o"), "--no-html", "--fail-on", "failure")
        self.assertEqual(rc, 1, se)

    def test_fail_on_regression_threshold(self):
        a = F.suite(self.path("a"), "a", 1)
        b = F.suite(self.path("b"), "b", 2, thp_factor=0.8)  # about -20% on THP
        _, _, _, se = self.run_report([a, b], "--no-html", "--fail-on", "regression:10",
                                      expect=1)
        self.assertIn("regression populate/thp", se)
        self.run_report([a, b], "--no-html", "--fail-on", "regression:50", expect=0)
        self.run_report([a, b], "--no-html", "--fail-on", "regression", expect=1)
        self.run_report([a, a], "--no-html", "--fail-on", "regression", expect=0)

    def test_baseline_selection(self):
        a = F.suite(self.path("a"), "a", 1)
        b = F.suite(self.path("b"), "b", 2, thp_factor=0.6)
        rep, _, _, _ = self.run_report([a, b], "--no-html", "--baseline", "b")
        self.assertEqual(rep["baseline"], "b")
        thp = [c for c in rep["comparisons"] if "/thp/" in c["case"] and c["verdict"] != "info"]
        self.assertTrue(all(c["verdict"] == "improved" for c in thp))

    def test_env_diff_tcg_warning_and_labels(self):
        a = F.suite(self.path("a"), "a", 1, env_kw={"kernel": "6.1.0-30-amd64",
                                                      "accel": "none", "hypervisor": "none"})
        b = F.suite(self.path("b"), "b", 2, env_kw={
            "kernel": "6.12.9-amd64", "accel": "tcg", "hypervisor": "qemu",
            "config": {"CONFIG_DEVICE_PRIVATE": "y"}})
        rep, md, out, _ = self.run_report([a, b])
        self.assertEqual(rep["columns"], ["6.1.0-30-amd64", "6.12.9-amd64"])
        self.assertIn("TCG vs NATIVE", md)
        self.assertLess(md.index("TCG vs NATIVE"), md.index("Environment differences"))
        keys = [d["key"] for d in rep["env"]["differs"]]
        for k in ("kernel.release", "virt.accel", "kernel.config.CONFIG_DEVICE_PRIVATE"):
            self.assertIn(k, keys)
        with open(os.path.join(out, "report.html")) as f:
            self.assertIn("TCG vs NATIVE", f.read())

    def test_tcg_vs_native_not_gated(self):
        a = F.suite(self.path("a"), "a", 1, env_kw={"accel": "kvm"})
        b = F.suite(self.path("b"), "b", 2, thp_factor=0.5, env_kw={"accel": "tcg"})
        rep, md, _, se = self.run_report([a, b], "--no-html", "--fail-on", "regression")
        self.assertFalse(rep["summary"][0]["timing_comparable"])
        self.assertIn("NOT COMPARABLE (TCG)", md)
        self.assertIn("not gating on", se)
        self.assertTrue(all("TCG vs native" in c["notes"][0] for c in rep["comparisons"]
                            if c["verdict"] == "regressed"))

    def test_behaviour_tables_and_unmatched(self):
        def recs(run, pin, skip):
            r = [F.record(run, 50, "dax-gup", "fsdax", {"entry": "io_uring"},
                          details={"observed_longterm_pin": pin, "verified": "x"}),
                 F.record(run, 51, "device-migrate", "anon-4k", {},
                          status="skip" if skip else "pass",
                          reason=skip or "")]
            if run == "b":
                r.append(F.record(run, 52, "gup-user", "anon-4k", {"entry": "vmsplice"}))
            return r
        a = F.suite(self.path("a"), "a", 1, extra=recs("a", "EOPNOTSUPP",
                                                       "needs CONFIG_DEVICE_PRIVATE"))
        b = F.suite(self.path("b"), "b", 2, extra=recs("b", "ok", None))
        rep, md, _, _ = self.run_report([a, b], "--no-html")
        beh = {(x["case"], x["key"]): x["values"] for x in rep["behaviour"]}
        self.assertEqual(beh[("dax-gup/fsdax/entry=io_uring", "observed_longterm_pin")],
                         ["EOPNOTSUPP", "ok"])
        self.assertEqual(beh[("device-migrate/anon-4k/", "skip reason")],
                         ["skip: needs CONFIG_DEVICE_PRIVATE", "pass"])
        self.assertNotIn("verified", [x["key"] for x in rep["behaviour"]])
        self.assertEqual([u["case"] for u in rep["unmatched"]],
                         ["gup-user/anon-4k/entry=vmsplice"])
        self.assertIn("Unmatched cases", md)

    def test_new_default_parameter_still_matches(self):
        """A newer faultline adds an option with a default: the case name is
        the same, params differ; matched, and the difference listed."""
        def rec(run, params, seed):
            r = F.record(run, 60, "dax-populate", "fsdax", params, metrics={
                "throughput": F.metric(random.Random(seed), "GB/s", "higher", 5, 0.01, 5)})
            r["case"] = "dax-populate/fsdax/mode=write-touch"
            return r
        a = F.suite(self.path("a"), "a", 1, extra=[rec("a", {"mode": "write-touch"}, 1)])
        b = F.suite(self.path("b"), "b", 2, extra=[
            rec("b", {"mode": "write-touch", "fio_rounds": "3"}, 2)])
        rep, md, _, _ = self.run_report([a, b], "--no-html")
        self.assertEqual(rep["unmatched"], [])
        self.assertEqual(rep["param_diffs"], [{"case": "dax-populate/fsdax/mode=write-touch",
                                               "params": {"fio_rounds": ["(absent)", "3"]}}])
        c = next(c for c in rep["comparisons"] if c["case"].startswith("dax-populate"))
        self.assertIn("parameters differ: fio_rounds (absent)->3", c["notes"][0])
        self.assertIn("fio_rounds", md)

    def test_metric_on_one_side_only_is_listed(self):
        ra = F.record("a", 60, "gup-user", "thp", {"entry": "io_uring"}, metrics={
            "time_per_op": F.metric(random.Random(1), "ns/page", "lower", 50, 0.01, 5)})
        rb = F.record("b", 60, "gup-user", "thp", {"entry": "io_uring"}, metrics={
            "time_per_op": F.metric(random.Random(2), "ns/page", "lower", 50, 0.01, 5),
            "release_ns": F.metric(random.Random(3), "ns/page", "lower", 9, 0.01, 5)})
        a = F.suite(self.path("a"), "a", 1, extra=[ra])
        b = F.suite(self.path("b"), "b", 2, extra=[rb])
        rep, md, _, _ = self.run_report([a, b], "--no-html")
        self.assertEqual(rep["unmatched_metrics"], [{"case": "gup-user/thp/entry=io_uring",
                                                     "metric": "release_ns", "run": "b",
                                                     "only_in": "b"}])
        self.assertIn("one side only", md)

    def test_metric_with_other_unit_not_compared(self):
        ra = F.record("a", 60, "gup-user", "thp", {}, metrics={
            "time_per_op": F.metric(random.Random(1), "ns/page", "lower", 50, 0.01, 5)})
        rb = F.record("b", 60, "gup-user", "thp", {}, metrics={
            "time_per_op": F.metric(random.Random(2), "ns/pin", "lower", 500, 0.01, 5)})
        a = F.suite(self.path("a"), "a", 1, extra=[ra])
        b = F.suite(self.path("b"), "b", 2, extra=[rb])
        rep, _, _, _ = self.run_report([a, b], "--no-html")
        self.assertFalse([c for c in rep["comparisons"] if c["case"] == "gup-user/thp/"])
        self.assertIn("ns/page lower vs ns/pin lower", rep["unmatched_metrics"][0]["only_in"])


class TestGroups(Tmp):
    def test_pooled_runs(self):
        a1 = F.suite(self.path("a1"), "a1", 1)
        a2 = F.suite(self.path("a2"), "a2", 2, extra=[
            F.record("a2", 70, "dax-gup", "fsdax", {}, status="skip", reason="no PMEM")])
        b = F.suite(self.path("b"), "b", 3)
        rep, md, _, se = self.run_report([a1 + "+" + a2, b], "--no-html")
        self.assertEqual(rep["baseline"], "a1+a2")
        self.assertEqual(rep["runs"][0]["members"], [a1, a2])
        c = next(c for c in rep["comparisons"] if c["metric"] == "throughput")
        self.assertEqual((c["n_base"], c["n_new"]), (10, 5))
        lat = next(c for c in rep["comparisons"] if c["stat"] == "p50")
        self.assertEqual((lat["n_base"], lat["n_new"]), (40000, 20000))
        self.assertIn("in 1 of 2 group members", se)


class TestBadInput(Tmp):
    def test_bad_folders_reported_rest_compared(self):
        a = F.suite(self.path("a"), "a", 1)
        b = F.suite(self.path("b"), "b", 2, thp_factor=0.6)
        trunc = F.suite(self.path("trunc"), "t", 3, complete=False, truncate_last=True)
        foreign = F.suite(self.path("foreign"), "f", 4)
        with open(os.path.join(foreign, "run.json")) as f:
            meta = json.load(f)
        meta["schema"] = "faultline.run/2"
        with open(os.path.join(foreign, "run.json"), "w") as f:
            json.dump(meta, f)
        badrec = F.suite(self.path("badrec"), "r", 5)
        with open(os.path.join(badrec, "results.jsonl"), "a") as f:
            rec = F.record("r", 99, "populate", "anon-4k", {"mode": "x"})
            rec["schema"] = "faultline.record/3"
            f.write("{not json\n")  # mid-file: skipped; at the end it would be truncation
            f.write(json.dumps(rec) + "\n")
        corrupt = F.suite(self.path("corrupt"), "c", 6)
        with open(os.path.join(corrupt, "run.json"), "w") as f:
            f.write('{"schema": "faultline.run/1", "env": {')
        empty = self.path("empty")
        F.write_run(empty, F.run_json("e", F.env()), [])
        nojsonl = self.path("nojsonl")
        os.makedirs(nojsonl)
        with open(os.path.join(nojsonl, "run.json"), "w") as f:
            json.dump(F.run_json("n", F.env()), f)
        dirs = [a, b, trunc, foreign, badrec, corrupt, empty, nojsonl]
        rep, md, out, se = self.run_report(dirs)
        probs = {(p["file"], p["problem"]) for p in rep["problems"]}

        def has(fname, *words):
            hit = [p for f, p in probs if f == fname and all(w in p for w in words)]
            self.assertTrue(hit, "no problem for %s with %s in %s" % (fname, words, probs))
            self.assertIn(fname, md)
            self.assertIn(fname, se)
        has(os.path.join(trunc, "results.jsonl"), "truncated", "15 complete records")
        has(os.path.join(foreign, "run.json"), "unknown schema major version 2")
        has(os.path.join(badrec, "results.jsonl"), "unknown schema major version 3")
        has(os.path.join(badrec, "results.jsonl"), "not valid JSON")
        has(os.path.join(corrupt, "run.json"), "not valid JSON")
        has(os.path.join(empty, "results.jsonl"), "empty run")
        has(os.path.join(nojsonl, "results.jsonl"), "missing")
        runs = {r["label"]: r for r in rep["runs"]}
        self.assertFalse(runs["trunc"]["complete"])
        self.assertTrue(runs["trunc"]["usable"])
        self.assertFalse(runs["foreign"]["usable"])
        # the good runs (and the readable part of the bad ones) are still compared
        self.assertIn("b", rep["columns"])
        self.assertTrue([c for c in rep["comparisons"] if c["run"] == "b"
                         and c["verdict"] == "regressed"])
        self.assertTrue([c for c in rep["comparisons"] if c["run"] == "trunc"])
        self.assertTrue(os.path.exists(os.path.join(out, "report.html")))

    def test_unusable_first_folder_moves_the_baseline(self):
        a = F.suite(self.path("a"), "a", 1)
        b = F.suite(self.path("b"), "b", 2)
        os.makedirs(self.path("gone"))  # a folder without run.json or results.jsonl
        rep, md, _, se = self.run_report([self.path("gone"), a, b], "--no-html")
        self.assertEqual(rep["baseline"], "a")
        self.assertIn("has no usable results: the baseline is a", se)
        self.assertIn("has no usable results", rep["warnings"][0])
        self.assertIn("WARNING: the first folder", md)

    def test_executable_entry_point(self):
        """scripts/report as `faultline report` execs it: its shebang, exit codes."""
        a = F.suite(self.path("a"), "a", 1)
        b = F.suite(self.path("b"), "b", 2, thp_factor=0.5)
        p = subprocess.run([REPORT, a, b, "--out", self.path("o"), "--no-html",
                            "--fail-on", "regression:10"], capture_output=True, text=True,
                           timeout=120)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn("b vs a:", p.stdout)
        self.assertTrue(os.path.exists(self.path("o", "report.md")))
        p = subprocess.run([REPORT], capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 2)
        self.assertIn("usage:", p.stderr)

    def test_stated_percentiles_checked_against_buckets(self):
        a = F.suite(self.path("a"), "a", 1)
        b = F.suite(self.path("b"), "b", 2)
        fname = os.path.join(b, "results.jsonl")
        with open(fname) as f:
            lines = f.readlines()
        rec = json.loads(lines[1])
        rec["latency"]["fault"]["p99"] *= 3
        lines[1] = json.dumps(rec) + "\n"
        with open(fname, "w") as f:
            f.writelines(lines)
        rep, _, _, _ = self.run_report([a, b], "--no-html")
        probs = [p["problem"] for p in rep["problems"] if p["file"] == fname]
        self.assertEqual(len(probs), 1, rep["problems"])
        self.assertIn("line 2: populate/anon-4k/mode=first-touch,size=64M: stated fault p99",
                      probs[0])

    def test_half_record_then_newline_is_truncation(self):
        a = F.suite(self.path("a"), "a", 1)
        b = F.suite(self.path("b"), "b", 2)
        with open(os.path.join(b, "results.jsonl"), "a") as f:
            f.write('{"schema": "faultline.record/1", "workl\n\n')
        rep, _, _, _ = self.run_report([a, b], "--no-html")
        runs = {r["label"]: r for r in rep["runs"]}
        self.assertFalse(runs["b"]["complete"])
        self.assertTrue(any("line 17 truncated" in p["problem"] for p in rep["problems"]))

    def test_mangled_records_never_crash(self):
        """Records with fields of the wrong type (seeded mutations of valid
        ones) are refused or tolerated, never an internal error (exit 3)."""
        rng = random.Random(11)
        junk = [None, 0, -1, 1e308, "x", "", [], {}, [1, "a"], {"a": None}, True,
                [[1, 2]], [[1, "b", 3]], [[5, 1, -3]], float("nan")]
        a = F.suite(self.path("a"), "a", 1)
        b = F.suite(self.path("b"), "b", 2)
        fname = os.path.join(b, "results.jsonl")
        with open(fname) as f:
            recs = [json.loads(line) for line in f]

        def mutate(obj, depth=0):
            if isinstance(obj, dict) and obj:
                k = rng.choice(sorted(obj))
                if depth < 3 and isinstance(obj[k], (dict, list)) and rng.random() < 0.7:
                    mutate(obj[k], depth + 1)
                else:
                    obj[k] = json.loads(json.dumps(rng.choice(junk)))
            elif isinstance(obj, list) and obj:
                i = rng.randrange(len(obj))
                if depth < 3 and isinstance(obj[i], (dict, list)) and rng.random() < 0.7:
                    mutate(obj[i], depth + 1)
                else:
                    obj[i] = json.loads(json.dumps(rng.choice(junk)))
        out = []
        for r in recs:
            for _ in range(3):
                m = json.loads(json.dumps(r))
                for _ in range(rng.randint(1, 4)):
                    mutate(m)
                out.append(m)
        with open(fname, "w") as f:
            for m in out:
                f.write(json.dumps(m) + "\n")
        rc, _, se = report(a, b, "--out", self.path("o"))
        self.assertIn(rc, (0, 2), se[-3000:])

    def test_usage_errors_exit_2(self):
        a = F.suite(self.path("a"), "a", 1)
        for args in ([], [a, "--fail-on", "slower"], [a, "--fail-on", "regression:x"],
                     [a, "--baseline", "nope"], [a, "--alpha", "2"],
                     [a, a, "--labels", "x"], [self.path("missing")]):
            rc, _, se = report(*args, "--out", self.path("o"))
            self.assertEqual(rc, 2, (args, se))
            self.assertTrue(se.strip(), args)


class TestHtml(Tmp):
    def _build(self):
        """A kernel-matrix-like report: four kernels, one under TCG, per-kernel
        behaviour, a skip that differs, an oops with its excerpt."""
        kernels = [("5.10.0-33-amd64", "kvm", "EOPNOTSUPP", "needs CONFIG_DEVICE_PRIVATE"),
                   ("6.1.0-30-amd64", "kvm", "EOPNOTSUPP", None),
                   ("6.12.9-amd64", "tcg", "EFAULT", None),
                   ("7.2.0-1-amd64", "kvm", "EOPNOTSUPP", None)]
        dirs = []
        for i, (k, accel, pin, skip) in enumerate(kernels):
            extra = [F.record(k, 80, "dax-gup", "fsdax", {"entry": "io_uring-register"},
                              details={"observed_longterm_pin": pin}),
                     F.record(k, 81, "device-migrate", "anon-4k", {"scenario": "thp"},
                              status="skip" if skip else "pass", reason=skip or "")]
            if i == 2:
                extra.append(F.record(k, 82, "dax-populate", "fsdax", {"va": "2m+2p"},
                                      status="error", reason="kernel oops during the case",
                                      kernel_log=["BUG: kernel NULL pointer dereference",
                                                  "RIP: 0010:follow_trans_huge_pmd+0x3c"]))
            else:
                extra.append(F.record(k, 82, "dax-populate", "fsdax", {"va": "2m+2p"}))
            dirs.append(F.suite(self.path(k), k, i + 1, thp_factor=0.6 if i == 3 else 1.0,
                                env_kw={"kernel": k, "accel": accel}, extra=extra))
        rep, md, out, _ = self.run_report(dirs)
        self.assertEqual(len(rep["columns"]), 4)
        self.assertRegex(md, r"fault-scale/thp/tasks=1 +ops_rate +[-+]\d.*-\d+\.\d% R")
        self.assertIn("observed_longterm_pin", md)
        return os.path.join(out, "report.html")

    def test_self_contained(self):
        page = self._build()
        with open(page) as f:
            text = f.read()
        self.assertNotIn("<script", text.lower())
        self.assertIsNone(re.search(r'(src|href)\s*=\s*["\']?(https?:|//)', text))
        self.assertNotIn("@import", text)
        self.assertGreaterEqual(text.count("<svg"), 4)

    @unittest.skipUnless(shutil.which("chromium"), "chromium not installed "
                         "(apt-get install chromium) - screenshot test skipped")
    def test_chromium_renders_without_console_errors(self):
        page = self._build()
        shot = self.path("shot.png")
        profile = tempfile.mkdtemp(prefix="fl-chromium-")
        self.addCleanup(shutil.rmtree, profile, True)
        p = subprocess.run(
            ["chromium", "--headless", "--no-sandbox", "--disable-gpu",
             "--disable-background-networking", "--disable-component-update",
             "--disable-sync", "--no-first-run", "--user-data-dir=" + profile,
             "--window-size=1400,3000", "--screenshot=" + shot,
             "--enable-logging=stderr", "--v=0", "file://" + page],
            capture_output=True, text=True, timeout=120)
        console = [l for l in p.stderr.splitlines() if ":CONSOLE(" in l or "net::ERR" in l]
        self.assertEqual(console, [], p.stderr[-2000:])
        with open(shot, "rb") as f:
            head = f.read(24)
        self.assertEqual(head[:8], b"\x89PNG\r\n\x1a\n")
        width = int.from_bytes(head[16:20], "big")
        self.assertGreater(width, 0)
        if CLI is not None:  # matplotlib here: the page is not blank
            import matplotlib.image
            img = matplotlib.image.imread(shot)
            inked = (img[:, :, :3].min(axis=2) < 0.9).mean()
            self.assertGreater(inked, 0.01, "screenshot looks blank")
        keep = os.environ.get("FAULTLINE_REPORT_SCREENSHOT")
        if keep:
            shutil.copy(shot, keep)


DEBIAN_PYTHON = "/usr/bin/python3"


class UnderDebianPython(unittest.TestCase):
    """This interpreter lacks scipy (e.g. a pyenv python3 first in PATH):
    run the whole module once under Debian's python3, which the report
    itself uses, instead of skipping the statistics and paying an
    interpreter start per report."""

    def test_all_under_debian_python3(self):
        p = subprocess.run([DEBIAN_PYTHON, "-m", "unittest", "discover", "-s", HERE],
                           capture_output=True, text=True, timeout=600, cwd=ROOT,
                           env=dict(os.environ, FAULTLINE_REPORT_REEXEC="1"))
        self.assertEqual(p.returncode, 0, p.stderr[-3000:])
        sys.stderr.write("\n%s: %s\n" % (DEBIAN_PYTHON, p.stderr.strip().splitlines()[-1]))


def deferred_to_debian_python():
    """True when this interpreter lacks scipy and Debian's has it: then
    UnderDebianPython runs every test module of tests/report there once."""
    return bool(NO_SCIPY) and not os.environ.get("FAULTLINE_REPORT_REEXEC") and \
        os.path.realpath(sys.executable) != os.path.realpath(DEBIAN_PYTHON) and \
        subprocess.run([DEBIAN_PYTHON, "-c", "import scipy, matplotlib"],
                       capture_output=True).returncode == 0


def load_tests(loader, tests, pattern):
    if deferred_to_debian_python():
        return loader.loadTestsFromTestCase(UnderDebianPython)
    suite = unittest.TestSuite()
    for group in tests:  # one suite per TestCase class
        for t in getattr(group, "_tests", [group]):
            if not isinstance(t, UnderDebianPython):
                suite.addTest(t)
    return suite


if __name__ == "__main__":
    unittest.main()
