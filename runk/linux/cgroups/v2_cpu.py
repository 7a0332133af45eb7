"""cgroup v2 cpu controller: shares → cpu.weight, quota/period → cpu.max, burst, idle.

Runs in the parent. Imports fs and convert. runc fs2/cpu.go; realtime settings have no v2 file
and are errors naming the field.
"""

from __future__ import annotations

import errno

from runk.errors import CgroupError
from runk.linux.cgroups import convert, fs
from runk.linux.cgroups.v1_cpu import needs_cpu

TYPE_CHECKING = False  # no `typing` import at run time (DESIGN 3.11)
if TYPE_CHECKING:
    from typing import Any

_R = "linux.resources.cpu."


class CpuController:
    __slots__ = ()
    name = "cpu"
    controller = "cpu"
    resource = "cpu"

    def needs(self, res: dict[str, Any]) -> bool:
        return needs_cpu(res)

    def apply(self, res: dict[str, Any], path: str) -> None:
        c = res.get("cpu") or {}
        for f in ("realtimeRuntime", "realtimePeriod"):
            if c.get(f):
                raise CgroupError(f"cannot set {_R}{f}: realtime scheduling limits are not supported on cgroup v2")
        if c.get("idle") is not None:
            fs.write(path, "cpu.idle", str(c["idle"]), _R + "idle")
        weight = convert.shares_to_weight(c.get("shares") or 0)
        if weight:
            fs.write(path, "cpu.weight", str(weight), _R + "shares")
        quota = c.get("quota") or 0
        period = c.get("period") or 0
        burst = ""
        if c.get("burst") is not None:
            burst = str(c["burst"])
            try:
                fs.write(path, "cpu.max.burst", burst, _R + "burst")
                burst = ""
            except CgroupError as e:
                # EINVAL: burst above the current quota; retry once the new quota is in.
                if getattr(e, "errno", 0) != errno.EINVAL or not quota:
                    raise
        if quota or period:
            value = (str(quota) if quota > 0 else "max") + " " + str(period or 100000)
            fs.write(path, "cpu.max", value, _R + ("quota" if quota else "period"))
            if burst:
                fs.write(path, "cpu.max.burst", burst, _R + "burst")
