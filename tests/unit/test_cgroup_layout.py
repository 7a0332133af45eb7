"""Layout detection and cgroupsPath resolution from mountinfo samples (pure, no root)."""

from __future__ import annotations

import pytest

from runk.errors import CgroupError
from runk.linux.cgroups import layout

HYBRID_MI = """\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
36 31 0:33 / /sys/fs/cgroup/devices rw,relatime - cgroup cgroup rw,devices
37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
"""
HYBRID_PC = """\
9:name=systemd:/
6:freezer:/
5:devices:/
4:memory:/process_api/abc
2:cpuacct:/
1:cpu:/
0::/
"""
V1_COMOUNT_MI = """\
25 24 0:22 / /sys/fs/cgroup rw - tmpfs tmpfs rw
26 25 0:23 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid - cgroup cgroup rw,cpu,cpuacct
27 25 0:24 /docker/x /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory
28 25 0:25 / /sys/fs/cgroup/devices rw - cgroup cgroup rw,devices
"""
V1_COMOUNT_PC = "3:cpu,cpuacct:/user/1\n2:memory:/docker/x/sub\n1:devices:/\n"
V2_MI = "30 24 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n"
V2_PC = "0::/user.slice/user-0.slice/session-1.scope\n"


def test_hybrid_detected_with_controllers_and_unified() -> None:
    lay = layout.detect(HYBRID_MI, HYBRID_PC)
    assert lay.kind == layout.HYBRID
    assert set(lay.v1) == {"cpu", "cpuacct", "memory", "devices", "freezer", "name=systemd"}
    assert lay.unified is not None and lay.unified.mountpoint == "/sys/fs/cgroup/unified"


def test_v2_and_v1_detected() -> None:
    assert layout.detect(V2_MI, V2_PC).kind == layout.V2
    lay = layout.detect(V1_COMOUNT_MI, V1_COMOUNT_PC)
    assert lay.kind == layout.V1
    assert lay.v1["cpu"] is lay.v1["cpuacct"]
    assert len(lay.v1_mounts()) == 3


def test_no_cgroup_mount_is_an_error() -> None:
    with pytest.raises(CgroupError, match="no cgroup filesystem"):
        layout.detect("1 0 8:1 / / rw - ext4 /dev/sda rw\n", "0::/\n")


def test_empty_path_is_relative_container_id_below_own_cgroup() -> None:
    lay = layout.detect(HYBRID_MI, HYBRID_PC)
    paths = layout.v1_paths(lay, layout.inner_path(None, "ctr"))
    # runc 1.1.5 on this host: memory lands below runc's own memory cgroup, the rest at the top
    assert paths["memory"] == "/sys/fs/cgroup/memory/process_api/abc/ctr"
    assert paths["cpu"] == "/sys/fs/cgroup/cpu/ctr"
    assert paths["name=systemd"] == "/sys/fs/cgroup/systemd/ctr"
    assert layout.unified_path(lay, "ctr") == "/sys/fs/cgroup/unified/ctr"


def test_absolute_path_is_below_each_mount_point() -> None:
    lay = layout.detect(HYBRID_MI, HYBRID_PC)
    inner = layout.inner_path("/a/b", "ctr")
    assert layout.v1_paths(lay, inner)["memory"] == "/sys/fs/cgroup/memory/a/b"
    assert layout.unified_path(lay, inner) == "/sys/fs/cgroup/unified/a/b"


def test_mount_root_is_stripped_from_own_cgroup() -> None:
    lay = layout.detect(V1_COMOUNT_MI, V1_COMOUNT_PC)
    paths = layout.v1_paths(lay, "c1")
    assert paths["memory"] == "/sys/fs/cgroup/memory/sub/c1"  # root /docker/x
    assert paths["cpu"] == paths["cpuacct"] == "/sys/fs/cgroup/cpu,cpuacct/user/1/c1"


def test_v2_relative_goes_below_parent_of_own_cgroup() -> None:
    lay = layout.detect(V2_MI, V2_PC)
    assert layout.unified_path(lay, "c1") == "/sys/fs/cgroup/user.slice/user-0.slice/c1"
    assert layout.unified_path(lay, "/c1") == "/sys/fs/cgroup/c1"


@pytest.mark.parametrize(
    "given,want",
    [
        ("", "ctr"),
        ("/", "/"),
        ("a/b", "a/b"),
        ("../../a", "a"),
        ("a/../../b", "b"),
        ("/x/../y", "/y"),
        ("./", "ctr"),
    ],
)
def test_clean_path_never_climbs(given: str, want: str) -> None:
    assert layout.inner_path(given, "ctr") == want


def test_mountinfo_octal_escapes() -> None:
    mi = "30 24 0:26 / /sys/fs/cgroup/a\\040b rw - cgroup2 cgroup2 rw\n"
    assert layout.detect(mi, "0::/\n").unified.mountpoint == "/sys/fs/cgroup/a b"


def test_this_host_layout_is_readable() -> None:
    lay = layout.detect()
    assert lay.kind in (layout.V1, layout.HYBRID, layout.V2)
