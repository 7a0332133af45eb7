"""Member supervisor (host): the host process of a pod member, a container in another's VM.

Runs on the host, exec'd by `runk create` (runk.backend.vm) for a container that
runk.vm.host.pod placed in a sandbox container's VM, in the same host sandbox (session, the
member's host cgroup, the pod's network/ipc/uts namespaces) as a VM supervisor. It boots
nothing: it connects to the sandbox supervisor's control socket (<sandbox dir>/vm.sock) and
sends the member's CreateContainer; the sandbox supervisor gives the member's init a stream
owned by this connection (runk.vm.host.switchboard). Then, like the exec proxy
(runk.vm.host.execproxy, whose relay it uses), it relays its stdio (or a host pty handed over
--console-socket) and its preserved fds (`--preserve-fds`, runk.vm.host.fdrelay, kept open
across its exec as the VM supervisor keeps them) to that stream, forwards the signals it gets to
the member's init, and exits as the member did, after writing `exit` in the member's directory.
Its pid is the member's pid in state.json and --pid-file, so conmon and containerd wait on it as
on runc's init. If the sandbox's VM ends first, the connection drops and the member exits as
killed (SIGKILL). The member's other verbs do not pass through here: runk.backend.vm sends them
to the sandbox supervisor, naming the member.

Files in the member's directory: vm-member.json (written by create: the sandbox's directory
and the CreateContainer arguments), `created` until start, `exit`, member.log.
"""

from __future__ import annotations

import os

from runk import _json
from runk.vm.host import bounds, control, hostio
from runk.vm.host.switchboard import CREATED, EXIT_FILE, touch, write_file
from runk.vm.wire import protocol as P
from runk.vm.wire import wire

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

MEMBER_FILE = "vm-member.json"


def _report(ready_fd: int, doc: dict[str, Any]) -> None:
    try:
        P.write_all(ready_fd, (_json.dumps(doc) + "\n").encode())
    except OSError:
        pass
    os.close(ready_fd)


def run(
    doc: dict[str, Any],
    ready_fd: int,
    console_socket: str | None,
    console_fd: int | None,
    fds: list[tuple[int, str]] | None = None,
) -> dict[str, Any]:
    """Create the member in the sandbox's guest, report to runk create, relay until it exits
    (its stdio, and its preserved `fds` as the exec proxy does)."""
    from runk.errors import RunkError
    from runk.vm.host.execproxy import Relay

    terminal = bool((doc["create"].get("config", {}).get("process") or {}).get("terminal"))
    try:
        s = control.connect(doc["pod"])
        wake_r, wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        hostio.forward_signals(wake_w)
        early: list[wire.Frame] = []
        dec = wire.Decoder()
        s.settimeout(bounds.control())
        more: dict[str, Any] = {"fds": [[n, d] for n, d in fds]} if fds else {}
        s.sendall(P.request(P.CREATE, 1, P.INIT_STREAM, **doc["create"], tty_relayed=console_fd is not None, **more))
        reply = control.read_reply(s, dec, 1, early.append)
        if not reply.get("ok"):
            raise RunkError(str(reply.get("error") or "CreateContainer failed"))
        slave: int | None = None
        if terminal:
            master, slave = hostio.open_pty()
            hostio.take_controlling(slave)
            try:
                hostio.send_console(master, console_socket, console_fd)
            finally:
                os.close(master)
        if console_fd is not None:
            os.close(console_fd)
        touch(CREATED)
        write_file("vm.json", _json.dumps({"member_of": doc["pod"], "guest_pid": reply.get("pid")}))
    except BaseException as e:
        from runk.errors import describe

        msg = str(e) if isinstance(e, RunkError) else describe(e)
        _report(ready_fd, {"ok": False, "error": msg})
        return {"exit_code": 1}
    _report(ready_fd, {"ok": True})
    relay = Relay(s, int(reply["stream"]), slave, fds)
    for f in early:
        relay.frame(f)
    status = relay.run(dec, wake_r)
    write_file(EXIT_FILE, _json.dumps(status))
    return status


def main(argv: list[str]) -> None:
    """argv: CONTAINER_DIR ID READY_FD CONSOLE_FD|-1 [CONSOLE_SOCKET [FDS]] (as the VM supervisor's)."""
    from runk.vm.host.fdrelay import decode

    cdir, ready_fd, console_fd = argv[0], int(argv[2]), int(argv[3])
    console_socket = argv[4] if len(argv) > 4 and argv[4] else None
    os.chdir(cdir)
    try:
        from runk.linux.syscalls import set_name

        set_name("runk-vm-member")
    except (ImportError, OSError):
        pass
    with open(MEMBER_FILE, "rb") as f:
        doc = _json.loads(f.read())
    assert isinstance(doc, dict)
    fds = decode(argv[5]) if len(argv) > 5 else []
    for fd, _d in fds:
        os.set_inheritable(fd, False)
    hostio.exit_as(run(doc, ready_fd, console_socket, console_fd if console_fd >= 0 else None, fds))
