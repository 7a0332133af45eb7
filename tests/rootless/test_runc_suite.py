"""What runc's integration suite checks when its CI runs it as a non-root user (rootless mode,
`runc spec --rootless` bundles): each scenario under runk and runc, the same result."""

from __future__ import annotations

import json
import os
import uuid

import pytest

from tests.conftest import requires
from tests.rootless.conftest import rootless_bundle


def test_redundant_dev_ptmx(alice, runtime):
    """/dev/ptmx in linux.devices is the default again: the container still gets the link to
    its own devpts' ptmx (in a user namespace the node would otherwise be a bind mount that the
    link cannot replace)."""
    name, binary = runtime
    b = rootless_bundle(alice)
    b.config["linux"]["devices"] = [{"path": "/dev/ptmx", "type": "c", "major": 5, "minor": 2}]
    b.sh("readlink /dev/ptmx; ls -lLn /dev/ptmx")
    r = alice.run(binary, "run", "-b", b.path, f"rkrl-{name}-ptmx")
    assert r.rc == 0, r
    lines = r.out.splitlines()
    assert lines[0] == "pts/ptmx", r
    assert lines[1].startswith("crw-rw-rw") and "5,   2" in lines[1], r


def test_cgroups_path_without_permission(alice, runtime):
    """An explicit cgroupsPath the user may not make: create fails with runc's words, the
    container is not left behind."""
    requires("cgroup_v1")
    name, binary = runtime
    root = alice.mkdir(f"root-cgperm-{name}")
    b = rootless_bundle(alice)
    b.config["linux"]["cgroupsPath"] = f"/rkrl-not-delegated-{name}/ct"
    b.write()
    r = alice.run(binary, "--root", root, "run", "-b", b.path, f"rkrl-{name}-cgperm")
    assert r.rc == 1, r
    assert "unable to start container process: unable to apply cgroup configuration: mkdir /sys/fs/cgroup/" in r.err, r
    assert r.err.rstrip().endswith(f'/rkrl-not-delegated-{name}: permission denied"'), r
    assert os.listdir(root) == []


def _v1_hierarchies() -> list[str]:
    """The v1 mounts under /sys/fs/cgroup, as runc's CI lists them for its rootless run."""
    out = []
    with open("/proc/self/cgroup") as f:
        for line in f:
            ctrls = line.strip().split(":")[1]
            if ctrls:
                out.append(ctrls.split(",")[0].removeprefix("name="))
    return out


@pytest.fixture
def delegated_v1(alice):
    """A group in every v1 hierarchy that the user may make groups in and move tasks to (runc's
    CI does this for its rootless "cgroup" run); not the unified one of the hybrid host."""
    requires("cgroup_v1")
    name = f"rkrl-deleg-{uuid.uuid4().hex[:6]}"
    made = []
    for h in _v1_hierarchies():
        d = f"/sys/fs/cgroup/{h}/{name}"
        if not os.path.isdir(os.path.dirname(d)):
            continue
        os.mkdir(d)
        made.append(d)
        if h == "cpuset":
            for f in ("cpuset.cpus", "cpuset.mems"):
                with open(f"/sys/fs/cgroup/cpuset/{f}") as src, open(f"{d}/{f}", "w") as dst:
                    dst.write(src.read())
        for f in (d, f"{d}/cgroup.procs", f"{d}/tasks"):
            os.chown(f, alice.uid, alice.gid)
    yield name
    for d in made:
        for sub, _dirs, _ in sorted(os.walk(d), reverse=True):
            if sub != d:
                os.rmdir(sub)
        os.rmdir(d)


def test_cgroups_path_in_a_delegated_v1_group(alice, runtime, delegated_v1):
    """cgroupsPath inside groups delegated to the user on cgroup v1 (the unified hierarchy of
    this hybrid host is not): the container is made there and its memory limit applies."""
    name, binary = runtime
    root = alice.mkdir(f"root-deleg-{name}")
    cid = f"rkrl-{name}-deleg"
    b = rootless_bundle(alice)
    b.config["linux"]["cgroupsPath"] = f"/{delegated_v1}/{name}"
    b.config["linux"]["resources"] = {"memory": {"limit": 64 << 20}}
    b.args("sleep", "60")
    r = alice.run(binary, "--root", root, "run", "-d", "-b", b.path, cid)
    assert r.rc == 0, r
    try:
        pid = json.loads(alice.run(binary, "--root", root, "state", cid).out)["pid"]
        with open(f"/proc/{pid}/cgroup") as f:
            groups = dict(line.strip().split(":", 2)[1:] for line in f)
        assert groups["memory"] == f"/{delegated_v1}/{name}", groups
        with open(f"/sys/fs/cgroup/memory/{delegated_v1}/{name}/memory.limit_in_bytes") as f:
            assert int(f.read()) == 64 << 20
        assert alice.run(binary, "--root", root, "delete", "-f", cid).rc == 0
        assert not os.path.exists(f"/sys/fs/cgroup/memory/{delegated_v1}/{name}")  # removed by delete
    finally:
        alice.run(binary, "--root", root, "delete", "-f", cid)
