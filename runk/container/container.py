"""Container: a loaded container (its id, record and backend) and the lifecycle verbs.

Runs in the parent. Mirrors runc's libcontainer Container: start, kill, delete, pause, resume,
update, processes, stats, oci_state. Status is derived, never stored (runc refreshState).
"""
from __future__ import annotations

from runk import log
from runk.container import status as st
from runk.container.record import StateRecord
from runk.container.store import CONFIG_FILE, STATE_FILE, ContainerDir, StateStore
from runk.errors import NotFoundError, RunkError


def _backend(rec: StateRecord) -> object:
    from runk.backend import backend_for
    return backend_for(rec.backend or "linux")


class Container:
    __slots__ = ("store", "id", "cdir", "rec")

    def __init__(self, store: StateStore, cdir: ContainerDir, rec: StateRecord | None) -> None:
        self.store = store
        self.id = cdir.id
        self.cdir = cdir
        self.rec = rec

    # -- reading -------------------------------------------------------------------------------
    def status(self) -> str:
        if self.rec is None:
            return st.STOPPED
        return _backend(self.rec).live_status(self.cdir, self.rec)

    def oci_state(self) -> dict:
        from runk.oci.state_doc import state_dict
        return state_dict(self.rec, self.status())

    def config(self) -> dict:
        from runk import _json
        raw = self.cdir.read(CONFIG_FILE)
        return _json.loads(raw) if raw else {}

    # -- verbs ---------------------------------------------------------------------------------
    def start(self) -> None:
        s = self.status()
        st.check_start(s)
        _backend(self.rec).start(self.cdir, self.rec)
        _warn_hooks(self.config(), "poststart", self.rec, st.RUNNING)

    def kill(self, sig: int, all_procs: bool = False) -> None:
        s = self.status()
        st.check_kill(s, all_procs)
        _backend(self.rec).kill(self.rec, sig, all_procs and s != st.STOPPED)

    def delete(self, force: bool = False) -> None:
        s = self.status()
        st.check_delete(self.id, s, force)
        if self.rec is not None:
            _backend(self.rec).destroy(self.cdir, self.rec, s)
        cfg = self.config()
        if self.rec is not None and s != st.CREATING:
            _warn_hooks(cfg, "poststop", self.rec, st.STOPPED)
        if self.rec is not None and self.rec.cgroup_paths:
            from runk.linux.cgroups import load_manager
            load_manager(self.rec.cgroup_paths).destroy()
        self.cdir.remove()

    def pause(self) -> None:
        st.check_pause(self.status())
        _backend(self.rec).pause(self.rec)

    def resume(self) -> None:
        st.check_resume(self.status())
        _backend(self.rec).resume(self.rec)

    def close(self) -> None:
        self.cdir.close()


def _warn_hooks(cfg: dict, phase: str, rec: StateRecord, status: str) -> None:
    """poststart/poststop failures are warnings: the container already runs, or is gone."""
    from runk.backend.linux import _hook_state
    from runk.container.hooks import run_phase_warning_only
    run_phase_warning_only(cfg, phase, _hook_state(rec, status), log.warn)


def load(root: str, cid: str, lock: bool = False) -> Container:
    store = StateStore(root)
    cdir = store.open(cid, lock=lock)
    raw = cdir.read(STATE_FILE)
    rec = StateRecord.from_json(raw) if raw else None
    if rec is None and not cdir.exists(CONFIG_FILE):
        cdir.close()
        raise NotFoundError()
    return Container(store, cdir, rec)


def create(root: str, cid: str, req: object) -> Container:
    """Validate the bundle, claim the id, create through the selected backend. A failure leaves
    nothing behind: no state dir, cgroup, mount or process."""
    from runk.backend import select_backend
    from runk.oci import config, validate
    cfg, raw = config.load(req.bundle)
    validate.validate(cfg)
    backend = select_backend(cfg.get("annotations") or {}, req.backend)
    store = StateStore(root)
    cdir = store.claim(cid)
    try:
        rec = backend.create(cdir, cfg, raw, req)
    except BaseException:
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
            if c.rec is not None:
                out.append((c.rec, c.status()))
        finally:
            c.close()
    return out

