"""runk run [create's flags] [--detach] [--keep] ID: create and start; in the foreground, wait and
exit with the container's status."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from runk.cli.globals import Globals


def run(g: Globals, opts: dict[str, Any]) -> int:
    from runk.cli.commands.create import request
    from runk.state.store import validate_id

    validate_id(opts["id"])
    req = request(g, opts)
    if opts.get("detach"):
        from runk.container.container import create

        c = create(g.root, opts["id"], req)
        try:
            c.start()
        finally:
            c.close()
        return 0
    from runk.container.foreground import run as foreground

    return foreground(g.root, opts["id"], req, keep=bool(opts.get("keep")))
