"""The systemd cgroup driver (--systemd-cgroup): make_manager and load_manager, and the names of
systemd_names re-exported (cgroupsPath, unit and slice names, the unit's cgroup directory).

Runs in the parent. Imports layout and systemd_names only; the driver (systemd_manager, systemd_bus and its D-Bus
library) loads in make_manager, once systemd is known to run. As runc: cgroupsPath is
"slice:prefix:name" (empty: the container id in a "runc-<id>.scope" of the default slice), the
unit is "<prefix>-<name>.scope", or the slice <name> when it ends in ".slice", and its cgroup is
<cgroup2 mount>/<slice expanded>/<unit> (for a user instance below the manager's own group).
Where systemd does not run (no /run/systemd/system) the error is runc's.
"""

from __future__ import annotations

from runk.errors import CgroupError
from runk.linux.cgroups import layout
from runk.linux.cgroups.systemd_names import (
    SYSTEM_SLICE,
    USER_SLICE,
    check_unit_name,
    expand_slice,
    is_slice,
    parse_path,
    unit_dir,
    unit_name,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from runk.linux.cgroups.systemd_manager import SystemdManager

NOT_RUNNING = "systemd not running on this host, cannot use systemd cgroups manager"
__all__ = [
    "NOT_RUNNING",
    "check_unit_name",
    "expand_slice",
    "is_slice",
    "load_manager",
    "make_manager",
    "parse_path",
    "unit_dir",
    "unit_name",
    "user_instance",
]


def user_instance() -> bool:
    """Talk to the caller's systemd user instance rather than the system's: the rootless cgroup
    manager by runc's rule (runk runs as a user, or as root of a user namespace whose user bus
    belongs to a non-root uid)."""
    from runk.linux.rootless import is_rootless

    return is_rootless(None, systemd=True)


def make_manager(cgroups_path: str | None, container_id: str, *, user: bool | None = None) -> SystemdManager:
    """The driver for a new container; `user`: the caller's systemd user instance (rootless),
    by default when runk does not run as root."""
    slice_name, prefix, name = parse_path(cgroups_path, container_id)
    if not layout.systemd_running():
        raise CgroupError(NOT_RUNNING)
    unit = unit_name(prefix, name)
    check_unit_name(unit)
    if user is None:
        user = user_instance()
    parent = slice_name or (USER_SLICE if user else SYSTEM_SLICE)
    slice_full = expand_slice(parent)
    lay = layout.detect()
    if lay.kind != layout.V2 or lay.unified is None:
        raise CgroupError(
            "the systemd cgroup driver of runk needs the unified cgroup v2 hierarchy; "
            "run without --systemd-cgroup to use the cgroupfs driver"
        )
    from runk.linux.cgroups.systemd_manager import SystemdManager

    return SystemdManager.new(unit, parent, slice_full, lay.unified.mountpoint, name, user=user)


def load_manager(paths: dict[str, str], *, user: bool | None = None) -> SystemdManager:
    """The driver of an existing container, from its saved paths() ({"": the unit's cgroup})."""
    from runk.linux.cgroups.systemd_manager import SystemdManager

    return SystemdManager.saved(paths, user=user_instance() if user is None else user)
