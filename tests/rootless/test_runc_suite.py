"""What runc's integration suite checks when its CI runs it as a non-root user (rootless mode,
`runc spec --rootless` bundles): each scenario under runk and runc, the same result."""

from __future__ import annotations

import os

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
