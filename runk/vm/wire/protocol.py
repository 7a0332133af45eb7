"""VM backend messages over runk.vm.wire frames (host, supervisor and guest): verbs, replies, EXIT.

Runs in the guest agent, the host supervisor and the runk commands that talk to the supervisor.
Two hops use the same messages: runk (start, kill, exec, ...) -> supervisor over the control
socket <cdir>/vm.sock, and supervisor -> guest agent over the virtio-serial port. Verbs are named
after Kata's agent.proto; no gRPC.

    REQ  {"op": VERB, "rid": N, ...}          a request; rid is chosen by the sender
    EVT  {"rid": N, "ok": true, ...}          its reply, or {"rid": N, "ok": false, "error": MSG}
    EVT  {"event": "hello", ...}              the agent is up (sent once)
    STDIN/STDOUT/STDERR (stream S)            a process's stdio; zero length = EOF
    EXIT (stream S) {"exit_code": N} | {"signal": N}
    FD (stream S) fd:u32 | bytes              a preserved descriptor's bytes; no bytes = its EOF

CreateContainer and ExecProcess may carry "fds": [[N, DIR], ...] (runk.vm.host.fdrelay): the
process gets, at fd N, a pipe end or socket the agent relays as FD frames, DIR "in" (host to
guest), "out" (guest to host) or "both" (a stream socket, with half-close); runk's core in
the guest preserves fds 3 up to the highest N.

Stream 0 is the sandbox container's init; ExecProcess gets a new stream per process, and so does
the CreateContainer of a pod member (a second container in the same VM, runk.vm.host.pod): its
init's stdio and EXIT travel on that stream. Requests about a member name it with
"container_id" (Kata's field); without it they are about the sandbox container. RemoveContainer
deletes a member in the guest; DestroySandbox deletes every container and powers off. Imports wire only:
this also runs on `python3 -S` in the guest and on the hot path of kill and start.
"""

from __future__ import annotations

from runk import _os as os
from runk.vm.wire import wire

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

CREATE = "CreateContainer"
START = "StartContainer"
EXEC = "ExecProcess"
SIGNAL = "SignalProcess"
RESIZE = "TtyWinResize"
PAUSE = "PauseContainer"
RESUME = "ResumeContainer"
UPDATE = "UpdateContainer"
STATS = "StatsContainer"
PS = "ListProcesses"
DESTROY = "DestroySandbox"
REMOVE = "RemoveContainer"
VERBS = frozenset((CREATE, START, EXEC, SIGNAL, RESIZE, PAUSE, RESUME, UPDATE, STATS, PS, DESTROY, REMOVE))

INIT_STREAM = 0
# the guest's tmpfs that a container's /dev/shm binds when the host config binds one (podman's
# pod shm): the agent mounts it on first use, so a pod's containers share it as under runc
POD_SHM = "/run/runk-shm"
POD_SHM_OPTIONS = "mode=1777,size=65536k"
# virtio_console takes at most 32 KiB per write(): one frame, header included, per write
CHUNK = 32768 - wire.HEADER_SIZE


FD_NUM_SIZE = 4  # the fd number before an FD frame's bytes


class ProtocolError(wire.ProtocolError):
    pass


def request(op: str, rid: int, stream: int = 0, **args: object) -> bytes:
    if op not in VERBS:
        raise ProtocolError(f"unknown verb {op!r}")
    return wire.encode_json(wire.REQ, stream, {"op": op, "rid": rid, **args})


def reply(rid: int, ok: bool = True, error: str | None = None, **data: object) -> bytes:
    doc: dict[str, Any] = {"rid": rid, "ok": ok, **data}
    if not ok:
        doc["error"] = error or "failed"
    return wire.encode_json(wire.EVT, 0, doc)


def event(name: str, **data: object) -> bytes:
    return wire.encode_json(wire.EVT, 0, {"event": name, **data})


def exit_frame(stream: int, status: dict[str, int]) -> bytes:
    return wire.encode_json(wire.EXIT, stream, status)


def status_of(waitstatus: int) -> dict[str, int]:
    """An EXIT payload from a wait status."""
    if os.WIFSIGNALED(waitstatus):
        return {"signal": os.WTERMSIG(waitstatus)}
    return {"exit_code": os.WEXITSTATUS(waitstatus)}


def exit_code(status: dict[str, Any]) -> int:
    """The shell's view of an EXIT payload: the code, or 128+N for signal N."""
    if "signal" in status:
        return 128 + int(status["signal"])
    return int(status.get("exit_code", 255))


def data_frames(type: int, stream: int, data: bytes) -> list[bytes]:
    """Frames of at most one virtio-serial write each; b"" gives the EOF frame."""
    if not data:
        return [wire.encode(type, stream, b"")]
    return [wire.encode(type, stream, data[i : i + CHUNK]) for i in range(0, len(data), CHUNK)]


def fd_frames(stream: int, num: int, data: bytes) -> list[bytes]:
    """FD frames of descriptor `num`'s bytes, each within one virtio-serial write; b"" gives its EOF."""
    head = num.to_bytes(FD_NUM_SIZE, "big")
    size = CHUNK - FD_NUM_SIZE
    if not data:
        return [wire.encode(wire.FD, stream, head)]
    return [wire.encode(wire.FD, stream, head + data[i : i + size]) for i in range(0, len(data), size)]


def fd_payload(f: wire.Frame) -> tuple[int, bytes]:
    """(fd number, bytes) of an FD frame; b"" is that descriptor's EOF."""
    if len(f.payload) < FD_NUM_SIZE:
        raise ProtocolError("an FD frame without its fd number")
    return int.from_bytes(f.payload[:FD_NUM_SIZE], "big"), f.payload[FD_NUM_SIZE:]


def write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        try:
            n = os.write(fd, view)
        except InterruptedError:
            continue
        view = view[n:]


class Peer:
    """One end of a framed byte stream (a socket or the virtio port): send frames, collect
    the frames received so far. Blocking writes; reads are driven by the caller's poll."""

    __slots__ = ("closed", "dec", "fd")

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.dec = wire.Decoder()
        self.closed = False

    def send(self, data: bytes) -> None:
        write_all(self.fd, data)

    def receive(self, size: int = 1 << 16) -> list[wire.Frame]:
        """Frames from one read; [] with .closed set at EOF or a reset."""
        try:
            data = os.read(self.fd, size)
        except (BlockingIOError, InterruptedError):
            return []
        except OSError:
            data = b""
        if not data:
            self.closed = True
            return []
        return self.dec.feed(data)
