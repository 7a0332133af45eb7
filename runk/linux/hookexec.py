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


def run_hooks(phase: str, hooks: list[dict[str, Any]], state_json: str, inherit: list[str] | None = None) -> None:
    """Each hook in order; the first failure raises HookError. inherit: the environment of a
    hook without `env` (None: runk's own, as a runc hook without env inherits runc's)."""
    for i, hook in enumerate(hooks):
        run_hook(phase, i, hook, state_json, inherit)


def _hook_env(hook: dict[str, Any], inherit: list[str] | None) -> dict[bytes, bytes]:
    env = hook.get("env")
    if env is None:  # absent or null: inherited (runc 1.1.5's nil Env); [] is an empty one
        if inherit is None:
            import posix

            return dict(posix.environ)
        env = inherit
    return {k.encode(): v.encode() for k, _, v in (e.partition("=") for e in env)}


def run_hook(phase: str, index: int, hook: dict[str, Any], state_json: str, inherit: list[str] | None = None) -> None:
    """Run one hook; HookError with runc's detail ("exit status N, stdout: ..., stderr: ...",
    "fork/exec PATH: ...", "hook ran past specified timeout of Ns") if it fails."""
    path = hook["path"]
    args = hook.get("args") or [path]
    env = _hook_env(hook, inherit)
    timeout = hook.get("timeout")
    rd, wr = os.pipe2(os.O_CLOEXEC)
    outr, outw = os.pipe2(os.O_CLOEXEC)
    er, ew = os.pipe2(os.O_CLOEXEC)
    xr, xw = os.pipe2(os.O_CLOEXEC)  # the exec's errno; closed by a successful exec
    pid = os.fork()
    if pid == 0:
        code = errno.ENOENT
        try:
            os.setpgid(0, 0)  # its own group: a timeout kills what it started, too
            os.dup2(rd, 0)
            os.dup2(outw, 1)  # captured for the error message, as runc does
            os.dup2(ew, 2)
            os.execve(path, [a.encode("utf-8", "surrogateescape") for a in args], env)
        except BaseException as e:
            code = getattr(e, "errno", 0) or errno.ENOENT
        os.write(xw, code.to_bytes(4, "little"))
        os._exit(127)
    try:
        os.setpgid(pid, pid)  # also here: no race with a timeout before the child runs
    except OSError:
        pass
    for fd in (rd, outw, ew, xw):
        os.close(fd)
    # a hook may exit without reading its stdin; a broken pipe is not its failure (youki hooks.rs)
    try:
        os.write(wr, state_json.encode())
    except BrokenPipeError:
        pass
    os.close(wr)
    status = _wait(pid, timeout)
    exec_errno = _drain(xr)
    out, err = _drain(outr), _drain(er)
    if exec_errno:
        raise HookError(phase, index, f"fork/exec {path}: {os.strerror(int.from_bytes(exec_errno, 'little')).lower()}")
    if status is None:
        raise HookError(phase, index, f"hook ran past specified timeout of {float(timeout or 0):.1f}s")
    if status != 0:
        code = os.waitstatus_to_exitcode(status)
        what = f"exit status {code}" if code >= 0 else f"signal: {_signal_name(-code)}"
        text = f"{what}, stdout: {out.decode(errors='replace')}, stderr: {err.decode(errors='replace')}"
        raise HookError(phase, index, text)


def _drain(fd: int) -> bytes:
    """What is in a pipe now, and close it: a background child the hook left may hold the pipe
    open, so EOF is not waited for."""
    os.set_blocking(fd, False)
    data = b""
    while True:
        try:
            chunk = os.read(fd, 65536)
        except BlockingIOError:
            break
        if not chunk:
            break
        data += chunk
    os.close(fd)
    return data


def _signal_name(sig: int) -> str:
    """Go's name of a signal in an exit status ("killed", "terminated")."""
    import _signal  # built in: the init may run this after pivot_root

    describe = getattr(_signal, "strsignal", None)
    try:
        text = describe(sig) if callable(describe) else None
    except ValueError:
        text = None
    return str(text).lower() if text else f"signal {sig}"


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
