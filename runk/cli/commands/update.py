"""runk update [flags] ID: change the resource limits of a running container (runc update)."""

from __future__ import annotations

import os

from runk.errors import RunkError, UsageError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from runk.cli.globals import Globals

_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "p": 1 << 50}


def ram_in_bytes(value: str) -> int:
    """docker/go-units RAMInBytes, as runc parses --memory: "128m", "1g", "1.5GiB", "1024";
    "-1" means unlimited (swap)."""
    v = value.strip()
    if v == "-1":
        return -1
    i = 0
    while i < len(v) and (v[i].isdigit() or v[i] == "."):
        i += 1
    num, suffix = v[:i], v[i:].strip().lower()
    if suffix.endswith("b"):
        suffix = suffix[:-1]
    if suffix.endswith("i"):
        suffix = suffix[:-1]
    try:
        n = float(num)
    except ValueError:
        raise UsageError(f"invalid size: '{value}'") from None
    if suffix not in _UNITS:
        raise UsageError(f"invalid suffix: '{v[i:]}'")
    return int(n * _UNITS[suffix])


def _int(v: str, name: str) -> int:
    try:
        return int(v)
    except ValueError:
        raise UsageError(f"invalid value for {name}: {v}") from None


def resources_from(opts: dict[str, Any]) -> dict[str, Any]:
    """A LinuxResources object from --resources FILE|- or from the flags (runc: a file or
    stdin wins, and the other flags are ignored)."""
    from runk import _json

    path = opts.get("resources")
    if path:
        try:
            from runk.userfile import read_capped, read_regular

            data = read_capped(0, "resources") if path == "-" else read_regular(path, "resources", streams=True)
            doc = _json.loads(data)
        except OSError as e:
            raise RunkError(f"open {path}: {os.strerror(e.errno or 0).lower()}") from None
        except ValueError as e:
            raise RunkError(f"decode resources from {path}: {e}") from None
        if not isinstance(doc, dict):
            raise RunkError(f"{path}: resources must be a JSON object")
        from runk.oci._schema_validator import validate_resources
        from runk.oci.validate import check_strings

        validate_resources(doc)
        check_strings(doc, "linux.resources")
        return doc
    res: dict[str, Any] = {}
    mem: dict[str, int] = {}
    for flag, key in (
        ("memory", "limit"),
        ("memory_reservation", "reservation"),
        ("memory_swap", "swap"),
        ("kernel_memory", "kernel"),
        ("kernel_memory_tcp", "kernelTCP"),
    ):
        if opts.get(flag):
            mem[key] = ram_in_bytes(opts[flag])
    if mem:
        res["memory"] = mem
    cpu: dict[str, int | str] = {}
    for flag, key in (
        ("cpu_share", "shares"),
        ("cpu_quota", "quota"),
        ("cpu_period", "period"),
        ("cpu_rt_period", "realtimePeriod"),
        ("cpu_rt_runtime", "realtimeRuntime"),
        ("cpu_burst", "burst"),
        ("cpu_idle", "idle"),
    ):
        if opts.get(flag):
            cpu[key] = _int(opts[flag], flag.replace("_", "-"))
    for flag, key in (("cpuset_cpus", "cpus"), ("cpuset_mems", "mems")):
        if opts.get(flag):
            cpu[key] = opts[flag]
    if cpu:
        res["cpu"] = cpu
    if opts.get("pids_limit"):
        res["pids"] = {"limit": _int(opts["pids_limit"], "pids-limit")}
    if opts.get("blkio_weight"):
        # no range check of its own, as runc: the kernel's limits apply (bfq takes 1-1000) and
        # its refusal names the file
        res["blockIO"] = {"weight": _int(opts["blkio_weight"], "blkio-weight")}
    return res


def run(g: Globals, opts: dict[str, Any]) -> int:
    from runk.container.container import load

    res = resources_from(opts)
    c = load(g.root, opts["id"], lock=True)
    try:
        c.update(res)
    finally:
        c.close()
    return 0
