"""uid_map / gid_map / setgroups writers, run by the parent for the bootstrap child.

Runs in the parent. A new user namespace's maps must be written from outside it (by a process
with CAP_SETUID/CAP_SETGID in the parent namespace), which is why the bootstrap asks for them.
The writes go through runk.linux.procwrite (checked to land on procfs).

A rootless caller (runc's rule, nsexec.c update_uidmap/update_setgroups): it writes the maps
itself when it may (one line mapping its own euid/egid), denying setgroups first when the gid
map is only its own egid at 0, as the kernel requires of an unprivileged writer; a map it may
not write (several ranges, subordinate ids) goes through the setuid helpers newuidmap and
newgidmap of the uidmap package, which check /etc/subuid and /etc/subgid.
"""

from __future__ import annotations

import errno

from runk import _os as os
from runk.errors import RunkError, SyscallError
from runk.linux import procwrite

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

_HELPERS = {"uid_map": "newuidmap", "gid_map": "newgidmap"}
_HELPER_DIRS = ("/usr/bin", "/usr/sbin", "/bin", "/sbin", "/usr/local/bin")


def _map_text(entries: list[dict[str, Any]]) -> bytes:
    return "".join(f"{m['containerID']} {m['hostID']} {m['size']}\n" for m in entries).encode()


def _write(path: str, data: bytes, what: str) -> None:
    # one write(2): the kernel takes a map in one write only
    procwrite.write(path, data, what)


def needs_setgroups_deny(gid_map: list[dict[str, Any]]) -> bool:
    """runc: a rootless euid whose gid map is exactly {0, egid, 1} (what it may write itself)
    denies setgroups in the new namespace; any other map goes through newgidmap, which may
    leave it allowed."""
    if os.geteuid() == 0:
        return False
    return [(int(m["containerID"]), int(m["hostID"]), int(m["size"])) for m in gid_map] == [(0, os.getegid(), 1)]


def write_maps(
    pid: int,
    uid_map: list[dict[str, Any]],
    gid_map: list[dict[str, Any]],
    deny_setgroups: bool | None = None,
    where: str = "linux",
) -> None:
    """`where`: the config object holding the maps, named in errors (linux, mounts[3])."""
    if deny_setgroups is None:
        deny_setgroups = needs_setgroups_deny(gid_map)
    if deny_setgroups:
        _write(f"/proc/{pid}/setgroups", b"deny", f"{where}.uidMappings")
    if uid_map:
        _write_map(pid, "uid_map", uid_map, f"{where}.uidMappings")
    if gid_map:
        _write_map(pid, "gid_map", gid_map, f"{where}.gidMappings")


def _write_map(pid: int, name: str, entries: list[dict[str, Any]], what: str) -> None:
    try:
        _write(f"/proc/{pid}/{name}", _map_text(entries), what)
    except SyscallError as e:
        if e.errno != errno.EPERM or (os.geteuid() == 0 and not _in_userns()):
            raise
        _run_helper(pid, name, entries, what, e)


def _in_userns() -> bool:
    from runk.linux.rootless import in_user_namespace

    return in_user_namespace()


def _helper(name: str) -> str | None:
    for d in _HELPER_DIRS:
        p = os.path.join(d, _HELPERS[name])
        if os.access(p, os.X_OK):
            return p
    return None


def _run_helper(pid: int, name: str, entries: list[dict[str, Any]], what: str, first: SyscallError) -> None:
    """newuidmap/newgidmap PID inside outside count ...; its own message on failure."""
    helper = _helper(name)
    if helper is None:
        raise RunkError(f"{what}: {first} (and {_HELPERS[name]} is not installed: apt-get install uidmap)")
    argv = [helper, str(pid)]
    for m in entries:
        argv += [str(m["containerID"]), str(m["hostID"]), str(m["size"])]
    import subprocess

    cp = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=30)
    if cp.returncode != 0:
        why = cp.stderr.decode(errors="replace").strip().splitlines()
        raise RunkError(f"{what}: {_HELPERS[name]} failed (exit status {cp.returncode}): {why[-1] if why else ''}")
