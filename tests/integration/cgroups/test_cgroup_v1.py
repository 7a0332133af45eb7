"""cgroup v1 (and hybrid) manager on this host's real hierarchies: write, read back, enforce.

Needs root and cgroup v1 controllers; each test uses runk-test-<pid>-<n> groups that its fixtures
kill and remove (and the fixture fails the test if anything is left behind).
"""

from __future__ import annotations

import errno
import json
import os
import signal
import time

import pytest

from runk.errors import CgroupError
from runk.linux.cgroups import container_rules, load_manager, mount_plan
from runk.linux.cgroups.devices_rules import Emulator, parse_rules
from runk.linux.cgroups.v1 import V1Manager
from runk.linux.cgroups.v1_hugetlb import page_sizes

from .childproc import cpu_ticks, proc_state
from .conftest import reap_orphans

MiB = 1 << 20


def rd(path: str, name: str) -> str:
    with open(os.path.join(path, name)) as f:
        return f.read().strip()


def block_device() -> str:
    for name in sorted(os.listdir("/sys/block")):
        if not name.startswith(("loop", "zram", "ram")):
            with open(f"/sys/block/{name}/dev") as f:
                return f.read().strip()
    with open("/sys/block/loop0/dev") as f:
        return f.read().strip()


# -- functions run inside children -----------------------------------------------------------
def sleep_forever() -> None:
    while True:
        time.sleep(60)


def spin() -> None:
    while True:
        pass


def allocate(n: int) -> int:
    buf = bytearray(b"\x01") * n  # memset: every page is touched and charged
    return len(buf)


def hold(n: int) -> None:
    buf = bytearray(b"\x01") * n
    sum(range(3_000_000))  # some CPU time for the stats test
    time.sleep(60)
    del buf


def fork_until_refused(out_path: str) -> dict:
    kids, err = [], None
    try:
        for _ in range(100):
            pid = os.fork()
            if pid == 0:
                time.sleep(60)
                os._exit(0)
            kids.append(pid)
    except OSError as e:
        err = e.errno
    for k in kids:
        os.kill(k, signal.SIGKILL)
        os.waitpid(k, 0)
    return {"forked": len(kids), "errno": err}


def open_devices(paths_modes: list) -> list:
    out = []
    for path, mode in paths_modes:
        try:
            os.close(os.open(path, mode))
            out.append("ok")
        except OSError as e:
            out.append(errno.errorcode[e.errno])
    return out


def start_family(manager, children, n: int, tmp_path) -> tuple:
    """A child with n children of its own, all in `manager`'s group: (child, the n pids)."""
    pid_file = str(tmp_path / "kids.json")
    c = children(family, n, pid_file)
    manager.apply(c.pid)
    c.go()
    for _ in range(500):
        if os.path.exists(pid_file) and os.path.getsize(pid_file):
            break
        time.sleep(0.01)
    with open(pid_file) as f:
        return c, json.load(f)


def family(n: int, pid_file: str) -> None:
    kids = []
    for _ in range(n):
        pid = os.fork()
        if pid == 0:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            while True:
                time.sleep(60)
        kids.append(pid)
    with open(pid_file, "w") as f:
        json.dump(kids, f)
    while True:
        time.sleep(60)


# -- creation, paths, read back ----------------------------------------------------------------
def full_resources() -> dict:
    dev = block_device()
    major, minor = (int(x) for x in dev.split(":"))
    res = {
        "memory": {
            "limit": 64 * MiB,
            "reservation": 32 * MiB,
            "swap": 128 * MiB,
            "swappiness": 20,
            "useHierarchy": True,
            "kernel": 64 * MiB,
            "kernelTCP": 64 * MiB,
        },
        "cpu": {
            "shares": 512,
            "quota": 50000,
            "period": 100000,
            "burst": 10000,
            "idle": 0,
            "realtimeRuntime": 1000,
            "realtimePeriod": 100000,
            "cpus": "0",
            "mems": "0",
        },
        "pids": {"limit": 100},
        "blockIO": {
            "weight": 300,
            "throttleReadBpsDevice": [{"major": major, "minor": minor, "rate": 1048576}],
            "throttleWriteBpsDevice": [{"major": major, "minor": minor, "rate": 2097152}],
            "throttleReadIOPSDevice": [{"major": major, "minor": minor, "rate": 1000}],
            "throttleWriteIOPSDevice": [{"major": major, "minor": minor, "rate": 500}],
        },
        "hugepageLimits": [{"pageSize": s, "limit": 2 << 30} for s in page_sizes()],
        "devices": container_rules(
            [
                {"allow": False, "access": "rwm"},
                {"allow": True, "type": "c", "major": 10, "minor": 229, "access": "rwm"},
                {"allow": True, "type": "b", "major": 8, "minor": 20, "access": "rw"},
                {"allow": True, "type": "b", "major": 10, "minor": 200, "access": "r"},
            ]
        ),
    }
    return res


