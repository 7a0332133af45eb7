"""Container: a loaded container (its id, record and backend) and the lifecycle verbs.

Runs in the parent. Mirrors runc's libcontainer Container: start, kill, delete, pause, resume,
update, processes, stats, oci_state. Status is derived, never stored (runc refreshState).
"""

from __future__ import annotations

from runk import log
from runk.errors import CONTAINER_NOT_RUNNING, NotFoundError, RunkError, StateError
from runk.state import status as st
from runk.state.record import StateRecord
from runk.state.store import CONFIG_FILE, ContainerDir, StateStore, read_state

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from runk.backend.base import Backend, EventSource
    from runk.backend.requests import CheckpointRequest, CreateRequest, ExecRequest, RestoreRequest


_SIGKILL = 9  # signal.SIGKILL, without importing signal on the kill path


def _own_pid_ns(cfg: dict[str, Any]) -> bool:
    """The container has a pid namespace other than the host's (new or joined: runc IsPrivate)."""
    nss = (cfg.get("linux") or {}).get("namespaces") or []
    return any(n.get("type") == "pid" for n in nss)


def _backend(rec: StateRecord) -> Backend:
    from runk.backend import backend_for

    return backend_for(rec.backend or "linux")


class Container:
    __slots__ = ("_config", "cdir", "id", "rec", "store")

    def __init__(self, store: StateStore, cdir: ContainerDir, rec: StateRecord | None) -> None:
        self.store = store
        self.id = cdir.id
        self.cdir = cdir
        self.rec = rec
        self._config: dict[str, Any] | None = None

    # -- reading -------------------------------------------------------------------------------
    def status(self) -> str:
        if self.rec is None:
            return st.STOPPED
        return _backend(self.rec).live_status(self.cdir, self.rec)

    def oci_state(self) -> dict[str, Any]:
        if self.rec is None or not self.rec.pid:
            # a create killed before its first state write, or one that wrote only its claim
            # (what it was about to make, no process yet), or a state torn by a crash of the
            # machine: runc cannot load it either; only delete applies
            raise NotFoundError()
        from runk.oci.state_doc import state_dict

        return state_dict(self.rec, self.status())

    def config(self) -> dict[str, Any]:
        """The config kept at create (runtime.md: later edits of the bundle do not apply),
        read once per command."""
        if self._config is None:
            from runk import _json

            raw = self.cdir.read(CONFIG_FILE)
            doc = _json.loads(raw) if raw else {}
            self._config = doc if isinstance(doc, dict) else {}  # runk wrote it: an object
        return self._config

    def record(self) -> StateRecord:
        """The record, for the verbs that need one: a container without a readable state (a torn
        file beside the kept config) has none, and runc cannot load it either."""
        if self.rec is None:
            raise NotFoundError()
        return self.rec

    # -- verbs ---------------------------------------------------------------------------------
    def start(self) -> None:
        s = self.status()
        st.check_start(s)
        rec = self.record()
        cfg = self.config()
        if not (cfg.get("process") or {}).get("args"):
            # runtime.md start: "This operation MUST generate an error if process was not set."
            # Such a container can never run anything: it is stopped, so delete can follow.
            _backend(rec).destroy(self.cdir, rec, s)
            raise StateError("cannot start a container without a process: config.json has no process.args")
        log.debug(f"start: releasing the init {rec.pid} of {self.id}")
        _backend(rec).start(self.cdir, rec)
        log.debug(f"start: {self.id} started")
        if not _has_hooks(cfg, "poststart"):
            return
        if _spec_minor(cfg) >= 3:
            # runtime-spec 1.3 (runtime.md step 9): a failing poststart hook is an error, and
            # the container is stopped (runc has always done this); 1.0-1.2 said: a warning
            from runk.state.hooks import run_phase, state_for

            try:
                run_phase(cfg, "poststart", state_for(rec, st.RUNNING))
            except RunkError:
                _backend(rec).destroy(self.cdir, rec, st.RUNNING)
                raise
        else:
            _warn_hooks(cfg, "poststart", rec, st.RUNNING)

    def kill(self, sig: int, all_procs: bool = False) -> None:
        s = self.status()
        # runc: SIGKILL to a container in the host's pid namespace reaches every process of its
        # cgroup (no pid 1 takes the others with it), even once its init is gone
        every = sig == _SIGKILL and self.rec is not None and not _own_pid_ns(self.config())
        if s == st.STOPPED and every and not all_procs:
            if not _backend(self.record()).kill_remaining(self.record(), sig):
                raise StateError(CONTAINER_NOT_RUNNING)
            return
        st.check_kill(s, all_procs)
        rec = self.record()
        log.debug(f"kill: signal {sig} to {'every process of' if all_procs else 'the init of'} {self.id} ({s})")
        if s == st.STOPPED:  # with --all only (check_kill): no error, as runc
            _backend(rec).kill_remaining(rec, sig)
            return
        _backend(rec).kill(rec, sig, all_procs or every)

    def delete(self, force: bool = False) -> None:
        s = self.status()
        st.check_delete(self.id, s, force)
        log.debug(f"delete: {self.id} ({s}{', forced' if force else ''})")
        if self.rec is not None:
            _backend(self.rec).destroy(self.cdir, self.rec, s)
        if self.rec is not None and s != st.CREATING and self.rec.pid:
            _warn_hooks(self.config(), "poststop", self.rec, st.STOPPED)
        self.cdir.remove()

    def exec_request(self, opts: dict[str, Any]) -> ExecRequest:
        from runk.backend.requests import ExecRequest

        return ExecRequest.from_flags(self.config().get("process") or {}, opts)

    def exec(self, req: ExecRequest) -> int:
        """Start a process in the container (runc exec); returns its host pid."""
        st.check_exec(self.status(), req.ignore_paused)
        rec = self.record()
        log.debug(f"exec: {list(req.process.get('args') or [])} in {self.id}")
        pid = _backend(rec).exec_process(self.cdir, rec, self.config(), req)
        log.debug(f"exec: process {pid} runs in {self.id}")
        return pid

    def pause(self) -> None:
        st.check_pause(self.status())
        rec = self.record()
        _backend(rec).pause(rec)

    def resume(self) -> None:
        st.check_resume(self.status())
        rec = self.record()
        _backend(rec).resume(rec)

    def update(self, resources: dict[str, Any]) -> None:
        """Set new limits on the running container (runc update) and keep them in the record
        of its config, so later readers see what applies now."""
        s = self.status()
        if s == st.STOPPED:
            raise StateError(CONTAINER_NOT_RUNNING)  # runc: libcontainer ErrNotRunning
        rec = self.record()
        _backend(rec).update(rec, resources)
        from runk import _json

        cfg = self.config()
        linux = cfg.setdefault("linux", {})
        merged = linux.setdefault("resources", {})
        for key, value in resources.items():
            if isinstance(value, dict) and isinstance(merged.get(key), dict):
                merged[key].update(value)
            else:
                merged[key] = value
        self.cdir.write(CONFIG_FILE, _json.dumps(cfg))

    def check_checkpoint(self) -> None:
        """runc: only a running or paused container can be checkpointed (checked before the
        options, as runc does)."""
        s = self.status()
        if s in (st.CREATED, st.STOPPED, st.CREATING):
            raise StateError(f"Container cannot be checkpointed in {s} state")

    def checkpoint(self, req: CheckpointRequest) -> None:
        """Save the container's processes (CRIU). A dump without --leave-running ends them, and
        the container is then deleted as runc does; a failed dump that left them running leaves
        the container as it was."""
        self.check_checkpoint()
        rec = self.record()
        o = req.options
        try:
            _backend(rec).checkpoint(self.cdir, rec, self.config(), req)
        finally:
            if not (o.leave_running or o.pre_dump) and self.status() == st.STOPPED:
                self.delete()

    def processes(self) -> list[int]:
        """The pids in the container's cgroup; for a stopped container, what its init left
        behind (runc Processes(): the cgroup's pids whenever it exists)."""
        if self.status() == st.STOPPED and not (self.rec and self.rec.cgroup_paths):
            return []
        rec = self.record()
        return _backend(rec).processes(rec)

    def stats(self) -> dict[str, Any]:
        rec = self.record()
        return _backend(rec).stats(rec)

    def oom_events(self) -> EventSource:
        """A pollable source of the container's OOM kills (runk events)."""
        rec = self.record()
        return _backend(rec).oom_events(rec)

    def host_pids(self) -> bool:
        """Whether processes() are pids of this host (not of a VM's guest)."""
        return self.rec is None or _backend(self.rec).host_pids

    def close(self) -> None:
        self.cdir.close()


