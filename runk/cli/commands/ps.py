"""runk ps [--format table|json] ID [ps options]: the container's processes, as runc shows them
(ps(1) output filtered to the container's pids, or a JSON list of pids)."""

from __future__ import annotations

import os

from runk.errors import RunkError, UsageError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from runk.cli.globals import Globals


def run(g: Globals, opts: dict[str, Any]) -> int:
    from runk.container.container import load

    fmt = opts.get("format") or "table"
    c = load(g.root, opts["id"])
    try:
        pids = c.processes()
        in_vm = not c.host_pids()
    finally:
        c.close()
    if fmt == "json":
        from runk import _json

        # runc encodes a Go nil slice: no processes is `null`, not `[]`
        os.write(1, (_json.dumps(pids or None) + "\n").encode())
        return 0
    if fmt != "table":
        raise UsageError("invalid format option")
    if in_vm:  # the host's ps cannot show them
        raise RunkError("the container runs in a VM and its pids are the guest's: use --format json")
    import subprocess

    args = list(opts.get("ps_args") or []) or ["-ef"]
    ps = "/bin/ps" if os.access("/bin/ps", os.X_OK) else "ps"
    r = subprocess.run([ps, *args], capture_output=True)
    if r.returncode != 0:
        raise RunkError(f"exit status {r.returncode}: {(r.stdout + r.stderr).decode(errors='replace')}")
    lines = r.stdout.decode(errors="replace").split("\n")
    header = lines[0].split()
    if "PID" not in header:
        raise RunkError("couldn't find PID field in ps output")
    idx = header.index("PID")
    out = [lines[0]]
    wanted = set(pids)
    for line in lines[1:]:
        fields = line.split()
        if len(fields) > idx and fields[idx].isdigit() and int(fields[idx]) in wanted:
            out.append(line)
    os.write(1, ("\n".join(out) + "\n").encode())
    return 0
