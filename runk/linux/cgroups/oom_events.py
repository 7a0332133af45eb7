"""OOM notifications of a container's memory cgroup, for `runk events` (runc notify_linux.go).

Runs in the parent (events). Imports os, select and fs. v1: an eventfd registered through
cgroup.event_control on memory.oom_control (runc notifyOnOOM); v2: memory.events, whose changes
the kernel signals to poll() as POLLPRI (runc uses inotify IN_MODIFY on the same file).
OomWatcher.fileno() can go into select/poll next to other fds; read() returns the OOM events
since the previous call without blocking.
"""

from __future__ import annotations

import os
import select

from runk.errors import CgroupError
from runk.linux.cgroups import fs


class OomWatcher:
    __slots__ = ("_ctl", "_fd", "_last", "_path")

    def __init__(self, paths: dict[str, str]) -> None:
        self._ctl = -1
        mem = paths.get("memory")
        if mem:
            self._path = mem
            self._fd = os.eventfd(0, os.EFD_CLOEXEC | os.EFD_NONBLOCK)
            try:
                self._ctl = os.open(os.path.join(mem, "memory.oom_control"), os.O_RDONLY | os.O_CLOEXEC)
                fs.write(mem, "cgroup.event_control", f"{self._fd} {self._ctl}", "oom notification")
            except BaseException:
                self.close()
                raise
            self._last = -1
            return
        path = paths.get("")
        if not path or not fs.has(path, "memory.events"):
            raise CgroupError("cannot watch for OOM events: the container has no memory cgroup")
        self._path = path
        self._fd = os.open(os.path.join(path, "memory.events"), os.O_RDONLY | os.O_CLOEXEC)
        self._last = self._count()

    def _count(self) -> int:
        data = os.pread(self._fd, 4096, 0).decode()
        for line in data.splitlines():
            k, _, v = line.partition(" ")
            if k == "oom_kill":
                return int(v)
        return 0

    def fileno(self) -> int:
        return self._fd

    def wait(self, timeout: float | None) -> bool:
        """Block up to `timeout` seconds for a possible OOM event; True if one may have come."""
        p = select.poll()
        p.register(self._fd, select.POLLIN if self._last < 0 else select.POLLPRI)
        return bool(p.poll(None if timeout is None else int(timeout * 1000)))

    def read(self) -> int:
        """OOM events since the last call (0 when none)."""
        if self._last < 0:
            try:
                return int(os.eventfd_read(self._fd))
            except BlockingIOError:
                return 0
        try:
            now = self._count()
        except OSError as e:
            import errno

            if e.errno != errno.ENODEV:
                raise
            return 0  # the group is gone (systemd removes a stopped scope's): no more events
        new, self._last = max(0, now - self._last), now
        return new

    def close(self) -> None:
        for fd in (self._fd, self._ctl):
            if fd >= 0:
                os.close(fd)
        self._fd = self._ctl = -1
