"""LinuxBackend: a container made of host namespaces, cgroups and a forked init.

Runs in the parent. create() follows DESIGN 3.4 (parent steps): validate, claim the state dir,
the claim record (the cgroup paths, before they exist), cgroup, exec fifo, sealed trampoline,
console socket, launch, state + pid file; every resource is on a CleanupStack until create
returns, and on disk (state.json) from before it is made until delete removes it.
"""

from __future__ import annotations

import errno

from runk import _os as os
from runk import log
from runk.errors import CgroupError, InitError, RunkError, StateError
from runk.state import status as st
from runk.state.record import StateRecord
from runk.state.store import CONFIG_FILE, FIFO_FILE, STATE_FILE, ContainerDir, write_atomic

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from runk.backend.base import EventSource
    from runk.backend.requests import CheckpointRequest, CreateRequest, ExecRequest, RestoreRequest
    from runk.linux.cgroups.base import CgroupManager, Entry
    from runk.state.cleanup import CleanupStack


def _cgroup_manager(cfg: dict[str, Any], cid: str, req: CreateRequest) -> CgroupManager:
    """The configured driver; the systemd one on the user's instance when the cgroup manager is
    the rootless one (req.rootless, runc's rule)."""
    from runk.linux.cgroups import make_manager

    path = (cfg.get("linux") or {}).get("cgroupsPath") or None
    mgr = make_manager(path, cid, systemd=req.systemd_cgroup, user=req.rootless)
    if req.systemd_cgroup:
        from runk.linux.cgroups.systemd_annotations import unit_properties
        from runk.linux.cgroups.systemd_manager import SystemdManager

        assert isinstance(mgr, SystemdManager)
        mgr.extra = unit_properties(cfg.get("annotations"))
        from runk.linux.cgroups.delegate import owner_uid

        mgr.owner = owner_uid(cfg)
    return mgr


NOTIFY_IN_CONTAINER = "/run/notify/notify.sock"
SIGKILL = 9  # signal.SIGKILL (`signal` imports enum)
STOP_AFTER = "RUNK_TEST_STOP_AFTER"  # runk.state.faults.STOP_AFTER (a unit test holds them equal)


def _with_host_plumbing(cfg: dict[str, Any], req: CreateRequest) -> dict[str, Any]:
    """What runk's own environment adds to the container (runc utils_linux.go, notify_socket.go):
    LISTEN_FDS/LISTEN_PID=1 for socket activation, and NOTIFY_SOCKET: the host's socket is bound
    into the container (as crun does) so sd_notify from inside reaches it."""
    notify = os.environ.get("NOTIFY_SOCKET", "")
    if not req.listen_fds and not notify.startswith("/"):
        return cfg
    from runk import _json

    cfg = _json.copy(cfg)
    proc = cfg.setdefault("process", {})
    env = proc.setdefault("env", [])
    if req.listen_fds:
        env += [f"LISTEN_FDS={req.listen_fds}", "LISTEN_PID=1"]
    if notify.startswith("/") and os.path.exists(notify):
        cfg.setdefault("mounts", []).append(
            {
                "destination": NOTIFY_IN_CONTAINER,
                "type": "bind",
                "source": notify,
                "options": ["bind", "nosuid", "noexec", "nodev"],
            }
        )
        env.append("NOTIFY_SOCKET=" + NOTIFY_IN_CONTAINER)
    return cfg


def _resources(cfg: dict[str, Any]) -> dict[str, Any]:
    """linux.resources with the device rules runc applies: the config's, then the default
    allow-list and linux.devices (runc specconv AllowedDevices)."""
    from runk.linux.cgroups import container_rules

    linux = cfg.get("linux") or {}
    res = dict(linux.get("resources") or {})
    res["devices"] = container_rules(res.get("devices"), linux.get("devices"))
    return res


