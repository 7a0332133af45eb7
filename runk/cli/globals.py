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
        root: str = "/run/runk",
        log: str | None = None,
        log_format: str = "text",
        debug: bool = False,
        systemd_cgroup: bool = False,
        rootless: str | None = None,
        backend: str | None = None,
        criu: str = "criu",
    ) -> None:
        self.root = root
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
        """Configure logging; refuse what runk does not support yet, clearly."""
        from runk import log

        fmt = self.log_format
        if fmt not in ("text", "json"):
            log.configure(None, "text", self.debug)
            raise UsageError(f"invalid log-format: {fmt}")
        log.configure(self.log, fmt, self.debug)
        if self.rootless not in (None, "auto", "false"):
            raise UsageError("--rootless: rootless containers are not supported by runk yet")


def backend_for_prog(prog: str, flag: str | None) -> str | None:
    """The backend new containers get: --backend, else "vm" when invoked as runk-vm."""
    if flag:
        return flag
    return "vm" if prog.rsplit("/", 1)[-1].startswith("runk-vm") else None
