"""Run one parsed verb: the one top-level error handler (runc's texts and exit codes).

Runs in the parent. Shared by the fast path (runk.cli.main) and the click tree (runk.cli.app).
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from runk.cli.globals import Globals


def dispatch(verb: str, g: Globals, opts: dict[str, Any]) -> int:
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
    except Exception as e:
        # The one broad catch. Whatever reaches it is a bug of runk (bad input must have become
        # a RunkError naming the field before), but the user still gets one line, without a
        # Python class name; --debug adds the type and the traceback.
        if getattr(g, "debug", False):
            import traceback

            traceback.print_exc()
            log.debug(f"internal error of type {type(e).__name__}")
        log.error(_prefix(verb, e, internal(e)))
        return 255 if verb == "exec" else 1


def internal(e: BaseException) -> str:
    """'internal error: <message>' (a KeyError's message is the bare key: say so)."""
    msg = str(e)
    if isinstance(e, KeyError):
        msg = f"missing key {msg}"
    return f"internal error: {msg}" if msg else "internal error"


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
