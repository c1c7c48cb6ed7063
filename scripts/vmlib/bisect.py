"""scripts/vm bisect: the first commit of a local kernel tree at which one
case goes bad, found with `git bisect` and decided by the report's verdicts.

Every step builds the tree at a revision (kgit.py, incremental), boots it
and runs only the case's section of the job (faultline --section, with
--repeat N), then compares the step's results with the good endpoint's
through reportlib.compare.build — the comparison `scripts/report` prints:

  --status          bad: the case's status comparison is "regressed" and
                    the step's case failed or skipped; good: it passed
  --metric NAME     bad: the metric's verdict is "regressed" with the report
  --threshold PCT   run at --min-change PCT (the whole CI beyond PCT and the
                    noise floor); good: "unchanged" or "improved"

Anything else is undecidable and becomes `git bisect skip`, never a
guess: a build or boot that failed, a case that errored, hung or was not
recorded, a "noisy" verdict.  Both endpoints are measured first; the bad
one must verify bad.  The bisection state lives in a bare shared clone in
the output folder, so the user's checkout and refs are never touched.

Output folder: bisect.log (every step, one line each, and the result),
bisect.json, git-bisect-log.txt, report.md, and per step NN-ROLE-SHA/ (the
run's results, vm/ logs, and report.md: the step against the good one).
"""

import json
import re
import time
from pathlib import Path

from .common import REPO, UsageError, VmError, log, run

# reportlib is imported where used: scripts/vm must not need python3-scipy
# for its other commands.

BAD_STATUSES = ("fail", "skip")


def settings(mode, threshold):
    """The report's settings for a decision: in metric mode --min-change is
    the threshold and --cv-threshold threshold/noise_k, so that "unchanged"
    means the noise floor is below the threshold too."""
    from reportlib import compare
    st = compare.Settings()
    if mode == "metric":
        st = compare.Settings(min_change=threshold,
                              cv_threshold=threshold / 100.0 / st.noise_k)
    return st


def find_case(records, selector):
    """The one case key of RECORDS whose name is SELECTOR or starts with
    it; UsageError listing the names otherwise."""
    from reportlib.load import case_name
    names = {k: case_name(r) for k, r in records.items()}
    hit = [k for k, n in names.items() if n == selector]
    if not hit:
        hit = [k for k, n in names.items() if n.startswith(selector)]
    if len(hit) != 1:
        raise UsageError(
            f"--case {selector!r} matches {len(hit)} of the good endpoint's "
            "cases: " + "; ".join(sorted(names.values())))
    return hit[0]


def compare_runs(good_dir, step_dir, st):
    """(report dict, good Run, step Run) of the step against the good."""
    from reportlib import compare, load
    runs = [load.load_run(str(good_dir)), load.load_run(str(step_dir))]
    load.assign_labels(runs)
    return compare.build(runs, 0, st), runs[0], runs[1]


def decide(rep, key, step, mode, metric=None):
    """(good|bad|skip, why) for one step from the report REP of the step
    against the good endpoint; KEY is the case, STEP the step's Run."""
    from reportlib.compare import _status
    from reportlib.load import case_name
    rec = step.records.get(key) if step.usable else None
    if rec is None:
        return "skip", "the case was not recorded"
    name, status = case_name(rec), _status(rec)
    mine = [c for c in rep["comparisons"] if c["case"] == name]
    if mode == "status":
        if status == "pass":
            return "good", "pass"
        sc = next((c for c in mine if c["kind"] == "status"), None)
        why = f"{status}: {rec.get('reason') or ''}".rstrip(": ")
        if sc and sc["verdict"] == "regressed" and status in BAD_STATUSES:
            return "bad", why
        return "skip", why
    if status != "pass":
        return "skip", f"{status}: {rec.get('reason') or ''}".rstrip(": ")
    c = next((c for c in mine if c["kind"] == "metric"
              and c["metric"] == metric), None)
    if c is None:
        return "skip", f"no {metric} in both runs"
    ch = c["change_pct"]
    what = (f"{metric} {c['base']:.4g} -> {c['new']:.4g} {c['unit']} "
            f"({ch:+.1f}%), verdict {c['verdict']}") if ch is not None \
        else f"{metric}: verdict {c['verdict']}"
    if c["notes"]:
        what += " (" + "; ".join(c["notes"]) + ")"
    verdict = {"regressed": "bad", "unchanged": "good",
               "improved": "good"}.get(c["verdict"], "skip")
    return verdict, what