def _adding_pid_error(pid: int, e: CgroupError) -> CgroupError:
    """exec's process could not join a cgroup (exec --cgroup names one that is not there): runc's
    "error adding pid N to cgroups: failed to write N: open FILE: REASON"."""
    file, num = getattr(e, "file", None), getattr(e, "errno", 0)
    if not file or not num:
        return e
    op = "open" if num in (errno.ENOENT, errno.ENOTDIR, errno.EACCES) else "write"
    return CgroupError(
        f"error adding pid {pid} to cgroups: failed to write {pid}: {op} {file}: {os.strerror(num).lower()}"
    )


def _rootless_cgroups(
    mgr: CgroupManager, cfg: dict[str, Any], resources: dict[str, Any]
) -> tuple[CgroupManager | None, CgroupManager | None, dict[str, Any]]:
    """(the manager of the groups a rootless runk may use or None, a manager naming the groups
    the container is in for its cgroup mounts, the resources it applies): runc's rootless rule
    (runk.linux.cgroups.rootless)."""
    from runk.linux.cgroups import load_manager
    from runk.linux.cgroups import rootless as rl

    explicit = bool((cfg.get("linux") or {}).get("cgroupsPath"))
    narrowed, view = rl.narrow(mgr, resources, explicit)
    return narrowed, (load_manager(view) if view else None), rl.without_devices(resources)


class _ExecSteps:
    """launch()'s callbacks for exec: only the cgroups (and the base of create's _Steps)."""

    __slots__ = ("entry", "explicit", "mgr", "rec")

    def __init__(self, mgr: CgroupManager | None, rec: StateRecord, explicit: bool = False) -> None:
        self.mgr = mgr
        self.rec = rec
        self.entry: Entry | None = None
        self.explicit = explicit  # exec --cgroup named the group: no fallback to the init's (runc)

    def cgroup_entry(self) -> Entry | None:
        self.entry = self.mgr.entry() if self.mgr is not None else None
        return self.entry

    def cgroup_apply(self, pid: int) -> None:
        if self.mgr is None:
            return
        try:
            self.mgr.apply(pid, self.entry)
        except CgroupError as e:
            num = getattr(e, "errno", 0)
            if not self.explicit and num in (errno.EBUSY, errno.ENOENT) and self._join_inits_group(pid, num):
                return
            if self.rec.rootless and getattr(e, "errno", 0) in (errno.EACCES, errno.EPERM, errno.EROFS):
                # runc's rootless rule: a caller outside the user's delegated subtree (a login
                # session's scope) may not move a process into it; the process stays where it is
                log.debug(f"exec: not joining the container's cgroup (rootless): {e}")
                return
            raise _adding_pid_error(pid, e) from None

    def _join_inits_group(self, pid: int, num: int) -> bool:
        """cgroup v2, runc's fallback: the container moved its init into a sub-group and enabled a
        domain controller in its root group, which then takes no process (EBUSY); the exec joins
        the init's group instead, if that lies inside the container's. When the container's group
        is gone (ENOENT: its init moved itself out, with the cgroup mount writable and no cgroup
        namespace, and the group was removed), the exec joins the init's group wherever it is
        (runc main, its issue 5089)."""
        paths = self.mgr.paths() if self.mgr is not None else {}
        if self.mgr is None or list(paths) != [""] or not self.rec.pid:
            return False
        try:
            with open(f"/proc/{self.rec.pid}/cgroup") as f:
                line = next((x for x in f.read().splitlines() if x.startswith("0::")), "")
        except OSError:
            return False
        base = paths[""]
        mount = getattr(self.mgr, "mountpoint", None) or "/sys/fs/cgroup"
        if not base.startswith(mount.rstrip("/") + "/"):
            return False
        own = base[len(mount.rstrip("/")) :]
        init_cg = line[3:]
        try:
            if num == errno.ENOENT:
                if not init_cg.startswith("/") or os.path.isdir(base):
                    return False
                from runk.linux.cgroups import load_manager

                load_manager({"": mount.rstrip("/") + os.path.normpath(init_cg)}).apply(pid, None)
            elif init_cg.startswith(own.rstrip("/") + "/"):
                self.mgr.sub({"": init_cg[len(own) :]}).apply(pid, None)  # sub() keeps it inside
            else:
                return False
        except CgroupError:
            return False
        log.debug(f"exec: the container's cgroup takes no process; joined its init's {init_cg}")
        return True

    def on_pid(self, pid: int) -> None:
        pass

    def runtime_hooks(self, pid: int) -> None:
        pass

    def on_ready(self, pid: int) -> None:
        pass

    def seccomp_state(self, pid: int) -> dict[str, Any]:
        """The container's state for the seccomp agent: running, with the init's pid (runc)."""
        from runk.linux.hookexec import state_dict

        rec = self.rec
        return state_dict(rec.id, st.RUNNING, rec.pid or 0, rec.bundle or "", rec.annotations)


