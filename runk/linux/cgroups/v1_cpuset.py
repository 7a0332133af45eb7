"""cgroup v1 cpuset controller: linux.resources.cpu.cpus/mems → cpuset.cpus/cpuset.mems.

Runs in the parent. Imports os and fs. A new v1 cpuset group starts with empty cpus and mems and
refuses tasks until both are set, so every directory runk creates first inherits its parent's
values (runc fs/cpuset.go cpusetEnsureParent/cpusetCopyIfNeeded).
"""

from __future__ import annotations

from runk import _os as os
from runk.linux.cgroups import fs

TYPE_CHECKING = False  # no `typing` import at run time (DESIGN 3.11)
if TYPE_CHECKING:
    from typing import Any


class CpusetController:
    __slots__ = ()
    name = "cpuset"
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


def copy_parent(path: str) -> None:
    """Fill empty cpuset.cpus / cpuset.mems of `path` from its parent."""
    parent = os.path.dirname(path)
    for name in ("cpuset.cpus", "cpuset.mems"):
        if fs.read(path, name).strip():
            continue
        value = fs.read(parent, name).strip()
        if value:
            fs.write(path, name, value, f"{name} (copied from {parent})")


def ensure_populated(path: str) -> None:
    """Give `path` and every empty ancestor the cpus/mems of the nearest populated ancestor.

    Walks up while cpuset.cpus or cpuset.mems is empty, then copies down, so groups made by
    anyone (or by a co-mounted hierarchy) never stay unusable (runc cpusetEnsureParent).
    """
    chain = []
    d = path
    while fs.has(d, "cpuset.cpus"):
        if fs.read(d, "cpuset.cpus").strip() and fs.read(d, "cpuset.mems").strip():
            break
        chain.append(d)
        parent = os.path.dirname(d)
        if parent == d:
            break
        d = parent
    for d in reversed(chain):
        copy_parent(d)
