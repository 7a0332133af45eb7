"""cgroup v2 io controller: linux.resources.blockIO → io.bfq.weight / io.weight / io.max.

Runs in the parent. Imports fs and convert. runc fs2/io.go: with BFQ the weight goes unconverted to
io.bfq.weight, else converted to io.weight. Per-device weights go to io.bfq.weight when BFQ takes
them, else (unlike runc, which drops them) converted to io.weight. leafWeight has no v2 file.
"""

from __future__ import annotations

from runk.errors import CgroupError
from runk.linux.cgroups import convert, fs
from runk.linux.cgroups.v1_blkio import needs_block_io

TYPE_CHECKING = False  # no `typing` import at run time (DESIGN 3.11)
if TYPE_CHECKING:
    from typing import Any

_R = "linux.resources.blockIO."
THROTTLES = (
    ("throttleReadBpsDevice", "rbps"),
    ("throttleWriteBpsDevice", "wbps"),
    ("throttleReadIOPSDevice", "riops"),
    ("throttleWriteIOPSDevice", "wiops"),
)


class IoController:
    __slots__ = ()
    name = "io"
    controller = "io"
    resource = "blockIO"

    def needs(self, res: dict[str, Any]) -> bool:
        return needs_block_io(res)

    def apply(self, res: dict[str, Any], path: str) -> None:
        b = res.get("blockIO") or {}
        if b.get("leafWeight") or any(wd.get("leafWeight") for wd in b.get("weightDevice") or []):
            raise CgroupError(f"cannot set {_R}leafWeight: cgroup v2 has no leaf weight")
        bfq = fs.read_opt(path, "io.bfq.weight")
        if b.get("weight"):
            if bfq is not None:
                fs.write(path, "io.bfq.weight", str(b["weight"]), _R + "weight")
            else:
                fs.write(path, "io.weight", str(convert.blkio_weight_to_io_weight(b["weight"])), _R + "weight")
        # io.bfq.weight reads "default N" when BFQ takes per-device weights, a bare N otherwise.
        bfq_devices = bfq is not None and not bfq.strip().isdigit()
        for i, wd in enumerate(b.get("weightDevice") or []):
            if not wd.get("weight"):
                continue
            dev = f"{wd['major']}:{wd['minor']}"
            if bfq_devices:
                fs.write(path, "io.bfq.weight", f"{dev} {wd['weight']}", f"{_R}weightDevice[{i}]")
            else:
                w = convert.blkio_weight_to_io_weight(wd["weight"])
                fs.write(path, "io.weight", f"{dev} {w}", f"{_R}weightDevice[{i}]")
        for field, key in THROTTLES:
            for i, td in enumerate(b.get(field) or []):
                fs.write(path, "io.max", f"{td['major']}:{td['minor']} {key}={td['rate']}", f"{_R}{field}[{i}]")
