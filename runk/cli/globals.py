"""Global options (before the verb), shared by the fast path and the click tree.

Runs in the parent; imports nothing heavy.
"""

from __future__ import annotations

from runk.errors import UsageError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


class Globals:
    __slots__ = ("backend", "criu", "debug", "log", "log_format", "root", "rootless", "systemd_cgroup")

    def __init__(
        self,
        root: str | None = None,
        log: str | None = None,
        log_format: str = "text",
        debug: bool = False,
        systemd_cgroup: bool = False,
        rootless: str | None = None,
        backend: str | None = None,
        criu: str = "criu",
    ) -> None:
        self.root: str = root or ""  # "" until apply(): the default depends on who runs runk
        self.log = log
        self.log_format = log_format
        self.debug = debug
        self.systemd_cgroup = systemd_cgroup
        self.rootless = rootless
        self.criu = criu  # the CRIU binary of checkpoint and restore
        self.backend = backend  # --backend linux|vm, or "vm" when invoked as runk-vm

    def as_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__slots__}

    def apply(self) -> None:
        """Configure logging; resolve the default --root."""
        from runk import log

        fmt = self.log_format
        if fmt not in ("text", "json"):
            log.configure(None, "text", self.debug)
            raise UsageError(f"invalid log-format: {fmt}")
        log.configure(self.log, fmt, self.debug)
        if not self.root:
            self.root = _default_root()


def _default_root() -> str:
    """runc's rule: $XDG_RUNTIME_DIR/runk for a rootless caller (made 0700 and sticky), else
    /run/runk, with a clear error when a non-root caller has neither."""
    from runk.linux import rootless

    root, xdg = rootless.default_root()
    if xdg:
        rootless.prepare_xdg_root(root)
    else:
        rootless.check_system_root_usable(root)
    return root


def backend_for_prog(prog: str, flag: str | None) -> str | None:
    """The backend new containers get: --backend, else "vm" when invoked as runk-vm."""
    if flag:
        return flag
    return "vm" if prog.rsplit("/", 1)[-1].startswith("runk-vm") else None
