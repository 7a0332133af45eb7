"""cgroup v2 cpuset controller: linux.resources.cpu.cpus/mems → cpuset.cpus/cpuset.mems.

Runs in the parent. Imports fs only (runc fs2/cpuset.go).
"""
from __future__ import annotations

from runk.linux.cgroups import fs

TYPE_CHECKING = False   # no `typing` import at run time (DESIGN 3.11)
if TYPE_CHECKING:
    from typing import Any


class CpusetController:
    __slots__ = ()
    name = "cpuset"
    controller = "cpuset"
    resource = "cpu"

    def needs(self, res: dict[str, Any]) -> bool:
        c = res.get("cpu") or {}
        return bool(c.get("cpus") or c.get("mems"))

    def apply(self, res: dict[str, Any], path: str) -> None:
        c = res.get("cpu") or {}
        if c.get("cpus"):
            fs.write(path, "cpuset.cpus", c["cpus"], "linux.resources.cpu.cpus")
        if c.get("mems"):
            fs.write(path, "cpuset.mems", c["mems"], "linux.resources.cpu.mems")
