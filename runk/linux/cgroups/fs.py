"""cgroupfs file access: every read and write of a cgroup file, with errors that name the file.

Runs in the parent (create, update, pause, kill, delete, state). Hot path (`load_manager` users):
imports only runk._os, time and runk.errors. Writes go through `write()`, whose CgroupError names
the OCI resource being set, the file and the value (DESIGN 3.9).
"""

from __future__ import annotations

import errno
import time

from runk import _os as os
from runk.errors import CgroupError

UINT64_MAX = (1 << 64) - 1

_O_READ = os.O_RDONLY | os.O_CLOEXEC
_O_WRITE = os.O_WRONLY | os.O_CLOEXEC | os.O_TRUNC


def error(res: str, path: str, name: str, value: str | None, err: OSError) -> CgroupError:
    """Build the CgroupError for a failed write: 'cannot set <res>: write "<v>" to <file>: <why>'."""
    file = os.path.join(path, name)
    why = os.strerror(err.errno).lower() if err.errno else str(err)
    if value is None:
        msg = f"cannot set {res}: {file}: {why}" if res else f"{file}: {why}"
    else:
        shown = value if len(value) < 200 else value[:200] + "..."
        act = f'write "{shown}" to {file}'
        msg = f"cannot set {res}: {act}: {why}" if res else f"{act}: {why}"
    exc = CgroupError(msg)
    exc.errno = err.errno  # type: ignore[attr-defined]
    exc.resource = res  # type: ignore[attr-defined]
    exc.file = file  # type: ignore[attr-defined]
    return exc


def write(path: str, name: str, value: str, res: str = "") -> None:
    """Write `value` to <path>/<name> in one write(2); `res` is the OCI field for the message."""
    data = value.encode()
    try:
        fd = os.open(os.path.join(path, name), _O_WRITE)
        try:
            os.write(fd, data)
        finally:
            os.close(fd)
    except OSError as e:
        raise error(res, path, name, value, e) from None


def read(path: str, name: str) -> str:
    """Read a whole cgroup file; OSError (with the full path) on failure."""
    fd = os.open(os.path.join(path, name), _O_READ)
    try:
        chunks = []
        while True:
            b = os.read(fd, 65536)
            if not b:
                break
            chunks.append(b)
    finally:
        os.close(fd)
    return b"".join(chunks).decode()


def read_opt(path: str, name: str) -> str | None:
    """Read a cgroup file, or None when it does not exist (ENOENT/ENODEV, as runc ignores)."""
    try:
        return read(path, name)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as e:
        if e.errno == errno.ENODEV:  # the cgroup was removed under us
            return None
        raise


def parse_uint(text: str) -> int:
    """A cgroup integer: "max" is UINT64_MAX, as runc's GetCgroupParamUint; negatives clamp to 0."""
    s = text.strip()
    if s == "max":
        return UINT64_MAX
    v = int(s)
    return v if v >= 0 else 0


def read_uint(path: str, name: str) -> int:
    return parse_uint(read(path, name))


def read_keyed(path: str, name: str) -> dict[str, int]:
    """A flat keyed file ("key value" per line: memory.stat, cpu.stat, memory.events)."""
    out: dict[str, int] = {}
    for line in read(path, name).splitlines():
        parts = line.split()
        if len(parts) == 2:
            out[parts[0]] = parse_uint(parts[1])
    return out


def has(path: str, name: str) -> bool:
    return os.path.exists(os.path.join(path, name))


def write_procs(path: str, pid: int, res: str = "cgroup.procs") -> None:
    """Move `pid` into the cgroup at `path`.

    EINVAL can mean the task is still TASK_NEW (just forked): runc retries 5 times, 30 ms apart.
    """
    for attempt in range(5):
        try:
            fd = os.open(os.path.join(path, "cgroup.procs"), _O_WRITE)
            try:
                os.write(fd, str(pid).encode())
            finally:
                os.close(fd)
            return
        except OSError as e:
            if e.errno == errno.EINVAL and attempt < 4:
                time.sleep(0.03)
                continue
            raise error(res, path, "cgroup.procs", str(pid), e) from None


def read_procs(path: str, name: str = "cgroup.procs") -> list[int]:
    text = read_opt(path, name)
    if not text:
        return []
    return [int(x) for x in text.split()]


def walk_dirs(path: str) -> list[str]:
    """Every directory below and including `path`, parents before children."""
    out = [path]
    i = 0
    while i < len(out):
        try:
            with os.scandir(out[i]) as it:
                for e in it:
                    if e.is_dir(follow_symlinks=False):
                        out.append(e.path)
        except (FileNotFoundError, NotADirectoryError):
            pass
        i += 1
    return out


def all_pids(path: str) -> list[int]:
    """Pids of the cgroup and all its descendants (runc GetAllPids), without duplicates."""
    seen: dict[int, None] = {}
    for d in walk_dirs(path):
        for p in read_procs(d):
            seen[p] = None
    return list(seen)


def remove_tree(path: str) -> None:
    """rmdir `path` and its sub-cgroups, leaf first; ENOENT is fine (idempotent)."""
    for d in reversed(walk_dirs(path)):
        try:
            os.rmdir(d)
        except FileNotFoundError:
            pass


def remove_paths(paths: list[str], tries: int = 8) -> None:
    """Remove every cgroup dir, retrying EBUSY while exiting tasks drain (runc RemovePaths).

    runc retries 5 times from 10 ms doubling; runk allows 8 tries (about 1.3 s in all) because a
    killed task leaves its cgroup only once its parent has reaped it.
    """
    left = [p for p in dict.fromkeys(paths) if p]
    delay = 0.01
    last: OSError | None = None
    for i in range(tries):
        if i:
            time.sleep(delay)
            delay *= 2
        still = []
        for p in left:
            try:
                remove_tree(p)
            except OSError as e:
                last = e
            if os.path.exists(p):
                still.append(p)
        left = still
        if not left:
            return
    why = os.strerror(last.errno).lower() if last is not None and last.errno else "still present"
    raise CgroupError(f"failed to remove cgroup paths {', '.join(left)}: {why}")


def mkdir(path: str, made: list[str]) -> None:
    """mkdir -p that records, in creation order, each directory it made (for rollback)."""
    missing = []
    p = path
    while p and p != "/" and not os.path.isdir(p):
        missing.append(p)
        p = os.path.dirname(p)
    for d in reversed(missing):
        try:
            os.mkdir(d, 0o755)
        except FileExistsError:
            continue
        except OSError as e:
            exc = CgroupError(f"mkdir {d}: {os.strerror(e.errno or 0).lower()}")
            exc.errno = e.errno  # type: ignore[attr-defined]
            raise exc from None
        made.append(d)
