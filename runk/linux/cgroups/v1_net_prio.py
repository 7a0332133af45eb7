"""cgroup v1 net_prio controller: linux.resources.network.priorities → net_prio.ifpriomap.

Runs in the parent. Imports fs only (runc fs/net_prio.go). cgroup v2 has no net_prio: the v2
manager refuses the field.
"""

from __future__ import annotations

from runk.linux.cgroups import fs

TYPE_CHECKING = False  # no `typing` import at run time (DESIGN 3.11)
if TYPE_CHECKING:
    from typing import Any


class NetPrioController:
    __slots__ = ()
    name = "net_prio"
    resource = "network.priorities"

    def needs(self, res: dict[str, Any]) -> bool:
        return bool((res.get("network") or {}).get("priorities"))

    def apply(self, res: dict[str, Any], path: str) -> None:
        for i, p in enumerate(res["network"]["priorities"]):
            fs.write(
                path, "net_prio.ifpriomap", f"{p['name']} {p['priority']}", f"linux.resources.network.priorities[{i}]"
            )
