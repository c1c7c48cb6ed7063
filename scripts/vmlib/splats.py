"""Kernel-log patterns for the Python tools, read from bench/kernel_splats.def:
the table the C engine compiles too, so a guest console and /dev/kmsg are
judged by the same lines.

    from vmlib.splats import matches, patterns
    matches("start", body)      # a line (timestamp removed) opens a splat
    patterns("headline")        # [re.Pattern, ...] in table order

The classes and what they mean are in the .def file's header.
"""

import ast
import re
from functools import lru_cache
from pathlib import Path

DEF = Path(__file__).resolve().parents[2] / "bench" / "kernel_splats.def"

# One entry per line: FL_SPLAT(class, "C string literal").  The literal's
# escapes (\\ and \") read the same in C and Python.
_ENTRY = re.compile(r'FL_SPLAT\(\s*([a-z_][a-z0-9_]*)\s*,\s*'
                    r'("(?:[^"\\]|\\.)*")\s*\)\s*$')


def load(path=DEF):
    """{class: [regex source, ...]} in table order; ValueError names the
    line of an entry this parser cannot read."""
    table = {}
    for n, line in enumerate(Path(path).read_text().splitlines(), 1):
        if not line.startswith("FL_SPLAT("):
            continue
        m = _ENTRY.fullmatch(line.strip())
        if not m:
            raise ValueError(f"{path}:{n}: not FL_SPLAT(class, \"regex\") "
                             f"on one line: {line.strip()}")
        table.setdefault(m.group(1), []).append(ast.literal_eval(m.group(2)))
    return table


@lru_cache(maxsize=None)
def _compiled():
    return {cls: [re.compile(s) for s in srcs]
            for cls, srcs in load().items()}


def classes():
    return list(_compiled())


def _of(cls):
    table = _compiled()
    if cls not in table:
        raise KeyError(f"{DEF.name} has no class {cls!r} (has: "
                       f"{', '.join(table)})")
    return table[cls]


def patterns(cls):
    """The compiled patterns of one class; KeyError for a class the table
    does not have."""
    return list(_of(cls))


def matches(cls, line):
    """True when any pattern of the class is found in the line (re.search,
    as regexec does; strip the log timestamp first)."""
    return any(p.search(line) for p in _of(cls))
