"""Backends realize a container: "linux" (host namespaces) or "vm" (a micro-VM per container).

Runs in the parent. Selection happens once, at create, and is written to the state record
(DESIGN 3.14): the annotation runk.backend, then the invocation name runk-vm / --backend, then
RUNK_BACKEND; the CLI never knows which backend it has.
"""
from __future__ import annotations


from runk import _os as os
from runk.errors import RunkError

ANNOTATION = "runk.backend"
_CHOSEN = {"name": None}


def choose_default(name: str | None) -> None:
    """--backend or the runk-vm invocation name, set by the CLI."""
    _CHOSEN["name"] = name


def default_name() -> str:
    """The backend a new container gets without an annotation (also what `features` describes)."""
    return _CHOSEN["name"] or os.environ.get("RUNK_BACKEND") or "linux"


def select_backend(annotations: dict, requested: str | None = None) -> object:
    name = annotations.get(ANNOTATION) or requested or _CHOSEN["name"] or os.environ.get("RUNK_BACKEND") or "linux"
    return backend_for(name)


def backend_for(name: str) -> object:
    if name == "linux":
        from runk.backend import linux
        return linux
    if name == "vm":
        try:
            from runk.backend import vm
        except ImportError:
            raise RunkError("the vm backend is not available in this build") from None
        return vm
    raise RunkError(f"unknown backend {name!r}")
