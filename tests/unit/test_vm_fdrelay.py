"""runk.vm.host.fdrelay: which preserved fds runk-vm relays, which way, and which it refuses;
the FD frames; the host relay against the guest's (runk.vm.guest.fdio) over frames in memory."""

from __future__ import annotations

import os
import select
import socket
import stat

import pytest

from runk.errors import RunkError
from runk.vm.guest.fdio import GuestFds
from runk.vm.host import fdrelay
from runk.vm.host.fdrelay import BOTH, IN, OUT, Kind, classify
from runk.vm.wire import protocol as P
from runk.vm.wire import wire


def real(fd: int) -> tuple[str | None, str]:
    kind = fdrelay.inspect(fd)
    assert kind is not None
    return classify(kind)


@pytest.mark.parametrize(
    "mode, flags, direction",
    [
        (stat.S_IFIFO, os.O_RDONLY, IN),
        (stat.S_IFIFO, os.O_WRONLY, OUT),
        (stat.S_IFREG, os.O_RDONLY, IN),
        (stat.S_IFREG, os.O_WRONLY, OUT),
        (stat.S_IFREG, os.O_WRONLY | os.O_APPEND, OUT),
    ],
)
def test_pipes_fifos_and_one_way_files_are_relayed_their_way(mode, flags, direction):
    assert classify(Kind(mode | 0o600, flags)) == (direction, "")


@pytest.mark.parametrize(
    "kind, why",
    [
        (Kind(stat.S_IFREG, os.O_RDWR), "a regular file opened read-write"),
        (Kind(stat.S_IFIFO, os.O_RDWR), "a FIFO opened read-write"),
        (Kind(stat.S_IFDIR, os.O_RDONLY), "a directory"),
        (Kind(stat.S_IFCHR, os.O_RDWR, target="/dev/null"), "a device (/dev/null)"),
        (Kind(stat.S_IFBLK, os.O_RDONLY), "a device"),
        (Kind(stat.S_IFREG, os.O_RDONLY | fdrelay.O_PATH), "an O_PATH descriptor"),
        (Kind(0o600, os.O_RDWR, target="anon_inode:[eventfd]"), "[eventfd] is not a byte stream"),
        (Kind(stat.S_IFSOCK, os.O_RDWR, fdrelay.SOCK_STREAM, listening=True), "a listening socket"),
        (Kind(stat.S_IFSOCK, os.O_RDWR, fdrelay.SOCK_DGRAM, connected=True), "a datagram socket"),
        (Kind(stat.S_IFSOCK, os.O_RDWR, fdrelay.SOCK_SEQPACKET, connected=True), "a seqpacket socket"),
        (Kind(stat.S_IFSOCK, os.O_RDWR, fdrelay.SOCK_STREAM), "an unconnected socket"),
    ],
)
def test_what_is_not_a_byte_stream_is_refused_with_why(kind, why):
    direction, reason = classify(kind)
    assert direction is None and reason.startswith(why), reason


def test_connected_stream_sockets_go_both_ways():
    assert classify(Kind(stat.S_IFSOCK, os.O_RDWR, fdrelay.SOCK_STREAM, connected=True)) == (BOTH, "")


def epoll_fd() -> int:
    ep = select.epoll()
    fd = os.dup(ep.fileno())
    ep.close()
    return fd


def test_real_descriptors(tmp_path):
    r, w = os.pipe()
    a, b = socket.socketpair()
    lst = socket.socket()
    lst.bind(("127.0.0.1", 0))
    lst.listen(1)
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    f = tmp_path / "f"
    f.write_text("x")
    fds = {
        "ro": os.open(f, os.O_RDONLY),
        "ap": os.open(f, os.O_WRONLY | os.O_APPEND),
        "rw": os.open(f, os.O_RDWR),
        "dir": os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY),
        "null": os.open("/dev/null", os.O_RDWR),
        "path": os.open(f, fdrelay.O_PATH),
        "efd": os.eventfd(0),
        "epoll": epoll_fd(),
    }
    try:
        assert real(r) == (IN, "") and real(w) == (OUT, "")
        assert real(a.fileno()) == (BOTH, "")
        assert real(fds["ro"]) == (IN, "") and real(fds["ap"]) == (OUT, "")
        for name, why in [
            ("rw", "a regular file opened read-write"),
            ("dir", "a directory"),
            ("null", "a device (/dev/null)"),
            ("path", "an O_PATH descriptor"),
            ("efd", "[eventfd] is not"),
            ("epoll", "[eventpoll] is not"),
        ]:
            assert real(fds[name])[1].startswith(why), (name, real(fds[name]))
        assert real(lst.fileno())[1].startswith("a listening socket")
        assert real(udp.fileno())[1].startswith("a datagram socket")
        assert fdrelay.inspect(fds["null"]) is not None
        os.close(fds.pop("null"))
        closed = os.open("/dev/null", os.O_RDONLY)
        os.close(closed)
        assert fdrelay.inspect(closed) is None  # not open: skipped, as runc has nothing to pass
    finally:
        for fd in (r, w, *fds.values()):
            os.close(fd)
        for s in (a, b, lst, udp):
            s.close()


def test_plan_names_the_first_refused_fd_and_skips_closed_ones(monkeypatch):
    kinds = {3: Kind(stat.S_IFIFO, os.O_RDONLY), 5: Kind(stat.S_IFIFO, os.O_WRONLY)}
    monkeypatch.setattr(fdrelay, "inspect", kinds.get)
    assert fdrelay.plan(3) == [(3, IN), (5, OUT)]
    kinds[4] = Kind(stat.S_IFSOCK, os.O_RDWR, fdrelay.SOCK_STREAM, listening=True)
    with pytest.raises(RunkError) as e:
        fdrelay.plan(3)
    msg = str(e.value)
    assert msg.startswith("--preserve-fds: fd 4 is a listening socket") and "\n" not in msg


