"""create, start, state, kill, delete, run and list on real containers, as a user sees them."""

from __future__ import annotations

import json
import os
import subprocess
import time

import pytest


def wait_status(rt, cid, want, timeout=10.0):
    end = time.time() + timeout
    while time.time() < end:
        s = rt.state(cid)["status"]
        if s == want:
            return s
        time.sleep(0.05)
    return rt.state(cid)["status"]


def test_run_prints_output_and_exits_with_status(runk, bundle, cid, leak_audit):
    bundle.sh("echo hello from $(hostname); exit 3").write()
    r = runk("run", "--bundle", bundle.path, cid)
    assert r.rc == 3, r
    assert r.out == "hello from runk\n"
    assert not os.path.exists(os.path.join(runk.root, cid))


def test_run_killed_by_signal_exits_128_plus_n(runk, bundle, cid, leak_audit):
    # pid 1 of a pid namespace ignores signals it has no handler for: share the host's instead
    bundle.config["linux"]["namespaces"] = [n for n in bundle.config["linux"]["namespaces"] if n["type"] != "pid"]
    bundle.sh("kill -USR1 $$").write()
    r = runk("run", "--bundle", bundle.path, cid)
    assert r.rc == 128 + 10, r


def test_create_start_state_kill_delete(runk, bundle, cid, leak_audit, tmp_path):
    bundle.args("sleep", "100").write()
    pidfile = tmp_path / "pid"
    r = runk("create", "--bundle", bundle.path, "--pid-file", str(pidfile), cid)
    assert r.rc == 0, r
    st = runk.state(cid)
    assert list(st) == ["ociVersion", "id", "pid", "status", "bundle", "rootfs", "created", "owner"]
    assert st["status"] == "created"
    assert st["id"] == cid and st["bundle"] == bundle.path
    assert st["rootfs"] == os.path.realpath(bundle.rootfs)
    assert int(pidfile.read_text()) == st["pid"]
    # the waiting init is the sealed trampoline, not the host interpreter
    assert os.readlink(f"/proc/{st['pid']}/exe").startswith("/memfd:runk-exec")
    assert runk("start", cid).rc == 0
    st = runk.state(cid)
    assert st["status"] == "running"
    with open(f"/proc/{st['pid']}/cmdline", "rb") as f:
        assert f.read().split(b"\0")[:2] == [b"sleep", b"100"]
    assert runk("kill", cid, "KILL").rc == 0
    assert wait_status(runk, cid, "stopped") == "stopped"
    assert runk.state(cid)["pid"] == 0
    assert runk("delete", cid).rc == 0
    r = runk("state", cid)
    assert r.rc == 1 and 'msg="container does not exist"' in r.err


def test_state_output_has_no_trailing_newline_and_two_space_indent(runk, bundle, cid, leak_audit):
    bundle.args("sleep", "100").write()
    runk("create", "--bundle", bundle.path, cid, check=True)
    out = runk("state", cid).out
    assert out.startswith('{\n  "ociVersion": ') and out.endswith("}")
    runk("delete", "--force", cid, check=True)


@pytest.mark.parametrize("status", ["created", "running", "stopped"])
def test_start_refused_unless_created(runk, bundle, cid, status, leak_audit):
    bundle.args("sleep", "100").write()
    runk("create", "--bundle", bundle.path, cid, check=True)
    if status != "created":
        runk("start", cid, check=True)
    if status == "stopped":
        runk("kill", cid, "9", check=True)
        wait_status(runk, cid, "stopped")
        r = runk("start", cid)
        assert r.rc == 1 and "cannot start a container that has stopped" in r.err
    elif status == "running":
        r = runk("start", cid)
        assert r.rc == 1 and "cannot start an already running container" in r.err
    else:
        assert runk("start", cid).rc == 0
    runk("delete", "--force", cid, check=True)


@pytest.mark.parametrize("sig", ["TERM", "SIGTERM", "term", "15"])
def test_kill_signal_spellings(runk, bundle, cid, sig, leak_audit):
    bundle.sh("trap 'exit 0' TERM; while :; do sleep 0.1; done").write()
    runk("run", "-d", "--bundle", bundle.path, cid, check=True)
    assert runk("kill", cid, sig).rc == 0
    assert wait_status(runk, cid, "stopped") == "stopped"
    runk("delete", cid, check=True)


def test_kill_unknown_signal_and_missing_container(runk, bundle, cid, leak_audit):
    r = runk("kill", "nonexistent", "FOO")
    assert r.rc == 1 and "container does not exist" in r.err  # existence is checked first
    bundle.args("sleep", "100").write()
    runk("run", "-d", "--bundle", bundle.path, cid, check=True)
    r = runk("kill", cid, "FOO")
    assert r.rc == 1 and 'unknown signal \\"FOO\\"' in r.err
    runk("delete", "--force", cid, check=True)


