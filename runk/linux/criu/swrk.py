"""One CRIU process in RPC mode (`criu swrk FD`) and the conversation with it.

Runs in the parent. run() starts CRIU with one end of a SOCK_SEQPACKET pair, lets the caller
place it (on_spawn: the container's cgroup, before CRIU reads its request), sends the request,
answers every notification after the caller's handler ran (an exception there ends CRIU), and
returns CRIU's final answer. CRIU's failures become runc's texts: "criu failed: type DUMP errno
N" with the log file's path.
"""

from __future__ import annotations

import socket
import subprocess

from runk import _os as os
from runk.errors import RunkError
from runk.linux.criu import rpc

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from typing import Any

    NotifyHandler = Callable[[str, int, list[int]], None]

_BUF = 10 * 4096
_MAX_FDS = 16


class CriuError(RunkError):
    """CRIU refused or failed the request (its log file says why)."""


def _spawn(criu: str, server: int, extra_fds: Sequence[int], inherit_stdio: bool) -> subprocess.Popen[bytes]:
    null = None if inherit_stdio else subprocess.DEVNULL
    try:
        return subprocess.Popen(
            [criu, "swrk", str(server)],
            pass_fds=(server, *extra_fds),
            stdin=null,
            stdout=null,
            stderr=null,
            close_fds=True,
        )
    except FileNotFoundError:
        raise CriuError(f'CRIU version check failed: exec: "{criu}": executable file not found in $PATH') from None
    except PermissionError:
        raise CriuError(f'CRIU version check failed: exec: "{criu}": permission denied') from None


def _recv(sock: socket.socket) -> tuple[bytes, list[int]]:
    data, anc, _flags, _addr = sock.recvmsg(_BUF, socket.CMSG_SPACE(_MAX_FDS * 4))
    fds: list[int] = []
    for level, kind, payload in anc:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            usable = len(payload) - len(payload) % 4
            fds += [int.from_bytes(payload[i : i + 4], "little", signed=True) for i in range(0, usable, 4)]
    return data, fds


def run(
    criu: str,
    rtype: int,
    opts: dict[str, Any] | None,
    *,
    log_path: str = "",
    features: dict[str, Any] | None = None,
    extra_fds: Sequence[int] = (),
    inherit_stdio: bool = False,
    on_spawn: Callable[[int], None] | None = None,
    on_notify: NotifyHandler | None = None,
) -> rpc.Response:
    """Run one request; returns CRIU's answer of the request's type (raises CriuError if not)."""
    client, server = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    try:
        proc = _spawn(criu, server.fileno(), extra_fds, inherit_stdio)
    finally:
        server.close()
    done = False
    try:
        if on_spawn is not None:
            on_spawn(proc.pid)
        resp = _converse(client, rtype, opts, features, log_path, on_notify)
        client.shutdown(socket.SHUT_WR)
        rc = proc.wait()
        done = True
        if rc != 0 and rtype != rpc.PRE_DUMP:
            raise CriuError(f"criu failed: exit status {rc}\nlog file: {log_path}")
        return resp
    finally:
        client.close()
        if not done:
            _end(proc)


def _end(proc: subprocess.Popen[bytes]) -> None:
    """CRIU after an error of runk's: its socket is closed, it ends by itself; make sure."""
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _converse(
    sock: socket.socket,
    rtype: int,
    opts: dict[str, Any] | None,
    features: dict[str, Any] | None,
    log_path: str,
    on_notify: NotifyHandler | None,
) -> rpc.Response:
    sock.sendall(rpc.request(rtype, opts, features))
    while True:
        data, fds = _recv(sock)
        try:
            if not data:
                raise CriuError(f"criu failed: unexpected EOF\nlog file: {log_path}")
            if len(data) >= _BUF:
                raise CriuError("criu's answer is larger than runk's buffer")
            resp = rpc.Response(data)
            if not resp.success:
                name = rpc.TYPE_NAMES.get(rtype, str(rtype))
                raise CriuError(f"criu failed: type {name} errno {resp.cr_errno}\nlog file: {log_path}")
            if resp.type != rpc.NOTIFY:
                if resp.type != rtype:
                    raise CriuError(f"unable to parse the response of criu (type {resp.type})")
                return resp
            if on_notify is not None:
                on_notify(resp.script, resp.pid, fds)
        finally:
            for fd in fds:
                os.close(fd)
        sock.sendall(rpc.notify_ack())


def version(criu: str) -> int:
    """CRIU's version as major*10000 + minor*100 + sublevel (runc's comparison)."""
    return run(criu, rpc.VERSION, None).version


def check_version(criu: str, minimum: int = 30000) -> int:
    try:
        v = version(criu)
    except CriuError as e:
        if str(e).startswith("CRIU version check failed"):
            raise
        raise CriuError(f"CRIU version check failed: {e}") from None
    if v < minimum:
        raise CriuError(f"CRIU version {v} must be {minimum} or higher")
    return v


def has_features(criu: str, opts: dict[str, Any], wanted: dict[str, bool]) -> None:
    """runc checkCriuFeatures: a FEATURE_CHECK request; "CRIU is missing features" if any lacks."""
    try:
        resp = run(criu, rpc.FEATURE_CHECK, opts, features=wanted)
    except CriuError:
        raise CriuError("CRIU feature check failed") from None
    if any(want and not resp.features.get(name) for name, want in wanted.items()):
        raise CriuError("CRIU is missing features")
