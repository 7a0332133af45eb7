"""Read a file the user names (config.json, `exec --process`, `update -r`): never more than a
cap, never an unbounded wait.

Runs in the parent on the create/run/exec paths: imports runk._os and runk.errors only.
A symlink is followed (runc opens config.json with os.Open). config.json must be a regular file:
/dev/zero would be read for ever and a FIFO would block the open and the read. The files of
`exec --process` and `update -r` may also be pipes, FIFOs or character devices, as runc reads
them (`runc exec -p <(...)` is /dev/fd/N, a pipe): they are read up to the cap within
STREAM_WAIT seconds, so /dev/zero fails at the cap and a silent writer at the deadline. The open
is O_NONBLOCK so a FIFO without a writer cannot hang it (its read then sees EOF at once).

MAX_SIZE is 16 MiB: runc has no cap, but a real config is a few KiB (Docker's default seccomp
profile, the largest part most configs have, is 25 KiB; Kubernetes caps a pod's annotations at
256 KiB), and the parsed document costs ~10x its size in memory.
"""

from __future__ import annotations

from runk import _os as os
from runk.errors import RunkError

MAX_SIZE = 16 << 20
STREAM_WAIT = 10.0  # seconds a pipe's writer has to finish
_S_IFMT, _S_IFREG = 0o170000, 0o100000
_S_IFIFO, _S_IFCHR, _S_IFSOCK = 0o010000, 0o020000, 0o140000
_CHUNK = 1 << 16


def read_regular(path: str, what: str, limit: int = MAX_SIZE, streams: bool = False) -> bytes:
    """The bytes of path: a regular file of at most limit bytes, or with `streams` also a pipe,
    FIFO or character device, read up to limit bytes within STREAM_WAIT seconds.

    Raises OSError from open (the caller words it, e.g. runc's "not found"), RunkError naming
    `what` for a file of another kind, one that is too large, or a stream that does not end."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK | os.O_NOCTTY)
    try:
        st = os.fstat(fd)
        kind = st.st_mode & _S_IFMT
        if streams and kind in (_S_IFIFO, _S_IFCHR, _S_IFSOCK):
            try:
                return _read_stream(fd, what, limit)
            except RunkError as e:
                raise RunkError(f"{what}: {path}: {e}") from None
        if kind != _S_IFREG:
            kinds = "a regular file, a pipe or a character device" if streams else "a regular file"
            raise RunkError(f"{what}: {path} is not {kinds}")
        if st.st_size > limit:
            raise RunkError(f"{what}: {path} is larger than {limit >> 20} MiB")
        return read_capped(fd, what, limit)
    finally:
        os.close(fd)


def _read_stream(fd: int, what: str, limit: int) -> bytes:
    """A non-blocking stream until EOF, at most limit bytes, within STREAM_WAIT seconds."""
    import select
    import time

    deadline = time.monotonic() + STREAM_WAIT
    chunks: list[bytes] = []
    total = 0
    while True:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            raise RunkError(f"no end of input within {STREAM_WAIT:g} s")
        try:
            b = os.read(fd, _CHUNK)
        except BlockingIOError:
            continue
        if not b:
            return b"".join(chunks)
        total += len(b)
        if total > limit:
            raise RunkError(f"larger than {limit >> 20} MiB")
        chunks.append(b)


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
