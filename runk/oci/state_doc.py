"""The OCI state document as `runk state` prints it: runc's fields and order, 2-space indent,
no trailing newline (podman reads status and pid).

Runs in the parent on the hot path; no json module: a small writer on runk._json's encoder.
"""

from __future__ import annotations

from runk import _json

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Protocol

    class StateFields(Protocol):
        """What the document shows of a state record (runk.state.record.StateRecord; this
        layer does not import runk.state)."""

        @property
        def ociVersion(self) -> str | None: ...
        @property
        def id(self) -> str: ...
        @property
        def pid(self) -> int | None: ...
        @property
        def bundle(self) -> str | None: ...
        @property
        def rootfs(self) -> str | None: ...
        @property
        def created(self) -> str | None: ...
        @property
        def annotations(self) -> dict[str, str]: ...
        @property
        def owner(self) -> str: ...


def state_dict(rec: StateFields, status: str) -> dict[str, Any]:
    pid = rec.pid if status not in ("stopped",) else 0
    doc: dict[str, Any] = {
        "ociVersion": rec.ociVersion,
        "id": rec.id,
        "pid": pid or 0,
        "status": status,
        "bundle": rec.bundle,
        "rootfs": rec.rootfs,
        "created": rec.created,
    }
    if rec.annotations:  # runc: `json:"annotations,omitempty"`
        doc["annotations"] = rec.annotations
    doc["owner"] = rec.owner or ""
    return doc


def dumps_indent(obj: object, indent: str = "  ", level: int = 0) -> str:
    """json.dumps(obj, indent=2) for dicts, lists and scalars, without importing json."""
    pad = indent * (level + 1)
    if isinstance(obj, dict):
        if not obj:
            return "{}"
        items = [f"{pad}{_json.encode_string(str(k))}: {dumps_indent(v, indent, level + 1)}" for k, v in obj.items()]
        return "{\n" + ",\n".join(items) + "\n" + indent * level + "}"
    if isinstance(obj, (list, tuple)):
        if not obj:
            return "[]"
        items = [pad + dumps_indent(v, indent, level + 1) for v in obj]
        return "[\n" + ",\n".join(items) + "\n" + indent * level + "]"
    return _json.dumps(obj)
