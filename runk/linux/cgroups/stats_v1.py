"""Statistics of a cgroup v1 container for `events --stats` (runc fs/*.go GetStats).

Runs in the parent. Imports fs and stats. Files that a kernel does not have are skipped as runc
skips them; a hierarchy that is not mounted contributes nothing.
"""

from __future__ import annotations

import os

from runk.linux.cgroups import fs
from runk.linux.cgroups.stats import Raw, render
from runk.linux.cgroups.v1_hugetlb import page_sizes

TYPE_CHECKING = False  # no `typing` import at run time (DESIGN 3.11)
if TYPE_CHECKING:
    from typing import Any

_NS_PER_TICK = 1_000_000_000 // 100  # cpuacct.stat is in USER_HZ (100), runc's clockTicks

BLKIO_GROUPS = (
    (
        ("blkio.bfq.sectors_recursive", "sectorsRecursive"),
        ("blkio.bfq.io_service_time_recursive", "ioServiceTimeRecursive"),
        ("blkio.bfq.io_wait_time_recursive", "ioWaitTimeRecursive"),
        ("blkio.bfq.io_merged_recursive", "ioMergedRecursive"),
        ("blkio.bfq.io_queued_recursive", "ioQueueRecursive"),
        ("blkio.bfq.time_recursive", "ioTimeRecursive"),
        ("blkio.bfq.io_serviced_recursive", "ioServicedRecursive"),
        ("blkio.bfq.io_service_bytes_recursive", "ioServiceBytesRecursive"),
    ),
    (
        ("blkio.bfq.io_serviced_recursive", "ioServicedRecursive"),
        ("blkio.bfq.io_service_bytes_recursive", "ioServiceBytesRecursive"),
    ),
    (
        ("blkio.sectors_recursive", "sectorsRecursive"),
        ("blkio.io_service_time_recursive", "ioServiceTimeRecursive"),
        ("blkio.io_wait_time_recursive", "ioWaitTimeRecursive"),
        ("blkio.io_merged_recursive", "ioMergedRecursive"),
        ("blkio.io_queued_recursive", "ioQueueRecursive"),
        ("blkio.time_recursive", "ioTimeRecursive"),
        ("blkio.io_serviced_recursive", "ioServicedRecursive"),
        ("blkio.io_service_bytes_recursive", "ioServiceBytesRecursive"),
    ),
    (
        ("blkio.throttle.io_serviced_recursive", "ioServicedRecursive"),
        ("blkio.throttle.io_service_bytes_recursive", "ioServiceBytesRecursive"),
    ),
    (
        ("blkio.throttle.io_serviced", "ioServicedRecursive"),
        ("blkio.throttle.io_service_bytes", "ioServiceBytesRecursive"),
    ),
)


def _ints(text: str | None) -> list[int]:
    return [int(x) for x in (text or "").split()]


def _cpu(path: str, r: Raw) -> None:
    st = fs.read_opt(path, "cpu.stat")
    if st is None:
        return
    kv = {}
    for line in st.splitlines():
        f = line.split()
        if len(f) == 2:
            kv[f[0]] = int(f[1])
    r.periods = kv.get("nr_periods", 0)
    r.throttled_periods = kv.get("nr_throttled", 0)
    r.throttled_time = kv.get("throttled_time", 0)


def _cpuacct(path: str, r: Raw) -> None:
    if not os.path.isdir(path):
        return
    f = fs.read(path, "cpuacct.stat").split()
    r.cpu_user = int(f[1]) * _NS_PER_TICK
    r.cpu_kernel = int(f[3]) * _NS_PER_TICK
    r.cpu_total = fs.read_uint(path, "cpuacct.usage")
    r.percpu = _ints(fs.read(path, "cpuacct.usage_percpu"))
    all_ = fs.read_opt(path, "cpuacct.usage_all")
    for line in (all_ or "").splitlines()[1:]:
        cols = line.split(" ")
        if len(cols) == 3:
            r.percpu_user.append(int(cols[1]))
            r.percpu_kernel.append(int(cols[2]))


