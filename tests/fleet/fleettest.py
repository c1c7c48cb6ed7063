"""Helpers of the tests/fleet scripts: checks, scripts/fleet runs, the
playbook recap, DKMS clean-up."""

import json
import re
import shutil
import socket
import subprocess
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
FLEET = REPO / "scripts" / "fleet"
FAILS = []


def check(ok, what, detail=""):
    print(f"fleet: {'ok  ' if ok else 'FAIL'} {what}" +
          (f" ({detail})" if detail else ""), flush=True)
    if not ok:
        FAILS.append(what)
    return ok


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fleet(args, env, log):
    t0 = time.monotonic()
    with open(log, "w") as f:
        rc = subprocess.run([str(FLEET)] + args, stdout=f, stderr=subprocess.STDOUT,
                            env=env).returncode
    secs = time.monotonic() - t0
    print(f"fleet: $ scripts/fleet {' '.join(args)} -> exit {rc} in {secs:.0f} s "
          f"(log {log})", flush=True)
    return rc, secs


def read(path):
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return {}


def recap(log):
    return {m.group(1): dict(kv.split("=") for kv in m.group(2).split())
            for m in re.finditer(r"^(\S+)\s+:\s+(ok=.*)$", Path(log).read_text(), re.M)}


def dkms_versions():
    return {p.name for p in Path("/usr/src").glob("faultline-*")}


def drop_dkms(before):
    for name in sorted(dkms_versions() - before):
        ver = name[len("faultline-"):]
        subprocess.run(["dkms", "remove", f"faultline/{ver}", "--all"],
                       capture_output=True)
        shutil.rmtree(f"/usr/src/{name}", ignore_errors=True)
        print(f"fleet: removed the test's DKMS module faultline/{ver}")


def check_report(out, columns, hosts):
    """report.json: `columns` are the compared columns, in order; every
    host of `hosts` ({host: status}) is a row of the report's fleet table
    with that status, on report.md's first screen (before the first case
    table)."""
    rep = read(out / "report" / "report.json")
    check(rep.get("columns") == columns, "one report whose columns are " + ", ".join(columns),
          str(rep.get("columns")))
    got = {}
    for r in rep.get("runs", []):
        f = r.get("fleet") or {}
        got.setdefault(f.get("host"), f.get("status"))
    check(all(got.get(h) == s for h, s in hosts.items()),
          "the report gives every host's fleet status", json.dumps(got))
    md = (out / "report" / "report.md").read_text() if (out / "report" / "report.md").exists() else ""
    head = md.split("Headline per case")[0].split("Cases of")[0]
    check("Fleet hosts" in head and all(
        re.search(rf"^{re.escape(h)}\s+{re.escape(s)}\b", head, re.M) for h, s in hosts.items()),
        "report.md's first screen holds the fleet table")
    return rep
