"""runk.linux.channel over a real SOCK_SEQPACKET socketpair, with real child processes."""

from __future__ import annotations

import errno
import os

import pytest

from runk.errors import InitError
from runk.linux import channel
from runk.linux.channel import Channel


@pytest.fixture
def pair():
    a, b = Channel.pair()
    yield a, b
    for c in (a, b):
        try:
            c.close()
        except OSError:
            pass


def test_round_trip_and_fields(pair):
    a, b = pair
    a.send(channel.PID, pid=1234, name="é\u2603")
    msg, fds = b.recv()
    assert msg == {"t": "pid", "pid": 1234, "name": "é\u2603"} and fds == []
    a.send(channel.HOOKS)
    assert b.expect(channel.HOOKS) == {"t": "hooks"}


def test_fds_travel_with_the_message(pair, tmp_path):
    a, b = pair
    f = tmp_path / "x"
    f.write_text("payload")
    fd = os.open(f, os.O_RDONLY)
    a.send(channel.USERMAP, fds=[fd, fd])
    os.close(fd)
    msg, fds = b.recv(with_fds=True)
    assert msg == {"t": "usermap"} and len(fds) == 2
    assert os.read(fds[0], 7) == b"payload"
    assert os.path.samestat(os.fstat(fds[0]), os.fstat(fds[1]))
    for x in fds:
        os.close(x)


def test_error_raised_by_expect(pair):
    a, b = pair
    a.send_error("mount /proc: permission denied", errno.EPERM, "mounts")
    with pytest.raises(InitError) as e:
        b.expect(channel.PID)
    assert (str(e.value), e.value.errno, e.value.stage) == ("mount /proc: permission denied", errno.EPERM, "mounts")


def test_unexpected_type_and_eof(pair):
    a, b = pair
    a.send(channel.READY)
    with pytest.raises(InitError, match="expected pid, got ready"):
        b.expect(channel.PID)
    a.close()
    assert b.recv() == (None, [])
    with pytest.raises(InitError, match="expected pid, got EOF"):
        b.expect(channel.PID)


def test_not_an_object_is_refused(pair):
    a, b = pair
    a.sock.send(b"[1, 2]")
    with pytest.raises(InitError, match="bad message on the setup channel"):
        b.recv()


def test_large_message_round_trip(pair):
    """One packet carries up to the receive size (64 KiB); a message near it arrives whole."""
    a, b = pair
    text = "x" * 60000
    a.send(channel.ERROR, msg=text)
    assert b.recv()[0]["msg"] == text


def _child(fn) -> int:
    pid = os.fork()
    if pid == 0:
        try:
            fn()
        finally:
            os._exit(0)
    return pid


def test_error_overtakes_pid_after_child_death(pair):
    """The child sends an error and exits while a message of the parent's is unread: the
    kernel reports ECONNRESET once, then the queued error must still be read."""
    parent, child = pair

    def run():
        parent.close()
        child.send_error("pivot_root: invalid argument", errno.EINVAL, "rootfs")

    parent.send(channel.CGROUP_DONE)  # queued for the child, which never reads it
    pid = _child(run)
    child.close()
    os.waitpid(pid, 0)
    # the raw socket reports the reset first (what Channel.recv must get past)
    with pytest.raises(InitError) as e:
        parent.expect(channel.PID)
    assert (str(e.value), e.value.errno, e.value.stage) == ("pivot_root: invalid argument", errno.EINVAL, "rootfs")
    assert parent.recv() == (None, [])


def test_kernel_reports_econnreset_first():
    """The condition that test relies on, with the raw socket: ECONNRESET before the data."""
    a, b = Channel.pair()
    a.send(channel.CGROUP_DONE)
    b.send(channel.ERROR, msg="boom")
    b.close()
    try:
        with pytest.raises(ConnectionResetError):
            a.sock.recv(100)
        assert a.sock.recv(100) != b""
    finally:
        a.close()


def test_eof_before_ready_from_a_dead_child(pair):
    parent, child = pair

    def run():
        parent.close()
        child.send(channel.PID, pid=os.getpid())

    pid = _child(run)
    child.close()
    os.waitpid(pid, 0)
    assert parent.expect(channel.PID)["pid"] == pid
    with pytest.raises(InitError, match="expected ready, got EOF"):
        parent.expect(channel.READY)


def test_send_error_to_a_closed_peer_does_not_raise(pair):
    a, b = pair
    b.close()
    a.send_error("x")  # EPIPE swallowed: the child is exiting anyway
    with pytest.raises(OSError):
        a.send(channel.READY)


def test_detach_keeps_the_fd_open(pair):
    a, b = pair
    fd = a.detach()
    os.write(fd, b'{"t": "ready"}')
    assert b.expect(channel.READY) == {"t": "ready"}
    os.close(fd)
