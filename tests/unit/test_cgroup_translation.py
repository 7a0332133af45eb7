"""OCI LinuxResources → cgroup file writes, per controller, against a FAKE cgroup directory.

This is a temp-dir fake, declared as such (DESIGN 3.9, 3.16): plain files stand in for cgroupfs so
the translation (which file, which value, which order) is checked without root. Kernel behaviour
(EBUSY, EINVAL, refusals) is not modelled here; tests/integration/cgroups covers that for real.
"""

from __future__ import annotations

import os

import pytest

from runk.errors import CgroupError
from runk.linux.cgroups import fs, v1, v2
from runk.linux.cgroups.v1_hugetlb import page_sizes

V1_FILES = {
    "memory.limit_in_bytes": "9223372036854771712",
    "memory.memsw.limit_in_bytes": "9223372036854771712",
    "memory.soft_limit_in_bytes": "",
    "memory.oom_control": "",
    "memory.swappiness": "60",
    "memory.use_hierarchy": "1",
    "memory.usage_in_bytes": "0",
    "memory.max_usage_in_bytes": "0",
    "cpu.shares": "1024",
    "cpu.cfs_quota_us": "-1",
    "cpu.cfs_period_us": "100000",
    "cpu.cfs_burst_us": "0",
    "cpu.idle": "0",
    "cpu.rt_runtime_us": "0",
    "cpu.rt_period_us": "1000000",
    "cpuset.cpus": "",
    "cpuset.mems": "",
    "pids.max": "max",
    "blkio.bfq.weight": "100",
    "blkio.bfq.weight_device": "",
    "blkio.throttle.read_bps_device": "",
    "blkio.throttle.write_bps_device": "",
    "blkio.throttle.read_iops_device": "",
    "blkio.throttle.write_iops_device": "",
    "net_cls.classid": "0",
    "net_prio.ifpriomap": "",
    "rdma.max": "",
    "devices.list": "a *:* rwm\n",
    "devices.allow": "",
    "devices.deny": "",
    "cgroup.procs": "",
}
V2_FILES = {
    "cgroup.controllers": "cpuset cpu io memory hugetlb pids rdma",
    "memory.max": "max",
    "memory.swap.max": "max",
    "memory.low": "0",
    "memory.current": "4096",
    "cpu.weight": "100",
    "cpu.max": "max 100000",
    "cpu.max.burst": "0",
    "cpu.idle": "0",
    "cpuset.cpus": "",
    "cpuset.mems": "",
    "pids.max": "max",
    "io.weight": "default 100",
    "io.max": "",
    "rdma.max": "",
}
for _s in page_sizes():
    V1_FILES[f"hugetlb.{_s}.limit_in_bytes"] = "0"
    V1_FILES[f"hugetlb.{_s}.rsvd.limit_in_bytes"] = "0"
    V2_FILES[f"hugetlb.{_s}.max"] = "max"


class Recorder:
    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.writes: list[tuple[str, str, str]] = []
        real = fs.write

        def write(path: str, name: str, value: str, res: str = "") -> None:
            if not os.path.exists(os.path.join(path, name)):
                real(path, name, value, res)  # raises the real CgroupError (ENOENT)
            self.writes.append((os.path.basename(path), name, value))
            real(path, name, value, res)

        monkeypatch.setattr(fs, "write", write)

    def files(self, name: str) -> list[str]:
        return [v for _, n, v in self.writes if n == name]


def fake(tmp_path: os.PathLike, files: dict, name: str) -> str:
    d = os.path.join(tmp_path, name)
    os.makedirs(d)
    for k, v in files.items():
        with open(os.path.join(d, k), "w") as f:
            f.write(v)
    return d


@pytest.fixture
def v1m(tmp_path, monkeypatch):
    keys = ("memory", "cpu", "cpuset", "pids", "blkio", "hugetlb", "net_cls", "net_prio", "rdma", "devices")
    paths = {k: fake(tmp_path, V1_FILES, k) for k in keys}
    rec = Recorder(monkeypatch)
    return v1.V1Manager(paths), rec


@pytest.fixture
def v2m(tmp_path, monkeypatch):
    rec = Recorder(monkeypatch)
    return v2.V2Manager(fake(tmp_path, V2_FILES, "ctr"), str(tmp_path)), rec


