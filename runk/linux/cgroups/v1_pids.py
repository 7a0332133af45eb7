"""cgroup v1 pids controller: linux.resources.pids.limit → pids.max.

Runs in the parent. Imports fs only. runc 1.1.5 semantics: 0 leaves the limit unchanged, a negative
limit is "max".
"""

from __future__ import annotations

from runk.linux.cgroups import fs

TYPE_CHECKING = False  # no `typing` import at run time (DESIGN 3.11)
if TYPE_CHECKING:
    from typing import Any


def pids_value(res: dict[str, Any]) -> str:
    limit = (res.get("pids") or {}).get("limit") or 0
    if not limit:
        return ""
    return str(limit) if limit > 0 else "max"


class PidsController:
    __slots__ = ()
    name = "pids"
    resource = "pids"

    def needs(self, res: dict[str, Any]) -> bool:
        return bool(pids_value(res))

    def apply(self, res: dict[str, Any], path: str) -> None:
        fs.write(path, "pids.max", pids_value(res), "linux.resources.pids.limit")
