"""One module per verb: options -> core call -> rendered output. `run(verb, g, opts)` imports
only the module of that verb.

Runs in the parent.
"""
from __future__ import annotations

import importlib

VERBS = ("create", "start", "run", "state", "list", "kill", "delete", "spec", "features",
         "pause", "resume", "ps", "update", "events", "exec")

_MODULE = {"list": "list_", "exec": "exec_"}


def run(verb: str, g: object, opts: dict) -> int:
    mod = importlib.import_module("runk.cli.commands." + _MODULE.get(verb, verb))
    return mod.run(g, opts) or 0