def test_v1_memory_raise_writes_swap_first(v1m, tmp_path) -> None:
    m, rec = v1m
    # current limit (50M) below the new memory+swap: memsw must grow first (runc setMemoryAndSwap)
    with open(os.path.join(tmp_path, "memory", "memory.limit_in_bytes"), "w") as f:
        f.write(str(50 << 20))
    m.set(
        {
            "memory": {
                "limit": 100 << 20,
                "swap": 200 << 20,
                "reservation": 50 << 20,
                "swappiness": 10,
                "disableOOMKiller": True,
                "useHierarchy": True,
            }
        }
    )
    names = [n for _, n, _ in rec.writes]
    assert names == [
        "memory.memsw.limit_in_bytes",
        "memory.limit_in_bytes",
        "memory.soft_limit_in_bytes",
        "memory.oom_control",
        "memory.swappiness",
        "memory.use_hierarchy",
    ]
    assert rec.files("memory.limit_in_bytes") == [str(100 << 20)]
    assert rec.files("memory.oom_control") == ["1"]


def test_v1_memory_lowering_writes_memory_first_and_unlimited(v1m, tmp_path) -> None:
    m, rec = v1m
    with open(os.path.join(tmp_path, "memory", "memory.limit_in_bytes"), "w") as f:
        f.write(str(500 << 20))
    m.set({"memory": {"limit": 100 << 20, "swap": 200 << 20}})
    assert [n for _, n, _ in rec.writes][:2] == ["memory.limit_in_bytes", "memory.memsw.limit_in_bytes"]
    rec.writes.clear()
    m.set({"memory": {"limit": -1}})
    assert rec.writes == [("memory", "memory.memsw.limit_in_bytes", "-1"), ("memory", "memory.limit_in_bytes", "-1")]


def test_v1_memory_kernel_is_a_warning_not_a_write(v1m) -> None:
    m, rec = v1m
    m.set({"memory": {"kernel": 1 << 20, "kernelTCP": 1 << 20}})
    assert rec.writes == []
    assert m.warnings == ["Kernel memory settings are ignored and will be removed"]


def test_v1_swappiness_out_of_range(v1m) -> None:
    with pytest.raises(CgroupError, match="swappiness.*0-100"):
        v1m[0].set({"memory": {"swappiness": 101}})


def test_v1_cpu_order_and_values(v1m) -> None:
    m, rec = v1m
    m.set(
        {
            "cpu": {
                "shares": 1024,
                "quota": 50000,
                "period": 20000,
                "burst": 1000,
                "idle": 1,
                "realtimeRuntime": 950,
                "realtimePeriod": 1000,
                "cpus": "0-1",
                "mems": "0",
            }
        }
    )
    assert rec.writes == [
        ("cpuset", "cpuset.cpus", "0-1"),
        ("cpuset", "cpuset.mems", "0"),
        ("cpu", "cpu.shares", "1024"),
        ("cpu", "cpu.cfs_period_us", "20000"),
        ("cpu", "cpu.cfs_burst_us", "1000"),
        ("cpu", "cpu.cfs_quota_us", "50000"),
        ("cpu", "cpu.idle", "1"),
        ("cpu", "cpu.rt_period_us", "1000"),
        ("cpu", "cpu.rt_runtime_us", "950"),
    ]


def test_v1_cpu_shares_read_back_mismatch(v1m, tmp_path, monkeypatch) -> None:
    m, _ = v1m
    monkeypatch.setattr(fs, "read_uint", lambda p, n: 262144)
    with pytest.raises(CgroupError, match="maximum allowed cpu-shares is 262144"):
        m.set({"cpu": {"shares": 999999}})


def test_v1_pids_blkio_net_rdma(v1m) -> None:
    m, rec = v1m
    m.set(
        {
            "pids": {"limit": -1},
            "blockIO": {
                "weight": 300,
                "weightDevice": [{"major": 8, "minor": 0, "weight": 500}],
                "throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 1048576}],
                "throttleWriteIOPSDevice": [{"major": 8, "minor": 0, "rate": 100}],
            },
            "network": {"classID": 1048577, "priorities": [{"name": "eth0", "priority": 5}]},
            "rdma": {"mlx5_1": {"hcaHandles": 3, "hcaObjects": 10000}},
        }
    )
    assert rec.writes == [
        ("pids", "pids.max", "max"),
        ("blkio", "blkio.bfq.weight", "300"),
        ("blkio", "blkio.bfq.weight_device", "8:0 500"),
        ("blkio", "blkio.throttle.read_bps_device", "8:0 1048576"),
        ("blkio", "blkio.throttle.write_iops_device", "8:0 100"),
        ("net_cls", "net_cls.classid", "1048577"),
        ("net_prio", "net_prio.ifpriomap", "eth0 5"),
        ("rdma", "rdma.max", "mlx5_1 hca_handle=3 hca_object=10000"),
    ]


