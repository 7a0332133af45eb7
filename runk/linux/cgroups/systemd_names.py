"""systemd unit and slice names for the systemd cgroup driver: cgroupsPath "slice:prefix:name",
the unit it names, the slice nesting and the unit's cgroup directory, as runc computes them.

Runs in the parent; pure (imports runk.errors only).
"""

from __future__ import annotations

from runk.errors import CgroupError

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
