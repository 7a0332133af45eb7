"""cgroup v2 with real containers, in the lab guest (cgroup v2 only, systemd as PID 1): runk's
own CLI, from this checkout's .venv, creates, updates, pauses, kills and deletes containers with
its cgroupfs driver, and the v2 files, the enforcement and the eBPF device filter are checked.
The same container under runc (the host's /usr/sbin/runc, shared with /usr) gives the reference
for the v1→v2 conversions (shares→cpu.weight, blkio weight→io.weight, swap→memory.swap.max).

OOM, the events stream and pids.max refusing forks: test_cgroup_cli.py, under both drivers.

One module fixture runs every scenario (cgroup_v2_scenarios.py collects a report); each test
below asserts one part of it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time

import cgroup_v2_scenarios
import pytest
from conftest import BUNDLE, RUNC, RUNK

MiB = 1 << 20


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> dict:
    base = tmp_path_factory.mktemp("cgv2")
    subprocess.run(["cp", "-a", os.path.join(BUNDLE, "rootfs"), str(base / "rootfs")], check=True)
    shutil.copy(os.path.join(BUNDLE, "config.json"), base / "base.json")
    t = time.monotonic()
    rep = cgroup_v2_scenarios.collect(RUNK, RUNC, str(base))
    print(f"\ncgroup v2 scenarios: {time.monotonic() - t:.1f} s, per scenario {rep['seconds']}")
    return rep


def part(report: dict, name: str) -> dict:
    if name == "runc" and not os.access(RUNC, os.X_OK):
        pytest.skip("needs runc (apt-get install runc) for the reference values")
    p = report[name]
    assert "error" not in p, p["error"]
    return p


def shares_to_weight(shares: int) -> int:  # runc ConvertCPUSharesToCgroupV2Value
    return 1 + ((shares - 2) * 9999) // 262142


def blkio_to_io_weight(w: int) -> int:  # runc ConvertBlkIOToIOWeightValue
    return 1 + (w - 10) * 9999 // 990


def io_weight(files: dict, blkio: int) -> None:
    if files["io.bfq.weight"] is not None:  # BFQ takes the blkio weight as it is
        assert files["io.bfq.weight"].split()[-1] == str(blkio)
    else:
        assert files["io.weight"] == f"default {blkio_to_io_weight(blkio)}"


def test_guest_is_cgroup_v2_only(report):
    # no v1 hierarchy anywhere, and /sys/fs/cgroup is the one cgroup2 (a second cgroup2 can be
    # CRIU's cgroup yard, mounted for a moment by a restore in the other root session)
    assert {fstype for _, fstype in report["mounts"]} == {"cgroup2"}, report["mounts"]
    assert [fstype for mp, fstype in report["mounts"] if mp == "/sys/fs/cgroup"] == ["cgroup2"], report["mounts"]
    assert {"memory", "cpu", "cpuset", "io", "pids"} <= set(report["controllers"].split())


def test_resources_reach_the_v2_files(report):
    runk = part(report, "runk")
    assert runk["dir"] == "/sys/fs/cgroup/runk-v2/res-runk"  # cgroupsPath, nested
    f = runk["created"]
    assert f["memory.max"] == str(64 * MiB)
    assert f["memory.low"] == str(32 * MiB)  # reservation
    assert f["memory.swap.max"] == str(32 * MiB)  # swap 96M - limit 64M
    assert f["memory.high"] == str(60 * MiB)  # unified
    assert f["cpu.weight"] == str(shares_to_weight(512)) == "20"
    assert f["cpu.max"] == "50000 100000"
    assert (f["cpuset.cpus"], f["cpuset.mems"]) == ("0", "0")
    assert f["pids.max"] == "40"
    io_weight(f, 300)
    assert runk["init_in_group"]
    assert runk["device_programs"] == 1  # the eBPF device filter


def test_update_on_v2(report):
    runk = part(report, "runk")
    u = runk["update"]
    assert u["rc"] == 0
    f = u["files"]
    assert f["memory.max"] == str(100 * MiB)
    assert f["memory.swap.max"] == str(50 * MiB)
    assert f["memory.low"] == str(40 * MiB)
    assert f["cpu.weight"] == str(shares_to_weight(1024))
    assert f["cpu.max"] == "20000 50000"
    assert f["pids.max"] == "30"
    io_weight(f, 500)
    u = runk["update_r"]  # update -r - (stdin)
    assert (u["rc"], u["err"]) == (0, "")
    f = u["files"]
    assert f["pids.max"] == "25"
    assert f["cpu.weight"] == "1"  # shares 2: the minimum
    assert f["memory.high"] == str(90 * MiB)
    assert f["memory.max"] == str(100 * MiB)  # untouched


def test_same_v2_files_as_runc(report):
    runk, runc = part(report, "runk"), part(report, "runc")
    for step in ("created", "update", "update_r"):
        assert runk[step] == runc[step], step


def test_ps_and_events_stats(report):
    runk, runc = part(report, "runk"), part(report, "runc")
    assert runk["ps"] == runk["procs"] and len(runk["ps"]) == 3
    s = runk["stats"]
    assert (s["type"], s["id"]) == ("stats", "res-runk")
    assert {"cpu", "memory", "pids"} <= set(s["keys"])
    assert s["keys"] == runc["stats"]["keys"]
    assert s["memory"]["usage"] > 0 and s["memory"]["limit"] == 64 * MiB
    assert s["pids"] == runc["stats"]["pids"] == {"current": 3, "limit": 40}
    assert s["cpu_total"] > 0


def test_pause_resume_through_cgroup_freeze(report):
    runk, runc = part(report, "runk"), part(report, "runc")
    assert runk["paused"] == runc["paused"]
    p = runk["paused"]
    assert (p["freeze"], p["frozen"], p["status"]) == ("1", "1", "paused")
    assert p["exec_rc"] != 0 and "cannot exec in a paused container" in p["exec_msg"]
    assert runk["resumed"] == {"freeze": "0", "frozen": "0", "status": "running", "exec": "in\n"}
    assert runk["resumed"] == runc["resumed"]


def test_delete_leaves_no_group(report):
    runk = part(report, "runk")
    assert (runk["delete"], runk["dir_left"]) == (0, False)
    assert runk["parent_left"]  # /runk-v2 stays: runc too removes only the container's group
    assert report["left"] == {"runk": [], "runc": []}


def test_kill_all_through_cgroup_kill(report):
    p = part(report, "kill_all")
    assert p["has_cgroup_kill"]
    assert (p["before"], p["kill_rc"], p["after"], p["status"]) == (3, 0, 0, "stopped"), p
    assert (p["delete"], p["dir_left"]) == (0, False)


def test_ebpf_device_filter(report):
    p = part(report, "devices")
    # deny-all; /dev/kmsg and /dev/null made by linux.devices, so no default rule for /dev/null
    assert p["denied"] == {"rc": 1, "out": [], "eperm": 2}, p
    assert p["allowed"] == {"rc": 0, "out": ["kmsg", "null"], "eperm": 0}, p
    assert p["read_only"] == {"rc": 1, "out": [], "eperm": 1}, p  # "r" does not grant a write


def test_failed_create_leaves_no_group(report):
    p = part(report, "failed_create")
    assert p["rc"] == 1 and "cpuset.cpus" in p["err"], p
    assert not p["left"] and p["state_rc"] != 0
