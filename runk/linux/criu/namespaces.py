"""The container's namespaces across a checkpoint: those it joined (a path in the config) are not
its own, and CRIU must leave them out of the images and put the restored tasks back into them.

Runs in the parent. At dump, a joined network or pid namespace is declared external by its inode
("net[INODE]:extRootNetNS"); at restore the namespace at that path is handed to CRIU as an
inherited fd of that name, and the other joined namespaces are joined (join_ns). CRIU cannot join
a cgroup namespace (runc refuses it too). runc's rules and key names, so images are exchangeable.
"""

from __future__ import annotations

from runk import _os as os
from runk.errors import ConfigError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

# OCI namespace type -> CRIU's (and /proc/PID/ns's) name
NS_NAME = {
    "network": "net",
    "pid": "pid",
    "mount": "mnt",
    "ipc": "ipc",
    "uts": "uts",
    "user": "user",
    "cgroup": "cgroup",
    "time": "time",
}
_EXTERNAL = ("network", "pid")


def _key(kind: str) -> str:
    name = NS_NAME[kind]
    return f"extRoot{name.capitalize()}NS"


def _joined(cfg: dict[str, Any]) -> list[tuple[int, str, str]]:
    out = []
    for i, n in enumerate((cfg.get("linux") or {}).get("namespaces") or []):
        if n.get("path") and n.get("type") in NS_NAME:
            out.append((i, str(n["type"]), str(n["path"])))
    return out


def dump_externals(cfg: dict[str, Any]) -> list[str]:
    """CRIU's `external` entries of a dump: the joined network and pid namespaces."""
    out = []
    for i, kind, path in _joined(cfg):
        if kind not in _EXTERNAL:
            continue
        try:
            ino = os.stat(path).st_ino
        except OSError as e:
            raise ConfigError(f"linux.namespaces[{i}].path", f"{path}: {os.strerror(e.errno or 0).lower()}") from None
        out.append(f"{NS_NAME[kind]}[{ino}]:{_key(kind)}")
    return out


def restore_plan(cfg: dict[str, Any]) -> tuple[list[tuple[str, int]], list[dict[str, str]]]:
    """([(inherit_fd key, open fd)], join_ns entries) of a restore; the caller closes the fds."""
    inherit: list[tuple[str, int]] = []
    join: list[dict[str, str]] = []
    try:
        for i, kind, path in _joined(cfg):
            if kind in _EXTERNAL:
                try:
                    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
                except OSError:
                    raise ConfigError(
                        f"linux.namespaces[{i}].path", f"Requested {kind} namespace {path} does not exist"
                    ) from None
                inherit.append((_key(kind), fd))
            elif kind == "cgroup":
                raise ConfigError(f"linux.namespaces[{i}]", "Do not know how to handle namespace cgroup")
            else:
                join.append({"ns": NS_NAME[kind], "ns_file": path})
    except BaseException:
        for _k, fd in inherit:
            os.close(fd)
        raise
    return inherit, join
