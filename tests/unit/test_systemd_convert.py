"""The systemd driver's pure parts: cgroupsPath parsing, unit and slice names, and the unit
properties runk gives systemd for linux.resources (runc 1.1.5's conversions)."""

from __future__ import annotations

import pytest

from runk.errors import CgroupError
from runk.linux.cgroups import container_rules, systemd, systemd_props

MiB = 1 << 20
INF = (1 << 64) - 1


@pytest.mark.parametrize(
    ("path", "want"),
    [
        (None, ("", "runc", "cid")),
        ("", ("", "runc", "cid")),
        ("system.slice:runc:x", ("system.slice", "runc", "x")),
        (":libpod:abc", ("", "libpod", "abc")),
        ("machine.slice:podman:x.slice", ("machine.slice", "podman", "x.slice")),
    ],
)
def test_parse_path(path: str | None, want: tuple[str, str, str]) -> None:
    assert systemd.parse_path(path, "cid") == want


@pytest.mark.parametrize("path", ["/a/b", "bad", "a:b", "a:b:c:d", "/system.slice/x"])
def test_parse_path_refuses_other_forms_with_runcs_message(path: str) -> None:
    with pytest.raises(CgroupError) as e:
        systemd.parse_path(path, "cid")
    assert str(e.value) == (
        f'expected cgroupsPath to be of format "slice:prefix:name" for systemd cgroups, got "{path}" instead'
    )


def test_unit_names() -> None:
    assert systemd.unit_name("runc", "x") == "runc-x.scope"
    assert systemd.unit_name("libpod", "0123") == "libpod-0123.scope"
    assert systemd.unit_name("runc", "lab-x.slice") == "lab-x.slice"
    for bad in ("runc-a/b.scope", "runc-x y.scope", "runc-" + "x" * 300 + ".scope", "runc-..scope/.."):
        with pytest.raises(CgroupError, match="invalid systemd unit name"):
            systemd.check_unit_name(bad)
    systemd.check_unit_name("runc-a_b:c@d.scope")


@pytest.mark.parametrize(
    ("name", "want"),
    [
        ("system.slice", "/system.slice"),
        ("-.slice", "/"),
        ("a-b-c.slice", "/a.slice/a-b.slice/a-b-c.slice"),
        ("machine.slice", "/machine.slice"),
    ],
)
def test_expand_slice(name: str, want: str) -> None:
    assert systemd.expand_slice(name) == want


@pytest.mark.parametrize("name", ["foo", ".slice", "a--b.slice", "-a.slice", "a-.slice", "a/b.slice", ""])
def test_expand_slice_refuses(name: str) -> None:
    with pytest.raises(CgroupError, match=f"^invalid slice name: {name}$"):
        systemd.expand_slice(name)


def test_unit_dir() -> None:
    assert systemd.unit_dir("/sys/fs/cgroup", "/system.slice", "runc-x.scope") == (
        "/sys/fs/cgroup/system.slice/runc-x.scope"
    )
    assert systemd.unit_dir("/sys/fs/cgroup", "/", "runc-x.scope") == "/sys/fs/cgroup/runc-x.scope"
    with pytest.raises(CgroupError):
        systemd.unit_dir("/sys/fs/cgroup", "/../etc", "x.scope")


@pytest.mark.parametrize(
    ("quota", "period", "want"),
    [
        (50000, 100000, 500000),  # 50 %
        (12345, 100000, 130000),  # 12.345 % rounds up to whole percents
        (100000, 0, 1000000),  # the default period
        (1000, 1000000, 10000),  # 1 %
        (1001, 100000, 20000),  # 1.001 % → 2 %
        (-1, 100000, INF),
        (0, 100000, INF),
    ],
)
def test_quota_per_sec(quota: int, period: int, want: int) -> None:
    assert systemd_props.quota_per_sec(quota, period) == want


