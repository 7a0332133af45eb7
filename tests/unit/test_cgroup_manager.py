"""make_manager/load_manager dispatch, the systemd driver's errors, and load_manager's import cost."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from runk.errors import CgroupError
from runk.linux.cgroups import layout, load_manager, make_manager
from runk.linux.cgroups.hybrid import HybridManager
from runk.linux.cgroups.v1 import V1Manager
from runk.linux.cgroups.v2 import V2Manager

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_load_manager_picks_the_driver_from_the_keys() -> None:
    assert isinstance(load_manager({"": "/sys/fs/cgroup/x"}), V2Manager)
    assert isinstance(load_manager({"memory": "/m/x", "devices": "/d/x"}), V1Manager)
    h = load_manager({"memory": "/m/x", "": "/u/x"})
    assert isinstance(h, HybridManager)
    assert h.paths() == {"memory": "/m/x", "": "/u/x"}


def test_make_manager_matches_this_host() -> None:
    lay = layout.detect()
    m = make_manager("/runk-unit-never-created", "id")
    want = {layout.V1: V1Manager, layout.HYBRID: HybridManager, layout.V2: V2Manager}[lay.kind]
    assert type(m) is want
    assert not m.exists()


def test_systemd_driver_errors() -> None:
    with pytest.raises(CgroupError, match='expected cgroupsPath to be of format "slice:prefix:name"'):
        make_manager("/a/b", "id", systemd=True)
    if layout.systemd_running():
        pytest.skip("systemd runs here")
    with pytest.raises(CgroupError, match="^systemd not running on this host, cannot use systemd cgroups manager$"):
        make_manager("system.slice:runk:id", "id", systemd=True)
    with pytest.raises(CgroupError, match="systemd not running"):
        make_manager(None, "id", systemd=True)


FORBIDDEN = (
    "enum",
    "typing",
    "dataclasses",
    "logging",
    "subprocess",
    "re",
    "json",
    "cffi",
    "_cffi_backend",
    "runk._native",
    "runk.linux.cgroups.layout",
    "runk.linux.cgroups.devices_bpf",
    "runk.linux.cgroups.stats",
)


def test_load_manager_path_imports_nothing_heavy() -> None:
    code = (
        "import sys\n"
        f"sys.path.insert(0, {TOP!r})\n"
        "before = set(sys.modules)\n"
        "from runk.linux.cgroups import load_manager\n"
        "for p in ({'': '/sys/fs/cgroup/none'}, {'freezer': '/x/none', 'devices': '/y/none'},\n"
        "          {'': '/u/none', 'freezer': '/x/none', 'devices': '/y/none'}):\n"
        "    m = load_manager(p)\n"
        "    m.freezer_state(); m.exists(); m.pids(); m.paths(); m.destroy()\n"
        "print(' '.join(sorted(set(sys.modules) - before)))\n"
    )
    out = subprocess.run(
        [sys.executable, "-I", "-S", "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    bad = [m for m in out if m in FORBIDDEN or m.split(".")[0] in FORBIDDEN]
    assert not bad, out
