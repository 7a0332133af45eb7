"""HybridManager: v1 hierarchies for the v1 controllers plus the group on the unified cgroup2 mount.

Runs in the parent. Hot path (load_manager): imports v1, v2 and fs. As runc on a hybrid host, the
task also joins the unified hierarchy (so /proc/<pid>/cgroup's "0::" line names the container's
group) and pause/resume use the v1 freezer. Beyond runc: hugepageLimits go to the unified group
when the cgroup2 mount holds hugetlb (as on this machine, where no v1 hugetlb exists), and
kill_all(SIGKILL) uses the unified group's cgroup.kill (runc >= 1.2 does the same).
"""

from __future__ import annotations

from runk.errors import CgroupError
from runk.linux.cgroups import fs
from runk.linux.cgroups.base import SIGKILL, CgroupManager, Entry, open_entry
from runk.linux.cgroups.v1 import V1Manager
from runk.linux.cgroups.v2 import V2Manager

TYPE_CHECKING = False  # no `typing` import at run time (DESIGN 3.11)
if TYPE_CHECKING:
    from typing import Any


class HybridManager(CgroupManager):
    __slots__ = ("v1", "v2")
    kind = "hybrid"

    def __init__(self, v1: V1Manager, v2: V2Manager) -> None:
        super().__init__()
        self.v1 = v1
        self.v2 = v2

    def paths(self) -> dict[str, str]:
        out = self.v1.paths()
        out[""] = self.v2.path
        return out

    def _make(self, made: list[str], resources: dict[str, Any] | None = None) -> None:
        self.v1._make(made, resources)
        self.v2._make(made, resources)

    def entry(self) -> Entry:
        return open_entry(Entry(), self.v1.dirs(), self.v2.path)

    def apply(self, pid: int, entry: Entry | None = None) -> None:
        self.v1.apply(pid, entry)
        self.v2.apply(pid, entry)

    def sub(self, subs: dict[str, str]) -> HybridManager:
        return HybridManager(self.v1.sub(subs), self.v2.sub(subs))

    def _hugetlb_on_v2(self) -> bool:
        if "hugetlb" in self.v1._paths:
            return False
        return "hugetlb" in (fs.read_opt(self.v2.path, "cgroup.controllers") or "").split()

    def set(self, resources: dict[str, Any]) -> None:
        if not resources:
            return
        if resources.get("unified"):
            raise CgroupError(
                "cannot set linux.resources.unified: invalid configuration: "
                "cannot use unified on cgroup v1 (this host is hybrid)"
            )
        on_v2 = self._hugetlb_on_v2()
        self.v1.set(resources, skip=("hugetlb",) if on_v2 else ())
        self.warnings.extend(w for w in self.v1.warnings if w not in self.warnings)
        if on_v2 and resources.get("hugepageLimits"):
            self.v2.set({"hugepageLimits": resources["hugepageLimits"]}, only=("hugetlb",))

    def freeze(self) -> None:
        self.v1.freeze()

    def thaw(self) -> None:
        self.v1.thaw()

    def freezer_state(self) -> str:
        return self.v1.freezer_state()

    def frozen(self) -> bool:
        return self.v1.frozen() or self.v2.frozen()

    def pids(self, recursive: bool = True) -> list[int]:
        return self.v1.pids(recursive)

    def kill_all(self, sig: int) -> None:
        if sig == SIGKILL and fs.has(self.v2.path, "cgroup.kill"):
            fs.write(self.v2.path, "cgroup.kill", "1", "cgroup.kill")
            # A task frozen by the v1 freezer cannot act on SIGKILL until it is thawed.
            if self.v1.freezer_state() == "FROZEN":
                self.v1.thaw()
            return
        self.v1.kill_all(sig)

    def stats(self) -> dict[str, Any]:
        data = self.v1.stats()
        if not data.get("hugetlb") and fs.has(self.v2.path, "cgroup.controllers"):
            from runk.linux.cgroups import stats_v2

            data["hugetlb"] = stats_v2.hugetlb(self.v2.path)
        return data

    def oom_kill_count(self) -> int:
        return self.v1.oom_kill_count()

    def destroy(self) -> None:
        from runk.linux.cgroups.saved import remove_groups

        remove_groups(self.paths())

    def exists(self) -> bool:
        return self.v1.exists()
