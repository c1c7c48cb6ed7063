"""Results folders written the way docs/results.md (schema 1) specifies,
from seeded random draws, so the report's tests need no engine run."""

import json
import math
import os
import random

SUB_BITS = 7
SUB = 1 << SUB_BITS
LIMIT = 1 << 40


def bucket_index(v):
    """bench/histogram.h fl_hist_index()."""
    if v < SUB:
        return v
    msb = v.bit_length() - 1
    return (msb - SUB_BITS + 1) * SUB + ((v >> (msb - SUB_BITS)) & (SUB - 1))


def bucket_range(idx):
    if idx < SUB:
        return idx, idx
    block, sub = divmod(idx, SUB)
    shift = block - 1
    lo = (SUB + sub) << shift
    return lo, lo + (1 << shift) - 1


def histogram(values, unit="ns"):
    counts = {}
    overflow = 0
    for v in values:
        v = int(v)
        if v >= LIMIT:
            overflow += 1
            continue
        i = bucket_index(v)
        counts[i] = counts.get(i, 0) + 1
    buckets = [list(bucket_range(i)) + [c] for i, c in sorted(counts.items())]
    s = sorted(int(v) for v in values)
    inr = [v for v in s if v < LIMIT]

    def pct(p):
        """bench/histogram.c fl_hist_percentile(): midpoint of the bucket of
        the sample of rank ceil(p/100 * N), clamped to [min, max]."""
        if not s:
            return 0
        rank = max(1, math.ceil(p / 100 * len(s)))
        if rank > len(inr):
            return LIMIT
        lo, hi = bucket_range(bucket_index(inr[rank - 1]))
        return min(max(lo + (hi - lo) // 2, s[0]), s[-1])
    return {"unit": unit, "count": len(inr), "overflow": overflow,
            "min": s[0] if s else 0, "max": s[-1] if s else 0,
            "mean": sum(inr) / len(inr) if inr else 0,
            "p50": pct(50), "p90": pct(90), "p99": pct(99), "p99.9": pct(99.9),
            "sampling": 1, "buckets": buckets,
            "per_worker": [{"worker": 0, "count": len(inr), "overflow": overflow,
                            "p50": pct(50), "p99": pct(99), "max": s[-1] if s else 0}]}


def metric(rng, unit, direction, centre, cv, n):
    xs = [max(centre * (1 + rng.gauss(0, cv)), 0.0) for _ in range(n)]
    mean = sum(xs) / n
    sd = math.sqrt(sum((x - mean) ** 2 for x in xs) / (n - 1)) if n > 1 else None
    return {"unit": unit, "direction": direction, "samples": xs,
            "median": sorted(xs)[n // 2], "min": min(xs), "max": max(xs), "mean": mean,
            "cv": (sd / mean) if sd is not None and mean else None}


def env(kernel="6.18.44", accel="kvm", hypervisor="kvm", thp="madvise", host="testhost",
        cpu="Test CPU @ 2.0GHz", config=None):
    cfg = {"CONFIG_TRANSPARENT_HUGEPAGE": "y", "CONFIG_DEVICE_PRIVATE": None,
           "CONFIG_FS_DAX": "y"}
    cfg.update(config or {})
    return {
        "hostname": host,
        "kernel": {"release": kernel, "version": "#1 SMP", "machine": "x86_64",
                   "cmdline": "console=ttyS0", "config_source": "/boot/config-" + kernel,
                   "config": cfg},
        "virt": {"hypervisor": hypervisor, "accel": accel},
        "cpu": {"model": cpu, "logical": 2, "cores": 2, "packages": 1, "l3_bytes": 33554432},
        "memory": {"total_kb": 24000000},
        "thp": {"enabled": thp, "defrag": "madvise", "shmem_enabled": "never"},
        "hugetlb": {"2048kB": {"nr": 0, "free": 0, "resv": 0}},
        "numa": {"available": True, "nodes": 1, "node_mem_kb": [24000000]},
        "topology": {"source": "hwloc", "packages": 1, "cores": 2, "pus": 2, "numa_nodes": 1},
        "pmem": {"namespaces": [], "dax_devices": [], "dax_mounts": []},
        "driver": {"present": False, "abi": None, "capabilities": None,
                   "reason": "no /dev/faultline: load drivers/faultline.ko"},
    }


def run_json(run_id, environment, complete=True, repeat=5, schema="faultline.run/1",
             memset=9.8, clock=19.5):
    d = {"schema": schema, "run_id": run_id, "faultline_version": "0.1.0-test",
         "command_line": ["faultline", "run", "workloads/suites/quick.job"],
         "start": "2026-11-21T19:30:12Z", "complete": complete,
         "exit_status": 0,
         "options": {"repeat": repeat, "warmup": 1, "threads": 1, "cpus": "", "node": -1,
                     "prepare": False, "interval_ms": 1000},
         "prepare": [],
         "placement": {"binding": "hwloc", "cpus": [0, 1], "memory_node": -1,
                       "numa_policy": "default"},
         "calibration": {"memset_bytes": 268435456, "memset_GBps": memset,
                         "memset_samples_GBps": [memset] * 3, "clock_read_ns": clock},
         "env": environment}
    if complete:
        d["end"] = "2026-11-21T19:31:40Z"
    return d


def record(run_id, seq, workload, backing, params, status="pass", reason="", metrics=None,
           latency=None, details=None, kernel_log=None, hung=False, repeat=5):
    case = "%s/%s/%s" % (workload, backing, ",".join("%s=%s" % (k, params[k])
                                                      for k in sorted(params)))
    r = {"schema": "faultline.record/1", "run_id": run_id, "seq": seq, "case": case,
         "workload": workload, "backing": backing, "params": params, "status": status,
         "reason": reason, "workers": 1, "repeat": repeat, "warmup": 1,
         "start": "2026-11-21T19:30:40Z", "elapsed_s": 2.41,
         "metrics": metrics or {}, "latency": latency or {}, "details": details or {},
         "kernel_log": kernel_log}
    if hung:
        r["hung"] = True
    return r


def write_run(path, meta, records, truncate_last=False):
    os.makedirs(path, exist_ok=True)
    if meta is not None:
        with open(os.path.join(path, "run.json"), "w") as f:
            json.dump(meta, f, indent=1)
    lines = [json.dumps(r) for r in records]
    with open(os.path.join(path, "results.jsonl"), "w") as f:
        for i, line in enumerate(lines):
            if truncate_last and i == len(lines) - 1:
                f.write(line[: len(line) // 2])
            else:
                f.write(line + "\n")
    return path


BACKINGS = ("anon-4k", "thp", "shmem", "hugetlb-2m")


def suite(path, run_id, seed, env_kw=None, repeat=5, thp_factor=1.0, latency_n=20000,
          extra=None, cv=0.01, complete=True, truncate_last=False, memset=9.8, tail=1.0,
          skip=None, drop=()):
    """A quick.job-like run: populate per backing and mode, fault-scale per
    backing.  thp_factor scales THP throughput (0.6 = THP disabled).
    skip: {backing: reason} records those backings' cases as skip, as the
    engine does when the backing is not what was asked (THP never); drop:
    backings whose cases are not written (a run killed before them)."""
    skip = skip or {}
    rng = random.Random(seed)
    recs = []
    seq = 0
    for backing in BACKINGS:
        f = thp_factor if backing == "thp" else 1.0
        for mode in ("map-populate", "first-touch", "populate-write"):
            gbps = {"anon-4k": 3.0, "thp": 9.0, "shmem": 2.5, "hugetlb-2m": 10.0}[backing] * f
            ms = {"throughput": metric(rng, "GB/s", "higher", gbps, cv, repeat),
                  "time_per_op": metric(rng, "ns/page", "lower", 4096 / gbps, cv, repeat)}
            lat = None
            if mode == "first-touch":
                base = 2000.0 / f if backing != "thp" else 40000.0 / f
                # tail > 1 stretches the upper half only (interference-like)
                vals = [base * math.exp(z if z < 0 else z * tail)
                        for z in (rng.gauss(0, 0.25) for _ in range(latency_n))]
                lat = {"fault": histogram(vals)}
            recs.append(record(run_id, seq, "populate", backing, {"mode": mode, "size": "64M"},
                               metrics=ms, latency=lat, repeat=repeat))
            seq += 1
        ms = {"ops_rate": metric(rng, "faults/s", "higher", 250000.0 * f, cv, repeat),
              "workers": metric(rng, "", "info", 1, 0, repeat)}
        recs.append(record(run_id, seq, "fault-scale", backing, {"tasks": 1}, metrics=ms,
                           repeat=repeat))
        seq += 1
        for r in recs:
            if r["backing"] == backing and backing in skip:
                r.update(status="skip", reason=skip[backing], metrics={}, latency={})
        recs = [r for r in recs if r["backing"] not in drop]
    recs.extend(extra or [])
    meta = run_json(run_id, env(**(env_kw or {})), complete=complete, repeat=repeat,
                    memset=memset)
    return write_run(path, meta, recs, truncate_last=truncate_last)
