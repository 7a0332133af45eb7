"""The systemd cgroup driver (--systemd-cgroup): cgroupsPath checks and the "not running" error.

Runs in the parent. Imports layout only. runc's driver creates a transient scope through systemd's
D-Bus API; runk does not implement that yet. Where systemd does not run (this machine: PID 1 is
not systemd, no /run/systemd/system) runc and runk fail the same way, with runc's message.
"""

from __future__ import annotations

from runk.errors import CgroupError
from runk.linux.cgroups import layout

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import NoReturn

NOT_RUNNING = "systemd not running on this host, cannot use systemd cgroups manager"


def parse_path(cgroups_path: str | None) -> tuple[str, str, str]:
    """'slice:prefix:name' → its three parts; empty means ("", "runc", "") as in runc specconv."""
    if not cgroups_path:
        return ("", "runc", "")
    parts = cgroups_path.split(":")
    if len(parts) != 3:
        raise CgroupError(
            'expected cgroupsPath to be of format "slice:prefix:name" for systemd '
            f'cgroups, got "{cgroups_path}" instead'
        )
    return (parts[0], parts[1], parts[2])


def make_manager(cgroups_path: str | None, container_id: str) -> NoReturn:
    parse_path(cgroups_path)
    if not layout.systemd_running():
        raise CgroupError(NOT_RUNNING)
    raise CgroupError(
        "the systemd cgroup driver is not implemented in runk yet; "
        "run without --systemd-cgroup to use the cgroupfs driver"
    )