class Bisection:
    """One bisection: the git state, the steps taken, the output folder."""

    def __init__(self, a, out):
        from . import kgit
        self.a, self.out = a, out
        self.tree = kgit.parse(f"git:{a.tree}@HEAD", a.kasan)[0]
        self.good, self.good_subject = kgit.commit_info(self.tree, a.good)
        self.bad, self.bad_subject = kgit.commit_info(self.tree, a.bad)
        self.mode = "metric" if a.metric else "status"
        self.st = settings(self.mode, a.threshold)
        self.steps = []
        self.repo = out / "bisect.git"
        self.key = None

    def git(self, *args, check=True):
        r = run(["git", "--git-dir", str(self.repo)] + list(args),
                capture=True, check=False)
        if check and r.returncode:
            raise VmError(f"git {' '.join(args)}: {r.stderr.strip()}")
        return r.stdout

    def say(self, line):
        log(line)
        with open(self.out / "bisect.log", "a") as f:
            f.write(line + "\n")

    def run_step(self, role, sha):
        """Build, boot and run the case at SHA; returns the step dict."""
        from . import kgit, runner
        from .kernels import parse_kernel
        n = len(self.steps)
        d = self.out / f"{n:02d}-{role}-{sha[:12]}"
        k = parse_kernel(f"git:{self.tree}@{sha}", self.a.kasan)
        subject = kgit.commit_info(self.tree, sha)[1]
        self.say(f"step {n} ({role}): {sha[:12]} {subject}")
        t0 = time.monotonic()
        s = runner.run_kernel(k, self.a, self.job, d)
        src = getattr(k, "source", None) or {}
        step = {"n": n, "role": role, "commit": sha, "subject": subject,
                "dir": d.name, "seconds": round(time.monotonic() - t0),
                "kernel_seconds": s.get("phases", {}).get("root"),
                "faultline_seconds": s.get("phases", {}).get("build"),
                "build_seconds": src.get("build_seconds"),
                "incremental": src.get("incremental"),
                "error": s.get("error"), "counts": s.get("counts")}
        self.steps.append(step)
        return step, d

    def judge(self, step, d, good_dir):
        if step["error"]:
            step["decision"], step["why"] = "skip", step["error"]
        else:
            from reportlib import render_md
            rep, _, srun = compare_runs(good_dir, d, self.st)
            (d / "report.md").write_text(render_md.render(rep))
            step["decision"], step["why"] = decide(
                rep, self.key, srun, self.mode, self.a.metric)
        self.say(f"step {step['n']}: {step['decision']}: {step['why']} "
                 f"[{step['seconds']} s; kernel "
                 f"{step['kernel_seconds']} s"
                 + (" incremental" if step["incremental"] else "")
                 + f", faultline and driver {step.get('faultline_seconds')}"
                 " s]")
        return step["decision"]

    def endpoints(self):
        """Measure the good endpoint, pick the case, verify the bad one."""
        step, gdir = self.run_step("good", self.good)
        if step["error"]:
            raise VmError(f"good endpoint {self.good[:12]}: {step['error']}")
        from reportlib import load
        grun = load.load_run(str(gdir))
        if not grun.usable:
            raise VmError(f"good endpoint {self.good[:12]}: no results in "
                          f"{gdir}")
        self.key = find_case(grun.records, self.a.case)
        rec = grun.records[self.key]
        step["decision"], step["why"] = "good", rec["status"]
        if rec["status"] != "pass":
            raise VmError(f"good endpoint: case {rec['case']} is "
                          f"{rec['status']} ({rec.get('reason')}): nothing "
                          "to compare against")
        if self.mode == "metric" and self.a.metric not in rec["metrics"]:
            raise VmError(f"good endpoint: case {rec['case']} has no metric "
                          f"{self.a.metric} (it has "
                          f"{', '.join(sorted(rec['metrics']))})")
        self.say(f"case: {rec['case']} (passes at the good endpoint)")
        self.good_dir = gdir
        step, d = self.run_step("bad", self.bad)
        if self.judge(step, d, gdir) != "bad":
            raise VmError(f"bad endpoint {self.bad[:12]} does not verify "
                          f"bad ({step['decision']}: {step['why']}); see "
                          f"{d}/report.md")

    def bisect(self):
        run(["git", "clone", "-q", "--bare", "--shared", str(self.tree),
             str(self.repo)], capture=True)
        out = self.git("bisect", "start", "--no-checkout", self.bad,
                       self.good)
        while True:
            m = re.search(r"^([0-9a-f]{40}) is the first bad commit", out,
                          re.M)
            if m:
                return m.group(1), []
            if "only 'skip'ped commits left" in out:
                return None, re.findall(r"^([0-9a-f]{40})$", out, re.M)
            sha = self.git("rev-parse", "BISECT_HEAD").strip()
            step, d = self.run_step("bisect", sha)
            verdict = self.judge(step, d, self.good_dir)
            # git exits non-zero once it names the first bad commit
            out = self.git("bisect", verdict, sha, check=False)

    def write(self, first, cands):
        (self.out / "git-bisect-log.txt").write_text(
            self.git("bisect", "log", check=False))
        res = {"schema": "faultline.bisect/1", "tree": str(self.tree),
               "good": self.good, "bad": self.bad, "case": self.a.case,
               "mode": self.mode, "metric": self.a.metric,
               "threshold_pct": self.a.threshold,
               "repeat": self.a.repeat, "suite": str(self.job),
               "section": self.section,
               "settings": self.st.as_dict(), "steps": self.steps,
               "first_bad": first, "candidates": cands}
        from . import kgit
        if first:
            res["first_bad_subject"] = kgit.commit_info(self.tree, first)[1]
        (self.out / "bisect.json").write_text(json.dumps(res, indent=1)
                                              + "\n")
        (self.out / "report.md").write_text(summary_md(res))
        return res


