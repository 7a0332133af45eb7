"""cgroup v2 hugetlb controller: linux.resources.hugepageLimits → hugetlb.<size>.max (+ .rsvd.max).

Runs in the parent (also for the unified mount of a hybrid host, which holds hugetlb here).
Imports v1_hugetlb for the shared page-size check and writer (runc fs2/hugetlb.go).
"""

from __future__ import annotations

from runk.linux.cgroups.v1_hugetlb import set_limits

TYPE_CHECKING = False  # no `typing` import at run time (DESIGN 3.11)
if TYPE_CHECKING:
    from typing import Any


class HugetlbController:
    __slots__ = ()
    name = "hugetlb"
    controller = "hugetlb"
    resource = "hugepageLimits"

    def needs(self, res: dict[str, Any]) -> bool:
        return bool(res.get("hugepageLimits"))

    def apply(self, res: dict[str, Any], path: str) -> None:
        set_limits(path, res["hugepageLimits"], ".max")