class _Steps(_ExecSteps):
    """The callbacks launch() makes while the init sets up."""

    __slots__ = ("cdir", "cfg", "devices", "late", "net_devices")

    def __init__(
        self,
        cdir: ContainerDir,
        rec: StateRecord,
        cfg: dict[str, Any],
        mgr: CgroupManager | None,
        net_devices: dict[str, Any],
        devices: dict[str, Any] | None = None,
        late: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(mgr, rec)
        self.cdir, self.cfg = cdir, cfg
        self.net_devices = net_devices
        self.devices = devices or {}
        self.late = late or {}  # resources set once the init is in its cgroups (the pids limit)

    def cgroup_apply(self, pid: int) -> None:
        if self.mgr is not None:
            self.mgr.apply(pid, self.entry)
            if self.late:
                self.mgr.set(self.late)

    def on_ready(self, pid: int) -> None:
        """The init has made its mounts and waits for `start`: the device rules apply now."""
        if self.mgr is not None and self.devices.get("devices") is not None:
            self.mgr.set(self.devices)

    def on_pid(self, pid: int) -> None:
        from runk.linux import procfs

        point = fault_points()
        point("forked", self.cdir.root)  # the init waits for cgroup_done; no pid on disk yet
        self.rec.pid = pid
        self.rec.pid_starttime = procfs.starttime(pid)
        # written now so that a crash from here on can still be cleaned up by delete (runc)
        self.cdir.write(STATE_FILE, self.rec.to_json())
        point("pid", self.cdir.root)
        if self.net_devices:
            from runk.linux.netdev import move_devices

            move_devices(pid, self.net_devices)

    def runtime_hooks(self, pid: int) -> None:
        from runk.state import hooks

        hooks.run_runtime_phases(self.cfg, hooks.state_for(self.rec, hooks.STATUS["createRuntime"]))

    def seccomp_state(self, pid: int) -> dict[str, Any]:
        """The init's filter is loaded while create runs: status creating (runc)."""
        from runk.linux.hookexec import state_dict

        rec = self.rec
        return state_dict(rec.id, st.CREATING, pid, rec.bundle or "", rec.annotations)


def _no_fault(name: str, root: str) -> None:
    pass


def fault_points() -> Callable[[str, str], None]:
    """runk.state.faults.point when the test suite asks for a fault (its variable is set), else
    a no-op: a user's create does not load the test-only module."""
    if not os.environ.get(STOP_AFTER):
        return _no_fault
    from runk.state.faults import point

    return point


def _pidfd_socket(path: str | None) -> int:
    """The connected --pidfd-socket (the caller closes it), or -1 without one."""
    if not path:
        return -1
    from runk.linux import pidfd_socket

    return pidfd_socket.connect(path)


def freezer_state(rec: StateRecord) -> str:
    from runk.linux.cgroups import freezer_state as read_freezer

    return read_freezer(rec.cgroup_paths or {})


def signal_init(rec: StateRecord, sig: int) -> None:
    """pidfd_open, check the start time, pidfd_send_signal: no pid-reuse race (DESIGN 3.5)."""
    import _signal

    from runk.errors import CONTAINER_NOT_RUNNING
    from runk.linux import procfs

    pidfd = procfs.open_pidfd(rec.pid or 0)
    if pidfd is None:
        raise StateError(CONTAINER_NOT_RUNNING)
    try:
        if not procfs.is_alive(rec.pid or 0, rec.pid_starttime):
            raise StateError(CONTAINER_NOT_RUNNING)
        _signal.pidfd_send_signal(pidfd, sig)
    except ProcessLookupError:
        raise StateError(CONTAINER_NOT_RUNNING) from None
    finally:
        os.close(pidfd)


def _stop(rec: StateRecord, status: str) -> None:
    """Kill what runs of the container; a stopped one's leftovers in its cgroup too."""
    if status == st.STOPPED:
        # runc destroy(): without a pid namespace of its own the init's children outlive it in
        # the cgroup, which cannot be removed while they run: kill them
        if rec.cgroup_paths:
            from runk.linux.cgroups import kill_leftovers

            kill_leftovers(rec.cgroup_paths, SIGKILL)
        return
    if rec.cgroup_paths:
        from runk.linux.cgroups import load_manager

        mgr = load_manager(rec.cgroup_paths or {})
        if status == st.PAUSED:
            mgr.thaw()
        try:
            mgr.kill_all(SIGKILL)
        except (OSError, RunkError):
            pass
    if rec.pid:
        try:
            signal_init(rec, SIGKILL)
        except RunkError:
            pass
        from runk.linux.procfs import wait_gone

        wait_gone(rec.pid, rec.pid_starttime, 10000)


def _unwind(undo: CleanupStack, cdir: ContainerDir) -> None:
    """Undo a failed create. What cannot be undone (a cgroup that stays busy) is said, and the
    state record that names it is kept for `delete --force`."""
    from runk.errors import describe

    errors = undo.unwind()
    for e in errors:
        log.warn(f"cleaning up the failed create: {describe(e)}")
    if errors:
        cdir.keep = True


def _undo_launch(rec: StateRecord) -> None:
    """Stop the init of a create that failed after the launch (it waits in the trampoline) and
    everything in its cgroups, then reap it: runk is its subreaper, and a zombie would keep it in
    its cgroups."""
    _stop(rec, st.CREATED)
    if rec.pid:
        try:
            os.waitpid(rec.pid, os.WNOHANG)
        except ChildProcessError:
            pass


def _read_gate(fifo: int, pidfd: int) -> bytes:
    """What the init writes into the exec fifo until its write end closes (the trampoline's
    final execve, or the init's exit): b"0", or b"!" and the failure of a startContainer hook.
    StateError if the init is gone having written nothing."""
    import select

    poller = select.poll()
    poller.register(fifo, select.POLLIN)
    poller.register(pidfd, select.POLLIN)
    got = b""
    while True:
        events = dict(poller.poll())
        ev = events.get(fifo, 0)
        if ev & select.POLLIN:
            try:
                data = os.read(fifo, 65536)
            except BlockingIOError:
                data = None
            if data:
                got += data
                continue
            if data == b"" and got:
                return got  # EOF: the trampoline's write end closed at its final execve
        if ev & select.POLLHUP and got:
            return got
        if pidfd in events:
            if got:
                return got + _rest(fifo)  # it exec'd and already exited, or died exec'ing
            raise StateError("cannot start a container that has stopped")


def _rest(fifo: int) -> bytes:
    data = b""
    while True:
        try:
            chunk = os.read(fifo, 65536)
        except BlockingIOError:
            return data
        if not chunk:
            return data
        data += chunk


class LinuxBackend:
    """A container of host namespaces, cgroups and a forked init (runk.backend.base.Backend)."""

    name = "linux"
    host_pids = True

    def create(self, cdir: ContainerDir, cfg: dict[str, Any], raw: bytes, req: CreateRequest) -> StateRecord:
        """Create the container in the claimed, locked cdir. On failure nothing is left but cdir,
        which the caller removes."""
        from runk.linux import exe_guard, launch
        from runk.linux.fds import LaunchFds
        from runk.oci import plan as oci_plan
        from runk.state.cleanup import CleanupStack

        undo = CleanupStack()
        fds = LaunchFds()  # what the parent holds only until the init is ready
        stop_after = fault_points()
        try:
            undo.push(fds.close)
            cdir.write(CONFIG_FILE, raw)
            stop_after("config", cdir.root)
            mgr = None
            resources = _resources(cfg)
            cgroup_view = None  # the groups a cgroup mount shows, when not all of mgr's
            if cfg.get("linux") is not None or req.systemd_cgroup:
                mgr = _cgroup_manager(cfg, cdir.id, req)
                if req.rootless and not req.systemd_cgroup:
                    mgr, cgroup_view, resources = _rootless_cgroups(mgr, cfg, resources)
                elif req.rootless:
                    # a scope of the user's instance: no device rules (a user may not load a
                    # device program; runc ignores the error)
                    from runk.linux.cgroups.rootless import without_devices

                    resources = without_devices(resources)
            # the claim: what create is about to make outside the state directory, on disk before
            # it is made, so that `delete --force` can remove it whenever runk dies from here on
            rec = StateRecord.claim(
                cdir.id,
                self.name,
                req.bundle,
                cfg.get("annotations") or {},
                mgr.paths() if mgr is not None else {},
                req.systemd_cgroup,
                rootless=req.rootless,
            )
            cdir.write(STATE_FILE, rec.to_json())
            stop_after("claim", cdir.root)
            devices: dict[str, Any] = {}
            late: dict[str, Any] = {}
            if mgr is not None:
                res = dict(resources)
                # the device rules apply once the init has made its mounts (runc's Set at
                # procReady): a file system on a block device of the config mounts then. The
                # systemd driver starts its unit with every resource once the init's pid is
                # known, as runc's does (a later SetUnitProperties would have systemd rewrite
                # the files from its rounded properties)
                split = mgr.kind != "systemd"
                if split and res.get("devices") is not None:
                    devices["devices"] = res.pop("devices")
                if split and (res.get("pids") or {}).get("limit") is not None:
                    # set once the init is forked (runc sets every limit then): a limit of 1
                    # (0 in the config) would forbid the bootstrap's fork of the init
                    late = {"pids": res.pop("pids")}
                mgr.create(res)
                undo.push(mgr.destroy)
                stop_after("cgroup", cdir.root)
                for w in mgr.warnings:
                    log.warn(w)
            cgroup_mounts = None
            if cgroup_view is None:
                cgroup_view = mgr
            if cgroup_view is not None and any(m.get("type") == "cgroup" for m in cfg.get("mounts") or []):
                from runk.linux.cgroups.mounts import container_spec

                new_cgns = any(
                    n.get("type") == "cgroup" and not n.get("path")
                    for n in (cfg.get("linux") or {}).get("namespaces") or []
                )
                cgroup_mounts = container_spec(cgroup_view, new_cgns)
            cfg = _with_host_plumbing(cfg, req)
            plan, warnings = oci_plan.build(
                cfg,
                req.bundle,
                cdir.id,
                no_pivot=req.no_pivot,
                no_new_keyring=req.no_new_keyring,
                preserve_fds=req.preserve_fds,
                cgroup_mounts=cgroup_mounts,
                seccomp_cache=cdir.cache_dir("seccomp"),
                tty_relayed=req.console_fd is not None if req.tty_relayed is None else req.tty_relayed,
            )
            assert plan.mounts is not None  # an init's plan has mounts
            fds.open_namespaces(plan.namespaces)
            fds.open_bind_sources(plan.mounts)
            for w in warnings:
                log.warn(w)
            terminal = plan.process.terminal
            if terminal and not req.console_socket and req.console_fd is None:
                raise RunkError("cannot allocate tty if runk will detach without setting console socket")
            if req.console_socket and not terminal:
                raise RunkError("cannot use console socket if runk will not detach or allocate tty")
            if terminal and req.console_fd is not None:
                fds.console = os.dup(req.console_fd)
            elif terminal:
                from runk.linux.console import connect_console_socket

                assert req.console_socket is not None  # refused above without one
                fds.console = connect_console_socket(req.console_socket)
            os.mkfifo(FIFO_FILE, 0o622, dir_fd=cdir.fd)
            os.chmod(FIFO_FILE, 0o622, dir_fd=cdir.fd)
            fds.fifo = os.open(FIFO_FILE, os.O_PATH | os.O_CLOEXEC, dir_fd=cdir.fd)
            fds.trampoline = exe_guard.sealed_trampoline()
            if plan.security.seccomp is not None:
                from runk.linux import seccomp  # noqa: F401  (imported before fork: the init loads it)

                log.debug(f"seccomp filter flags: {plan.security.seccomp.flags}")

            rec.rootfs = plan.mounts.rootfs
            pidfd_sock = _pidfd_socket(req.pidfd_socket)
            steps = _Steps(cdir, rec, cfg, mgr, plan.net_devices, devices, late)
            try:
                try:
                    pid = launch.launch(plan, fds, steps, [cdir.fd], req.stdio)
                except InitError as e:
                    raise RunkError(f"unable to start container process: {e}") from None
                # from here on a failure (a full disk for the state or pid file) must stop the
                # init waiting in the trampoline before its cgroups can go: before mgr.destroy
                undo.push(_undo_launch, rec)
                if pidfd_sock >= 0:
                    from runk.linux import pidfd_socket

                    pidfd_socket.send(pidfd_sock, pid, "standard")
            finally:
                if pidfd_sock >= 0:
                    os.close(pidfd_sock)
            stop_after("launch", cdir.root)
            fds.close()
            rec.status = st.CREATED
            cdir.write(STATE_FILE, rec.to_json())
            stop_after("state", cdir.root)
            if req.pid_file:
                write_atomic(None, req.pid_file, str(pid), mode=0o644)
            undo.drop()
            return rec
        except BaseException:
            _unwind(undo, cdir)
            raise

    def live_status(self, cdir: ContainerDir | None, rec: StateRecord) -> str:
        """runc refreshState: paused if frozen; stopped if the init is gone, a zombie, or another
        process with its pid; created if the exec fifo exists; running otherwise."""
        from runk.linux import procfs

        if rec.status == st.CREATING and cdir is not None and cdir.is_locked_elsewhere():
            return st.CREATING
        if not procfs.is_alive(rec.pid or 0, rec.pid_starttime):
            return st.STOPPED
        if rec.cgroup_paths and freezer_state(rec) == "FROZEN":
            return st.PAUSED
        if cdir is not None and cdir.exists(FIFO_FILE):
            return st.CREATED
        if rec.status == st.CREATING:
            return st.STOPPED  # its create died half-way: only delete can follow
        return st.RUNNING

    def start(self, cdir: ContainerDir, rec: StateRecord) -> None:
        """Release the init waiting in the trampoline: open the fifo's read end, read its byte,
        remove the fifo (runc handleFifo). Returns at once; nothing is rewritten: running is
        "alive and no fifo"."""
        from runk.linux import procfs

        # the pidfd first: once the fifo is open, the program may run, exit and be reaped by its
        # subreaper (conmon) before a pidfd could still be taken
        pidfd = procfs.open_pidfd(rec.pid or 0)
        if pidfd is None:
            raise StateError("cannot start a container that has stopped")
        if not procfs.is_alive(rec.pid or 0, rec.pid_starttime):
            os.close(pidfd)
            raise StateError("cannot start a container that has stopped")
        try:
            fifo = os.open(FIFO_FILE, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=cdir.fd)
        except FileNotFoundError:
            os.close(pidfd)
            raise StateError("cannot start an already running container") from None
        try:
            got = _read_gate(fifo, pidfd)
        finally:
            os.close(fifo)
            os.close(pidfd)
        if got.startswith(b"!"):  # a startContainer hook failed (runk.linux.process)
            os.unlink(FIFO_FILE, dir_fd=cdir.fd)
            raise RunkError(got[1:].decode(errors="replace"))
        os.unlink(FIFO_FILE, dir_fd=cdir.fd)

    def kill(self, rec: StateRecord, sig: int, all_procs: bool) -> None:
        if all_procs and rec.cgroup_paths:
            from runk.linux.cgroups import load_manager

            load_manager(rec.cgroup_paths or {}).kill_all(sig)
            return
        signal_init(rec, sig)
        if sig == SIGKILL and rec.cgroup_paths and freezer_state(rec) == "FROZEN":
            # runc Signal: a frozen task cannot act on SIGKILL until thawed (podman kill of a
            # paused container), so thaw for SIGKILL only
            from runk.linux.cgroups import load_manager

            load_manager(rec.cgroup_paths or {}).thaw()

    def kill_remaining(self, rec: StateRecord, sig: int) -> bool:
        """What a stopped container's cgroup still holds (processes of a host-pid-namespace
        container outlive its init): signalled, when the cgroup still exists."""
        if rec.cgroup_paths:
            from runk.linux.cgroups import load_manager

            manager = load_manager(rec.cgroup_paths)
            if manager.exists():
                manager.kill_all(sig)
                return True
        return False

    def destroy(self, cdir: ContainerDir, rec: StateRecord, status: str) -> None:
        """Stop whatever still runs (delete of created, or --force), then remove the container's
        cgroups; the caller removes the state directory."""
        _stop(rec, status)
        if rec.cgroup_paths and rec.systemd:
            from runk.linux.cgroups import systemd

            systemd.load_manager(rec.cgroup_paths, user=rec.rootless).destroy()
        elif rec.cgroup_paths:
            from runk.linux.cgroups.saved import remove_groups

            remove_groups(rec.cgroup_paths)

    def pause(self, rec: StateRecord) -> None:
        from runk.linux.cgroups import load_manager

        load_manager(rec.cgroup_paths or {}).freeze()

    def resume(self, rec: StateRecord) -> None:
        from runk.linux.cgroups import load_manager

        load_manager(rec.cgroup_paths or {}).thaw()

    def exec_process(self, cdir: ContainerDir, rec: StateRecord, cfg: dict[str, Any], req: ExecRequest) -> int:
        """Start req.process inside the container; returns its host pid once it is about to exec."""
        from runk.linux import exe_guard, launch, procfs
        from runk.linux.fds import LaunchFds
        from runk.oci import plan as oci_plan
        from runk.state.cleanup import CleanupStack

        undo = CleanupStack()
        fds = LaunchFds()
        undo.push(fds.close)
        try:
            plan, warnings = oci_plan.build_exec(
                cfg,
                rec,
                req.process,
                req.preserve_fds,
                seccomp_cache=cdir.cache_dir("seccomp"),
                tty_relayed=req.console_fd is not None,
            )
            fds.open_namespaces(plan.namespaces)
            # the namespace files were opened through the pid: make sure it is still the container
            if not procfs.is_alive(rec.pid or 0, rec.pid_starttime):
                raise StateError("cannot exec in a stopped container")
            for w in warnings:
                log.warn(w)
            if plan.process.terminal:
                if req.console_fd is not None:
                    fds.console = os.dup(req.console_fd)
                else:
                    from runk.linux.console import connect_console_socket

                    assert req.console_socket is not None  # ExecRequest and the caller ensure it
                    fds.console = connect_console_socket(req.console_socket)
            fds.trampoline = exe_guard.sealed_trampoline()
            mgr = None
            if rec.cgroup_paths:
                from runk.linux.cgroups import load_manager

                mgr = load_manager(rec.cgroup_paths or {})
                if req.cgroup:
                    mgr = mgr.sub(req.cgroup)
            if plan.security.seccomp is not None:
                from runk.linux import seccomp  # noqa: F401  (before fork)

                log.debug(f"seccomp filter flags: {plan.security.seccomp.flags}")
            pidfd_sock = _pidfd_socket(req.pidfd_socket)
            try:
                try:
                    pid = launch.launch(plan, fds, _ExecSteps(mgr, rec, bool(req.cgroup)), [cdir.fd], req.stdio)
                except InitError as e:
                    raise RunkError(f"unable to start container process: {e}") from None
                if pidfd_sock >= 0:
                    from runk.linux import pidfd_socket

                    try:
                        pidfd_socket.send(pidfd_sock, pid, "setns")
                    except RunkError:
                        os.kill(pid, SIGKILL)  # runc's setns init fails before exec: it never runs
                        raise
            finally:
                if pidfd_sock >= 0:
                    os.close(pidfd_sock)
            fds.close()
            if req.pid_file:
                write_atomic(None, req.pid_file, str(pid), mode=0o644)
            return pid
        finally:
            undo.unwind()

    def update(self, rec: StateRecord, resources: dict[str, Any]) -> None:
        if not rec.cgroup_paths:
            from runk.errors import CgroupError

            # a rootless container that could not have a cgroup of its own
            raise CgroupError("cannot update the container's limits: it has no cgroup of its own (rootless)")
        from runk.linux.cgroups import load_manager

        mgr: CgroupManager
        if rec.systemd:
            from runk.linux.cgroups import systemd

            mgr = systemd.load_manager(rec.cgroup_paths or {}, user=rec.rootless)
        else:
            mgr = load_manager(rec.cgroup_paths or {})
        try:
            mgr.set(resources)
        finally:  # also when a write then fails (runc logs them as they come)
            for w in mgr.warnings:
                log.warn(w)

    def processes(self, rec: StateRecord) -> list[int]:
        if not rec.cgroup_paths:
            # a rootless container without a cgroup of its own: the processes of its pid
            # namespace (runc fails here: "unable to get all container pids")
            from runk.linux import procfs

            if not procfs.is_alive(rec.pid or 0, rec.pid_starttime):
                return []
            return procfs.same_pid_namespace(rec.pid or 0)
        from runk.linux.cgroups import load_manager

        return sorted(load_manager(rec.cgroup_paths or {}).pids(recursive=True))

    def stats(self, rec: StateRecord) -> dict[str, Any]:
        from runk.linux.cgroups import load_manager

        return load_manager(rec.cgroup_paths or {}).stats()

    def oom_events(self, rec: StateRecord) -> EventSource:
        from runk.linux.cgroups.oom_events import OomWatcher

        return OomWatcher(rec.cgroup_paths or {})

    def features_document(self) -> dict[str, Any]:
        from runk.oci.features import features_document

        return features_document()

    def checkpoint(self, cdir: ContainerDir, rec: StateRecord, cfg: dict[str, Any], req: CheckpointRequest) -> None:
        from runk.backend.linux_checkpoint import checkpoint

        checkpoint(rec, cfg, req)

    def restore(self, cdir: ContainerDir, cfg: dict[str, Any], raw: bytes, req: RestoreRequest) -> StateRecord:
        from runk.backend.linux_restore import Kit, restore

        return restore(cdir, cfg, raw, req, self.name, Kit(_cgroup_manager, _resources, _unwind, _undo_launch))
