"""Harness fidelity on the running kernel: populate against a minimal C loop
and the cost of the harness itself.  These are ratios taken in one run,
interleaved, so machine noise hits both sides."""
from hostlib import metric, run_cases, thp_first_touch_vs_minimal_loop


def test_thp_first_touch_vs_minimal_loop():
    """A correctness bound, not the speed goal: the harness may not add
    per-page work; a 4 KiB fallback or a fault per page (populate anon-4k
    runs at a fifth of THP's rate here) falls far below half.  The 5%
    fidelity goal is tests/bench/test_fidelity.py (`make bench`): a single
    run on a shared machine swings by more than 5% (best 0.940, median
    0.988 seen on a loaded 2-core host)."""
    best, med, note = thp_first_touch_vs_minimal_loop()
    assert best >= 0.5 and med >= 0.5, note
    return note


def test_harness_overhead_below_one_percent_of_a_page():
    """null has populate's shape and does nothing: its ns/page is what the
    harness adds inside the timed region.  Reading the kernel counters
    around each repetition must cost at most 1% of a page as well."""
    recs_null, _, _ = run_cases("null", "--set", "size=256M", "--repeat", "20", "--warmup", "2")
    null_ns = metric(recs_null[0], "time_per_op")
    # Informational: the whole case (fork, barriers, record) spread over its pages.
    whole_ns = recs_null[0]["elapsed_s"] * 1e9 / (22 * (256 << 20) / 4096)
    recs, _, _ = run_cases("populate", "--backing", "anon-4k", "--set", "size=256M",
                           "--set", "mode=first-touch", "--repeat", "5")
    page_ns = metric(recs[0], "time_per_op")
    ratio = null_ns / page_ns
    # The kernel counters are read twice per repetition while the workers
    # wait at a barrier: outside the timed region, but part of each
    # repetition's wall time, spread here over its pages.
    kc = recs_null[0].get("kernel_counters") or {}
    assert "sample_ns" in kc, f"null's record has no kernel_counters.sample_ns: {kc}"
    sample_ns = 2 * kc["sample_ns"] / ((256 << 20) / 4096)
    note = (f"harness {null_ns:.5f} ns/page in the timed region vs populate anon-4k "
            f"{page_ns:.1f} ns/page = {100 * ratio:.4f}%; kernel counter reads "
            f"{kc['sample_ns'] / 1000:.1f} us each, {sample_ns:.4f} ns/page = "
            f"{100 * sample_ns / page_ns:.4f}%; whole case incl. fork and barriers "
            f"{whole_ns:.2f} ns/page = {100 * whole_ns / page_ns:.3f}%")
    assert ratio <= 0.01 and sample_ns <= 0.01 * page_ns, note
    return note
