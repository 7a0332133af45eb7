"""Stdio of one container process (guest, in the agent): pipes or a pty master, as frames.

Runs in the guest agent. A Proc is made before the process: its child ends become fds 0-2 of the
runk create/exec call that forks it (runc's pass-through stdio), or, with a terminal, a socketpair
end is the console socket over which the container's init or tenant sends its pty master (the
same path as `runk run -t` on the host). Output is read non-blocking and sent as STDOUT/STDERR
frames; STDIN frames are queued and written as the process reads; EOF travels as a zero-length
frame. Its preserved fds (`--preserve-fds`) are a GuestFds (runk.vm.guest.fdio), relayed as FD
frames. When the process is reaped, what it wrote is drained, EOFs and its EXIT frame follow.
"""

from __future__ import annotations

import _socket
import contextlib
import os
import select

from runk.linux.console import recv_master
from runk.vm.guest.fdio import GuestFds
from runk.vm.wire import protocol as P
from runk.vm.wire import wire

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator

_IN = select.POLLIN | select.POLLHUP | select.POLLERR


class Proc:
    __slots__ = (
        "_child",
        "_sock",
        "console_fd",
        "fds",
        "master",
        "outs",
        "pending",
        "pid",
        "stdin_eof",
        "stdin_fd",
        "stream",
        "terminal",
    )

    def __init__(self, stream: int, terminal: bool, fds: list[list[object]] | None = None) -> None:
        self.stream = stream
        self.fds = GuestFds(stream, fds)  # its preserved fds (--preserve-fds), first: they may fail
        self.terminal = terminal
        self.pid = 0
        self.console_fd: int | None = None
        self._sock = None
        self._child: tuple[int, ...] = ()
        self.outs: dict[int, int] = {}  # fd -> STDOUT | STDERR
        self.stdin_fd: int | None = None
        self.pending = bytearray()
        self.stdin_eof = False
        self.master: int | None = None
        if terminal:
            ours, theirs = _socket.socketpair(_socket.AF_UNIX, _socket.SOCK_STREAM | _socket.SOCK_CLOEXEC, 0)
            self._sock = ours
            self.console_fd = theirs.detach()
            null = os.open("/dev/null", os.O_RDWR | os.O_CLOEXEC)
            self._child = (null, null, null)
        else:
            in_r, in_w = os.pipe()
            out_r, out_w = os.pipe()
            err_r, err_w = os.pipe()
            self._child = (in_r, out_w, err_w)
            self.stdin_fd = in_w
            self.outs = {out_r: wire.STDOUT, err_r: wire.STDERR}
            for fd in (in_w, out_r, err_r):
                os.set_blocking(fd, False)

    @contextlib.contextmanager
    def stdio(self) -> Iterator[None]:
        """The child ends as this process's 0, 1, 2 (and the preserved fds at theirs) while runk
        forks the container process."""
        saved = [os.dup(i) for i in (0, 1, 2)]
        try:
            for i, fd in enumerate(self._child):
                os.dup2(fd, i)
            with self.fds.placed():
                yield
        finally:
            for i, fd in enumerate(saved):
                os.dup2(fd, i)
                os.close(fd)

    def started(self, pid: int) -> None:
        """The process exists: drop the child ends; take the pty master it sent."""
        self.pid = pid
        for fd in set(self._child):
            os.close(fd)
        self._child = ()
        self.fds.started()
        if self.console_fd is not None:
            os.close(self.console_fd)
            self.console_fd = None
        if self._sock is not None:
            master = recv_master(self._sock)
            if master is None:
                raise OSError("the container did not send its terminal")
            self.master = master
            self._sock.close()
            self._sock = None
            os.set_blocking(self.master, False)
            self.stdin_fd = self.master
            self.outs = {self.master: wire.STDOUT}

    def register(self, poller: select.poll) -> None:
        masks: dict[int, int] = dict.fromkeys(self.outs, _IN)
        if self.stdin_fd is not None and self.pending:
            masks[self.stdin_fd] = masks.get(self.stdin_fd, 0) | select.POLLOUT
        self.fds.register(masks)
        for fd, m in masks.items():
            poller.register(fd, m)

    def on_event(self, fd: int, ev: int, peer: P.Peer) -> None:
        if fd in self.outs and ev & _IN:
            self._read(fd, peer)
        if fd == self.stdin_fd and ev & select.POLLOUT:
            self.flush()
        self.fds.on_event(fd, ev, peer)

    def _read(self, fd: int, peer: P.Peer) -> bool:
        """One read; False once the stream ended (EOF frame sent, fd closed)."""
        try:
            data = os.read(fd, P.CHUNK)
        except BlockingIOError:
            return True
        except OSError:  # EIO: every slave of the pty is closed
            data = b""
        kind = self.outs[fd]
        for frame in P.data_frames(kind, self.stream, data):
            peer.send(frame)
        if not data:
            del self.outs[fd]
            if fd == self.stdin_fd:
                self.stdin_fd = None
            os.close(fd)
            if fd == self.master:
                self.master = None
            return False
        return True

    def feed_stdin(self, data: bytes) -> None:
        if not data:
            if not self.terminal:  # a terminal stays open: EOF is the user's ^D
                self.stdin_eof = True
        else:
            self.pending += data
        self.flush()

    def flush(self) -> None:
        fd = self.stdin_fd
        if fd is None:
            self.pending.clear()
            return
        while self.pending:
            try:
                n = os.write(fd, self.pending)
            except BlockingIOError:
                return
            except OSError:  # EPIPE: it closed its stdin
                self.pending.clear()
                break
            del self.pending[:n]
        if self.stdin_eof and not self.terminal:
            os.close(fd)
            self.stdin_fd = None

    def resize(self, rows: int, cols: int) -> None:
        if self.master is not None:
            from runk.linux.console import set_size

            set_size(self.master, rows, cols)

    def finish(self, status: int, peer: P.Peer) -> None:
        """Reaped: send what it wrote, the EOFs, then its EXIT frame."""
        for fd in list(self.outs):
            while self._read(fd, peer):
                if not _readable(fd):
                    for frame in P.data_frames(self.outs[fd], self.stream, b""):
                        peer.send(frame)
                    break
        self.fds.drain(peer)
        peer.send(P.exit_frame(self.stream, P.status_of(status)))
        self.close()

    def close(self) -> None:
        fds = set(self._child) | set(self.outs)
        for fd in (self.stdin_fd, self.master, self.console_fd):
            if fd is not None:
                fds.add(fd)
        for fd in fds:
            try:
                os.close(fd)
            except OSError:
                pass
        self._child, self.outs = (), {}
        self.stdin_fd = self.master = self.console_fd = None
        self.fds.close()
        if self._sock is not None:
            self._sock.close()
            self._sock = None


def _readable(fd: int) -> bool:
    p = select.poll()
    p.register(fd, select.POLLIN)
    return bool(p.poll(0))
