"""SystemdManager: the container's cgroup is a transient systemd unit (a scope, or a slice).

Runs in the parent (create, update, delete with --systemd-cgroup). Imports systemd_bus (and so
jeepney) only when it talks to systemd. Everything about the cgroup files is the cgroupfs code's:
a V2Manager on the unit's directory (`fs`) sets the resources, freezes, lists and signals the
tasks and reads the statistics; paths() is that directory ({"": dir}, runc's shape), so pause,
resume, kill, ps, events and exec of a saved container work from the files alone
(cgroups.load_manager) and only update and delete come back here.

create(): nothing can be made before there is a task (systemd refuses a scope without one), so
create() only converts and checks the resources; apply(pid) starts the unit with the init's
pid in PIDs (Delegate=yes, the accounting on, the resources as properties), waits for its job,
then writes the files (V2Manager.set: every resource, the eBPF device filter included).
destroy(): StopUnit (bounded wait), ResetFailedUnit, then the cgroup directory if it is left.
"""

from __future__ import annotations

from runk import _os as os
from runk import log
from runk.errors import CgroupError
from runk.linux.cgroups.base import CgroupManager, Entry
from runk.linux.cgroups.v2 import V2Manager

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from runk.linux.cgroups.systemd_bus import Systemd
    from runk.linux.cgroups.systemd_props import Prop


