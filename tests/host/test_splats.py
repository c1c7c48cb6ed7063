"""bench/kernel_splats.def as scripts/vmlib/splats.py reads it.

REF_* below are the lines the guest-console watcher (scripts/vmlib/console.py)
must recognise: every line they classify (a splat start, an end, a headline,
a ==== rule) classifies the same through the table, which may add starts.
The lines are the kernel logs kept under results/samples plus one line per
pattern below.  Each pattern also reads the same in glibc's
regcomp(REG_EXTENDED), which the C engine uses, as in Python's re.
"""
import ctypes
import ctypes.util
import glob
import io
import json
import os
import re
import sys
from contextlib import redirect_stderr

from hostlib import ROOT, Skip

sys.path.insert(0, os.path.join(ROOT, "scripts"))

from vmlib import console, splats  # noqa: E402

# What the console watcher recognises at least (a ==== rule is no start).
REF_START = re.compile(
    r"(------------\[ cut here \]------------|^BUG: |^kernel BUG at |"
    r"^Oops: |^general protection fault|^WARNING: |^Kernel panic|"
    r"^INFO: task .* blocked for more than|watchdog: BUG: soft lockup|"
    r"[Hh]ard LOCKUP|^UBSAN: |^=+$|^BUG: KASAN|^BUG: KFENCE|"
    r"^Unable to handle kernel|^sysrq: Trigger a crash)")
REF_END = re.compile(r"---\[ end (trace|Kernel panic)")
REF_HEADLINE = re.compile(r"BUG:|Oops:|WARNING:|Kernel panic|general protection|"
                          r"KASAN|INFO: task|soft lockup|LOCKUP|UBSAN|"
                          r"kernel BUG|Unable to handle")
REF_RULE = re.compile(r"^=+$")

# One line per alternative above, and lines that are no splat.
LINES = [
    "[   12.345678] ------------[ cut here ]------------",
    "[   12.345678] BUG: unable to handle page fault for address: ffff8880",
    "[   12.345678] kernel BUG at mm/huge_memory.c:2114!",
    "[  124.829193] Oops: int3: 0000 [#1] SMP NOPTI",
    "[   12.345678] general protection fault, probably for non-canonical address",
    "[   12.345678] WARNING: CPU: 1 PID: 285 at mm/gup.c:1210 __get_user_pages",
    "[   12.345678] WARNING: possible circular locking dependency detected",
    "[   12.345678] Kernel panic - not syncing: sysrq triggered crash",
    "[  245.000001] INFO: task faultline:301 blocked for more than 120 seconds.",
    "[  232.900584] watchdog: BUG: soft lockup - CPU#0 stuck for 44s! [faultline:285]",
    "[   12.345678] NMI watchdog: Watchdog detected hard LOCKUP on cpu 1",
    "[   12.345678] UBSAN: shift-out-of-bounds in mm/page_alloc.c:42:7",
    "[   12.345678] ==================================================================",
    "[   12.345678] BUG: KASAN: use-after-free in hmm_range_fault+0x1c/0x40",
    "[   12.345678] BUG: KFENCE: out-of-bounds read in test_alloc+0x10/0x20",
    "[   12.345678] Unable to handle kernel paging request at virtual address 0",
    "[   12.345678] sysrq: Trigger a crash",
    "[   12.345678] ---[ end trace 0000000000000000 ]---",
    "[   12.345678] ---[ end Kernel panic - not syncing: Fatal exception ]---",
    "[   12.345678] int3: 0000 [#1] SMP PTI",
    "[  208.498828] rcu: INFO: rcu_preempt self-detected stall on CPU",
    "[    0.000000] Linux version 6.1.0-50-amd64 (debian-kernel@lists.debian.org)",
    "[    3.210000] nd_pmem namespace0.0: unable to guarantee persistence of writes",
    "faultline: case-start 3/9 populate/anon-4k/size=64M",
    "faultline-vm: driver=loaded",
]


