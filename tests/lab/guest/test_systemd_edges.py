"""Edges of the systemd driver that runc main's cgroups.bats checks under RUNC_USE_SYSTEMD (runc
1.1.5 behaves otherwise, so runk alone here, with runc main's words):
- pids.limit 0: systemd has no TasksMax=0, so the unit's TasksMax and pids.max are both 1; and a
  device rule whose node is missing goes to systemd by its numbers, with no warning;
- a second container with the same unit (cgroupsPath) is refused: "container's cgroup is not
  empty";
- a unit whose cgroup exists already frozen is refused at once ("container's cgroup unexpectedly
  frozen"), rather than its init stopping in it;
- cpu.idle on systemd 252+: CPUWeight=0 is idle, a weight given with it is dropped with runc's
  warning, and a later weight alone makes the group non-idle again (systemd writes both files);
- cgroup_delegation.bats (runc 1.1.5 does it too): a container with a cgroup namespace of its
  own, a user namespace and a read-write cgroup mount gets its unit's group chowned to its root's
  host uid (the directory and /sys/kernel/cgroup/delegate's files); a read-only mount does not;
- update.bats: memory.checkBeforeUpdate refuses a limit below the usage before systemd is told
  (it would OOM-kill the container and remove its scope first)."""

from __future__ import annotations

import json
import os
import time
import uuid

import pytest
from conftest import CG, RUNK, Runtime, ok, read, sh


@pytest.fixture
def sd():
    rt = Runtime(RUNK, f"/run/lab-sdedge-{uuid.uuid4().hex[:8]}", "--systemd-cgroup")
    yield rt
    rt.cleanup()


def _name() -> str:
    return f"sde{uuid.uuid4().hex[:8]}"


def test_pids_limit_zero_is_one_in_the_unit_and_the_file(sd, bundle):
    name = _name()
    path = bundle.write(["sleep", "1000"], {"pids": {"limit": 0}}, f"system.slice:runk:{name}")
    p = sd("run", "-d", "--bundle", path, name)
    # and nothing on stderr: systemd 252 gets /dev/char/10:200 (no tun node here) by its numbers,
    # without runc 1.1.5's "skipping device" warning (runc main's checkpoint.bats reads stderr)
    assert (p.rc, p.err) == (0, ""), p
    unit = f"runk-{name}.scope"
    assert "/dev/char/10:200 rwm" in ok("systemctl", "show", unit, "--property=DeviceAllow")
    assert ok("systemctl", "show", unit, "--property=TasksMax").strip() == "TasksMax=1"
    assert read(f"{CG}/system.slice/{unit}/pids.max") == "1"


def test_a_second_container_in_the_same_unit_is_refused(sd, bundle):
    name = _name()
    path = bundle.write(["sleep", "1000"], None, f"system.slice:runk:{name}")
    sd.ok("run", "-d", "--bundle", path, f"{name}-1")
    for verb in (["run", "-d"], ["create"]):
        p = sd(*verb, "--bundle", path, f"{name}-2")
        assert p.rc != 0 and "container's cgroup is not empty: 1 process(es) found" in p.err, p
        assert f"{name}-2" not in sd.ok("list", "-q").split()
    assert sd.state(f"{name}-1")["status"] == "running"


def test_a_frozen_cgroup_made_beforehand_is_refused(sd, bundle):
    name = _name()
    group = f"{CG}/system.slice/runk-{name}.scope"
    os.mkdir(group)
    try:
        with open(f"{group}/cgroup.freeze", "w") as f:
            f.write("1")
        t = time.monotonic()
        p = sd("run", "-d", "--bundle", bundle.write(["true"], None, f"system.slice:runk:{name}"), name)
        assert p.rc == 1 and "container's cgroup unexpectedly frozen" in p.err, p
        assert time.monotonic() - t < 30, "refused at once, not after the init's ready bound"
        assert name not in sd.ok("list", "-q").split()
        assert sh("systemctl", "status", f"runk-{name}.scope").rc == 4  # no such unit
    finally:
        os.rmdir(group)