def test_plan_word_round_trips_and_rejects_garbage():
    fds = [(3, IN), (4, OUT), (9, BOTH)]
    assert fdrelay.decode(fdrelay.encode(fds)) == fds
    assert fdrelay.decode("") == []
    for bad in ("3:sideways", "x:in", "3"):
        with pytest.raises(ValueError):
            fdrelay.decode(bad)


def test_fd_frames_chunk_to_one_port_write_and_mark_eof():
    data = bytes(range(256)) * 300
    frames = wire.decode(b"".join(P.fd_frames(7, 4, data)))
    assert all(len(f.payload) + wire.HEADER_SIZE <= P.CHUNK + wire.HEADER_SIZE for f in frames)
    assert {f.stream for f in frames} == {7}
    assert b"".join(P.fd_payload(f)[1] for f in frames) == data
    (eof,) = wire.decode(P.fd_frames(7, 4, b"")[0])
    assert P.fd_payload(eof) == (4, b"")
    with pytest.raises(P.ProtocolError):
        P.fd_payload(wire.Frame(wire.FD, 7, b"\0\0"))


class FramePeer:
    """A Peer stand-in: frames the guest side sends, decoded."""

    def __init__(self) -> None:
        self.frames: list[wire.Frame] = []

    def send(self, data: bytes) -> None:
        self.frames += wire.decode(data)


def pump(guest: GuestFds, peer: FramePeer, rounds: int = 20) -> None:
    for _ in range(rounds):
        masks: dict[int, int] = {}
        guest.register(masks)
        p = select.poll()
        for fd, m in masks.items():
            p.register(fd, m)
        events = p.poll(50)
        if not events:
            return
        for fd, ev in events:
            guest.on_event(fd, ev, peer)  # type: ignore[arg-type]


def test_host_and_guest_relays_meet_over_frames():
    """The host's ends (a pipe we write, a pipe we read, a socket) through HostFds and GuestFds
    to the child ends a container process would hold."""
    h_in_r, h_in_w = os.pipe()
    h_out_r, h_out_w = os.pipe()
    a, h_peer = socket.socketpair()
    h_sock = a.detach()  # HostFds closes it
    to_guest: list[bytes] = []
    host = fdrelay.HostFds(1, [(h_in_r, IN), (h_out_w, OUT), (h_sock, BOTH)], to_guest.append)
    nums = {h_in_r: 3, h_out_w: 4, h_sock: 5}
    host_of = {n: fd for fd, n in nums.items()}
    guest = GuestFds(1, [[3, IN], [4, OUT], [5, BOTH]])
    peer = FramePeer()
    child = dict(guest.child)
    guest.child.clear()  # the child ends are the test's (the container process's) now

    def to_guest_side() -> None:
        for f in wire.decode(b"".join(to_guest)):
            num, data = P.fd_payload(f)
            guest.feed(nums[num], data)
        to_guest.clear()

    os.write(h_in_w, b"hello\n")
    os.close(h_in_w)
    h_peer.sendall(b"ping")
    h_peer.shutdown(socket.SHUT_WR)
    for fd in host.poll_fds():
        host.on_readable(fd)
    host.on_readable(h_in_r)  # its EOF
    host.on_readable(h_sock)  # its half-close
    assert host.poll_fds() == []
    to_guest_side()
    assert os.read(child[3], 100) == b"hello\n" and os.read(child[3], 100) == b""  # EOF: write end closed
    assert os.read(child[5], 100) == b"ping" and os.read(child[5], 100) == b""  # shut down
    os.write(child[4], b"out\n")
    os.close(child.pop(4))
    os.write(child[5], b"pong")
    os.close(child.pop(5))
    pump(guest, peer)
    back = {4: b"", 5: b""}
    eofs = set()
    for f in peer.frames:
        num, data = P.fd_payload(f)
        back[num] += data
        eofs |= {num} if not data else set()
        host.on_frame(wire.Frame(f.type, f.stream, host_of[num].to_bytes(4, "big") + data))
    assert back == {4: b"out\n", 5: b"pong"} and eofs == {4, 5}
    assert os.read(h_out_r, 100) == b"out\n" and os.read(h_out_r, 100) == b""  # the host end closed
    assert h_peer.recv(100) == b"pong" and h_peer.recv(100) == b""
    os.close(child.pop(3))
    guest.close()
    host.close()
    os.close(h_out_r)
    h_peer.close()


def test_the_guest_cannot_write_to_host_fds_it_was_not_given(tmp_path):
    """FD frames name an fd number: a guest naming one of the host relay's other fds (an "in"
    fd, the supervisor's sockets, its log) gets nothing written there."""
    r, w = os.pipe()
    victim = os.open(tmp_path / "victim", os.O_WRONLY | os.O_CREAT, 0o600)
    host = fdrelay.HostFds(0, [(r, IN)], lambda _b: None)
    try:
        for fd in (r, w, victim, 1, 2):
            host.on_frame(wire.decode(P.fd_frames(0, fd, b"injected")[0])[0])
        assert os.path.getsize(tmp_path / "victim") == 0
        os.set_blocking(r, False)
        with pytest.raises(BlockingIOError):
            os.read(r, 10)  # nothing came into the pipe through its write end either
        assert host.poll_fds() == [r]  # and the "in" fd was not closed by a fake EOF
        host.on_frame(wire.decode(P.fd_frames(0, r, b"")[0])[0])
        assert host.poll_fds() == [r]
    finally:
        host.close()
        os.close(w)
        os.close(victim)
