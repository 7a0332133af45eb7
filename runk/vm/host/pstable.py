"""`runk-vm ps` in table form: the columns of `ps -ef` (what runc shows by default: UID PID
PPID C STIME TTY TIME CMD) from the guest's /proc facts (runk.vm.guest.procsnap), since the
host's ps cannot see a guest's processes. The pids are the guest's.

Pure functions over the snapshot (and a uid -> name lookup) so the unit tests need no VM.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

HEADER = ("UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD")
TTY_MAJOR, PTS_MAJOR_FIRST, PTS_MAJOR_LAST = 4, 136, 143


def tty_name(nr: int) -> str:
    """/proc/PID/stat's tty_nr as ps names it."""
    if nr == 0:
        return "?"
    major, minor = (nr >> 8) & 0xFFF, (nr & 0xFF) | ((nr >> 12) & 0xFFF00)
    if PTS_MAJOR_FIRST <= major <= PTS_MAJOR_LAST:
        return f"pts/{(major - PTS_MAJOR_FIRST) * 256 + minor}"
    if major == TTY_MAJOR:
        return f"tty{minor}" if minor < 64 else f"ttyS{minor - 64}"
    return "?"


def cpu_time(seconds: int) -> str:
    """[DD-]HH:MM:SS, as ps's TIME."""
    days, rest = divmod(seconds, 86400)
    text = f"{rest // 3600:02d}:{rest % 3600 // 60:02d}:{rest % 60:02d}"
    return f"{days}-{text}" if days else text


def start_time(started: float, now: float) -> str:
    """HH:MM within a day of now, else MonDD (ps's STIME), in the host's local time."""
    import time

    t = time.localtime(started)
    if now - started < 86400:
        return time.strftime("%H:%M", t)
    return time.strftime("%b%d", t)


def user_name(uid: int) -> str:
    import pwd

    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def rows(snap: dict[str, Any], name: Callable[[int], str] = user_name) -> list[list[str]]:
    hz = int(snap.get("hz") or 100)
    uptime, now = float(snap["uptime"]), float(snap["now"])
    boot = now - uptime
    out = []
    for p in sorted(snap.get("procs") or [], key=lambda p: int(p["pid"])):
        age = max(uptime - p["start"] / hz, 0.001)
        cpu = p["ticks"] / hz
        out.append(
            [
                name(int(p["uid"])),
                str(p["pid"]),
                str(p["ppid"]),
                str(min(99, int(cpu * 100 / age))),
                start_time(boot + p["start"] / hz, now),
                tty_name(int(p["tty"])),
                cpu_time(int(cpu)),
                str(p["cmd"]),
            ]
        )
    return out


def render(snap: dict[str, Any], name: Callable[[int], str] = user_name) -> str:
    """The table, columns left-aligned like ps -ef's (CMD last, unpadded)."""
    table = [list(HEADER), *rows(snap, name)]
    widths = [max(len(r[i]) for r in table) for i in range(len(HEADER) - 1)]
    lines = []
    for r in table:
        cells = [c.rjust(w) if i in (1, 2, 3) else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths, strict=False))]
        lines.append("  ".join(cells) + "  " + r[-1])
    return "\n".join(lines) + "\n"
