"""fault-scale and fault-scale-file: will-it-scale's page_fault1/2/3 shapes
on the running kernel, through the engine's sampled workers."""
import os
import subprocess
import tempfile

from hostlib import FAULTLINE, ROOT, run_cases


def _by_case(recs):
    return {r["case"]: r for r in recs}


def test_fault_scale_maps_like_page_fault1():
    """map=plain (the default) and map=core both pass and count one
    operation per 4 KiB page written."""
    recs, _, _ = run_cases("fault-scale", "--threads", "1", "--set", "map=plain,core",
                           "--set", "size=16M", "--repeat", "2", "--warmup", "1")
    cases = _by_case(recs)
    assert set(cases) == {"fault-scale/anon-4k/threads=1,map=plain,size=16M",
                          "fault-scale/anon-4k/threads=1,map=core,size=16M"}, sorted(cases)
    for name, r in cases.items():
        assert r["status"] == "pass", (name, r["reason"])
        assert r["metrics"]["ops_rate"]["median"] > 0, name


def test_fault_scale_file_shapes():
    """page_fault2 (share=private) and page_fault3 (share=shared) on the page
    cache of file_dir and on a memfd: every case passes with a rate."""
    recs, _, _ = run_cases("fault-scale-file", "--backing", "file,shmem", "--threads", "1",
                           "--set", "share=private,shared", "--set", "size=16M",
                           "--repeat", "2", "--warmup", "1")
    assert len(recs) == 4, [r["case"] for r in recs]
    for r in recs:
        assert r["status"] == "pass", (r["case"], r["reason"])
        assert r["metrics"]["ops_rate"]["median"] > 0, r["case"]


def test_new_workload_registers_itself():
    """fault-scale-file is registered by its own file only: `list` shows it
    and bench/ does not name it."""
    p = subprocess.run([FAULTLINE, "list"], capture_output=True, text=True, check=True)
    assert "fault-scale-file" in p.stdout
    for name in os.listdir(os.path.join(ROOT, "bench")):
        with open(os.path.join(ROOT, "bench", name), errors="replace") as f:
            assert "fault_scale_file" not in f.read(), name
