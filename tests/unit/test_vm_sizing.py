"""The VM's size from resources and the CRI / Kata annotations (runk.vm.host.sizing)."""

from __future__ import annotations

import pytest

from runk.errors import ConfigError
from runk.vm.host import sizing

MB = 1 << 20
GB = 1 << 30
CRI_MEM, CRI_Q, CRI_P = sizing.CRI_MEMORY, sizing.CRI_CPU_QUOTA, sizing.CRI_CPU_PERIOD
KATA_MEM, KATA_CPU = sizing.KATA_MEMORY, sizing.KATA_VCPUS


@pytest.mark.parametrize(
    "res,ann,host,expect",
    [
        # the CRI sandbox annotations size a pod's VM: the sum of its containers' limits
        (None, {CRI_MEM: str(GB), CRI_Q: "250000", CRI_P: "100000"}, 8, (1216, 3)),
        # containerd writes 0 for "no limit": the default then
        (None, {CRI_MEM: "0", CRI_Q: "0", CRI_P: "100000"}, 8, (256, 1)),
        # the annotation wins over the sandbox container's own (pause) resources
        ({"memory": {"limit": 8 * MB}, "cpu": {"shares": 2}}, {CRI_MEM: str(512 * MB)}, 8, (704, 1)),
        ({"cpu": {"quota": 400000}}, {CRI_Q: "100000"}, 8, (256, 1)),
        # a quota without a period: the kernel's default period
        (None, {CRI_Q: "150000"}, 8, (256, 2)),
        # Kata's hypervisor defaults replace runk's, and a bigger workload raises them
        (None, {KATA_MEM: "512", KATA_CPU: "2"}, 8, (512, 2)),
        (None, {KATA_MEM: "512", CRI_MEM: str(GB)}, 8, (1216, 1)),
        (None, {KATA_CPU: "1.5"}, 8, (256, 2)),
        (None, {KATA_MEM: "64"}, 8, (sizing.MIN_MEM_MB, 1)),  # never below what a guest needs
        # capped at the host's CPUs
        (None, {KATA_CPU: "16"}, 2, (256, 2)),
        (None, {CRI_Q: "800000", CRI_P: "100000"}, 2, (256, 2)),
    ],
)
def test_vm_size_annotations(res, ann, host, expect):
    assert sizing.vm_size(res, host, ann) == expect


@pytest.mark.parametrize(
    "ann,field",
    [
        ({CRI_MEM: "lots"}, CRI_MEM),
        ({CRI_MEM: "-5"}, CRI_MEM),
        ({CRI_Q: "1.5"}, CRI_Q),
        ({KATA_CPU: "nan"}, KATA_CPU),
        ({KATA_MEM: "1e3"}, KATA_MEM),
    ],
)
def test_vm_size_bad_annotation_names_it(ann, field):
    with pytest.raises(ConfigError) as e:
        sizing.vm_size(None, 4, ann)
    assert str(e.value).startswith(f"annotations[{field}]: ")


def test_vm_size_within_host_memory():
    # 4 GiB available: a 2 GiB pod fits, an 8 GiB one is refused naming where it came from
    assert sizing.vm_size(None, 4, {CRI_MEM: str(2 * GB)}, 4096) == (2240, 1)
    with pytest.raises(ConfigError) as e:
        sizing.vm_size(None, 4, {CRI_MEM: str(8 * GB)}, 4096)
    msg = str(e.value)
    assert msg.startswith(f"annotations[{CRI_MEM}]: the VM would need 8384 MiB") and "at most 3072 MiB" in msg
    with pytest.raises(ConfigError) as e:
        sizing.vm_size({"memory": {"limit": 8 * GB}}, 4, {}, 4096)
    assert str(e.value).startswith("linux.resources.memory.limit: ")
    with pytest.raises(ConfigError) as e:
        sizing.vm_size(None, 4, {KATA_MEM: "9000"}, 4096)
    assert str(e.value).startswith(f"annotations[{KATA_MEM}]: ")


def test_mem_available(tmp_path):
    p = tmp_path / "meminfo"
    p.write_text("MemTotal:       32000000 kB\nMemFree:  100 kB\nMemAvailable:   2097152 kB\n")
    assert sizing.mem_available_mb(str(p)) == 2048
    p.write_text("MemTotal: 1 kB\n")
    assert sizing.mem_available_mb(str(p)) is None
