"""Preserved fds of one container process (guest, in the agent): pipe ends and socketpair ends
at the numbers the host passed, their bytes as FD frames.

Runs in the guest agent, beside runk.vm.guest.procio (a Proc holds one GuestFds). The host
(runk.vm.host.fdrelay) says which of fds 3.. the process gets and which way their bytes go:
"in" gives it a pipe's read end (the agent writes what the host sends, then closes at the
host's EOF), "out" a pipe's write end (the agent reads and sends, EOF when every holder in the
container closed it), "both" one end of a stream socketpair (each way, a host EOF becomes
shutdown(SHUT_WR)). placed() puts the process's ends at their numbers while runk's core forks
the process (its preserve_fds keeps 3..highest), moving aside what of the agent's own was there;
the agent's own ends stay above the highest number.
"""

from __future__ import annotations

import _socket
import contextlib
import fcntl
import os
import select
import signal

from runk.vm.wire import protocol as P

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator

FIRST = 3
_IN = select.POLLIN | select.POLLHUP | select.POLLERR


def _above(fd: int, floor: int) -> int:
    """fd moved to the lowest free number >= floor (close-on-exec)."""
    if fd >= floor:
        return fd
    new = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, floor)
    os.close(fd)
    return new


class GuestFds:
    __slots__ = ("child", "eof", "pending", "reads", "socks", "stream", "writes")

    def __init__(self, stream: int, spec: list[list[object]] | None) -> None:
        self.stream = stream
        self.child: dict[int, int] = {}  # number in the process -> its end (until started)
        self.reads: dict[int, int] = {}  # our end -> number: the process's bytes to the host
        self.writes: dict[int, int] = {}  # number -> our end: the host's bytes to the process
        self.pending: dict[int, bytearray] = {}
        self.eof: set[int] = set()  # numbers whose host EOF arrived
        self.socks: set[int] = set()  # our ends that are sockets
        items = [(int(str(n)), str(d)) for n, d in spec or []]
        floor = max((n for n, _d in items), default=FIRST - 1) + 1
        try:
            for num, d in items:
                if num < FIRST:
                    raise ValueError(f"preserved fd {num} is below {FIRST}")
                if d == "in":
                    r, w = os.pipe()
                    self.child[num], self.writes[num] = _above(r, floor), _above(w, floor)
                elif d == "out":
                    r, w = os.pipe()
                    self.child[num] = _above(w, floor)
                    self.reads[_above(r, floor)] = num
                elif d == "both":
                    a, b = _socket.socketpair(_socket.AF_UNIX, _socket.SOCK_STREAM | _socket.SOCK_CLOEXEC, 0)
                    ours = _above(a.detach(), floor)
                    self.child[num] = _above(b.detach(), floor)
                    self.reads[ours], self.writes[num] = num, ours
                    self.socks.add(ours)
                else:
                    raise ValueError(f"preserved fd {num}: unknown direction {d!r}")
        except BaseException:
            self.close()
            raise
        for fd in set(self.reads) | set(self.writes.values()):
            os.set_blocking(fd, False)
        for num in self.writes:
            self.pending[num] = bytearray()

    def preserve(self) -> int:
        """The --preserve-fds count for runk's core: 3 up to the highest number."""
        return max(self.child) - FIRST + 1 if self.child else 0

    @contextlib.contextmanager
    def placed(self) -> Iterator[None]:
        """The process's ends at their numbers (inheritable); the agent's fds there moved aside
        and put back after, with no signal wakeup byte written into a process's pipe meanwhile."""
        count = self.preserve()
        if not count:
            yield
            return
        floor = FIRST + count
        saved: dict[int, tuple[int, bool]] = {}
        wakeup = signal.set_wakeup_fd(-1)
        try:
            for num in range(FIRST, floor):
                try:
                    saved[num] = (fcntl.fcntl(num, fcntl.F_DUPFD_CLOEXEC, floor), os.get_inheritable(num))
                except OSError:
                    continue
            for num in range(FIRST, floor):
                if num in self.child:
                    os.dup2(self.child[num], num)
                elif num in saved:
                    os.close(num)  # not open on the host: not in the process either
            yield
        finally:
            for num in range(FIRST, floor):
                if num in saved:
                    fd, inheritable = saved[num]
                    os.dup2(fd, num, inheritable=inheritable)
                    os.close(fd)
                elif num in self.child:
                    os.close(num)
            signal.set_wakeup_fd(wakeup)

    def started(self) -> None:
        """The process holds its ends: drop ours."""
        for fd in self.child.values():
            os.close(fd)
        self.child.clear()

    def register(self, masks: dict[int, int]) -> None:
        for fd in self.reads:
            masks[fd] = masks.get(fd, 0) | _IN
        for num, fd in self.writes.items():
            if self.pending[num]:
                masks[fd] = masks.get(fd, 0) | select.POLLOUT

    def on_event(self, fd: int, ev: int, peer: P.Peer) -> None:
        if fd in self.reads and ev & _IN:
            self.read(fd, peer)
        if ev & (select.POLLOUT | select.POLLERR):
            for num, ours in list(self.writes.items()):
                if ours == fd:
                    self.flush(num)

    def read(self, fd: int, peer: P.Peer) -> bool:
        """One read of the process's bytes; False once that direction ended (EOF frame sent)."""
        try:
            data = os.read(fd, P.CHUNK - P.FD_NUM_SIZE)
        except BlockingIOError:
            return True
        except OSError:
            data = b""
        num = self.reads[fd]
        for frame in P.fd_frames(self.stream, num, data):
            peer.send(frame)
        if data:
            return True
        del self.reads[fd]
        self._maybe_close(fd)
        return False

    def feed(self, num: int, data: bytes) -> None:
        """The host's bytes (b"": its EOF) for number `num`."""
        if num not in self.writes:
            return
        if data:
            self.pending[num] += data
        else:
            self.eof.add(num)
        self.flush(num)

    def flush(self, num: int) -> None:
        fd = self.writes[num]
        buf = self.pending[num]
        while buf:
            try:
                n = os.write(fd, buf)
            except BlockingIOError:
                return
            except OSError:  # EPIPE: the process closed its end
                buf.clear()
                self.eof.add(num)
                break
            del buf[:n]
        if num in self.eof:
            del self.writes[num]
            if fd in self.socks:
                s = _socket.socket(fileno=os.dup(fd))
                try:
                    s.shutdown(_socket.SHUT_WR)
                except OSError:
                    pass
                finally:
                    s.close()
            self._maybe_close(fd)

    def drain(self, peer: P.Peer) -> None:
        """The process was reaped: what it wrote, then EOF, for each fd it could write."""
        for fd in list(self.reads):
            while self.read(fd, peer):
                if not _readable(fd):
                    num = self.reads.pop(fd)
                    for frame in P.fd_frames(self.stream, num, b""):
                        peer.send(frame)
                    self._maybe_close(fd)
                    break

    def _maybe_close(self, fd: int) -> None:
        if fd not in self.reads and fd not in self.writes.values():
            self.socks.discard(fd)
            try:
                os.close(fd)
            except OSError:
                pass

    def close(self) -> None:
        fds = set(self.child.values()) | set(self.reads) | set(self.writes.values())
        for fd in fds:
            try:
                os.close(fd)
            except OSError:
                pass
        self.child.clear()
        self.reads.clear()
        self.writes.clear()
        self.socks.clear()


def _readable(fd: int) -> bool:
    p = select.poll()
    p.register(fd, select.POLLIN)
    return bool(p.poll(0))
