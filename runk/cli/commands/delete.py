"""runk delete [--force] ID: remove everything runk made for the container."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from runk.cli.globals import Globals


def run(g: Globals, opts: dict[str, Any]) -> int:
    from runk.container.container import load
    from runk.errors import NotFoundError

    try:
        c = load(g.root, opts["id"], lock=True)
    except NotFoundError:
        if opts.get("force"):
            # podman deletes ids it never created; runc exits 0. A directory with neither a
            # config nor a readable state is a leftover: remove it
            from runk.state.store import StateStore

            StateStore(g.root).discard_leftover(opts["id"])
            return 0
        raise
    try:
        c.delete(force=bool(opts.get("force")))
    finally:
        c.close()
    return 0
