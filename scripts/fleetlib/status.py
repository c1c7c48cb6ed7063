"""Per-host status records of a fleet run and the fleet summary.

The role writes results/<fleet-id>/<host>/fleet-status.json for every host
it reached or found unreachable; a host that left the play without one (it
went away mid-play, or ansible-playbook was stopped) gets a record here,
with what the playbook's log says about it.  Python 3 stdlib only.
"""

import json
import re
from pathlib import Path

SCHEMA = "faultline.fleet-status/1"
# statuses that are no failure of the fleet
GOOD = ("ok", "idle")


def read_json(path):
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None


def write_json(path, obj):
    tmp = Path(f"{path}.tmp")
    tmp.write_text(json.dumps(obj, indent=1) + "\n")
    tmp.replace(path)


def log_excerpt(log_text, host):
    """What the playbook printed about a host that went unreachable or
    failed outside the role's rescue (first such message)."""
    m = re.search(r"^(?:fatal|failed): \[" + re.escape(host) +
                  r"\]: (UNREACHABLE!|FAILED!)(.*?)(?=^\S|\Z)",
                  log_text, re.M | re.S)
    if not m:
        return None, ""
    text = " ".join(m.group(2).split())
    msg = re.search(r"msg\W+(.+?)(?:\"?,? *\"?(?:unreachable|changed|skip_reason)\b|$)", text)
    return m.group(1), (msg.group(1) if msg else text)[:400]


def collect(out, hosts, fleet_id, log_text, playbook_rc):
    """Status records of all hosts, writing the missing ones."""
    records = []
    for host in hosts:
        path = out / host / "fleet-status.json"
        rec = read_json(path)
        if not rec:
            kind, msg = log_excerpt(log_text, host)
            if kind == "UNREACHABLE!":
                status, reason = "unreachable", msg
            else:
                status = "lost"
                reason = (f"no status record: ansible-playbook exit "
                          f"{playbook_rc}" + (f"; {msg}" if msg else
                                              "; see fleet.log"))
            rec = {"schema": SCHEMA, "fleet_id": fleet_id, "host": host,
                   "status": status, "stage": "", "reason": reason,
                   "written_by": "scripts/fleet"}
            path.parent.mkdir(parents=True, exist_ok=True)
            write_json(path, rec)
        records.append(rec)
    return records


def failed(records):
    """Hosts whose part failed (any status but ok/idle, or a run that did
    not exit 0)."""
    return [r for r in records if r.get("status") not in GOOD]


def _cell(text, width=160):
    text = " ".join(str(text or "").split()).replace("|", "\\|")
    return text if len(text) <= width else text[:width - 3] + "..."


def _changed(rec):
    ch = rec.get("changed") or {}
    if not ch:
        return ""
    names = [k for k, v in ch.items() if v]
    return ", ".join(names) if names else "nothing (all in place)"


def summary_md(fleet, records, report_note, matrix_rows=None):
    """fleet.md: one row per host (status, reason, driver, kernel), then
    the kernels of a matrix and where each ran."""
    lines = [f"# Fleet run {fleet.get('fleet_id', '?')}", ""]
    lines.append(f"Commit {fleet.get('commit', '?')} ({fleet.get('revision', '?')}), "
                 f"job {fleet.get('job', '?')}"
                 + (f", kernels {','.join(fleet['kernels'])}"
                    if fleet.get("kernels") else "") + ".")
    bad = failed(records)
    lines += ["", f"{len(records)} host(s): {len(records) - len(bad)} ok, "
              f"{len(bad)} with a problem." + (f" {report_note}" if report_note else ""),
              "", "| host | status | stage | reason | driver | kernel | run exit | install changed |",
              "|---|---|---|---|---|---|---|---|"]
    for r in records:
        drv = r.get("driver") or {}
        run = r.get("run") or {}
        driver = drv.get("status", "")
        if drv.get("reason"):
            driver += f": {drv['reason']}"
        lines.append("| " + " | ".join(_cell(x) for x in (
            r.get("host"), r.get("status"), r.get("stage") if r.get("status") not in GOOD else "",
            r.get("reason"), driver, r.get("kernel", ""),
            run.get("rc", ""), _changed(r))) + " |")
    pm = [r for r in records if (r.get("pmem") or {}).get("status") not in (None, "untouched")]
    if pm:
        lines += ["", "PMEM: " + "; ".join(
            f"{r['host']}: {r['pmem']['status']} {r['pmem'].get('reason', '')}".strip()
            for r in pm)]
    if matrix_rows is not None:
        lines += ["", "## Kernels", "",
                  "| kernel | host | release | pass | fail | skip | error | hung | driver | folder, or why none |",
                  "|---|---|---|---|---|---|---|---|---|---|"]
        for row in matrix_rows:
            c = row.get("counts") or {}
            lines.append("| " + " | ".join(_cell(x, 80) for x in (
                row.get("kernel"), row.get("host"), row.get("release", ""),
                c.get("pass", ""), c.get("fail", ""), c.get("skip", ""),
                c.get("error", ""), c.get("hung", ""), row.get("driver", ""),
                row.get("folder") or row.get("error", ""))) + " |")
    lines += ["", "Per host: `<host>/fleet-status.json` (this table's source), "
              "`<host>/fleet-run.log` (the run's output on the host); the "
              "playbook's output: `fleet.log`.", ""]
    return "\n".join(lines)
