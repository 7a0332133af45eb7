"""runk start ID: release a created container's process and return at once."""
from __future__ import annotations


def run(g: object, opts: dict) -> int:
    from runk.container.container import load
    c = load(g.root, opts["id"], lock=True)
    try:
        c.start()
    finally:
        c.close()
    return 0
