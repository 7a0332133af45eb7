"""Mounts on and under /proc: what config.mounts may put there (runc's checkProcMount).

Runs in the parent (runk.oci.validate by the destination as written, runk.oci.config for bind
sources and a missing /proc) and in the init (runk.linux.rootfs, by the destination resolved
inside the rootfs, so that a symlink in the image cannot lead a mount under /proc). Imports
runk._os and the compiled module only.

A mount over a file or directory of the container's /proc would redirect what runk writes
there (sysctls) and what the container reads: only runc 1.1.5's list of files that lxcfs
emulates may be covered. /proc itself must be a procfs: a fresh "proc" mount or a bind of the
root of one. A container with a mount namespace needs that /proc: runk writes sysctls and
reopens the exec fifo through it, and runc fails such a container at create too.
"""

from __future__ import annotations

from runk import _os as os
from runk.linux import procwrite

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

# runc 1.1.5 validProcMounts (checked by running it; later runc adds /proc/net/dev and
# /proc/sys/crypto/fips_enabled)
LXCFS_FILES = frozenset(
    (
        "/proc/cpuinfo",
        "/proc/diskstats",
        "/proc/meminfo",
        "/proc/stat",
        "/proc/swaps",
        "/proc/uptime",
        "/proc/loadavg",
        "/proc/slabinfo",
        "/proc/sys/kernel/ns_last_pid",
    )
)

# a mount on / covers the rootfs with everything mounted on it so far: runk mounts the later
# ones on top of it (runc too), but /proc would be gone (runc then fails at exec, after writing
# /dev's nodes into the new root)
ROOT_OVER_PROC = '"/" would cover the /proc mount before it: a mount on / must come before it'


def is_bind(m: dict[str, Any]) -> bool:
    opts = m.get("options") or []
    return m.get("type") == "bind" or "bind" in opts or "rbind" in opts


def destination(m: dict[str, Any]) -> str:
    """The container path a config mount names, normalized ("proc" and "/proc/." are /proc)."""
    return os.path.normpath("/" + (m.get("destination") or "").lstrip("/"))


def problem(dest: str, fstype: str, bind: bool) -> str | None:
    """Why a mount of type `fstype` on the container path `dest` (absolute, normalized) is
    refused, or None. A bind onto /proc is allowed here; its source is checked by
    source_problem. The texts are runc's."""
    if dest != "/proc" and not dest.startswith("/proc/"):
        return None
    if dest == "/proc":
        if bind or fstype == "proc":
            return None
        return f'"{dest}" cannot be mounted because it is not of type proc'
    if dest in LXCFS_FILES:
        return None
    return f'"{dest}" cannot be mounted because it is inside /proc'


def source_problem(source: str, source_fd: int = -1) -> str | None:
    """For a bind onto /proc: None if the source (the path, or source_fd: an fd of it or of a
    detached clone of it) is the root of a procfs."""
    fd = source_fd
    if fd < 0:
        try:
            fd = os.open(source, os.O_PATH | os.O_CLOEXEC)
        except OSError as e:
            return f"source {source}: {os.strerror(e.errno or 0).lower()}"
    try:
        procwrite.check_root(fd, source)
    except procwrite.NotProcfs:
        return (
            f'"/proc" cannot be mounted because it is not of type proc (its source {source} '
            "is not the root of a procfs)"
        )
    finally:
        if source_fd < 0:
            os.close(fd)
    return None


def rootfs_has_procfs(rootfs: str) -> bool:
    """The rootfs already holds a procfs at /proc (mounted there on the host; the recursive
    rootfs bind keeps it)."""
    try:
        fd = procwrite.open_root(os.path.join(rootfs, "proc"))
    except (OSError, procwrite.NotProcfs):
        return False
    os.close(fd)
    return True
