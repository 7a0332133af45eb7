"""The systemd cgroup driver (--systemd-cgroup): cgroupsPath, unit and slice names, the unit's
cgroup directory, and make_manager.

Runs in the parent. Imports layout only; the driver (systemd_manager, systemd_bus and its D-Bus
library) loads in make_manager, once systemd is known to run. As runc: cgroupsPath is
"slice:prefix:name" (empty: the container id in a "runc-<id>.scope" of the default slice), the
unit is "<prefix>-<name>.scope", or the slice <name> when it ends in ".slice", and its cgroup is
<cgroup2 mount>/<slice expanded>/<unit> (for a user instance below the manager's own group).
Where systemd does not run (no /run/systemd/system) the error is runc's.
"""

from __future__ import annotations

from runk.errors import CgroupError
from runk.linux.cgroups import layout

TYPE_CHECKING = False
if TYPE_CHECKING:
    from runk.linux.cgroups.systemd_manager import SystemdManager

NOT_RUNNING = "systemd not running on this host, cannot use systemd cgroups manager"
DEFAULT_PREFIX = "runc"  # runc's scope prefix for an empty cgroupsPath (podman and tools expect it)
SYSTEM_SLICE = "system.slice"
USER_SLICE = "user.slice"
_SUFFIX = ".slice"
# systemd's unit_name_is_valid: these characters, at most 255 of them
_UNIT_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789:-_.\\@")
_UNIT_MAX = 255


def parse_path(cgroups_path: str | None, container_id: str = "") -> tuple[str, str, str]:
    """'slice:prefix:name' → (slice, prefix, name); empty is ("", "runc", <container id>) as in
    runc specconv; anything else (the cgroupfs form "/a/b" too) is runc's error."""
    if not cgroups_path:
        return ("", DEFAULT_PREFIX, container_id)
    parts = cgroups_path.split(":")
    if len(parts) != 3:
        raise CgroupError(
            'expected cgroupsPath to be of format "slice:prefix:name" for systemd '
            f'cgroups, got "{cgroups_path}" instead'
        )
    return (parts[0], parts[1], parts[2])


def unit_name(prefix: str, name: str) -> str:
    """The transient unit: the slice `name` itself, or the scope "<prefix>-<name>.scope"."""
    if name.endswith(_SUFFIX):
        return name
    return f"{prefix}-{name}.scope"


def is_slice(unit: str) -> bool:
    return unit.endswith(_SUFFIX)


def check_unit_name(unit: str) -> None:
    """Refuse what systemd would refuse, before anything is made (and a name that is not a single
    path component: the unit's cgroup directory is named after it)."""
    bad = unit.startswith(".") or len(unit) > _UNIT_MAX or any(c not in _UNIT_CHARS for c in unit)
    if bad or unit in (".scope", _SUFFIX):
        raise CgroupError(f'invalid systemd unit name "{unit}" (from linux.cgroupsPath)')


def expand_slice(slice_name: str) -> str:
    """systemd's slice nesting: "a-b-c.slice" → "/a.slice/a-b.slice/a-b-c.slice", "-.slice" → "/"."""
    if len(slice_name) < len(_SUFFIX) or not slice_name.endswith(_SUFFIX) or "/" in slice_name:
        raise CgroupError(f"invalid slice name: {slice_name}")
    stem = slice_name[: -len(_SUFFIX)]
    if stem == "-":
        return "/"
    path = ""
    prefix = ""
    for part in stem.split("-"):
        if not part:  # "a--b.slice", "-a.slice", "a-.slice"
            raise CgroupError(f"invalid slice name: {slice_name}")
        path += "/" + prefix + part + _SUFFIX
        prefix += part + "-"
    return path


def unit_dir(mountpoint: str, slice_full: str, unit: str) -> str:
    """<mount>/<slice path>/<unit>: the unit's cgroup directory (slice_full is absolute within the
    hierarchy, e.g. "/system.slice" or "/user.slice/user-1000.slice/user@1000.service/user.slice")."""
    parts = [p for p in slice_full.split("/") if p]
    for p in parts:
        if p in (".", ".."):
            raise CgroupError(f"invalid slice path {slice_full}")
    return "/".join([mountpoint.rstrip("/"), *parts, unit])


def user_instance() -> bool:
    """Talk to the caller's systemd user instance rather than the system's: runk runs as a user
    (rootless), as runc picks the user bus for a rootless container."""
    from runk import _os as os

    return bool(os.geteuid() != 0)


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
