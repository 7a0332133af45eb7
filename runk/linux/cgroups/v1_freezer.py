"""cgroup v1 freezer: freeze, thaw and read freezer.state (pause, resume, state, kill --all).

Runs in the parent. Hot path (state/list read the state): imports only time and fs.
The freeze loop is runc's (fs/freezer.go): a task stuck in FREEZING (vfork, a task in a
no-freeze section) is helped by a periodic thaw-and-retry; on failure the group is thawed again.
"""

from __future__ import annotations

import time

from runk.errors import CgroupError
from runk.linux.cgroups import fs

THAWED = "THAWED"
FROZEN = "FROZEN"


def freeze(path: str) -> None:
    try:
        for i in range(1000):
            if i % 50 == 49:
                fs.write(path, "freezer.state", THAWED, "freezer")
                time.sleep(0.01)
            fs.write(path, "freezer.state", FROZEN, "freezer")
            if i % 25 == 24:
                time.sleep(0.00001)
            st = fs.read(path, "freezer.state").strip()
            if st == FROZEN:
                return
            if st != "FREEZING":
                raise CgroupError(f"unexpected state {st} while freezing {path}")
        raise CgroupError(f"unable to freeze {path}")
    except BaseException:
        try:
            fs.write(path, "freezer.state", THAWED, "freezer")
        except CgroupError:
            pass
        raise


def thaw(path: str) -> None:
    fs.write(path, "freezer.state", THAWED, "freezer")


def state(path: str) -> str:
    """THAWED, FROZEN, or "" when the group is gone; frozen only through a parent reads THAWED."""
    for _ in range(10000):
        st = fs.read_opt(path, "freezer.state")
        if st is None:
            return ""
        st = st.strip()
        if st == THAWED:
            return THAWED
        if st == FROZEN:
            self_freezing = fs.read_opt(path, "freezer.self_freezing")
            if self_freezing is not None and self_freezing.strip() == "0":
                return THAWED
            return FROZEN
        if st != "FREEZING":
            raise CgroupError(f"unknown freezer.state {st!r} in {path}")
        time.sleep(0.001)
    raise CgroupError(f"{path}: freezer stuck in FREEZING")
