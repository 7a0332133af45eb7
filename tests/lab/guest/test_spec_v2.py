"""`runk spec` on a cgroup v2 only host is runc's: its template has a cgroup namespace there (runc
adds one when /sys/fs/cgroup is the unified hierarchy), also with --rootless, and a container
run from it sees its own cgroup as "/" (runc's cgroups.bats "init process in non-root cgroup")."""

from __future__ import annotations

import json
import os
import time

import pytest
from conftest import BUNDLE, RUNC, RUNK, ok


@pytest.mark.parametrize("rootless", [False, True], ids=["root", "rootless"])
def test_spec_namespaces_are_runcs(tmp_path, rootless):
    extra = ["--rootless"] if rootless else []
    got = {}
    for name, binary in (("runc", RUNC), ("runk", RUNK)):
        d = tmp_path / name
        d.mkdir()
        ok(binary, "spec", *extra, cwd=str(d))
        got[name] = json.loads((d / "config.json").read_text())["linux"]["namespaces"]
    assert got["runk"] == got["runc"]
    assert {"type": "cgroup"} in got["runk"]


def test_container_from_the_spec_sees_its_cgroup_as_root(runk, tmp_path):
    ok(RUNK, "spec", cwd=str(tmp_path))
    cfg = json.loads((tmp_path / "config.json").read_text())
    cfg["root"] = {"path": os.path.join(BUNDLE, "rootfs"), "readonly": True}
    cfg["process"].update(terminal=False, args=["cat", "/proc/self/cgroup"])
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    p = runk("run", "--bundle", str(tmp_path), "specv2")
    assert (p.rc, p.out) == (0, "0::/\n"), p


def test_exec_joins_the_inits_group_when_the_root_group_takes_no_process(runk, tmp_path):
    """runc's fallback (its cgroups.bats "init process in non-root cgroup"): with the cgroup
    mount writable, the container moves its init into /foo and enables memory in its root
    group, which then takes no process (EBUSY); an exec joins the init's group instead."""
    ok(RUNK, "spec", cwd=str(tmp_path))
    cfg = json.loads((tmp_path / "config.json").read_text())
    cfg["root"] = {"path": os.path.join(BUNDLE, "rootfs"), "readonly": True}
    cfg["process"].update(terminal=False, args=["sleep", "1000"])
    for m in cfg["mounts"]:
        if m["destination"] == "/sys/fs/cgroup":
            m["options"] = [o for o in m["options"] if o != "ro"] + ["rw"]
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    runk.ok("run", "-d", "--bundle", str(tmp_path), "v2exec")
    assert runk.ok("exec", "v2exec", "cat", "/proc/self/cgroup") == "0::/\n"
    runk.ok("exec", "v2exec", "mkdir", "/sys/fs/cgroup/foo")
    runk.ok("exec", "v2exec", "sh", "-c", "echo 1 > /sys/fs/cgroup/foo/cgroup.procs")
    assert runk.ok("exec", "v2exec", "cat", "/proc/self/cgroup") == "0::/\n"
    move_then_enable = "echo $$ > /sys/fs/cgroup/foo/cgroup.procs; echo +memory > /sys/fs/cgroup/cgroup.subtree_control"
    runk.ok("exec", "v2exec", "sh", "-euc", move_then_enable)
    assert runk.ok("exec", "v2exec", "cat", "/proc/self/cgroup") == "0::/foo\n"
    # an explicit --cgroup names the group: no fallback (runc main's exec.bats)
    p = runk("exec", "--cgroup", "/", "v2exec", "true")
    assert p.rc != 0 and " adding pid " in p.err and "device or resource busy" in p.err, p
    assert runk.ok("exec", "--cgroup", "foo", "v2exec", "cat", "/proc/self/cgroup") == "0::/foo\n"


@pytest.mark.parametrize("runtime", ["runc", "runk"])
def test_without_a_cgroup_namespace_the_mount_shows_the_hierarchy(request, tmp_path, runtime):
    """runc 1.1.5 mounts a fresh cgroup2 without a cgroup namespace too: the container sees the
    whole hierarchy, its own group at the path /proc/self/cgroup names; so an init can move
    itself to a group outside its own (runc main's exec.bats "init changes cgroup")."""
    rt = request.getfixturevalue(runtime)
    ok(RUNK, "spec", cwd=str(tmp_path))
    cfg = json.loads((tmp_path / "config.json").read_text())
    cfg["root"] = {"path": os.path.join(BUNDLE, "rootfs"), "readonly": True}
    cfg["linux"]["namespaces"] = [n for n in cfg["linux"]["namespaces"] if n["type"] != "cgroup"]
    outside = f"/sys/fs/cgroup/labv2-{tmp_path.name[-12:]}"
    os.mkdir(outside)
    try:
        script = (
            "own=$(sed -n 's/^0:://p' /proc/self/cgroup); test -f /sys/fs/cgroup$own/cgroup.procs && echo own-ok; "
            f"echo $$ > {outside}/cgroup.procs && sed -n 's/^0:://p' /proc/self/cgroup"
        )
        for m in cfg["mounts"]:
            if m["destination"] == "/sys/fs/cgroup":
                m["options"] = [o for o in m["options"] if o != "ro"] + ["rw"]
        cfg["process"].update(terminal=False, args=["sh", "-c", script])
        (tmp_path / "config.json").write_text(json.dumps(cfg))
        p = rt("run", "--bundle", str(tmp_path), f"nocgns{runtime}")
        assert (p.rc, p.out.split()) == (0, ["own-ok", outside[len("/sys/fs/cgroup") :]]), p
    finally:
        os.rmdir(outside)


def test_exec_follows_an_init_that_left_its_removed_group(runk, tmp_path):
    """runc main's exec.bats "init changes cgroup" (its issue 5089): the init moves itself out of
    the container's group, which is then removed; an exec joins the init's group (runc 1.1.5
    fails here: it has no such fallback)."""
    ok(RUNK, "spec", cwd=str(tmp_path))
    cfg = json.loads((tmp_path / "config.json").read_text())
    cfg["root"] = {"path": os.path.join(BUNDLE, "rootfs"), "readonly": True}
    cfg["linux"]["namespaces"] = [n for n in cfg["linux"]["namespaces"] if n["type"] != "cgroup"]
    tag = tmp_path.name[-12:]
    cfg["linux"]["cgroupsPath"] = f"/labv2grp-{tag}"
    outside = f"/sys/fs/cgroup/labv2out-{tag}"
    for m in cfg["mounts"]:
        if m["destination"] == "/sys/fs/cgroup":
            m["options"] = [o for o in m["options"] if o != "ro"] + ["rw"]
    cfg["process"].update(terminal=False, args=["sh", "-c", f"echo 1 > {outside}/cgroup.procs && exec sleep 1000"])
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    os.mkdir(outside)
    try:
        runk.ok("run", "-d", "--bundle", str(tmp_path), "leftgrp")
        pid = runk.state("leftgrp")["pid"]
        for _ in range(200):
            if open(f"/proc/{pid}/cgroup").read().strip().endswith(f"labv2out-{tag}"):
                break
            time.sleep(0.05)
        os.rmdir(f"/sys/fs/cgroup/labv2grp-{tag}")
        assert runk.state("leftgrp")["status"] == "running"
        assert runk.ok("exec", "leftgrp", "cat", "/proc/self/cgroup") == f"0::/labv2out-{tag}\n"
        runk.ok("delete", "--force", "leftgrp")
    finally:
        runk("delete", "--force", "leftgrp")
        os.rmdir(outside)
