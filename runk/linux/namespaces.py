"""The namespace table (OCI type <-> CLONE_* <-> /proc name), join order, type checks.

Runs in the parent (plan building, opening paths) and the bootstrap (setns/unshare).
"""

from __future__ import annotations

import fcntl

from runk import _os as os
from runk.errors import RunkError

# OCI type -> (/proc/<pid>/ns name, clone flag name in runk._native.lib)
TYPES = {
    "pid": ("pid", "CLONE_NEWPID"),
    "network": ("net", "CLONE_NEWNET"),
    "mount": ("mnt", "CLONE_NEWNS"),
    "ipc": ("ipc", "CLONE_NEWIPC"),
    "uts": ("uts", "CLONE_NEWUTS"),
    "user": ("user", "CLONE_NEWUSER"),
    "cgroup": ("cgroup", "CLONE_NEWCGROUP"),
    "time": ("time", "CLONE_NEWTIME"),
}

NS_GET_NSTYPE = 0xB703  # ioctl_ns(2)


def clone_flag(nstype: str) -> int:
    from runk._native import lib

    return int(getattr(lib, TYPES[nstype][1]))


def open_ns_path(nstype: str, path: str) -> int:
    """Open a namespace file given by linux.namespaces[].path and check it is of that type."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError as e:
        raise RunkError(f"open {path}: {os.strerror(e.errno or 0).lower()}") from None
    try:
        actual = fcntl.ioctl(fd, NS_GET_NSTYPE)
    except OSError:
        os.close(fd)
        raise RunkError(f"{path} is not a namespace file") from None
    if actual != clone_flag(nstype):
        os.close(fd)
        raise RunkError(f"namespace path {path} is not a {nstype} namespace")
    return fd


def join_order(joins: list[tuple[str, int]]) -> list[tuple[str, int]]:
    """runc nsexec.c: non-user namespaces first (with the host's privileges), then user, then the
    rest that need the new user's privileges. mnt is joined last so paths opened earlier stay valid."""
    first = [j for j in joins if j[0] not in ("user", "mount")]
    user = [j for j in joins if j[0] == "user"]
    last = [j for j in joins if j[0] == "mount"]
    return first + user + last
