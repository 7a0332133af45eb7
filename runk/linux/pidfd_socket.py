"""--pidfd-socket (create, run, exec): a pidfd of the container's process sent over a unix socket,
so that a manager can signal it without pid reuse races (runc main's flag; runc 1.1.5 has none).

Runs in the parent: it connects before the launch (a socket nobody listens on fails the command
before anything runs), and sends once the process exists. The message is the kind of process
("standard" for the container's init, "setns" for an exec'd one) with the pidfd in SCM_RIGHTS,
as runc sends it.
"""

from __future__ import annotations

from runk import _os as os
from runk.errors import RunkError


def connect(path: str) -> int:
    """A connected, close-on-exec fd of the socket at `path`."""
    from runk.linux.console import connect_console_socket

    try:
        return connect_console_socket(path)
    except RunkError as e:
        raise RunkError(f"failed to dial {path}: {e}") from None


def send(sock_fd: int, pid: int, kind: str) -> None:
    """pidfd_open(pid) and send it with `kind` as the payload; closes nothing of the caller's."""
    import _socket

    try:
        pidfd = os.pidfd_open(pid)
    except OSError as e:
        raise RunkError(f"failed to pidfd_open: {os.strerror(e.errno or 0).lower()}") from None
    s = _socket.socket(fileno=os.dup(sock_fd))
    try:
        s.sendmsg([kind.encode()], [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS, pidfd.to_bytes(4, "little"))])
    except OSError as e:
        raise RunkError(f"failed to send pidfd on socket: {os.strerror(e.errno or 0).lower()}") from None
    finally:
        s.close()
        os.close(pidfd)
