"""runk kill [--all] ID [SIGNAL]: signal the init, or every process of the container."""
from __future__ import annotations


def run(g: object, opts: dict) -> int:
    from runk.container.container import load
    from runk.container.signals import parse_signal
    c = load(g.root, opts["id"])     # existence is checked before the signal is parsed (runc)
    try:
        c.kill(parse_signal(opts.get("signal") or "SIGTERM"), bool(opts.get("all")))
    finally:
        c.close()
    return 0
