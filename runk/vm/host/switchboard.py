"""Frame routing (supervisor): guest agent <-> control clients <-> the container init's stdio.

Runs in the supervisor (host). Requests from runk commands on vm.sock are forwarded to the agent
with the supervisor's own request ids and answered when the agent replies; ExecProcess gets a
new stream owned by the asking connection (its stdio and EXIT go there only); the init's output
goes to the supervisor's own stdout/stderr (runc's pass-through stdio), or to the host pty; FD
frames (preserved fds, runk.vm.host.fdrelay) go to the init's host fds, or both ways between an
exec's or a member's stream and the connection that owns it.
A pod member's CreateContainer (from its member supervisor, runk.vm.host.member) is routed like
ExecProcess: a new stream owned by that connection carries the member init's stdio and EXIT; if
the connection drops first (the member's host process was killed), the member is killed in the
guest, as killing runc's init kills its container. State markers follow the replies (the
sandbox container's only; runk.backend.vm keeps a member's): `created` goes when StartContainer
succeeded, `paused` comes and goes with PauseContainer/ResumeContainer, `exit` holds the init's
EXIT payload.
"""

from __future__ import annotations

import os
import socket

from runk import _json
from runk.vm.host import hostio
from runk.vm.wire import protocol as P
from runk.vm.wire import wire

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from runk.vm.host.fdrelay import HostFds

    Callback = Callable[[dict[str, Any]], object]  # gets the agent's reply

CONTROL_SOCK = "vm.sock"
CREATED, PAUSED, EXIT_FILE = "created", "paused", "exit"


class Client:
    __slots__ = ("peer", "sock")

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.peer = P.Peer(sock.fileno())

    def send(self, data: bytes) -> None:
        try:
            self.peer.send(data)
        except OSError:
            self.peer.closed = True


def touch(name: str) -> None:
    os.close(os.open(name, os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC, 0o600))


def unlink_quiet(name: str) -> None:
    try:
        os.unlink(name)
    except FileNotFoundError:
        pass


def write_file(name: str, data: str) -> None:
    with open(name + ".tmp", "w") as f:
        f.write(data)
    os.replace(name + ".tmp", name)


