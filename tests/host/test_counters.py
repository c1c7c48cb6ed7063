"""The kernel's own counters beside faultline's figures (bench/counters.c):
per-repetition /proc/vmstat deltas and the workers' perf counts, normalised
per operation or per 2 MiB, on the running kernel."""
import ctypes
import os
import subprocess
import tempfile

from hostlib import FAULTLINE, ROOT, Skip, read_records, thp_mode

PR_SET_THP_DISABLE = 41		# include/uapi/linux/prctl.h


def test_fault_scale_takes_one_fault_per_op():
    """page_fault1's loop: every op is one write fault on a fresh page, by
    the workers' own perf count (within 1%) and in /proc/vmstat."""
    out = tempfile.mkdtemp(prefix="fl-test-")
    p = subprocess.run([FAULTLINE, "run", "fault-scale", "--threads", "1", "--repeat", "3",
                        "--set", "size=16M", "--out", out], capture_output=True, text=True,
                       cwd=ROOT, timeout=600)
    assert p.returncode == 0, p.stderr[-1500:]
    (rec,) = read_records(out)
    kc = rec["kernel_counters"]
    deltas = kc["vmstat"]["pgfault"]
    assert len(deltas) == rec["repeat"] and all(d > 0 for d in deltas), kc
    per_op = rec["metrics"].get("pgfault/fault")
    assert per_op and per_op["median"] >= 0.99, rec["metrics"].keys()
    workers = rec["metrics"].get("worker_page_faults/fault")
    if workers is None:
        why = kc["workers_unavailable"].get("page_faults", "no reason recorded")
        return f"pgfault/fault {per_op['median']:.3f}; workers' perf count unavailable: {why}"
    assert abs(workers["median"] - 1.0) <= 0.01, workers
    return (f"worker_page_faults/fault {workers['median']:.4f}, system-wide pgfault/fault "
            f"{per_op['median']:.4f}, pgfault deltas {deltas}")


def _without_thp():
    """Run in the child before exec: the kernel keeps PR_SET_THP_DISABLE
    across fork and execve, as a job launcher that set it would."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0):
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_THP_DISABLE)")


def test_thp_case_without_huge_pages_names_the_counter():
    """A THP populate whose process the kernel will not give huge pages:
    every system setting faultline checks says yes (THP enabled=madvise,
    set by --prepare), but the parent disabled THP for its children.  The
    case must not report a THP figure, and its reason names the kernel
    counter that shows it (thp_fault_alloc per 2 MiB: 0 on a quiet machine)
    and the process setting that caused it."""
    if os.geteuid() != 0:
        raise Skip("--prepare sets transparent_hugepage/enabled: needs root")
    if thp_mode() is None:
        raise Skip("kernel without CONFIG_TRANSPARENT_HUGEPAGE")
    out = tempfile.mkdtemp(prefix="fl-test-")
    p = subprocess.run([FAULTLINE, "run", "populate", "--backing", "thp", "--prepare",
                        "--set", "thp_mode=madvise", "--set", "mode=first-touch",
                        "--set", "size=32M", "--repeat", "2", "--out", out],
                       capture_output=True, text=True, cwd=ROOT, timeout=600,
                       preexec_fn=_without_thp)
    recs = read_records(out)
    assert len(recs) == 1, (p.returncode, p.stderr[-1500:])
    rec = recs[0]
    assert rec["status"] in ("skip", "fail"), (rec["status"], rec["reason"])
    # The value is system-wide: other processes' THP faults count too, so
    # only a quiet machine reads 0.000 here; the name must be there.
    assert "thp_fault_alloc/2M" in rec["reason"], rec["reason"]
    assert "THP_enabled: 0" in rec["reason"], rec["reason"]
    return f"{rec['status']}: {rec['reason']}"
