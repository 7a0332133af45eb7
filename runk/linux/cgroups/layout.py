"""Cgroup layout of this host (v1 / hybrid / v2) and the container's cgroup paths, as runc computes them.

Runs in the parent. Reads /proc/self/mountinfo and /proc/self/cgroup on every call (no cache: a
runk process lives for one command). Imports only os and os.path.

Path rules (runc 1.1.5 libcontainer/cgroups/fs/paths.go and fs2/defaultpath.go, checked against
/usr/sbin/runc on this host):
- an empty cgroupsPath means the relative path "<container id>";
- an absolute path is taken below each hierarchy's mount point;
- a relative path is taken, on v1, below runk's *own* cgroup in each hierarchy (so memory may land
  under /sys/fs/cgroup/memory/<own>/<id> while cpu lands at /sys/fs/cgroup/cpu/<id>); on the
  unified mount of a hybrid host below the mount point (runc's hybridMountpoint); on pure v2 below
  the *parent* of runk's own cgroup (a cgroup holding processes cannot enable controllers).
"""

from __future__ import annotations

from runk import _os as os

V1 = "v1"
HYBRID = "hybrid"
V2 = "v2"

DEFAULT_ROOT = "/sys/fs/cgroup"


class Mount:
    """One cgroup mount: where it is, which cgroup it shows as its root, and its controllers."""

    __slots__ = ("controllers", "fstype", "mountpoint", "root")

    def __init__(self, mountpoint: str, root: str, fstype: str, controllers: tuple[str, ...]) -> None:
        self.mountpoint = mountpoint
        self.root = root
        self.fstype = fstype
        self.controllers = controllers

    def __repr__(self) -> str:
        return f"Mount({self.mountpoint!r}, {self.fstype}, {','.join(self.controllers)})"


class Layout:
    """kind (V1, HYBRID or V2), v1 mounts by controller key, and the cgroup2 mount if any."""

    __slots__ = ("kind", "own", "unified", "v1")

    def __init__(self, kind: str, v1: dict[str, Mount], unified: Mount | None, own: dict[str, str]) -> None:
        self.kind = kind
        self.v1 = v1
        self.unified = unified
        self.own = own

    def v1_mounts(self) -> list[Mount]:
        """Distinct v1 mounts, in mountinfo order."""
        seen: dict[int, Mount] = {}
        for m in self.v1.values():
            seen.setdefault(id(m), m)
        return list(seen.values())


def _unescape(s: str) -> str:
    # mountinfo escapes space, tab, newline and backslash as \ooo (octal).
    if "\\" not in s:
        return s
    out = []
    i = 0
    while i < len(s):
        if s[i] == "\\" and i + 4 <= len(s) and s[i + 1 : i + 4].isdigit():
            out.append(chr(int(s[i + 1 : i + 4], 8)))
            i += 4
        else:
            out.append(s[i])
            i += 1
    return "".join(out)


def parse_own_cgroups(text: str) -> dict[str, str]:
    """/proc/<pid>/cgroup → {controller key: path}; "" is the cgroup2 entry, "name=systemd" kept."""
    own: dict[str, str] = {}
    for line in text.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        _, ctrls, path = parts
        if ctrls == "":
            own[""] = path
            continue
        for c in ctrls.split(","):
            own[c] = path
    return own


def parse_mounts(mountinfo: str, known: set[str]) -> list[Mount]:
    """cgroup and cgroup2 mounts from mountinfo text; `known` is the set of v1 controller keys."""
    mounts = []
    for line in mountinfo.splitlines():
        head, sep, tail = line.partition(" - ")
        if not sep:
            continue
        post = tail.split(" ")
        if not post or post[0] not in ("cgroup", "cgroup2"):
            continue
        fields = head.split(" ")
        if len(fields) < 5:
            continue
        root, mountpoint = _unescape(fields[3]), _unescape(fields[4])
        if post[0] == "cgroup2":
            mounts.append(Mount(mountpoint, root, "cgroup2", ()))
            continue
        opts = post[2].split(",") if len(post) > 2 else []
        ctrls = tuple(o for o in opts if o in known)
        if ctrls:
            mounts.append(Mount(mountpoint, root, "cgroup", ctrls))
    return mounts


