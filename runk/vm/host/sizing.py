"""How big a container's micro-VM is: vCPUs and guest memory (host, runk create).

Sources, in order (a later one raises what an earlier one gives, never lowers it):
  1. the default: DEFAULT_MEM_MB and one vCPU, or Kata's hypervisor annotations
     io.katacontainers.config.hypervisor.default_memory (MiB) and .default_vcpus, which replace
     the default as they do in Kata's configuration;
  2. the workload: the CRI sandbox annotations containerd puts on a pod's sandbox container
     (io.kubernetes.cri.sandbox-memory in bytes, -cpu-quota / -cpu-period: the sums of the
     pod's containers' limits) where present and non-zero, else the container's own
     linux.resources (memory.limit, cpu.quota / cpu.period, cpu.cpus). Memory W gives
     W + OVERHEAD_MB (guest kernel and agent), vCPUs ceil(quota / period).
The result is within what the host allows: vCPUs at most the host's CPUs (as Kata caps them);
memory at most HOST_MEM_FRACTION of MemAvailable, else a ConfigError naming the source.

Pure functions over explicit inputs (host CPUs, MemAvailable) so the unit tests need no VM.
"""

from __future__ import annotations

from runk.errors import ConfigError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

MB = 1 << 20
DEFAULT_MEM_MB = 256  # the guest memory without a limit (kernel, agent, page cache)
MIN_MEM_MB = 128  # the least a guest boots with (python3 and the agent need ~60 MiB)
OVERHEAD_MB = 192  # added to a memory limit: the guest kernel and the agent
HOST_MEM_FRACTION = 0.75  # of MemAvailable: the most one VM may ask for
DEFAULT_PERIOD = 100000

CRI_MEMORY = "io.kubernetes.cri.sandbox-memory"
CRI_CPU_QUOTA = "io.kubernetes.cri.sandbox-cpu-quota"
CRI_CPU_PERIOD = "io.kubernetes.cri.sandbox-cpu-period"
KATA_MEMORY = "io.katacontainers.config.hypervisor.default_memory"
KATA_VCPUS = "io.katacontainers.config.hypervisor.default_vcpus"


def _number(ann: Mapping[str, str], key: str, *, fractional: bool = False) -> float:
    """The annotation's non-negative value (0 when absent or empty), or a ConfigError."""
    raw = str(ann.get(key) or "").strip()
    if not raw:
        return 0
    try:
        value = float(raw) if fractional else int(raw)
    except ValueError:
        value = -1
    if value < 0 or value != value or value == float("inf"):
        kind = "number" if fractional else "integer"
        raise ConfigError(f"annotations[{key}]", f"{raw!r}: expected a non-negative {kind}")
    return value


def _ceil_div(a: float, b: float) -> int:
    q = int(a // b)
    return q + (1 if q * b < a else 0)


def _cpu_list(text: str) -> set[int]:
    out: set[int] = set()
    for part in text.split(","):
        part = part.strip()
        if "-" in part:
            a, b = part.split("-", 1)
            out.update(range(int(a), int(b) + 1))
        elif part:
            out.add(int(part))
    return out


def workload(resources: Mapping[str, Any] | None, ann: Mapping[str, str]) -> tuple[int, int, str, str]:
    """(memory bytes, vCPUs, where the memory came from, where the vCPUs came from) the
    workload asks for; 0 where it sets no limit."""
    res = resources or {}
    mem, mem_from = int(_number(ann, CRI_MEMORY)), f"annotations[{CRI_MEMORY}]"
    if not mem:
        limit = (res.get("memory") or {}).get("limit")
        mem, mem_from = (limit if isinstance(limit, int) and limit > 0 else 0), "linux.resources.memory.limit"
    quota = _number(ann, CRI_CPU_QUOTA)
    if quota:
        period = _number(ann, CRI_CPU_PERIOD) or DEFAULT_PERIOD
        return mem, _ceil_div(quota, period), mem_from, f"annotations[{CRI_CPU_QUOTA}]"
    cpu = res.get("cpu") or {}
    cpus = 0
    q, p = cpu.get("quota"), cpu.get("period") or DEFAULT_PERIOD
    if isinstance(q, int) and q > 0 and isinstance(p, int) and p > 0:
        cpus = _ceil_div(q, p)
    if cpu.get("cpus"):
        listed = len(_cpu_list(str(cpu["cpus"])))
        cpus = min(cpus, listed) if cpus else listed
    return mem, cpus, mem_from, "linux.resources.cpu"


def vm_size(
    resources: Mapping[str, Any] | None,
    host_cpus: int,
    annotations: Mapping[str, str] | None = None,
    mem_available_mb: int | None = None,
) -> tuple[int, int]:
    """(guest memory in MiB, rounded up to 2 MiB; vCPUs) for the sources of the module doc."""
    ann = annotations or {}
    base_mem = int(_number(ann, KATA_MEMORY)) or DEFAULT_MEM_MB
    base_cpus = _ceil_div(_number(ann, KATA_VCPUS, fractional=True), 1) or 1
    mem_bytes, cpus, mem_from, _ = workload(resources, ann)
    mem, src = max(MIN_MEM_MB, base_mem), f"annotations[{KATA_MEMORY}]" if _number(ann, KATA_MEMORY) else ""
    if mem_bytes and _ceil_div(mem_bytes, MB) + OVERHEAD_MB > mem:
        mem, src = _ceil_div(mem_bytes, MB) + OVERHEAD_MB, mem_from
    mem += mem % 2
    if mem_available_mb is not None and mem > mem_available_mb * HOST_MEM_FRACTION:
        most = int(mem_available_mb * HOST_MEM_FRACTION)
        raise ConfigError(
            src,
            f"the VM would need {mem} MiB of memory; this host can give at most {most} MiB "
            f"({int(HOST_MEM_FRACTION * 100)}% of MemAvailable)",
        )
    return mem, max(1, min(max(base_cpus, cpus), max(1, host_cpus)))


def mem_available_mb(meminfo: str = "/proc/meminfo") -> int | None:
    """MemAvailable in MiB, None when the kernel does not say."""
    try:
        with open(meminfo) as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) // 1024
    except (OSError, ValueError, IndexError):
        pass
    return None