def test_every_resource_is_written_and_read_back(cgv1) -> None:
    res = full_resources()
    m = cgv1(res)
    p = m.paths()
    assert rd(p["memory"], "memory.limit_in_bytes") == str(64 * MiB)
    assert rd(p["memory"], "memory.memsw.limit_in_bytes") == str(128 * MiB)
    assert rd(p["memory"], "memory.soft_limit_in_bytes") == str(32 * MiB)
    assert rd(p["memory"], "memory.swappiness") == "20"
    assert rd(p["memory"], "memory.use_hierarchy") == "1"
    assert m.warnings == ["Kernel memory settings are ignored and will be removed"]
    assert rd(p["cpu"], "cpu.shares") == "512"
    assert rd(p["cpu"], "cpu.cfs_quota_us") == "50000"
    assert rd(p["cpu"], "cpu.cfs_period_us") == "100000"
    assert rd(p["cpu"], "cpu.cfs_burst_us") == "10000"
    assert rd(p["cpu"], "cpu.idle") == "0"
    assert rd(p["cpu"], "cpu.rt_runtime_us") == "1000"
    assert rd(p["cpu"], "cpu.rt_period_us") == "100000"
    assert rd(p["cpuset"], "cpuset.cpus") == "0"
    assert rd(p["cpuset"], "cpuset.mems") == "0"
    assert rd(p["pids"], "pids.max") == "100"
    assert (
        rd(
            p["blkio"],
            "blkio.bfq.weight" if not os.path.exists(os.path.join(p["blkio"], "blkio.weight")) else "blkio.weight",
        ).split()[-1]
        == "300"
    )
    dev = block_device()
    assert rd(p["blkio"], "blkio.throttle.read_bps_device") == f"{dev} 1048576"
    assert rd(p["blkio"], "blkio.throttle.write_bps_device") == f"{dev} 2097152"
    assert rd(p["blkio"], "blkio.throttle.read_iops_device") == f"{dev} 1000"
    assert rd(p["blkio"], "blkio.throttle.write_iops_device") == f"{dev} 500"
    for s in page_sizes():
        hp = p.get("hugetlb") or p[""]
        suffix = ".limit_in_bytes" if "hugetlb" in p else ".max"
        assert rd(hp, f"hugetlb.{s}{suffix}") == str(2 << 30)
        assert rd(hp, f"hugetlb.{s}.rsvd{suffix}") == str(2 << 30)
    listed = rd(p["devices"], "devices.list").splitlines()
    # linux.resources.devices in their OCI order first, then runc's defaults
    assert listed[:3] == ["c 10:229 rwm", "b 8:20 rw", "b 10:200 r"]
    assert listed[3:5] == ["c *:* m", "b *:* m"]
    assert Emulator.from_list("\n".join(listed)) == Emulator.from_rules(parse_rules(res["devices"]))


def test_oom_killer_can_be_disabled(cgv1) -> None:
    m = cgv1({"memory": {"limit": 64 * MiB, "disableOOMKiller": True}})
    assert "oom_kill_disable 1" in rd(m.paths()["memory"], "memory.oom_control")


def test_paths_round_trip_through_json(cgv1, host) -> None:
    m = cgv1(None)
    saved = json.loads(json.dumps(m.paths()))
    m2 = load_manager(saved)
    assert type(m2) is type(m) and m2.paths() == m.paths() and m2.exists()
    plan = mount_plan(m2)
    assert all(dst.startswith("/sys/fs/cgroup/") for dst, _ in plan)
    assert ("/sys/fs/cgroup/memory", m.paths()["memory"]) in plan
    assert all(src in m.paths().values() and src != m.paths().get("") for _, src in plan)


def test_task_joins_every_hierarchy_including_unified(cgv1, children) -> None:
    m = cgv1(None)
    c = children(sleep_forever)
    m.apply(c.pid)
    with open(f"/proc/{c.pid}/cgroup") as f:
        lines = f.read().splitlines()
    inner = "/" + os.path.basename(m.paths()["memory"])
    for line in lines:
        _, ctrls, path = line.split(":", 2)
        assert path == inner, line
    assert m.pids() == [c.pid]


def test_relative_and_default_paths_follow_runc(host) -> None:
    from runk.linux.cgroups import make_manager

    m = make_manager(None, "ctr-x")
    p = m.paths()
    for key, path in p.items():
        if key == "":
            assert path == os.path.join(host.unified.mountpoint, "ctr-x")
            continue
        mnt = host.v1[key]
        own = host.own[key]
        assert path == os.path.join(mnt.mountpoint, own.lstrip("/"), "ctr-x").replace("//", "/")


