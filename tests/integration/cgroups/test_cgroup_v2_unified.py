"""cgroup v2 manager on this host's real cgroup2 mount (the unified mount of a hybrid host).

Runs wherever a cgroup2 mount exists (root needed). On this machine the mount at
/sys/fs/cgroup/unified holds only hugetlb, which is enough for groups, cgroup.procs,
cgroup.freeze, cgroup.kill, cgroup.events, hugetlb and the eBPF device filter; the memory, cpu,
io, pids and cpuset tests skip here with the reason and run in the cgroup-v2-only guest.
"""

from __future__ import annotations

import errno
import os
import signal
import time

import pytest

from runk.errors import CgroupError
from runk.linux.cgroups import container_rules, devices_bpf
from runk.linux.cgroups.v1_hugetlb import page_sizes

from .childproc import cpu_ticks
from .conftest import reap_orphans, unique, v2_controller
from .test_cgroup_v1 import (
    MiB,
    allocate,
    block_device,
    fork_until_refused,
    hold,
    open_devices,
    rd,
    sleep_forever,
    spin,
    start_family,
)


def events(path: str) -> dict:
    return dict(line.split() for line in rd(path, "cgroup.events").splitlines())


def attached_ids(path: str) -> list[int]:
    fd = os.open(path, os.O_DIRECTORY | os.O_RDONLY)
    try:
        return devices_bpf.attached(fd, path)
    finally:
        os.close(fd)


def test_nested_groups_procs_and_cgroup_line(cgv2, unified, children) -> None:
    top = unique()
    outer = cgv2(rel=top)
    inner = cgv2(rel=f"{top}/a/b")
    assert os.path.isdir(inner.path)
    c = children(sleep_forever)
    inner.apply(c.pid)
    assert rd(inner.path, "cgroup.procs").split() == [str(c.pid)]
    with open(f"/proc/{c.pid}/cgroup") as f:
        line = next(x for x in f.read().splitlines() if x.startswith("0::"))
    assert line == f"0::/{top}/a/b"
    assert inner.pids() == [c.pid] and outer.pids(recursive=True) == [c.pid]
    assert outer.pids(recursive=False) == []
    # every controller the mount offers was enabled down to the leaf's parent (runc)
    have = rd(unified, "cgroup.controllers").split()
    assert rd(os.path.join(outer.path, "a"), "cgroup.subtree_control").split() == have
    assert rd(inner.path, "cgroup.controllers").split() == have
    assert inner.paths() == {"": inner.path}


def test_cgroup_events_populated(cgv2, children) -> None:
    m = cgv2()
    assert events(m.path)["populated"] == "0"
    c = children(sleep_forever)
    m.apply(c.pid)
    assert events(m.path)["populated"] == "1"
    c.kill()
    for _ in range(200):
        if events(m.path)["populated"] == "0":
            break
        time.sleep(0.01)
    assert events(m.path)["populated"] == "0"


def test_cgroup_freeze_stops_a_busy_task(cgv2, children) -> None:
    m = cgv2()
    c = children(spin)
    m.apply(c.pid)
    c.go()
    time.sleep(0.1)
    assert m.freezer_state() == "THAWED"
    m.freeze()
    assert rd(m.path, "cgroup.freeze") == "1" and events(m.path)["frozen"] == "1"
    assert m.freezer_state() == "FROZEN"
    t0 = cpu_ticks(c.pid)
    time.sleep(0.3)
    assert cpu_ticks(c.pid) == t0
    m.thaw()
    assert events(m.path)["frozen"] == "0" and m.freezer_state() == "THAWED"
    time.sleep(0.3)
    assert cpu_ticks(c.pid) > t0


def test_cgroup_kill_kills_the_whole_subtree(cgv2, children, subreaper, tmp_path) -> None:
    m = cgv2()
    c, kids = start_family(m, children, 4, tmp_path)
    assert sorted(m.pids()) == sorted([c.pid] + kids)
    m.kill_all(signal.SIGKILL)
    c.result()
    assert c.signaled == signal.SIGKILL
    reap_orphans(kids)
    for _ in range(300):
        if events(m.path)["populated"] == "0":
            break
        time.sleep(0.01)
    assert m.pids() == [] and events(m.path)["populated"] == "0"


