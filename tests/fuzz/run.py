#!/usr/bin/env python3
"""Run libFuzzer harnesses side by side for a fixed time; exit 1 on any finding.

  tests/fuzz/run.py --seconds N build/fuzz/fuzz_jobfile build/fuzz/fuzz_options

Each harness gets a working corpus in build/fuzz/corpus-NAME, seeded from
the suite's job files and the malformed-input corpus (tests/malformed), and
the dictionary tests/fuzz/NAME-less-'fuzz_'.dict when there is one.  A
finding (crash-*, leak-*, timeout-*, oom-* file, or a non-zero exit) is
printed with the command that reproduces it.  The last line sums up
executions and findings per harness.
"""
import argparse
import glob
import os
import re
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def seed_corpus(name, corpus):
    os.makedirs(corpus, exist_ok=True)
    if name == "fuzz_jobfile":
        for f in glob.glob(os.path.join(ROOT, "workloads/suites/*.job")) + \
                glob.glob(os.path.join(ROOT, "tests/malformed/*.job")):
            shutil.copy(f, os.path.join(corpus, "seed-" + os.path.basename(f)))
    elif name == "fuzz_options":
        for i, v in enumerate(["256M", "1G", "0-3,8", "yes", "first-touch", "-1", "0.5",
                               "1e308", "threads=4", "size=2M", "18446744073709551615K"]):
            for sel in (0, 3, 7, 11, 13, 20):
                with open(os.path.join(corpus, f"seed-{i}-{sel}"), "wb") as f:
                    f.write(bytes([sel]) + v.encode())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=600)
    ap.add_argument("harness", nargs="+")
    a = ap.parse_args()
    procs = []
    for h in a.harness:
        name = os.path.basename(h)
        outdir = os.path.dirname(os.path.abspath(h))
        corpus = os.path.join(outdir, f"corpus-{name}")
        seed_corpus(name, corpus)
        log = open(os.path.join(outdir, f"{name}.log"), "w")
        cmd = ["nice", "-n", "10", os.path.abspath(h), f"-max_total_time={a.seconds}",
               "-timeout=10", "-rss_limit_mb=2048", "-max_len=4096", "-print_final_stats=1",
               f"-artifact_prefix={outdir}/{name}-", corpus]
        d = os.path.join(ROOT, "tests/fuzz", name[len("fuzz_"):] + ".dict")
        if os.path.exists(d):
            cmd.insert(4, f"-dict={d}")
        env = dict(os.environ, ASAN_OPTIONS="detect_leaks=1:abort_on_error=0",
                   UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1")
        print(f"fuzz: {' '.join(cmd)}", flush=True)
        procs.append((name, outdir, log, subprocess.Popen(cmd, stdout=log, stderr=log, env=env)))
    failed = False
    summary = []
    for name, outdir, log, p in procs:
        rc = p.wait()
        log.close()
        with open(log.name, errors="replace") as f:
            text = f.read()
        execs = re.findall(r"stat::number_of_executed_units:\s*(\d+)", text)
        artifacts = [f for f in glob.glob(os.path.join(outdir, f"{name}-*"))
                     if re.search(r"-(crash|leak|timeout|oom|slow-unit)-", f)]
        findings = [l for l in text.splitlines()
                    if re.search(r"ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error:", l)]
        ok = rc == 0 and not artifacts and not findings
        failed |= not ok
        summary.append(f"{name}: {execs[-1] if execs else '?'} executions, "
                       f"{len(artifacts)} findings, exit {rc}")
        if not ok:
            print(f"fuzz: {name} FAILED (exit {rc}); log {log.name}", flush=True)
            for l in findings[:10]:
                print("  " + l)
            for art in artifacts:
                print(f"  reproduce: {os.path.join(outdir, name)} -runs=1 {art}")
            print("\n".join(text.splitlines()[-40:]))
    print("fuzz: " + "; ".join(summary))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
