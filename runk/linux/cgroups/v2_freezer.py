"""cgroup v2 freezer: cgroup.freeze, and cgroup.events "frozen" to know when it took effect.

Runs in the parent. Hot path (state/list): imports only time and fs. runc fs2/freezer.go: after
writing 1, wait up to 10 s for "frozen 1"; cgroup.freeze exists in every non-root v2 group,
with or without controllers.
"""

from __future__ import annotations

import time

from runk.errors import CgroupError
from runk.linux.cgroups import fs

THAWED = "THAWED"
FROZEN = "FROZEN"


def frozen_event(path: str) -> bool:
    for line in (fs.read_opt(path, "cgroup.events") or "").splitlines():
        if line.startswith("frozen "):
            return line.split()[1] == "1"
    return False


def freeze(path: str, timeout: float = 10.0) -> None:
    if not fs.has(path, "cgroup.freeze"):
        raise CgroupError(f"cannot freeze {path}: cgroup.freeze does not exist (kernel before 5.2)")
    fs.write(path, "cgroup.freeze", "1", "freezer")
    deadline = time.monotonic() + timeout
    while not frozen_event(path):
        if time.monotonic() > deadline:
            fs.write(path, "cgroup.freeze", "0", "freezer")
            raise CgroupError(f"timeout of {timeout:g}s reached waiting for {path} to freeze")
        time.sleep(0.01)


def thaw(path: str) -> None:
    if fs.has(path, "cgroup.freeze"):
        fs.write(path, "cgroup.freeze", "0", "freezer")


def state(path: str) -> str:
    """THAWED / FROZEN from cgroup.freeze, "" when the group is gone.

    A group asked to freeze whose tasks have not all stopped yet reads FROZEN after a short wait
    (runc blocks up to 10 s here; state and list must stay fast).
    """
    v = fs.read_opt(path, "cgroup.freeze")
    if v is None:
        return ""
    if v.strip() != "1":
        return THAWED
    for _ in range(50):
        if frozen_event(path):
            break
        time.sleep(0.002)
    return FROZEN
