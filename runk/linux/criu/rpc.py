"""CRIU's RPC messages (criu_req, criu_opts, criu_resp), as field numbers and kinds.

Runs in the parent. The numbers are those of CRIU's published rpc.proto (Debian's criu installs
it as /usr/include/criu/rpc.proto); only the fields runk sends or reads are listed. Encoding and
decoding are runk.linux.criu.wire's.
"""

from __future__ import annotations

from runk.linux.criu import wire

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from runk.linux.criu.wire import Schema

# criu_req_type
DUMP = 1
RESTORE = 2
PRE_DUMP = 4
NOTIFY = 6
FEATURE_CHECK = 9
VERSION = 10
TYPE_NAMES = {
    DUMP: "DUMP",
    RESTORE: "RESTORE",
    PRE_DUMP: "PRE_DUMP",
    NOTIFY: "NOTIFY",
    FEATURE_CHECK: "FEATURE_CHECK",
    VERSION: "VERSION",
}

# criu_cg_mode
CG_MODES = {"ignore": 0, "soft": 3, "full": 4, "strict": 5}  # criu_cg_mode

_PAGE_SERVER: Schema = {"address": (1, "string"), "port": (2, "int32")}
_EXT_MOUNT: Schema = {"key": (1, "string"), "val": (2, "string")}
_JOIN_NS: Schema = {"ns": (1, "string"), "ns_file": (2, "string")}
_INHERIT_FD: Schema = {"key": (1, "string"), "fd": (2, "int32")}
_CGROUP_ROOT: Schema = {"ctrl": (1, "string"), "path": (2, "string")}
_FEATURES: Schema = {"mem_track": (1, "bool"), "lazy_pages": (2, "bool")}

OPTS: Schema = {
    "images_dir_fd": (1, "int32"),
    "pid": (2, "int32"),
    "leave_running": (3, "bool"),
    "ext_unix_sk": (4, "bool"),
    "tcp_established": (5, "bool"),
    "evasive_devices": (6, "bool"),
    "shell_job": (7, "bool"),
    "file_locks": (8, "bool"),
    "log_level": (9, "int32"),
    "log_file": (10, "string"),
    "ps": (11, _PAGE_SERVER),
    "notify_scripts": (12, "bool"),
    "root": (13, "string"),
    "parent_img": (14, "string"),
    "track_mem": (15, "bool"),
    "auto_dedup": (16, "bool"),
    "work_dir_fd": (17, "int32"),
    "ext_mnt[]": (23, _EXT_MOUNT),
    "manage_cgroups": (24, "bool"),
    "cg_root[]": (25, _CGROUP_ROOT),
    "rst_sibling": (26, "bool"),
    "inherit_fd[]": (27, _INHERIT_FD),
    "manage_cgroups_mode": (34, "uint32"),
    "external[]": (37, "string"),
    "empty_ns": (38, "uint32"),
    "join_ns[]": (39, _JOIN_NS),
    "freeze_cgroup": (44, "string"),
    "lazy_pages": (48, "bool"),
    "status_fd": (49, "int32"),
    "orphan_pts_master": (50, "bool"),
    "config_file": (51, "string"),
    "lsm_profile": (53, "string"),
    "lsm_mount_context": (63, "string"),
}

REQ: Schema = {
    "type": (1, "uint32"),
    "opts": (2, OPTS),
    "notify_success": (3, "bool"),
    "features": (5, _FEATURES),
}


def request(rtype: int, opts: dict[str, Any] | None = None, features: dict[str, Any] | None = None) -> bytes:
    return wire.encode(REQ, {"type": rtype, "opts": opts, "features": features})


def notify_ack() -> bytes:
    """The answer to a notification: go on."""
    return wire.encode(REQ, {"type": NOTIFY, "notify_success": True})


class Response:
    """One criu_resp: its type, success, and what runk reads of it."""

    __slots__ = ("cr_errmsg", "cr_errno", "features", "pid", "script", "success", "type", "version")

    def __init__(self, data: bytes) -> None:
        f = wire.decode(data)
        self.type = wire.get_int(f, 1)
        self.success = bool(wire.get_int(f, 2))
        self.cr_errno = wire.get_int(f, 7)
        msg = wire.get_bytes(f, 9)
        self.cr_errmsg = msg.decode(errors="replace") if msg else ""
        notify = wire.get_message(f, 5) or {}
        script = wire.get_bytes(notify, 1)
        self.script = script.decode(errors="replace") if script else ""
        self.pid = wire.get_int(notify, 2)
        restore = wire.get_message(f, 4)
        if restore is not None:
            self.pid = wire.get_int(restore, 1)
        feats = wire.get_message(f, 8) or {}
        self.features = {"mem_track": bool(wire.get_int(feats, 1)), "lazy_pages": bool(wire.get_int(feats, 2))}
        ver = wire.get_message(f, 10)
        # major*10000 + minor*100 + sublevel, as runc compares versions (3.17.1 -> 31701)
        self.version = 0
        if ver is not None:
            self.version = wire.get_int(ver, 1) * 10000 + wire.get_int(ver, 2) * 100 + wire.get_int(ver, 4)