def _cpu_list(text: str) -> list[int]:
    out: list[int] = []
    for part in text.strip().split(","):
        if not part:
            continue
        lo, _, hi = part.partition("-")
        out.extend(range(int(lo), int(hi or lo) + 1))
    return out


def _cpuset(path: str, r: Raw) -> None:
    for key in ("cpus", "mems"):
        v = fs.read_opt(path, "cpuset." + key)
        if v is not None:
            r.cpuset[key] = _cpu_list(v)
    for key in (
        "cpu_exclusive",
        "mem_hardwall",
        "mem_exclusive",
        "memory_migrate",
        "memory_spread_page",
        "memory_spread_slab",
        "memory_pressure",
        "sched_load_balance",
        "sched_relax_domain_level",
    ):
        v = fs.read_opt(path, "cpuset." + key)
        if v is not None:
            r.cpuset[key] = int(v)


def _mem_data(path: str, prefix: str, optional: bool) -> tuple[int, int, int, int]:
    if optional and not fs.has(path, prefix + ".usage_in_bytes"):
        return (0, 0, 0, 0)
    return (
        fs.read_uint(path, prefix + ".limit_in_bytes"),
        fs.read_uint(path, prefix + ".usage_in_bytes"),
        fs.read_uint(path, prefix + ".max_usage_in_bytes"),
        fs.read_uint(path, prefix + ".failcnt"),
    )


def _memory(path: str, r: Raw) -> None:
    if not fs.has(path, "memory.stat"):
        return
    r.mem_raw = fs.read_keyed(path, "memory.stat")
    r.mem_cache = r.mem_raw.get("cache", 0)
    r.mem_usage = _mem_data(path, "memory", False)
    r.mem_swap = _mem_data(path, "memory.memsw", True)
    r.mem_kernel = _mem_data(path, "memory.kmem", True)
    r.mem_kernel_tcp = _mem_data(path, "memory.kmem.tcp", True)


def _pids(path: str, r: Raw) -> None:
    if not os.path.isdir(path):
        return
    r.pids_current = fs.read_uint(path, "pids.current")
    limit = fs.read_uint(path, "pids.max")
    r.pids_limit = 0 if limit == fs.UINT64_MAX else limit


def _blkio_file(path: str, name: str) -> list[tuple[int, int, str, int]] | None:
    text = fs.read_opt(path, name)
    if text is None:
        return None
    out = []
    for line in text.splitlines():
        f = line.replace(":", " ").split()
        if len(f) < 3:
            continue  # "Total N"
        if len(f) == 4:
            out.append((int(f[0]), int(f[1]), f[2], int(f[3])))
        else:
            out.append((int(f[0]), int(f[1]), "", int(f[2])))
    return out


def _blkio(path: str, r: Raw) -> None:
    # runc takes the first group whose first file has entries, and stops at an empty file.
    for group in BLKIO_GROUPS:
        for i, (name, key) in enumerate(group):
            entries = _blkio_file(path, name)
            if not entries:
                if i == 0:
                    break
                return
            r.blkio[key] = entries
            if i == len(group) - 1:
                return


def _hugetlb(path: str, r: Raw) -> None:
    for size in page_sizes():
        p = "hugetlb." + size
        r.hugetlb[size] = (
            fs.read_uint(path, p + ".usage_in_bytes"),
            fs.read_uint(path, p + ".max_usage_in_bytes"),
            fs.read_uint(path, p + ".failcnt"),
        )


def collect(paths: dict[str, str]) -> dict[str, Any]:
    r = Raw()
    for key, fn in (
        ("cpuset", _cpuset),
        ("memory", _memory),
        ("cpu", _cpu),
        ("cpuacct", _cpuacct),
        ("pids", _pids),
        ("blkio", _blkio),
        ("hugetlb", _hugetlb),
    ):
        path = paths.get(key)
        if path and os.path.isdir(path):
            fn(path, r)
    return render(r)