def _spec_minor(cfg: dict[str, Any]) -> int:
    """The runtime-spec minor version the config declares (1.x), for behaviour the spec changed."""
    try:
        return int(str(cfg.get("ociVersion", "1.0.0")).split(".")[1])
    except (IndexError, ValueError):
        return 0


def _has_hooks(cfg: dict[str, Any], phase: str) -> bool:
    """Whether the config has hooks for `phase` (the hook machinery is not imported otherwise)."""
    return bool((cfg.get("hooks") or {}).get(phase))


def _warn_hooks(cfg: dict[str, Any], phase: str, rec: StateRecord, status: str) -> None:
    """poststart/poststop failures are warnings: the container already runs, or is gone."""
    if not _has_hooks(cfg, phase):
        return
    from runk.state.hooks import run_phase_warn, state_for

    run_phase_warn(cfg, phase, state_for(rec, status), log.warn)


def load(root: str, cid: str, lock: bool = False) -> Container:
    store = StateStore(root)
    cdir = store.open(cid, lock=lock)
    doc = read_state(cdir)  # None if missing or torn (a crash of the machine)
    rec = StateRecord.from_dict(doc) if doc is not None else None
    if rec is None and not cdir.exists(CONFIG_FILE):
        cdir.close()
        raise NotFoundError()
    return Container(store, cdir, rec)


