"""uid_map / gid_map / setgroups writers, run by the parent for the bootstrap child.

Runs in the parent. A new user namespace's maps must be written from outside it (by a process
with CAP_SETUID/CAP_SETGID in the parent namespace), which is why the bootstrap asks for them.
The writes go through runk.linux.procwrite (checked to land on procfs).
"""

from __future__ import annotations

from runk.linux import procwrite

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def _map_text(entries: list[dict[str, Any]]) -> bytes:
    return "".join(f"{m['containerID']} {m['hostID']} {m['size']}\n" for m in entries).encode()


def _write(path: str, data: bytes, what: str) -> None:
    # one write(2): the kernel takes a map in one write only
    procwrite.write(path, data, what)


def write_maps(
    pid: int,
    uid_map: list[dict[str, Any]],
    gid_map: list[dict[str, Any]],
    deny_setgroups: bool = False,
    where: str = "linux",
) -> None:
    """`where`: the config object holding the maps, named in errors (linux, mounts[3])."""
    if deny_setgroups:
        _write(f"/proc/{pid}/setgroups", b"deny", f"{where}.uidMappings")
    if uid_map:
        _write(f"/proc/{pid}/uid_map", _map_text(uid_map), f"{where}.uidMappings")
    if gid_map:
        _write(f"/proc/{pid}/gid_map", _map_text(gid_map), f"{where}.gidMappings")
