"""One module per verb: options -> core call -> rendered output. `run(verb, g, opts)` imports
only the module of that verb.

Runs in the parent.
"""
from __future__ import annotations

import sys

VERBS = ("create", "start", "run", "state", "list", "kill", "delete", "spec", "features",
         "pause", "resume", "ps", "update", "events", "exec")

_MODULE = {"list": "list_", "exec": "exec_"}


def run(verb: str, g: object, opts: dict) -> int:
    name = "runk.cli.commands." + _MODULE.get(verb, verb)
    __import__(name)            # not importlib: it costs an import on the hot path
    return sys.modules[name].run(g, opts) or 0
