"""runk.linux.cgroups: pick the cgroup driver for this host (make_manager) or a saved one (load_manager).

Runs in the parent. Importing this package costs nothing: load_manager (used by state, list, kill,
pause, delete) imports only the manager modules it returns and fs/base/freezer; controllers,
statistics, the layout parser and the eBPF code load only when used.

    make_manager(cgroups_path, container_id, systemd=False) -> CgroupManager   (create)
    load_manager(paths) -> CgroupManager              (from manager.paths() kept in the state file)
    freezer_state(paths)                              (no manager: state; saved.py: pids, removal)
    mount_plan(manager) -> [(container dest, host dir)] for runc-style /sys/fs/cgroup mounts
    default_devices() / container_rules(...)          runc's default device allow-list
"""

from __future__ import annotations

TYPE_CHECKING = False  # no `typing` import at run time (DESIGN 3.11)
if TYPE_CHECKING:
    from typing import Any

    from runk.linux.cgroups.base import CgroupManager


def make_manager(
    cgroups_path: str | None, container_id: str, *, systemd: bool = False, user: bool | None = None
) -> CgroupManager:
    """The driver for a new container: layout from /proc/self/mountinfo, paths as runc makes them.

    An empty cgroupsPath is the relative path "<container id>"; relative paths hang below runk's
    own cgroup (see layout.py for the exact rule per layout).
    """
    from runk.errors import CgroupError
    from runk.linux.cgroups import layout

    if systemd:
        from runk.linux.cgroups import systemd as sd

        return sd.make_manager(cgroups_path, container_id, user=user)
    lay = layout.detect()
    inner = layout.inner_path(cgroups_path, container_id)
    if lay.kind == layout.V2:
        from runk.linux.cgroups.v2 import V2Manager

        assert lay.unified is not None
        return V2Manager(layout.unified_path(lay, inner), lay.unified.mountpoint)
    from runk.linux.cgroups.v1 import V1Manager

    if "devices" not in lay.v1:
        # runc treats a missing devices hierarchy as fatal, for security.
        raise CgroupError("mountpoint for devices not found: refusing to run a container without device isolation")
    v1 = V1Manager(layout.v1_paths(lay, inner))
    if lay.kind == layout.V1:
        return v1
    from runk.linux.cgroups.hybrid import HybridManager
    from runk.linux.cgroups.v2 import V2Manager

    assert lay.unified is not None
    return HybridManager(v1, V2Manager(layout.unified_path(lay, inner), lay.unified.mountpoint))


def load_manager(paths: dict[str, Any]) -> CgroupManager:
    """Rebuild the driver from a saved paths() dict, without reading mountinfo.

    {"": dir} is v2; "" with v1 keys is hybrid; v1 keys alone are v1 (runc's cgroup_paths shape).
    """
    unified = paths.get("")
    if unified is not None and len(paths) == 1:
        from runk.linux.cgroups.v2 import V2Manager

        return V2Manager(unified)
    from runk.linux.cgroups.v1 import V1Manager

    v1 = V1Manager(paths)
    if unified is None:
        return v1
    from runk.linux.cgroups.hybrid import HybridManager
    from runk.linux.cgroups.v2 import V2Manager

    return HybridManager(v1, V2Manager(unified))


def mount_plan(manager: CgroupManager) -> list[tuple[str, str]]:
    """[(/sys/fs/cgroup/<subdir>, host dir of the container)] for the container's cgroup mounts."""
    from runk.linux.cgroups.mounts import mount_plan as plan

    return plan(manager)


def default_devices() -> tuple[Any, ...]:
    """runc's default allowed devices: (path|None, type, major, minor, access, mode) rows."""
    from runk.linux.cgroups.devices_rules import DEFAULT_DEVICES

    return DEFAULT_DEVICES


def container_rules(
    resources_devices: list[Any] | None, linux_devices: list[Any] | None = None
) -> list[dict[str, Any]]:
    """linux.resources.devices + runc's default allow-list: the list to pass as resources["devices"]."""
    from runk.linux.cgroups.devices_rules import container_rules as rules

    return rules(resources_devices, linux_devices)


def freezer_state(paths: dict[str, Any]) -> str:
    """ "FROZEN", "THAWED" or "" from a saved paths() dict, reading one file: the hot path of
    `state` and `list` (runc isPaused), without loading a manager. A hybrid container is
    paused when either its v1 freezer or its cgroup2 group is frozen."""
    from runk import _os as os

    state = ""
    v1 = paths.get("freezer")
    if v1:
        try:
            with open(os.path.join(v1, "freezer.state"), "rb") as f:
                state = "FROZEN" if f.read().strip() in (b"FROZEN", b"FREEZING") else "THAWED"
        except OSError:
            pass
        if state == "FROZEN":
            return state
    unified = paths.get("")
    if unified:
        try:
            with open(os.path.join(unified, "cgroup.freeze"), "rb") as f:
                return "FROZEN" if f.read().strip() == b"1" else "THAWED"
        except OSError:
            pass
    return state


def kill_leftovers(paths: dict[str, Any], sig: int) -> None:
    """Signal whatever a container's groups still hold, from a saved paths() dict, loading a
    manager only when there is something (delete of a stopped container, a failed create's
    undo). Errors are ignored: what cannot be signalled shows when its groups are removed."""
    from runk.errors import RunkError
    from runk.linux.cgroups.saved import all_pids

    try:
        if all_pids(paths):
            load_manager(paths).kill_all(sig)
    except (OSError, RunkError):
        pass
