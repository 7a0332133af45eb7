"""pids.limit 0 under the systemd driver: systemd has no TasksMax=0, so the unit's TasksMax and
the pids.max file are both 1, as runc main maps it on both drivers (its cgroups.bats "pids.limit=0
means 1" checks the unit; runc 1.1.5 leaves both unset, so runk alone here)."""

from __future__ import annotations

import uuid

from conftest import CG, RUNK, Runtime, ok, read


def test_pids_limit_zero_is_one_in_the_unit_and_the_file(bundle):
    rt = Runtime(RUNK, f"/run/lab-sdpids-{uuid.uuid4().hex[:8]}", "--systemd-cgroup")
    name = f"sdp{uuid.uuid4().hex[:8]}"
    try:
        rt.ok(
            "run",
            "-d",
            "--bundle",
            bundle.write(["sleep", "1000"], {"pids": {"limit": 0}}, f"system.slice:runk:{name}"),
            name,
        )
        unit = f"runk-{name}.scope"
        assert ok("systemctl", "show", unit, "--property=TasksMax").strip() == "TasksMax=1"
        assert read(f"{CG}/system.slice/{unit}/pids.max") == "1"
    finally:
        rt.cleanup()
