"""The guest agent's request handling, run on the host (no VM): it realizes containers with the
same runk core wherever it runs, so a socketpair stands in for the virtio-serial port and the
container is a real one made by LinuxBackend. Covers create/start, init stdio and stdin, exec
with pipes and with a terminal, signals, errors, and DestroySandbox removing the container; and
pod members: containers joining the sandbox's namespaces, each on its own stream, removed one
by one or with the sandbox."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import pytest

from runk.vm.wire import protocol as P
from runk.vm.wire import wire

AGENT = r"""
import sys
sys.path[:0] = {paths!r}
import runk.vm.guest.agent as a
a.GUEST_ROOT, a.BUNDLES = {root!r}, {bundles!r}
a.Agent({fd}).serve()
"""


class Port:
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.dec = wire.Decoder()
        self.frames: list[wire.Frame] = []
        self.rid = 0

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def call(self, op: str, stream: int = 0, **args: object) -> dict:
        self.rid += 1
        rid = self.rid
        self.send(P.request(op, rid, stream, **args))
        f = self.wait(lambda f: f.type == wire.EVT and f.json().get("rid") == rid)
        return f.json()

    def wait(self, pred, timeout: float = 30) -> wire.Frame:
        deadline = time.monotonic() + timeout
        while True:
            for i, f in enumerate(self.frames):
                if pred(f):
                    return self.frames.pop(i)
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                data = self.sock.recv(1 << 16)
            except TimeoutError:
                raise AssertionError(f"timed out; frames so far: {self.frames}") from None
            assert data, f"agent closed the port; frames so far: {self.frames}"
            self.frames += self.dec.feed(data)

    def output(self, stream: int, kind: int, until: bytes) -> bytes:
        got = b""
        while until not in got:
            got += self.wait(lambda f: f.stream == stream and f.type == kind).payload
        return got


@pytest.fixture
def agent(bundle, tmp_path):
    import runk

    top = os.path.dirname(os.path.dirname(runk.__file__))
    ours, theirs = socket.socketpair()
    code = AGENT.format(
        paths=[top, *sys.path], root=str(tmp_path / "groot"), bundles=str(tmp_path / "gbundles"), fd=theirs.fileno()
    )
    proc = subprocess.Popen([sys.executable, "-c", code], pass_fds=(theirs.fileno(),))
    theirs.close()
    yield Port(ours), proc, tmp_path / "groot"
    if proc.poll() is None:
        proc.kill()
        subprocess.run(
            [os.path.join(top, ".venv", "bin", "runk"), "--root", str(tmp_path / "groot"), "delete", "--force", "a1"],
            capture_output=True,
        )
    proc.wait()


def test_agent_serves_a_container_lifecycle(agent, bundle):
    port, proc, groot = agent
    cfg = bundle.copy()
    cfg["process"]["args"] = ["sh", "-c", "echo start; read x; echo got-$x >&2; exec sleep 1000"]
    assert port.call(P.START)["error"] == "no container in this sandbox"
    r = port.call(P.CREATE, id="a1", config=cfg)
    assert r["ok"] and r["pid"] > 0, r
    assert port.call(P.CREATE, id="a2", config=cfg)["error"] == "stream 0 is in use"  # the sandbox's
    assert not [f for f in port.frames if f.type == wire.STDOUT]  # waiting for start
    assert port.call(P.START) == {"rid": port.rid, "ok": True}
    assert port.output(0, wire.STDOUT, b"\n") == b"start\n"
    port.send(wire.encode(wire.STDIN, 0, b"abc\n"))
    assert port.output(0, wire.STDERR, b"\n") == b"got-abc\n"
    # ps in table form: the agent reads the container's processes from its /proc
    assert set(port.call(P.PS)) == {"rid", "ok", "pids"}
    deadline = time.monotonic() + 10
    while (ps := port.call(P.PS, table=True))["table"]["procs"][0]["cmd"] != "sleep 1000":
        assert time.monotonic() < deadline, ps
    assert ps["pids"] == [r["pid"]] and ps["table"]["procs"][0]["pid"] == r["pid"]
    assert ps["table"]["procs"][0]["uid"] == cfg["process"]["user"]["uid"]
    assert ps["table"]["hz"] > 0 and ps["table"]["uptime"] > 0

    proc_cfg = dict(cfg["process"], args=["sh", "-c", "echo exec-$(hostname) $$; exit 7"])
    assert port.call(P.EXEC, 1, process=proc_cfg)["ok"]
    out = port.output(1, wire.STDOUT, b"\n").decode()
    assert out.startswith(f"exec-{cfg.get('hostname', '')}") and out.split()[1] != "1", out
    assert port.wait(lambda f: f.type == wire.EXIT and f.stream == 1).json() == {"exit_code": 7}
    assert "in use" in port.call(P.EXEC, 0, process=proc_cfg)["error"]

    tty_cfg = dict(cfg["process"], args=["sh", "-c", "tty; exit 2"], terminal=True)
    assert port.call(P.EXEC, 2, process=tty_cfg)["ok"]
    assert b"/dev/pts/" in port.output(2, wire.STDOUT, b"\n")
    assert port.wait(lambda f: f.type == wire.EXIT and f.stream == 2).json() == {"exit_code": 2}

    assert port.call(P.SIGNAL, 0, signal=9)["ok"]
    assert port.wait(lambda f: f.type == wire.EXIT and f.stream == 0).json() == {"signal": 9}
    assert port.call(P.SIGNAL, 0, signal=15)["error"] == "container not running"
    port.send(wire.encode_json(wire.REQ, 0, {"op": "Reboot", "rid": 99}))
    assert (
        port.wait(lambda f: f.type == wire.EVT and f.json().get("rid") == 99).json()["error"]
        == "unknown request 'Reboot'"
    )
    assert port.call(P.DESTROY)["ok"]
    assert proc.wait(timeout=30) == 0  # serve() returned: power-off time
    assert [n for n in os.listdir(groot) if not n.startswith(".")] == []


def test_agent_holds_pod_members(agent, bundle):
    port, proc, groot = agent
    cfg = bundle.copy()
    cfg["process"]["args"] = ["sleep", "1000"]
    assert port.call(P.CREATE, id="sb", config=cfg)["ok"] and port.call(P.START)["ok"]
    sb_pid = port.call(P.PS)["pids"][0]
    member = bundle.copy()
    script = "for n in net ipc uts pid; do readlink /proc/self/ns/$n; done; exit 3"
    member["process"]["args"] = ["sh", "-c", script]
    assert port.call(P.CREATE, id="sb", config=member)["error"] == "stream 0 is in use"
    assert "already exists" in port.call(P.CREATE, 5, id="sb", config=member)["error"]
    r = port.call(P.CREATE, 5, id="m1", config=member, join=["network", "ipc", "uts"])
    assert r["ok"], r
    assert port.call(P.START, container_id="m1")["ok"]
    got = port.output(5, wire.STDOUT, b"pid:").decode()
    while got.count("\n") < 4:
        got += port.output(5, wire.STDOUT, b"\n").decode()
    want = [os.readlink(f"/proc/{sb_pid}/ns/{n}") for n in ("net", "ipc", "uts", "pid")]
    lines = got.split()
    assert lines[:3] == want[:3] and lines[3] != want[3], (lines, want)  # its own pid namespace
    assert port.wait(lambda f: f.type == wire.EXIT and f.stream == 5).json() == {"exit_code": 3}
    assert port.call(P.PS)["pids"] == [sb_pid]  # the sandbox runs on
    assert port.call(P.REMOVE, container_id="m1")["ok"]
    assert "not a member" in port.call(P.REMOVE, container_id="sb")["error"]
    assert "not in this sandbox" in port.call(P.START, container_id="m1")["error"]
    # a member still running when the sandbox goes: killed and reported first
    member["process"]["args"] = ["sleep", "1000"]
    assert port.call(P.CREATE, 6, id="m2", config=member, join=["network"])["ok"]
    assert port.call(P.START, container_id="m2")["ok"]
    assert port.call(P.EXEC, 7, process=dict(member["process"], args=["true"]), container_id="m2")["ok"]
    assert port.wait(lambda f: f.type == wire.EXIT and f.stream == 7).json() == {"exit_code": 0}
    assert port.call(P.DESTROY)["ok"]
    assert port.wait(lambda f: f.type == wire.EXIT and f.stream == 6).json() == {"signal": 9}
    assert proc.wait(timeout=30) == 0
    assert [n for n in os.listdir(groot) if not n.startswith(".")] == []


def fd_bytes(port: Port, stream: int, num: int) -> bytes:
    """FD frames of `num` on `stream` until its EOF."""
    got = b""
    while True:
        n, data = P.fd_payload(
            port.wait(lambda f: f.type == wire.FD and f.stream == stream and P.fd_payload(f)[0] == num)
        )
        if not data:
            return got
        got += data


def test_agent_gives_preserved_fds_at_their_numbers(agent, bundle):
    """--preserve-fds in the guest: fd 3 a pipe fed by FD frames, fd 4 a pipe sent back, fd 6
    a socket each way (fd 5 not open on the host: not in the process); the agent's own fds at
    those numbers (its port, its wakeup pipe) are moved aside and back, and none leaks in."""
    port, proc, _groot = agent
    cfg = bundle.copy()
    cfg["process"]["args"] = ["sleep", "1000"]
    assert port.call(P.CREATE, id="a1", config=cfg)["ok"]
    assert port.call(P.START)["ok"]
    # what a child of sh inherits (ls's own listing, less the directory it reads): sh's own
    # fds come and go with its pipelines and redirections (busybox saves them at 10 and up)
    script = "cat <&3 >&4; cat <&6 >&6; ls -l /proc/self/fd; echo END; exit 5"
    fds = [[3, "in"], [4, "out"], [6, "both"]]
    r = port.call(P.EXEC, 1, process=dict(cfg["process"], args=["sh", "-c", script]), fds=fds)
    assert r["ok"], r
    # fd 4 ends when sh does (it holds it too), after the socket's cat: everything goes in first
    data = P.fd_frames(1, 3, b"x" * 100_000) + P.fd_frames(1, 3, b"")
    for frame in data + P.fd_frames(1, 6, b"ping") + P.fd_frames(1, 6, b""):  # the host's half-close on 6
        port.send(frame)
    assert fd_bytes(port, 1, 4) == b"x" * 100_000
    assert fd_bytes(port, 1, 6) == b"ping"
    listing = port.output(1, wire.STDOUT, b"END").decode().splitlines()
    inherited = [ln.split(" -> ")[0].split()[-1] for ln in listing if " -> " in ln and not ln.endswith("/fd")]
    assert sorted(inherited, key=int) == ["0", "1", "2", "3", "4", "6"], listing
    assert port.wait(lambda f: f.type == wire.EXIT and f.stream == 1).json() == {"exit_code": 5}
    bad = port.call(P.EXEC, 2, process=dict(cfg["process"], args=["true"]), fds=[[2, "in"]])
    assert "preserved fd 2 is below 3" in bad["error"], bad
    assert port.call(P.PS)["ok"]  # the agent's port and loop came back intact
    assert port.call(P.DESTROY)["ok"]
    assert proc.wait(timeout=30) == 0