def test_hugetlb_limits(cgv2, unified) -> None:
    v2_controller(unified, "hugetlb")
    sizes = page_sizes()
    m = cgv2({"hugepageLimits": [{"pageSize": s, "limit": (i + 1) << 30} for i, s in enumerate(sizes)]})
    for i, s in enumerate(sizes):
        assert rd(m.path, f"hugetlb.{s}.max") == str((i + 1) << 30)
        if os.path.exists(os.path.join(m.path, f"hugetlb.{s}.rsvd.max")):
            assert rd(m.path, f"hugetlb.{s}.rsvd.max") == str((i + 1) << 30)
    assert set(m.stats()["hugetlb"]) == set(sizes)
    # raw unified keys; the kernel keeps limits in whole pages, so use two pages of that size
    unit = {"KB": 1 << 10, "MB": 1 << 20, "GB": 1 << 30}[sizes[-1][-2:]]
    two_pages = 2 * int(sizes[-1][:-2]) * unit
    m.set({"unified": {f"hugetlb.{sizes[-1]}.max": str(two_pages)}})
    assert rd(m.path, f"hugetlb.{sizes[-1]}.max") == str(two_pages)


def test_invalid_hugepage_size_fails_and_leaves_nothing(cgv2, unified) -> None:
    v2_controller(unified, "hugetlb")
    m = cgv2(create=False)
    with pytest.raises(CgroupError, match=r"hugepageLimits\[0\]: invalid pageSize '3MB'"):
        m.create({"hugepageLimits": [{"pageSize": "3MB", "limit": 100 * 3 * MiB}]})
    assert not os.path.exists(m.path)


def test_ebpf_device_filter_denies_for_real(cgv2, children) -> None:
    rules = [{"allow": True, "access": "rwm"}, {"allow": False, "type": "c", "major": 1, "minor": 3, "access": "rw"}]
    m = cgv2({"devices": rules})
    assert len(attached_ids(m.path)) == 1
    probes = [("/dev/null", os.O_RDONLY), ("/dev/null", os.O_WRONLY), ("/dev/zero", os.O_RDWR)]
    c = children(open_devices, probes)
    m.apply(c.pid)
    c.go()
    assert c.result() == {"ok": ["EPERM", "EPERM", "ok"]}
    # update: the old program is replaced, not stacked
    old = attached_ids(m.path)
    m.set({"devices": [{"allow": True, "access": "rwm"}]})
    new = attached_ids(m.path)
    assert len(new) == 1 and new != old
    c2 = children(open_devices, probes)
    m.apply(c2.pid)
    c2.go()
    assert c2.result() == {"ok": ["ok", "ok", "ok"]}


def test_ebpf_runc_default_rules(cgv2, children) -> None:
    m = cgv2({"devices": container_rules([{"allow": False, "access": "rwm"}])})
    blk = "/dev/" + next(
        n for n in sorted(os.listdir("/sys/block")) if os.path.exists("/dev/" + n) and not n.startswith(("zram", "ram"))
    )
    c = children(
        open_devices,
        [("/dev/null", os.O_RDWR), ("/dev/urandom", os.O_RDONLY), (blk, os.O_RDONLY), ("/dev/kmsg", os.O_RDONLY)],
    )
    m.apply(c.pid)
    c.go()
    assert c.result() == {"ok": ["ok", "ok", "EPERM", "EPERM"]}


def test_unified_refuses_paths_and_unknown_controllers(cgv2) -> None:
    m = cgv2()
    with pytest.raises(CgroupError, match="no slashes"):
        m.set({"unified": {"../cgroup.procs": "1"}})
    with pytest.raises(CgroupError, match="controller 'nosuch' not available"):
        m.set({"unified": {"nosuch.max": "1"}})


def test_destroy_is_idempotent_and_removes_children(cgv2) -> None:
    m = cgv2()
    os.makedirs(os.path.join(m.path, "x", "y"))
    m.destroy()
    assert not m.exists()
    m.destroy()
    assert m.freezer_state() == ""


