"""runk's entry point: the fast path for the argv shapes podman, conmon and scripts use, else the
click command tree (both end in runk.cli.dispatch).

Runs in the parent. Imports nothing heavy: click only through runk.cli.app, when the fast path
defers (DESIGN 3.11).
"""

from __future__ import annotations

import gc
import sys

from runk import _os as os
from runk.cli.globals import backend_for_prog


def main(argv: list[str] | None = None, prog: str | None = None) -> int:
    if argv is None:
        argv = sys.argv[1:]
    if prog is None:
        prog = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else "runk"
    if argv in (["--version"], ["-v"]):  # the whole command line: no need of the command tree
        from runk.cli.versioninfo import version_text

        os.write(1, (version_text() + "\n").encode())
        return 0
    from runk.cli import fastpath

    parsed = fastpath.parse(argv)
    if parsed is not None:
        verb, g, opts = parsed
        g.backend = backend_for_prog(prog, g.backend)
        from runk.cli.dispatch import dispatch

        return dispatch(verb, g, opts)
    from runk.cli import app

    return app.run(argv, prog)


def main_vm() -> int:
    return main(prog="runk-vm")


# The cyclic collector's first threshold (CPython's default: 700 new container objects).
# Loading create's ~90 modules crosses the default eight times (1.3-1.5 ms of collections that
# find next to nothing: module code, functions and classes live until the exit); at this
# threshold a create, run or exec never collects, while a long foreground run or exec (the
# tty relay, the signal forwarding) still collects as it allocates.
GC_THRESHOLD = 50_000


def entry(prog: str) -> None:
    """The launcher's entry: run, flush, and leave without the interpreter's finalization
    (tearing down ~50 modules costs about 1 ms per command; runk registers no atexit work and
    writes its output with os.write or flushes it here)."""
    gc.set_threshold(GC_THRESHOLD, *gc.get_threshold()[1:])
    try:
        rc = main(prog=prog)
    except SystemExit as e:
        rc = e.code if isinstance(e.code, int) else 1
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(rc)


def console_runk() -> None:
    """pip's `runk` console script: as the launcher, without the interpreter's finalization."""
    entry("runk")


def console_runk_vm() -> None:
    """pip's `runk-vm` console script."""
    entry("runk-vm")
