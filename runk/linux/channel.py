"""The parent <-> setup-child protocol over one SOCK_SEQPACKET socketpair.

Runs in the parent, bootstrap, init and tenant. Imports _socket and runk._json only (no socket
module: enum, ~10 ms). One packet = one JSON object {"t": type, ...}, optionally with SCM_RIGHTS fds.

  child -> parent          parent -> child       when
  ---------------          ---------------       ----
  usermap                  usermap_done          bootstrap unshared CLONE_NEWUSER; parent wrote the maps
  pid {pid}                cgroup_done           bootstrap forked the init (or is the init); parent
                                                 recorded it, put it in the container's cgroups,
                                                 moved net devices. The init sets up its mounts
                                                 meanwhile (the first cgroup.procs write of a
                                                 migration waits for an RCU grace period, ~10 ms)
                                                 and waits for this before a cgroup namespace,
                                                 hooks or any exec.
  hooks                    hooks_done | error    init mounted the rootfs; parent ran prestart and
                                                 createRuntime
  seccomp [fd]             seccomp_done | error  the process loaded a filter with notify rules; the
                                                 fd is its listener, which the parent handed to the
                                                 seccomp agent (runk.linux.seccomp_agent)
  ready                    -                     init is about to exec the trampoline
  error {msg,errno,stage}  -                     any failure; the child then _exit(1)s

EOF before `ready` means the child died: the parent reports it and rolls back (the subprocess
errpipe rule: EOF is success only after `ready`).
"""

from __future__ import annotations

import _socket

from runk import _json
from runk.errors import InitError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

CGROUP_DONE = "cgroup_done"
USERMAP = "usermap"
USERMAP_DONE = "usermap_done"
TIMENS = "timens"  # write my timens_offsets (a time namespace owned by a new user namespace)
TIMENS_DONE = "timens_done"
PID = "pid"
HOOKS = "hooks"
HOOKS_DONE = "hooks_done"
SECCOMP = "seccomp"
SECCOMP_DONE = "seccomp_done"
READY = "ready"
ERROR = "error"

_MAX = 1 << 16


class Channel:
    __slots__ = ("sock",)

    def __init__(self, sock: _socket.socket) -> None:
        self.sock = sock

    @classmethod
    def pair(cls) -> tuple[Channel, Channel]:
        a, b = _socket.socketpair(_socket.AF_UNIX, _socket.SOCK_SEQPACKET | _socket.SOCK_CLOEXEC, 0)
        return cls(a), cls(b)

    def fileno(self) -> int:
        return self.sock.fileno()

    def send(self, mtype: str, fds: list[int] | None = None, **fields: object) -> None:
        fields["t"] = mtype
        data = _json.dumps(fields).encode()
        if fds:
            anc = [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS, b"".join(fd.to_bytes(4, "little") for fd in fds))]
            self.sock.sendmsg([data], anc)
        else:
            self.sock.send(data)

    def recv(self, with_fds: bool = False) -> tuple[dict[str, Any] | None, list[int]]:
        """One message, or (None, []) on EOF."""
        try:
            return self._recv(with_fds)
        except ConnectionResetError:
            # The peer exited with a message of ours unread (the init failed before it read
            # cgroup_done): the kernel reports that once, before the messages the peer sent
            # first, which are still queued (its error explains the failure)
            return self._recv(with_fds)

    def _recv(self, with_fds: bool) -> tuple[dict[str, Any] | None, list[int]]:
        if with_fds:
            # close-on-exec at once: nothing the receiver forks may inherit them
            data, anc, _flags, _addr = self.sock.recvmsg(_MAX, _socket.CMSG_SPACE(4 * 16), _socket.MSG_CMSG_CLOEXEC)
            fds = []
            for level, typ, raw in anc:
                if level == _socket.SOL_SOCKET and typ == _socket.SCM_RIGHTS:
                    fds += [int.from_bytes(raw[i : i + 4], "little") for i in range(0, len(raw) - 3, 4)]
        else:
            data, fds = self.sock.recv(_MAX), []
        if not data:
            return None, fds
        msg = _json.loads(data)
        if not isinstance(msg, dict):
            raise InitError(f"bad message on the setup channel: {data[:80]!r}")
        return msg, fds

    def expect(self, mtype: str) -> dict[str, Any]:
        """Receive and require `mtype`; an error message is raised as InitError."""
        msg, _ = self.recv()
        if msg is None:
            raise InitError(f"expected {mtype}, got EOF")
        if msg.get("t") == ERROR:
            raise InitError(str(msg.get("msg", "")), int(msg.get("errno", 0) or 0), str(msg.get("stage", "")))
        if msg.get("t") != mtype:
            raise InitError(f"expected {mtype}, got {msg.get('t')}")
        return msg

    def send_error(self, msg: str, errno: int = 0, stage: str = "") -> None:
        try:
            self.send(ERROR, msg=msg, errno=errno, stage=stage)
        except OSError:
            pass

    def close(self) -> None:
        self.sock.close()

    def detach(self) -> int:
        return self.sock.detach()
