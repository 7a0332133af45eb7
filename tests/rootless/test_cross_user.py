"""Two rootless users and one --root: neither can act on the other's containers.

Alice runs a container in a shared, root-owned sticky directory (as /tmp is). Bob's runk must
refuse every command on it, and Alice's runk must refuse a state directory Bob planted there
naming Alice's container (the confused deputy: Alice's own runk would otherwise kill her own
process on Bob's say-so). A --root another user owns is refused outright.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile

import pytest

from tests.conftest import RUNK
from tests.rootless.conftest import rootless_bundle


@pytest.fixture
def shared_root():
    d = tempfile.mkdtemp(prefix="rkrl-shared-", dir="/tmp")
    os.chmod(d, 0o1777)
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def alices_container(alice, shared_root):
    b = rootless_bundle(alice).args("sleep", "300")
    r = alice.run(RUNK, "--root", shared_root, "run", "-d", "-b", b.path, "victim")
    assert r.rc == 0, r
    state = json.loads(alice.run(RUNK, "--root", shared_root, "state", "victim").out)
    yield state
    alice.run(RUNK, "--root", shared_root, "delete", "-f", "victim")


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


@pytest.mark.parametrize(
    "cmd",
    [
        ["kill", "victim", "KILL"],
        ["kill", "--all", "victim", "KILL"],
        ["delete", "--force", "victim"],
        ["exec", "victim", "true"],
        ["state", "victim"],
        ["pause", "victim"],
        ["ps", "victim"],
    ],
    ids=lambda c: " ".join(c[:-1] if c[-1] == "KILL" else c),
)
def test_other_user_cannot_touch_the_container(alice, bob, shared_root, alices_container, cmd):
    r = bob.run(RUNK, "--root", shared_root, *cmd)
    assert r.rc != 0, r
    assert f"owned by uid {alice.uid}, not by uid {bob.uid}: not your container" in r.err, r
    assert _alive(alices_container["pid"])
    assert os.path.isdir(os.path.join(shared_root, "victim"))
    assert json.loads(alice.run(RUNK, "--root", shared_root, "state", "victim").out)["status"] == "running"


def test_other_users_list_does_not_show_it(alice, bob, shared_root, alices_container):
    assert bob.run(RUNK, "--root", shared_root, "list", "-q").out.split() == []
    assert alice.run(RUNK, "--root", shared_root, "list", "-q").out.split() == ["victim"]


def _plant(bob, shared_root: str) -> str:
    """Bob's directory in the shared root holding a copy of the state of Alice's container (its
    pid, start time and cgroups), as Bob could write it from what /proc shows him."""
    d = os.path.join(shared_root, "planted")
    os.mkdir(d)
    for name in ("state.json", "config.json"):
        with open(os.path.join(shared_root, "victim", name)) as f:
            doc = json.load(f)
        if name == "state.json":
            doc["id"] = "planted"
        with open(os.path.join(d, name), "w") as f:
            json.dump(doc, f)
    for p in (d, *(os.path.join(d, n) for n in os.listdir(d))):
        os.chown(p, bob.uid, bob.gid)
        os.chmod(p, 0o755 if p == d else 0o644)
    return d


@pytest.mark.parametrize("cmd", [["kill", "planted", "KILL"], ["delete", "--force", "planted"]], ids=" ".join)
def test_planted_state_does_not_steer_the_owner(alice, bob, shared_root, alices_container, cmd):
    """Bob plants a state naming Alice's container: Alice's runk refuses it, her container lives."""
    _plant(bob, shared_root)
    r = alice.run(RUNK, "--root", shared_root, *cmd)
    assert r.rc != 0, r
    assert f"owned by uid {bob.uid}, not by uid {alice.uid}: not your container" in r.err, r
    assert _alive(alices_container["pid"])
    assert "planted" not in alice.run(RUNK, "--root", shared_root, "list", "-q").out.split()


def test_root_owned_by_another_user_is_refused(alice, bob):
    """A --root Bob owns (and so may rewrite) is not a place for Alice's state."""
    bobs = tempfile.mkdtemp(prefix="rkrl-bobs-", dir="/tmp")
    try:
        os.chown(bobs, bob.uid, bob.gid)
        os.chmod(bobs, 0o777)
        b = rootless_bundle(alice)
        for cmd in (["run", "-b", b.path, "c1"], ["list"], ["delete", "-f", "c1"]):
            r = alice.run(RUNK, "--root", bobs, *cmd)
            assert r.rc == 1, (cmd, r)
            assert f"--root {bobs}: owned by uid {bob.uid}" in r.err, (cmd, r)
        assert os.listdir(bobs) == []
    finally:
        shutil.rmtree(bobs, ignore_errors=True)


def test_group_writable_root_is_refused(alice):
    own = alice.mkdir("loose-root")
    os.chmod(own, 0o775)
    r = alice.run(RUNK, "--root", own, "list")
    assert r.rc == 1 and "others could change the state" in r.err, r
