"""V2Manager: one directory in a cgroup2 hierarchy (the unified mount of a v2 or hybrid host).

Runs in the parent. Hot path (load_manager): imports runk._os, fs and base; v2_freezer loads in the
freezer methods, controllers only in set(), stats only in stats(). paths() is {"": dir}, like runc's state.json on v2.
"""

from __future__ import annotations

from runk import _os as os
from runk.errors import CgroupError
from runk.linux.cgroups import fs
from runk.linux.cgroups.base import (
    SIGKILL,
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

    from runk.linux.cgroups.base import V2Controller

# Controllers that make a group a "domain" group (runc fs2/create.go containsDomainController).
_DOMAIN = ("memory", "blockIO", "cpu", "hugepageLimits")


# v2 controllers in runc's Set order (fs2.go): pids, memory, io, cpu, devices, cpuset, hugetlb,
# rdma, then the raw unified keys, which may override any of them
CONTROLLERS = (
    ("v2_pids", "PidsController", "pids"),
    ("v2_memory", "MemoryController", "memory"),
    ("v2_io", "IoController", "blockIO"),
    ("v2_cpu", "CpuController", "cpu"),
    ("v2_devices", "DevicesController", "devices"),
    ("v2_cpuset", "CpusetController", "cpu"),
    ("v2_hugetlb", "HugetlbController", "hugepageLimits"),
    ("v1_rdma", "RdmaController", "rdma"),
    ("v2_unified", "UnifiedController", "unified"),
)


def controllers(resources: dict[str, Any] | None = None) -> list[V2Controller]:
    return load_controllers(CONTROLLERS, resources)


def _enable_subtree(path: str) -> None:
    """Enable in `path` every controller it has (runc: all of the root's; failures ignored)."""
    have = (fs.read_opt(path, "cgroup.controllers") or "").split()
    on = (fs.read_opt(path, "cgroup.subtree_control") or "").split()
    want = [c for c in have if c not in on]
    if not want:
        return
    try:
        fs.write(path, "cgroup.subtree_control", " ".join("+" + c for c in want))
    except CgroupError:
        for c in want:  # one may be busy (EBUSY: tasks in a non-root group); take the others
            try:
                fs.write(path, "cgroup.subtree_control", "+" + c)
            except CgroupError:
                pass


class V2Manager(CgroupManager):
    __slots__ = ("mountpoint", "path")
    kind = "v2"

    def __init__(self, path: str, mountpoint: str | None = None) -> None:
        super().__init__()
        self.path = path
        self.mountpoint = mountpoint

    def paths(self) -> dict[str, str]:
        return {"": self.path}

    def _mount(self) -> str:
        if self.mountpoint is None:
            from runk.linux.cgroups import layout

            lay = layout.detect()
            if lay.unified is None:
                raise CgroupError("no cgroup2 filesystem is mounted")
            self.mountpoint = lay.unified.mountpoint
        return self.mountpoint

    def _make(self, made: list[str], resources: dict[str, Any] | None = None) -> None:
        mnt = self._mount().rstrip("/") or "/"
        rel = os.path.relpath(self.path, mnt)
        if rel == ".." or rel.startswith("../"):  # "...", "..x" are names, not a climb
            raise CgroupError(f"invalid cgroup path {self.path}: not below the cgroup2 mount {mnt}")
        current = mnt
        parts = [] if rel == "." else rel.split("/")
        for part in parts:
            _enable_subtree(current)
            current = os.path.join(current, part)
            fs.mkdir(current, made)
            self._check_type(current, resources)

    def _check_type(self, path: str, resources: dict[str, Any] | None) -> None:
        t = (fs.read_opt(path, "cgroup.type") or "").strip()
        domain = bool(resources and any(resources.get(k) for k in _DOMAIN))
        if t == "domain invalid":
            if domain:
                raise CgroupError(f"cannot enter cgroupv2 {path} with domain controllers -- it is in an invalid state")
            fs.write(path, "cgroup.type", "threaded")
        elif t in ("threaded", "domain threaded") and domain:
            raise CgroupError(f"cannot enter cgroupv2 {path} with domain controllers -- it is in {t} mode")

    def entry(self) -> Entry:
        return open_entry(Entry(), [], self.path)

    def apply(self, pid: int, entry: Entry | None = None) -> None:
        if entry is not None and entry.cloned:
            return  # cloned into the group
        fs.write_procs(self.path, pid)

    def sub(self, subs: dict[str, str]) -> V2Manager:
        return V2Manager(sub_path(self.path, subs.get("", "")), self.mountpoint)

    def set(self, resources: dict[str, Any], only: tuple[str, ...] | None = None) -> None:
        """Set `resources`; `only` limits it to those controller names (hybrid: hugetlb)."""
        if not resources:
            return
        if only is None:
            net = resources.get("network") or {}
            if net.get("classID") or net.get("priorities"):
                raise CgroupError("cannot set linux.resources.network: cgroup v2 has no net_cls or net_prio controller")
            self._note_kernel_memory(resources)
        ctls = [c for c in controllers(resources) if only is None or c.name in only]
        listed = fs.read_opt(self.path, "cgroup.controllers")
        avail = (listed or "").split()

        def path_for(c: V2Controller) -> str | None:
            ctrl = c.controller
            if ctrl and ctrl not in avail:
                if listed is None and not os.path.isdir(self.path):
                    raise CgroupError(f"cannot set linux.resources.{c.resource}: the cgroup {self.path} is gone")
                raise CgroupError(
                    f"cannot set linux.resources.{c.resource}: the {ctrl} controller is not "
                    f"available in {self.path} (cgroup.controllers: {' '.join(avail) or 'none'})"
                )
            return self.path

        run_controllers(ctls, resources, path_for, "available")

    def freeze(self) -> None:
        from runk.linux.cgroups import v2_freezer

        v2_freezer.freeze(self.path)

    def thaw(self) -> None:
        from runk.linux.cgroups import v2_freezer

        v2_freezer.thaw(self.path)

    def freezer_state(self) -> str:
        from runk.linux.cgroups import v2_freezer

        return v2_freezer.state(self.path)

    def frozen(self) -> bool:
        # create's path: fs only (v2_freezer is for pause/resume). cgroup.events says frozen
        # through an ancestor too; cgroup.freeze, the group's own switch, before it took effect
        events = (fs.read_opt(self.path, "cgroup.events") or "").splitlines()
        return "frozen 1" in events or (fs.read_opt(self.path, "cgroup.freeze") or "").strip() == "1"

    def pids(self, recursive: bool = True) -> list[int]:
        return read_pids(self.path, recursive)

    def kill_all(self, sig: int) -> None:
        if sig == SIGKILL and fs.has(self.path, "cgroup.kill"):
            # cgroup.kill (5.14+) kills the whole subtree atomically, racing forks included.
            fs.write(self.path, "cgroup.kill", "1", "cgroup.kill")
            return
        self._signal_frozen(sig)

    def stats(self) -> dict[str, Any]:
        from runk.linux.cgroups import stats_v2

        return stats_v2.collect(self.path)

    def oom_kill_count(self) -> int:
        if not fs.has(self.path, "memory.events"):
            return 0
        return fs.read_keyed(self.path, "memory.events").get("oom_kill", 0)

    def destroy(self) -> None:
        from runk.linux.cgroups.saved import remove_groups

        remove_groups(self.paths())

    def exists(self) -> bool:
        return os.path.isdir(self.path)
