"""/dev of the container: default and linux.devices nodes (mknod, or bind in a user
namespace), the /dev/fd, stdin, stdout, stderr links and /dev/ptmx -> pts/ptmx.

Runs in the init before pivot_root; paths resolved inside the rootfs. The default devices are
runc's (specconv AllowedDevices with a path): null, zero, full, random, urandom, tty.
"""

from __future__ import annotations

import errno
import stat

from runk import _os as os
from runk._native import lib
from runk.linux import paths
from runk.linux.syscalls import mount

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, TypeAlias

    # (path, type, major, minor, fileMode, uid, gid)
    DeviceNode: TypeAlias = tuple[str, str, int, int, int, int, int]

# (path, type, major, minor, fileMode, uid, gid)
DEFAULT_DEVICES: tuple[DeviceNode, ...] = (
    ("/dev/null", "c", 1, 3, 0o666, 0, 0),
    ("/dev/zero", "c", 1, 5, 0o666, 0, 0),
    ("/dev/full", "c", 1, 7, 0o666, 0, 0),
    ("/dev/random", "c", 1, 8, 0o666, 0, 0),
    ("/dev/urandom", "c", 1, 9, 0o666, 0, 0),
    ("/dev/tty", "c", 5, 0, 0o666, 0, 0),
)

PTMX = "/dev/ptmx"

_SYMLINKS = (
    ("/proc/self/fd", "fd"),
    ("/proc/self/fd/0", "stdin"),
    ("/proc/self/fd/1", "stdout"),
    ("/proc/self/fd/2", "stderr"),
)


def merge(config_devices: list[dict[str, Any]], defaults: bool = True) -> list[DeviceNode]:
    """Defaults not overridden by path, then linux.devices in config order (runc specconv).
    defaults=False when /dev is a bind mount: it is the user's, runk adds no nodes of its own."""
    out: list[DeviceNode] = []
    seen = {d["path"] for d in config_devices}
    for d in DEFAULT_DEVICES if defaults else ():
        if d[0] not in seen:
            out.append(d)
    for dev in config_devices:
        out.append(
            (
                dev["path"],
                dev["type"],
                dev.get("major", 0),
                dev.get("minor", 0),
                dev.get("fileMode", 0o666),
                dev.get("uid", 0),
                dev.get("gid", 0),
            )
        )
    return out


def create_nodes(root_fd: int, rootfs: str, devs: list[DeviceNode], bind: bool) -> None:
    for path, typ, major, minor, mode, uid, gid in devs:
        parent, name = os.path.split(path.rstrip("/"))
        pfd = paths.open_in_root(root_fd, parent, "dir")
        try:
            if not paths.is_within(paths.fd_path(pfd), rootfs):
                raise OSError(errno.EPERM, "device path escapes the rootfs", path)
            try:
                os.unlink(name, dir_fd=pfd)
            except (FileNotFoundError, IsADirectoryError):
                pass
            if bind:
                # mknod is refused in a user namespace: bind the host node instead (runc)
                fd = os.open(
                    name, os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_WRONLY | os.O_CLOEXEC, 0o644, dir_fd=pfd
                )
                os.close(fd)
                tfd = os.open(name, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=pfd)
                try:
                    mount(path, paths.proc_fd(tfd), None, lib.MS_BIND, shown=path)
                finally:
                    os.close(tfd)
                continue
            if typ == "p":
                os.mkfifo(name, mode & 0o7777, dir_fd=pfd)
            else:
                kind = stat.S_IFBLK if typ == "b" else stat.S_IFCHR
                os.mknod(name, kind | (mode & 0o7777), os.makedev(major, minor), dir_fd=pfd)
            os.chmod(name, mode & 0o7777, dir_fd=pfd, follow_symlinks=False)
            os.chown(name, uid, gid, dir_fd=pfd, follow_symlinks=False)
        finally:
            os.close(pfd)


def setup_dev(root_fd: int, rootfs: str, devs: list[DeviceNode], bind: bool) -> None:
    # a /dev/ptmx of linux.devices is redundant: it becomes the pts/ptmx link below (runc skips
    # it too); bound from the host in a user namespace it would be a mount the link cannot replace
    create_nodes(root_fd, rootfs, [d for d in devs if os.path.normpath(d[0]) != PTMX], bind)
    dfd = paths.open_in_root(root_fd, "/dev", "dir")
    try:
        links = _SYMLINKS + ((("/proc/kcore", "core"),) if os.path.exists("/proc/kcore") else ())
        for src, name in links:
            try:
                os.symlink(src, name, dir_fd=dfd)
            except FileExistsError:
                pass
        # /dev/ptmx must be the devpts instance of the container (runc setupPtmx)
        try:
            os.unlink("ptmx", dir_fd=dfd)
        except FileNotFoundError:
            pass
        os.symlink("pts/ptmx", "ptmx", dir_fd=dfd)
    finally:
        os.close(dfd)
