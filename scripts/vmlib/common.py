"""Shared helpers: cache location, the host's Debian mirror, progress lines,
subprocess wrappers, locking.  Python 3 stdlib only (Debian's python3)."""

import fcntl
import os
import re
import shlex
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
T0 = time.monotonic()


class UsageError(Exception):
    """Bad input from the user: one-line message, exit status 2."""


class VmError(Exception):
    """Something the runner could not do: one-line message, exit status 1."""


def cache_dir():
    return Path(os.environ.get("FAULTLINE_CACHE", "/var/cache/faultline"))


# --------------------------------------------------------------------------
# progress

class Progress:
    """Progress lines: `[vm +12s] kernel 6.1: boot ...`.  On a terminal the
    transient status (case i/n) is redrawn in place; otherwise every update
    is a plain line."""

    def __init__(self):
        self.tty = sys.stderr.isatty()
        self.kernel = ""
        self.transient = False

    def _prefix(self):
        el = time.monotonic() - T0
        k = f" {self.kernel}:" if self.kernel else ""
        return f"[vm +{el:6.1f}s]{k}"

    def line(self, msg):
        if self.transient:
            sys.stderr.write("\r\033[K")
            self.transient = False
        sys.stderr.write(f"{self._prefix()} {msg}\n")
        sys.stderr.flush()

    def status(self, msg):
        if not self.tty:
            self.line(msg)
            return
        sys.stderr.write(f"\r\033[K{self._prefix()} {msg}")
        sys.stderr.flush()
        self.transient = True


progress = Progress()


def log(msg):
    progress.line(msg)


# --------------------------------------------------------------------------
# the host's Debian mirror (never written into a committed file)

def _deb822_stanzas(text):
    stanza = {}
    for line in text.splitlines() + [""]:
        if not line.strip():
            if stanza:
                yield stanza
            stanza = {}
            continue
        if line.startswith("#") or line[0].isspace():
            continue
        key, _, val = line.partition(":")
        stanza[key.strip().lower()] = val.strip()


def host_mirror():
    """The Debian archive URI this machine's apt uses (not -security).
    FAULTLINE_MIRROR overrides it."""
    env = os.environ.get("FAULTLINE_MIRROR")
    if env:
        return env.rstrip("/")
    cands = []
    d = Path("/etc/apt/sources.list.d")
    for f in sorted(d.glob("*.sources")) if d.is_dir() else []:
        for st in _deb822_stanzas(f.read_text(errors="replace")):
            if "deb" not in st.get("types", "").split():
                continue
            if st.get("enabled", "yes").lower() == "no":
                continue
            suites = st.get("suites", "").split()
            for uri in st.get("uris", "").split():
                cands.append((uri, suites))
    for f in [Path("/etc/apt/sources.list")] + (
            sorted(d.glob("*.list")) if d.is_dir() else []):
        if not f.is_file():
            continue
        for line in f.read_text(errors="replace").splitlines():
            line = re.sub(r"\[[^]]*\]", "", line.split("#", 1)[0]).split()
            if len(line) >= 3 and line[0] == "deb":
                cands.append((line[1], [line[2]]))
    for uri, suites in cands:
        if "security" in uri or all(s.endswith("-security") for s in suites):
            continue
        if "debian" in uri:
            return uri.rstrip("/")
    for uri, suites in cands:
        if "security" not in uri:
            return uri.rstrip("/")
    raise VmError("no Debian mirror found in /etc/apt/sources.list.d/*.sources "
                  "or /etc/apt/sources.list (set FAULTLINE_MIRROR=URI)")


# --------------------------------------------------------------------------
# processes

def run(cmd, *, logfile=None, check=True, nice=False, cwd=None, env=None,
        capture=False, input=None, timeout=None):
    """Run a command; its output goes to logfile (appended) when given."""
    cmd = [str(c) for c in cmd]
    if nice:
        cmd = ["nice", "-n", "10"] + cmd
    kw = dict(cwd=cwd, env=env, input=input, timeout=timeout)
    if capture:
        kw.update(stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        r = subprocess.run(cmd, **kw)
    elif logfile:
        with open(logfile, "ab") as lf:
            lf.write(f"\n$ {shlex.join(cmd)}\n".encode())
            lf.flush()
            r = subprocess.run(cmd, stdout=lf, stderr=subprocess.STDOUT, **kw)
    else:
        r = subprocess.run(cmd, **kw)
    if check and r.returncode != 0:
        where = f" (log: {logfile})" if logfile else ""
        err = ""
        if capture and r.stderr:
            err = ": " + r.stderr.strip().splitlines()[-1]
        raise VmError(f"{shlex.join(cmd[:4])}... failed with status "
                      f"{r.returncode}{err}{where}")
    return r


def tail(path, n=15):
    try:
        return "".join(Path(path).read_text(errors="replace")
                       .splitlines(True)[-n:])
    except OSError:
        return ""


@contextmanager
def flocked(path):
    """flock(2) on path: compatible with `flock PATH cmd` from shell."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log(f"waiting for lock {path}")
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)
