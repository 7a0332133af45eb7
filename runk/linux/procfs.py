"""/proc readers: process start time and state, liveness by (pid, starttime), process trees.

Runs in the parent on the hot path (state, list, kill): imports runk._os only. A pid is
identified with its start time (field 22 of /proc/<pid>/stat) so a recycled pid is never mistaken
for the container (psutil's _ident rule, runc's refreshState).
"""

from __future__ import annotations

from runk import _os as os


def stat_fields(pid: int) -> list[str] | None:
    """Fields of /proc/<pid>/stat after the comm: [state, ppid, ..., starttime at index 19]."""
    try:
        fd = os.open(f"/proc/{pid}/stat", os.O_RDONLY | os.O_CLOEXEC)
    except (FileNotFoundError, ProcessLookupError):
        return None
    try:
        data = os.read(fd, 4096)
    except ProcessLookupError:
        return None
    finally:
        os.close(fd)
    # comm may hold spaces and ')' itself: split after the last ')'
    return data[data.rfind(b")") + 2 :].decode().split()


def starttime(pid: int) -> int | None:
    f = stat_fields(pid)
    return int(f[19]) if f else None


def is_alive(pid: int, start: int | None) -> bool:
    """True if pid runs, is not a zombie, and has the recorded start time."""
    if pid <= 0:
        return False
    f = stat_fields(pid)
    if f is None or f[0] in ("Z", "X", "x"):
        return False
    return start is None or int(f[19]) == start


def open_pidfd(pid: int) -> int | None:
    """pidfd_open(pid), or None when no process has that pid any more.

    For a pid that names no thread-group leader the kernel answers EINVAL (6.1) or ENOENT
    (newer kernels), not ESRCH: a process that has exited and is being reaped by its parent at
    that very moment (its pid still allocated, its task already gone), or a pid taken since by
    a thread of another process. For a process that is not runk's own child (a container's
    init, reaped by its subreaper or PID 1) each means it is gone."""
    import errno

    if pid <= 0:
        return None
    try:
        return os.pidfd_open(pid)
    except ProcessLookupError:
        return None
    except OSError as e:
        if e.errno in (errno.EINVAL, errno.ENOENT):
            return None
        raise


def wait_gone(pid: int, start: int | None, timeout_ms: int) -> bool:
    """Wait until pid (with that start time) has ended; True if it has. A pidfd turns readable
    when the process exits, whether or not it is our child (a zombie counts as gone)."""
    import select

    pidfd = open_pidfd(pid)
    if pidfd is None:
        return True
    try:
        if not is_alive(pid, start):
            return True
        p = select.poll()
        p.register(pidfd, select.POLLIN)
        return bool(p.poll(timeout_ms)) or not is_alive(pid, start)
    finally:
        os.close(pidfd)


def same_pid_namespace(pid: int) -> list[int]:
    """Every process in the pid namespace of `pid` that this user may see: the processes of a
    container without a cgroup of its own (rootless without cgroup permission), found by their
    /proc/<pid>/ns/pid link. Empty if `pid` shares runk's own pid namespace (that would be every
    process on the host)."""
    try:
        target = os.readlink(f"/proc/{pid}/ns/pid")
        if target == os.readlink("/proc/self/ns/pid"):
            return [pid]
    except OSError:
        return []
    out = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            if os.readlink(f"/proc/{name}/ns/pid") == target:
                out.append(int(name))
        except OSError:
            continue
    return sorted(out)
