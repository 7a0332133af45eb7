"""cgroup v1 cpu controller: shares, CFS quota/period/burst, idle and RT runtime/period.

Runs in the parent. Imports fs only. Semantics and write order of runc fs/cpu.go (opencontainers
cgroups): a period or burst the kernel refuses (EINVAL) before the quota is retried after it.
A burst file that does not exist is an error here (runc skips it silently).
"""

from __future__ import annotations

import errno

from runk.errors import CgroupError
from runk.linux.cgroups import fs

TYPE_CHECKING = False  # no `typing` import at run time (DESIGN 3.11)
if TYPE_CHECKING:
    from typing import Any

_R = "linux.resources.cpu."


def needs_cpu(res: dict[str, Any]) -> bool:
    """Whether linux.resources.cpu sets anything of the cpu controller (v1 and v2)."""
    c = res.get("cpu") or {}
    return bool(
        c.get("shares")
        or c.get("quota")
        or c.get("period")
        or c.get("realtimeRuntime")
        or c.get("realtimePeriod")
        or c.get("burst") is not None
        or c.get("idle") is not None
    )


class CpuController:
    __slots__ = ()
    name = "cpu"
    resource = "cpu"

    def needs(self, res: dict[str, Any]) -> bool:
        return needs_cpu(res)

    def apply(self, res: dict[str, Any], path: str) -> None:
        c = res.get("cpu") or {}
        shares = c.get("shares") or 0
        if shares:
            fs.write(path, "cpu.shares", str(shares), _R + "shares")
            got = fs.read_uint(path, "cpu.shares")
            if shares > got:
                raise CgroupError(f"cannot set {_R}shares: the maximum allowed cpu-shares is {got}")
            if shares < got:
                raise CgroupError(f"cannot set {_R}shares: the minimum allowed cpu-shares is {got}")
        quota = c.get("quota") or 0
        period = _try_first(path, "cpu.cfs_period_us", c.get("period") or 0, "period", quota)
        burst_v = c.get("burst")
        burst = ""
        if burst_v is not None:
            if not fs.has(path, "cpu.cfs_burst_us"):
                raise CgroupError(
                    f"cannot set {_R}burst: {path}/cpu.cfs_burst_us does not exist "
                    "(kernel without CFS bandwidth burst, before 5.14)"
                )
            burst = _try_first(path, "cpu.cfs_burst_us", burst_v, "burst", quota, allow_zero=True)
        if quota:
            fs.write(path, "cpu.cfs_quota_us", str(quota), _R + "quota")
            if period:
                fs.write(path, "cpu.cfs_period_us", period, _R + "period")
            if burst:
                fs.write(path, "cpu.cfs_burst_us", burst, _R + "burst")
        idle = c.get("idle")
        if idle is not None:
            fs.write(path, "cpu.idle", str(idle), _R + "idle")
        set_rt(path, c)


def _try_first(path: str, name: str, value: int, field: str, quota: int, allow_zero: bool = False) -> str:
    """Write now; on EINVAL with a quota pending, return the value to write after the quota."""
    if not value and not allow_zero:
        return ""
    s = str(value)
    try:
        fs.write(path, name, s, _R + field)
    except CgroupError as e:
        if getattr(e, "errno", 0) != errno.EINVAL or not quota:
            raise
        return s
    return ""


def set_rt(path: str, c: dict[str, Any]) -> None:
    """cpu.rt_period_us and cpu.rt_runtime_us; runc also does this before the first task joins."""
    rt_period = c.get("realtimePeriod") or 0
    rt_runtime = c.get("realtimeRuntime") or 0
    period = ""
    if rt_period:
        period = str(rt_period)
        try:
            fs.write(path, "cpu.rt_period_us", period, _R + "realtimePeriod")
            period = ""
        except CgroupError as e:
            if getattr(e, "errno", 0) != errno.EINVAL or not rt_runtime:
                raise
    if rt_runtime:
        fs.write(path, "cpu.rt_runtime_us", str(rt_runtime), _R + "realtimeRuntime")
        if period:
            fs.write(path, "cpu.rt_period_us", period, _R + "realtimePeriod")
