"""cgroup v1 pids controller: linux.resources.pids.limit → pids.max.

Runs in the parent. Imports fs only. No limit (absent or null) leaves pids.max unchanged; a
negative one is "max"; 0, which runtime-spec 1.3 says is a real limit, is 1, as runc maps it (so
that the cgroupfs and systemd drivers agree: systemd has no TasksMax=0). runc 1.1.5 left 0
unchanged.
"""

from __future__ import annotations

from runk.linux.cgroups import fs

TYPE_CHECKING = False  # no `typing` import at run time (DESIGN 3.11)
if TYPE_CHECKING:
    from typing import Any


def pids_value(res: dict[str, Any]) -> str:
    limit = (res.get("pids") or {}).get("limit")
    if limit is None:
        return ""
    if limit == 0:
        return "1"
    return str(limit) if limit > 0 else "max"


class PidsController:
    __slots__ = ()
    name = "pids"
    resource = "pids"

    def needs(self, res: dict[str, Any]) -> bool:
        return bool(pids_value(res))

    def apply(self, res: dict[str, Any], path: str) -> None:
        fs.write(path, "pids.max", pids_value(res), "linux.resources.pids.limit")