# -- failures leave nothing ------------------------------------------------------------------
def test_invalid_cpuset_fails_and_leaves_no_directory(cgv1) -> None:
    m = cgv1(None, create=False)
    nested = V1Manager({k: os.path.join(v, "a", "b") for k, v in m.paths().items() if k})
    with pytest.raises(CgroupError, match=r"linux.resources.cpu.cpus.*cpuset.cpus"):
        nested.create({"cpu": {"cpus": "99"}, "memory": {"limit": 64 * MiB}})
    for path in m.paths().values():
        assert not os.path.exists(path), path


def test_unmounted_controller_fails_create_cleanly(cgv1, host) -> None:
    if "net_cls" in host.v1:
        pytest.skip("net_cls is mounted here")
    m = cgv1(None, create=False)
    with pytest.raises(
        CgroupError,
        match=r"linux.resources.network.classID: the net_cls cgroup "
        r"controller is not mounted",
    ):
        m.create({"pids": {"limit": 10}, "network": {"classID": 0x100001}})
    assert not any(os.path.exists(p) for p in m.paths().values())


def test_leaf_weight_error_names_field(cgv1) -> None:
    m = cgv1(None, create=False)
    if os.path.exists("/sys/fs/cgroup/blkio/blkio.leaf_weight"):
        pytest.skip("this kernel still has CFQ leaf weights")
    with pytest.raises(CgroupError, match="blockIO.leafWeight"):
        m.create({"blockIO": {"leafWeight": 300}})
    assert not any(os.path.exists(p) for p in m.paths().values())


# -- update ----------------------------------------------------------------------------------
def test_set_updates_a_running_group(cgv1, children) -> None:
    m = cgv1(
        {
            "memory": {"limit": 64 * MiB},
            "pids": {"limit": 20},
            "devices": [
                {"allow": False, "access": "rwm"},
                {"allow": True, "type": "c", "major": 1, "minor": 5, "access": "rwm"},
            ],
        }
    )
    sleeper = children(sleep_forever)
    m.apply(sleeper.pid)
    m.set({"memory": {"limit": 96 * MiB, "swap": 128 * MiB}, "pids": {"limit": -1}, "cpu": {"shares": 256}})
    p = m.paths()
    assert rd(p["memory"], "memory.limit_in_bytes") == str(96 * MiB)
    assert rd(p["memory"], "memory.memsw.limit_in_bytes") == str(128 * MiB)
    assert rd(p["pids"], "pids.max") == "max"
    assert rd(p["cpu"], "cpu.shares") == "256"
    # devices on a busy group: runc's minimal transition, then enforced for the next task
    new = [
        {"allow": False, "access": "rwm"},
        {"allow": True, "type": "c", "major": 1, "minor": 5, "access": "rwm"},
        {"allow": True, "type": "c", "major": 1, "minor": 3, "access": "r"},
    ]
    m.set({"devices": new})
    assert Emulator.from_list(rd(p["devices"], "devices.list")) == Emulator.from_rules(parse_rules(new))
    c = children(open_devices, [("/dev/null", os.O_RDONLY), ("/dev/null", os.O_WRONLY), ("/dev/zero", os.O_RDWR)])
    m.apply(c.pid)
    c.go()
    assert c.result() == {"ok": ["ok", "EPERM", "ok"]}


def test_memory_limit_below_usage_is_refused_with_usage(cgv1, children) -> None:
    m = cgv1({"memory": {"limit": 256 * MiB}})
    c = children(hold, 64 * MiB)
    m.apply(c.pid)
    c.go()
    path = m.paths()["memory"]
    for _ in range(500):
        if int(rd(path, "memory.usage_in_bytes")) > 60 * MiB:
            break
        time.sleep(0.01)
    with pytest.raises(CgroupError, match=r"memory.limit.*\(current usage: \d+, peak usage: \d+\)"):
        m.set({"memory": {"limit": 4 * MiB, "swap": 4 * MiB}})


# -- enforcement -----------------------------------------------------------------------------
def test_memory_limit_oom_kills(cgv1, children) -> None:
    m = cgv1({"memory": {"limit": 32 * MiB, "swap": 32 * MiB}})
    c = children(allocate, 256 * MiB)
    m.apply(c.pid)
    c.go()
    assert c.result() == {}
    assert c.signaled == signal.SIGKILL
    assert m.oom_kill_count() >= 1
    stats = m.stats()
    assert stats["memory"]["usage"]["max"] == 32 * MiB  # the peak reached the limit
    assert stats["memory"]["usage"]["limit"] == 32 * MiB


def test_oom_watcher_reports_the_kill(cgv1, children) -> None:
    from runk.linux.cgroups.oom_events import OomWatcher

    m = cgv1({"memory": {"limit": 32 * MiB, "swap": 32 * MiB}})
    w = OomWatcher(m.paths())
    try:
        assert w.read() == 0 and not w.wait(0)
        c = children(allocate, 256 * MiB)
        m.apply(c.pid)
        c.go()
        c.result()
        assert w.wait(5)
        assert w.read() >= 1
        assert w.read() == 0
    finally:
        w.close()


