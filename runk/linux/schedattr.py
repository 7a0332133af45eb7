"""A process's scheduling and placement: process.scheduler (sched_setattr), process.ioPriority
(ioprio_set), linux.memoryPolicy (set_mempolicy) and CPU lists (process.execCPUAffinity,
memoryPolicy.nodes).

The tables and parse_list run in the parent (runk.oci.validate and runk.oci.plan); the apply_*
functions in the forked init or tenant (no imports at call time: runk.linux.launch.preload
imports this module before the fork when the plan needs it), set_affinity in the parent on the
container's pid (the reset to every CPU that every create does is runk.linux.launch's, so that
a config without these fields never loads this module). Errors are runc's texts (libcontainer's validate, specconv and
init), each after the JSON path of its field.
"""

from __future__ import annotations

import errno

from runk import _os as os
from runk.errors import ConfigError, RunkError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

# sched_setattr(2) policies and flags (uapi linux/sched.h)
SCHED_POLICIES = {
    "SCHED_OTHER": 0,
    "SCHED_FIFO": 1,
    "SCHED_RR": 2,
    "SCHED_BATCH": 3,
    "SCHED_ISO": 4,
    "SCHED_IDLE": 5,
    "SCHED_DEADLINE": 6,
}
SCHED_FLAGS = {
    "SCHED_FLAG_RESET_ON_FORK": 0x01,
    "SCHED_FLAG_RECLAIM": 0x02,
    "SCHED_FLAG_DL_OVERRUN": 0x04,
    "SCHED_FLAG_KEEP_POLICY": 0x08,
    "SCHED_FLAG_KEEP_PARAMS": 0x10,
    "SCHED_FLAG_UTIL_CLAMP_MIN": 0x20,
    "SCHED_FLAG_UTIL_CLAMP_MAX": 0x40,
}
# ioprio_set(2): class << 13 | level, for the calling process (IOPRIO_WHO_PROCESS, who 0), as runc
# sets it
IOPRIO_CLASSES = {"IOPRIO_CLASS_RT": 1, "IOPRIO_CLASS_BE": 2, "IOPRIO_CLASS_IDLE": 3}
IOPRIO_CLASS_SHIFT = 13
IOPRIO_WHO_PROCESS = 1
# set_mempolicy(2) modes and mode flags (uapi linux/mempolicy.h)
MPOL_MODES = {
    "MPOL_DEFAULT": 0,
    "MPOL_PREFERRED": 1,
    "MPOL_BIND": 2,
    "MPOL_INTERLEAVE": 3,
    "MPOL_LOCAL": 4,
    "MPOL_PREFERRED_MANY": 5,
    "MPOL_WEIGHTED_INTERLEAVE": 6,
}
MPOL_FLAGS = {
    "MPOL_F_NUMA_BALANCING": 1 << 13,
    "MPOL_F_RELATIVE_NODES": 1 << 14,
    "MPOL_F_STATIC_NODES": 1 << 15,
}
# the highest CPU or NUMA node number a list may name (runc's sanity bound)
MAX_ID = 64 * 1024


def parse_list(text: str, field: str, what: str) -> tuple[int, ...]:
    """A kernel list ("0-3,5, 7") -> the sorted ids; "" -> (). Extra commas and spaces are
    allowed, as runc's parser allows them; a list of only commas has no members."""
    out: set[int] = set()
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        lo, dash, hi = part.partition("-")
        start = _list_id(lo, text, field, what)
        end = _list_id(hi, text, field, what) if dash else start
        if start > end:
            raise ConfigError(field, f"{what} {_q(text)}: invalid range: {part}")
        out.update(range(start, end + 1))
    if text and not out:
        raise ConfigError(field, f'{what} {_q(text)}: no members found in set "{text}"')
    return tuple(sorted(out))


def _list_id(s: str, text: str, field: str, what: str) -> int:
    s = s.strip()
    if not s.isdigit() or not s.isascii():
        raise ConfigError(field, f'{what} {_q(text)}: invalid number "{s}"')
    n = int(s)
    if n > MAX_ID:
        raise ConfigError(field, f"{what} {_q(text)}: values larger than {MAX_ID} are not supported")
    return n


