"""Differential: runk's cgroup library against a container that /usr/sbin/runc created.

Same paths for the same cgroupsPath, the same stats JSON shape as `runc events --stats`, and the
freezer seen the same way from both sides. Needs root, runc and busybox; skips otherwise.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile

import pytest

from runk.linux.cgroups import load_manager, make_manager

from .conftest import unique

RUNC = shutil.which("runc") or "/usr/sbin/runc"
BUSYBOX = shutil.which("busybox")


def shape(v):
    """The key structure of a JSON value (lists by their first element)."""
    if isinstance(v, dict):
        return {k: shape(x) for k, x in v.items()}
    if isinstance(v, list):
        return [shape(v[0])] if v else []
    return type(v).__name__


@pytest.fixture
def runc_ctr(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("needs root")
    if not os.access(RUNC, os.X_OK) or not BUSYBOX:
        pytest.skip("needs runc and busybox")
    bundle = tmp_path / "bundle"
    (bundle / "rootfs" / "bin").mkdir(parents=True)
    shutil.copy(BUSYBOX, bundle / "rootfs" / "bin" / "busybox")
    for app in ("sh", "sleep"):
        os.symlink("busybox", bundle / "rootfs" / "bin" / app)
    subprocess.run([RUNC, "spec"], cwd=bundle, check=True)
    cfg = json.loads((bundle / "config.json").read_text())
    name = unique()
    cfg["process"]["terminal"] = False
    cfg["process"]["args"] = ["sleep", "600"]
    cfg["linux"]["cgroupsPath"] = "/" + name
    cfg["linux"]["resources"].update({"memory": {"limit": 64 << 20}, "pids": {"limit": 40}, "cpu": {"shares": 512}})
    (bundle / "config.json").write_text(json.dumps(cfg))
    root = str(tmp_path / "runc-root")

    def runc(*args: str) -> str:
        with tempfile.TemporaryFile() as out:
            subprocess.run(
                [RUNC, "--root", root, *args],
                cwd=bundle,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                check=True,
                timeout=60,
            )
            out.seek(0)
            return out.read().decode()

    runc("run", "-d", name)
    try:
        with open(os.path.join(root, name, "state.json")) as f:
            state = json.load(f)
        yield runc, name, cfg, state
    finally:
        subprocess.run(
            [RUNC, "--root", root, "delete", "-f", name],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=60,
        )


def test_same_paths_as_runc(runc_ctr) -> None:
    _, name, cfg, state = runc_ctr
    assert make_manager(cfg["linux"]["cgroupsPath"], name).paths() == state["cgroup_paths"]


def test_same_stats_shape_as_runc_events(runc_ctr) -> None:
    runc, name, _, state = runc_ctr
    ours = load_manager(state["cgroup_paths"]).stats()
    theirs = json.loads(runc("events", "--stats", name))["data"]
    # runc 1.1.5 reads hugetlb from a v1 hierarchy only; this host keeps hugetlb on cgroup2
    ours.pop("hugetlb")
    theirs.pop("hugetlb")
    assert shape(ours) == shape(theirs)
    assert ours["pids"] == theirs["pids"]
    assert ours["memory"]["usage"]["limit"] == theirs["memory"]["usage"]["limit"] == 64 << 20
    assert ours["cpuset"] == theirs["cpuset"]


def test_freezer_and_pids_agree_with_runc(runc_ctr) -> None:
    runc, name, _, state = runc_ctr
    m = load_manager(state["cgroup_paths"])
    assert m.pids() == json.loads(runc("ps", "--format", "json", name))
    runc("pause", name)
    assert m.freezer_state() == "FROZEN"
    runc("resume", name)
    assert m.freezer_state() == "THAWED"
    m.freeze()
    assert json.loads(runc("state", name))["status"] == "paused"
    m.thaw()
    assert json.loads(runc("state", name))["status"] == "running"