def test_pids_limit_stops_forking(cgv1, children) -> None:
    m = cgv1({"pids": {"limit": 6}})
    c = children(fork_until_refused, "")
    m.apply(c.pid)
    c.go()
    res = c.result()["ok"]
    assert res["errno"] == errno.EAGAIN
    assert res["forked"] == 5  # the child itself is the sixth task


def test_device_deny_rule_blocks_open(cgv1, children) -> None:
    m = cgv1(
        {
            "devices": [
                {"allow": False, "access": "rwm"},
                {"allow": True, "type": "c", "major": 1, "minor": 5, "access": "rwm"},
            ]
        }
    )
    c = children(open_devices, [("/dev/null", os.O_RDONLY), ("/dev/zero", os.O_RDONLY)])
    m.apply(c.pid)
    c.go()
    assert c.result() == {"ok": ["EPERM", "ok"]}


def test_freeze_and_thaw_stop_and_restart_a_busy_task(cgv1, children) -> None:
    m = cgv1(None)
    c = children(spin)
    m.apply(c.pid)
    c.go()
    time.sleep(0.1)
    assert m.freezer_state() == "THAWED"
    m.freeze()
    assert m.freezer_state() == "FROZEN"
    assert rd(m.paths()["freezer"], "freezer.state") == "FROZEN"
    assert proc_state(c.pid) == "D"
    t0 = cpu_ticks(c.pid)
    time.sleep(0.3)
    assert cpu_ticks(c.pid) == t0
    m.thaw()
    assert m.freezer_state() == "THAWED"
    time.sleep(0.3)
    assert cpu_ticks(c.pid) > t0
    assert proc_state(c.pid) == "R"


@pytest.mark.parametrize("sig,v1_only", [(signal.SIGKILL, False), (signal.SIGKILL, True), (signal.SIGTERM, False)])
def test_kill_all_kills_every_process(cgv1, children, subreaper, tmp_path, sig, v1_only) -> None:
    m = cgv1(None)
    c, kids = start_family(m, children, 3, tmp_path)
    assert sorted(m.pids()) == sorted([c.pid] + kids)
    mgr = V1Manager(m.paths()) if v1_only else m  # v1 only: freeze, signal each, thaw
    mgr.kill_all(sig)
    c.result()
    assert c.signaled == sig
    reap_orphans(kids)
    for _ in range(300):
        if not m.pids():
            break
        time.sleep(0.01)
    assert m.pids() == []
    assert m.freezer_state() == "THAWED"


def test_kill_all_of_a_paused_group(cgv1, children) -> None:
    m = cgv1(None)
    c = children(sleep_forever)
    m.apply(c.pid)
    c.go()
    m.freeze()
    m.kill_all(signal.SIGKILL)
    c.result()
    assert c.signaled == signal.SIGKILL


def test_destroy_removes_nested_groups_and_is_idempotent(cgv1, children) -> None:
    m = cgv1(None)
    for path in m.paths().values():
        os.makedirs(os.path.join(path, "inner", "deeper"))
    c = children(sleep_forever)
    m.apply(c.pid)
    with pytest.raises(CgroupError, match="failed to remove cgroup paths"):
        m.destroy()  # a live task keeps its group: destroy reports it after retrying
    c.kill()
    m.destroy()
    assert not any(os.path.exists(p) for p in m.paths().values())
    assert not m.exists()
    m.destroy()
    assert m.freezer_state() == ""
    assert m.pids() == []


def test_stats_have_runc_shape(cgv1, children) -> None:
    m = cgv1({"pids": {"limit": 50}, "memory": {"limit": 64 * MiB}})
    c = children(hold, 8 * MiB)
    m.apply(c.pid)
    c.go()
    time.sleep(0.5)
    s = m.stats()
    assert list(s) == ["cpu", "cpuset", "memory", "pids", "blkio", "hugetlb", "intel_rdt", "network_interfaces"]
    assert s["pids"] == {"current": 1, "limit": 50}
    assert s["cpu"]["usage"]["total"] > 0 and len(s["cpu"]["usage"]["percpu"]) == os.cpu_count()
    assert s["memory"]["usage"]["usage"] > 4 * MiB
    assert s["memory"]["raw"]["hierarchical_memory_limit"] == 64 * MiB
    assert list(s["memory"]) == ["cache", "usage", "swap", "kernel", "kernelTCP", "raw"] or list(s["memory"]) == [
        "usage",
        "swap",
        "kernel",
        "kernelTCP",
        "raw",
    ]
    assert set(s["hugetlb"]) == set(page_sizes())
