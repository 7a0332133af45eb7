"""runk kill [--all] ID [SIGNAL]: signal the init, or every process of the container."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from runk.cli.globals import Globals


def run(g: Globals, opts: dict[str, Any]) -> int:
    from runk.container.container import load
    from runk.container.signals import parse_signal

    c = load(g.root, opts["id"])  # existence is checked before the signal is parsed (runc)
    try:
        c.kill(parse_signal(opts.get("signal") or "SIGTERM"), bool(opts.get("all")))
    finally:
        c.close()
    return 0
