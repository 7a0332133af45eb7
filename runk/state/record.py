"""StateRecord: what <root>/<id>/state.json holds, and its (de)serialization.

Runs in the parent on the hot path (state, list, kill): imports os, time and runk._json only.
The status is never trusted from the file: "creating"/"created" are hints; the live status is
derived from the process (runk.container.container.live_status).
"""

from __future__ import annotations

import time

from runk import _json

_FIELDS = (
    "ociVersion",
    "id",
    "pid",
    "pid_starttime",
    "status",
    "bundle",
    "rootfs",
    "created",
    "owner",
    "annotations",
    "backend",
    "cgroup_paths",
    "systemd",
    "rootless",
    "config_hash",
    "sandbox",
)


class StateRecord:
    """One container's state.json. Fields a file lacks (an older runk wrote it) are None, or
    empty for owner and annotations."""

    __slots__ = _FIELDS

    ociVersion: str | None
    id: str
    pid: int | None
    pid_starttime: int | None  # field 22 of /proc/<pid>/stat: the pid is this process
    status: str | None  # a hint only ("creating", "created"); see live_status
    bundle: str | None
    rootfs: str | None
    created: str | None  # RFC 3339 with nanoseconds, as runc writes it
    owner: str
    annotations: dict[str, str]
    backend: str | None  # the backend's name (runk.backend.backend_for)
    cgroup_paths: dict[str, str] | None  # the cgroup manager's paths(): hierarchy -> directory
    systemd: bool | None
    rootless: bool | None
    config_hash: str | None
    sandbox: dict[str, str] | None  # the VM backend's: {"dir": the container directory}

    def __init__(
        self,
        *,
        ociVersion: str | None = None,
        id: str = "",
        pid: int | None = None,
        pid_starttime: int | None = None,
        status: str | None = None,
        bundle: str | None = None,
        rootfs: str | None = None,
        created: str | None = None,
        owner: str | None = None,
        annotations: dict[str, str] | None = None,
        backend: str | None = None,
        cgroup_paths: dict[str, str] | None = None,
        systemd: bool | None = None,
        rootless: bool | None = None,
        config_hash: str | None = None,
        sandbox: dict[str, str] | None = None,
    ) -> None:
        self.ociVersion = ociVersion
        self.id = id
        self.pid = pid
        self.pid_starttime = pid_starttime
        self.status = status
        self.bundle = bundle
        self.rootfs = rootfs
        self.created = created
        self.owner = owner or ""
        self.annotations = annotations if annotations is not None else {}
        self.backend = backend
        self.cgroup_paths = cgroup_paths
        self.systemd = systemd
        self.rootless = rootless
        self.config_hash = config_hash
        self.sandbox = sandbox

    def to_json(self) -> str:
        return _json.dumps({f: getattr(self, f) for f in _FIELDS})

    @classmethod
    def claim(
        cls,
        cid: str,
        backend: str,
        bundle: str,
        annotations: dict[str, str],
        cgroup_paths: dict[str, str],
        systemd: bool,
        rootfs: str | None = None,
        sandbox: dict[str, str] | None = None,
        rootless: bool | None = None,
    ) -> StateRecord:
        """The record a create writes before it makes anything outside the state directory (no
        process yet, pid 0): what `delete --force` needs to remove it if runk dies from there on."""
        from runk.state.status import CREATING
        from runk.version import OCI_VERSION  # create only: state and kill never load it

        return cls(
            ociVersion=OCI_VERSION,
            id=cid,
            pid=0,
            status=CREATING,
            bundle=bundle,
            rootfs=rootfs,
            created=rfc3339nano(),
            owner="",
            annotations=annotations,
            backend=backend,
            cgroup_paths=cgroup_paths,
            systemd=systemd,
            rootless=rootless,
            sandbox=sandbox,
        )

    @classmethod
    def from_dict(cls, d: dict[str, object]) -> StateRecord:
        """The record of a parsed state.json; unknown keys are ignored."""
        kw = {k: v for k, v in d.items() if k in _FIELDS}
        return cls(**kw)  # type: ignore[arg-type]   # the file's own types, as written by to_json


def rfc3339nano(ns: int | None = None) -> str:
    """Go's time.RFC3339Nano in UTC, as runc's state "created" ("...T19:17:29.72351752Z")."""
    if ns is None:
        ns = time.time_ns()
    secs, frac = divmod(ns, 1_000_000_000)
    base = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs))
    if frac:
        return f"{base}.{frac:09d}".rstrip("0") + "Z"
    return base + "Z"
