"""Rootless runk on cgroup v2 with a delegated group (the lingering user's systemd instance):
the cgroupfs driver makes the container's group in the user's own subtree, and its limits apply
(read back inside the container), as runc's do; runc alongside."""

from __future__ import annotations

import os
import uuid

import pytest
from conftest import REFERENCE, RUNC, RUNK, rootless_bundle, sh


@pytest.mark.as_user
@pytest.mark.parametrize("name,binary", [("runk", RUNK), pytest.param("runc", RUNC, marks=REFERENCE)])
def test_rootless_limits_in_a_delegated_group(tmp_path, name, binary):
    uid = os.getuid()
    assert uid != 0
    script = "cat /proc/self/uid_map; cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/pids.max; cat /proc/self/cgroup"
    b = rootless_bundle(str(tmp_path), binary, script, {"memory": {"limit": 64 << 20}, "pids": {"limit": 42}})
    root = os.path.join(os.environ.get("XDG_RUNTIME_DIR", f"/run/user/{uid}"), f"lab-{name}-{uuid.uuid4().hex[:6]}")
    cid = f"rl-{name}-{uuid.uuid4().hex[:6]}"
    # a delegated scope of the user's manager, as rootless podman runs its runtime
    p = sh(
        "systemd-run", "--user", "--scope", "--quiet", "-p", "Delegate=yes",
        binary, "--root", root, "run", "-b", b, cid,
    )  # fmt: skip
    sh(binary, "--root", root, "delete", "-f", cid)
    assert p.rc == 0, p
    lines = p.out.split("\n")
    assert lines[0].split() == ["0", str(uid), "1"], p
    assert lines[1:3] == [str(64 << 20), "42"], p
    # `spec --rootless` on a v2-only host asks for a cgroup namespace (runc's and runk's alike):
    # the container's own group is its "/", and the limits above are that group's files
    assert lines[3] == "0::/", p


@pytest.mark.as_user
def test_rootless_limits_without_delegation_fail_as_runc(tmp_path):
    """A cgroupsPath outside the user's subtree (not delegated): the same error as runc's."""
    out = {}
    for name, binary in (("runk", RUNK), ("runc", RUNC)):
        d = tmp_path / name
        d.mkdir()
        b = rootless_bundle(str(d), binary, "true", {"pids": {"limit": 42}})
        root = os.path.join(os.environ["XDG_RUNTIME_DIR"], f"lab-{name}-{uuid.uuid4().hex[:6]}")
        p = sh(binary, "--root", root, "run", "-b", b, f"rl-{name}-nodeleg")
        out[name] = p
        assert p.rc == 1, p
    for p in out.values():
        assert "rootless needs no limits + no cgrouppath when no permission is granted for cgroups" in p.err or (
            "permission denied" in p.err
        ), out
