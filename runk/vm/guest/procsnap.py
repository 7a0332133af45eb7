"""The guest's /proc facts about the container's processes, for `runk-vm ps` in table form
(guest side; the host renders them: runk.vm.host.pstable).

For each pid: uid, ppid, tty_nr, CPU ticks (user + system), start time in ticks since boot,
the command line (or [comm]); plus the guest's clock: ticks per second, uptime, wall time.
A process that exits while it is read is left out.
"""

from __future__ import annotations

import os
import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def one(pid: int) -> dict[str, Any] | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read().decode(errors="replace")
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            argv = [a.decode(errors="replace") for a in f.read().split(b"\0") if a]
        uid = os.stat(f"/proc/{pid}").st_uid
    except OSError:
        return None
    comm = stat[stat.find("(") + 1 : stat.rfind(")")]
    fields = stat[stat.rfind(")") + 2 :].split()
    # fields[0] is field 3 (state): ppid 4, tty_nr 7, utime 14, stime 15, starttime 22
    return {
        "pid": pid,
        "ppid": int(fields[1]),
        "uid": uid,
        "tty": int(fields[4]),
        "ticks": int(fields[11]) + int(fields[12]),
        "start": int(fields[19]),
        "cmd": " ".join(argv) if argv else f"[{comm}]",
    }


def snapshot(pids: list[int]) -> dict[str, Any]:
    with open("/proc/uptime") as f:
        uptime = float(f.read().split()[0])
    rows = [r for r in (one(p) for p in pids) if r is not None]
    return {"hz": os.sysconf("SC_CLK_TCK"), "uptime": uptime, "now": time.time(), "procs": rows}
