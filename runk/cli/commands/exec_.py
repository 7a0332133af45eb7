"""runk exec [flags] ID [COMMAND ARGS...]: run a process in a running container. Exits with the
process's status in the foreground; 255 when it cannot be started (runc)."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from runk.cli.globals import Globals


def run(g: Globals, opts: dict[str, Any]) -> int:
    from runk.container.container import load

    c = load(g.root, opts["id"])
    req = c.exec_request(opts)
    if req.detach:
        try:
            c.exec(req)
        finally:
            c.close()
        return 0
    from runk.container.foreground import exec_process

    return exec_process(c, req)
