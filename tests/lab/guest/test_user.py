"""The lingering non-root user's systemd instance, as rootless containers will need it."""

from __future__ import annotations

import os

import pytest
from conftest import ok, read


def test_lingering_user_manager_has_delegated_controllers(user):
    assert os.path.exists(f"/var/lib/systemd/linger/{user.name}")
    assert ok("systemctl", "is-active", f"user@{user.uid}.service").strip() == "active"
    assert {"cpu", "memory", "pids"} <= set(read(f"{user.manager}/cgroup.controllers").split())
    assert os.stat(user.manager).st_uid == user.uid  # Delegate=yes: the subtree is the user's
    assert os.stat(f"{user.manager}/cgroup.subtree_control").st_uid == user.uid


def test_user_has_subordinate_ids(user):
    for f in ("/etc/subuid", "/etc/subgid"):
        entries = [line.split(":") for line in read(f).splitlines()]
        assert any(e[0] == user.name and int(e[2]) >= 65536 for e in entries), (f, entries)


@pytest.mark.as_user
def test_user_session_sees_its_manager():
    uid = os.getuid()
    assert uid != 0 and str(uid) == os.environ["LAB_UID"]
    assert ok("systemctl", "--user", "is-system-running").strip() == "running"


@pytest.mark.as_user
def test_user_scope_is_a_delegated_cgroup():
    """What rootless podman and runc do: a transient scope of the user's manager, whose
    cgroup the user owns, with the memory and pids controllers to hand down."""
    script = (
        'd=/sys/fs/cgroup$(sed -n "s/^0:://p" /proc/self/cgroup); echo $d; '
        "stat -c %u $d; cat $d/cgroup.controllers; mkdir $d/sub && echo made"
    )
    out = ok("systemd-run", "--user", "--scope", "--quiet", "-p", "Delegate=yes", "sh", "-c", script).split("\n")
    uid = os.getuid()
    path, owner, controllers, made = out[:4]
    assert path.startswith(f"/sys/fs/cgroup/user.slice/user-{uid}.slice/user@{uid}.service/")
    assert path.endswith(".scope")
    assert owner == str(uid)
    assert {"memory", "pids"} <= set(controllers.split())
    assert made == "made"
