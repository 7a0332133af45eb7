"""runk-vm create killed at the steps that matter for a VM, and a full disk after the VM is
ready: `delete --force` (or the failed create itself) leaves no state directory, host cgroup,
supervisor, qemu or virtiofsd. The deaths are made by construction (RUNK_TEST_STOP_AFTER,
runk/state/faults.py), not by timing.
"""

from __future__ import annotations

import os
import subprocess
import time

import pytest

from tests.integration.test_create_faults import cgroup_dirs

from .conftest import TOP, vm_processes

pytestmark = pytest.mark.vm
BOOT = 120
RUNK_VM = os.path.join(TOP, ".venv", "bin", "runk-vm")


def supervisors(root: str) -> list[str]:
    """Live supervisors of containers under root (their argv names the container directory)."""
    out = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
            with open(f"/proc/{pid}/stat") as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if (
            state != "Z"
            and b"runk.vm.host.supervisor" in b" ".join(argv)
            and any(a.startswith(root.encode() + b"/") for a in argv)
        ):
            out.append(pid)
    return out


def assert_nothing_left(rt, cid: str) -> None:
    deadline = time.monotonic() + 10  # a SIGKILLed qemu leaves once reaped
    while vm_processes(rt.root) or supervisors(rt.root):
        assert time.monotonic() < deadline, (vm_processes(rt.root), supervisors(rt.root))
        time.sleep(0.1)
    assert not os.path.exists(os.path.join(rt.root, cid)), "state directory left behind"
    assert cgroup_dirs(cid) == [], "host cgroup left behind"


# (step, what runs when runk dies there)
STEPS = [
    ("claim", None),  # the record naming the host cgroup, before it is made
    ("spawn", "supervisor"),  # the supervisor forked into the cgroup, its pid not on disk
    ("spawn:group", "supervisor"),
    ("ready", "vm"),  # the guest created the container; the record says creating
]


@pytest.mark.parametrize("step,running", STEPS, ids=[s for s, _ in STEPS])
def test_delete_force_cleans_a_vm_create_killed_after_a_step(vmrt, bundle, cid, subreaper, step, running):
    bundle.args("sleep", "1000")
    env = dict(os.environ, RUNK_TEST_ROOT=vmrt.root, RUNK_TEST_STOP_AFTER=step)
    cp = subprocess.run(
        [RUNK_VM, "--root", vmrt.root, "create", "--bundle", bundle.write(), cid],
        env=env,
        start_new_session=True,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        timeout=BOOT,
    )
    assert cp.returncode == -9, f"runk-vm was not killed after {step!r} (rc {cp.returncode})"
    if running == "supervisor":
        assert supervisors(vmrt.root) or cgroup_dirs(cid), "nothing was started"
    if running == "vm":
        assert supervisors(vmrt.root) and vm_processes(vmrt.root), "the VM does not run"
    r = vmrt("delete", "--force", cid, timeout=BOOT)
    assert r.rc == 0, r
    assert_nothing_left(vmrt, cid)


def test_full_disk_for_the_pid_file_stops_the_vm(vmrt, bundle, cid, subreaper, tmp_path):
    """The pid file is written after the VM is ready: its ENOSPC must power the VM off."""
    mnt = tmp_path / "full"
    mnt.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4k", "tmpfs", str(mnt)], check=True)
    try:
        with open(mnt / "filler", "wb") as f:
            f.write(b"x" * 4096)
        bundle.args("sleep", "1000")
        r = vmrt("create", "--bundle", bundle.write(), "--pid-file", str(mnt / "pid"), cid, timeout=BOOT)
        assert r.rc == 1 and "no space left on device" in r.err, r
        assert_nothing_left(vmrt, cid)
        assert vmrt("delete", "--force", cid).rc == 0
    finally:
        subprocess.run(["umount", "-l", str(mnt)])
