"""One module per verb: options -> core call -> rendered output. `run(verb, g, opts)` imports
only the module of that verb.

Runs in the parent.
"""

from __future__ import annotations

import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from runk.cli.globals import Globals

VERBS = (
    "create",
    "start",
    "run",
    "state",
    "list",
    "kill",
    "delete",
    "spec",
    "features",
    "pause",
    "resume",
    "ps",
    "update",
    "events",
    "exec",
    "checkpoint",
    "restore",
)

_MODULE = {"list": "list_", "exec": "exec_"}


def run(verb: str, g: Globals, opts: dict[str, Any]) -> int:
    name = "runk.cli.commands." + _MODULE.get(verb, verb)
    __import__(name)  # not importlib: it costs an import on the hot path
    rc: int = sys.modules[name].run(g, opts) or 0
    return rc
