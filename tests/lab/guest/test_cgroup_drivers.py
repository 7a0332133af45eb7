"""Containers and cgroups on a systemd cgroup-v2 host: what runc's systemd driver gives (the
reference runk's own systemd driver must match) and what runk's cgroupfs driver gives today."""

from __future__ import annotations

import os
import uuid

from conftest import CG, REFERENCE, ok, proc_cgroup, read, sh

MiB = 1 << 20


def _systemctl_show(unit: str, *props: str) -> dict:
    out = ok("systemctl", "show", unit, *(f"--property={p}" for p in props))
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


@REFERENCE
def test_runc_systemd_driver_makes_a_transient_scope(runc, bundle):
    name = f"lab-{uuid.uuid4().hex[:6]}"
    b = bundle.write(
        ["sleep", "600"],
        {"memory": {"limit": 64 * MiB}, "pids": {"limit": 32}},
        cgroups_path=f"system.slice:runc:{name}",
    )
    runc.global_args = ["--systemd-cgroup"]
    runc.ok("run", "-d", "--bundle", b, name)
    scope = f"runc-{name}.scope"
    pid = runc.state(name)["pid"]
    assert proc_cgroup(pid) == f"/system.slice/{scope}"
    d = f"{CG}/system.slice/{scope}"
    assert read(f"{d}/memory.max") == str(64 * MiB)
    assert read(f"{d}/pids.max") == "32"
    props = _systemctl_show(scope, "ActiveState", "Delegate", "MemoryMax", "TasksMax")
    assert props == {"ActiveState": "active", "Delegate": "yes", "MemoryMax": str(64 * MiB), "TasksMax": "32"}
    runc.ok("delete", "--force", name)
    assert not os.path.exists(d)
    assert sh("systemctl", "is-active", scope).out.strip() in ("inactive", "unknown")


def test_runk_cgroupfs_driver_on_v2(runk, bundle):
    name = f"lab-{uuid.uuid4().hex[:6]}"
    b = bundle.write(
        ["sleep", "600"], {"memory": {"limit": 48 * MiB}, "pids": {"limit": 20}}, cgroups_path=f"/lab-runk/{name}"
    )
    runk.ok("run", "-d", "--bundle", b, name)
    pid = runk.state(name)["pid"]
    assert proc_cgroup(pid) == f"/lab-runk/{name}"
    d = f"{CG}/lab-runk/{name}"
    assert read(f"{d}/memory.max") == str(48 * MiB)
    assert read(f"{d}/pids.max") == "20"
    assert str(pid) in read(f"{d}/cgroup.procs").split()
    runk.ok("delete", "--force", name)
    assert not os.path.exists(d)
