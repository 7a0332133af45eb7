"""linux.maskedPaths and linux.readonlyPaths, applied after pivot_root.

Runs in the init. A masked file gets /dev/null bound over it, a masked directory a read-only
empty tmpfs; a read-only path is bound onto itself and remounted read-only. Missing paths are
skipped, as runc does.

The /dev/null bound over masked files is never looked up by path at mount time (the
CVE-2025-31133 class: a container's /dev/null replaced by a file, or by a symlink to a procfs
file, would be bound instead). The container's /dev/null is opened once, O_PATH without
following a symlink, and checked by fd to be the null character device (1:3); every masked file
gets a clone of exactly that file (open_tree of the fd) attached with move_mount. Anything else
at /dev/null fails the container's creation. Targets are resolved inside the container's root
without magic links (runk.linux.paths.open_in_root), each opened once.
"""

from __future__ import annotations

import errno
import stat

from runk import _os as os
from runk._native import lib
from runk.errors import RunkError
from runk.linux import paths
from runk.linux.syscalls import clone_fd_tree, mount, move_mount_to_fd

_NULL_RDEV = (1, 3)


def open_null(root: int) -> int:
    """O_PATH fd of the container's /dev/null, checked to be the null character device."""
    try:
        fd = paths.open_in_root(root, "/dev/null", None, follow_last=False)
    except OSError as e:
        raise RunkError(f"maskedPaths: cannot mask with /dev/null: {os.strerror(e.errno or 0).lower()}") from None
    st = os.fstat(fd)
    if not stat.S_ISCHR(st.st_mode) or (os.major(st.st_rdev), os.minor(st.st_rdev)) != _NULL_RDEV:
        os.close(fd)
        raise RunkError("maskedPaths: /dev/null is not the null device (char 1:3): refusing to mask with it")
    return fd


def mask_all(masked: list[str]) -> None:
    """Mask every path of linux.maskedPaths (after pivot_root), each once (a path listed twice,
    however spelled, is masked once: runc)."""
    if not masked:
        return
    root = os.open("/", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    shared = [-1, -1]  # the checked /dev/null, the first masked directory's tmpfs
    seen = set()
    try:
        for p in masked:
            key = os.path.normpath("/" + p.lstrip("/"))
            if key not in seen:
                seen.add(key)
                mask(root, p, shared)
    finally:
        os.close(root)
        for fd in shared:
            if fd >= 0:
                os.close(fd)


def _mask_dir(root: int, tfd: int, path: str, shared: list[int]) -> None:
    """The masked directories share one read-only empty tmpfs (runc): the first gets it, the
    others a clone of that mount (one device, as the container sees it)."""
    if shared[1] < 0:
        mount("tmpfs", paths.proc_fd(tfd), "tmpfs", lib.MS_RDONLY, None, shown=path)
        # the fd still names the directory under the new mount: open the mount's root
        shared[1] = paths.open_in_root(root, path, None)
        return
    tree = clone_fd_tree(shared[1], path)
    try:
        move_mount_to_fd(tree, tfd, shown=path)
    finally:
        os.close(tree)


def mask(root: int, path: str, shared: list[int]) -> None:
    """Mask `path` (resolved under root). shared[0]: the checked /dev/null fd, opened on first
    need (a config masking only directories needs none); shared[1]: the tmpfs of the first
    masked directory."""
    try:
        tfd = paths.open_in_root(root, path, None)
    except OSError as e:
        if e.errno == errno.ENOENT:
            return
        raise
    try:
        if stat.S_ISDIR(os.fstat(tfd).st_mode):
            _mask_dir(root, tfd, path, shared)
            return
        if shared[0] < 0:
            shared[0] = open_null(root)
        tree = clone_fd_tree(shared[0], "/dev/null")
        try:
            move_mount_to_fd(tree, tfd, shown=path)
        finally:
            os.close(tree)
    finally:
        os.close(tfd)


def readonly(path: str) -> None:
    try:
        mount(path, path, None, lib.MS_BIND | lib.MS_REC)
    except OSError as e:
        if e.errno == errno.ENOENT:
            return
        raise
    # runc readonlyPath: the remount keeps the mount's nosuid/nodev/noexec (/proc/sys stays
    # nosuid,nodev,noexec), which a user namespace would also lock
    flags = lib.MS_BIND | lib.MS_REMOUNT | lib.MS_RDONLY | lib.MS_REC
    mount(None, path, None, flags | (os.statvfs(path).f_flag & (lib.MS_NOSUID | lib.MS_NODEV | lib.MS_NOEXEC)))
