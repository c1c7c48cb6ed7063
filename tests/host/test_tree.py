"""The tree's own shape: files and functions small enough to read, and no
development history in what users and maintainers read."""
import ast
import os
import re
import subprocess

from hostlib import ROOT

MAX_FILE_LINES = 900
MAX_FUNC_LINES = 150
SOURCE_DIRS = ("bench", "workloads", "scripts")


def _tracked(*dirs):
    out = subprocess.run(["git", "ls-files", "--", *dirs], cwd=ROOT, capture_output=True,
                         text=True, check=True).stdout.split()
    return [f for f in out if os.path.isfile(os.path.join(ROOT, f))]


def _is_python(path):
    if path.endswith(".py"):
        return True
    if "." in os.path.basename(path):
        return False
    with open(os.path.join(ROOT, path), errors="replace") as f:
        first = f.readline()
    return first.startswith("#!") and "python" in first


def _sources():
    for path in _tracked(*SOURCE_DIRS):
        if path.endswith((".c", ".h")):
            yield path, "c"
        elif _is_python(path):
            yield path, "py"


NAME = re.compile(r"([A-Za-z_]\w*)\s*\(")


def _c_functions(lines):
    """Kernel style: a function body opens with "{" alone in column 0 and
    closes with "}" in column 0; its name is on the line that starts the
    definition."""
    for i, line in enumerate(lines):
        if line.rstrip() != "{":
            continue
        j = i - 1
        while j > 0 and (not lines[j] or lines[j][0].isspace()):
            j -= 1
        m = NAME.search(lines[j])
        k = i + 1
        while k < len(lines) and not lines[k].startswith("}"):
            k += 1
        yield (m.group(1) if m else "?"), j + 1, k - j + 1


def _py_functions(text):
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield node.name, node.lineno, node.end_lineno - node.lineno + 1


def test_source_files_are_small():
    big = []
    for path, _ in _sources():
        with open(os.path.join(ROOT, path), errors="replace") as f:
            n = sum(1 for _ in f)
        if n > MAX_FILE_LINES:
            big.append(f"{path}: {n} lines")
    assert not big, f"over {MAX_FILE_LINES} lines: {big}"


def test_functions_are_small():
    long = []
    for path, kind in _sources():
        with open(os.path.join(ROOT, path), errors="replace") as f:
            text = f.read()
        funcs = _c_functions(text.split("\n")) if kind == "c" else _py_functions(text)
        long += [f"{path}:{line} {name}() {n} lines" for name, line, n in funcs
                 if n > MAX_FUNC_LINES]
    assert not long, f"functions over {MAX_FUNC_LINES} lines: {long}"


def test_no_development_history_in_the_tree():
    pattern = re.compile(r"session [0-9]|issue [0-9]+|check [0-9] of", re.I)
    hits = []
    for path in _tracked("."):
        if path.endswith((".gz", ".png", ".jsonl")):
            continue
        with open(os.path.join(ROOT, path), errors="replace") as f:
            for n, line in enumerate(f, 1):
                if pattern.search(line):
                    hits.append(f"{path}:{n}: {line.strip()[:80]}")
        if pattern.search(path):
            hits.append(path)
    assert not hits, hits[:20]
