"""linux.maskedPaths and linux.readonlyPaths, applied after pivot_root.

Runs in the init. A masked file gets /dev/null bound over it, a masked directory a read-only
empty tmpfs; a read-only path is bound onto itself and remounted read-only. Missing paths are
skipped, as runc does.
"""
from __future__ import annotations


from runk import _os as os
from runk._native import lib
from runk.linux.syscalls import mount


def mask(path: str) -> None:
    try:
        mount("/dev/null", path, None, lib.MS_BIND)
    except OSError as e:
        if e.errno == 2:
            return
        if e.errno != 20:                       # ENOTDIR: path is a directory
            raise
        mount("tmpfs", path, "tmpfs", lib.MS_RDONLY, None)


def readonly(path: str) -> None:
    try:
        mount(path, path, None, lib.MS_BIND | lib.MS_REC)
    except OSError as e:
        if e.errno == 2:
            return
        raise
    # runc readonlyPath: the remount keeps the mount's nosuid/nodev/noexec (/proc/sys stays
    # nosuid,nodev,noexec), which a user namespace would also lock
    flags = lib.MS_BIND | lib.MS_REMOUNT | lib.MS_RDONLY | lib.MS_REC
    mount(None, path, None, flags | (os.statvfs(path).f_flag & (lib.MS_NOSUID | lib.MS_NODEV | lib.MS_NOEXEC)))
