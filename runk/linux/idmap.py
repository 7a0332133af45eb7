"""User namespaces for id-mapped mounts (runtime-spec 1.2 mounts[].uidMappings/gidMappings and
the idmap/ridmap options), made in the parent.

mount_setattr(MOUNT_ATTR_IDMAP) maps a mount through a user namespace given as an fd: an id
owned on disk as containerID shows as hostID, as in that namespace's uid_map. For mappings of
its own a mount gets a namespace made here: a child born in a new user namespace
(runk_userns_holder), its maps written from outside (runk.linux.userns, checked to land on
procfs), its /proc/PID/ns/user opened, the child killed and reaped. The same mappings share
one namespace. Runs in the parent before the fork.
"""

from __future__ import annotations

import signal

from runk import _os as os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    Maps = tuple[tuple[dict[str, Any], ...], tuple[dict[str, Any], ...]]


def _key(maps: Maps) -> tuple[tuple[tuple[int, int, int], ...], ...]:
    return tuple(tuple((m["containerID"], m["hostID"], m["size"]) for m in side) for side in maps)


def make_userns(maps: Maps, where: str) -> int:
    """An fd (O_CLOEXEC) of a new user namespace with these (uid, gid) maps; `where` names the
    config field in errors."""
    from runk.linux import userns
    from runk.linux.syscalls import userns_holder

    pid = userns_holder()
    try:
        userns.write_maps(pid, list(maps[0]), list(maps[1]), where=where)
        return os.open(f"/proc/{pid}/ns/user", os.O_RDONLY | os.O_CLOEXEC)
    finally:
        os.kill(pid, signal.SIGKILL)
        try:
            os.waitpid(pid, 0)
        except ChildProcessError:
            pass


class UsernsCache:
    """One user namespace per distinct mappings, for one launch; close() closes them all."""

    def __init__(self) -> None:
        self._fds: dict[tuple[tuple[tuple[int, int, int], ...], ...], int] = {}

    def get(self, maps: Maps, where: str) -> int:
        key = _key(maps)
        fd = self._fds.get(key)
        if fd is None:
            fd = self._fds[key] = make_userns(maps, where)
        return fd

    def close(self) -> None:
        for fd in self._fds.values():
            os.close(fd)
        self._fds = {}