# -- controllers this hybrid host does not give the cgroup2 mount (run in the v2 guest) -------
def test_v2_memory_limit_and_oom(cgv2, unified, children) -> None:
    v2_controller(unified, "memory")
    m = cgv2({"memory": {"limit": 32 * MiB, "swap": 32 * MiB, "reservation": 16 * MiB}})
    assert rd(m.path, "memory.max") == str(32 * MiB)
    assert rd(m.path, "memory.low") == str(16 * MiB)
    if os.path.exists(os.path.join(m.path, "memory.swap.max")):
        assert rd(m.path, "memory.swap.max") == "0"
    c = children(allocate, 256 * MiB)
    m.apply(c.pid)
    c.go()
    c.result()
    assert c.signaled == signal.SIGKILL
    assert m.oom_kill_count() >= 1
    with pytest.raises(CgroupError, match="swappiness"):
        m.set({"memory": {"swappiness": 10}})


def test_v2_oom_watcher(cgv2, unified, children) -> None:
    v2_controller(unified, "memory")
    from runk.linux.cgroups.oom_events import OomWatcher

    m = cgv2({"memory": {"limit": 32 * MiB, "swap": 32 * MiB}})
    w = OomWatcher(m.paths())
    try:
        assert w.read() == 0
        c = children(allocate, 256 * MiB)
        m.apply(c.pid)
        c.go()
        c.result()
        assert w.wait(5)
        assert w.read() >= 1
    finally:
        w.close()


def test_v2_oom_watcher_outlives_its_group(unified) -> None:
    """A group removed under the watcher (systemd removes a stopped scope's before `events` sees
    the container stopped): no more events, not an error. The file is the group's cgroup.events,
    read as the watcher reads memory.events (no memory controller on this host's cgroup2)."""
    from runk.linux.cgroups.oom_events import OomWatcher

    path = os.path.join(unified, unique())
    os.mkdir(path)
    w = OomWatcher.__new__(OomWatcher)
    w._ctl, w._path, w._last = -1, path, 0
    w._fd = os.open(os.path.join(path, "cgroup.events"), os.O_RDONLY | os.O_CLOEXEC)
    try:
        os.rmdir(path)
        with pytest.raises(OSError) as e:
            os.pread(w._fd, 64, 0)
        assert e.value.errno == errno.ENODEV
        assert w.read() == 0
    finally:
        w.close()


def test_v2_memory_check_before_update(cgv2, unified, children) -> None:
    v2_controller(unified, "memory")
    m = cgv2({"memory": {"limit": 256 * MiB}})
    c = children(hold, 32 * MiB)
    m.apply(c.pid)
    c.go()
    for _ in range(500):
        if int(rd(m.path, "memory.current")) > 30 * MiB:
            break
        time.sleep(0.01)
    with pytest.raises(CgroupError, match="rejecting memory limit"):
        m.set({"memory": {"limit": 8 * MiB, "checkBeforeUpdate": True}})


def test_v2_pids_limit(cgv2, unified, children) -> None:
    v2_controller(unified, "pids")
    m = cgv2({"pids": {"limit": 6}})
    assert rd(m.path, "pids.max") == "6"
    c = children(fork_until_refused, "")
    m.apply(c.pid)
    c.go()
    res = c.result()["ok"]
    assert res == {"forked": 5, "errno": errno.EAGAIN}


def test_v2_cpu_weight_max_burst_idle(cgv2, unified) -> None:
    v2_controller(unified, "cpu")
    m = cgv2({"cpu": {"shares": 1024, "quota": 50000, "period": 100000, "burst": 10000, "idle": 0}})
    assert rd(m.path, "cpu.weight") == "39"  # runc 1.1.5's linear conversion
    assert rd(m.path, "cpu.max") == "50000 100000"
    assert rd(m.path, "cpu.max.burst") == "10000"
    assert rd(m.path, "cpu.idle") == "0"
    m.set({"cpu": {"quota": -1}})
    assert rd(m.path, "cpu.max") == "max 100000"


def test_v2_cpuset(cgv2, unified) -> None:
    v2_controller(unified, "cpuset")
    m = cgv2({"cpu": {"cpus": "0", "mems": "0"}})
    assert rd(m.path, "cpuset.cpus") == "0" and rd(m.path, "cpuset.mems") == "0"


def test_v2_io_weight_and_max(cgv2, unified) -> None:
    v2_controller(unified, "io")
    dev = block_device()
    major, minor = (int(x) for x in dev.split(":"))
    m = cgv2({"blockIO": {"weight": 500, "throttleReadBpsDevice": [{"major": major, "minor": minor, "rate": 1048576}]}})
    if os.path.exists(os.path.join(m.path, "io.bfq.weight")):
        assert rd(m.path, "io.bfq.weight").split()[-1] == "500"
    else:
        assert rd(m.path, "io.weight") == "default 4950"
    assert f"{dev} rbps=1048576" in rd(m.path, "io.max")


