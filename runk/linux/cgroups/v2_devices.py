"""cgroup v2 devices: linux.resources.devices → an eBPF device filter attached to the group.

Runs in the parent. Imports devices_rules (pure) and, only when applied, devices_bpf (cffi).
cgroup v2 has no devices files: without a program every device is allowed, so a rule list that
cannot be installed is always an error (runc only tolerates that in a user namespace).
"""

from __future__ import annotations

from runk.linux.cgroups.devices_rules import parse_rules

TYPE_CHECKING = False  # no `typing` import at run time (DESIGN 3.11)
if TYPE_CHECKING:
    from typing import Any


class DevicesController:
    __slots__ = ()
    name = "devices"
    controller = ""
    resource = "devices"

    def needs(self, res: dict[str, Any]) -> bool:
        return res.get("devices") is not None

    def apply(self, res: dict[str, Any], path: str) -> None:
        from runk.linux.cgroups import devices_bpf  # cffi: only when devices are set

        devices_bpf.install(path, parse_rules(res["devices"]))
