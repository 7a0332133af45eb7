"""runk pause ID: freeze every process of the container (v1 freezer, v2 cgroup.freeze)."""
from __future__ import annotations


def run(g: object, opts: dict) -> int:
    from runk.container.container import load
    c = load(g.root, opts["id"], lock=True)
    try:
        c.pause()
    finally:
        c.close()
    return 0
