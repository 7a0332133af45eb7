"""Backends realize a container: "linux" (host namespaces) or "vm" (a micro-VM per container).

Runs in the parent. The backend is chosen once, at create, and written to the state record
(DESIGN 3.14): the annotation runk.backend, else the name the caller asked for (the CLI's
--backend, or "vm" when invoked as runk-vm), else RUNK_BACKEND, else "linux". Every later verb
takes the backend named in the record. The interface is runk.backend.base.Backend; nothing above
this layer knows which backend it has.
"""

from __future__ import annotations

from runk import _os as os
from runk.errors import RunkError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from runk.backend.base import Backend

ANNOTATION = "runk.backend"
NAMES = ("linux", "vm")


def default_name(requested: str | None = None) -> str:
    """The backend a new container gets without an annotation (also what `features` describes)."""
    return requested or os.environ.get("RUNK_BACKEND") or "linux"


def select_backend(annotations: dict[str, str], requested: str | None = None) -> Backend:
    return backend_for(annotations.get(ANNOTATION) or default_name(requested))


def backend_for(name: str) -> Backend:
    if name == "linux":
        from runk.backend.linux import LinuxBackend

        return LinuxBackend()
    if name == "vm":
        try:
            from runk.backend.vm import VmBackend
        except ImportError:
            raise RunkError("the vm backend is not available in this build") from None
        return VmBackend()
    raise RunkError(f"unknown backend {name!r}")
