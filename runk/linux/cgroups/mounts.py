"""Which host cgroup directories a container sees at /sys/fs/cgroup (runc-style cgroup mounts).

Runs in the parent, to build the init's mount plan. Imports layout only. runc (rootfs_linux.go
mountCgroupV1) mounts a tmpfs at /sys/fs/cgroup, bind-mounts the container's own directory of each
v1 hierarchy at /sys/fs/cgroup/<basename of the host mount point>, and links each controller of a
co-mounted hierarchy ("cpu,cpuacct") to that directory. runc 1.1.5 does not bind the unified mount of
a hybrid host. With a cgroup namespace runc mounts a fresh `cgroup` filesystem (data: the basename,
"name=systemd" for systemd) at the same places instead of binding.
"""

from __future__ import annotations

from runk import _os as os
from runk.linux.cgroups import layout

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from runk.linux.cgroups.base import CgroupManager

CGROUP_ROOT = "/sys/fs/cgroup"


def mount_plan(manager: CgroupManager, root: str = CGROUP_ROOT) -> list[tuple[str, str]]:
    """[(container destination, host source dir)] of the binds a cgroup mount without a cgroup
    namespace makes (v1); none on v2, where it is a cgroup2 mount of its own."""
    paths = manager.paths()
    if list(paths) == [""]:
        return []
    lay = layout.detect()
    out = []
    for m in lay.v1_mounts():
        src = next((paths[k] for k in m.controllers if k in paths), None)
        if src is not None:
            out.append((os.path.join(root, os.path.basename(m.mountpoint)), src))
    return out


def _symlinks(lay: layout.Layout, root: str = CGROUP_ROOT) -> list[tuple[str, str]]:
    """[(link path, target)] for co-mounted controllers: cpu → "cpu,cpuacct" (runc symlinks)."""
    out = []
    for m in lay.v1_mounts():
        base = os.path.basename(m.mountpoint)
        if "," not in base:
            continue
        for c in base.split(","):
            out.append((os.path.join(root, c), base))
    return out


def _unified(manager: CgroupManager) -> str:
    """The host's cgroup2 mount point the manager's group lives under."""
    fs = getattr(manager, "fs", manager)  # the systemd driver's files are its V2Manager's
    mountpoint = getattr(fs, "mountpoint", None)
    if mountpoint:
        return str(mountpoint)
    lay = layout.detect()
    return lay.unified.mountpoint if lay.unified is not None else CGROUP_ROOT


def container_spec(manager: CgroupManager, cgroupns: bool) -> dict[str, Any]:
    """The init's plan for a config mount of type "cgroup" (runk.linux.rootfs._mount_cgroup):
    {"tmpfs": bool, "entries": [(subdir, host dir | None, fstype, data)], "links": [(name, to)]}.
    v1: a tmpfs with one bind per hierarchy, or with a cgroup namespace one fresh cgroup mount
    per hierarchy; v2: a fresh cgroup2 mount, "fallback" the directory to bind when the kernel
    refuses it (EPERM, EBUSY): with a namespace the container's group, else the host's mount."""
    paths = manager.paths()
    if list(paths) == [""]:
        if cgroupns:
            # "fallback": the group to bind when the kernel refuses the fresh mount (EPERM, EBUSY:
            # a rootless container's cgroup namespace), as runc falls back
            return {"tmpfs": False, "entries": [("", None, "cgroup2", "")], "links": [], "fallback": paths[""]}
        # no namespace: a fresh cgroup2 mount shows the whole hierarchy, the container's group at
        # its path as /proc/self/cgroup names it (runc 1.1.5 mountCgroupV2); where the kernel
        # refuses it (a user namespace without a cgroup one), the host's mount bound instead
        return {"tmpfs": False, "entries": [("", None, "cgroup2", "")], "links": [], "fallback": _unified(manager)}
    entries: list[tuple[str, str | None, str | None, str | None]] = []
    lay = layout.detect()
    for m in lay.v1_mounts():
        src = next((paths[k] for k in m.controllers if k in paths), None)
        if src is None:
            continue
        sub = os.path.basename(m.mountpoint)
        if cgroupns:
            data = ",".join(("name=" + c[len("name=") :]) if c.startswith("name=") else c for c in m.controllers)
            entries.append((sub, None, "cgroup", data))
        else:
            entries.append((sub, src, None, None))
    links = [(os.path.basename(link), to) for link, to in _symlinks(lay)]  # one read of the layout
    return {"tmpfs": True, "entries": entries, "links": links}
