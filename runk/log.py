"""runc-style log lines for errors, warnings and debug output.

Runs in the parent and, through fork, in the container's setup children (bootstrap, init, tenant),
which write their debug lines to the same sink (runc forwards its children's log pipe); imports
runk._os and time only. The CLI configures the sink (--log, --log-format, --debug); the core calls
warn()/debug() and never prints by itself. With --debug and no --log the sink is a close-on-exec
duplicate of stderr, so a child that has made a terminal its stderr still logs to runk's.
Text: time="2026-11-26T19:29:01Z" level=error msg="container does not exist" (logrus);
JSON: {"level":"error","msg":"...","time":"..."} (keys in that order, one object per line).
"""

from __future__ import annotations

import time

from runk import _json
from runk import _os as os

_cfg = {"fd": 2, "json": False, "debug": False, "file": False}


def configure(path: str | None, fmt: str, debug: bool) -> None:
    if path:
        _cfg["fd"] = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
        _cfg["file"] = True
    elif debug:
        _cfg["fd"] = os.dup(2)  # close-on-exec (PEP 446): never reaches a container process
    _cfg["json"] = fmt == "json"
    _cfg["debug"] = debug


def debugging() -> bool:
    """--debug is on (for a caller whose message costs something to build)."""
    return bool(_cfg["debug"])


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _quote(msg: str) -> str:
    return '"' + msg.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def line(level: str, msg: str) -> str:
    if _cfg["json"]:
        return _json.dumps({"level": level, "msg": msg, "time": _now()}) + "\n"
    return f"time={_quote(_now())} level={level} msg={_quote(msg)}\n"


def emit(level: str, msg: str) -> None:
    try:
        os.write(_cfg["fd"], line(level, msg).encode("utf-8", "replace"))
    except OSError:
        pass


def error(msg: str) -> None:
    """An error: the log line, plus the bare message on stderr when --log names a file (runc)."""
    emit("error", msg)
    if _cfg["file"]:
        try:
            os.write(2, (msg + "\n").encode("utf-8", "replace"))
        except OSError:
            pass


def warn(msg: str) -> None:
    emit("warning", msg)


def debug(msg: str) -> None:
    if _cfg["debug"]:
        emit("debug", msg)
