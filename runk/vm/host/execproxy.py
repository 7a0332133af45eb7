"""Exec proxy (host, forked by runk exec): the host process standing for a guest exec'd process.

Runs on the host, forked by `runk exec` (runk.backend.vm.exec_process). It asks the supervisor
for ExecProcess over vm.sock, then relays its own stdio as frames (or, with a terminal, a host
pty whose master went over --console-socket) and the preserved fds (runk.vm.host.fdrelay: their
bytes as FD frames), forwards the signals it receives (and window
size changes) to the guest process, and exits as that process did. Its pid is what --pid-file
gets and what conmon reaps, as it would reap runc's exec'd process.
"""

from __future__ import annotations

import os
import select
import signal

from runk.errors import RunkError
from runk.linux.bootstrap import adopt_stdio
from runk.vm.host import bounds, control, hostio
from runk.vm.host.fdrelay import HostFds
from runk.vm.wire import protocol as P
from runk.vm.wire import wire

TYPE_CHECKING = False
if TYPE_CHECKING:
    from _socket import socket
    from typing import Any


def start(
    dirpath: str,
    process: dict[str, Any],
    console_socket: str | None,
    console_fd: int | None,
    close_fds: tuple[int, ...] = (),
    stdio: tuple[int, int, int] | None = None,
    container_id: str | None = None,
    fds: list[tuple[int, str]] | None = None,
) -> int:
    """Fork the proxy; returns its pid once the guest process runs, or raises its error.
    dirpath: the directory of the supervisor to ask (a pod member's: its sandbox's, naming the
    member by container_id); fds: the preserved fds it relays (runk.vm.host.fdrelay.plan)."""
    r, w = os.pipe2(os.O_CLOEXEC)
    pid = os.fork()
    if pid == 0:
        status: dict[str, Any] = {"exit_code": 255}
        try:
            os.close(r)
            for fd in close_fds:
                os.close(fd)
            adopt_stdio(stdio)
            status = _run(dirpath, process, console_socket, console_fd, w, container_id, fds or [])
        except BaseException as e:  # the child reports and exits, never returns
            from runk.errors import describe

            try:
                os.write(w, describe(e).encode() or b"exec failed")
            except OSError:
                pass
        hostio.exit_as(status)
    os.close(w)
    msg = b""  # "ok", an error, or EOF: the proxy bounds its own wait (_run)
    while chunk := os.read(r, 4096):
        msg += chunk
    os.close(r)
    if msg == b"ok":
        return pid
    os.waitpid(pid, 0)
    raise RunkError(msg.decode(errors="replace") or "the exec proxy died")


def _run(
    dirpath: str,
    process: dict[str, Any],
    console_socket: str | None,
    console_fd: int | None,
    ready_w: int,
    container_id: str | None = None,
    fds: list[tuple[int, str]] | None = None,
) -> dict[str, Any]:
    terminal = bool(process.get("terminal"))
    s = control.connect(dirpath)  # within the control bound
    slave: int | None = None
    master: int | None = None
    if terminal:
        master, slave = hostio.open_pty()
        hostio.take_controlling(slave)
    wake_r, wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
    hostio.forward_signals(wake_w)
    early: list[wire.Frame] = []
    dec = wire.Decoder()
    s.settimeout(bounds.control())
    try:
        more: dict[str, Any] = {"container_id": container_id} if container_id else {}
        if fds:
            more["fds"] = [[n, d] for n, d in fds]
        s.sendall(P.request(P.EXEC, 1, 0, process=process, **more))
    except TimeoutError:
        raise control.SupervisorTimeout(bounds.control()) from None
    # the reply within the control bound; then the relay waits as long as the process lives
    doc = control.read_reply(s, dec, 1, early.append)
    if not doc.get("ok"):
        raise RunkError(str(doc.get("error") or "exec failed"))
    stream = int(doc["stream"])
    if master is not None:
        hostio.send_console(master, console_socket, console_fd)
        os.close(master)
    os.write(ready_w, b"ok")
    os.close(ready_w)
    relay = Relay(s, stream, slave, fds)
    for f in early:
        relay.frame(f)
    return relay.run(dec, wake_r)


class Relay:
    """One guest process's stdio (or host pty), preserved fds, signals and exit, over a control
    connection (the exec proxy's; a pod member's host process uses it too)."""

    __slots__ = ("fds", "rid", "s", "slave", "status", "stdin_open", "stream")

    def __init__(self, s: socket, stream: int, slave: int | None, fds: list[tuple[int, str]] | None = None) -> None:
        self.s, self.stream, self.slave = s, stream, slave
        self.stdin_open = slave is None
        self.status: dict[str, Any] | None = None
        self.rid = 1
        self.fds = HostFds(stream, fds or [], self.send)

    def send(self, data: bytes) -> None:
        try:
            self.s.sendall(data)
        except OSError:
            pass

    def request(self, op: str, **args: object) -> None:
        self.rid += 1
        self.send(P.request(op, self.rid, self.stream, **args))

    def frame(self, f: wire.Frame) -> None:
        if f.stream != self.stream:
            return
        if f.type in (wire.STDOUT, wire.STDERR) and f.payload:
            fd = self.slave if self.slave is not None else (1 if f.type == wire.STDOUT else 2)
            if self.slave is not None:
                hostio.keep_raw(fd)
            try:
                P.write_all(fd, f.payload)
            except OSError:
                pass
        elif f.type == wire.FD:
            self.fds.on_frame(f)
        elif f.type == wire.EXIT:
            self.status = f.json()

    def run(self, dec: wire.Decoder, wake_r: int) -> dict[str, Any]:
        try:
            return self._run(dec, wake_r)
        finally:
            self.fds.close()

    def _run(self, dec: wire.Decoder, wake_r: int) -> dict[str, Any]:
        sfd = self.s.fileno()
        inp = self.slave if self.slave is not None else 0
        while self.status is None:
            p = select.poll()
            p.register(sfd, select.POLLIN)
            p.register(wake_r, select.POLLIN)
            if self.stdin_open or self.slave is not None:
                p.register(inp, select.POLLIN)
            for fd in self.fds.poll_fds():
                p.register(fd, select.POLLIN)
            try:
                events = p.poll()
            except InterruptedError:
                continue
            for fd, _ev in events:
                if fd == sfd:
                    try:
                        data = self.s.recv(1 << 16)
                    except OSError:
                        data = b""
                    if not data:  # the supervisor is gone, and the container with it
                        return self.status or {"signal": signal.SIGKILL}
                    for f in dec.feed(data):
                        self.frame(f)
                elif fd == wake_r:
                    for sig in hostio.read_signals(wake_r):
                        self.on_signal(sig)
                elif fd == inp:
                    self.read_input(inp)
                elif fd in self.fds.readable:
                    self.fds.on_readable(fd)
        return self.status

    def read_input(self, fd: int) -> None:
        try:
            data = os.read(fd, P.CHUNK)
        except OSError:
            data = b""
        if data:
            for frame in P.data_frames(wire.STDIN, self.stream, data):
                self.send(frame)
        elif self.slave is not None:
            os.close(self.slave)  # conmon closed the master
            self.slave = None
        else:
            self.stdin_open = False
            self.send(wire.eof(wire.STDIN, self.stream))

    def on_signal(self, sig: int) -> None:
        if sig == signal.SIGWINCH:
            if self.slave is not None:
                rows, cols = hostio.winsize(self.slave)
                self.request(P.RESIZE, rows=rows, cols=cols)
        elif sig not in hostio.NOT_FORWARDED:
            self.request(P.SIGNAL, signal=sig)
