"""linux.sysctl: write /proc/sys/<key with dots as slashes> in the container (after pivot).

Runs in the init. Which keys are allowed is decided in the parent (runk.oci.validate), as runc's
configs/validate does.
"""
from __future__ import annotations


from runk import _os as os
from runk.errors import SyscallError


def write(key: str, value: str) -> None:
    path = "/proc/sys/" + key.replace(".", "/")
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
        try:
            os.write(fd, value.encode())
        finally:
            os.close(fd)
    except OSError as e:
        raise SyscallError("write sysctl", key, e.errno or 0) from None
