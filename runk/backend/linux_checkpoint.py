"""The linux backend's `checkpoint`: the running container's processes saved by CRIU.

Runs in the parent. The container's lock is held by the caller (runk.container); the record
gives the init's pid, its root and cgroups. What happens to the container afterwards (stopped
and deleted, or left running) is the lifecycle layer's.
"""

from __future__ import annotations

from runk.errors import StateError
from runk.state.record import StateRecord

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from runk.backend.requests import CheckpointRequest


def checkpoint(rec: StateRecord, cfg: dict[str, Any], req: CheckpointRequest) -> None:
    from runk.linux.criu import dump

    if not rec.pid or not rec.rootfs:
        raise StateError("container has no init process to checkpoint")
    dump.checkpoint(req.criu, rec.pid, rec.rootfs, cfg, rec.cgroup_paths, req.options)
