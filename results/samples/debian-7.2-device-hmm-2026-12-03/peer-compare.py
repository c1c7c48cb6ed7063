#!/usr/bin/python3
"""Per-round comparison of device-migrate's ioctl times with hmm-tests'
benchmark_thp_migration, call by call, from this folder's peer/ files.

peer/rN-ioctls.txt: every HMM_DMIRROR_MIGRATE_TO_DEV/_TO_SYS of round N's
benchmark run (ioctl-times.c, LD_PRELOAD): pid, direction, npages, ns.
Per size the benchmark runs the THP buffer then the 4 KiB one, each a
warm-up round trip and 5 timed ones (the warm-up calls are dropped here).
peer/rN/results.jsonl.gz: faultline's cases of the same round; latency
to_device / to_system: each FL_IOC_MIGRATE as the process saw it
(warm-up batches not recorded).

For each (pages, size, direction): per round the ratio of medians
(faultline GB/s / hmm-tests GB/s), then the median of those ratios
and their range; and the ratio of the best calls of all rounds (the
fastest call is the one host load disturbed least), per size and over
all sizes.

  results/samples/debian-7.2-device-hmm-2026-12-03/peer-compare.py [DIR]
"""
import gzip
import json
import statistics
import sys
from collections import defaultdict
from pathlib import Path

SIZES = {"K": 10, "M": 20}


def hmm_calls(path):
    """{(pages, bytes, direction): [ns of the timed calls]}"""
    runs, cur = [], []
    for line in path.read_text().splitlines():
        _, d, npages, ns = line.split()
        if cur and (cur[-1][1] != int(npages) or len(cur) == 12):
            runs.append(cur)
            cur = []
        cur.append((d, int(npages), int(ns)))
    if cur:
        runs.append(cur)
    out, seen = {}, defaultdict(int)
    for run in runs:
        size = run[0][1] * 4096
        pages = "thp" if seen[size] == 0 else "4k"
        seen[size] += 1
        for d in ("to_device", "to_system"):
            ts = [ns for x, _, ns in run if x == d][1:]
            if len(ts) == 5:    # a run the harness's timeout cut short is left out
                out[(pages, size, d)] = ts
    return out


def fl_calls(path):
    """{(pages, bytes, direction): (p50 ns, min ns)}"""
    out = {}
    for line in gzip.open(path, "rt").read().splitlines():
        r = json.loads(line)
        det = r.get("details") or {}
        if not det.get("hmm_bench") or r["status"] != "pass":
            continue
        s = r["params"]["size"]
        size = int(s[:-1]) << SIZES[s[-1]]
        for d in ("to_device", "to_system"):
            lat = r["latency"].get(d)
            if lat and lat["count"]:
                out[(det["hmm_bench_pages"], size, d)] = (lat["p50"], lat["min"])
    return out


def main():
    root = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).parent) / "peer"
    rounds = sorted(p.name.split("-")[0] for p in root.glob("r*-ioctls.txt"))
    ratios, best_fl, best_hm = defaultdict(list), {}, {}
    for r in rounds:
        hm, fl = hmm_calls(root / f"{r}-ioctls.txt"), fl_calls(root / r / "results.jsonl.gz")
        for k in set(hm) & set(fl):
            ratios[k].append(statistics.median(hm[k]) / fl[k][0])
            best_hm[k] = min(best_hm.get(k, 1 << 62), min(hm[k]))
            best_fl[k] = min(best_fl.get(k, 1 << 62), fl[k][1])
    print(f"{len(rounds)} rounds; ratio = faultline GB/s / hmm-tests GB/s (same bytes, so "
          f"hmm-tests time / faultline time)")
    print(f"{'pages':5} {'size':>6}  {'direction':9}  {'median ratio':>12}  {'range':>11}  "
          f"{'best fl GB/s':>12}  {'best hmm GB/s':>13}  {'best ratio':>10}")
    for k in sorted(ratios):
        pages, size, d = k
        rs = ratios[k]
        print(f"{pages:5} {size >> 10:>5}K  {d:9}  {statistics.median(rs):12.2f}  "
              f"{min(rs):5.2f}-{max(rs):<5.2f}  {size / best_fl[k]:12.3f}  "
              f"{size / best_hm[k]:13.3f}  {best_hm[k] / best_fl[k]:10.2f}")
    # Per-page costs dominate from 512 KiB up: the fastest call at any size
    # is each side's least disturbed figure.
    print("\nbest GB/s over all sizes and rounds")
    for pages in ("4k", "thp"):
        for d in ("to_device", "to_system"):
            ks = [k for k in ratios if k[0] == pages and k[2] == d]
            if ks:
                f = max(k[1] / best_fl[k] for k in ks)
                h = max(k[1] / best_hm[k] for k in ks)
                print(f"{pages:5} {d:9}  faultline {f:.3f}  hmm-tests {h:.3f}  ratio {f / h:.2f}")


if __name__ == "__main__":
    main()
