"""cgroup v1 hugetlb controller (hugetlb.<size>.limit_in_bytes) and the host's huge page sizes.

Runs in the parent. Imports os and fs. runc fs/hugetlb.go: the .rsvd limit is set to the same value
where the kernel has it (5.7+). A page size the host does not have is refused by name.
"""

from __future__ import annotations

from runk import _os as os
from runk.errors import CgroupError
from runk.linux.cgroups import fs

TYPE_CHECKING = False  # no `typing` import at run time (DESIGN 3.11)
if TYPE_CHECKING:
    from typing import Any


def page_sizes() -> list[str]:
    """Huge page sizes as cgroup file names spell them ("2MB", "1GB"), from /sys/kernel/mm/hugepages."""
    out: list[str] = []
    try:
        names = sorted(os.listdir("/sys/kernel/mm/hugepages"))
    except OSError:
        return out
    for n in names:
        if not (n.startswith("hugepages-") and n.endswith("kB")):
            continue
        kb = int(n[len("hugepages-") : -2])
        if kb >= 1 << 20:
            out.append(f"{kb >> 20}GB")
        elif kb >= 1 << 10:
            out.append(f"{kb >> 10}MB")
        else:
            out.append(f"{kb}KB")
    return out


def check_sizes(limits: list[Any]) -> None:
    sizes = page_sizes()
    for i, hl in enumerate(limits):
        if hl.get("pageSize") not in sizes:
            raise CgroupError(
                f"cannot set linux.resources.hugepageLimits[{i}]: invalid pageSize "
                f"{hl.get('pageSize')!r} (this host has: {', '.join(sizes) or 'none'})"
            )


def set_limits(path: str, limits: list[Any], suffix: str) -> None:
    """Write each limit to hugetlb.<size><suffix> and, where it exists, hugetlb.<size>.rsvd<suffix>."""
    check_sizes(limits)
    for i, hl in enumerate(limits):
        prefix = "hugetlb." + hl["pageSize"]
        val = str(hl["limit"])
        res = f"linux.resources.hugepageLimits[{i}]"
        fs.write(path, prefix + suffix, val, res)
        if fs.has(path, prefix + ".rsvd" + suffix):
            fs.write(path, prefix + ".rsvd" + suffix, val, res)


class HugetlbController:
    __slots__ = ()
    name = "hugetlb"
    resource = "hugepageLimits"

    def needs(self, res: dict[str, Any]) -> bool:
        return bool(res.get("hugepageLimits"))

    def apply(self, res: dict[str, Any], path: str) -> None:
        set_limits(path, res["hugepageLimits"], ".limit_in_bytes")
