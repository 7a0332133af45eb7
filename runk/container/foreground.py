"""`run` in the foreground: create + start, forward signals, relay a terminal, reap, and exit
with the container's status (128+N when killed by signal N), then delete unless --keep.

Runs in the parent. Signals are handled with _signal, the C module (the signal module imports
enum: ~5 ms on every `run` and `exec`).
"""

from __future__ import annotations

from runk import _os as os
from runk import log
from runk.container import container as ct
from runk.errors import RunkError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from _socket import socket

    from runk.backend.requests import CreateRequest, ExecRequest
    from runk.container.container import Container

# the signals that cannot be caught, and SIGCHLD, which is ours (the signal module's names cost
# an import of enum)
_SIGKILL, _SIGSTOP, _SIGCHLD = 9, 19, 17  # signal.SIGKILL, signal.SIGSTOP, signal.SIGCHLD


def _status_code(status: int) -> int:
    code = os.waitstatus_to_exitcode(status)
    return 128 - code if code < 0 else code


def run(root: str, cid: str, req: CreateRequest, keep: bool) -> int:
    _become_subreaper()
    from runk.oci.config import load

    loaded = load(req.bundle)
    wants_tty = bool((loaded[0].get("process") or {}).get("terminal"))
    ours = _internal_console(req, wants_tty and not req.console_socket)
    try:
        c = ct.create(root, cid, req, loaded)
    finally:
        _close_their_end(req)
    pid = c.record().pid
    if pid is None:  # backend.create records the init's pid before it returns
        raise RunkError("container has no init process")
    master = _take_master(ours)
    forwarded = _forward_signals(pid)
    try:
        started = False
        try:
            c.start()
            started = True
        finally:
            c.close()
            if not started and not keep:
                _delete(root, cid)  # runc run destroys a container it could not start
        status = _wait(pid, master)
    finally:
        _restore_signals(forwarded)
    if not keep:
        _delete(root, cid)
    return status


def _delete(root: str, cid: str) -> None:
    d = ct.load(root, cid, lock=True)
    try:
        d.delete(force=True)
    finally:
        d.close()


def exec_process(c: Container, req: ExecRequest) -> int:
    """exec in the foreground: relay a terminal if asked for one without a console socket,
    forward signals, exit with the process's status."""
    _become_subreaper()
    ours = _internal_console(req, bool(req.process.get("terminal")) and not req.console_socket)
    try:
        pid = c.exec(req)
    finally:
        _close_their_end(req)
        c.close()
    master = _take_master(ours)
    forwarded = _forward_signals(pid)
    try:
        return _wait(pid, master)
    finally:
        _restore_signals(forwarded)


def _become_subreaper() -> None:
    """The process must become our child when the bootstrap exits, so we can wait for it."""
    from runk._native import lib
    from runk.linux.syscalls import prctl

    prctl(lib.PR_SET_CHILD_SUBREAPER, 1)


def _internal_console(req: CreateRequest | ExecRequest, wanted: bool) -> socket | None:
    """A terminal without --console-socket: our own socketpair stands in for it (runc tty.go)."""
    if not wanted:
        return None
    import _socket

    ours, theirs = _socket.socketpair(_socket.AF_UNIX, _socket.SOCK_STREAM | _socket.SOCK_CLOEXEC, 0)
    req.console_fd = theirs.detach()
    return ours


def _close_their_end(req: CreateRequest | ExecRequest) -> None:
    if req.console_fd is not None:
        os.close(req.console_fd)
        req.console_fd = None


def _take_master(ours: socket | None) -> int:
    if ours is None:
        return -1
    from runk.linux.console import recv_master

    try:
        master = recv_master(ours)
    finally:
        ours.close()
    if master is None:
        raise RunkError("container did not send its terminal")
    return master


def _forward_signals(pid: int) -> list[int]:
    """Every catchable signal runk gets goes to the process (runc signals.go)."""
    import _signal

    def forward(sig: int, _frame: object) -> None:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass

    installed: list[int] = []
    for s in range(1, 32):
        if s in (_SIGKILL, _SIGSTOP, _SIGCHLD):
            continue
        try:
            _signal.signal(s, forward)
            installed.append(s)
        except (OSError, ValueError):
            pass
    return installed


def _restore_signals(sigs: list[int]) -> None:
    import _signal

    for s in sigs:
        _signal.signal(s, _signal.SIG_DFL)


def _wait(pid: int, master: int) -> int:
    """Relay the terminal if there is one, then reap until the process is among the dead."""
    if master >= 0:
        from runk.container.ttyrelay import relay

        relay(master, pid)
    code = _status_code(_reap_until(pid))
    log.debug(f"process exited: pid {pid}, status {code}")
    return code


def _reap_until(pid: int) -> int:
    """Reap every child (we are a subreaper) until the init is among them."""
    while True:
        try:
            got, status = os.waitpid(-1, 0)
        except ChildProcessError:
            return 0
        if got == pid:
            return status