def test_cpu_quota_properties_by_version() -> None:
    assert systemd_props.cpu_quota(0, 0, 252) == []
    assert systemd_props.cpu_quota(20000, 50000, 252) == [
        ("CPUQuotaPeriodUSec", ("t", 50000)),
        ("CPUQuotaPerSecUSec", ("t", 400000)),
    ]
    assert systemd_props.cpu_quota(20000, 50000, 241) == [("CPUQuotaPerSecUSec", ("t", 400000))]
    assert systemd_props.cpu_quota(0, 50000, 252) == [
        ("CPUQuotaPeriodUSec", ("t", 50000)),
        ("CPUQuotaPerSecUSec", ("t", INF)),
    ]


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("0", b"\x01"),
        ("1", b"\x02"),
        ("0-1", b"\x03"),
        ("0,2", b"\x05"),
        ("7", b"\x80"),
        ("8", b"\x00\x01"),  # bit n is bit n%8 of byte n//8 (systemd's cpu_set_from_dbus)
        ("0-9", b"\xff\x03"),
        (" 1 , 3-4 ,", b"\x1a"),
        ("63", b"\x00" * 7 + b"\x80"),
    ],
)
def test_range_to_bits(text: str, want: bytes) -> None:
    assert systemd_props.range_to_bits(text) == want


@pytest.mark.parametrize("text", ["", ",", "a", "3-1", "1-x", "-1"])
def test_range_to_bits_refuses(text: str) -> None:
    with pytest.raises(CgroupError, match="linux.resources.cpu.cpus"):
        systemd_props.range_to_bits(text)


def test_resources_to_properties() -> None:
    res = {
        "memory": {"limit": 64 * MiB, "reservation": 32 * MiB, "swap": 96 * MiB},
        "cpu": {"shares": 1024, "quota": 12345, "period": 100000, "cpus": "0-1", "mems": "0"},
        "pids": {"limit": 33},
        "blockIO": {"weight": 500},
        "unified": {"memory.high": str(50 * MiB), "pids.max": "max", "memory.oom.group": "1"},
    }
    props = dict(systemd_props.resources(res, 252, pytest.fail))
    assert props == {
        "MemoryMax": ("t", 64 * MiB),
        "MemoryLow": ("t", 32 * MiB),
        "MemorySwapMax": ("t", 32 * MiB),  # OCI swap is memory+swap
        "CPUWeight": ("t", 39),  # runc 1.1.5: 1 + (1024 - 2) * 9999 / 262142
        "CPUQuotaPeriodUSec": ("t", 100000),
        "CPUQuotaPerSecUSec": ("t", 130000),
        "TasksMax": ("t", INF),  # unified pids.max=max comes last and wins
        "AllowedCPUs": ("ay", b"\x03"),
        "AllowedMemoryNodes": ("ay", b"\x01"),
        "IOWeight": ("t", 4950),
        "MemoryHigh": ("t", 50 * MiB),
    }


def test_unlimited_and_unset() -> None:
    props = dict(systemd_props.resources({"memory": {"limit": -1}, "pids": {"limit": -1}}, 252, pytest.fail))
    assert props == {"MemoryMax": ("t", INF), "MemorySwapMax": ("t", INF), "TasksMax": ("t", INF)}
    assert systemd_props.resources({}, 252, pytest.fail) == []
    with pytest.raises(CgroupError, match="memory.swap"):
        systemd_props.resources({"memory": {"limit": 64 * MiB, "swap": 32 * MiB}}, 252, pytest.fail)


PROC_DEVICES = "Character devices:\n  1 mem\n  5 /dev/tty\n136 pts\n\nBlock devices:\n  8 sd\n"


def _devices(rules: list[dict], warnings: list[str], exists: bool = True) -> list:
    return systemd_props.devices(rules, warnings.append, lambda: PROC_DEVICES, lambda _p: exists)


def test_device_properties_of_the_default_rules() -> None:
    warnings: list[str] = []
    props = _devices(container_rules([{"allow": False, "access": "rwm"}]), warnings)
    assert props[:2] == [("DevicePolicy", ("s", "strict")), ("DeviceAllow", ("a(ss)", []))]
    name, (sig, allow) = props[2]
    assert (name, sig) == ("DeviceAllow", "a(ss)")
    assert sorted(allow) == sorted(
        [
            ("char-*", "m"),
            ("block-*", "m"),
            ("/dev/char/1:3", "rwm"),
            ("/dev/char/1:5", "rwm"),
            ("/dev/char/1:7", "rwm"),
            ("/dev/char/1:8", "rwm"),
            ("/dev/char/1:9", "rwm"),
            ("/dev/char/5:0", "rwm"),
            ("/dev/char/5:2", "rwm"),
            ("/dev/char/10:200", "rwm"),
            ("char-pts", "rwm"),
        ]
    )
    assert warnings == []