def _log_lines(obj):
    """Every list of log lines (kernel_log, splat lines) in a JSON value."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            if k in ("kernel_log", "lines") and isinstance(v, list) and \
                    all(isinstance(x, str) for x in v):
                yield v
            else:
                yield from _log_lines(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from _log_lines(v)


def samples():
    """(name, [lines]) for every kernel log under results/samples."""
    out = [("built-in lines", LINES)]
    for f in sorted(glob.glob(os.path.join(ROOT, "results", "**", "*"), recursive=True)):
        base = os.path.basename(f)
        if base == "dmesg.txt" or ("console" in base and base.endswith((".txt", ".log"))):
            with open(f, errors="replace") as fh:
                out.append((f, fh.read().splitlines()))
        elif base.endswith((".json", ".jsonl")):
            with open(f, errors="replace") as fh:
                text = fh.read()
            for doc in (text.splitlines() if base.endswith(".jsonl") else [text]):
                try:
                    obj = json.loads(doc)
                except ValueError:
                    continue
                for i, lines in enumerate(_log_lines(obj)):
                    out.append((f"{f} excerpt {i}", lines))
    return out


def ref_headline(lines):
    body = [console.TS_RE.sub("", x) for x in lines]
    return next((b for b in body if REF_HEADLINE.search(b)),
                next((b for b in body if REF_START.search(b)), body[0]))


def test_table_parses():
    classes = splats.classes()
    for cls in ("start", "end", "headline", "tcg_text_patch", "rule"):
        assert splats.patterns(cls), f"{cls}: no entries in {splats.DEF}"
    try:
        splats.patterns("no-such-class")
    except KeyError:
        pass
    else:
        raise AssertionError("patterns() of an unknown class did not raise KeyError")
    # The header's subset of ERE: what glibc would read differently.
    for cls in classes:
        for p in splats.patterns(cls):
            bad = re.search(r"\\[bBdDsSwW]|[*+?}]\?", p.pattern)
            assert not bad, f"{cls} {p.pattern!r}: {bad.group()} is not POSIX ERE"
    n = sum(len(splats.patterns(c)) for c in classes)
    return f"{n} patterns in {len(classes)} classes"


def test_console_lines_keep_their_class():
    lines = kept = 0
    added = set()
    for name, log in samples():
        for line in log:
            body = console.TS_RE.sub("", line)
            lines += 1
            ref_start = bool(REF_START.search(body)) and not REF_RULE.match(body)
            new_start = splats.matches("start", body) and not splats.matches("rule", body)
            assert new_start or not ref_start, f"{name}: not a splat start through the table: {line!r}"
            if new_start and not ref_start:
                added.add(body[:60])
            kept += ref_start
            for cls, ref in (("end", REF_END), ("headline", REF_HEADLINE), ("rule", REF_RULE)):
                assert splats.matches(cls, body) == bool(ref.search(body)), \
                    f"{name}: class {cls} differs on {line!r}"
        if log:
            assert console.headline(log) == ref_headline(log), \
                f"{name}: headline {console.headline(log)!r}, reference {ref_headline(log)!r}"
    if kept < 15:
        raise AssertionError(f"only {kept} splat starts in the samples: the check proves little")
    return (f"{lines} lines, {kept} reference starts kept; the table adds "
            f"{len(added)} distinct: {sorted(added)}")


def test_console_excerpts():
    """console.Boot cuts excerpts at the table's start and end lines, each
    attached to the case that was running."""
    feed = ["faultline: case-start 1/2 populate/anon-4k/size=64M",
            "[   10.000000] ==================================================================",
            "[   10.000001] BUG: KASAN: use-after-free in hmm_range_fault+0x1c/0x40",
            "[   10.000002] Read of size 8 at addr ffff888100000000 by task faultline/301",
            "[   10.000003] ---[ end trace 0000000000000000 ]---",
            "[   10.000004] nd_pmem namespace0.0: unable to guarantee persistence of writes",
            "faultline: case-end 1/2 populate/anon-4k/size=64M error"]
    boot = console.Boot(1)
    with redirect_stderr(io.StringIO()):
        for line in feed:
            boot.feed(line + "\n")
    assert len(boot.splats) == 1, boot.splats
    s = boot.splats[0]
    assert s["case"] == (1, 2, "populate/anon-4k/size=64M"), s
    assert s["lines"] == feed[1:5], s["lines"]
    assert console.headline(s["lines"]).startswith("BUG: KASAN"), s["lines"]


def _libc_regex():
    """regcomp/regexec from glibc, as the C engine calls them."""
    name = ctypes.util.find_library("c")
    if not name:
        raise Skip("no libc found by ctypes.util.find_library('c')")
    libc = ctypes.CDLL(name)
    libc.regcomp.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int]
    libc.regexec.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t,
                             ctypes.c_void_p, ctypes.c_int]
    return libc


def test_c_regex_agrees():
    libc = _libc_regex()
    reg_extended, reg_nosub = 1, 8
    compiled = []
    for cls in splats.classes():
        for p in splats.patterns(cls):
            buf = ctypes.create_string_buffer(256)     # > sizeof(regex_t)
            rc = libc.regcomp(buf, p.pattern.encode(), reg_extended | reg_nosub)
            assert rc == 0, f"regcomp({p.pattern!r}) failed: {rc}"
            compiled.append((cls, p, buf))
    checked = 0
    try:
        for name, log in samples():
            for line in log:
                body = console.TS_RE.sub("", line)
                raw = body.encode("utf-8", "replace")
                for cls, p, buf in compiled:
                    c_hit = libc.regexec(buf, raw, 0, None, 0) == 0
                    assert c_hit == bool(p.search(body)), \
                        f"{cls} {p.pattern!r}: C {c_hit}, Python {not c_hit} on {line!r}"
                    checked += 1
    finally:
        for _, _, buf in compiled:
            libc.regfree(buf)
    return f"{len(compiled)} patterns x lines: {checked} matches agree"
