"""Read a file the user names (config.json, `exec --process`, `update -r`): a regular file only,
never more than a cap, never a wait.

Runs in the parent on the create/run/exec paths: imports runk._os and runk.errors only.
A symlink is followed (runc opens config.json with os.Open), but what it names must be a regular
file: /dev/zero would be read for ever and a FIFO would block the open and the read. The open
is O_NONBLOCK so a FIFO cannot hang it; fstat then refuses anything but a regular file.

MAX_SIZE is 16 MiB: runc has no cap, but a real config is a few KiB (Docker's default seccomp
profile, the largest part most configs have, is 25 KiB; Kubernetes caps a pod's annotations at
256 KiB), and the parsed document costs ~10x its size in memory.
"""

from __future__ import annotations

from runk import _os as os
from runk.errors import RunkError

MAX_SIZE = 16 << 20
_S_IFMT, _S_IFREG = 0o170000, 0o100000
_CHUNK = 1 << 16


def read_regular(path: str, what: str, limit: int = MAX_SIZE) -> bytes:
    """The bytes of path, which must be a regular file of at most limit bytes.

    Raises OSError from open (the caller words it, e.g. runc's "not found"), RunkError naming
    `what` for a file that is not regular or is too large."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK | os.O_NOCTTY)
    try:
        st = os.fstat(fd)
        if st.st_mode & _S_IFMT != _S_IFREG:
            raise RunkError(f"{what}: {path} is not a regular file")
        if st.st_size > limit:
            raise RunkError(f"{what}: {path} is larger than {limit >> 20} MiB")
        return read_capped(fd, what, limit)
    finally:
        os.close(fd)


def read_capped(fd: int, what: str, limit: int = MAX_SIZE) -> bytes:
    """Everything fd gives until EOF, refusing more than limit bytes (a file that grows, a pipe)."""
    chunks: list[bytes] = []
    total = 0
    while True:
        b = os.read(fd, _CHUNK)
        if not b:
            return b"".join(chunks)
        total += len(b)
        if total > limit:
            raise RunkError(f"{what} is larger than {limit >> 20} MiB")
        chunks.append(b)
