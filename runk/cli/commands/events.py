"""runk events [--stats] [--interval 5s] ID: JSON lines of stats every interval and of OOM
events until the container stops; --stats prints one stats event and exits (runc events)."""

from __future__ import annotations

import os
import select

from runk.errors import RunkError, StateError, UsageError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from runk.cli.globals import Globals


def parse_duration(text: str) -> float:
    """Go's time.ParseDuration for the forms people type: 5s, 100ms, 1m30s, 2h, 1.5s."""
    units = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
    s, total, i = text.strip(), 0.0, 0
    if not s:
        raise UsageError(f'time: invalid duration "{text}"')
    while i < len(s):
        j = i
        while j < len(s) and (s[j].isdigit() or s[j] == "."):
            j += 1
        k = j
        while k < len(s) and not (s[k].isdigit() or s[k] == "."):
            k += 1
        num, unit = s[i:j], s[j:k]
        if not num or unit not in units:
            raise UsageError(f'time: invalid duration "{text}"')
        total += float(num) * units[unit]
        i = k
    return total


def _emit(kind: str, cid: str, data: dict[str, Any] | None = None) -> None:
    from runk import _json

    ev: dict[str, Any] = {"type": kind, "id": cid}
    if data is not None:
        ev["data"] = data
    os.write(1, (_json.dumps(ev) + "\n").encode())


def run(g: Globals, opts: dict[str, Any]) -> int:
    from runk.container.container import load

    interval = parse_duration(opts.get("interval") or "5s")
    if interval <= 0:
        raise UsageError("duration interval must be greater than 0")
    c = load(g.root, opts["id"])
    try:
        if c.status() == "stopped":
            raise StateError(f"container with id {c.id} is not running")
        if opts.get("stats"):
            _emit("stats", c.id, c.stats())
            return 0
        watcher = c.oom_events()
        try:
            poller = select.poll()
            poller.register(watcher.fileno(), select.POLLIN | select.POLLPRI)
            import time

            next_stats = time.monotonic() + interval
            while c.status() != "stopped":
                wait_ms = max(0, int((next_stats - time.monotonic()) * 1000))
                if poller.poll(min(wait_ms, 1000)):
                    for _ in range(watcher.read()):
                        _emit("oom", c.id)
                if time.monotonic() >= next_stats:
                    try:
                        _emit("stats", c.id, c.stats())
                    except (OSError, RunkError):
                        pass
                    next_stats += interval
        finally:
            watcher.close()
    finally:
        c.close()
    return 0
