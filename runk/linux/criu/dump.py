"""Checkpoint (dump or pre-dump) of a running container's process tree into an image directory.

Runs in the parent (`runk checkpoint`). The request is runc's (libcontainer Checkpoint): the
init's pid and root, the container's cgroup frozen by CRIU (freeze_cgroup), cgroups saved
(manage_cgroups), external mounts named (runk.linux.criu.mounts), joined namespaces declared
external, the pty master left out (orphan_pts_master: restore makes a new one), the init's stdio
recorded in descriptors.json. A pre-dump saves memory only and leaves the tasks running; a later
dump with --parent-path saves what changed since (track_mem).
"""

from __future__ import annotations

from runk import _os as os
from runk.errors import RunkError
from runk.linux.criu import descriptors, mounts, namespaces, rpc, swrk

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from runk.linux.criu.options import CriuOptions

DEFAULT_CONFIG = "/etc/criu/runk.conf"
CONFIG_ANNOTATION = "org.criu.config"
LOG_LEVEL = 4


def open_dir(path: str) -> int:
    """mkdir (0700) if missing, then an fd CRIU gets (not close-on-exec in CRIU: passed)."""
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        pass
    except OSError as e:
        raise RunkError(f"mkdir {path}: {os.strerror(e.errno or 0).lower()}") from None
    try:
        return os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError as e:
        raise RunkError(f"open {path}: {os.strerror(e.errno or 0).lower()}") from None


def common_opts(o: CriuOptions, cfg: dict[str, Any], log_file: str) -> dict[str, Any]:
    """What dump and restore both send."""
    annotations = cfg.get("annotations") or {}
    config_file = annotations.get(CONFIG_ANNOTATION, DEFAULT_CONFIG) or None
    opts: dict[str, Any] = {
        "log_level": LOG_LEVEL,
        "log_file": log_file,
        "manage_cgroups": True,
        "notify_scripts": True,
        "shell_job": o.shell_job,
        "ext_unix_sk": o.ext_unix_sk,
        "tcp_established": o.tcp_established,
        "file_locks": o.file_locks,
        "empty_ns": o.empty_ns,
        "orphan_pts_master": True,
        "auto_dedup": o.auto_dedup,
        "lazy_pages": o.lazy_pages,
        "config_file": config_file,
    }
    if o.manage_cgroups_mode:
        opts["manage_cgroups_mode"] = rpc.CG_MODES[o.manage_cgroups_mode]
    return opts


def log_path(o: CriuOptions, name: str) -> str:
    return os.path.join(o.work_path or o.image_path, name)


def _freeze_cgroup(cgroup_paths: dict[str, str] | None, version: int) -> str | None:
    paths = cgroup_paths or {}
    if "freezer" in paths:
        return paths["freezer"]
    if list(paths) == [""] and version >= 31400:  # CRIU freezes a v2 group since 3.14
        return paths[""]
    return None


def _status_fd(fd: int) -> None:
    import fcntl

    try:
        flags = fcntl.fcntl(fd, fcntl.F_GETFL)
    except OSError as e:
        raise RunkError(f"invalid --status-fd argument {fd}: {os.strerror(e.errno or 0).lower()}") from None
    if flags & 3 == os.O_RDONLY:  # O_ACCMODE
        raise RunkError(f"invalid --status-fd argument {fd}: not writable")


def checkpoint(
    criu: str, pid: int, rootfs: str, cfg: dict[str, Any], cgroup_paths: dict[str, str] | None, o: CriuOptions
) -> None:
    version = swrk.check_version(criu)
    fds: list[int] = []
    try:
        image_fd = open_dir(o.image_path)
        fds.append(image_fd)
        opts = common_opts(o, cfg, "dump.log")
        opts.update(images_dir_fd=image_fd, root=rootfs, pid=pid, leave_running=o.leave_running)
        if o.work_path:
            fds.append(open_dir(o.work_path))
            opts["work_dir_fd"] = fds[-1]
        opts["external"] = namespaces.dump_externals(cfg)
        opts["freeze_cgroup"] = _freeze_cgroup(cgroup_paths, version)
        if o.page_server is not None:
            opts["ps"] = {"address": o.page_server[0], "port": o.page_server[1]}
        if o.parent_path:
            opts.update(parent_img=o.parent_path, track_mem=True)
        rtype = rpc.DUMP
        if o.pre_dump:
            swrk.has_features(criu, opts, {"mem_track": True})
            rtype = rpc.PRE_DUMP
        if o.lazy_pages:
            swrk.has_features(criu, opts, {"lazy_pages": True})
            if o.status_fd != -1:
                _status_fd(o.status_fd)
                opts["status_fd"] = o.status_fd
        if not o.pre_dump:
            opts["ext_mnt"] = mounts.dump_map(cfg, cgroup_paths, mounts.masked_files(pid, cfg), rootfs)
            descriptors.write(o.image_path, pid)
        passed = fds + ([o.status_fd] if o.lazy_pages and o.status_fd != -1 else [])
        swrk.run(criu, rtype, opts, log_path=log_path(o, "dump.log"), extra_fds=passed)
    finally:
        for fd in fds:
            os.close(fd)
