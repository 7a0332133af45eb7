"""A container's groups from its saved paths() dict, without loading a manager: which group
holds its task list, every pid in them, and removing them (state, delete, and every manager's
destroy).

Runs in the parent (delete, state of a stopped container). Imports fs only.
"""

from __future__ import annotations

from runk.linux.cgroups import fs

TYPE_CHECKING = False  # no `typing` import at run time (DESIGN 3.11)
if TYPE_CHECKING:
    from typing import Any


def tasks_path(paths: dict[str, Any]) -> str | None:
    """The group whose task list is the container's: the unified group on v2; on v1 and hybrid
    the devices hierarchy's (runc GetPids / GetAllPids), or the first one."""
    if len(paths) == 1 and "" in paths:
        return paths[""] or None
    return paths.get("devices") or next((v for k, v in paths.items() if k and v), None)


def all_pids(paths: dict[str, Any]) -> list[int]:
    """Every pid in the container's groups (sub-groups included), from a saved paths() dict,
    without loading a manager (delete of a stopped container)."""
    path = tasks_path(paths)
    return fs.all_pids(path) if path else []


def remove_groups(paths: dict[str, Any]) -> None:
    """Remove the container's group in every hierarchy of a saved paths() dict, retrying while
    exiting tasks drain: what every manager's destroy() does, here without loading one."""
    fs.remove_paths(list(dict.fromkeys(p for p in paths.values() if p)))
