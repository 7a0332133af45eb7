"""Read <bundle>/config.json; the rootfs path and the namespaces it names; the container's /proc.

Runs in the parent. Validation (schema, then semantics) happens in runk.oci.validate; the
translation into the container plan is runk.oci.plan's.
"""

from __future__ import annotations

from runk import _json
from runk import _os as os
from runk.errors import ConfigError, RunkError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def load(bundle: str) -> tuple[dict[str, Any], bytes]:
    """(config, raw bytes) of <bundle>/config.json, with runc's messages."""
    from runk.userfile import read_regular

    path = os.path.join(bundle, "config.json")
    try:
        raw = read_regular(path, "config.json")  # a regular file, at most 16 MiB
    except FileNotFoundError:
        raise RunkError("JSON specification file config.json not found") from None
    except OSError as e:
        raise RunkError(f"open {path}: {os.strerror(e.errno or 0).lower()}") from None
    try:
        cfg = _json.loads(raw)
    except ValueError as e:
        raise ConfigError("", f"config.json is not valid JSON: {e}") from None
    if not isinstance(cfg, dict):
        raise ConfigError("", "config.json must hold a JSON object")
    return cfg, raw


def rootfs_path(cfg: dict[str, Any], bundle: str) -> str:
    root = (cfg.get("root") or {}).get("path") or "rootfs"
    if not os.path.isabs(root):
        root = os.path.join(bundle, root)
    real = os.path.realpath(root)
    if not os.path.isdir(real):
        raise RunkError(f"rootfs ({root}) does not exist")
    return real


def namespaces(cfg: dict[str, Any]) -> dict[str, str | None]:
    """type -> path (None: new) in config order."""
    return {ns["type"]: (ns.get("path") or None) for ns in (cfg.get("linux") or {}).get("namespaces") or []}


def check_proc(cfg: dict[str, Any], bundle: str, rootfs: str) -> None:
    """The container's /proc is a procfs: a bind onto /proc must bind the root of one, and a
    container with a mount namespace must get one (runc fails it at create too)."""
    from runk.linux import procmounts

    have = False
    for i, m in enumerate(cfg.get("mounts") or []):
        if procmounts.destination(m) != "/proc":
            continue
        have = True
        if procmounts.is_bind(m):
            src = m["source"] if os.path.isabs(m["source"]) else os.path.join(bundle, m["source"])
            why = procmounts.source_problem(src)
            if why:
                raise ConfigError(f"mounts[{i}]", why)
    if not have and not procmounts.rootfs_has_procfs(rootfs):
        raise ConfigError(
            "mounts",
            'no "proc" mount at /proc: a container with a mount namespace needs '
            "one (runk writes sysctls and reopens the exec fifo through it)",
        )
