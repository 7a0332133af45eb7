"""Cgroups for a rootless runk: use the groups it may make and join, run without the others.

Runs in the parent (create). Imports runk._os, fs and layout; the controller tables only when
limits are asked.

runc 1.1.5's rootless cgroupfs rule (fs.go / fs2.go Apply and Set), checked on this host:
- with no explicit cgroupsPath, a hierarchy where the caller may not make or join the
  container's group (EACCES, EPERM, EROFS) is left out: the container stays in the caller's own
  group there, and a cgroup mount shows that group;
- a limit that needs a left-out hierarchy fails create with "cannot set <controller> limit:
  container could not join or create cgroup" (cgroup v1), or on cgroup v2 "rootless needs no
  limits + no cgrouppath when no permission is granted for cgroups: <why>";
- device rules are not applied (a user namespace may not load a device program or write
  devices.allow);
- with an explicit cgroupsPath a permission error stays an error, except on the hierarchies
  runc joins only when it can (name=systemd, a hybrid host's unified one), which are left out.
A delegated group (cgroup v2 under the user's systemd instance) is the caller's own: it is used
and its limits apply.
"""

from __future__ import annotations

import errno

from runk import _os as os
from runk.errors import CgroupError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from runk.linux.cgroups.base import CgroupManager

_DENIED = (errno.EACCES, errno.EPERM, errno.EROFS)


def may_use(path: str) -> str | None:
    """None if this process may make the group at `path` (or it exists) and move a task into
    it; else why not, as the failing call would say it."""
    probe = path
    while not os.path.isdir(probe):
        parent = os.path.dirname(probe)
        if parent == probe:
            return f"mkdir {path}: no such file or directory"
        probe = parent
    if probe == path:
        target = os.path.join(path, "cgroup.procs")
        if not os.access(target, os.W_OK):
            return f"open {target}: permission denied"
        return None
    if not os.access(probe, os.W_OK | os.X_OK):
        missing = path
        while os.path.dirname(missing) != probe:
            missing = os.path.dirname(missing)
        return f"mkdir {missing}: permission denied"
    return None


def without_devices(resources: dict[str, Any]) -> dict[str, Any]:
    """The resources a rootless container applies: no device rules."""
    return {k: v for k, v in resources.items() if k != "devices"}


def narrow(
    mgr: CgroupManager, resources: dict[str, Any], explicit_path: bool
) -> tuple[CgroupManager | None, dict[str, str]]:
    """(the manager of the usable groups or None, {hierarchy: the host directory the
    container is in}) for a rootless create; CgroupError (runc's words) when a limit needs a
    group it cannot have."""
    paths = mgr.paths()
    denied = {k: why for k, p in paths.items() if (why := may_use(p)) is not None}
    if explicit_path:
        # an explicit path's permission error stays the error create gives, but for the
        # hierarchies runc only joins when it can (named ones, a hybrid host's unified one)
        denied = {k: why for k, why in denied.items() if _join_if_possible(k, paths)}
    if not denied:
        return mgr, paths
    kept = {k: p for k, p in paths.items() if k not in denied}
    _check_limits(paths, kept, denied, resources)
    from runk.linux.cgroups import load_manager

    view = dict(kept)
    view.update(_own_dirs(denied))
    return (load_manager(kept) if kept else None), view


def _join_if_possible(key: str, paths: dict[str, str]) -> bool:
    """A hierarchy without controllers of its own on a cgroup v1 host: name=systemd, or the
    unified one of a hybrid host ("" beside v1 keys). runc joins those and ignores failure."""
    return key.startswith("name=") or (key == "" and len(paths) > 1)


def _check_limits(
    paths: dict[str, str], kept: dict[str, str], denied: dict[str, str], resources: dict[str, Any]
) -> None:
    res = without_devices(resources)
    if not res:
        return
    if list(paths) == [""]:
        from runk.linux.cgroups.v2 import controllers as v2_controllers

        if any(c.needs(res) for c in v2_controllers(res)):
            raise CgroupError(
                "rootless needs no limits + no cgrouppath when no permission is granted for cgroups: " + denied[""]
            )
        return
    from runk.linux.cgroups.v1 import controllers as v1_controllers

    for c in v1_controllers(res):
        if c.needs(res) and c.name not in kept:
            raise CgroupError(f"cannot set {c.name} limit: container could not join or create cgroup")


def _own_dirs(keys: dict[str, str]) -> dict[str, str]:
    """{hierarchy: host directory of runk's own group} for the left-out hierarchies."""
    from runk.linux.cgroups import layout

    lay = layout.detect()
    return {k: d for k in keys if (d := layout.own_dir(lay, k)) is not None}
