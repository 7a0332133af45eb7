"""`runk features`: the OCI features document (runtime-spec features.md), listing only what
this build of runk really implements.

Runs in the parent. The VM backend contributes its own document (runk-vm features).
"""

from __future__ import annotations

from runk.version import OCI_VERSION

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

HOOKS = ["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"]
NAMESPACES = ["cgroup", "ipc", "mount", "network", "pid", "time", "user", "uts"]
SECCOMP_ACTIONS = [
    "SCMP_ACT_ALLOW",
    "SCMP_ACT_ERRNO",
    "SCMP_ACT_KILL",
    "SCMP_ACT_KILL_PROCESS",
    "SCMP_ACT_KILL_THREAD",
    "SCMP_ACT_LOG",
    "SCMP_ACT_NOTIFY",
    "SCMP_ACT_TRACE",
    "SCMP_ACT_TRAP",
]
# WAIT_KILLABLE_RECV is passed to the kernel with a notify listener (linux 5.19)
SECCOMP_FLAGS = [
    "SECCOMP_FILTER_FLAG_TSYNC",
    "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
    "SECCOMP_FILTER_FLAG_LOG",
    "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV",
]
SECCOMP_OPERATORS = [
    "SCMP_CMP_EQ",
    "SCMP_CMP_GE",
    "SCMP_CMP_GT",
    "SCMP_CMP_LE",
    "SCMP_CMP_LT",
    "SCMP_CMP_MASKED_EQ",
    "SCMP_CMP_NE",
]


def features_document() -> dict[str, Any]:
    from runk.linux import caps, mounts, schedattr
    from runk.linux.cgroups.layout import systemd_running

    systemd = systemd_running()  # the systemd driver works where systemd runs (both instances)

    doc: dict[str, Any] = {
        "ociVersionMin": "1.0.0",
        "ociVersionMax": OCI_VERSION,
        "hooks": list(HOOKS),
        "mountOptions": mounts.all_options(),
        "linux": {
            "namespaces": list(NAMESPACES),
            "capabilities": sorted(caps.NAMES, key=caps.NAMES.__getitem__),
            "cgroup": {"v1": True, "v2": True, "systemd": systemd, "systemdUser": systemd, "rdma": True},
            "seccomp": _seccomp(),
            "apparmor": {"enabled": False},
            "selinux": {"enabled": False},
            "intelRdt": {"enabled": False},
            "mountExtensions": {"idmap": {"enabled": _idmap_supported()}},
            "netDevices": {"enabled": True},
            "memoryPolicy": {"modes": sorted(schedattr.MPOL_MODES), "flags": sorted(schedattr.MPOL_FLAGS)},
        },
        "annotations": {},
    }
    try:
        from runk.linux import seccomp

        doc["annotations"]["io.github.seccomp.libseccomp.version"] = seccomp.libseccomp_version()
    except (ImportError, AttributeError):
        pass
    return doc


def _idmap_supported() -> bool:
    """Id-mapped mounts need mount_setattr(2) (Linux 5.12): probed with a call that can only
    fail (bad fd), ENOSYS telling a kernel without it."""
    import errno

    from runk._native import ffi, lib

    ret: int = lib.runk_mount_setattr(-1, b"", 0, 0, 0, 0)
    err: int = ffi.errno
    return ret == 0 or err != errno.ENOSYS


def _seccomp() -> dict[str, Any]:
    try:
        from runk.linux import seccomp

        archs = seccomp.supported_archs()
    except (ImportError, AttributeError):
        return {"enabled": False}
    return {
        "enabled": True,
        "actions": list(SECCOMP_ACTIONS),
        "operators": list(SECCOMP_OPERATORS),
        "archs": archs,
        "knownFlags": list(SECCOMP_FLAGS),
        "supportedFlags": list(SECCOMP_FLAGS),
    }
