"""Preserved descriptors (host: runk create/exec, the supervisor, the exec proxy, a member's
supervisor): `--preserve-fds N` on runk-vm, relayed as bytes.

A descriptor is an object of the host kernel and cannot be handed to a process in the guest's;
its data can. `runk create`/`exec` classify each of fds 3..3+N-1 they inherited (podman and
conmon pass them for `podman run --preserve-fds N`; `LISTEN_FDS` adds to N) before anything is
made:

- read-only (a pipe's read end, a FIFO or a file opened O_RDONLY): "in", host to guest, then
  its EOF;
- write-only (a pipe's write end, a FIFO or a file opened O_WRONLY, with or without O_APPEND):
  "out", guest to host;
- a connected stream socket (a socketpair end, a TCP or unix connection): "both", each way
  with its half-close (shutdown(SHUT_WR) when the other side's EOF arrives);
- anything else is refused with one line naming `--preserve-fds` and the fd: a listening socket
  (socket activation: the guest cannot accept the host's connections), a datagram or seqpacket
  socket (a byte stream would lose message boundaries), an unconnected socket, a directory, a
  device, an O_PATH descriptor, an anonymous inode (eventfd, epoll, timerfd, signalfd, pidfd,
  ...), a FIFO opened read-write, and a regular file opened read-write: its reads and writes
  share one offset (and seeks) that two streams could not keep;
- an fd that is not open is skipped: the process does not get it either, as with runc.

The process in the guest gets, at the same number, a pipe end ("in", "out") or a socketpair
end ("both") that the guest agent relays (runk.vm.guest.procio) as FD frames
(runk.vm.wire.protocol.fd_frames) on the process's stream; the host side is a HostFds here,
held by the process that stands for the guest process: the supervisor for the container's init
(exec'd by create, it keeps the fds open across its exec), the exec proxy for an exec, the
member supervisor for a pod member's init. What is shared is the bytes, not the description:
offsets, file locks, flags set in the guest and socket options do not reach the host's
descriptor. Writes to the host descriptor block the relay as stdout's do.
"""

from __future__ import annotations

import os
import stat

from runk.errors import RunkError
from runk.vm.wire import protocol as P
from runk.vm.wire import wire

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

IN, OUT, BOTH = "in", "out", "both"
DIRECTIONS = (IN, OUT, BOTH)
FIRST = 3  # fds 3..3+N-1 are preserved
SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET = 1, 2, 5
O_PATH = getattr(os, "O_PATH", 0o10000000)
RELAYED = "runk-vm relays pipes, FIFOs, files opened read-only or write-only and connected stream sockets"


class Kind:
    """What fd N is, in the terms classify() needs (made by inspect(), or by hand in tests)."""

    __slots__ = ("connected", "flags", "listening", "mode", "sock_type", "target")

    def __init__(
        self,
        mode: int,
        flags: int,
        sock_type: int = 0,
        listening: bool = False,
        connected: bool = False,
        target: str = "",
    ) -> None:
        self.mode, self.flags, self.sock_type = mode, flags, sock_type
        self.listening, self.connected, self.target = listening, connected, target


def classify(kind: Kind) -> tuple[str | None, str]:
    """(direction, "") for what is relayed; (None, why) for what is refused."""
    if kind.flags & O_PATH:
        return None, "an O_PATH descriptor carries no data"
    acc = kind.flags & os.O_ACCMODE
    fmt = stat.S_IFMT(kind.mode)
    if fmt == stat.S_IFSOCK:
        if kind.listening:
            return None, "a listening socket: the guest cannot accept the host's connections"
        if kind.sock_type == SOCK_DGRAM:
            return None, "a datagram socket: a byte stream would lose its message boundaries"
        if kind.sock_type == SOCK_SEQPACKET:
            return None, "a seqpacket socket: a byte stream would lose its message boundaries"
        if kind.sock_type != SOCK_STREAM:
            return None, f"a socket of type {kind.sock_type}"
        if not kind.connected:
            return None, "an unconnected socket"
        return BOTH, ""
    if fmt in (stat.S_IFIFO, stat.S_IFREG):
        what = "a FIFO" if fmt == stat.S_IFIFO else "a regular file"
        if acc == os.O_RDONLY:
            return IN, ""
        if acc == os.O_WRONLY:
            return OUT, ""
        if fmt == stat.S_IFREG:
            return None, "a regular file opened read-write: its reads and writes share one offset a relay cannot keep"
        return None, f"{what} opened read-write has no direction"
    if fmt == stat.S_IFDIR:
        return None, "a directory"
    if fmt in (stat.S_IFCHR, stat.S_IFBLK):
        return None, f"a device ({kind.target or 'character or block'})"
    name = kind.target[len("anon_inode:") :] if kind.target.startswith("anon_inode:") else kind.target
    return None, f"{name or 'an object'} is not a byte stream"


