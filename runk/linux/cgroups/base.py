"""CgroupManager: the one interface of every cgroup driver (runc cgroups.Manager, youki CgroupManager).

Runs in the parent. Hot path (`load_manager` for state, list, kill, delete): imports only os and
fs; no enum/typing/dataclasses/logging/subprocess. Subclasses: V1Manager, V2Manager, HybridManager.

Contract shared by all drivers:
- create(resources): make the groups, set what needs no task; any failure removes what it made;
- entry(): fds a new process joins with by itself; apply(pid, entry): put a task in every
  hierarchy it has not joined that way; set(resources): OCI LinuxResources, also for update;
- freeze/thaw/freezer_state; pids; kill_all; stats (runc `events --stats` data); destroy
  (idempotent); paths() (JSON for the state file; load_manager rebuilds from it);
- warnings: texts to log at warning level, as runc logs them (e.g. kernel memory is ignored).
"""

from __future__ import annotations

from runk import _os as os
from runk.errors import CgroupError
from runk.linux.cgroups import fs

TYPE_CHECKING = False  # no `typing` import at run time (DESIGN 3.11)
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from typing import Any, Protocol, TypeVar

    class Controller(Protocol):
        """A controller class of a v1_<name>.py / v2_<name>.py module (listed in CONTROLLERS)."""

        @property
        def name(self) -> str: ...  # the v1 hierarchy (subsystem key of paths())
        @property
        def resource(self) -> str: ...  # the linux.resources key it sets, for errors
        def needs(self, res: dict[str, Any]) -> bool: ...
        def apply(self, res: dict[str, Any], path: str) -> None: ...

    class V2Controller(Controller, Protocol):
        """A controller the v2 manager uses: `controller` is its name in cgroup.controllers
        ("" when it needs none)."""

        @property
        def controller(self) -> str: ...

    _C = TypeVar("_C", bound=Controller)

# runc 1.1.5 specconv logs exactly this at warning level for memory.kernel / memory.kernelTCP.
KERNEL_MEMORY_WARNING = "Kernel memory settings are ignored and will be removed"
SIGKILL = 9


class Entry:
    """How a new process joins the groups by itself, so that the parent writes no cgroup.procs.

    A cgroup.procs write takes the kernel's cgroup_threadgroup_rwsem for writing, which waits for
    an RCU grace period (5-15 ms here, on every create and exec; runc pays it). Two ways in take
    it only for reading: clone3(CLONE_INTO_CGROUP) into a v2 group (clone_fd, the directory), and
    a single-threaded process writing "0" to its own v1 `tasks` file (tasks: [(fd, path)]).
    launch() forks into clone_fd and sets `cloned`; the bootstrap writes the tasks files first
    thing; apply(pid, entry) then writes only what was not joined this way.
    """

    __slots__ = ("clone_fd", "cloned", "tasks")

    def __init__(self) -> None:
        self.clone_fd = -1
        self.tasks: list[tuple[int, str]] = []
        self.cloned = False

    def close(self) -> None:
        """The parent's copies, after the fork (the child has its own and closes them once
        used); `tasks` still says the child was given them."""
        if self.clone_fd >= 0:
            os.close(self.clone_fd)
            self.clone_fd = -1
        for fd, _p in self.tasks:
            try:
                os.close(fd)
            except OSError:
                pass


