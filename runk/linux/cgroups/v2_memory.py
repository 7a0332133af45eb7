"""cgroup v2 memory controller: linux.resources.memory → memory.max, memory.swap.max, memory.low.

Runs in the parent. Imports fs and convert. runc fs2/memory.go semantics, including
checkBeforeUpdate (refuse a limit at or below current usage). v1-only fields that v2 cannot express
(swappiness, disableOOMKiller, non-hierarchical accounting) are errors naming the field.
"""

from __future__ import annotations

from runk.errors import CgroupError
from runk.linux.cgroups import convert, fs

TYPE_CHECKING = False  # no `typing` import at run time (DESIGN 3.11)
if TYPE_CHECKING:
    from typing import Any

_R = "linux.resources.memory."


class MemoryController:
    __slots__ = ()
    name = "memory"
    controller = "memory"
    resource = "memory"

    def needs(self, res: dict[str, Any]) -> bool:
        m = res.get("memory") or {}
        sw = m.get("swappiness")
        return bool(
            m.get("limit")
            or m.get("reservation")
            or m.get("swap")
            or (sw is not None and sw != -1)
            or m.get("disableOOMKiller")
            or m.get("useHierarchy") is False
        )

    def apply(self, res: dict[str, Any], path: str) -> None:
        m = res.get("memory") or {}
        sw = m.get("swappiness")
        if sw is not None and sw != -1:
            raise CgroupError(f"cannot set {_R}swappiness: cgroup v2 has no per-group swappiness")
        if m.get("disableOOMKiller"):
            raise CgroupError(f"cannot set {_R}disableOOMKiller: cgroup v2 cannot disable the OOM killer")
        if m.get("useHierarchy") is False:
            raise CgroupError(f"cannot set {_R}useHierarchy: cgroup v2 is always hierarchical")
        limit = m.get("limit") or 0
        swap_oci = m.get("swap") or 0
        reservation = m.get("reservation") or 0
        if not (limit or swap_oci or reservation):
            return
        check_usage(res, path)
        swap = convert.swap_to_v2(swap_oci, limit)
        swap_str = convert.num_to_v2(swap)
        if swap_str == "" and swap == 0 and swap_oci > 0:
            swap_str = "0"  # memory == memory+swap: no swap at all
        if swap_str:
            if fs.has(path, "memory.swap.max"):
                fs.write(path, "memory.swap.max", swap_str, _R + "swap")
            elif swap_str not in ("max", "0"):
                raise CgroupError(
                    f"cannot set {_R}swap: {path}/memory.swap.max does not exist (kernel without swap accounting)"
                )
        if limit:
            fs.write(path, "memory.max", convert.num_to_v2(limit), _R + "limit")
        if reservation:
            fs.write(path, "memory.low", convert.num_to_v2(reservation), _R + "reservation")


def check_usage(res: dict[str, Any], path: str) -> None:
    """memory.checkBeforeUpdate: refuse a limit (or memory+swap) at or below the group's usage.
    The systemd driver calls it before SetUnitProperties too (runc main does): systemd would set
    memory.max at once, the kernel OOM-kill the container, and systemd remove its emptied scope
    before the files are written."""
    m = res.get("memory") or {}
    limit = m.get("limit") or 0
    swap_oci = m.get("swap") or 0
    if not (m.get("checkBeforeUpdate") and (limit > 0 or swap_oci > 0)):
        return
    usage = _usage(path)
    if usage is None:
        return
    if swap_oci > 0 and swap_oci <= usage:
        raise CgroupError(f"cannot set {_R}swap: rejecting memory+swap limit {swap_oci} <= usage {usage}")
    if limit > 0 and limit <= usage:
        raise CgroupError(f"cannot set {_R}limit: rejecting memory limit {limit} <= usage {usage}")


def _usage(path: str) -> int | None:
    try:
        return fs.read_uint(path, "memory.current")
    except (OSError, ValueError):
        return None  # best effort, as runc: a group not yet created has no usage
