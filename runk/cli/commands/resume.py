"""runk resume ID: thaw a paused container."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from runk.cli.globals import Globals


def run(g: Globals, opts: dict[str, Any]) -> int:
    from runk.container.container import load

    c = load(g.root, opts["id"], lock=True)
    try:
        c.resume()
    finally:
        c.close()
    return 0
