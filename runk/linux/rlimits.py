"""process.rlimits, oomScoreAdj and linux.personality (small process attributes).

Runs in the parent (names -> numbers) and the init/tenant (apply). The resource module is a C
module (0.3 ms) imported before fork.
"""

from __future__ import annotations

import errno
import resource

from runk import _os as os
from runk.errors import ConfigError, RunkError
from runk.linux import procwrite

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

RLIMITS = {
    "RLIMIT_CPU": 0,
    "RLIMIT_FSIZE": 1,
    "RLIMIT_DATA": 2,
    "RLIMIT_STACK": 3,
    "RLIMIT_CORE": 4,
    "RLIMIT_RSS": 5,
    "RLIMIT_NPROC": 6,
    "RLIMIT_NOFILE": 7,
    "RLIMIT_MEMLOCK": 8,
    "RLIMIT_AS": 9,
    "RLIMIT_LOCKS": 10,
    "RLIMIT_SIGPENDING": 11,
    "RLIMIT_MSGQUEUE": 12,
    "RLIMIT_NICE": 13,
    "RLIMIT_RTPRIO": 14,
    "RLIMIT_RTTIME": 15,
}
_INF = (1 << 64) - 1

PERSONALITY = {"LINUX": 0x0000, "LINUX32": 0x0008}


def resolve(rlimits: list[dict[str, Any]] | None) -> list[tuple[int, int, int]]:
    out = []
    for i, r in enumerate(rlimits or []):
        if r["type"] not in RLIMITS:
            raise ConfigError(f"process.rlimits[{i}].type", f"unknown rlimit type {r['type']!r}")
        soft, hard = r["soft"], r["hard"]
        out.append((RLIMITS[r["type"]], -1 if soft >= _INF else soft, -1 if hard >= _INF else hard))
    return out


def apply(limits: list[tuple[int, int, int]]) -> None:
    for res, soft, hard in limits:
        try:
            resource.setrlimit(res, (soft, hard))
        except (OSError, ValueError) as e:
            err = getattr(e, "errno", None) or errno.EPERM
            why = _unprivileged_raise(res, hard) if err == errno.EPERM else ""
            raise RunkError(f"error setting rlimit type {res}: {os.strerror(err).lower()}{why}") from None


def _unprivileged_raise(res: int, hard: int) -> str:
    """Why a setrlimit was refused, when it raised a hard limit: only CAP_SYS_RESOURCE of the
    host may (a rootless container, in a user namespace, never has it)."""
    try:
        cur = resource.getrlimit(res)[1]
    except (OSError, ValueError):
        return ""
    if cur == -1 or (hard != -1 and hard <= cur):
        return ""
    shown = "unlimited" if hard == -1 else str(hard)
    return f" (hard limit {shown} is above the current {cur}, which only a privileged runtime may raise)"


def set_oom_score_adj(value: int, proc_fd: int = -1) -> None:
    """proc_fd: an fd of the host's /proc when the container's root has none (no mount
    namespace); else the /proc the process sees is used. Checked to be procfs either way."""
    try:
        procwrite.write("/proc/self/oom_score_adj", str(value).encode(), "process.oomScoreAdj", proc_fd)
    except OSError as e:
        if e.errno != errno.EACCES:
            raise
        cur = _current_oom_score_adj()
        if cur is None or value >= cur:
            raise
        # lowering it needs CAP_SYS_RESOURCE of the host: a rootless runk has none
        raise RunkError(
            f"{e}: process.oomScoreAdj {value} is below the current value {cur}, "
            "which only a privileged runtime may lower"
        ) from None


def _current_oom_score_adj() -> int | None:
    try:
        with open("/proc/self/oom_score_adj", "rb") as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return None
