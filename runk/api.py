"""runk as a Python library: create, load, start, signal, exec into and delete containers.

    import runk

    with runk.create("demo", bundle="/srv/busybox", root="/run/runk-lib") as c:
        c.start()
        r = c.exec(["sh", "-c", "echo hello; hostname"])
        assert r.exit_code == 0 and r.stdout.startswith(b"hello")
        c.kill()
        print(c.wait())                     # the init's exit status: 143 (SIGTERM)
    # leaving the block deletes the container (--force)

The same containers as the `runk` command: a container made here is seen by `runk list
--root ...` and the other way round, with the same state directory rules and errors (runk.errors
classes, also exported here). This module is the stable surface; everything else in the package
may change. Not on the command paths: the CLI never imports it.

A process that creates containers becomes a child subreaper (prctl PR_SET_CHILD_SUBREAPER), as
the `runk` command does: the container's init and exec'd processes are re-parented to it, which
is what lets wait() and exec() return their exit status. Reap your other children by pid.
"""

from __future__ import annotations

import os
import select
import signal as _signals
import time
from dataclasses import dataclass, field

from runk.backend.requests import CreateRequest, ExecRequest
from runk.container import container as _core
from runk.errors import ConfigError, ExistsError, InvalidIdError, NotFoundError, RunkError, StateError

__all__ = [
    "DEFAULT_ROOT",
    "ConfigError",
    "Container",
    "ExecResult",
    "ExistsError",
    "InvalidIdError",
    "NotFoundError",
    "RunkError",
    "State",
    "StateError",
    "create",
    "list_containers",
    "load",
]

DEFAULT_ROOT = "/run/runk"
Stdio = tuple[int, int, int]


@dataclass(frozen=True)
class State:
    """The OCI state of a container (`runk state`), plus the backend that runs it."""

    id: str
    status: str  # creating, created, running, paused or stopped
    pid: int  # the init's host pid; 0 once stopped
    bundle: str
    rootfs: str
    created: str  # RFC 3339, as runc writes it
    oci_version: str
    backend: str
    annotations: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ExecResult:
    """What exec() returns: the process's exit status (128+N when killed by signal N) and its
    captured output."""

    exit_code: int
    stdout: bytes
    stderr: bytes


class Container:
    """A container under a state root. Each method reloads its record, so a Container stays
    right while other processes (the `runk` command, podman) act on the same container."""

    def __init__(self, id: str, root: str = DEFAULT_ROOT) -> None:
        self.id = id
        self.root = root
        self._init_pid = 0  # set when this process created it (it can then reap the init)

    def __repr__(self) -> str:
        return f"runk.Container({self.id!r}, root={self.root!r})"

    def __enter__(self) -> Container:
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self.delete(force=True)
        except NotFoundError:
            pass

    # -- reading --------------------------------------------------------------------------------
    def state(self) -> State:
        c = _core.load(self.root, self.id)
        try:
            doc = c.oci_state()
            rec = c.record()  # oci_state raised NotFoundError without one
            return State(
                id=doc["id"],
                status=doc["status"],
                pid=int(doc["pid"] or 0),
                bundle=doc["bundle"],
                rootfs=doc["rootfs"],
                created=doc["created"],
                oci_version=doc["ociVersion"],
                backend=rec.backend or "linux",
                annotations=dict(doc.get("annotations") or {}),
            )
        finally:
            c.close()

    def status(self) -> str:
        return self.state().status

    def processes(self) -> list[int]:
        """The container's pids (for a VM container, the guest's)."""
        c = _core.load(self.root, self.id)
        try:
            return c.processes()
        finally:
            c.close()

    def stats(self) -> dict[str, object]:
        """runc's `events --stats` data: cpu, memory, pids, blkio, hugetlb."""
        c = _core.load(self.root, self.id)
        try:
            return c.stats()
        finally:
            c.close()

    # -- verbs ----------------------------------------------------------------------------------
    def start(self) -> None:
        c = _core.load(self.root, self.id, lock=True)
        try:
            c.start()
        finally:
            c.close()

    def kill(self, signal: int = _signals.SIGTERM, all: bool = False) -> None:
        c = _core.load(self.root, self.id)
        try:
            c.kill(int(signal), all_procs=all)
        finally:
            c.close()

    def pause(self) -> None:
        c = _core.load(self.root, self.id, lock=True)
        try:
            c.pause()
        finally:
            c.close()

    def resume(self) -> None:
        c = _core.load(self.root, self.id, lock=True)
        try:
            c.resume()
        finally:
            c.close()

    def update(self, resources: dict[str, object]) -> None:
        """New limits in linux.resources form, e.g. {"memory": {"limit": 64 << 20}}."""
        c = _core.load(self.root, self.id, lock=True)
        try:
            c.update(resources)
        finally:
            c.close()

    def delete(self, force: bool = False) -> None:
        c = _core.load(self.root, self.id, lock=True)
        try:
            c.delete(force=force)
        finally:
            c.close()

    def wait(self, timeout: float | None = None) -> int | None:
        """Wait until the container's init has exited. Returns its exit status (128+N when
        killed by signal N) when this process created the container, else None (another
        process is its parent). Raises TimeoutError after `timeout` seconds."""
        pid = self._init_pid
        if pid:
            return _wait_child(pid, timeout)
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.status() not in ("stopped",):
            if deadline is not None and time.monotonic() >= deadline:
                raise TimeoutError(f"container {self.id} still runs after {timeout} s")
            time.sleep(0.02)
        return None

    def exec(
        self,
        args: list[str],
        *,
        env: list[str] | None = None,
        cwd: str | None = None,
        user: tuple[int, int] | None = None,
        input: bytes = b"",
        timeout: float | None = None,
    ) -> ExecResult:
        """Run a process in the running container, wait for it and capture its output. The
        process is the container's own process config with these changes (runc exec)."""
        c = _core.load(self.root, self.id)
        try:
            proc = dict(c.config().get("process") or {})
            proc["args"] = list(args)
            proc["terminal"] = False
            if env is not None:
                proc["env"] = list(proc.get("env") or []) + list(env)
            if cwd is not None:
                proc["cwd"] = cwd
            if user is not None:
                proc["user"] = {"uid": user[0], "gid": user[1]}
            req = ExecRequest(proc, detach=True)
            pipes = _Pipes(input)
            req.stdio = pipes.child_ends()
            try:
                pid = c.exec(req)
            except BaseException:
                pipes.close()
                raise
        finally:
            c.close()
        return pipes.collect(pid, timeout)