def _q(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


# ---- process.scheduler


def check_scheduler(s: dict[str, Any], field: str) -> None:
    """runc's validate.scheduler (sched_setattr(2)'s rules), after the schema's types."""
    policy = s.get("policy") or ""
    if not policy:
        raise ConfigError(f"{field}.policy", "scheduler policy is required")
    if policy not in SCHED_POLICIES:
        raise ConfigError(f"{field}.policy", f"invalid scheduler policy: {policy}")
    nice = s.get("nice", 0)
    if policy in ("SCHED_OTHER", "SCHED_BATCH") and not -20 <= nice <= 19:
        raise ConfigError(f"{field}.nice", f"invalid scheduler.nice: {nice} when scheduler.policy is {policy}")
    if s.get("priority", 0) != 0 and policy not in ("SCHED_FIFO", "SCHED_RR"):
        raise ConfigError(
            f"{field}.priority", "scheduler.priority can only be specified for SchedFIFO or SchedRR policy"
        )
    if policy != "SCHED_DEADLINE" and any(s.get(k, 0) for k in ("runtime", "deadline", "period")):
        raise ConfigError(field, "scheduler runtime/deadline/period can only be specified for SchedDeadline policy")
    for i, flag in enumerate(s.get("flags") or ()):
        if flag not in SCHED_FLAGS:
            raise ConfigError(f"{field}.flags[{i}]", f"invalid scheduler flag: {flag}")


def scheduler_attr(s: dict[str, Any] | None) -> tuple[int, ...] | None:
    """(policy, flags, nice, priority, runtime, deadline, period) for sched_setattr, or None."""
    if not s:
        return None
    flags = 0
    for flag in s.get("flags") or ():
        flags |= SCHED_FLAGS[flag]
    return (
        SCHED_POLICIES[s["policy"]],
        flags,
        int(s.get("nice", 0)),
        int(s.get("priority", 0)),
        int(s.get("runtime", 0)),
        int(s.get("deadline", 0)),
        int(s.get("period", 0)),
    )


def apply_scheduler(attr: tuple[int, ...], cpus_limited: bool) -> None:
    """sched_setattr(0, attr) in the container process (runc setupScheduler)."""
    from runk._native import ffi, lib

    if lib.runk_sched_setattr(0, *attr) < 0:
        err = ffi.errno
        if err == errno.EPERM and cpus_limited:
            # sched_setattr(2): SCHED_DEADLINE needs an affinity mask of every CPU
            raise RunkError("process scheduler can't be used together with AllowedCPUs")
        raise RunkError(f"error setting scheduler: {os.strerror(err).lower()}")


# ---- process.ioPriority


def ioprio_value(p: dict[str, Any] | None) -> int | None:
    if not p:
        return None
    return (IOPRIO_CLASSES[p["class"]] << IOPRIO_CLASS_SHIFT) | int(p.get("priority", 0))


def apply_ioprio(value: int) -> None:
    """ioprio_set for this process; the workload and its children inherit it."""
    from runk._native import ffi, lib

    if lib.runk_ioprio_set(IOPRIO_WHO_PROCESS, 0, value) < 0:
        raise RunkError(f"failed to set io priority: {os.strerror(ffi.errno).lower()}")


# ---- linux.memoryPolicy


def check_memory_policy(mp: dict[str, Any], field: str) -> tuple[int, tuple[int, ...]]:
    """runc's specconv and validate.memoryPolicy: (mode | flags, nodes)."""
    mode = mp.get("mode") or ""
    if mode not in MPOL_MODES:
        raise ConfigError(f"{field}.mode", f"invalid memory policy mode {_q(mode)}")
    nodes = parse_list(mp.get("nodes") or "", f"{field}.nodes", "invalid memory policy nodes")
    flags = 0
    for i, flag in enumerate(mp.get("flags") or ()):
        if flag not in MPOL_FLAGS:
            raise ConfigError(f"{field}.flags[{i}]", f"invalid memory policy flag {_q(str(flag))}")
        flags |= MPOL_FLAGS[flag]
    if mode in ("MPOL_DEFAULT", "MPOL_LOCAL") and nodes:
        raise ConfigError(f"{field}.nodes", f"memory policy mode requires 0 nodes but got {len(nodes)}")
    if mode in ("MPOL_BIND", "MPOL_INTERLEAVE", "MPOL_PREFERRED_MANY", "MPOL_WEIGHTED_INTERLEAVE") and not nodes:
        raise ConfigError(f"{field}.nodes", "memory policy mode requires at least one node but got 0")
    return MPOL_MODES[mode] | flags, nodes


def apply_memory_policy(mode: int, nodes: tuple[int, ...]) -> None:
    """set_mempolicy(mode, nodes) in the container process (inherited across fork and exec)."""
    from runk._native import ffi, lib

    if nodes:
        words = nodes[-1] // 64 + 1
        mask = ffi.new("unsigned long[]", words)
        for n in nodes:
            mask[n // 64] |= 1 << (n % 64)
        # maxnode counts bits, and the kernel reads one fewer than it is given
        ret = lib.runk_set_mempolicy(mode, mask, words * 64 + 1)
    else:
        ret = lib.runk_set_mempolicy(mode, ffi.NULL, 0)
    if ret < 0:
        raise RunkError(f"set_mempolicy: {os.strerror(ffi.errno).lower()}")


# ---- process.execCPUAffinity


def cpu_affinity(aff: dict[str, Any] | None, field: str) -> tuple[tuple[int, ...] | None, tuple[int, ...] | None]:
    """(initial, final) CPU sets of an exec'd process; None for one not given."""
    if not aff:
        return None, None
    out: list[tuple[int, ...] | None] = []
    for key, label in (("initial", "Initial"), ("final", "Final")):
        text = aff.get(key) or ""
        out.append(parse_list(text, f"{field}.{key}", f"bad CPUAffinity.{label}") if text else None)
    return out[0], out[1]


def set_affinity(pid: int, cpus: tuple[int, ...] | range, what: str) -> None:
    try:
        os.sched_setaffinity(pid, cpus)
    except OSError as e:
        raise RunkError(f"error setting {what} CPU affinity: {os.strerror(e.errno or 0).lower()}") from None