def create(root: str, cid: str, req: CreateRequest, loaded: tuple[dict[str, Any], bytes] | None = None) -> Container:
    """Validate the bundle, claim the id, create through the selected backend. A failure leaves
    nothing behind: no state dir, cgroup, mount or process. `loaded` is the bundle's
    (config, raw bytes) when the caller has read it already (run)."""
    from runk.backend import select_backend
    from runk.oci import config, validate

    cfg, raw = loaded if loaded is not None else config.load(req.bundle)
    validate.validate(cfg)
    backend = select_backend(cfg.get("annotations") or {}, req.backend)
    log.debug(f"create: {cid} under {root}, bundle {req.bundle}, {type(backend).__name__}")
    c = _claimed(root, cid, lambda cdir: backend.create(cdir, cfg, raw, req))
    log.debug(f"create: {cid} created, init pid {c.rec.pid if c.rec is not None else None}")
    return c


def _claimed(root: str, cid: str, make: Callable[[ContainerDir], StateRecord]) -> Container:
    """Claim the id and make the container in its directory (create, restore); on any failure
    the directory goes again, unless what is left needs `delete --force` (then it says so)."""
    store = StateStore(root)
    cdir = store.claim(cid)
    try:
        rec = make(cdir)
    except BaseException:
        if cdir.keep:
            log.warn(f"what is left of it is removed by: runk delete --force {cid}")
        else:
            cdir.remove()
        cdir.close()
        raise
    return Container(store, cdir, rec)


def list_all(root: str) -> list[tuple[StateRecord, str]]:
    store = StateStore(root)
    out = []
    for cid in store.ids():
        try:
            c = load(root, cid)
        except (NotFoundError, RunkError, ValueError, OSError):
            continue
        try:
            if c.rec is not None and c.rec.pid:
                out.append((c.rec, c.status()))
        finally:
            c.close()
    return out


def restore(root: str, cid: str, req: RestoreRequest, loaded: tuple[dict[str, Any], bytes] | None = None) -> Container:
    """A new container from the bundle whose processes come from a checkpoint (runc restore):
    validated, claimed and undone on failure exactly as create."""
    from runk.backend import select_backend
    from runk.oci import config, validate

    cfg, raw = loaded if loaded is not None else config.load(req.create.bundle)
    validate.validate(cfg)
    backend = select_backend(cfg.get("annotations") or {}, req.create.backend)
    return _claimed(root, cid, lambda cdir: backend.restore(cdir, cfg, raw, req))
