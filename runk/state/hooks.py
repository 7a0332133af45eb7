"""Container-level hook phases: which hooks run where, with which status, and the policy on
failure (create-time hooks abort create; poststart and poststop only warn).

Runs in the parent. The process mechanics are runk.linux.hookexec, shared with the init.
"""

from __future__ import annotations

from runk.linux.hookexec import run_hooks, state_json

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from runk.state.record import StateRecord

# phase -> status in the state document given on stdin. runtime.md: "creating: the container is
# being created (step 2 in the lifecycle)"; prestart, createRuntime and createContainer are
# steps 3-5, after the runtime environment was created, so they see "created" (runtime-tools'
# hooks_stdin checks prestart for it). runc passes "creating" here.
STATUS = {
    "prestart": "created",
    "createRuntime": "created",
    "createContainer": "created",
    "startContainer": "created",
    "poststart": "running",
    "poststop": "stopped",
}


def state_for(rec: StateRecord, status: str) -> str:
    """The state on a hook's stdin for a container record; STATUS says which status each phase
    sees."""
    # a record always has its bundle (create writes it); state_json writes a missing pid as 0
    return state_json(rec.id, status, rec.pid or 0, rec.bundle or "", rec.annotations)


def run_phase(cfg: dict[str, Any], phase: str, state_json: str) -> None:
    hooks = (cfg.get("hooks") or {}).get(phase) or []
    if hooks:
        run_hooks(phase, hooks, state_json)


def run_phase_warn(cfg: dict[str, Any], phase: str, state_json: str, warn: Callable[[str], object]) -> None:
    """poststart/poststop: a failing hook is logged as a warning, and the remaining hooks and the
    lifecycle continue as if it had succeeded (config.md, POSIX-platform hooks)."""
    from runk.errors import HookError
    from runk.linux.hookexec import run_hook

    for i, hook in enumerate((cfg.get("hooks") or {}).get(phase) or []):
        try:
            run_hook(phase, i, hook, state_json)
        except (HookError, OSError) as e:
            warn(str(e))


def run_runtime_phases(cfg: dict[str, Any], state_json: str) -> None:
    """prestart (deprecated, still run as runc does) then createRuntime, in the runtime namespace."""
    run_phase(cfg, "prestart", state_json)
    run_phase(cfg, "createRuntime", state_json)
