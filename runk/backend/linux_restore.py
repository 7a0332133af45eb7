"""The linux backend's `restore`: a new container whose processes come from a checkpoint.

Runs in the parent. Like create (runk.backend.linux), in this order: the config and the claim
record (the cgroup paths, before they exist), the cgroup made by the configured driver with the
config's resources (cgroupfs here; a systemd unit through the same CgroupManager calls), the
console socket, then CRIU restores into that group (runk.linux.criu.restore puts CRIU's own
process there first). At CRIU's "setup-namespaces" the prestart and createRuntime hooks run
(runc); at "post-restore" the record gets the restored init's pid and is written, so state, exec,
kill, ps and delete work on it as on a created-and-started container. CRIU (3.14+, on a kernel
with time namespaces) restores the tasks into a time namespace of its own even when the config
has none: the kept config then lists it (runc main does the same), so that exec joins it; a
process left outside it would make the next checkpoint unrestorable ("Can't restore sub-task in
NS"). Any failure undoes
everything (the restored tasks killed, the group removed); the caller removes the directory.
"""

from __future__ import annotations

from runk import _os as os
from runk import log
from runk.errors import RunkError
from runk.state import status as st
from runk.state.record import StateRecord, rfc3339nano
from runk.state.store import CONFIG_FILE, STATE_FILE, ContainerDir, write_atomic

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from runk.backend.requests import CreateRequest, RestoreRequest
    from runk.linux.cgroups.base import CgroupManager
    from runk.state.cleanup import CleanupStack


def _console(terminal: bool, req: RestoreRequest) -> int | None:
    """The socket the new pty master goes to (create's rules and texts)."""
    creq = req.create
    if terminal and creq.detach and not creq.console_socket and creq.console_fd is None:
        raise RunkError("cannot allocate tty if runk will detach without setting console socket")
    if creq.console_socket and not terminal:
        raise RunkError("cannot use console socket if runk will not detach or allocate tty")
    if not terminal:
        return None
    if creq.console_fd is not None:
        return os.dup(creq.console_fd)
    if creq.console_socket:
        from runk.linux.console import connect_console_socket

        return connect_console_socket(creq.console_socket)
    return None


class Kit:
    """The linux backend's own steps restore shares with create (passed in: runk.backend.linux
    imports this module, never the other way round)."""

    __slots__ = ("cgroup_manager", "resources", "undo_launch", "unwind")

    def __init__(
        self,
        cgroup_manager: Callable[[dict[str, Any], str, CreateRequest], CgroupManager],
        resources: Callable[[dict[str, Any]], dict[str, Any]],
        unwind: Callable[[CleanupStack, ContainerDir], None],
        undo_launch: Callable[[StateRecord], None],
    ) -> None:
        self.cgroup_manager, self.resources, self.unwind, self.undo_launch = (
            cgroup_manager,
            resources,
            unwind,
            undo_launch,
        )


class _OnNotify:
    """CRIU's notifications, applied to the record."""

    __slots__ = ("cdir", "cfg", "kit", "rec", "restored", "undo")

    def __init__(self, cdir: ContainerDir, rec: StateRecord, cfg: dict[str, Any], undo: CleanupStack, kit: Kit) -> None:
        self.cdir, self.rec, self.cfg, self.undo, self.kit = cdir, rec, cfg, undo, kit
        self.restored = False

    def setup_namespaces(self, pid: int) -> None:
        if not (self.cfg.get("hooks") or {}):
            return
        from runk.state import hooks

        self.rec.pid = pid
        hooks.run_runtime_phases(self.cfg, hooks.state_for(self.rec, hooks.STATUS["createRuntime"]))

    def post_restore(self, pid: int) -> None:
        from runk.linux import procfs

        _keep_time_namespace(self.cdir, self.cfg, pid)
        self.rec.pid = pid
        self.rec.pid_starttime = procfs.starttime(pid)
        self.rec.status = st.RUNNING
        self.rec.created = rfc3339nano()
        self.cdir.write(STATE_FILE, self.rec.to_json())
        if not self.restored:
            self.undo.push(self.kit.undo_launch, self.rec)
            self.restored = True


def _keep_time_namespace(cdir: ContainerDir, cfg: dict[str, Any], pid: int) -> None:
    """List the time namespace CRIU restored `pid` into in the kept config, when the config has
    none and the restored init is not in runk's own."""
    linux = cfg.get("linux")
    if not isinstance(linux, dict) or any(n.get("type") == "time" for n in linux.get("namespaces") or []):
        return
    try:
        if os.readlink(f"/proc/{pid}/ns/time") == os.readlink("/proc/self/ns/time"):
            return
    except OSError:  # a kernel without time namespaces
        return
    from runk import _json

    linux["namespaces"] = [*(linux.get("namespaces") or []), {"type": "time"}]
    cdir.write(CONFIG_FILE, _json.dumps(cfg))


def restore(
    cdir: ContainerDir, cfg: dict[str, Any], raw: bytes, req: RestoreRequest, name: str, kit: Kit
) -> StateRecord:
    from runk.linux.criu import restore as criu_restore
    from runk.oci.config import rootfs_path
    from runk.state.cleanup import CleanupStack

    creq = req.create
    undo = CleanupStack()
    try:
        cdir.write(CONFIG_FILE, raw)
        mgr = None
        if cfg.get("linux") is not None or creq.systemd_cgroup:
            mgr = kit.cgroup_manager(cfg, cdir.id, creq)
        rec = StateRecord.claim(
            cdir.id,
            name,
            creq.bundle,
            cfg.get("annotations") or {},
            mgr.paths() if mgr is not None else {},
            creq.systemd_cgroup,
            rootfs=rootfs_path(cfg, creq.bundle),
            rootless=creq.rootless,
        )
        cdir.write(STATE_FILE, rec.to_json())
        if mgr is not None:
            mgr.create(kit.resources(cfg))
            undo.push(mgr.destroy)
            for w in mgr.warnings:
                log.warn(w)
        console = _console(bool((cfg.get("process") or {}).get("terminal")), req)
        if console is not None:
            undo.push(_close_quietly, console)
        notes = _OnNotify(cdir, rec, cfg, undo, kit)
        callbacks = criu_restore.Callbacks(notes.setup_namespaces, notes.post_restore)
        assert rec.rootfs is not None  # claimed with it
        pid = criu_restore.restore(
            req.criu, cdir.path, rec.rootfs, creq.bundle, cfg, req.options, mgr, callbacks, console
        )
        if rec.pid != pid:  # CRIU's final answer names the same init as post-restore did
            notes.post_restore(pid)
        if creq.pid_file:
            write_atomic(None, creq.pid_file, str(pid), mode=0o644)
        undo.drop()
        if console is not None:
            _close_quietly(console)
        return rec
    except BaseException:
        kit.unwind(undo, cdir)
        raise


def _close_quietly(fd: int) -> None:
    try:
        os.close(fd)
    except OSError:
        pass
