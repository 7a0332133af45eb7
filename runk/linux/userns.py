"""uid_map / gid_map / setgroups writers, run by the parent for the bootstrap child.

Runs in the parent. A new user namespace's maps must be written from outside it (by a process
with CAP_SETUID/CAP_SETGID in the parent namespace), which is why the bootstrap asks for them.
"""
from __future__ import annotations


from runk import _os as os
from runk.errors import SyscallError


def _map_text(entries: list[dict]) -> bytes:
    return "".join(f"{m['containerID']} {m['hostID']} {m['size']}\n" for m in entries).encode()


def _write(path: str, data: bytes) -> None:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
        try:
            os.write(fd, data)    # the kernel takes a map in one write only
        finally:
            os.close(fd)
    except OSError as e:
        raise SyscallError("write", path, e.errno or 0) from None


def write_maps(pid: int, uid_map: list[dict], gid_map: list[dict], deny_setgroups: bool = False) -> None:
    if deny_setgroups:
        _write(f"/proc/{pid}/setgroups", b"deny")
    if uid_map:
        _write(f"/proc/{pid}/uid_map", _map_text(uid_map))
    if gid_map:
        _write(f"/proc/{pid}/gid_map", _map_text(gid_map))