def test_v2_stats_shape(cgv2, unified, children) -> None:
    v2_controller(unified, "memory")
    m = cgv2({"pids": {"limit": 50}})
    c = children(hold, 8 * MiB)
    m.apply(c.pid)
    c.go()
    time.sleep(0.5)
    s = m.stats()
    assert list(s) == ["cpu", "cpuset", "memory", "pids", "blkio", "hugetlb", "intel_rdt", "network_interfaces"]
    assert s["memory"]["usage"]["usage"] > 4 * MiB and s["cpu"]["usage"]["total"] > 0


def _fork_and_report_cgroup(entry) -> tuple[int, str]:
    """launch's fork, as create forks the bootstrap: (pid, the child's "0::" line)."""
    from runk.linux.launch import _fork

    r, w = os.pipe()
    pid = _fork(entry)
    if pid == 0:  # pragma: no cover - runs in the child
        try:
            with open("/proc/self/cgroup") as f:
                line = next(x for x in f.read().splitlines() if x.startswith("0::"))
            os.write(w, line.encode())
        finally:
            os._exit(0)
    os.close(w)
    try:
        line = os.read(r, 4096).decode()
    finally:
        os.close(r)
        os.waitpid(pid, 0)
    return pid, line


def test_fork_clones_straight_into_the_group(cgv2, unified) -> None:
    """clone3(CLONE_INTO_CGROUP): the child starts in the group; apply() then writes nothing."""
    m = cgv2()
    entry = m.entry()
    try:
        assert entry.clone_fd >= 0 and entry.tasks == []
        _pid, line = _fork_and_report_cgroup(entry)
        assert entry.cloned
    finally:
        entry.close()
    assert line == "0::/" + os.path.relpath(m.path, unified)


def test_fork_falls_back_when_the_kernel_refuses_the_group(cgv2, unified, tmp_path) -> None:
    """An fd clone3 cannot use (here: not a cgroup directory) is the kernel < 5.7 case: plain
    fork, and apply() moves the process with a cgroup.procs write as before."""
    from runk.linux.cgroups.base import Entry

    m = cgv2()
    entry = Entry()
    entry.clone_fd = os.open(str(tmp_path), os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        r, w = os.pipe()
        from runk.linux.launch import _fork

        pid = _fork(entry)
        if pid == 0:  # pragma: no cover - runs in the child
            os.close(w)
            os.read(r, 1)
            os._exit(0)
        os.close(r)
        assert not entry.cloned
        mine = open("/proc/self/cgroup").read().splitlines()
        assert [x for x in open(f"/proc/{pid}/cgroup").read().splitlines() if x.startswith("0::")] == [
            x for x in mine if x.startswith("0::")
        ]
        m.apply(pid, entry)
        assert rd(m.path, "cgroup.procs").split() == [str(pid)]
        os.close(w)
        os.waitpid(pid, 0)
    finally:
        entry.close()


def test_sub_manager_for_exec_cgroup(cgv2, unified) -> None:
    m = cgv2()
    assert m.sub({"": "a/b"}).path == os.path.join(m.path, "a/b")
    assert m.sub({"": "/a"}).path == os.path.join(m.path, "a")
    assert m.sub({"cpu": "x"}).path == m.path  # per-controller paths are for cgroup v1
    with pytest.raises(CgroupError, match=r"bad sub cgroup path: \.\./x is not a sub cgroup path"):
        m.sub({"": "../x"})


def test_a_threaded_process_forks_instead(cgv2, unified) -> None:
    """A process with a second thread never clones itself raw (another thread could hold a
    glibc lock the child would then wait for forever): it forks, and apply() moves the child."""
    import threading

    m = cgv2()
    stop = threading.Event()
    t = threading.Thread(target=stop.wait)
    t.start()
    entry = m.entry()
    try:
        _pid, line = _fork_and_report_cgroup(entry)
        assert not entry.cloned and line != "0::/" + os.path.relpath(m.path, unified)
    finally:
        entry.close()
        stop.set()
        t.join()