def test_v1_pids_zero_is_one_and_none_leaves_limit(v1m) -> None:
    m, rec = v1m
    m.set({"pids": {}})
    assert rec.writes == []
    m.set({"pids": {"limit": 0}})  # runc: 0 is 1 (systemd has no TasksMax=0)
    assert [w[-2:] for w in rec.writes] == [("pids.max", "1")]


def test_v1_leaf_weight_without_cfq_names_field_and_file(v1m) -> None:
    with pytest.raises(CgroupError) as ei:
        v1m[0].set({"blockIO": {"leafWeight": 300}})
    assert "linux.resources.blockIO.leafWeight" in str(ei.value)
    assert "blkio.leaf_weight" in str(ei.value)


def test_v1_unified_refused(v1m) -> None:
    with pytest.raises(CgroupError, match="cannot use unified on cgroup v1"):
        v1m[0].set({"unified": {"memory.high": "1"}})


def test_v1_missing_hierarchy_names_resource(tmp_path, monkeypatch) -> None:
    m = v1.V1Manager({"memory": fake(tmp_path, V1_FILES, "memory")})
    with pytest.raises(
        CgroupError,
        match=r"linux.resources.network.classID: the net_cls cgroup "
        r"controller is not mounted",
    ):
        m.set({"network": {"classID": 1}})


def test_v1_hugetlb_sizes(v1m) -> None:
    m, rec = v1m
    sizes = page_sizes()
    if not sizes:
        pytest.skip("this host has no huge page sizes in /sys/kernel/mm/hugepages")
    m.set({"hugepageLimits": [{"pageSize": sizes[0], "limit": 2 << 30}]})
    assert rec.files(f"hugetlb.{sizes[0]}.limit_in_bytes") == [str(2 << 30)]
    assert rec.files(f"hugetlb.{sizes[0]}.rsvd.limit_in_bytes") == [str(2 << 30)]
    with pytest.raises(CgroupError, match="invalid pageSize '3MB'"):
        m.set({"hugepageLimits": [{"pageSize": "3MB", "limit": 1}]})


def test_v1_devices_written_in_oci_order_on_an_empty_group(v1m, monkeypatch) -> None:
    m, rec = v1m
    monkeypatch.setattr(
        "runk.linux.cgroups.v1_devices.fs.read", lambda p, n: "a *:* rwm\n" if n == "devices.list" else ""
    )
    with pytest.raises(CgroupError, match="does not match the target mode"):
        # the fake cannot emulate the kernel's list; the writes are what this test checks
        m.set(
            {
                "devices": [
                    {"allow": False, "access": "rwm"},
                    {"allow": True, "type": "c", "major": 10, "minor": 229, "access": "rwm"},
                    {"allow": True, "type": "b", "major": 8, "minor": 20, "access": "rw"},
                ]
            }
        )
    assert rec.writes == [
        ("devices", "devices.deny", "a"),
        ("devices", "devices.deny", "a *:* rwm"),
        ("devices", "devices.allow", "c 10:229 rwm"),
        ("devices", "devices.allow", "b 8:20 rw"),
    ]


def test_v2_memory_cpu_io_pids(v2m) -> None:
    m, rec = v2m
    m.set(
        {
            "memory": {"limit": 100 << 20, "swap": 300 << 20, "reservation": 10 << 20},
            "cpu": {
                "shares": 1024,
                "quota": 50000,
                "period": 100000,
                "burst": 5000,
                "idle": 0,
                "cpus": "0",
                "mems": "0",
            },
            "pids": {"limit": 10},
            "blockIO": {
                "weight": 500,
                "weightDevice": [{"major": 8, "minor": 0, "weight": 1000}],
                "throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 100}],
            },
        }
    )
    assert rec.writes == [
        ("ctr", "pids.max", "10"),
        ("ctr", "memory.swap.max", str(200 << 20)),
        ("ctr", "memory.max", str(100 << 20)),
        ("ctr", "memory.low", str(10 << 20)),
        ("ctr", "io.weight", "4950"),
        ("ctr", "io.weight", "8:0 10000"),
        ("ctr", "io.max", "8:0 rbps=100"),
        ("ctr", "cpu.idle", "0"),
        ("ctr", "cpu.weight", "39"),
        ("ctr", "cpu.max.burst", "5000"),
        ("ctr", "cpu.max", "50000 100000"),
        ("ctr", "cpuset.cpus", "0"),
        ("ctr", "cpuset.mems", "0"),
    ]


