"""Waits that must end on their own: a frozen cgroup, a setup child that stops answering.
Each create fails within its bound with a clear error and leaves nothing behind."""

from __future__ import annotations

import os
import time

import pytest

from tests.conftest import requires

FREEZER = "/sys/fs/cgroup/freezer"


def _write(path: str, text: str) -> None:
    with open(path, "w") as f:
        f.write(text)


@pytest.fixture
def frozen_group():
    """A v1 freezer group made FROZEN before create (removed afterwards, thawed first)."""
    requires("root")
    if not os.path.isdir(FREEZER):
        pytest.skip("needs the cgroup v1 freezer")
    made: list[str] = []

    def make(rel: str) -> str:
        path = os.path.join(FREEZER, rel.lstrip("/"))
        os.makedirs(path, exist_ok=True)
        made.append(path)
        _write(os.path.join(path, "freezer.state"), "FROZEN")
        return path

    yield make
    for path in reversed(made):
        for d, _subdirs, _files in sorted(os.walk(path), reverse=True):
            _write(os.path.join(d, "freezer.state"), "THAWED")
            os.rmdir(d)


@pytest.mark.parametrize("where", ["own", "parent"])
def test_create_in_a_frozen_cgroup_is_refused(runk, runc, bundle, frozen_group, where, leak_audit):
    """runc: "container's cgroup unexpectedly frozen". runk used to wait for ever for a
    bootstrap that the freezer stopped. A frozen parent freezes the group too."""
    name = f"hardnames-frz-{os.getpid()}"
    frozen = frozen_group(name)
    cgroups_path = f"/{name}" if where == "own" else f"/{name}/c"
    bundle.config["linux"]["cgroupsPath"] = cgroups_path
    bundle.args("true").write()
    t0 = time.monotonic()
    r = runk("create", "-b", bundle.path, "hardnames-frz", timeout=30)
    assert time.monotonic() - t0 < 10
    assert r.rc == 1, r
    assert r.err.count("\n") == 1 and "runk create failed: container's cgroup unexpectedly frozen" in r.err, r
    assert not os.path.isdir(runk.root) or os.listdir(runk.root) == []
    # the groups runk made are gone; the frozen one it did not make stays, as with runc
    for ctrl in os.listdir("/sys/fs/cgroup"):
        d = os.path.join("/sys/fs/cgroup", ctrl, cgroups_path.lstrip("/"))
        assert not os.path.isdir(d) or (where == "own" and d == frozen), d
    assert os.path.isdir(frozen)
    if where == "own":
        r = runc("create", "-b", bundle.path, "hardnames-frz", timeout=30)
        assert r.rc == 1 and "container's cgroup unexpectedly frozen" in r.err, r


STOP_INIT = """#!/bin/sh
pid=$(sed 's/.*"pid":\\([0-9]*\\).*/\\1/')
echo "$pid" > {marker}
kill -STOP "$pid"
"""


@pytest.mark.parametrize("timeout", ["3", "1.5"])
def test_create_ends_when_the_init_stops_answering(runk, bundle, tmp_path, timeout, leak_audit):
    """A createRuntime hook SIGSTOPs the init before it finishes its setup: the parent's wait
    for "ready" ends after RUNK_SETUP_TIMEOUT with an error, the init is killed and reaped,
    and nothing is left (it used to wait for ever)."""
    marker = tmp_path / "init-pid"
    hook = tmp_path / "stop-init"
    hook.write_text(STOP_INIT.replace("{marker}", str(marker)))
    hook.chmod(0o755)
    bundle.config["hooks"] = {"createRuntime": [{"path": str(hook)}]}
    bundle.args("true").write()
    t0 = time.monotonic()
    r = runk(
        "create", "-b", bundle.path, "hardnames-stop", timeout=60, env={**os.environ, "RUNK_SETUP_TIMEOUT": timeout}
    )
    took = time.monotonic() - t0
    assert r.rc == 1, r
    assert f"container init did not answer within {timeout}s" in r.err, r
    assert float(timeout) <= took < float(timeout) + 5, took
    pid = int(marker.read_text())
    assert not os.path.exists(f"/proc/{pid}"), "the stopped init was left behind"
    assert not os.path.isdir(runk.root) or os.listdir(runk.root) == []


def test_setup_bound_follows_the_create_container_hooks(bundle):
    from runk.linux.launch import setup_bound
    from runk.oci.plan import build

    def plan(*hooks: dict):
        cfg = bundle.copy()
        cfg["hooks"] = {"createContainer": list(hooks)}
        return build(cfg, bundle.path, "waits-bound")[0]

    os.environ.pop("RUNK_SETUP_TIMEOUT", None)
    assert setup_bound(plan()) == 60.0
    timed = {"path": "/bin/true", "timeout": 5}
    assert setup_bound(plan(timed)) == 65.0
    assert setup_bound(plan(timed, {"path": "/bin/true"})) is None  # a hook without a timeout may run for ever (runc)


def test_console_socket_that_never_accepts(runk, bundle, tmp_path, leak_audit):
    """A console socket whose listener never accepts and whose backlog is full: connect used to
    block for ever; it now fails after 10 s naming the socket."""
    import socket

    path = str(tmp_path / "console.sock")
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    srv.listen(0)
    filler = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    filler.connect(path)  # the one pending connection backlog 0 allows
    try:
        bundle.config["process"]["terminal"] = True
        bundle.args("true").write()
        t0 = time.monotonic()
        r = runk("create", "--console-socket", path, "-b", bundle.path, "hardnames-con", timeout=60)
        assert r.rc == 1 and f"dial unix {path}: connection timed out" in r.err, r
        assert 9 < time.monotonic() - t0 < 20
        assert not os.path.isdir(runk.root) or os.listdir(runk.root) == []
    finally:
        filler.close()
        srv.close()
