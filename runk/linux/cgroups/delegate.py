"""Delegation of a systemd unit's group to the container (runc's OwnerUID, cgroup v2 under the
systemd driver): when the container has a cgroup namespace of its own and a read-write cgroup
mount at /sys/fs/cgroup, the group's directory and the files the kernel lists in
/sys/kernel/cgroup/delegate are chowned to the host uid of the container's process user, so its
root (in a user namespace) can make and manage sub-groups. Runs in the parent, at the unit's start.
"""

from __future__ import annotations

import errno

from runk import _os as os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

DELEGATE_LIST = "/sys/kernel/cgroup/delegate"
DEFAULT_FILES = ("cgroup.procs", "cgroup.subtree_control", "cgroup.threads")  # cgroups(7), before 4.15


def _new_cgroup_ns(linux: dict[str, Any]) -> bool:
    return any(ns.get("type") == "cgroup" and not ns.get("path") for ns in linux.get("namespaces") or ())


def _rw_cgroup_mount(cfg: dict[str, Any]) -> bool:
    """A mount of source "cgroup" at /sys/fs/cgroup whose options leave MS_RDONLY clear (the
    options read as the init reads them: runk.linux.mounts.MountSpec)."""
    from runk._native import lib
    from runk.linux.mounts import MountSpec

    for i, m in enumerate(cfg.get("mounts") or ()):
        dest = os.path.normpath(m.get("destination") or "")
        if m.get("source") != "cgroup" or dest != "/sys/fs/cgroup":
            continue
        if not MountSpec(i, m["source"], dest, m.get("type"), list(m.get("options") or ())).flags & lib.MS_RDONLY:
            return True
    return False


def owner_uid(cfg: dict[str, Any]) -> int | None:
    """The host uid to own the group, or None: runc's rule (a new cgroup namespace and a
    read-write cgroup mount; the process user's uid through uidMappings when there is a user
    namespace, as it is otherwise; an unmapped user gets none)."""
    linux = cfg.get("linux") or {}
    if not _new_cgroup_ns(linux) or not _rw_cgroup_mount(cfg):
        return None
    uid = int(((cfg.get("process") or {}).get("user") or {}).get("uid") or 0)
    if not any(ns.get("type") == "user" for ns in linux.get("namespaces") or ()):
        return uid
    for m in linux.get("uidMappings") or ():
        start, size = int(m["containerID"]), int(m["size"])
        if start <= uid < start + size:
            return int(m["hostID"]) + uid - start
    return None


def delegated_files() -> list[str]:
    try:
        with open(DELEGATE_LIST) as f:
            return [line.strip() for line in f if line.strip()]
    except OSError:
        return list(DEFAULT_FILES)


def chown_group(path: str, uid: int) -> None:
    """Give the group's directory and its delegated files to uid (the group id unchanged); a
    listed file the group lacks is skipped."""
    os.chown(path, uid, -1)
    for name in delegated_files():
        try:
            os.chown(os.path.join(path, name), uid, -1)
        except OSError as e:
            if e.errno != errno.ENOENT:
                raise
