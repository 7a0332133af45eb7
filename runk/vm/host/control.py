"""Control socket client (host, runk commands): one request to <container dir>/vm.sock, its reply.

Runs on the host in the runk commands (start, kill, pause, resume, update, ps, delete) and in the
exec proxy. Hot path (kill, start): imports os, _socket and the frame codec only. The socket is
reached through /proc/self/fd/<dir fd>/vm.sock, so a long --root cannot overflow sun_path.
"""
from __future__ import annotations

import _socket

from runk import _os as os
from runk.errors import RunkError
from runk.vm.wire import protocol as P
from runk.vm.wire import wire

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

SOCK = "vm.sock"


def connect(dirpath: str) -> _socket.socket:
    dfd = os.open(dirpath, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        s = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM | _socket.SOCK_CLOEXEC, 0)
        try:
            s.connect(f"/proc/self/fd/{dfd}/{SOCK}")
        except OSError as e:
            s.close()
            raise RunkError("cannot reach the container's VM supervisor: "
                            f"{os.strerror(e.errno).lower() if e.errno else e}") from None
    finally:
        os.close(dfd)
    return s


def read_reply(s: _socket.socket, dec: wire.Decoder, rid: int,
               other: Callable[[wire.Frame], object] | None = None) -> dict[str, Any]:
    """Frames until the EVT reply to `rid`; `other(frame)` gets anything else."""
    while True:
        try:
            data = s.recv(1 << 16)
        except TimeoutError:
            raise RunkError("timed out waiting for the container's VM supervisor") from None
        except OSError as e:
            raise RunkError(f"the container's VM supervisor: {os.strerror(e.errno or 0).lower()}") from None
        if not data:
            raise RunkError("the container's VM supervisor went away")
        for f in dec.feed(data):
            if f.type == wire.EVT:
                doc: dict[str, Any] = f.json()
                if doc.get("rid") == rid:
                    return doc
            elif other is not None:
                other(f)


def call(dirpath: str, op: str, timeout: float = 120.0, stream: int = P.INIT_STREAM,
         **args: object) -> dict[str, Any]:
    """One request; its reply, or RunkError with the guest's message."""
    s = connect(dirpath)
    try:
        s.settimeout(timeout)
        s.sendall(P.request(op, 1, stream, **args))
        doc = read_reply(s, wire.Decoder(), 1)
    finally:
        s.close()
    if not doc.get("ok"):
        raise RunkError(str(doc.get("error") or f"{op} failed"))
    return doc
