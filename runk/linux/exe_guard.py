"""The sealed trampoline: runk-exec copied into a memfd sealed against writes (CVE-2019-5736).

Runs in the parent before the fork. After the init execs it, /proc/<pid>/exe of every container
process points at this immutable anonymous file, never at the host's Python interpreter (see
trampoline.c). Not a read-only bind mount: runc notes those can be unwrapped.
"""

from __future__ import annotations

import fcntl

from runk import _os as os

_F_SEAL_SEAL = 0x0001
_F_SEAL_SHRINK = 0x0002
_F_SEAL_GROW = 0x0004
_F_SEAL_WRITE = 0x0008


def sealed_trampoline() -> int:
    """A CLOEXEC memfd holding runk-exec, sealed (execveat of an ELF through it works)."""
    from runk._native import TRAMPOLINE

    fd = os.memfd_create("runk-exec", os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING)
    try:
        src = os.open(TRAMPOLINE, os.O_RDONLY | os.O_CLOEXEC)
        try:
            size = os.fstat(src).st_size
            off = 0
            while off < size:
                n = os.sendfile(fd, src, off, size - off)
                if n <= 0:
                    break
                off += n
        finally:
            os.close(src)
        os.fchmod(fd, 0o555)
        fcntl.fcntl(fd, fcntl.F_ADD_SEALS, _F_SEAL_SEAL | _F_SEAL_SHRINK | _F_SEAL_GROW | _F_SEAL_WRITE)
    except BaseException:
        os.close(fd)
        raise
    return fd
