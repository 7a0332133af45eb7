"""cgroup v2 pids controller: linux.resources.pids.limit → pids.max (same values as v1).

Runs in the parent. Imports fs and v1_pids (the shared OCI → value rule).
"""

from __future__ import annotations

from runk.linux.cgroups import fs
from runk.linux.cgroups.v1_pids import pids_value

TYPE_CHECKING = False  # no `typing` import at run time (DESIGN 3.11)
if TYPE_CHECKING:
    from typing import Any


class PidsController:
    __slots__ = ()
    name = "pids"
    controller = "pids"
    resource = "pids"

    def needs(self, res: dict[str, Any]) -> bool:
        return bool(pids_value(res))

    def apply(self, res: dict[str, Any], path: str) -> None:
        fs.write(path, "pids.max", pids_value(res), "linux.resources.pids.limit")
