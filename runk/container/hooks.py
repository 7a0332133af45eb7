"""Container-level hook phases: which hooks run where, with which status, and the policy on
failure (create-time hooks abort create; poststart and poststop only warn).

Runs in the parent. The process mechanics are runk.linux.hookexec, shared with the init.
"""
from __future__ import annotations

from runk.errors import RunkError
from runk.linux.hookexec import run_hook, run_hooks

# phase -> status in the state document given on stdin (runtime-spec runtime.md, config.md)
STATUS = {"prestart": "creating", "createRuntime": "creating", "createContainer": "creating",
          "startContainer": "created", "poststart": "running", "poststop": "stopped"}


def run_phase(cfg: dict, phase: str, state_json: str) -> None:
    hooks = (cfg.get("hooks") or {}).get(phase) or []
    if hooks:
        run_hooks(phase, hooks, state_json)


def run_runtime_phases(cfg: dict, state_json: str) -> None:
    """prestart (deprecated, still run as runc does) then createRuntime, in the runtime namespace."""
    run_phase(cfg, "prestart", state_json)
    run_phase(cfg, "createRuntime", state_json)


def run_phase_warning_only(cfg: dict, phase: str, state_json: str, warn) -> None:
    """poststart and poststop: a failing hook is a warning, "the remaining hooks and lifecycle
    continue as if the hook had succeeded" (runtime-spec config.md)."""
    for i, hook in enumerate((cfg.get("hooks") or {}).get(phase) or []):
        try:
            run_hook(phase, i, hook, state_json)
        except RunkError as e:
            warn(str(e))
