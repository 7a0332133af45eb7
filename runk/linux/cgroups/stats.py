"""The shape of `runc events --stats` data (runc types/events.go), with Go's omitempty rules.

Runs in the parent (events, ps never). Pure. stats_v1 and stats_v2 fill a `Raw` record; render()
turns it into the dict that goes under "data" in {"type":"stats","id":...,"data":...}: keys in
runc's order, zero numbers and empty lists dropped where runc's JSON tags say omitempty, nested
structs always present (omitempty has no effect on Go structs).
"""

from __future__ import annotations

TYPE_CHECKING = False  # no `typing` import at run time (DESIGN 3.11)
if TYPE_CHECKING:
    from typing import Any


class Raw:
    """Counters as libcontainer's cgroups.Stats holds them (all ints, ns, bytes)."""

    __slots__ = (
        "blkio",
        "cpu_kernel",
        "cpu_total",
        "cpu_user",
        "cpuset",
        "hugetlb",
        "mem_cache",
        "mem_kernel",
        "mem_kernel_tcp",
        "mem_raw",
        "mem_swap",
        "mem_usage",
        "percpu",
        "percpu_kernel",
        "percpu_user",
        "periods",
        "pids_current",
        "pids_limit",
        "throttled_periods",
        "throttled_time",
    )

    def __init__(self) -> None:
        self.cpu_total = self.cpu_kernel = self.cpu_user = 0
        self.percpu: list[int] = []
        self.percpu_kernel: list[int] = []
        self.percpu_user: list[int] = []
        self.periods = self.throttled_periods = self.throttled_time = 0
        self.cpuset: dict[str, Any] = {}
        self.mem_cache = 0
        # (limit, usage, max, failcnt)
        self.mem_usage = self.mem_swap = self.mem_kernel = self.mem_kernel_tcp = (0, 0, 0, 0)
        self.mem_raw: dict[str, int] = {}
        self.pids_current = self.pids_limit = 0
        self.blkio: dict[str, list[tuple[int, int, str, int]]] = {}
        self.hugetlb: dict[str, tuple[int, int, int]] = {}  # size: (usage, max, failcnt)


BLKIO_KEYS = (
    "ioServiceBytesRecursive",
    "ioServicedRecursive",
    "ioQueueRecursive",
    "ioServiceTimeRecursive",
    "ioWaitTimeRecursive",
    "ioMergedRecursive",
    "ioTimeRecursive",
    "sectorsRecursive",
)

_CPUSET_KEYS = (
    ("cpus", None),
    ("cpu_exclusive", 0),
    ("mems", None),
    ("mem_hardwall", 0),
    ("mem_exclusive", 0),
    ("memory_migrate", 0),
    ("memory_spread_page", 0),
    ("memory_spread_slab", 0),
    ("memory_pressure", 0),
    ("sched_load_balance", 0),
    ("sched_relax_domain_level", 0),
)


def _put(d: dict[str, Any], key: str, value: object) -> None:
    if value:
        d[key] = value


def memory_entry(entry: tuple[int, int, int, int]) -> dict[str, Any]:
    limit, usage, mx, failcnt = entry
    d: dict[str, Any] = {"limit": limit}
    _put(d, "usage", usage)
    _put(d, "max", mx)
    d["failcnt"] = failcnt
    return d


def render(r: Raw) -> dict[str, Any]:
    usage: dict[str, Any] = {}
    _put(usage, "total", r.cpu_total)
    _put(usage, "percpu", r.percpu)
    _put(usage, "percpu_kernel", r.percpu_kernel)
    _put(usage, "percpu_user", r.percpu_user)
    usage["kernel"] = r.cpu_kernel
    usage["user"] = r.cpu_user
    throttling: dict[str, Any] = {}
    _put(throttling, "periods", r.periods)
    _put(throttling, "throttledPeriods", r.throttled_periods)
    _put(throttling, "throttledTime", r.throttled_time)
    cpuset: dict[str, Any] = {}
    for key, zero in _CPUSET_KEYS:
        v = r.cpuset.get(key, zero)
        if zero is None:
            _put(cpuset, key, v)
        else:
            cpuset[key] = v
    memory: dict[str, Any] = {}
    _put(memory, "cache", r.mem_cache)
    memory["usage"] = memory_entry(r.mem_usage)
    memory["swap"] = memory_entry(r.mem_swap)
    memory["kernel"] = memory_entry(r.mem_kernel)
    memory["kernelTCP"] = memory_entry(r.mem_kernel_tcp)
    _put(memory, "raw", {k: r.mem_raw[k] for k in sorted(r.mem_raw)})
    pids: dict[str, Any] = {}
    _put(pids, "current", r.pids_current)
    _put(pids, "limit", r.pids_limit)
    blkio: dict[str, Any] = {}
    for key in BLKIO_KEYS:
        entries = []
        for major, minor, op, value in r.blkio.get(key, ()):
            e: dict[str, Any] = {}
            _put(e, "major", major)
            _put(e, "minor", minor)
            _put(e, "op", op)
            _put(e, "value", value)
            entries.append(e)
        _put(blkio, key, entries)
    hugetlb = {}
    for size in sorted(r.hugetlb):
        u, mx, failcnt = r.hugetlb[size]
        h: dict[str, Any] = {}
        _put(h, "usage", u)
        _put(h, "max", mx)
        h["failcnt"] = failcnt
        hugetlb[size] = h
    return {
        "cpu": {"usage": usage, "throttling": throttling},
        "cpuset": cpuset,
        "memory": memory,
        "pids": pids,
        "blkio": blkio,
        "hugetlb": hugetlb,
        "intel_rdt": {},
        "network_interfaces": None,
    }
