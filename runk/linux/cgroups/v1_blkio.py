"""cgroup v1 blkio controller: linux.resources.blockIO → blkio.* files.

Runs in the parent. Imports fs only. runc fs/blkio.go: the weight goes to blkio.weight when CFQ
files exist, else to blkio.bfq.weight (kernels >= 5.0 have no CFQ); leafWeight has no BFQ
equivalent, so on such kernels it is an error naming the missing file.
"""

from __future__ import annotations

from runk.errors import CgroupError
from runk.linux.cgroups import fs

TYPE_CHECKING = False  # no `typing` import at run time (DESIGN 3.11)
if TYPE_CHECKING:
    from typing import Any

_R = "linux.resources.blockIO."
THROTTLES = (
    ("throttleReadBpsDevice", "blkio.throttle.read_bps_device"),
    ("throttleWriteBpsDevice", "blkio.throttle.write_bps_device"),
    ("throttleReadIOPSDevice", "blkio.throttle.read_iops_device"),
    ("throttleWriteIOPSDevice", "blkio.throttle.write_iops_device"),
)


def _need_file(path: str, name: str, field: str) -> None:
    if not fs.has(path, name):
        raise CgroupError(
            f"cannot set {_R}{field}: {path}/{name} does not exist "
            "(the block I/O scheduler of this kernel does not offer it)"
        )


def needs_block_io(res: dict[str, Any]) -> bool:
    """Whether linux.resources.blockIO sets anything (the v1 blkio and v2 io controllers)."""
    b = res.get("blockIO") or {}
    return bool(b.get("weight") or b.get("leafWeight") or b.get("weightDevice") or any(b.get(k) for k, _ in THROTTLES))


class BlkioController:
    __slots__ = ()
    name = "blkio"
    resource = "blockIO"

    def needs(self, res: dict[str, Any]) -> bool:
        return needs_block_io(res)

    def apply(self, res: dict[str, Any], path: str) -> None:
        b = res.get("blockIO") or {}
        if fs.has(path, "blkio.weight"):
            wfile, wdfile = "blkio.weight", "blkio.weight_device"
        else:
            wfile, wdfile = "blkio.bfq.weight", "blkio.bfq.weight_device"
        if b.get("weight"):
            _need_file(path, wfile, "weight")
            fs.write(path, wfile, str(b["weight"]), _R + "weight")
        if b.get("leafWeight"):
            _need_file(path, "blkio.leaf_weight", "leafWeight")
            fs.write(path, "blkio.leaf_weight", str(b["leafWeight"]), _R + "leafWeight")
        for i, wd in enumerate(b.get("weightDevice") or []):
            dev = f"{wd['major']}:{wd['minor']}"
            if wd.get("weight"):
                _need_file(path, wdfile, f"weightDevice[{i}].weight")
                fs.write(path, wdfile, f"{dev} {wd['weight']}", f"{_R}weightDevice[{i}].weight")
            if wd.get("leafWeight"):
                _need_file(path, "blkio.leaf_weight_device", f"weightDevice[{i}].leafWeight")
                fs.write(
                    path, "blkio.leaf_weight_device", f"{dev} {wd['leafWeight']}", f"{_R}weightDevice[{i}].leafWeight"
                )
        for field, fname in THROTTLES:
            for i, td in enumerate(b.get(field) or []):
                fs.write(path, fname, f"{td['major']}:{td['minor']} {td['rate']}", f"{_R}{field}[{i}]")
