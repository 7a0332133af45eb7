"""The container's external mounts, as CRIU must be told of them (ext_mnt key -> value).

Runs in the parent. A mount whose source lies outside the container (a bind mount of the bundle,
the cgroup v1 directories bound at /sys/fs/cgroup without a cgroup namespace, linux.devices bound in
a user namespace, /dev/null over a masked file) cannot be saved in the images: at dump each is
named (runc names them by their destination, masked files by "/dev/null"); at restore each name
is given the host path to bind again (the bind source, the new cgroup directory, /dev/null).
A destination is named where the init mounted it: its symlinks in the rootfs followed and kept
inside the root (in_root), so a bind at /conf -> /real/conf is the mount CRIU finds at /real/conf.

Before a restore the mount points are made in the rootfs (make_mountpoints), through the bind
mounts the container had, each bound there for the time it takes: a mount nested in a bind mount
(/test/for/nested inside the bind at /test) needs its point in the bind's source, which may have
lost it since the dump.
"""

from __future__ import annotations

import posixpath

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

DEV_NULL = "/dev/null"


def _clean(dest: str) -> str:
    return posixpath.normpath("/" + dest.lstrip("/"))


_MAX_LINKS = 255


def in_root(rootfs: str, dest: str) -> str:
    """`dest` as the init resolved it in `rootfs`: each symlink in the rootfs followed (an absolute
    target from the root), ".." never above the root; what does not exist is kept as written.
    Returns the clean path inside the root ("/" + ...)."""
    from runk import _os as os

    done: list[str] = []
    todo = [c for c in dest.split("/") if c and c != "."]
    links = 0
    while todo:
        comp = todo.pop(0)
        if comp == "..":
            if done:
                done.pop()
            continue
        host = os.path.join(rootfs, *done, comp)
        try:
            target = os.readlink(host)
        except OSError:  # not a link, or not there: taken as it is
            done.append(comp)
            continue
        links += 1
        if links > _MAX_LINKS:
            done.append(comp)
            todo = []
            break
        if target.startswith("/"):
            done = []
        todo[:0] = [c for c in target.split("/") if c and c != "."]
    return "/" + "/".join(done)


def _is_bind(m: dict[str, Any]) -> bool:
    return m.get("type") == "bind" or any(o in ("bind", "rbind") for o in m.get("options") or ())


def _has_cgroupns(cfg: dict[str, Any]) -> bool:
    return any(n.get("type") == "cgroup" for n in (cfg.get("linux") or {}).get("namespaces") or [])


def _source(m: dict[str, Any], bundle: str) -> str:
    """A bind mount's host source; a relative one is taken from the bundle, as create takes it."""
    from runk import _os as os

    src = str(m.get("source") or "")
    return src if not src or os.path.isabs(src) else os.path.normpath(os.path.join(bundle, src))


def external_binds(
    cfg: dict[str, Any], cgroup_paths: dict[str, str] | None, rootfs: str, bundle: str = ""
) -> list[tuple[str, str]]:
    """[(destination in the container as resolved in `rootfs`, host source)] of every mount from
    outside it (a relative bind source taken from `bundle`)."""
    out: list[tuple[str, str]] = []
    cgroupns = _has_cgroupns(cfg)
    for m in cfg.get("mounts") or []:
        dest = _clean(str(m.get("destination") or "/"))
        if _is_bind(m):
            out.append((dest, _source(m, bundle)))
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
    return [(in_root(rootfs, dest), src) for dest, src in out]


def dump_map(
    cfg: dict[str, Any], cgroup_paths: dict[str, str] | None, masked_files: list[str], rootfs: str
) -> list[dict[str, str]]:
    """ext_mnt for a dump: each external mount named by its destination, masked files by
    /dev/null (masked_files: the masked paths that are files in the running container)."""
    out = [{"key": dest, "val": dest} for dest, _src in external_binds(cfg, cgroup_paths, rootfs)]
    out += [{"key": _clean(p), "val": DEV_NULL} for p in masked_files]
    return out


def restore_map(
    cfg: dict[str, Any], cgroup_paths: dict[str, str] | None, rootfs: str, bundle: str
) -> list[dict[str, str]]:
    """ext_mnt for a restore: each name the dump gave, with the host path to bind there now."""
    out = [{"key": dest, "val": src} for dest, src in external_binds(cfg, cgroup_paths, rootfs, bundle)]
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


def make_mountpoints(rootfs: str, cfg: dict[str, Any], bundle: str) -> None:
    """Where CRIU will bind an external mount again, the mount point must exist in the root (a
    tmpfs's content comes back from the images, so points below one are left to it). Each is
    made inside the root without following a link out of it, in the config's order, with every
    bind mount before it bound at its place (as the init did), so that a point inside a bind
    mount is made in its source; those binds are undone before returning."""
    from runk import _os as os

    tmpfs = [_clean(str(m.get("destination") or "/")) for m in cfg.get("mounts") or [] if m.get("type") == "tmpfs"]
    root = os.open(rootfs, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    bound: list[str] = []
    try:
        for m in cfg.get("mounts") or []:
            dest = _clean(str(m.get("destination") or "/"))
            if dest == "/" or _under_tmpfs(dest, tmpfs) or m.get("type") == "cgroup":
                continue
            _mountpoint(root, dest, m, bundle, bound)
    finally:
        for dest in reversed(bound):
            _unbind(root, dest)
        os.close(root)


def _mountpoint(root: int, dest: str, m: dict[str, Any], bundle: str, bound: list[str]) -> None:
    """Make the point of mount `m` at `dest`; bind its source there when it is a bind mount
    (recorded in `bound`)."""
    from runk import _os as os
    from runk.linux import paths

    kind = "dir"
    src = ""
    if _is_bind(m):
        src = _source(m, bundle)
        kind = "dir" if os.path.isdir(src) else "file"
    fd = paths.open_in_root(root, dest, create=kind)
    try:
        if src:
            from runk._native import lib
            from runk.linux.syscalls import mount

            mount(src, paths.proc_fd(fd), None, lib.MS_BIND | lib.MS_REC, shown=dest)
            bound.append(dest)
    finally:
        os.close(fd)


def _unbind(root: int, dest: str) -> None:
    """Undo a bind of make_mountpoints (the mount now at `dest` in the root)."""
    from runk import _os as os
    from runk._native import lib
    from runk.linux import paths
    from runk.linux.syscalls import umount2

    try:
        fd = paths.open_in_root(root, dest)
    except OSError:
        return
    try:
        umount2(paths.proc_fd(fd), lib.MNT_DETACH)
    except OSError:
        pass
    finally:
        os.close(fd)