class Switchboard:
    """Mixed into Supervisor, which sets: agent (Peer), owners, pending, rid, next_stream,
    status, destroying, terminal, slave, outs, clients, cid, created, member_inits."""

    agent: P.Peer | None  # the guest agent's channel, once it connected
    owners: dict[int, Client]  # exec stream -> the control client that asked
    pending: dict[int, Callback | None]  # our request id -> what gets the agent's reply
    rid: int  # the last request id we sent the agent
    next_stream: int  # the stream of the next ExecProcess
    hello: dict[str, Any] | None  # the agent's hello event
    status: dict[str, Any] | None  # the init's EXIT payload
    destroying: bool  # DestroySandbox was asked for
    terminal: bool  # the init has a host pty (slave)
    slave: int | None
    outs: dict[int, int]  # STDOUT/STDERR -> our fd the init's output goes to
    clients: dict[int, Client]  # control connections by fd
    cid: str  # the sandbox container's id
    created: bool  # the sandbox container exists in the guest
    member_inits: dict[int, str]  # stream of a pod member's init -> the member's id
    init_fds: HostFds  # the init's preserved fds (runk.vm.host.fdrelay)

    if TYPE_CHECKING:

        def wait(self, done: Callable[[], bool], timeout: float, what: str) -> None: ...

        def slave_closed(self) -> None: ...

    # -- frames -------------------------------------------------------------------------------
    def next_rid(self) -> int:
        self.rid += 1
        return self.rid

    def to_agent(self, data: bytes) -> None:
        if self.agent is not None and not self.agent.closed:
            self.agent.send(data)

    def agent_call(self, op: str, stream: int, callback: Callback | None, **args: object) -> None:
        rid = self.next_rid()
        self.pending[rid] = callback
        self.to_agent(P.request(op, rid, stream, **args))

    def call(self, op: str, timeout: float, **args: object) -> dict[str, Any]:
        box: list[dict[str, Any]] = []
        self.agent_call(op, P.INIT_STREAM, box.append, **args)
        self.wait(lambda: bool(box), timeout, f"no reply to {op}")
        return box[0]

    def from_agent(self, f: wire.Frame) -> None:
        if f.type == wire.EVT:
            doc = f.json()
            if doc.get("event") == "hello":
                self.hello = doc
            elif "rid" in doc:
                cb = self.pending.pop(doc["rid"], None)
                if cb is not None:
                    cb(doc)
        elif f.type in (wire.STDOUT, wire.STDERR):
            if f.stream == P.INIT_STREAM:
                self.output(f.type, f.payload)
            elif f.stream in self.owners:
                self.owners[f.stream].send(wire.encode(f.type, f.stream, f.payload))
        elif f.type == wire.FD:
            if f.stream == P.INIT_STREAM:
                self.init_fds.on_frame(f)
            elif f.stream in self.owners:
                self.owners[f.stream].send(wire.encode(f.type, f.stream, f.payload))
        elif f.type == wire.EXIT:
            self.member_inits.pop(f.stream, None)
            if f.stream == P.INIT_STREAM:
                self.status = f.json()
                write_file(EXIT_FILE, _json.dumps(self.status))
            else:
                owner = self.owners.pop(f.stream, None)
                if owner is not None:
                    owner.send(wire.encode(f.type, f.stream, f.payload))

    def output(self, kind: int, data: bytes) -> None:
        if self.terminal:
            if self.slave is not None and data:
                hostio.keep_raw(self.slave)
                try:
                    P.write_all(self.slave, data)
                except OSError:
                    self.slave_closed()
            return
        fd = self.outs.get(kind)
        if fd is None:
            return
        try:
            if data:
                P.write_all(fd, data)
                return
        except OSError:  # the reader went away (EPIPE): drop the rest
            pass
        null = os.open("/dev/null", os.O_WRONLY)  # EOF: let the reader of our fd see it now
        os.dup2(null, fd)
        os.close(null)
        del self.outs[kind]

    def from_client(self, fd: int) -> None:
        client = self.clients[fd]
        for f in client.peer.receive():
            if f.type in (wire.STDIN, wire.FD) and self.owners.get(f.stream) is client:
                self.to_agent(wire.encode(f.type, f.stream, f.payload))
            elif f.type == wire.REQ:
                self.request(client, f.json(), f.stream)
        if client.peer.closed:
            del self.clients[fd]
            client.sock.close()
            for s in [s for s, c in self.owners.items() if c is client]:
                del self.owners[s]
                member = self.member_inits.pop(s, None)
                if member is not None:  # its host process is gone: so is the member
                    self.agent_call(P.SIGNAL, P.INIT_STREAM, None, signal=9, all=True, container_id=member)

    def request(self, client: Client, req: dict[str, Any], stream: int) -> None:
        op, crid = req.get("op"), req.get("rid", 0)
        args = {k: v for k, v in req.items() if k not in ("op", "rid")}
        after: Callable[[], None] | None = None
        own = args.get("container_id") in (None, self.cid)  # about the sandbox container
        if op == P.CREATE:
            if not self.created or self.destroying:
                client.send(P.reply(crid, False, "the sandbox's VM is not running"))
                return
            stream = self.next_stream
            self.next_stream += 1
            self.owners[stream] = client
            self.member_inits[stream] = str(args.get("id"))
        elif op == P.EXEC:
            stream = self.next_stream
            self.next_stream += 1
            self.owners[stream] = client
        elif op in (P.SIGNAL, P.RESIZE) and stream != P.INIT_STREAM and self.owners.get(stream) is not client:
            client.send(P.reply(crid, False, "no such process"))
            return
        elif op == P.START and own:
            after = lambda: unlink_quiet(CREATED)
        elif op == P.PAUSE and own:
            after = lambda: touch(PAUSED)
        elif op == P.RESUME and own:
            after = lambda: unlink_quiet(PAUSED)
        elif op == P.DESTROY:
            self.destroying = True
        elif op not in P.VERBS:
            client.send(P.reply(crid, False, f"unknown request {op!r}"))
            return

        def done(doc: dict[str, Any], stream: int = stream) -> None:
            if doc.get("ok") and after is not None:
                after()
            if not doc.get("ok") and op in (P.EXEC, P.CREATE):
                self.owners.pop(stream, None)
                self.member_inits.pop(stream, None)
            extra = {k: v for k, v in doc.items() if k not in ("rid", "ok", "error")}
            if op in (P.EXEC, P.CREATE):
                extra["stream"] = stream
            client.send(P.reply(crid, bool(doc.get("ok")), doc.get("error"), **extra))

        self.agent_call(op, stream, done, **args)