def test_v2_io_prefers_bfq_unconverted(v2m, tmp_path) -> None:
    m, rec = v2m
    with open(os.path.join(tmp_path, "ctr", "io.bfq.weight"), "w") as f:
        f.write("default 100\n")
    m.set({"blockIO": {"weight": 500, "weightDevice": [{"major": 8, "minor": 0, "weight": 200}]}})
    assert rec.writes == [("ctr", "io.bfq.weight", "500"), ("ctr", "io.bfq.weight", "8:0 200")]


def test_v2_quota_only_and_unlimited(v2m) -> None:
    m, rec = v2m
    m.set({"cpu": {"quota": -1}, "memory": {"limit": -1}})
    assert ("ctr", "cpu.max", "max 100000") in rec.writes
    assert ("ctr", "memory.max", "max") in rec.writes
    assert ("ctr", "memory.swap.max", "max") in rec.writes


def test_v2_check_before_update(v2m) -> None:
    with pytest.raises(CgroupError, match="rejecting memory limit 4096 <= usage 4096"):
        v2m[0].set({"memory": {"limit": 4096, "checkBeforeUpdate": True}})


@pytest.mark.parametrize(
    "res,field",
    [
        ({"memory": {"swappiness": 10}}, "memory.swappiness"),
        ({"memory": {"disableOOMKiller": True}}, "memory.disableOOMKiller"),
        ({"memory": {"useHierarchy": False}}, "memory.useHierarchy"),
        ({"cpu": {"realtimeRuntime": 10}}, "cpu.realtimeRuntime"),
        ({"blockIO": {"leafWeight": 10}}, "blockIO.leafWeight"),
        ({"network": {"classID": 1}}, "network"),
    ],
)
def test_v2_refuses_v1_only_fields_by_name(v2m, res: dict, field: str) -> None:
    with pytest.raises(CgroupError, match="linux.resources." + field):
        v2m[0].set(res)


def test_v2_missing_controller_is_named(v2m, tmp_path) -> None:
    m, _ = v2m
    with open(os.path.join(tmp_path, "ctr", "cgroup.controllers"), "w") as f:
        f.write("hugetlb\n")
    with pytest.raises(
        CgroupError,
        match=r"linux.resources.pids: the pids controller is not "
        r"available in .*\(cgroup.controllers: hugetlb\)",
    ):
        m.set({"pids": {"limit": 5}})


def test_v2_group_gone_is_said(v2m, tmp_path) -> None:
    """A group removed under runk (systemd removes an emptied scope) is said to be gone, not a
    controller missing from a cgroup.controllers that could not be read."""
    m, _ = v2m
    import shutil

    shutil.rmtree(os.path.join(tmp_path, "ctr"))
    with pytest.raises(CgroupError, match=r"linux.resources.pids: the cgroup .*/ctr is gone$"):
        m.set({"pids": {"limit": 5}})


def test_v2_unified_keys(v2m) -> None:
    m, rec = v2m
    m.set({"unified": {"memory.max": "1000000", "io.max": "8:0 rbps=1\n8:0 wbps=2"}})
    assert rec.writes == [
        ("ctr", "memory.max", "1000000"),
        ("ctr", "io.max", "8:0 rbps=1"),
        ("ctr", "io.max", "8:0 wbps=2"),
    ]
    with pytest.raises(CgroupError, match="no slashes"):
        m.set({"unified": {"../x": "1"}})
    with pytest.raises(CgroupError, match="controller 'misc' not available"):
        m.set({"unified": {"misc.max": "1"}})


def test_write_error_names_field_file_and_value(tmp_path) -> None:
    with pytest.raises(CgroupError) as ei:
        fs.write(str(tmp_path), "nope.file", "42", "linux.resources.pids.limit")
    msg = str(ei.value)
    assert msg.startswith('cannot set linux.resources.pids.limit: write "42" to ')
    assert msg.endswith("nope.file: no such file or directory")
