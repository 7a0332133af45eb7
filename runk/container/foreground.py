"""`run` in the foreground: create + start, forward signals, relay a terminal, reap, and exit
with the container's status (128+N when killed by signal N), then delete unless --keep.

Runs in the parent. Not a hot path: the signal module is allowed here (DESIGN 3.11 rule 5).
"""
from __future__ import annotations

import os

from runk.container import container as ct


def _status_code(status: int) -> int:
    code = os.waitstatus_to_exitcode(status)
    return 128 - code if code < 0 else code


def run(root: str, cid: str, req: object, keep: bool) -> int:
    import _socket
    import signal

    from runk._native import lib
    from runk.linux.syscalls import prctl
    # the init must become our child when the bootstrap exits, so we can wait for it
    prctl(lib.PR_SET_CHILD_SUBREAPER, 1)
    ours = None
    cfg_terminal = _wants_terminal(req.bundle)
    if cfg_terminal and not req.console_socket:
        ours, theirs = _socket.socketpair(_socket.AF_UNIX, _socket.SOCK_STREAM | _socket.SOCK_CLOEXEC, 0)
        req.console_fd = theirs.detach()
    try:
        c = ct.create(root, cid, req)
    finally:
        if req.console_fd is not None:
            os.close(req.console_fd)
            req.console_fd = None
    pid = c.rec.pid
    master = -1
    if ours is not None:
        master = _recv_fd(ours)
        ours.close()
    forwarded = [s for s in range(1, 32) if s not in (signal.SIGKILL, signal.SIGSTOP, signal.SIGCHLD)]

    def forward(sig: int, _frame: object) -> None:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass

    for s in forwarded:
        try:
            signal.signal(s, forward)
        except (OSError, ValueError):
            pass
    try:
        c.start()
    finally:
        c.close()
    try:
        if master >= 0:
            from runk.container.ttyrelay import relay
            relay(master, pid)
        status = _reap_until(pid)
    finally:
        for s in forwarded:
            try:
                signal.signal(s, signal.SIG_DFL)
            except (OSError, ValueError):
                pass
    if not keep:
        d = ct.load(root, cid, lock=True)
        try:
            d.delete(force=True)
        finally:
            d.close()
    return _status_code(status)


def exec_process(c: object, req: object) -> int:
    """exec in the foreground: relay a terminal if asked for one without a console socket,
    forward signals, exit with the process's status."""
    import _socket
    import signal
    from runk._native import lib
    from runk.linux.syscalls import prctl
    prctl(lib.PR_SET_CHILD_SUBREAPER, 1)
    ours = None
    if req.process.get("terminal") and not req.console_socket:
        ours, theirs = _socket.socketpair(_socket.AF_UNIX, _socket.SOCK_STREAM | _socket.SOCK_CLOEXEC, 0)
        req.console_fd = theirs.detach()
    try:
        pid = c.exec(req)
    finally:
        if req.console_fd is not None:
            os.close(req.console_fd)
            req.console_fd = None
        c.close()
    master = -1
    if ours is not None:
        master = _recv_fd(ours)
        ours.close()
    forwarded = [s for s in range(1, 32) if s not in (signal.SIGKILL, signal.SIGSTOP, signal.SIGCHLD)]

    def forward(sig: int, _frame: object) -> None:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass

    for s in forwarded:
        try:
            signal.signal(s, forward)
        except (OSError, ValueError):
            pass
    if master >= 0:
        from runk.container.ttyrelay import relay
        relay(master, pid)
    return _status_code(_reap_until(pid))


def _wants_terminal(bundle: str) -> bool:
    from runk.oci.config import load
    cfg, _ = load(bundle)
    return bool((cfg.get("process") or {}).get("terminal"))


def _recv_fd(sock: object) -> int:
    import _socket
    _data, anc, _f, _a = sock.recvmsg(4096, _socket.CMSG_SPACE(4))
    for level, typ, raw in anc:
        if level == _socket.SOL_SOCKET and typ == _socket.SCM_RIGHTS:
            return int.from_bytes(raw[:4], "little")
    from runk.errors import RunkError
    raise RunkError("container did not send its terminal")


def _reap_until(pid: int) -> int:
    """Reap every child (we are a subreaper) until the init is among them."""
    while True:
        try:
            got, status = os.waitpid(-1, 0)
        except ChildProcessError:
            return 0
        if got == pid:
            return status