def summary_md(res):
    what = (f"status of `{res['case']}`" if res["mode"] == "status" else
            f"`{res['metric']}` of `{res['case']}` beyond "
            f"{res['threshold_pct']:g}%")
    lines = [f"# bisection: {what}", "",
             f"tree {res['tree']}, good {res['good'][:12]}, bad "
             f"{res['bad'][:12]}; suite {res['suite']} section "
             f"{res['section']}, --repeat {res['repeat']}", "",
             "| step | role | commit | subject | decision | why | step s "
             "| kernel s | faultline s |", "|---" * 9 + "|"]
    for s in res["steps"]:
        lines.append("| %d | %s | %s | %s | %s | %s | %s | %s%s | %s |" % (
            s["n"], s["role"], s["commit"][:12], s["subject"],
            s.get("decision", "?"), s.get("why", "").replace("|", "/"),
            s["seconds"], s["kernel_seconds"],
            " (incremental)" if s["incremental"] else "",
            s.get("faultline_seconds")))
    lines.append("")
    if res["first_bad"]:
        lines.append(f"first bad commit: {res['first_bad']} "
                     f"{res.get('first_bad_subject', '')}")
    else:
        lines.append("no single first bad commit (skipped steps): one of " +
                     ", ".join(c[:12] for c in res["candidates"]))
    return "\n".join(lines) + "\n"


def cmd_bisect(a):
    from . import runner
    from .kernels import check_kernels, parse_kernel
    job = runner.check_job(a.suite)
    if a.metric is None and not a.status:
        raise UsageError("say what bad means: --status or --metric NAME")
    if a.metric and a.status:
        raise UsageError("--status and --metric exclude each other")
    if a.metric and a.threshold is None:
        raise UsageError("--metric needs --threshold PCT")
    section = a.section or a.case.split("/")[0]
    repeat = a.repeat or (8 if a.metric else 2)
    a.faultline_args = " ".join(filter(None, [
        a.faultline_args, f"--section {section}", f"--repeat {repeat}"]))
    a.repeat = repeat
    ts = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    out = Path(a.out).resolve() if a.out else (
        REPO / "results" / f"bisect-{ts}")
    if out.exists() and any(out.iterdir()):
        raise UsageError(f"{out} is not empty: choose another --out")
    b = Bisection(a, out)  # the tree and both revisions must resolve
    b.job, b.section = job, section
    runner.check_host()
    check_kernels([parse_kernel(f"git:{b.tree}@{b.good}", a.kasan)])
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    b.say(f"bisect {b.tree}: good {b.good[:12]} {b.good_subject!r}, bad "
          f"{b.bad[:12]} {b.bad_subject!r}; case {a.case!r} ({b.mode}"
          + (f" {a.metric} > {a.threshold:g}%" if a.metric else "")
          + f"), section {section}, --repeat {repeat}")
    first, cands = None, []
    try:
        b.endpoints()
        first, cands = b.bisect()
    finally:
        res = b.write(first, cands)
    n = len([s for s in b.steps if s["role"] == "bisect"])
    took = f"{n} bisection steps, {time.monotonic() - t0:.0f} s"
    if first:
        b.say(f"first bad commit: {first} {res['first_bad_subject']} "
              f"({took})")
        print(f"{first} {res['first_bad_subject']}")
        return 0
    b.say(f"no first bad commit: only skipped commits left, one of "
          f"{' '.join(c[:12] for c in cands)} ({took})")
    return 1
