"""The Backend interface: what a backend must do for the lifecycle layer (runk.container).

Declared for the type checker only: nothing imports this module at run time (the Protocol would
cost `typing` on every command). runk.backend.linux.LinuxBackend and runk.backend.vm.VmBackend
implement it; runk.backend.backend_for() returns one. A backend owns everything below the state
record: processes, cgroups, VMs. Callers hold the container's directory (locked where the verb
needs it) and its record; a backend never removes the directory itself.
"""

from __future__ import annotations

from typing import Any, Protocol

from runk.backend.requests import CheckpointRequest, CreateRequest, ExecRequest, RestoreRequest
from runk.state.record import StateRecord
from runk.state.store import ContainerDir


class EventSource(Protocol):
    """OOM notifications of a running container, for `runk events`."""

    def fileno(self) -> int: ...  # pollable (POLLIN | POLLPRI)
    def read(self) -> int: ...  # OOM events since the last call, no blocking
    def close(self) -> None: ...


class Backend(Protocol):
    name: str
    host_pids: bool  # processes() are host pids (ps(1) can show them)

    def create(self, cdir: ContainerDir, cfg: dict[str, Any], raw: bytes, req: CreateRequest) -> StateRecord: ...
    def live_status(self, cdir: ContainerDir | None, rec: StateRecord) -> str: ...
    def start(self, cdir: ContainerDir, rec: StateRecord) -> None: ...
    def kill(self, rec: StateRecord, sig: int, all_procs: bool) -> None: ...
    def kill_remaining(self, rec: StateRecord, sig: int) -> bool:
        """kill of a stopped container (--all, or SIGKILL to one in the host's pid namespace):
        signal what is left of it (runc signals what its cgroup still holds). False when
        nothing of it is left (its cgroup is gone)."""

    def destroy(self, cdir: ContainerDir, rec: StateRecord, status: str) -> None:
        """Stop whatever still runs of the container (created, running, paused, or what a
        stopped one left) and remove what the backend made outside cdir (cgroups, VM)."""

    def exec_process(self, cdir: ContainerDir, rec: StateRecord, cfg: dict[str, Any], req: ExecRequest) -> int: ...
    def pause(self, rec: StateRecord) -> None: ...
    def resume(self, rec: StateRecord) -> None: ...
    def update(self, rec: StateRecord, resources: dict[str, Any]) -> None: ...
    def processes(self, rec: StateRecord) -> list[int]: ...
    def stats(self, rec: StateRecord) -> dict[str, Any]: ...
    def oom_events(self, rec: StateRecord) -> EventSource: ...
    def features_document(self) -> dict[str, Any]: ...
    def checkpoint(self, cdir: ContainerDir, rec: StateRecord, cfg: dict[str, Any], req: CheckpointRequest) -> None:
        """Save the running container's processes with CRIU (a dump leaves them stopped unless
        req.options.leave_running; a pre-dump leaves them running)."""

    def restore(self, cdir: ContainerDir, cfg: dict[str, Any], raw: bytes, req: RestoreRequest) -> StateRecord:
        """Like create, in the claimed cdir, but the processes come from a checkpoint and run
        when it returns (the record's pid is the restored init)."""
