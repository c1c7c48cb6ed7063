"""A short libFuzzer run of the job-file and option parsers (`make fuzz` runs 10 minutes)."""
import os
import re
import shutil
import subprocess

from hostlib import ROOT, Skip

SECONDS = int(os.environ.get("FL_FUZZ_SMOKE_SECONDS", "20"))


def test_fuzz_smoke():
    if not shutil.which("clang"):
        raise Skip("needs clang and libclang-rt (scripts/debian-packages.txt, # fuzzing)")
    p = subprocess.run(["make", "-s", "fuzz-build"], cwd=ROOT, capture_output=True, text=True, timeout=900)
    if p.returncode:
        if "fuzzer" in p.stderr and ("cannot find" in p.stderr or "unsupported" in p.stderr):
            raise Skip(f"clang has no libFuzzer runtime here: {p.stderr.strip()[-300:]}")
        raise AssertionError(f"make fuzz-build: {p.stderr[-2000:]}")
    bins = sorted(os.path.join(ROOT, "build/fuzz", f) for f in os.listdir(os.path.join(ROOT, "build/fuzz"))
                  if re.fullmatch(r"fuzz_[a-z_]+", f))
    assert len(bins) >= 2, bins
    p = subprocess.run(["/usr/bin/python3", os.path.join(ROOT, "tests/fuzz/run.py"), "--seconds", str(SECONDS),
                        *bins], cwd=ROOT, capture_output=True, text=True, timeout=SECONDS * 4 + 120)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-1000:]
    return p.stdout.strip().splitlines()[-1]
