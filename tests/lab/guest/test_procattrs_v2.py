"""On cgroup v2 (the lab guest): update --cpu-burst/--cpu-idle reach cpu.max.burst and cpu.idle,
pids.limit 0 is pids.max 1 with the container running, and runk's own CPU affinity (taskset)
does not pass into a container cloned straight into its v2 group."""

from __future__ import annotations

import os
import subprocess

import pytest
from conftest import proc_cgroup, read

GROUP = "/sys/fs/cgroup"


def _start(runk, bundle, cid: str, resources: dict | None = None) -> int:
    path = bundle.write(["sleep", "600"], resources=resources, cgroups_path=f"/lab-procattrs/{cid}")
    runk.ok("run", "-d", "--bundle", path, cid)
    return runk.state(cid)["pid"]


def test_cpu_burst_and_idle(runk, bundle):
    pid = _start(runk, bundle, "pa-cpu", {"cpu": {"quota": 50000, "period": 100000}})
    group = GROUP + proc_cgroup(pid)
    if not os.path.exists(f"{group}/cpu.max.burst") or not os.path.exists(f"{group}/cpu.idle"):
        pytest.skip("this guest kernel has no cpu.max.burst or cpu.idle")
    runk.ok("update", "--cpu-burst", "20000", "pa-cpu")
    assert read(f"{group}/cpu.max.burst") == "20000"
    runk.ok("update", "--cpu-idle", "1", "pa-cpu")
    assert read(f"{group}/cpu.idle") == "1"
    runk.ok("update", "--cpu-idle", "0", "pa-cpu")
    assert read(f"{group}/cpu.idle") == "0"


def test_pids_limit_zero_is_one(runk, bundle):
    pid = _start(runk, bundle, "pa-pids", {"pids": {"limit": 0}})
    assert read(GROUP + proc_cgroup(pid) + "/pids.max") == "1"


def test_callers_affinity_does_not_leak(runk, bundle):
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        pytest.skip("the guest has one CPU")
    path = bundle.write(["grep", "Cpus_allowed_list", "/proc/self/status"])
    out = subprocess.run(
        ["taskset", "-c", str(cpus[0]), runk.binary, "--root", runk.root, "run", "--bundle", path, "pa-aff"],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=120,
    )
    assert out.returncode == 0, out
    assert out.stdout.split()[1] != str(cpus[0]), out
