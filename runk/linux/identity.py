"""The container user: parse the container's /etc/passwd (never NSS: glibc could dlopen
libnss_* from the container into a privileged process), setgroups, setresgid, setresuid, each
checked in range first (runk.ids) and read back after.

Runs in the init and tenant, after pivot_root or after joining the mount namespace.
"""

from __future__ import annotations

import stat

from runk import _os as os
from runk import ids
from runk.errors import RunkError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable


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
    require_ids(uid, gid, [])
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
            pass  # a pipe from another user namespace, or a read-only file system


def setgroups_allowed() -> bool:
    try:
        with open("/proc/self/setgroups", "rb") as f:
            return f.read().strip() != b"deny"
    except OSError:
        return True


def require_ids(uid: object, gid: object, groups: Iterable[object]) -> None:
    """The last gate before a syscall takes them: (uid_t)-1 would mean "unchanged", root."""
    if not (ids.valid(uid) and ids.valid(gid) and all(ids.valid(g) for g in groups)):
        raise RunkError(f"unable to setup user: {ids.RANGE}")


def switch(uid: int, gid: int, groups: list[int]) -> None:
    """setgroups (unless the user namespace denies it), setresgid, setresuid, then read them
    all back: the process never runs with ids other than those asked."""
    require_ids(uid, gid, groups)
    set_groups = setgroups_allowed()
    if set_groups:
        os.setgroups(groups)
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)
    verify(uid, gid, groups if set_groups else None, os.getresuid(), os.getresgid(), os.getgroups())


def verify(
    uid: int,
    gid: int,
    groups: list[int] | None,
    resuid: tuple[int, int, int],
    resgid: tuple[int, int, int],
    got_groups: list[int],
) -> None:
    """Real, effective and saved uid and gid are exactly uid and gid; the supplementary groups
    are groups (as a set: the kernel sorts them), unless groups is None (not set)."""
    if tuple(resuid) != (uid, uid, uid):
        raise RunkError(f"unable to setup user: uids are {_ids(resuid)} after setting {uid}")
    if tuple(resgid) != (gid, gid, gid):
        raise RunkError(f"unable to setup user: gids are {_ids(resgid)} after setting {gid}")
    if groups is not None and sorted(set(got_groups)) != sorted(set(groups)):
        raise RunkError(
            f"unable to setup user: supplementary groups are [{_ids(sorted(got_groups))}] "
            f"after setting [{_ids(sorted(groups))}]"
        )


def _ids(values: Iterable[int]) -> str:
    return ",".join(str(v) for v in values)
