"""The container's external mounts, as CRIU must be told of them (ext_mnt key -> value).

Runs in the parent. A mount whose source lies outside the container (a bind mount of the bundle,
the cgroup directories bound at /sys/fs/cgroup without a cgroup namespace, linux.devices bound in
a user namespace, /dev/null over a masked file) cannot be saved in the images: at dump each is
named (runc names them by their destination, masked files by "/dev/null"); at restore each name
is given the host path to bind again (the bind source, the new cgroup directory, /dev/null).
Destinations are cleaned and kept inside the root as the init resolved them.
"""

from __future__ import annotations

import posixpath

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

DEV_NULL = "/dev/null"


def _clean(dest: str) -> str:
    return posixpath.normpath("/" + dest.lstrip("/"))


def _is_bind(m: dict[str, Any]) -> bool:
    return m.get("type") == "bind" or any(o in ("bind", "rbind") for o in m.get("options") or ())


def _has_cgroupns(cfg: dict[str, Any]) -> bool:
    return any(n.get("type") == "cgroup" for n in (cfg.get("linux") or {}).get("namespaces") or [])


def external_binds(cfg: dict[str, Any], cgroup_paths: dict[str, str] | None) -> list[tuple[str, str]]:
    """[(destination in the container, host source)] of every mount from outside it."""
    out: list[tuple[str, str]] = []
    cgroupns = _has_cgroupns(cfg)
    for m in cfg.get("mounts") or []:
        dest = _clean(str(m.get("destination") or "/"))
        if _is_bind(m):
            out.append((dest, str(m.get("source") or "")))
        elif m.get("type") == "cgroup" and not cgroupns and cgroup_paths:
            from runk.linux.cgroups import load_manager
            from runk.linux.cgroups.mounts import mount_plan

            out += [(_clean(d), src) for d, src in mount_plan(load_manager(cgroup_paths), dest)]
    # the device nodes of the container (the default ones and linux.devices) are named too, as
    # runc does: a bind of the host's node in a user namespace
    from runk.linux.cgroups import default_devices

    nodes = [row[0] for row in default_devices() if row[0]]
    nodes += [str(dev.get("path") or "") for dev in (cfg.get("linux") or {}).get("devices") or []]
    for node in dict.fromkeys(_clean(n) for n in nodes if n):
        out.append((node, node))
    return out


def dump_map(cfg: dict[str, Any], cgroup_paths: dict[str, str] | None, masked_files: list[str]) -> list[dict[str, str]]:
    """ext_mnt for a dump: each external mount named by its destination, masked files by
    /dev/null (masked_files: the masked paths that are files in the running container)."""
    out = [{"key": dest, "val": dest} for dest, _src in external_binds(cfg, cgroup_paths)]
    out += [{"key": _clean(p), "val": DEV_NULL} for p in masked_files]
    return out


def restore_map(cfg: dict[str, Any], cgroup_paths: dict[str, str] | None) -> list[dict[str, str]]:
    """ext_mnt for a restore: each name the dump gave, with the host path to bind there now."""
    out = [{"key": dest, "val": src} for dest, src in external_binds(cfg, cgroup_paths)]
    if (cfg.get("linux") or {}).get("maskedPaths"):
        out.append({"key": DEV_NULL, "val": DEV_NULL})
    return out


def masked_files(pid: int, cfg: dict[str, Any]) -> list[str]:
    """The masked paths that exist as non-directories in the running container (a masked
    directory is a tmpfs of its own, saved in the images)."""
    import stat

    from runk import _os as os

    out = []
    for p in (cfg.get("linux") or {}).get("maskedPaths") or []:
        try:
            st = os.stat(f"/proc/{pid}/root/{p.lstrip('/')}")
        except OSError:
            continue
        if not stat.S_ISDIR(st.st_mode):
            out.append(p)
    return out


def _under_tmpfs(dest: str, tmpfs: list[str]) -> bool:
    return any(dest.startswith(t.rstrip("/") + "/") for t in tmpfs)


def make_mountpoints(rootfs: str, cfg: dict[str, Any]) -> None:
    """Where CRIU will bind an external mount again, the mount point must exist in the root (a
    tmpfs's content comes back from the images, so points below one are left to it). Each is
    made inside the root without following a link out of it."""
    from runk import _os as os
    from runk.linux import paths

    tmpfs = [_clean(str(m.get("destination") or "/")) for m in cfg.get("mounts") or [] if m.get("type") == "tmpfs"]
    root = os.open(rootfs, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for m in cfg.get("mounts") or []:
            dest = _clean(str(m.get("destination") or "/"))
            if dest == "/" or _under_tmpfs(dest, tmpfs) or m.get("type") == "cgroup":
                continue
            kind = "dir"
            if _is_bind(m):
                src = str(m.get("source") or "")
                kind = "dir" if os.path.isdir(src) else "file"
            fd = paths.open_in_root(root, dest, create=kind)
            os.close(fd)
    finally:
        os.close(root)