def test_cpu_idle_is_systemds_weight_zero(sd, bundle):
    name = _name()
    sd.ok("run", "-d", "--bundle", bundle.write(["sleep", "1000"], None, f"system.slice:runk:{name}"), name)
    group = f"{CG}/system.slice/runk-{name}.scope"
    assert read(f"{group}/cpu.idle") == "0"
    p = sd("update", "--cpu-share", "200", "--cpu-idle", "1", name)
    # the kernel refuses a weight on an idle group: runc main fails the same way after warning
    assert "unable to apply both CPUWeight and CpuIdle to systemd, ignoring CPUWeight" in p.err, p
    assert read(f"{group}/cpu.idle") == "1"
    sd.ok("update", "--cpu-share", "200", name)
    assert read(f"{group}/cpu.idle") == "0"
    assert read(f"{group}/cpu.weight") == "8"


@pytest.mark.parametrize(("runtime", "mount"), [("runc", "rw"), ("runk", "rw"), ("runk", "ro")])
def test_the_group_is_delegated_to_the_containers_root(request, sd, bundle, runtime, mount):
    """runc 1.1.5 beside runk: the same owners."""
    if runtime == "runc":
        sd = request.getfixturevalue("runc")  # removed with its containers at the end
        sd.global_args = ["--systemd-cgroup"]
    name = _name()
    cfg = bundle.config
    cfg["linux"]["namespaces"] = [n for n in cfg["linux"]["namespaces"] if n["type"] not in ("user", "cgroup")]
    cfg["linux"]["namespaces"] += [{"type": "user"}, {"type": "cgroup"}]
    cfg["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
    cfg["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
    cgroup = {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup", "options": ["nosuid", mount]}
    cfg["mounts"] = [m for m in cfg["mounts"] if m["destination"] != "/sys/fs/cgroup"] + [cgroup]
    path = bundle.write(["sleep", "1000"], None, f"system.slice:runk:{name}")
    sd.ok("run", "-d", "--bundle", path, name)
    group = f"{CG}/system.slice/runk-{name}.scope"
    owner = 100000 if mount == "rw" else 0
    assert os.stat(group).st_uid == owner
    assert os.stat(f"{group}/cgroup.procs").st_uid == owner
    assert os.stat(f"{group}/cgroup.subtree_control").st_uid == owner
    assert os.stat(f"{group}/memory.max").st_uid == 0  # not a delegated file
    # as the container sees it (cgroup_delegation.bats' check)
    seen = sd.ok("exec", name, "stat", "-c", "%U", "/sys/fs/cgroup").strip()
    assert seen == ("root" if mount == "rw" else "nobody")


def test_check_before_update_refuses_before_systemd_sees_the_limit(sd, bundle, tmp_path):
    """update.bats "update memory vs CheckBeforeUpdate": a memory limit at or below the usage is
    refused with runc main's words, and the container keeps running. The check comes before
    SetUnitProperties: systemd would set memory.max at once, the kernel OOM-kill the container
    and systemd remove its emptied scope before runk got to the files."""
    name = _name()
    limits = {"memory": {"limit": 33554432}, "pids": {"limit": 20}}
    sd.ok("run", "-d", "--bundle", bundle.write(["sleep", "1000"], limits, f"system.slice:runk:{name}"), name)
    unit = f"runk-{name}.scope"
    group = f"{CG}/system.slice/{unit}"
    for memory, words in (
        ({"limit": 1024, "checkBeforeUpdate": True}, "rejecting memory limit 1024 <= usage"),
        ({"limit": 33554432, "swap": 1024, "checkBeforeUpdate": True}, "rejecting memory+swap limit 1024 <= usage"),
    ):
        (tmp_path / "r.json").write_text(json.dumps({"memory": memory}))
        p = sd("update", "-r", str(tmp_path / "r.json"), name)
        assert p.rc == 1 and words in p.err, p
        assert sd.state(name)["status"] == "running"
        assert ok("systemctl", "show", unit, "--property=MemoryMax").strip() == "MemoryMax=33554432"
        assert read(f"{group}/memory.max") == "33554432"