class SystemdManager(CgroupManager):
    __slots__ = ("_bus", "extra", "fs", "name", "owner", "resources", "slice", "started", "unit", "user")
    kind = "systemd"

    def __init__(self, unit: str, path: str, *, slice_name: str = "", name: str = "", user: bool = False) -> None:
        super().__init__()
        self.unit = unit
        self.slice = slice_name
        self.name = name
        self.user = user
        self.fs = V2Manager(path)
        self.resources: dict[str, Any] | None = None
        self.started = False
        self._bus: Systemd | None = None
        self.extra: list[Prop] = []  # the config's org.systemd.property.* annotations
        self.owner: int | None = None  # the host uid the group is delegated to (delegate.py)

    @classmethod
    def new(
        cls, unit: str, slice_name: str, slice_full: str, mountpoint: str, name: str, *, user: bool
    ) -> SystemdManager:
        """A manager for a unit to start; a user instance's units live below its own group."""
        from runk.linux.cgroups.systemd_names import unit_dir

        mgr = cls(unit, "", slice_name=slice_name, name=name, user=user)
        if user:
            own = str(mgr.bus().manager_property("ControlGroup"))
            slice_full = own.rstrip("/") + "/" + slice_full.lstrip("/")
        mgr.fs = V2Manager(unit_dir(mountpoint, slice_full, unit), mountpoint)
        return mgr

    @classmethod
    def saved(cls, paths: dict[str, str], *, user: bool = False) -> SystemdManager:
        path = paths.get("") or ""
        if not path or len(paths) != 1:
            raise CgroupError(f"the saved cgroup paths of a systemd container are not a unit's group: {paths}")
        mgr = cls(os.path.basename(path), path, user=user)
        mgr.started = True  # it may run: destroy() asks systemd
        return mgr

    # -- D-Bus ----------------------------------------------------------------------------------
    def bus(self) -> Systemd:
        if self._bus is None:
            from runk.linux.cgroups.systemd_bus import Systemd

            self._bus = Systemd(self.user)
        return self._bus

    def close(self) -> None:
        if self._bus is not None:
            self._bus.close()
            self._bus = None

    def _resource_props(self, resources: dict[str, Any]) -> list[Prop]:
        from runk.linux.cgroups import systemd_props

        version = self.bus().version() if systemd_props.needs_version(resources) else 0
        return systemd_props.resources(resources, version, self._warn)

    def _warn(self, text: str) -> None:
        if text not in self.warnings:
            self.warnings.append(text)

    def _unit_props(self, pid: int, resources: dict[str, Any]) -> list[Prop]:
        from runk.linux.cgroups.systemd_names import is_slice

        props: list[Prop] = [("Description", ("s", f"runk container {self.name}"))]
        if is_slice(self.unit):
            props.append(("Wants", ("as", [self.slice])))  # a slice's parent comes from its name
        else:
            props += [("Slice", ("s", self.slice)), ("Delegate", ("b", True))]
        if pid > 0:
            props.append(("PIDs", ("au", [pid])))
        props += [(p, ("b", True)) for p in ("MemoryAccounting", "CPUAccounting", "IOAccounting", "TasksAccounting")]
        props.append(("DefaultDependencies", ("b", False)))
        return props + self._resource_props(resources) + self.extra  # runc sends the annotations last

    # -- the CgroupManager contract -------------------------------------------------------------
    def paths(self) -> dict[str, str]:
        return self.fs.paths()

    def create(self, resources: dict[str, Any] | None) -> None:
        """Check the resources convert (nothing is made: the unit starts in apply, with a pid)."""
        from runk.linux.cgroups import systemd_props

        self.resources = resources or {}
        systemd_props.resources(self.resources, 1 << 30, lambda _t: None)  # the errors, early
        if self.fs.exists():
            # another container's unit, or a group made beforehand: runc main refuses both, in
            # these words (the unit's start would join that group, and a frozen one would stop
            # the init at once)
            n = len(self.fs.pids())
            if n:
                raise CgroupError(f"container's cgroup is not empty: {n} process(es) found")
            if self.fs.frozen():
                raise CgroupError("container's cgroup unexpectedly frozen")

    def entry(self) -> Entry:
        return Entry()  # the group exists only once the unit has started

    def apply(self, pid: int, entry: Entry | None = None) -> None:
        """Start the unit with `pid` in it, then write the resources to its group."""
        if self.started:
            self.fs.apply(pid)  # another task of the container (runc Apply is once)
            return
        resources = self.resources or {}
        props = self._unit_props(pid, resources)
        self.started = True  # from the call on, destroy() must stop it
        self.bus().start_transient(self.unit, props)
        for w in self.warnings:
            log.warn(w)
        self.warnings.clear()
        if not self.fs.exists():
            raise CgroupError(f"systemd started {self.unit} but its cgroup {self.fs.path} does not exist")
        if self.owner is not None:
            from runk.linux.cgroups.delegate import chown_group

            chown_group(self.fs.path, self.owner)
        self.fs.set(resources)

    def sub(self, subs: dict[str, str]) -> CgroupManager:
        return self.fs.sub(subs)

    def set(self, resources: dict[str, Any]) -> None:
        """update: the unit's properties, then the files (runc Set); a limit below the usage
        that checkBeforeUpdate refuses is refused before systemd sees it."""
        from runk.linux.cgroups.v2_memory import check_usage

        check_usage(resources, self.fs.path)
        self.bus().set_properties(self.unit, self._resource_props(resources))
        self.fs.set(resources)
        self.warnings.extend(w for w in self.fs.warnings if w not in self.warnings)

    def freeze(self) -> None:
        self.fs.freeze()

    def thaw(self) -> None:
        self.fs.thaw()

    def freezer_state(self) -> str:
        return self.fs.freezer_state()

    def frozen(self) -> bool:
        return self.fs.frozen()

    def pids(self, recursive: bool = True) -> list[int]:
        return self.fs.pids(recursive)

    def kill_all(self, sig: int) -> None:
        self.fs.kill_all(sig)

    def stats(self) -> dict[str, Any]:
        return self.fs.stats()

    def oom_kill_count(self) -> int:
        return self.fs.oom_kill_count()

    def destroy(self) -> None:
        """Stop the unit and wait for it to go, forget its failure, remove what is left."""
        if not self.started:  # never started (a create that failed before the launch)
            self.fs.destroy()
            return
        try:
            bus = self.bus()
            result = bus.stop(self.unit)
            if result not in ("done", "gone"):
                log.warn(f"error removing unit `{self.unit}`: got `{result}`. Continuing...")
            bus.reset_failed(self.unit)
        finally:
            self.close()
        self.fs.destroy()

    def exists(self) -> bool:
        return self.fs.exists()