def open_entry(entry: Entry, v1_dirs: list[str], v2_dir: str | None) -> Entry:
    """Fill `entry` with what can be opened; anything that cannot is left to apply()."""
    fds: list[tuple[int, str]] = []
    try:
        for d in v1_dirs:
            path = os.path.join(d, "tasks")
            fds.append((os.open(path, os.O_WRONLY | os.O_CLOEXEC), path))
    except OSError:
        for fd, _p in fds:
            os.close(fd)
        fds = []
    entry.tasks = fds
    if v2_dir:
        try:
            entry.clone_fd = os.open(v2_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except OSError:
            entry.clone_fd = -1
    return entry


class CgroupManager:
    """Abstract driver; see the module docstring for the contract."""

    __slots__ = ("warnings",)
    kind = ""

    def __init__(self) -> None:
        self.warnings: list[str] = []

    # -- creation -----------------------------------------------------------------------------
    def create(self, resources: dict[str, Any] | None) -> None:
        """mkdir on every hierarchy, then set `resources`; on any failure remove what was made."""
        made: list[str] = []
        try:
            try:
                self._make(made, resources)
            except CgroupError as e:
                # runc's wording for a group it cannot make (a rootless cgroupsPath it may not write)
                raise CgroupError(
                    f"unable to start container process: unable to apply cgroup configuration: {e}"
                ) from None
            if len(made) < len(set(self.paths().values())):
                self._note_populated()
            if self.frozen():
                # a task put there would stop at once and create wait for ever (a group made
                # frozen beforehand, or inside a frozen parent); a group runk did not make stays
                raise CgroupError("container's cgroup unexpectedly frozen")
            if resources:
                self.set(resources)
        except BaseException:
            for d in reversed(made):
                try:
                    os.rmdir(d)
                except OSError:
                    pass
            raise

    def _note_populated(self) -> None:
        """A group that existed already may hold processes (another container's, with the same
        cgroupsPath): runc 1.1.5 runs the container anyway and warns, in its words."""
        try:
            n = len(self.pids(recursive=True))
        except OSError:
            return  # removed meanwhile (ENOENT, ENODEV): nothing to say
        if n:
            self.warnings.append(f"container's cgroup is not empty: {n} process(es) found")

    def _make(self, made: list[str], resources: dict[str, Any] | None = None) -> None:
        """mkdir the container's group(s), appending each new directory to `made`."""
        raise NotImplementedError

    def entry(self) -> Entry:
        """The fds a new process joins the groups with by itself (see Entry)."""
        raise NotImplementedError

    def apply(self, pid: int, entry: Entry | None = None) -> None:
        """Put `pid` in every group it has not joined by itself through `entry`."""
        raise NotImplementedError

    def sub(self, subs: dict[str, str]) -> CgroupManager:
        """The manager of existing sub-groups for `exec --cgroup`: {"": path} for every
        hierarchy, or {controller: path} (cgroup v1); unnamed controllers stay where they are."""
        raise NotImplementedError

    def set(self, resources: dict[str, Any]) -> None:
        raise NotImplementedError

    # -- freezer ------------------------------------------------------------------------------
    def freeze(self) -> None:
        raise NotImplementedError

    def thaw(self) -> None:
        raise NotImplementedError

    def freezer_state(self) -> str:
        """ "THAWED", "FROZEN", or "" when there is no freezer (or the group is gone)."""
        raise NotImplementedError

    def frozen(self) -> bool:
        """True if a task entering the group now would be frozen: by the group's own freezer or
        by an ancestor's (which freezer_state, as runc's, reports as THAWED)."""
        return self.freezer_state() == "FROZEN"

    # -- processes ----------------------------------------------------------------------------
    def pids(self, recursive: bool = True) -> list[int]:
        raise NotImplementedError

    def kill_all(self, sig: int) -> None:
        raise NotImplementedError

    def _signal_frozen(self, sig: int) -> None:
        """runc signalAllProcesses: freeze, signal every task, thaw; no task can fork meanwhile."""
        frozen = True
        try:
            self.freeze()
        except CgroupError:
            frozen = False  # runc only warns: signal what we can
        try:
            for pid in self.pids(True):
                try:
                    os.kill(pid, sig)
                except ProcessLookupError:
                    pass
        finally:
            if frozen or self.freezer_state() == "FROZEN":
                self.thaw()

    # -- accounting ---------------------------------------------------------------------------
    def stats(self) -> dict[str, Any]:
        raise NotImplementedError

    def oom_kill_count(self) -> int:
        raise NotImplementedError

    # -- lifetime -----------------------------------------------------------------------------
    def destroy(self) -> None:
        raise NotImplementedError

    def paths(self) -> dict[str, str]:
        raise NotImplementedError

    def exists(self) -> bool:
        raise NotImplementedError

    # -- helpers for subclasses ---------------------------------------------------------------
    def _note_kernel_memory(self, resources: dict[str, Any]) -> None:
        m = resources.get("memory") or {}
        if (
            m.get("kernel") is not None or m.get("kernelTCP") is not None
        ) and KERNEL_MEMORY_WARNING not in self.warnings:
            self.warnings.append(KERNEL_MEMORY_WARNING)


def run_controllers(
    controllers: Sequence[_C], resources: dict[str, Any], path_for: Callable[[_C], str | None], where: str
) -> None:
    """Apply each controller that `needs` the resources at the directory path_for(controller)."""
    for ctl in controllers:
        if not ctl.needs(resources):
            continue
        path = path_for(ctl)
        if path is None:
            raise CgroupError(
                f"cannot set linux.resources.{ctl.resource}: the {ctl.name} cgroup "
                f"controller is not {where} on this host"
            )
        ctl.apply(resources, path)


def sub_path(base: str, sub: str) -> str:
    """base/sub, never outside base: runc main's "bad sub cgroup path: SUB", then 1.1.5's words
    (runc's suites grep one or the other)."""
    path = os.path.normpath(os.path.join(base, sub.lstrip("/")))
    if path != base and not path.startswith(base.rstrip("/") + "/"):
        raise CgroupError(f"bad sub cgroup path: {sub} is not a sub cgroup path")
    return path


def read_pids(path: str | None, recursive: bool) -> list[int]:
    if not path:
        return []
    return fs.all_pids(path) if recursive else fs.read_procs(path)


def load_controllers(table: tuple[tuple[str, str, str], ...], resources: dict[str, Any] | None) -> list[Any]:
    """Instances of the controllers in `table` ((module, class, OCI key), in runc's Set order)
    whose linux.resources key is present: a module is imported only when its key is there
    (create and update pay for what they set, not for every controller). The classes come
    from getattr: the caller types the list (Controller, V2Controller)."""
    import sys

    out: list[Any] = []
    for module, cls, key in table:
        if resources is None or resources.get(key):
            name = "runk.linux.cgroups." + module
            __import__(name)  # not importlib: importing it costs more than this
            out.append(getattr(sys.modules[name], cls)())
    return out
