"""Restore of a container's process tree from an image directory, into a cgroup made for it.

Runs in the parent (`runk restore`). The request is runc's (libcontainer Restore): CRIU wants a
root that is a mount point whose parent is not overmounted, so the rootfs is bound (recursively)
at <state dir>/criu-root for the time of the restore; the restored init is made runk's child
(rst_sibling), external mounts are bound again (runk.linux.criu.mounts), joined namespaces are
handed over (runk.linux.criu.namespaces), the stdio pipes are replaced by runk's own
(descriptors.json). CRIU's own process is put into the container's cgroup before it reads the
request (on_spawn: whatever driver made the group, the cgroupfs one or a systemd unit), so every
restored task starts there; on cgroup v1 CRIU is told those groups are the tasks' roots.

The caller learns the restored init's pid through on_restored (CRIU's "post-restore", before the
tasks run), runs its hooks at "setup-namespaces", and gets the new pty master on console_fd.
"""

from __future__ import annotations

from runk import _os as os
from runk.errors import RunkError
from runk.linux.criu import descriptors, dump, mounts, namespaces, rpc, swrk

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from runk.linux.cgroups.base import CgroupManager
    from runk.linux.criu.options import CriuOptions

ROOT_DIR = "criu-root"


class Callbacks:
    """What the caller does at CRIU's notifications (each may raise: the restore then fails)."""

    __slots__ = ("on_restored", "on_setup_namespaces")

    def __init__(self, on_setup_namespaces: Callable[[int], None], on_restored: Callable[[int], None]) -> None:
        self.on_setup_namespaces = on_setup_namespaces
        self.on_restored = on_restored


def _cgroup_roots(pid: int) -> list[dict[str, str]]:
    """cg_root entries from the groups `pid` is in (cgroup v1: each hierarchy's line)."""
    out = []
    with open(f"/proc/{pid}/cgroup") as f:
        for line in f:
            _hid, ctrls, path = line.rstrip("\n").split(":", 2)
            for ctrl in ctrls.split(","):
                if ctrl:
                    out.append({"ctrl": ctrl, "path": path})
    return out


def _status_ready(fd: int) -> None:
    if fd < 0:
        return
    try:
        os.write(fd, b"\0")
    except OSError as e:
        from runk import log

        log.warn(f"can't write \\0 to status fd: {os.strerror(e.errno or 0).lower()}")


class _Notifications:
    __slots__ = ("callbacks", "console_fd", "status_fd")

    def __init__(self, callbacks: Callbacks, console_fd: int | None, status_fd: int) -> None:
        self.callbacks, self.console_fd, self.status_fd = callbacks, console_fd, status_fd

    def __call__(self, script: str, pid: int, fds: list[int]) -> None:
        if script == "setup-namespaces":
            self.callbacks.on_setup_namespaces(pid)
        elif script == "post-restore":
            self.callbacks.on_restored(pid)
        elif script == "orphan-pts-master":
            if not fds:
                raise RunkError("criu sent no terminal with orphan-pts-master")
            if self.console_fd is None:
                raise RunkError("the checkpoint has a terminal: restore it with --console-socket")
            from runk.linux.console import send_master

            fd, self.console_fd = self.console_fd, None
            send_master(fd, fds[0])
        elif script == "status-ready":
            _status_ready(self.status_fd)
            self.status_fd = -1


def _bind_root(state_dir: str, rootfs: str) -> str:
    root = os.path.join(state_dir, ROOT_DIR)
    os.mkdir(root, 0o755)
    try:
        from runk._native import lib
        from runk.linux.syscalls import mount

        mount(rootfs, root, None, lib.MS_BIND | lib.MS_REC)
    except BaseException:
        os.rmdir(root)
        raise
    return root


def _unbind_root(root: str) -> None:
    from runk._native import lib
    from runk.linux.syscalls import umount2

    try:
        umount2(root, lib.MNT_DETACH)
    finally:
        os.rmdir(root)


def restore(
    criu: str,
    state_dir: str,
    rootfs: str,
    bundle: str,
    cfg: dict[str, Any],
    o: CriuOptions,
    mgr: CgroupManager | None,
    callbacks: Callbacks,
    console_fd: int | None,
) -> int:
    """Restore; returns the restored init's pid (runk's child). Relative bind sources are the
    bundle's."""
    version = swrk.check_version(criu)
    for flag, value in (("--lsm-profile", o.lsm_profile), ("--lsm-mount-context", o.lsm_mount_context)):
        if value and version < 31600:
            raise RunkError(f"{flag} requires at least CRIU 3.16")
    try:
        image_fd = os.open(o.image_path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError as e:
        raise RunkError(f"open {o.image_path}: {os.strerror(e.errno or 0).lower()}") from None
    passed = [image_fd]
    inherit: list[tuple[str, int]] = []
    root = None
    try:
        opts = dump.common_opts(o, cfg, "restore.log")
        opts.update(images_dir_fd=image_fd, evasive_devices=True, rst_sibling=True)
        opts.update(lsm_profile=o.lsm_profile or None, lsm_mount_context=o.lsm_mount_context or None)
        if o.work_path:
            passed.append(dump.open_dir(o.work_path))
            opts["work_dir_fd"] = passed[-1]
        inherit, opts["join_ns"] = namespaces.restore_plan(cfg)
        fd_entries: list[dict[str, Any]] = [{"key": k, "fd": fd} for k, fd in inherit]
        passed += [fd for _k, fd in inherit]
        mounts.make_mountpoints(rootfs, cfg, bundle)
        opts["ext_mnt"] = mounts.restore_map(cfg, mgr.paths() if mgr is not None else None, rootfs, bundle)
        opts["inherit_fd"] = fd_entries + descriptors.inherit_fds(o.image_path)
        if o.lazy_pages and o.status_fd != -1:
            opts["status_fd"] = o.status_fd
            passed.append(o.status_fd)
        root = _bind_root(state_dir, rootfs)
        opts["root"] = root

        def into_cgroup(pid: int) -> None:
            if mgr is None:
                return
            mgr.apply(pid, None)
            if list(mgr.paths()) != [""]:
                opts["cg_root"] = _cgroup_roots(pid)

        notes = _Notifications(callbacks, console_fd, o.status_fd if o.lazy_pages else -1)
        resp = swrk.run(
            criu,
            rpc.RESTORE,
            opts,
            log_path=dump.log_path(o, "restore.log"),
            extra_fds=passed,
            inherit_stdio=True,
            on_spawn=into_cgroup,
            on_notify=notes,
        )
        return resp.pid
    finally:
        for fd in passed:
            if fd != o.status_fd:
                os.close(fd)
        if root is not None:
            _unbind_root(root)