def inspect(fd: int) -> Kind | None:
    """fd's Kind, or None if it is not open."""
    import fcntl

    try:
        flags = fcntl.fcntl(fd, fcntl.F_GETFL)
    except OSError:
        return None
    try:
        target = os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        target = ""
    try:
        mode = os.fstat(fd).st_mode
    except OSError:
        return Kind(0, flags, target=target)
    if not stat.S_ISSOCK(mode) or flags & O_PATH:
        return Kind(mode, flags, target=target)
    import socket

    s = socket.socket(fileno=os.dup(fd))
    try:
        sock_type = s.getsockopt(socket.SOL_SOCKET, socket.SO_TYPE)
        listening = bool(s.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN))
        try:
            s.getpeername()
            connected = True
        except OSError:
            connected = False
    finally:
        s.close()
    return Kind(mode, flags, sock_type, listening, connected, target)


def plan(count: int) -> list[tuple[int, str]]:
    """[(fd, direction)] of fds 3..3+count-1 that are open; RunkError naming the first refused."""
    out = []
    for fd in range(FIRST, FIRST + count):
        kind = inspect(fd)
        if kind is None:
            continue
        direction, why = classify(kind)
        if direction is None:
            raise RunkError(f"--preserve-fds: fd {fd} is {why}; {RELAYED}")
        out.append((fd, direction))
    return out


def encode(fds: list[tuple[int, str]]) -> str:
    """The plan as one argv word for the supervisor: "3:in,4:out"."""
    return ",".join(f"{n}:{d}" for n, d in fds)


def decode(word: str) -> list[tuple[int, str]]:
    out = []
    for item in filter(None, word.split(",")):
        n, _, d = item.partition(":")
        if d not in DIRECTIONS or not n.isdigit():
            raise ValueError(f"bad preserved fd {item!r}")
        out.append((int(n), d))
    return out


class HostFds:
    """The host ends of one guest process's preserved fds: reads "in"/"both" fds into FD frames
    (`send`), writes FD frames from the guest to "out"/"both" fds. Blocking writes; the fds'
    flags are left alone (they are shared with whoever passed them)."""

    __slots__ = ("dirs", "readable", "send", "stream", "writable")

    def __init__(self, stream: int, fds: list[tuple[int, str]], send: Callable[[bytes], None]) -> None:
        self.stream, self.send = stream, send
        self.dirs = dict(fds)
        self.readable = {n for n, d in fds if d in (IN, BOTH)}
        self.writable = {n for n, d in fds if d in (OUT, BOTH)}

    def poll_fds(self) -> list[int]:
        """The host fds to poll for POLLIN."""
        return sorted(self.readable)

    def on_readable(self, fd: int) -> None:
        """One read of a host fd into FD frames; its EOF frame at its end (or a read error)."""
        try:
            data = os.read(fd, P.CHUNK - P.FD_NUM_SIZE)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        for frame in P.fd_frames(self.stream, fd, data):
            self.send(frame)
        if not data:
            self.readable.discard(fd)
            self._maybe_close(fd)

    def on_frame(self, f: wire.Frame) -> None:
        """An FD frame from the guest: its bytes to the host fd; its EOF closes it (a pipe, a file)
        or shuts down its writing (a socket)."""
        fd, data = P.fd_payload(f)
        if fd not in self.writable:
            return
        if data:
            try:
                P.write_all(fd, data)
                return
            except OSError:  # the reader went away (EPIPE): drop the rest
                pass
        self.writable.discard(fd)
        if self.dirs.get(fd) == BOTH:
            import socket

            s = socket.socket(fileno=os.dup(fd))
            try:
                s.shutdown(socket.SHUT_WR)
            except OSError:
                pass
            finally:
                s.close()
        self._maybe_close(fd)

    def _maybe_close(self, fd: int) -> None:
        if fd not in self.readable and fd not in self.writable and self.dirs.pop(fd, None) is not None:
            try:
                os.close(fd)
            except OSError:
                pass

    def close(self) -> None:
        for fd in list(self.dirs):
            try:
                os.close(fd)
            except OSError:
                pass
        self.dirs.clear()
        self.readable.clear()
        self.writable.clear()
