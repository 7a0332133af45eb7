"""Control socket client (host, runk commands): one request to <container dir>/vm.sock, its reply.

Runs on the host in the runk commands (start, kill, pause, resume, update, ps, delete) and in the
exec proxy. Hot path (kill, start): imports os, _socket and the frame codec only. The socket is
reached through /proc/self/fd/<dir fd>/vm.sock, so a long --root cannot overflow sun_path.
Every step is bounded (runk.vm.host.bounds.control): the connect (a stopped supervisor stops
accepting, and a full listen backlog blocks connect), the send, and the wait for the reply;
past the bound a SupervisorTimeout says so.
"""

from __future__ import annotations

import _socket
import _struct
from collections.abc import Callable

from runk import _os as os
from runk.errors import RunkError
from runk.vm.host import bounds
from runk.vm.wire import protocol as P
from runk.vm.wire import wire

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

SOCK = "vm.sock"


class SupervisorTimeout(RunkError):
    """The supervisor is alive but did not answer within the bound (stopped, or its VM is)."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"the container's VM supervisor did not answer within {seconds:g} s")


def _monotonic() -> float:
    from time import monotonic

    return monotonic()


def connect(dirpath: str, timeout: float | None = None) -> _socket.socket:
    """Connected to the supervisor within `timeout` (the control bound); a blocking socket."""
    timeout = bounds.control() if timeout is None else timeout
    dfd = os.open(dirpath, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        s = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM | _socket.SOCK_CLOEXEC, 0)
        try:
            # a blocking AF_UNIX connect to a full backlog waits SO_SNDTIMEO, then fails EAGAIN
            # (a non-blocking one fails at once: Python's settimeout does not help here)
            tv = _struct.pack("@ll", int(timeout), int((timeout % 1) * 1_000_000))
            s.setsockopt(_socket.SOL_SOCKET, _socket.SO_SNDTIMEO, tv)
            s.connect(f"/proc/self/fd/{dfd}/{SOCK}")
            s.setsockopt(_socket.SOL_SOCKET, _socket.SO_SNDTIMEO, _struct.pack("@ll", 0, 0))
        except BlockingIOError:
            s.close()
            raise SupervisorTimeout(timeout) from None
        except OSError as e:
            s.close()
            raise RunkError(
                f"cannot reach the container's VM supervisor: {os.strerror(e.errno).lower() if e.errno else e}"
            ) from None
    finally:
        os.close(dfd)
    return s


def read_reply(
    s: _socket.socket,
    dec: wire.Decoder,
    rid: int,
    other: Callable[[wire.Frame], object] | None = None,
    timeout: float | None = None,
) -> dict[str, Any]:
    """Frames until the EVT reply to `rid`, within `timeout` seconds (the control bound);
    `other(frame)` gets anything else. The socket is left blocking."""
    timeout = bounds.control() if timeout is None else timeout
    deadline = _monotonic() + timeout
    try:
        return _read_reply(s, dec, rid, other, deadline, timeout)
    finally:
        s.settimeout(None)


def _read_reply(
    s: _socket.socket,
    dec: wire.Decoder,
    rid: int,
    other: Callable[[wire.Frame], object] | None,
    deadline: float,
    timeout: float,
) -> dict[str, Any]:
    while True:
        try:
            s.settimeout(max(0.001, deadline - _monotonic()))
            data = s.recv(1 << 16)
        except TimeoutError:
            raise SupervisorTimeout(timeout) from None
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


def call(
    dirpath: str, op: str, timeout: float | None = None, stream: int = P.INIT_STREAM, **args: object
) -> dict[str, Any]:
    """One request; its reply, or RunkError with the guest's message. Connect, send and reply
    each within `timeout` (the control bound by default)."""
    timeout = bounds.control() if timeout is None else timeout
    s = connect(dirpath, timeout)
    try:
        s.settimeout(timeout)
        try:
            s.sendall(P.request(op, 1, stream, **args))
        except TimeoutError:
            raise SupervisorTimeout(timeout) from None
        except OSError as e:
            raise RunkError(
                f"the container's VM supervisor: {os.strerror(e.errno).lower() if e.errno else e}"
            ) from None
        doc = read_reply(s, wire.Decoder(), 1, timeout=timeout)
    finally:
        s.close()
    if not doc.get("ok"):
        raise RunkError(str(doc.get("error") or f"{op} failed"))
    return doc
