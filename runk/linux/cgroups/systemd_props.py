"""OCI linux.resources → systemd unit properties, as runc's systemd driver converts them.

Runs in the parent (create and update with --systemd-cgroup); pure: imports convert,
devices_rules and errors, and reads /proc/devices for device groups. A property is
(name, (D-Bus signature, value)), the shape of the a(sv) arrays of StartTransientUnit and
SetUnitProperties. What has no property here is still written to the unit's cgroup files by
the cgroupfs code (V2Manager.set), as runc does after SetUnitProperties.
"""

from __future__ import annotations

from runk.errors import CgroupError
from runk.linux.cgroups import convert
from runk.linux.cgroups.devices_rules import WILDCARD, Emulator, parse_rules
from runk.linux.cgroups.v1_pids import pids_value

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    Prop = tuple[str, tuple[str, Any]]

DEVICE_PATH_VERSION = 240  # systemd parses /dev/{char,block}/M:m without a node from this version on
CPU_IDLE_VERSION = 252  # systemd takes CPUWeight=0 as cpu.idle=1 from this version on (runc main)
UINT64_MAX = (1 << 64) - 1  # systemd's USEC_INFINITY / CGROUP_LIMIT_MAX: "infinity"
DEFAULT_PERIOD = 100000  # the kernel's default cpu.max period, in microseconds
QUOTA_PERIOD_SINCE = 242  # systemd version that knows CPUQuotaPeriodUSec
ALLOWED_CPUS_SINCE = 244  # ... AllowedCPUs / AllowedMemoryNodes


def _u64(value: int) -> int:
    """An OCI int64 as systemd's uint64: -1 (unlimited) is infinity."""
    return UINT64_MAX if value < 0 else value


