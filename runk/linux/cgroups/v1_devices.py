"""cgroup v1 devices controller: linux.resources.devices → devices.deny / devices.allow.

Runs in the parent. Imports fs and devices_rules (pure). The OCI list is validated by the emulator
first (a hole in a wildcard rule is refused, as runc does). A group with no tasks yet gets the
rules replayed in their OCI order after a reset to deny-all, so devices.list shows them in that
order, as the runtime-spec asks ("apply entries in the listed order"; runc sorts them and fails
the runtime-tools check). So does a group that still allows every device: the container's own
group when the rules apply at its init's READY, after its mounts (runc's transition from there
is the same deny-all followed by every allow, only sorted). Any other running group (update)
gets runc's minimal transition, which never opens a window of wider access. Either way the
result is read back and compared.
"""

from __future__ import annotations

from runk import _os as os
from runk.errors import CgroupError
from runk.linux.cgroups import fs
from runk.linux.cgroups.devices_rules import Emulator, Rule, parse_rules

TYPE_CHECKING = False  # no `typing` import at run time (DESIGN 3.11)
if TYPE_CHECKING:
    from typing import Any

_RES = "linux.resources.devices"


def _write(path: str, rule: Rule) -> None:
    fs.write(path, "devices.allow" if rule.allow else "devices.deny", rule.cgroup_string(), _RES)


def _busy(path: str) -> bool:
    if fs.read_procs(path):
        return True
    with os.scandir(path) as it:
        return any(e.is_dir(follow_symlinks=False) for e in it)


class DevicesController:
    __slots__ = ()
    name = "devices"
    resource = "devices"

    def needs(self, res: dict[str, Any]) -> bool:
        return res.get("devices") is not None

    def apply(self, res: dict[str, Any], path: str) -> None:
        rules = parse_rules(res["devices"])
        target = Emulator.from_rules(rules)
        current = Emulator.from_list(fs.read(path, "devices.list"))
        if not target.default_allow and current == target:
            return
        if _busy(path) and not (current.default_allow and not target.default_allow):
            for r in current.transition(target):
                _write(path, r)
        else:
            fs.write(path, "devices.deny", "a", _RES)
            for r in rules:
                _write(path, r)
        after = Emulator.from_list(fs.read(path, "devices.list"))
        if after.default_allow != target.default_allow:
            raise CgroupError(f"cannot set {_RES}: {path}/devices.list does not match the target mode")
        if not target.default_allow and after != target:
            raise CgroupError(
                f"cannot set {_RES}: {path}/devices.list does not precisely match "
                f"the rules (kernel: {sorted(after.rules)}, wanted: {sorted(target.rules)})"
            )
