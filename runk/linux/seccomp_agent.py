"""Hand a container process's seccomp notify fd to the seccomp agent (linux.seccomp.listenerPath).

runtime-spec config-linux.md "seccomp" and runtime.md: the runtime connects to the unix socket
at listenerPath and sends, in one message, the "container process state" as JSON with the listener
fd as SCM_RIGHTS ancillary data: {ociVersion, fds: ["seccompFd"], pid, metadata, state}. `pid` is
the process that loaded the filter (the init, or an exec'd process), `state` the container's
state (status "creating" for the init, "running" for exec, as runc sends it).

Runs in the parent (runk create/run/exec), from runk.linux.launch, once the child has loaded its
filter and passed the listener fd up the setup channel. Imports _socket and runk._json only.
"""

from __future__ import annotations

import _socket
import sys

from runk import _json
from runk.errors import RunkError
from runk.version import OCI_VERSION

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

SECCOMP_FD_NAME = "seccompFd"  # runtime-spec's name of the listener fd in `fds`


def process_state(pid: int, metadata: str, state: dict[str, Any]) -> dict[str, Any]:
    """The document the agent receives with the fd."""
    return {"ociVersion": OCI_VERSION, "fds": [SECCOMP_FD_NAME], "pid": pid, "metadata": metadata, "state": state}


def send(listener_path: str, doc: dict[str, Any], fd: int) -> None:
    """Connect to the agent and send doc with fd; the caller keeps (and closes) fd.

    A path starting with "@" names an abstract socket (as Go's net.Dial, which runc uses)."""
    address = "\0" + listener_path[1:] if listener_path.startswith("@") else listener_path
    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM | _socket.SOCK_CLOEXEC, 0)
    try:
        try:
            sock.connect(address)
        except OSError as e:
            raise RunkError(
                "failed to connect with seccomp agent specified in the seccomp profile: "
                f"dial unix {listener_path}: {_strerror(e)}"
            ) from None
        data = _json.dumps(doc).encode()
        anc = [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS, fd.to_bytes(4, sys.byteorder))]
        try:
            sent = sock.sendmsg([data], anc)
        except OSError as e:
            raise RunkError(f"cannot send seccomp fd to {listener_path}: {_strerror(e)}") from None
        if sent != len(data):
            raise RunkError(f"cannot send seccomp fd to {listener_path}: short write ({sent} of {len(data)} bytes)")
    finally:
        sock.close()


def _strerror(e: OSError) -> str:
    from runk import _os as os

    return os.strerror(e.errno).lower() if e.errno else str(e)
