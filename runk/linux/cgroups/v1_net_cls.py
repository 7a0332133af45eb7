"""cgroup v1 net_cls controller: linux.resources.network.classID → net_cls.classid.

Runs in the parent. Imports fs only (runc fs/net_cls.go). cgroup v2 has no net_cls: the v2 manager
refuses the field.
"""

from __future__ import annotations

from runk.linux.cgroups import fs

TYPE_CHECKING = False  # no `typing` import at run time (DESIGN 3.11)
if TYPE_CHECKING:
    from typing import Any


class NetClsController:
    __slots__ = ()
    name = "net_cls"
    resource = "network.classID"

    def needs(self, res: dict[str, Any]) -> bool:
        return bool((res.get("network") or {}).get("classID"))

    def apply(self, res: dict[str, Any], path: str) -> None:
        fs.write(path, "net_cls.classid", str(res["network"]["classID"]), "linux.resources.network.classID")
