"""V1Manager: one directory per cgroup v1 hierarchy (cpu, memory, devices, freezer, ...).

Runs in the parent. Hot path (load_manager → freezer_state, pids, kill_all, destroy): imports
runk._os, fs and base; v1_freezer loads in the freezer methods, the per-controller modules only in
set(), stats only in stats().
paths() maps runc's subsystem keys ("cpu", "memory", "name=systemd", ...) to host directories,
like runc's state.json "cgroup_paths".
"""

from __future__ import annotations

from runk import _os as os
from runk.errors import CgroupError
from runk.linux.cgroups import fs
from runk.linux.cgroups.base import (
    CgroupManager,
    Entry,
    load_controllers,
    open_entry,
    read_pids,
    run_controllers,
    sub_path,
)

TYPE_CHECKING = False  # no `typing` import at run time (DESIGN 3.11)
if TYPE_CHECKING:
    from typing import Any

    from runk.linux.cgroups.base import Controller


# v1 controllers in runc's Set order (fs.go subsystems): (module, class, linux.resources key)
CONTROLLERS = (
    ("v1_cpuset", "CpusetController", "cpu"),
    ("v1_devices", "DevicesController", "devices"),
    ("v1_memory", "MemoryController", "memory"),
    ("v1_cpu", "CpuController", "cpu"),
    ("v1_pids", "PidsController", "pids"),
    ("v1_blkio", "BlkioController", "blockIO"),
    ("v1_hugetlb", "HugetlbController", "hugepageLimits"),
    ("v1_net_cls", "NetClsController", "network"),
    ("v1_net_prio", "NetPrioController", "network"),
    ("v1_rdma", "RdmaController", "rdma"),
)


def controllers(resources: dict[str, Any] | None = None) -> list[Controller]:
    return load_controllers(CONTROLLERS, resources)


class V1Manager(CgroupManager):
    __slots__ = ("_paths",)
    kind = "v1"

    def __init__(self, paths: dict[str, str]) -> None:
        super().__init__()
        self._paths = {k: v for k, v in paths.items() if k}

    def paths(self) -> dict[str, str]:
        return dict(self._paths)

    def dirs(self) -> list[str]:
        """Distinct directories (co-mounted controllers share one), in hierarchy order."""
        return list(dict.fromkeys(self._paths.values()))

    def _make(self, made: list[str], resources: dict[str, Any] | None = None) -> None:
        for key, path in self._paths.items():
            fs.mkdir(path, made)
            if key == "cpuset":
                from runk.linux.cgroups.v1_cpuset import ensure_populated

                ensure_populated(path)

    def entry(self) -> Entry:
        return open_entry(Entry(), self.dirs(), None)

    def apply(self, pid: int, entry: Entry | None = None) -> None:
        if entry is not None and entry.tasks:
            return  # the bootstrap wrote "0" to every tasks file itself
        for path in self.dirs():
            fs.write_procs(path, pid)

    def sub(self, subs: dict[str, str]) -> V1Manager:
        paths = dict(self._paths)
        if "" in subs:
            paths = {k: sub_path(v, subs[""]) for k, v in paths.items()}
        else:
            for ctrl, sub in subs.items():
                if ctrl not in paths:
                    raise CgroupError(f"unknown controller {ctrl} in SubCgroupPaths")
                paths[ctrl] = sub_path(paths[ctrl], sub)
        return V1Manager(paths)

    def set(self, resources: dict[str, Any], skip: tuple[str, ...] = ()) -> None:
        if not resources:
            return
        if resources.get("unified"):
            raise CgroupError(
                "cannot set linux.resources.unified: invalid configuration: cannot use unified on cgroup v1"
            )
        self._note_kernel_memory(resources)
        ctls = [c for c in controllers(resources) if c.name not in skip]
        run_controllers(ctls, resources, lambda c: self._paths.get(c.name), "mounted")

    def _freezer(self) -> str:
        path = self._paths.get("freezer")
        if not path:
            raise CgroupError("cannot toggle freezer: cgroups not configured for container")
        return path

    def freeze(self) -> None:
        from runk.linux.cgroups import v1_freezer

        v1_freezer.freeze(self._freezer())

    def thaw(self) -> None:
        from runk.linux.cgroups import v1_freezer

        v1_freezer.thaw(self._freezer())

    def freezer_state(self) -> str:
        from runk.linux.cgroups import v1_freezer

        path = self._paths.get("freezer")
        return v1_freezer.state(path) if path else ""

    def frozen(self) -> bool:
        path = self._paths.get("freezer")
        state = fs.read_opt(path, "freezer.state") if path else None
        return state is not None and state.strip() in ("FROZEN", "FREEZING")

    def _tasks_path(self) -> str | None:
        from runk.linux.cgroups.saved import tasks_path

        return tasks_path(self._paths)

    def pids(self, recursive: bool = True) -> list[int]:
        return read_pids(self._tasks_path(), recursive)

    def kill_all(self, sig: int) -> None:
        self._signal_frozen(sig)

    def stats(self) -> dict[str, Any]:
        from runk.linux.cgroups import stats_v1

        return stats_v1.collect(self._paths)

    def oom_kill_count(self) -> int:
        path = self._paths.get("memory")
        if not path or not fs.has(path, "memory.oom_control"):
            return 0
        return fs.read_keyed(path, "memory.oom_control").get("oom_kill", 0)

    def destroy(self) -> None:
        from runk.linux.cgroups.saved import remove_groups

        remove_groups(self._paths)

    def exists(self) -> bool:
        path = self._tasks_path()
        return bool(path and os.path.isdir(path))
