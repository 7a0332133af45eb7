"""Run OCI hooks: path, args (args[0] is argv0), env, timeout, the state document on stdin.

Runs in the parent (prestart, createRuntime, poststart, poststop) and in the init
(createContainer, startContainer, in the container's namespaces). No imports at call time and
no subprocess module (18 ms): fork + execve, a pipe for stdin, a pidfd polled for the timeout.
"""

from __future__ import annotations

import errno
import select

from runk import _os as os
from runk.errors import HookError

SIGKILL = 9  # signal.SIGKILL (`signal` imports enum)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def state_json(cid: str, status: str, pid: int, bundle: str, annotations: dict[str, Any] | None) -> str:
    """The OCI state a hook reads on stdin (runtime.md "State")."""
    from runk import _json

    return _json.dumps(state_dict(cid, status, pid, bundle, annotations))


def state_dict(cid: str, status: str, pid: int, bundle: str, annotations: dict[str, Any] | None) -> dict[str, Any]:
    """The OCI state of a container (runtime.md "State"), for hooks and the seccomp agent."""
    from runk.version import OCI_VERSION

    return {
        "ociVersion": OCI_VERSION,
        "id": cid,
        "status": status,
        "pid": pid or 0,
        "bundle": bundle,
        "annotations": annotations or {},
    }


def run_hooks(phase: str, hooks: list[dict[str, Any]], state_json: str) -> None:
    for i, hook in enumerate(hooks):
        run_hook(phase, i, hook, state_json)


def run_hook(phase: str, index: int, hook: dict[str, Any], state_json: str) -> None:
    path = hook["path"]
    args = hook.get("args") or [path]
    env = hook.get("env") or []
    timeout = hook.get("timeout")
    rd, wr = os.pipe2(os.O_CLOEXEC)
    er, ew = os.pipe2(os.O_CLOEXEC)
    pid = os.fork()
    if pid == 0:
        try:
            os.setpgid(0, 0)  # its own group: a timeout kills what it started, too
            os.dup2(rd, 0)
            os.dup2(ew, 1)  # captured for the error message, as runc does
            os.dup2(ew, 2)
            os.execve(
                path,
                [a.encode("utf-8", "surrogateescape") for a in args],
                {k.encode(): v.encode() for k, _, v in (e.partition("=") for e in env)},
            )
        except BaseException as e:
            os.write(2, f"exec {path}: {os.strerror(getattr(e, 'errno', 0) or errno.ENOENT).lower()}".encode())
        os._exit(127)
    try:
        os.setpgid(pid, pid)  # also here: no race with a timeout before the child runs
    except OSError:
        pass
    os.close(rd)
    os.close(ew)
    # a hook may exit without reading its stdin; a broken pipe is not its failure (youki hooks.rs)
    try:
        os.write(wr, state_json.encode())
    except BrokenPipeError:
        pass
    os.close(wr)
    status = _wait(pid, timeout)
    # what the hook wrote; a background child it left may hold the pipe open: do not wait for EOF
    os.set_blocking(er, False)
    err = b""
    while True:
        try:
            chunk = os.read(er, 65536)
        except BlockingIOError:
            break
        if not chunk:
            break
        err += chunk
    os.close(er)
    if status is None:
        raise HookError(phase, f"hook #{index} ({path}): timeout after {timeout} seconds")
    if status != 0:
        code = os.waitstatus_to_exitcode(status)
        what = f"exit status {code}" if code >= 0 else f"signal {-code}"
        text = err.decode(errors="replace").strip()
        raise HookError(phase, f"hook #{index} ({path}): {what}" + (f", output: {text}" if text else ""))


def _wait(pid: int, timeout: int | None) -> int | None:
    """Wait status, or None if the hook outlived its timeout (then it is SIGKILLed and reaped)."""
    if not timeout:
        return os.waitpid(pid, 0)[1]
    pfd = os.pidfd_open(pid)
    try:
        poller = select.poll()
        poller.register(pfd, select.POLLIN)
        if not poller.poll(timeout * 1000):
            try:
                os.killpg(pid, SIGKILL)
            except OSError:
                os.kill(pid, SIGKILL)
            os.waitpid(pid, 0)
            return None
        return os.waitpid(pid, 0)[1]
    finally:
        os.close(pfd)