def _prefer_default(mounts: list[Mount]) -> list[Mount]:
    # The same hierarchy may be mounted more than once (bind mounts); prefer /sys/fs/cgroup/...
    return sorted(
        mounts, key=lambda m: not m.mountpoint.startswith(DEFAULT_ROOT + "/") and m.mountpoint != DEFAULT_ROOT
    )


def detect(mountinfo: str | None = None, proc_cgroup: str | None = None) -> Layout:
    """The host layout from mountinfo; arguments are for tests (defaults read /proc/self/...)."""
    if proc_cgroup is None:
        with open("/proc/self/cgroup") as f:
            proc_cgroup = f.read()
    if mountinfo is None:
        with open("/proc/self/mountinfo") as f:
            mountinfo = f.read()
    own = parse_own_cgroups(proc_cgroup)
    known = {k for k in own if k}
    v1: dict[str, Mount] = {}
    unified: Mount | None = None
    for m in _prefer_default(parse_mounts(mountinfo, known)):
        if m.fstype == "cgroup2":
            if unified is None:
                unified = m
            continue
        for c in m.controllers:
            v1.setdefault(c, m)
    if v1:
        kind = HYBRID if unified is not None else V1
    elif unified is not None:
        kind = V2
    else:
        from runk.errors import CgroupError

        raise CgroupError("no cgroup filesystem is mounted (see /proc/self/mountinfo)")
    return Layout(kind, v1, unified, own)


def clean_path(p: str) -> str:
    """runc's utils.CleanPath: normalize; a relative path can never climb above its base."""
    if not p:
        return ""
    p = os.path.normpath(p)
    if not p.startswith("/"):
        p = os.path.normpath("/" + p)[1:] or "."
    return p


def inner_path(cgroups_path: str | None, container_id: str) -> str:
    """The cgroup path below a hierarchy: cgroupsPath, or the container id when it is empty."""
    inner = clean_path(cgroups_path or "")
    if not inner or inner == ".":
        inner = clean_path(container_id)
    return inner


def _below(mount: Mount, cgroup: str) -> str:
    """Host directory of `cgroup` (a path as /proc/self/cgroup shows it) in `mount`."""
    rel = os.path.relpath(cgroup, mount.root) if cgroup.startswith("/") else cgroup
    if rel in (".", "..") or rel.startswith("../"):
        return mount.mountpoint
    return os.path.join(mount.mountpoint, rel)


def own_dir(layout: Layout, key: str) -> str | None:
    """Host directory of runk's own group in hierarchy `key` ("" the cgroup2 mount)."""
    m = layout.unified if key == "" else layout.v1.get(key)
    return _below(m, layout.own.get(key, "/")) if m is not None else None


def v1_paths(layout: Layout, inner: str) -> dict[str, str]:
    """{controller key: host dir} for every v1 controller (runc fs initPaths)."""
    out = {}
    for key, m in layout.v1.items():
        if inner.startswith("/"):
            out[key] = os.path.join(m.mountpoint, inner.lstrip("/"))
        else:
            out[key] = os.path.join(_below(m, layout.own.get(key, "/")), inner)
    return out


def unified_path(layout: Layout, inner: str) -> str:
    """Host dir of the container cgroup in the cgroup2 mount (hybrid: below the mount point)."""
    m = layout.unified
    assert m is not None
    if inner.startswith("/"):
        return os.path.join(m.mountpoint, inner.lstrip("/"))
    if layout.kind == HYBRID:
        return os.path.join(m.mountpoint, inner)
    own = layout.own.get("", "/")
    return os.path.join(_below(m, os.path.dirname(own) or "/"), inner)


def systemd_running() -> bool:
    """runc's IsRunningSystemd: /run/systemd/system is a directory."""
    return os.path.isdir("/run/systemd/system") and not os.path.islink("/run/systemd/system")
