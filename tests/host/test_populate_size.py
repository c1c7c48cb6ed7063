"""Host integration: a size the backing's page does not divide is recorded
as it ran (the mapped length), the asked one beside it, and the rates are
over what ran."""
import os
import tempfile

from hostlib import faultline, read_records, thp_mode


def _run(backing, size):
    out = os.path.join(tempfile.mkdtemp(prefix="fl-size-"), "r")
    faultline("run", "populate", "--backing", backing, "--set", f"size={size}",
              "--repeat", "2", "--warmup", "0", "--out", out)
    (rec,) = read_records(out)
    return rec


def _check(rec, ran, asked):
    assert rec["status"] == "pass", rec["reason"]
    assert rec["case"].endswith(f"size={asked}"), rec["case"]
    assert rec["params"]["size"] == ran, rec["params"]
    assert rec["details"]["size_asked"] == asked, rec["details"]
    # The core's rates come from one run()'s ops and bytes: pages of 4 KiB
    # of the mapped length, so bytes per page is 4096, not asked / pages.
    m = rec["metrics"]
    for tput, rate in zip(m["throughput"]["samples"], m["ops_rate"]["samples"]):
        assert abs(tput * 1e9 / rate - 4096) < 1e-6 * 4096, (tput, rate)


def test_rounded_size_is_recorded_as_run():
    _check(_run("anon-4k", "5000"), "8K", "5000")
    if thp_mode() not in ("madvise", "always"):
        return f"anon-4k 5000 -> 8K; thp part not run: THP mode is {thp_mode()}"
    rec = _run("thp", "8K")
    if rec["status"] == "skip":
        return f"anon-4k 5000 -> 8K; thp part not run: {rec['reason']}"
    _check(rec, "2M", "8K")
    return "anon-4k 5000 -> 8K, thp 8K -> 2M"


def test_exact_size_has_no_asked_size():
    rec = _run("anon-4k", "8K")
    assert rec["params"]["size"] == "8K" and "size_asked" not in rec.get("details", {}), rec