def test_device_properties_of_what_systemd_cannot_say() -> None:
    warnings: list[str] = []
    rules = [
        {"allow": False, "access": "rwm"},
        {"allow": True, "type": "c", "minor": 7, "access": "r"},  # *:7
        {"allow": True, "type": "c", "major": 99, "access": "r"},  # no such major
        {"allow": True, "type": "b", "major": 8, "minor": 0, "access": "rw"},
    ]
    assert _devices(rules, warnings, exists=False)[2] == ("DeviceAllow", ("a(ss)", []))
    assert len(warnings) == 3, warnings
    assert "'*:n'" in warnings[0] and "skipping device /dev/block/8:0" in warnings[1] and "'c/99'" in warnings[2]
    assert _devices([{"allow": True, "access": "rwm"}], []) == [
        ("DevicePolicy", ("s", "auto")),
        ("DeviceAllow", ("a(ss)", [])),
    ]
    warnings = []
    deny_list = [{"allow": True, "access": "rwm"}, {"allow": False, "type": "c", "major": 1, "minor": 3, "access": "w"}]
    assert _devices(deny_list, warnings) == [("DevicePolicy", ("s", "strict")), ("DeviceAllow", ("a(ss)", []))]
    assert warnings and "blacklist" in warnings[0]


@pytest.mark.parametrize(("limit", "tasks"), [(0, 1), (5, 5), (-1, INF), (-7, INF)])
def test_pids_limit_is_the_tasks_max_of_the_file(limit, tasks):
    """TasksMax is what the cgroupfs drivers write to pids.max: 0 is 1 (systemd has no
    TasksMax=0; runc maps it so on both drivers, and its cgroups.bats checks the unit)."""
    props = dict(systemd_props.resources({"pids": {"limit": limit}}, 252, pytest.fail))
    assert props == {"TasksMax": ("t", tasks)}


def test_cpu_idle_is_cpu_weight_zero_from_systemd_252():
    """runc main: systemd 252+ takes CPUWeight=0 as cpu.idle=1; a weight given with it is
    dropped with runc's warning (the kernel refuses a weight on an idle group anyway)."""
    warned: list[str] = []
    props = systemd_props.resources({"cpu": {"idle": 1, "shares": 200}}, 252, warned.append)
    assert props == [("CPUWeight", ("t", 0))]
    assert warned == ["unable to apply both CPUWeight and CpuIdle to systemd, ignoring CPUWeight"]
    # before 252 the idle bit is a file only; idle 0 is no property either
    assert systemd_props.resources({"cpu": {"idle": 1, "shares": 200}}, 251, pytest.fail) == [("CPUWeight", ("t", 8))]
    assert systemd_props.resources({"cpu": {"idle": 0}}, 252, pytest.fail) == []
    warned.clear()
    props = systemd_props.resources({"unified": {"cpu.idle": "1", "cpu.weight": "8"}}, 252, warned.append)
    assert props == [("CPUWeight", ("t", 0))]
    assert warned == ["unable to apply both cpu.weight and cpu.idle to systemd, ignoring cpu.weight"]
    assert systemd_props.needs_version({"cpu": {"idle": 1}})


def test_a_missing_node_is_given_to_systemd_240_by_its_numbers() -> None:
    """systemd 240+ reads /dev/char/M:m from the name: the rule goes in with no stat and no
    warning (runc main; runc 1.1.5 warned "skipping device" on every create without
    /dev/net/tun, and that stderr line fails runc main's checkpoint.bats pipes check)."""
    rule = [{"allow": False, "access": "rwm"}, {"allow": True, "type": "c", "major": 10, "minor": 200, "access": "rwm"}]
    warnings: list[str] = []
    new = systemd_props.devices(rule, warnings.append, lambda: PROC_DEVICES, lambda _p: False, version=252)
    assert new[2] == ("DeviceAllow", ("a(ss)", [("/dev/char/10:200", "rwm")])) and warnings == []
    old = systemd_props.devices(rule, warnings.append, lambda: PROC_DEVICES, lambda _p: False, version=239)
    assert old[2] == ("DeviceAllow", ("a(ss)", [])) and "skipping device /dev/char/10:200" in warnings[0]
    # the version is asked for only when a node is missing (no D-Bus call on most creates)
    assert systemd_props._missing_device_node(rule, lambda _p: False)
    assert not systemd_props._missing_device_node(rule, lambda _p: True)
    assert not systemd_props.needs_version({"devices": [{"allow": True, "type": "c", "major": 1, "minor": 3}]})
