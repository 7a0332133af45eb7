"""cgroup v1 memory controller: linux.resources.memory → memory.* files.

Runs in the parent. Imports fs only. Semantics of runc 1.1.5 fs/memory.go; kernel and kernelTCP are
not written (runc warns "Kernel memory settings are ignored": the manager records that warning).
checkBeforeUpdate needs no code on v1: the kernel itself refuses a limit below usage (EBUSY).
"""

from __future__ import annotations

import errno

from runk.errors import CgroupError
from runk.linux.cgroups import fs

TYPE_CHECKING = False  # no `typing` import at run time (DESIGN 3.11)
if TYPE_CHECKING:
    from typing import Any

LIMIT = "memory.limit_in_bytes"
SWAP = "memory.memsw.limit_in_bytes"


class MemoryController:
    """memory.limit_in_bytes, memsw, soft limit, oom_control, swappiness, use_hierarchy."""

    __slots__ = ()
    name = "memory"
    resource = "memory"

    def needs(self, res: dict[str, Any]) -> bool:
        m = res.get("memory") or {}
        return any(
            m.get(k) is not None
            for k in ("limit", "reservation", "swap", "swappiness", "disableOOMKiller", "useHierarchy")
        )

    def apply(self, res: dict[str, Any], path: str) -> None:
        m = res.get("memory") or {}
        limit = m.get("limit") or 0
        swap = m.get("swap") or 0
        if limit == -1 and swap == 0 and fs.has(path, SWAP):
            swap = -1  # unlimited memory with unset swap: unlimited swap too (runc)
        if limit and swap:
            cur = fs.read_uint(path, LIMIT)
            # Raising: memsw first, since memory may never exceed memory+swap; lowering: memory
            # first. The kernel refuses either order done wrong with EINVAL.
            if swap == -1 or cur < swap:
                _set_swap(path, swap)
                _set_limit(path, limit)
            else:
                _set_limit(path, limit)
                _set_swap(path, swap)
        else:
            _set_limit(path, limit)
            _set_swap(path, swap)
        if m.get("reservation"):
            fs.write(path, "memory.soft_limit_in_bytes", str(m["reservation"]), "linux.resources.memory.reservation")
        if m.get("disableOOMKiller"):
            fs.write(path, "memory.oom_control", "1", "linux.resources.memory.disableOOMKiller")
        sw = m.get("swappiness")
        if sw is not None and sw != -1:
            if not 0 <= sw <= 100:
                raise CgroupError(
                    f"cannot set linux.resources.memory.swappiness: invalid memory "
                    f"swappiness value: {sw} (valid range is 0-100)"
                )
            fs.write(path, "memory.swappiness", str(sw), "linux.resources.memory.swappiness")
        uh = m.get("useHierarchy")
        if uh is not None:
            # Kernels since 5.x are always hierarchical and refuse "0" with EINVAL.
            fs.write(path, "memory.use_hierarchy", "1" if uh else "0", "linux.resources.memory.useHierarchy")


def _set_limit(path: str, val: int) -> None:
    if not val:
        return
    try:
        fs.write(path, LIMIT, str(val), "linux.resources.memory.limit")
    except CgroupError as e:
        if getattr(e, "errno", 0) != errno.EBUSY:  # usage is above the new limit
            raise
        usage = fs.read_uint(path, "memory.usage_in_bytes")
        peak = fs.read_uint(path, "memory.max_usage_in_bytes")
        raise CgroupError(
            f"cannot set linux.resources.memory.limit: unable to set memory limit to "
            f"{val} (current usage: {usage}, peak usage: {peak})"
        ) from None


def _set_swap(path: str, val: int) -> None:
    if not val:
        return
    if not fs.has(path, SWAP):
        raise CgroupError(
            f"cannot set linux.resources.memory.swap: {path}/{SWAP} does not exist "
            "(swap accounting is off: boot with swapaccount=1)"
        )
    fs.write(path, SWAP, str(val), "linux.resources.memory.swap")