def create(
    id: str,
    bundle: str | None = None,
    *,
    config: dict[str, object] | None = None,
    root: str = DEFAULT_ROOT,
    backend: str | None = None,
    stdio: Stdio | None = None,
    pid_file: str | None = None,
) -> Container:
    """Create a container from a bundle (its config.json), or from `config` (a config.json as a
    dict; a relative root.path is then taken from `bundle`, default the current directory).
    The container waits for start(). Its process gets `stdio` as fds 0-2 (default: this
    process's). On any error nothing is left behind."""
    from runk import _json
    from runk.oci import config as oci_config
    from runk.state.store import validate_id

    validate_id(id)
    req = CreateRequest(bundle=bundle, pid_file=pid_file, backend=backend)
    req.stdio = stdio
    if config is not None:
        raw = _json.dumps(config).encode()
        doc = _json.loads(raw)  # a copy: the caller's dict is not kept or changed
        if not isinstance(doc, dict):
            raise ConfigError("", "the config must be a JSON object")
        loaded = (doc, raw)
    else:
        loaded = oci_config.load(req.bundle)
    c = _core.create(root, id, req, loaded)
    try:
        pid = c.rec.pid if c.rec is not None else 0
    finally:
        c.close()
    out = Container(id, root)
    out._init_pid = int(pid or 0)
    return out


def load(id: str, root: str = DEFAULT_ROOT) -> Container:
    """An existing container; NotFoundError if there is none with this id under root."""
    c = _core.load(root, id)
    c.close()
    return Container(id, root)


def list_containers(root: str = DEFAULT_ROOT) -> list[State]:
    out = []
    for rec, status in _core.list_all(root):
        out.append(
            State(
                id=rec.id,
                status=status,
                pid=(rec.pid or 0) if status != "stopped" else 0,
                bundle=rec.bundle or "",
                rootfs=rec.rootfs or "",
                created=rec.created or "",
                oci_version=rec.ociVersion or "",
                backend=rec.backend or "linux",
                annotations=dict(rec.annotations or {}),
            )
        )
    return out


def _exit_code(status: int) -> int:
    code = os.waitstatus_to_exitcode(status)
    return 128 - code if code < 0 else code


def _wait_child(pid: int, timeout: float | None) -> int:
    """waitpid with a deadline (a pidfd turns readable when the child exits)."""
    try:
        pidfd = os.pidfd_open(pid)
    except ProcessLookupError:
        pidfd = -1
    try:
        if pidfd >= 0 and timeout is not None:
            if not select.select([pidfd], [], [], timeout)[0]:
                raise TimeoutError(f"process {pid} still runs after {timeout} s")
        _, status = os.waitpid(pid, 0)
        return _exit_code(status)
    except ChildProcessError:
        raise RunkError(f"process {pid} is not a child of this process: its exit status is lost") from None
    finally:
        if pidfd >= 0:
            os.close(pidfd)


class _Pipes:
    """stdin fed from bytes, stdout and stderr captured, for exec()."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.in_r, self.in_w = os.pipe2(os.O_CLOEXEC)
        self.out_r, self.out_w = os.pipe2(os.O_CLOEXEC)
        self.err_r, self.err_w = os.pipe2(os.O_CLOEXEC)

    def child_ends(self) -> Stdio:
        return self.in_r, self.out_w, self.err_w

    def close(self) -> None:
        for fd in (self.in_r, self.in_w, self.out_r, self.out_w, self.err_r, self.err_w):
            try:
                os.close(fd)
            except OSError:
                pass

    def collect(self, pid: int, timeout: float | None) -> ExecResult:
        for fd in (self.in_r, self.out_w, self.err_w):
            os.close(fd)
        os.set_blocking(self.in_w, False)
        out = {self.out_r: bytearray(), self.err_r: bytearray()}
        pending = memoryview(self.data)
        readers = [self.out_r, self.err_r]
        writers = [self.in_w] if pending else []
        if not pending:
            os.close(self.in_w)
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            while readers:
                left = None if deadline is None else max(0.0, deadline - time.monotonic())
                if left == 0.0:
                    os.kill(pid, _signals.SIGKILL)
                    _wait_child(pid, None)
                    raise TimeoutError(f"exec of pid {pid} still runs after {timeout} s")
                r, w, _ = select.select(readers, writers, [], left)
                for fd in r:
                    chunk = os.read(fd, 65536)
                    if chunk:
                        out[fd] += chunk
                    else:
                        readers.remove(fd)
                if w:
                    try:
                        pending = pending[os.write(self.in_w, pending) :]
                    except BrokenPipeError:
                        pending = pending[:0]
                    if not pending:
                        writers = []
                        os.close(self.in_w)
            code = _wait_child(pid, None if deadline is None else max(0.0, deadline - time.monotonic()))
        finally:
            for fd in (self.out_r, self.err_r) + ((self.in_w,) if writers else ()):
                os.close(fd)
        return ExecResult(code, bytes(out[self.out_r]), bytes(out[self.err_r]))
