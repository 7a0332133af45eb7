"""rdma controller: linux.resources.rdma → rdma.max (the same file on v1 and v2).

Runs in the parent. Imports fs only (runc fscommon/rdma.go); the v2 manager uses this class too.
"""
from __future__ import annotations

from runk.linux.cgroups import fs


def rdma_line(device: str, limits: dict) -> str:
    line = device
    if limits.get("hcaHandles") is not None:
        line += f" hca_handle={limits['hcaHandles']}"
    if limits.get("hcaObjects") is not None:
        line += f" hca_object={limits['hcaObjects']}"
    return line


class RdmaController:
    __slots__ = ()
    name = "rdma"
    resource = "rdma"

    def needs(self, res: dict) -> bool:
        return bool(res.get("rdma"))

    def apply(self, res: dict, path: str) -> None:
        for dev in sorted(res["rdma"]):
            fs.write(path, "rdma.max", rdma_line(dev, res["rdma"][dev]), f"linux.resources.rdma.{dev}")
