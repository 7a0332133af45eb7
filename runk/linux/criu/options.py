"""CriuOptions: the flags of `runk checkpoint` and `runk restore`, checked as runc checks them.

Runs in the parent. The image directory defaults to ./checkpoint and is made if missing (runc);
--parent-path must be relative to it and name a directory; --page-server is ADDRESS:PORT;
--manage-cgroups-mode is soft, full, strict or ignore (runc main: CRIU leaves the cgroups
alone, the restored tasks stay where criu runs, which runk puts in the container's group);
--empty-ns knows "network" only, and the network namespace is always restored empty: runk, as
runc, does not manage network devices, so CRIU creates the namespace and leaves its
configuration to whoever made it (CNI, podman).
"""

from __future__ import annotations

from runk import _os as os
from runk.errors import RunkError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

CLONE_NEWNET = 0x40000000
_EMPTY_NS = {"network": CLONE_NEWNET}


class CriuOptions:
    __slots__ = (
        "auto_dedup",
        "empty_ns",
        "ext_unix_sk",
        "file_locks",
        "image_path",
        "lazy_pages",
        "leave_running",
        "lsm_mount_context",
        "lsm_profile",
        "manage_cgroups_mode",
        "page_server",
        "parent_path",
        "pre_dump",
        "shell_job",
        "status_fd",
        "tcp_established",
        "work_path",
    )

    def __init__(self) -> None:
        self.image_path = ""
        self.work_path = ""
        self.parent_path = ""
        self.leave_running = False
        self.tcp_established = False
        self.ext_unix_sk = False
        self.shell_job = False
        self.file_locks = False
        self.pre_dump = False
        self.auto_dedup = False
        self.lazy_pages = False
        self.status_fd = -1
        self.page_server: tuple[str, int] | None = None
        self.manage_cgroups_mode: str | None = None
        self.empty_ns = CLONE_NEWNET
        self.lsm_profile = ""
        self.lsm_mount_context = ""


def image_paths(image_path: str | None, parent_path: str | None) -> tuple[str, str]:
    """runc prepareImagePaths: the image directory (made if missing), the checked parent path."""
    path = os.path.abspath(image_path or os.path.join(os.getcwd(), "checkpoint"))
    try:
        os.makedirs(path, 0o700, exist_ok=True)
    except OSError as e:
        raise RunkError(f"mkdir {path}: {os.strerror(e.errno or 0).lower()}") from None
    parent = parent_path or ""
    if not parent:
        return path, ""
    if parent.startswith("/"):
        raise RunkError("--parent-path must be relative")
    real = os.path.normpath(os.path.join(path, parent))
    try:
        st = os.stat(real)
    except OSError as e:
        raise RunkError(f"invalid --parent-path: stat {real}: {os.strerror(e.errno or 0).lower()}") from None
    import stat

    if not stat.S_ISDIR(st.st_mode):
        raise RunkError(f"invalid --parent-path: {real}: not a directory")
    return path, parent


def page_server(value: str | None) -> tuple[str, int] | None:
    if not value:
        return None
    address, sep, port = value.rpartition(":")
    if address.startswith("[") and address.endswith("]"):
        address = address[1:-1]
    if not sep or not address or not port:
        raise RunkError("Use --page-server ADDRESS:PORT to specify page server")
    if not port.isdigit():
        raise RunkError("Invalid port number")
    return address, int(port)


def cgroups_mode(value: str | None) -> str | None:
    if not value:
        return None
    if value not in ("soft", "full", "strict", "ignore"):
        raise RunkError("Invalid manage cgroups mode")
    return value


def empty_ns_mask(names: list[str]) -> int:
    mask = CLONE_NEWNET
    for name in names:
        if name not in _EMPTY_NS:
            raise RunkError(f'namespace "{name}" is not supported')
        mask |= _EMPTY_NS[name]
    return mask


def from_flags(opts: dict[str, Any]) -> CriuOptions:
    """The options of one command line; the cheap checks first, then the image directory."""
    o = CriuOptions()
    o.work_path = os.path.abspath(opts["work_path"]) if opts.get("work_path") else ""
    for name in (
        "leave_running",
        "tcp_established",
        "ext_unix_sk",
        "shell_job",
        "file_locks",
        "pre_dump",
        "auto_dedup",
        "lazy_pages",
    ):
        setattr(o, name, bool(opts.get(name)))
    o.status_fd = int(opts.get("status_fd", -1) if opts.get("status_fd") is not None else -1)
    o.lsm_profile = opts.get("lsm_profile") or ""
    o.lsm_mount_context = opts.get("lsm_mount_context") or ""
    o.image_path, o.parent_path = image_paths(opts.get("image_path"), opts.get("parent_path"))
    return o


def finish(o: CriuOptions, opts: dict[str, Any]) -> CriuOptions:
    """The checks runc makes after the options (page server, cgroups mode, namespaces)."""
    o.page_server = page_server(opts.get("page_server"))
    o.manage_cgroups_mode = cgroups_mode(opts.get("manage_cgroups_mode"))
    o.empty_ns = empty_ns_mask(list(opts.get("empty_ns") or ()))
    return o
