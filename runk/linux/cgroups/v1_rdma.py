"""rdma controller: linux.resources.rdma → rdma.max (the same file on v1 and v2).

Runs in the parent. Imports fs only (runc fscommon/rdma.go); the v2 manager uses this class too.
"""

from __future__ import annotations

from runk.linux.cgroups import fs

TYPE_CHECKING = False  # no `typing` import at run time (DESIGN 3.11)
if TYPE_CHECKING:
    from typing import Any


def rdma_line(device: str, limits: dict[str, Any]) -> str:
    line = device
    if limits.get("hcaHandles") is not None:
        line += f" hca_handle={limits['hcaHandles']}"
    if limits.get("hcaObjects") is not None:
        line += f" hca_object={limits['hcaObjects']}"
    return line


class RdmaController:
    __slots__ = ()
    name = "rdma"
    controller = "rdma"  # the cgroup v2 controller name (v2 manager uses this class)
    resource = "rdma"

    def needs(self, res: dict[str, Any]) -> bool:
        return bool(res.get("rdma"))

    def apply(self, res: dict[str, Any], path: str) -> None:
        for dev in sorted(res["rdma"]):
            fs.write(path, "rdma.max", rdma_line(dev, res["rdma"][dev]), f"linux.resources.rdma.{dev}")
