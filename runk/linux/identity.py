"""The container user: parse the container's /etc/passwd (never NSS: glibc could dlopen
libnss_* from the container into a privileged process), setgroups, setresgid, setresuid.

Runs in the init and tenant, after pivot_root or after joining the mount namespace.
"""
from __future__ import annotations

import stat

from runk import _os as os


def passwd_home(uid: int, path: str = "/etc/passwd") -> str:
    """HOME for uid from the container's passwd, read as runc's user library reads it: the first
    line (whitespace-trimmed) whose third field is uid as Go's strconv.Atoi reads it ("01000",
    "+1000"; a field that does not parse, or is missing, counts as 0) gives its sixth field,
    empty if it has none; "/" when no line matches (runc's default ExecUser)."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return "/"
    for line in data.decode(errors="surrogateescape").splitlines():
        line = line.strip()
        if not line:
            continue
        parts = line.split(":")
        if _atoi(parts[2] if len(parts) > 2 else "") == uid:
            return parts[5] if len(parts) > 5 else ""
    return "/"


def _atoi(s: str) -> int:
    """Go's strconv.Atoi, with its error taken as 0 (how runc's passwd parser fills a field)."""
    digits = s[1:] if s[:1] in ("+", "-") else s
    if not digits or not digits.isascii() or not digits.isdigit():
        return 0
    return int(s)


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
