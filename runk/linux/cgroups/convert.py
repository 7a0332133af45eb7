"""runc's conversions of v1-style OCI values to cgroup v2 files, in one place (DESIGN 3.9).

Runs in the parent; pure (imports nothing but math, lazily). Checked by a table-driven unit test.
"""

from __future__ import annotations

from runk.errors import CgroupError

# runc 1.1.5 (the runc installed here) maps shares linearly; opencontainers/cgroups >= 0.0.2 (runc
# 1.3+) switched to a quadratic fit in log space. runk follows the installed reference.
SHARES_FORMULA = "linear"


def shares_to_weight(shares: int) -> int:
    """cpu.shares [2, 262144] → cpu.weight [1, 10000]; 0 means unset (runc 1.1.5 linear)."""
    if not shares:
        return 0
    if SHARES_FORMULA != "linear":
        return shares_to_weight_quadratic(shares)
    return 1 + ((shares - 2) * 9999) // 262142


def shares_to_weight_quadratic(shares: int) -> int:
    """runc 1.3+ mapping: 2 → 1, 1024 → 100, 262144 → 10000 on a quadratic in log2(shares)."""
    import math

    if not shares:
        return 0
    if shares <= 2:
        return 1
    if shares >= 262144:
        return 10000
    lg = math.log2(shares)
    exponent = (lg * lg + 125 * lg) / 612.0 - 7.0 / 34.0
    return math.ceil(10**exponent)


def blkio_weight_to_io_weight(weight: int) -> int:
    """blkio weight [10, 1000] → io.weight [1, 10000] (runc ConvertBlkIOToIOWeightValue)."""
    if not weight:
        return 0
    return 1 + (weight - 10) * 9999 // 990


def swap_to_v2(memory_swap: int, memory: int) -> int:
    """OCI memory.swap is memory+swap; cgroup v2 memory.swap.max is swap alone (runc rules).

    Returns -1 for "max", 0 for "leave unset" (the caller decides on "0").
    """
    if memory == -1 and memory_swap == 0:
        return -1  # unlimited memory and unset swap: unlimited swap too, as on v1
    if memory_swap in (-1, 0):
        return memory_swap
    if memory == -1:
        return memory_swap
    if memory == 0:
        raise CgroupError("cannot set linux.resources.memory.swap: unable to set swap limit without memory limit")
    if memory < 0:
        raise CgroupError(f"cannot set linux.resources.memory.limit: invalid memory value: {memory}")
    if memory_swap < memory:
        raise CgroupError("cannot set linux.resources.memory.swap: memory+swap limit should be >= memory limit")
    return memory_swap - memory


def num_to_v2(value: int) -> str:
    """0 → "" (unset), -1 → "max", else the decimal (runc fs2 numToStr)."""
    if value == 0:
        return ""
    if value == -1:
        return "max"
    return str(value)