def test_delete_running_needs_force(runk, bundle, cid, leak_audit):
    bundle.args("sleep", "100").write()
    runk("run", "-d", "--bundle", bundle.path, cid, check=True)
    r = runk("delete", cid)
    assert r.rc == 1 and f"cannot delete container {cid} that is not stopped: running" in r.err
    assert runk.state(cid)["status"] == "running"
    assert runk("delete", "--force", cid).rc == 0
    assert runk("state", cid).rc == 1


def test_delete_created_needs_force_and_kills_waiting_init(runk, bundle, cid, leak_audit):
    bundle.args("sleep", "100").write()
    runk("create", "--bundle", bundle.path, cid, check=True)
    pid = runk.state(cid)["pid"]
    r = runk("delete", cid)
    assert r.rc == 1 and f"cannot delete container {cid} that is not stopped: created" in r.err
    assert runk.state(cid)["status"] == "created"
    assert runk("delete", "--force", cid).rc == 0
    time.sleep(0.1)
    try:
        with open(f"/proc/{pid}/stat") as f:
            assert f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        pass


def test_delete_force_unknown_id_is_ok(runk):
    assert runk("delete", "--force", "never-created").rc == 0
    r = runk("delete", "never-created")
    assert r.rc == 1 and "container does not exist" in r.err


@pytest.mark.parametrize("bad", ["../etc", "a/b", "..", ".", "x" * 300, "sp ace", "ünï"])
def test_bad_ids_refused_before_touching_disk(runk, bundle, bad):
    r = runk("create", "--bundle", bundle.path, bad)
    assert r.rc == 1 and "invalid container ID format" in r.err
    assert not os.path.exists(runk.root) or os.listdir(runk.root) == []
    r = runk("state", bad)
    assert r.rc == 1 and "invalid container ID format" in r.err


def test_duplicate_id_refused(runk, bundle, cid, leak_audit):
    bundle.args("sleep", "100").write()
    runk("create", "--bundle", bundle.path, cid, check=True)
    r = runk("create", "--bundle", bundle.path, cid)
    assert r.rc == 1 and "container with given ID already exists" in r.err
    assert runk.state(cid)["status"] == "created"
    runk("delete", "--force", cid, check=True)


def test_list_formats(runk, bundle, cid, leak_audit):
    os.makedirs(runk.root, exist_ok=True)  # a --root that does not exist is an error (runc)
    r = runk("list")
    assert r.out == "ID          PID         STATUS      BUNDLE      CREATED     OWNER\n"
    assert runk("list", "--format", "json").out == "null\n"
    bundle.args("sleep", "100").write()
    runk("create", "--bundle", bundle.path, cid, check=True)
    assert runk("list", "-q").out == cid + "\n"
    items = json.loads(runk("list", "--format", "json").out)
    assert [i["id"] for i in items] == [cid] and items[0]["status"] == "created"
    assert items[0]["owner"] == "root"  # runc: the state directory's owner
    lines = runk("list").out.splitlines()
    assert lines[1].split()[:3] == [cid, str(items[0]["pid"]), "created"]
    assert lines[1].split()[-1] == "root"
    runk("delete", "--force", cid, check=True)


def test_list_with_a_missing_root_fails(tmp_path):
    """runc (list.bats): a --root that does not exist is an error, and list makes nothing."""
    from tests.conftest import RUNK

    missing = str(tmp_path / "no-such-root")
    r = subprocess.run([RUNK, "--root", missing, "list"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 1 and f"open {missing}: no such file or directory" in r.stderr, r
    assert r.stdout == "" and not os.path.exists(missing)


@pytest.mark.parametrize("which", ["runk", "runc"])
def test_kill_9_thaws_a_paused_container(request, bundle, cid, which):
    """runc Signal: SIGKILL to a paused container thaws it so the kill takes effect (podman kill
    of a paused container); other signals leave it paused."""
    rt = request.getfixturevalue(which)
    bundle.config["linux"]["cgroupsPath"] = f"/{cid}-{which}"  # no shared parent left behind
    bundle.sh('trap "echo usr1" USR1; while :; do sleep 0.1; done').write()
    assert rt("run", "-d", "--bundle", bundle.path, cid).rc == 0
    assert rt("pause", cid).rc == 0
    assert rt("kill", cid, "USR1").rc == 0
    assert rt.state(cid)["status"] == "paused"
    assert rt("kill", cid, "KILL").rc == 0
    assert wait_status(rt, cid, "stopped") == "stopped"
    assert rt("delete", cid).rc == 0
