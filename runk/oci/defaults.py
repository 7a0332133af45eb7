"""`runk spec`: the default config.json, runc's template (and its --rootless variant).

Runs in the parent; data only.
"""

from __future__ import annotations

from runk import _os as os
from runk.version import OCI_VERSION

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

_CAPS = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]


def cgroup2_unified() -> bool:
    """A cgroup v2 only host: /sys/fs/cgroup is the unified hierarchy (its root has
    cgroup.controllers; on a hybrid host it is a tmpfs of v1 mounts)."""
    return os.path.exists("/sys/fs/cgroup/cgroup.controllers")


def spec_document(rootless: bool = False, unified: bool | None = None) -> dict[str, Any]:
    """runc's template. On a cgroup v2 only host (`unified`, detected when None) it has a cgroup
    namespace too, as runc's `spec` there does."""
    mounts: list[dict[str, Any]] = [
        {"destination": "/proc", "type": "proc", "source": "proc"},
        {
            "destination": "/dev",
            "type": "tmpfs",
            "source": "tmpfs",
            "options": ["nosuid", "strictatime", "mode=755", "size=65536k"],
        },
        {
            "destination": "/dev/pts",
            "type": "devpts",
            "source": "devpts",
            "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"],
        },
        {
            "destination": "/dev/shm",
            "type": "tmpfs",
            "source": "shm",
            "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"],
        },
        {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"]},
        {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]},
        {
            "destination": "/sys/fs/cgroup",
            "type": "cgroup",
            "source": "cgroup",
            "options": ["nosuid", "noexec", "nodev", "relatime", "ro"],
        },
    ]
    namespaces = [{"type": "pid"}, {"type": "network"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}]
    if cgroup2_unified() if unified is None else unified:
        namespaces.append({"type": "cgroup"})
    linux: dict[str, Any] = {
        "resources": {"devices": [{"allow": False, "access": "rwm"}]},
        "namespaces": namespaces,
        "maskedPaths": [
            "/proc/acpi",
            "/proc/asound",
            "/proc/kcore",
            "/proc/keys",
            "/proc/latency_stats",
            "/proc/timer_list",
            "/proc/timer_stats",
            "/proc/sched_debug",
            "/sys/firmware",
            "/proc/scsi",
        ],
        "readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"],
    }
    if rootless:
        # runc spec --rootless: a user namespace mapping the caller, no network namespace,
        # /sys bound from the host, no device rules, no gid=5 on devpts
        uid, gid = os.getuid(), os.getgid()
        linux = {
            "uidMappings": [{"containerID": 0, "hostID": uid, "size": 1}],
            "gidMappings": [{"containerID": 0, "hostID": gid, "size": 1}],
            **linux,
        }
        del linux["resources"]
        linux["namespaces"] = [ns for ns in namespaces if ns["type"] != "network"] + [{"type": "user"}]
        mounts[2]["options"] = mounts[2]["options"][:-1]
        mounts[5] = {
            "destination": "/sys",
            "type": "none",
            "source": "/sys",
            "options": ["rbind", "nosuid", "noexec", "nodev", "ro"],
        }
    return {
        "ociVersion": OCI_VERSION,
        "process": {
            "terminal": True,
            "user": {"uid": 0, "gid": 0},
            "args": ["sh"],
            "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"],
            "cwd": "/",
            "capabilities": {s: list(_CAPS) for s in ("bounding", "effective", "permitted", "ambient")},
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
            "noNewPrivileges": True,
        },
        "root": {"path": "rootfs", "readonly": True},
        "hostname": "runk",
        "mounts": mounts,
        "linux": linux,
    }
