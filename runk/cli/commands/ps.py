"""runk ps [--format table|json] ID [ps options]: the container's processes, as runc shows them
(ps(1) output filtered to the container's pids, or a JSON list of pids)."""

from __future__ import annotations

import os

from runk.errors import RunkError, UsageError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from runk.cli.globals import Globals
    from runk.container.container import Container


def run(g: Globals, opts: dict[str, Any]) -> int:
    from runk.container.container import load

    fmt = opts.get("format") or "table"
    c = load(g.root, opts["id"])
    try:
        in_vm = not c.host_pids()
        if in_vm and fmt == "table":
            return _guest_table(c, list(opts.get("ps_args") or []))
        pids = c.processes()
    finally:
        c.close()
    if fmt == "json":
        from runk import _json

        # runc encodes a Go nil slice: no processes is `null`, not `[]`
        os.write(1, (_json.dumps(pids or None) + "\n").encode())
        return 0
    if fmt != "table":
        raise UsageError("invalid format option")
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


GUEST_PS_ARGS: tuple[list[str], ...] = ([], ["-ef"], ["-e", "-f"], ["-f"])


def _guest_table(c: Container, ps_args: list[str]) -> int:
    """A VM's container: ps -ef's columns from the guest's /proc (the host's ps cannot see the
    guest's processes, so other ps options cannot be honoured)."""
    from runk.backend.vm import VmBackend
    from runk.vm.host import pstable

    if ps_args not in GUEST_PS_ARGS:
        raise RunkError(
            f"ps options {' '.join(ps_args)}: the container runs in a VM; its processes are shown "
            "with ps -ef's columns only (or use --format json for the guest's pids)"
        )
    if c.status() == "stopped":  # nothing runs: the header alone, as ps shows it
        os.write(1, pstable.render({"uptime": 0, "now": 0, "procs": []}).encode())
        return 0
    os.write(1, VmBackend().process_table(c.record()).encode())
    return 0