def quota_per_sec(quota: int, period: int) -> int:
    """CPUQuotaPerSecUSec for cpu.max "quota period": systemd keeps whole percents, so a value
    that is not a multiple of 10 ms per second is rounded up (runc addCpuQuota). quota <= 0 is
    infinity."""
    if quota <= 0:
        return UINT64_MAX
    per_sec = quota * 1000000 // (period or DEFAULT_PERIOD)
    if per_sec % 10000:
        per_sec = (per_sec // 10000 + 1) * 10000
    return per_sec


def cpu_quota(quota: int, period: int, version: int) -> list[Prop]:
    """CPUQuotaPeriodUSec (systemd >= 242) and CPUQuotaPerSecUSec, when either is set."""
    out: list[Prop] = []
    if period and version >= QUOTA_PERIOD_SINCE:
        out.append(("CPUQuotaPeriodUSec", ("t", period)))
    if quota or period:
        out.append(("CPUQuotaPerSecUSec", ("t", quota_per_sec(quota, period))))
    return out


def range_to_bits(text: str, field: str = "cpus") -> bytes:
    """A cpuset list ("0-2,7") → systemd's AllowedCPUs bytes: bit n is bit n % 8 of byte n // 8.
    Empty elements and spaces are allowed, an empty set is not (runc RangeToBits)."""
    bits = 0
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        lo, sep, hi = part.partition("-")
        try:
            start = int(lo.strip())
            end = int(hi.strip()) if sep else start
        except ValueError:
            raise CgroupError(f'cannot set linux.resources.cpu.{field}: invalid cpuset "{text}"') from None
        if start < 0 or end < start or end >= 1 << 32:
            raise CgroupError(f'cannot set linux.resources.cpu.{field}: invalid range "{part}" in "{text}"')
        if end - start > 1 << 16:
            raise CgroupError(f'cannot set linux.resources.cpu.{field}: range "{part}" too large')
        for i in range(start, end + 1):
            bits |= 1 << i
    if not bits:
        raise CgroupError(f'cannot set linux.resources.cpu.{field}: empty cpuset "{text}"')
    return bits.to_bytes((bits.bit_length() + 7) // 8, "little")


def cpuset(cpus: str, mems: str, version: int) -> list[Prop]:
    if version < ALLOWED_CPUS_SINCE:
        return []  # older systemd: the cgroup files alone
    out: list[Prop] = []
    if cpus:
        out.append(("AllowedCPUs", ("ay", range_to_bits(cpus, "cpus"))))
    if mems:
        out.append(("AllowedMemoryNodes", ("ay", range_to_bits(mems, "mems"))))
    return out


def _device_group(type_: str, major: int, proc_devices: str) -> str:
    """The /proc/devices name of a major ("char-pts"), for a major:* rule; "" if none."""
    want = "Character devices:" if type_ == "c" else "Block devices:"
    section = ""
    for line in proc_devices.splitlines():
        line = line.strip()
        if line.endswith(":"):
            section = line
            continue
        fields = line.split()
        if section == want and len(fields) == 2 and fields[0] == str(major):
            return ("char-" if type_ == "c" else "block-") + fields[1]
    return ""


def _read_proc_devices() -> str:
    try:
        with open("/proc/devices") as f:
            return f.read()
    except OSError:
        return ""


def _node_exists(path: str) -> bool:
    from runk import _os as os

    return os.path.exists(path) or os.path.exists("/sys" + path)


def devices(
    rules: list[Any],
    warn: Callable[[str], None],
    proc_devices: Callable[[], str] = _read_proc_devices,
    node_exists: Callable[[str], bool] = _node_exists,
    version: int = 0,
) -> list[Prop]:
    """DevicePolicy/DeviceAllow for the container's rules (an allow-list in systemd's strict
    mode). systemd has no deny-lists: allow-all becomes DevicePolicy=auto, another deny-list a
    temporary deny-all; "*:n" rules and majors without a name are left to the eBPF filter the
    cgroupfs code installs, with runc's warnings. A "/dev/char/M:m" path is given to systemd 240+
    as it is (it reads the numbers from the name, runc main relies on it); an older one stats it,
    so a missing node is skipped with runc 1.1.5's warning."""
    emu = Emulator.from_rules(parse_rules(rules))
    strict: list[Prop] = [("DevicePolicy", ("s", "strict")), ("DeviceAllow", ("a(ss)", []))]
    if emu.default_allow:
        if not emu.rules:
            return [("DevicePolicy", ("s", "auto")), ("DeviceAllow", ("a(ss)", []))]
        warn("systemd doesn't support blacklist device rules -- applying temporary deny-all rule")
        return strict
    allow: list[tuple[str, str]] = []
    names = ""
    for rule in emu.clean_rules():
        if rule.type not in ("b", "c"):
            continue
        kind = "char" if rule.type == "c" else "block"
        if rule.major == WILDCARD:
            if rule.minor != WILDCARD:
                warn(f"systemd doesn't support '*:n' device rules -- temporarily ignoring rule: {rule.cgroup_string()}")
                continue
            path = kind + "-*"
        elif rule.minor == WILDCARD:
            names = names or proc_devices()
            path = _device_group(rule.type, rule.major, names)
            if not path:
                warn(
                    f"could not find device group for '{rule.type}/{rule.major}' in /proc/devices -- "
                    f"temporarily ignoring rule: {rule.cgroup_string()}"
                )
                continue
        else:
            path = f"/dev/{kind}/{rule.major}:{rule.minor}"
            if version < DEVICE_PATH_VERSION and not node_exists(path):
                warn(f"skipping device {path} for systemd: stat /sys{path}: no such file or directory")
                continue
        allow.append((path, rule.access))
    return [*strict, ("DeviceAllow", ("a(ss)", allow))]


_UNIFIED_MEMORY = {
    "memory.high": "MemoryHigh",
    "memory.low": "MemoryLow",
    "memory.min": "MemoryMin",
    "memory.max": "MemoryMax",
    "memory.swap.max": "MemorySwapMax",
}


def _unified_uint(key: str, value: str) -> int:
    if value == "max":
        return UINT64_MAX
    try:
        n = int(value)
    except ValueError:
        n = -1
    if n < 0:
        raise CgroupError(f'cannot set linux.resources.unified["{key}"]: invalid value "{value}"')
    return n


def unified(values: dict[str, str], version: int, warn: Callable[[str], None]) -> list[Prop]:
    """linux.resources.unified keys systemd has a property for (the rest: files only)."""
    out: list[Prop] = []
    idle = str(values.get("cpu.idle", "")).strip() == "1" and version >= CPU_IDLE_VERSION
    if idle:
        out.append(("CPUWeight", ("t", 0)))
    for key, raw in values.items():
        if "/" in key:
            raise CgroupError(f'cannot set linux.resources.unified["{key}"]: must be a file name (no slashes)')
        if "." not in key:
            raise CgroupError(f'cannot set linux.resources.unified["{key}"]: must be in the form CONTROLLER.PARAMETER')
        value = str(raw).strip()
        if key == "cpu.max":
            fields = value.split()
            if not 1 <= len(fields) <= 2:
                raise CgroupError(f'cannot set linux.resources.unified["{key}"]: invalid value "{value}"')
            quota = 0 if fields[0] == "max" else _unified_uint(key, fields[0])
            period = _unified_uint(key, fields[1]) if len(fields) == 2 else DEFAULT_PERIOD
            out += cpu_quota(quota, period, version)
        elif key == "cpu.weight":
            weight = _unified_uint(key, value)
            if idle:
                warn("unable to apply both cpu.weight and cpu.idle to systemd, ignoring cpu.weight")
            else:
                out.append(("CPUWeight", ("t", weight)))
        elif key in ("cpuset.cpus", "cpuset.mems"):
            field = key.split(".")[1]
            out += cpuset(value if field == "cpus" else "", value if field == "mems" else "", version)
        elif key in _UNIFIED_MEMORY:
            out.append((_UNIFIED_MEMORY[key], ("t", _unified_uint(key, value))))
        elif key == "pids.max":
            out.append(("TasksMax", ("t", _unified_uint(key, value))))
    return out


def resources(res: dict[str, Any], version: int, warn: Callable[[str], None]) -> list[Prop]:
    """The unit properties for linux.resources (create and update), in runc's order: devices,
    memory, swap, CPU weight, quota, tasks, cpuset, then the unified keys, which override."""
    out: list[Prop] = []
    if res.get("devices") is not None:
        out += devices(res["devices"], warn, version=version)
    mem = res.get("memory") or {}
    limit = int(mem.get("limit") or 0)
    if limit:
        out.append(("MemoryMax", ("t", _u64(limit))))
    if mem.get("reservation"):
        out.append(("MemoryLow", ("t", _u64(int(mem["reservation"])))))
    swap = convert.swap_to_v2(int(mem.get("swap") or 0), limit)
    if swap:
        out.append(("MemorySwapMax", ("t", _u64(swap))))
    cpu = res.get("cpu") or {}
    idle = cpu.get("idle") == 1 and version >= CPU_IDLE_VERSION
    if idle:
        out.append(("CPUWeight", ("t", 0)))  # systemd 252+: weight 0 is "idle" (cpu.idle 1)
    weight = convert.shares_to_weight(int(cpu.get("shares") or 0))
    if weight and idle:
        warn("unable to apply both CPUWeight and CpuIdle to systemd, ignoring CPUWeight")
    elif weight:
        out.append(("CPUWeight", ("t", weight)))
    out += cpu_quota(int(cpu.get("quota") or 0), int(cpu.get("period") or 0), version)
    pids = pids_value(res)  # the pids.max the cgroupfs drivers write: a limit of 0 is 1 (runc)
    if pids:
        out.append(("TasksMax", ("t", UINT64_MAX if pids == "max" else int(pids))))
    if cpu.get("cpus") or cpu.get("mems"):
        out += cpuset(str(cpu.get("cpus") or ""), str(cpu.get("mems") or ""), version)
    io_weight = convert.blkio_weight_to_io_weight(int((res.get("blockIO") or {}).get("weight") or 0))
    if io_weight:
        out.append(("IOWeight", ("t", io_weight)))
    if res.get("unified"):
        out += unified(res["unified"], version, warn)
    return out


def _missing_device_node(rules: list[Any], node_exists: Callable[[str], bool] = _node_exists) -> bool:
    """Does an allowed major:minor rule name a node this host lacks? Only then does devices()
    depend on systemd's version (most creates: no, and no D-Bus call to ask)."""
    for r in rules:
        major, minor, kind = r.get("major"), r.get("minor"), {"c": "char", "b": "block"}.get(r.get("type") or "")
        if r.get("allow") and kind and isinstance(major, int) and isinstance(minor, int) and major >= 0 and minor >= 0:
            if not node_exists(f"/dev/{kind}/{major}:{minor}"):
                return True
    return False


def needs_version(res: dict[str, Any]) -> bool:
    """Does converting `res` depend on systemd's version (a D-Bus call to learn it)?"""
    cpu = res.get("cpu") or {}
    keys = ("cpu.max", "cpuset.cpus", "cpuset.mems", "cpu.idle")
    if _missing_device_node(res.get("devices") or []):
        return True  # whether systemd takes it by its numbers (devices)
    return bool(cpu.get("period") or cpu.get("cpus") or cpu.get("mems") or cpu.get("idle")) or any(
        k in (res.get("unified") or {}) for k in keys
    )
