"""StateRecord: what <root>/<id>/state.json holds, and its (de)serialization.

Runs in the parent on the hot path (state, list, kill): imports os, time and runk._json only.
The status is never trusted from the file: "creating"/"created" are hints; the live status is
derived from the process (runk.container.container.live_status).
"""
from __future__ import annotations

import time

from runk import _json

_FIELDS = ("ociVersion", "id", "pid", "pid_starttime", "status", "bundle", "rootfs", "created",
           "owner", "annotations", "backend", "cgroup_paths", "systemd", "rootless", "config_hash",
           "sandbox")


class StateRecord:
    __slots__ = _FIELDS

    def __init__(self, **kw: object) -> None:
        for f in _FIELDS:
            setattr(self, f, kw.get(f))
        if self.annotations is None:
            self.annotations = {}
        if self.owner is None:
            self.owner = ""

    def to_json(self) -> str:
        return _json.dumps({f: getattr(self, f) for f in _FIELDS})

    @classmethod
    def from_dict(cls, d: dict) -> StateRecord:
        return cls(**{k: v for k, v in d.items() if k in _FIELDS})


def rfc3339nano(ns: int | None = None) -> str:
    """Go's time.RFC3339Nano in UTC, as runc's state "created" ("...T19:17:29.72351752Z")."""
    if ns is None:
        ns = time.time_ns()
    secs, frac = divmod(ns, 1_000_000_000)
    base = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs))
    if frac:
        return f"{base}.{frac:09d}".rstrip("0") + "Z"
    return base + "Z"
