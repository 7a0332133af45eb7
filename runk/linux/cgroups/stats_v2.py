"""Statistics of a cgroup v2 container for `events --stats` (runc fs2 GetStats).

Runs in the parent. Imports fs and stats. cpu.stat's usage lines exist without the cpu controller;
memory, io and pids need their controller (pids falls back to counting cgroup.procs, as runc).
v1-compatible swap: usage and limit are reported as memory+swap (runc statMemory).
"""

from __future__ import annotations

from runk.linux.cgroups import fs
from runk.linux.cgroups.stats import Raw, render
from runk.linux.cgroups.v1_hugetlb import page_sizes

TYPE_CHECKING = False  # no `typing` import at run time (DESIGN 3.11)
if TYPE_CHECKING:
    from typing import Any


def _cpu(path: str, r: Raw) -> None:
    if not fs.has(path, "cpu.stat"):
        return
    kv = fs.read_keyed(path, "cpu.stat")
    r.cpu_total = kv.get("usage_usec", 0) * 1000
    r.cpu_user = kv.get("user_usec", 0) * 1000
    r.cpu_kernel = kv.get("system_usec", 0) * 1000
    r.periods = kv.get("nr_periods", 0)
    r.throttled_periods = kv.get("nr_throttled", 0)
    r.throttled_time = kv.get("throttled_usec", 0) * 1000


def _memory(path: str, r: Raw) -> None:
    if not fs.has(path, "memory.stat"):
        return
    r.mem_raw = fs.read_keyed(path, "memory.stat")
    r.mem_cache = r.mem_raw.get("file", 0)
    if not fs.has(path, "memory.current"):
        return
    usage = fs.read_uint(path, "memory.current")
    limit = fs.read_uint(path, "memory.max")
    r.mem_usage = (limit, usage, 0, 0)
    if fs.has(path, "memory.swap.current"):
        s_usage = fs.read_uint(path, "memory.swap.current") + usage
        s_limit = fs.read_uint(path, "memory.swap.max")
        if s_limit != fs.UINT64_MAX:
            s_limit += limit
        r.mem_swap = (min(s_limit, fs.UINT64_MAX), s_usage, 0, 0)


def _pids(path: str, r: Raw) -> None:
    if fs.has(path, "pids.current"):
        r.pids_current = fs.read_uint(path, "pids.current")
        limit = fs.read_uint(path, "pids.max")
        r.pids_limit = 0 if limit == fs.UINT64_MAX else limit
    else:
        r.pids_current = len(fs.read_procs(path))


def _io(path: str, r: Raw) -> None:
    text = fs.read_opt(path, "io.stat")
    if text is None:
        return
    ops = {
        "rbytes": ("Read", "ioServiceBytesRecursive"),
        "wbytes": ("Write", "ioServiceBytesRecursive"),
        "rios": ("Read", "ioServicedRecursive"),
        "wios": ("Write", "ioServicedRecursive"),
    }
    for line in text.splitlines():
        f = line.split()
        if len(f) < 2 or ":" not in f[0]:
            continue
        major, _, minor = f[0].partition(":")
        for item in f[1:]:
            k, _, v = item.partition("=")
            if k in ops:
                op, table = ops[k]
                r.blkio.setdefault(table, []).append((int(major), int(minor), op, int(v)))


def _hugetlb(path: str, r: Raw) -> None:
    for size in page_sizes():
        p = "hugetlb." + size
        if not fs.has(path, p + ".current"):
            return
        events = fs.read_keyed(path, p + ".events")
        r.hugetlb[size] = (fs.read_uint(path, p + ".current"), 0, events.get("max", 0))


def hugetlb(path: str) -> dict[str, Any]:
    """Only the hugetlb part, rendered (a hybrid host keeps hugetlb on its cgroup2 mount)."""
    r = Raw()
    _hugetlb(path, r)
    out: dict[str, Any] = render(r)["hugetlb"]
    return out


def collect(path: str) -> dict[str, Any]:
    r = Raw()
    _pids(path, r)
    _memory(path, r)
    _io(path, r)
    _cpu(path, r)
    _hugetlb(path, r)
    return render(r)
