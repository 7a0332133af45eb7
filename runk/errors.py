"""runk's error hierarchy, exit codes and the runc message texts other tools parse.

Runs everywhere (parent, CLI); imports nothing. str(error) is the runc-style message:
lower-case, no final period, naming the object (youki unwritten_rules, Go's PathError).
"""

from __future__ import annotations

from runk import _os as os

# Frozen texts. Who parses them is noted beside each.
CONTAINER_NOT_EXIST = "container does not exist"  # podman, runtime-tools
CONTAINER_EXISTS = "container with given ID already exists"
INVALID_ID = "invalid container ID format"
CONTAINER_NOT_RUNNING = "container not running"  # containerd matches this exactly


class RunkError(Exception):
    """Base of every error runk reports; exit status 1 unless said otherwise."""

    exit_code = 1

    def __init__(self, msg: str) -> None:
        super().__init__(msg)
        self.msg = msg

    def __str__(self) -> str:
        return self.msg


class UsageError(RunkError):
    """Bad command line (runc: exit 1; unknown command: exit 3)."""

    def __init__(self, msg: str, exit_code: int = 1) -> None:
        super().__init__(msg)
        self.exit_code = exit_code


class InvalidIdError(RunkError):
    def __init__(self, msg: str = INVALID_ID) -> None:
        super().__init__(msg)


class NotFoundError(RunkError):
    def __init__(self, msg: str = CONTAINER_NOT_EXIST) -> None:
        super().__init__(msg)


class ExistsError(RunkError):
    def __init__(self, msg: str = CONTAINER_EXISTS) -> None:
        super().__init__(msg)


class StateError(RunkError):
    """A refused transition: 'cannot start a container that has stopped', ..."""


class ConfigError(RunkError):
    """A bad config.json; the message names the JSON path of the field."""

    def __init__(self, path: str, problem: str) -> None:
        super().__init__(f"{path}: {problem}" if path else problem)
        self.path = path
        self.problem = problem


class HookError(RunkError):
    """A hook that failed: runc's "error running PHASE hook #INDEX: DETAIL"."""

    def __init__(self, phase: str, index: int, detail: str) -> None:
        super().__init__(f"error running {phase} hook #{index}: {detail}")
        self.phase = phase


class CgroupError(RunkError):
    """A resource the host cannot set; names the resource and the file."""


class InitError(RunkError):
    """A failure reported by the container's setup child over the channel."""

    def __init__(self, msg: str, errno: int = 0, stage: str = "") -> None:
        super().__init__(msg)
        self.errno = errno
        self.stage = stage


class SyscallError(OSError):
    """An OSError that renders as Go's PathError: "mount /rootfs/proc: operation not permitted"."""

    def __init__(self, op: str, path: str | None, err: int) -> None:
        super().__init__(err, os.strerror(err).lower() if err else "", path)
        self.op = op

    def __str__(self) -> str:
        msg = os.strerror(self.errno).lower() if self.errno else "unknown error"
        if self.filename:
            return f"{self.op} {self.filename}: {msg}"
        return f"{self.op}: {msg}"


def describe(exc: BaseException) -> str:
    """Render any exception as runc would print it; used where imports are not allowed."""
    if isinstance(exc, (RunkError, SyscallError)):
        return str(exc)
    if isinstance(exc, OSError):
        msg = os.strerror(exc.errno).lower() if exc.errno else str(exc)
        if exc.filename is not None:
            return f"{exc.filename}: {msg}"
        return msg
    # anything else is a bug of runk: its message, never a Python class name (dispatch.py)
    return f"internal error: {exc}" if str(exc) else "internal error"
