"""cgroup v2 linux.resources.unified: raw "<controller>.<key>": value writes, applied last.

Runs in the parent. Imports fs only. runc fs2.setUnified: a key is a file name (no '/'), a value
may hold several lines, each written on its own; a missing file is explained by the controller.
"""

from __future__ import annotations

from runk.errors import CgroupError
from runk.linux.cgroups import fs

TYPE_CHECKING = False  # no `typing` import at run time (DESIGN 3.11)
if TYPE_CHECKING:
    from typing import Any


class UnifiedController:
    __slots__ = ()
    name = "unified"
    controller = ""
    resource = "unified"

    def needs(self, res: dict[str, Any]) -> bool:
        return bool(res.get("unified"))

    def apply(self, res: dict[str, Any], path: str) -> None:
        avail = (fs.read_opt(path, "cgroup.controllers") or "").split()
        for key, value in res["unified"].items():
            field = f"linux.resources.unified[{key!r}]"
            if "/" in key or key in ("", ".", ".."):
                raise CgroupError(f"cannot set {field}: must be a file name (no slashes)")
            ctrl, dot, _ = key.partition(".")
            if not dot:
                raise CgroupError(f"cannot set {field}: must be in the form CONTROLLER.PARAMETER")
            if not fs.has(path, key) and ctrl != "cgroup" and ctrl not in avail:
                raise CgroupError(
                    f"cannot set {field}: controller {ctrl!r} not available in {path} "
                    f"(cgroup.controllers: {' '.join(avail) or 'none'})"
                )
            data = str(value)
            while True:
                line, _, data = data.partition("\n")
                fs.write(path, key, line, field)
                if not data:
                    break
