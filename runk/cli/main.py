"""runk's entry point: the fast path for the argv shapes podman, conmon and scripts use, else the
click command tree; the one top-level error handler (runc's texts and exit codes).

Runs in the parent. Imports nothing heavy: click only through runk.cli.app, when the fast path
defers (DESIGN 3.11).
"""
from __future__ import annotations

import sys

from runk import _os as os


def main(argv: list[str] | None = None, prog: str | None = None) -> int:
    if argv is None:
        argv = sys.argv[1:]
    if prog is None:
        prog = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else "runk"
    from runk.cli import fastpath
    if prog.startswith("runk-vm"):
        from runk.backend import choose_default
        choose_default("vm")
    parsed = fastpath.parse(argv)
    if parsed is not None:
        verb, g, opts = parsed
        return dispatch(verb, g, opts)
    from runk.cli import app
    return app.run(argv, prog)


def main_vm() -> int:
    return main(prog="runk-vm")


def entry(prog: str) -> None:
    """The launcher's entry: run, flush, and leave without the interpreter's finalization
    (tearing down ~50 modules costs about 1 ms per command; runk registers no atexit work and
    writes its output with os.write or flushes it here)."""
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


def dispatch(verb: str, g: object, opts: dict) -> int:
    """Run one verb with parsed options; every RunkError becomes runc's log line and exit code."""
    from runk import log
    from runk.errors import RunkError
    try:
        g.apply()
        from runk.cli import commands
        return commands.run(verb, g, opts)
    except RunkError as e:
        log.error(_prefix(verb, e))
        return 255 if verb == "exec" else e.exit_code
    except KeyboardInterrupt:
        return 130
    except OSError as e:
        from runk.errors import describe
        log.error(_prefix(verb, e, describe(e)))
        return 255 if verb == "exec" else 1
    except Exception as e:                  # the one broad catch: report, never a bare traceback
        if getattr(g, "debug", False):
            import traceback
            traceback.print_exc()
        log.error(f"internal error: {type(e).__name__}: {e}")
        return 1


def _prefix(verb: str, e: BaseException, text: str | None = None) -> str:
    """runc wraps create/run failures ("runc create failed: <msg>") and exec's ("exec failed: ")."""
    msg = text if text is not None else str(e)
    if verb == "exec":
        return f"exec failed: {msg}"
    if verb in ("create", "run") and getattr(e, "wrap", True):
        from runk.errors import UsageError
        # runc 1.1: "runc create failed: invalid container ID format", "... already exists"
        if not isinstance(e, UsageError):
            return f"runk {verb} failed: {msg}"
    return msg
