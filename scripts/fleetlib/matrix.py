"""A kernel matrix split across fleet hosts, gathered as if one machine ran
it: results/<fleet-id>/matrix/<kernel>/ (a link to the host's folder) and
one matrix.json in scripts/vm matrix's format, each row naming its host.
Kernels whose host failed before its run are rows with the host's reason.
Python 3 stdlib only.
"""

import os
from pathlib import Path

from .status import read_json, write_json


def split(kernels, hosts):
    """The role's split, for the summary: every n-th kernel to the i-th
    host that answered."""
    return {h: kernels[i::len(hosts)] for i, h in enumerate(hosts)}


def gather(out, fleet, records):
    """Link each kernel's folder under out/matrix/ and write
    out/matrix/matrix.json; returns its rows (with host and folder)."""
    mdir = out / "matrix"
    mdir.mkdir(exist_ok=True)
    rows, seen = [], set()
    for rec in records:
        host = rec["host"]
        got = read_json(out / host / "matrix.json") or {}
        for row in got.get("kernels", []):
            label = Path(row.get("out", row.get("kernel", "?"))).name
            link = mdir / label
            if link.is_symlink() or link.exists():
                link.unlink()
            os.symlink(os.path.join("..", host, label), link)
            rows.append(dict(row, host=host, folder=f"matrix/{label}",
                             out=str(link)))
            seen.add(row.get("kernel"))
        for k in rec.get("kernel_share") or []:
            if k not in seen:
                rows.append({"kernel": k, "host": host, "folder": "",
                             "error": f"not run: {host} {rec.get('status')}: "
                                      f"{rec.get('reason', '')}".strip()})
                seen.add(k)
    for k in fleet.get("kernels", []):
        if k not in seen:
            rows.append({"kernel": k, "host": "", "folder": "",
                         "error": "not run: no host answered"})
    order = {k: i for i, k in enumerate(fleet.get("kernels", []))}
    rows.sort(key=lambda r: order.get(r.get("kernel"), len(order)))
    write_json(mdir / "matrix.json", {"schema": "faultline.matrix/1",
                                      "suite": fleet.get("job"),
                                      "fleet_id": fleet.get("fleet_id"),
                                      "kernels": rows})
    return rows


def report_inputs(out, rows):
    """Folders for scripts/report, in matrix order, with their labels (the
    guest's kernel release): kernels that left a run.json."""
    got = [r for r in rows
           if r.get("folder") and (out / r["folder"] / "run.json").exists()]
    return ([str(out / r["folder"]) for r in got],
            [r.get("release") or r["kernel"] for r in got])
