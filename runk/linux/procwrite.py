"""Writes into procfs that no mount or symlink can redirect (the CVE-2025-52881 class).

Runs in the parent (uid_map/gid_map/setgroups), the bootstrap (timens_offsets) and the init and
tenant between fork and exec (sysctl, oom_score_adj): imports errno, runk._os and the compiled module
only, nothing at call time. Every write runk does into /proc goes through write():

1. the procfs root is an fd checked to be the root of a procfs (fstatfs f_type ==
   PROC_SUPER_MAGIC and inode 1), not a tmpfs or a host directory bound onto /proc;
2. the target is opened relative to it with openat2(RESOLVE_BENEATH | RESOLVE_NO_XDEV |
   RESOLVE_NO_MAGICLINKS), and RESOLVE_NO_SYMLINKS unless the path starts with "self" or
   "thread-self" (procfs's own symlinks, which the kernel then follows inside the same mount):
   a file or directory bound over any component (a host directory over /proc/sys/net) fails
   with EXDEV instead of receiving the write;
3. the opened file is checked to be on procfs again, then written in one write(2).

A redirected target is reported as "<what>: <path> is not on procfs (a mount over /proc?)".
"""

from __future__ import annotations

import errno

from runk import _os as os
from runk._native import lib
from runk.errors import RunkError, SyscallError

PROC_ROOT_INO = 1  # only the root of a procfs superblock has inode 1
_SELF = ("self", "thread-self")


class NotProcfs(RunkError):
    """A write runk would do into /proc would land somewhere else."""


def _is_procfs(fd: int) -> bool:
    on_proc: bool = lib.runk_fs_type(fd) == lib.PROC_SUPER_MAGIC
    return on_proc


def _redirected(what: str, path: str) -> NotProcfs:
    return NotProcfs(f"{what}: {path} is not on procfs (a mount over /proc?)")


def open_root(path: str = "/proc", what: str = "/proc") -> int:
    """O_PATH fd of the procfs mounted at `path`, checked to be a procfs root."""
    try:
        fd = os.open(path, os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as e:
        raise SyscallError("open", path, e.errno or 0) from None
    try:
        check_root(fd, path, what)
    except BaseException:
        os.close(fd)
        raise
    return fd


def check_root(fd: int, path: str = "/proc", what: str = "/proc") -> None:
    """Raise NotProcfs unless fd is the root directory of a procfs."""
    if not _is_procfs(fd) or os.fstat(fd).st_ino != PROC_ROOT_INO:
        raise _redirected(what, path)


def _resolve_flags(rel: str) -> int:
    flags: int = lib.RESOLVE_BENEATH | lib.RESOLVE_NO_XDEV | lib.RESOLVE_NO_MAGICLINKS
    if rel.split("/", 1)[0] not in _SELF:
        flags |= lib.RESOLVE_NO_SYMLINKS
    return flags


def open_file(root_fd: int, path: str, what: str, flags: int = os.O_WRONLY) -> int:
    """Open `path` ("/proc/..." or relative to the procfs root) below root_fd; the fd is
    checked to be on procfs. OSError (as SyscallError) for an ordinary failure (ENOENT ...),
    NotProcfs when something is mounted over the way or the file is not procfs's."""
    rel = path[len("/proc/") :] if path.startswith("/proc/") else path.lstrip("/")
    from runk.linux.syscalls import openat2

    try:
        fd = openat2(root_fd, rel, flags | os.O_CLOEXEC, _resolve_flags(rel))
    except OSError as e:
        if e.errno in (errno.EXDEV, errno.ELOOP):
            raise _redirected(what, path) from None
        if e.errno != errno.ENOSYS:
            raise SyscallError("open", path, e.errno or 0) from None
        # kernels before 5.6: no openat2; the check of the opened file below still refuses
        # anything that is not procfs's
        try:
            fd = os.open(rel, flags | os.O_CLOEXEC | os.O_NOFOLLOW, dir_fd=root_fd)
        except OSError as e2:
            raise SyscallError("open", path, e2.errno or 0) from None
    if not _is_procfs(fd):
        os.close(fd)
        raise _redirected(what, path)
    return fd


def write(path: str, data: bytes, what: str, root_fd: int = -1, op: str = "write", shown: str | None = None) -> None:
    """Write `data` in one write(2) to `path` below /proc (root_fd: an fd of the procfs root,
    checked here; -1 opens /proc). Errors: NotProcfs naming `what`, or SyscallError(op,
    shown or path, errno)."""
    own = root_fd < 0
    if own:
        root_fd = open_root(what=what)
    else:
        check_root(root_fd, what=what)
    try:
        try:
            fd = open_file(root_fd, path, what)
        except SyscallError as e:
            raise SyscallError(op, shown or path, e.errno or 0) from None
        try:
            os.write(fd, data)  # the kernel takes a map or offsets in one write only
        except OSError as e:
            raise SyscallError(op, shown or path, e.errno or 0) from None
        finally:
            os.close(fd)
    finally:
        if own:
            os.close(root_fd)
