"""linux.sysctl: write /proc/sys/<key with dots as slashes> in the container (after pivot).

Runs in the init. Which keys are allowed is decided in the parent (runk.oci.validate), as runc's
configs/validate does. The writes go through runk.linux.procwrite: a mount over /proc/sys/...
(a host directory bound there) makes them fail instead of landing in that directory.
"""

from __future__ import annotations

from runk import _os as os
from runk.linux import procwrite


def write(key: str, value: str, root_fd: int = -1) -> None:
    path = "/proc/sys/" + key.replace(".", "/")
    procwrite.write(path, value.encode(), f"linux.sysctl.{key}", root_fd, op="write sysctl", shown=key)


def write_all(items: list[tuple[str, str]], root_fd: int = -1) -> None:
    """Every sysctl of the config, through one checked fd of the container's /proc (root_fd,
    or /proc opened here)."""
    if not items:
        return
    own = root_fd < 0
    if own:
        root_fd = procwrite.open_root()
    try:
        for key, value in items:
            write(key, value, root_fd)
    finally:
        if own:
            os.close(root_fd)
