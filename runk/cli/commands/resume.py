"""runk resume ID: thaw a paused container."""
from __future__ import annotations


def run(g: object, opts: dict) -> int:
    from runk.container.container import load
    c = load(g.root, opts["id"], lock=True)
    try:
        c.resume()
    finally:
        c.close()
    return 0
