"""The container user: parse the container's /etc/passwd (never NSS: glibc could dlopen
libnss_* from the container into a privileged process), setgroups, setresgid, setresuid.

Runs in the init and tenant, after pivot_root or after joining the mount namespace.
"""
from __future__ import annotations

import stat

from runk import _os as os


def passwd_home(uid: int, path: str = "/etc/passwd") -> str:
    """HOME for uid from the container's passwd; "/" when absent (runc's default ExecUser)."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return "/"
    for line in data.decode(errors="surrogateescape").splitlines():
        parts = line.split(":")
        if len(parts) >= 6 and parts[2].strip() == str(uid):
            return parts[5] or "/"
    return "/"


def fix_stdio(uid: int, gid: int) -> None:
    """runc fixStdioPermissions: the user must own the stdio it is handed, unless /dev/null."""
    for fd in (0, 1, 2):
        try:
            st = os.fstat(fd)
        except OSError:
            continue
        if stat.S_ISCHR(st.st_mode) and st.st_rdev == os.makedev(1, 3):
            continue
        if st.st_uid == uid:
            continue
        try:
            os.fchown(fd, uid, st.st_gid)
        except OSError:
            pass           # a pipe from another user namespace, or a read-only file system


def setgroups_allowed() -> bool:
    try:
        with open("/proc/self/setgroups", "rb") as f:
            return f.read().strip() != b"deny"
    except OSError:
        return True


def switch(uid: int, gid: int, groups: list[int]) -> None:
    if setgroups_allowed():
        os.setgroups(groups)
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)
